"""The repository is self-contained and names no machine: the sample texts are small and documented, the committed
model folders carry their tokenizer, and no committed file holds an absolute path of the machine that built or
trained something."""

import hashlib
import json
import re
import subprocess

from places import MODELS, ROOT, SAMPLES

# Absolute paths of a build or training machine (home folders, scratch and work folders); a doc that shows a path
# for the reader to type uses a relative one.
MACHINE_PATH = re.compile(rb"(?<![\w.~-])/(?:work|home|root|Users|tmp|mnt|scratch|workspace)/[\w.-]+")


# Third-party files kept byte for byte as their source has them (models/NOTICE.md), by sha256: the SentencePiece
# model records where upstream trained it (its trainer_spec.input), which is not a machine of this project.
THIRD_PARTY = {"849ea920119b5135ace5016137e82ab397738fc29d723d5f9a6b74c4e31af191"}


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def test_no_committed_file_names_a_machine_path():
    hits = []
    for path in tracked_files():
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() not in THIRD_PARTY:
            hits += [f"{path.relative_to(ROOT)}: {m.group().decode(errors='replace')}"
                     for m in MACHINE_PATH.finditer(path.read_bytes())]
    assert not hits, f"{len(hits)} absolute paths, first: {hits[:5]}"


def test_samples_are_small_and_documented():
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    texts = [p for p in SAMPLES.iterdir() if p.name != "README.md"]
    assert len(texts) >= 3
    for p in texts:
        assert p.stat().st_size < 100_000, p.name
        assert f"`{p.name}`" in readme, f"{p.name} has no source and license in samples/README.md"
        p.read_text(encoding="utf-8")  # UTF-8, as the page embeds them


def test_committed_model_folders_carry_their_tokenizer():
    for folder in ("ar", "mdlm"):
        manifest = json.loads((MODELS / folder / "golfer.json").read_text())
        tok = MODELS / folder / manifest["tokenizer"]["file"]
        assert hashlib.sha256(tok.read_bytes()).hexdigest() == manifest["tokenizer"]["sha256"], folder
        assert "NOTICE.md" in manifest["tokenizer"]["source"]


def test_documented_sizes_come_from_the_manifests():
    """The parameter counts and file sizes in the README (its table of golfers) and in docs/golfers.md are the
    manifests' (once one was typed by hand, and wrong)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    golfers = (ROOT / "docs" / "golfers.md").read_text(encoding="utf-8")
    for folder in ("ar", "mdlm", "smollm2"):
        m = json.loads((MODELS / folder / "golfer.json").read_text())
        assert f"{m['params']:,} parameters" in readme, f"README lacks {folder}'s params, {m['params']:,}"
    for folder in ("ar", "mdlm"):
        m = json.loads((MODELS / folder / "golfer.json").read_text())
        for what, n in (("params", m["params"]), ("artifact", m["artifact"]["bytes"])):
            for name, doc in (("README.md", readme), ("docs/golfers.md", golfers)):
                assert f"{n:,}" in doc, f"{name} lacks {folder}'s {what}, {n:,}"
    ar = json.loads((MODELS / "ar" / "golfer.json").read_text())
    assert f"`model.onnx` {ar['onnx']['bytes']:,} bytes" in golfers
    # Any other "model.onnx N bytes" in the documentation must be a manifest's too.
    sizes = {json.loads((MODELS / f / "golfer.json").read_text())["onnx"]["bytes"] for f in ("ar", "mdlm", "smollm2")}
    for doc in [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for m in re.finditer(r"`model\.onnx` ([\d,]+) bytes", doc.read_text(encoding="utf-8")):
            assert int(m.group(1).replace(",", "")) in sizes, (doc.name, m.group())


DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_readme_is_a_front_door():
    """The README says what this is and how to try it in one screenful or so; the details live in docs/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150, f"README.md has {len(readme.splitlines())} lines"
    for command in ("scripts/serve.sh", "scripts/test.sh"):
        assert f"```sh\n{command}\n```" in readme, f"README.md does not give {command} as a command of its own"


def test_architecture_names_every_crate():
    architecture = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    crates = sorted(p.name for p in (ROOT / "crates").iterdir() if (p / "Cargo.toml").is_file())
    assert crates and all(f"`{c}`" in architecture for c in crates), [c for c in crates if f"`{c}`" not in architecture]


def heading_anchor(heading):
    """The anchor a Markdown renderer gives a heading (GitHub's rule): lower case, punctuation dropped, spaces as -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_documentation_links_resolve():
    """Every relative link between the documents names a file that exists and, with a #, a heading in it."""
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", file.read_text(encoding="utf-8"), flags=re.M)
                if anchor not in {heading_anchor(h) for h in headings}:
                    broken.append(f"{doc.name}: {target} (no such heading)")
    assert not broken, broken
