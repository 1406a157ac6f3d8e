"""The Python package four_golfers (crates/golf-python, built by maturin into .venv by scripts/test.sh): each
golfer's score equals `golf score`'s, its per-byte bits add up to its bits; `evaluate` writes what `golf eval` does
(and either goes on with a run the other began); bad paths and bad settings raise with the engine's message."""

import json
import math
import subprocess

import pytest
from places import GOLF, MODELS, SAMPLES

fg = pytest.importorskip("four_golfers", reason="the package is built by scripts/test.sh (maturin develop)")

TEXT = (SAMPLES / "enwik8-excerpt.txt").read_text(encoding="utf-8")
DOCS = SAMPLES / "documents.jsonl"


def golf(*args):
    return subprocess.run([str(GOLF), *map(str, args)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("name,options", [
    ("gzip", {}),
    ("ar", {}),
    ("mdlm", {"estimator": "nelbo", "steps": 8}),
    ("smollm2", {}),
])
def test_a_score_is_golf_scores(tmp_path, name, options):
    golfer = fg.Golfer(name, models=MODELS)
    assert golfer.id == name and golfer.label
    s = golfer.score(TEXT, **options)
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    cli = json.loads(golf("score", "--golfer", name, "--json", *flags, text))
    assert s.bytes == cli["bytes"] == len(TEXT.encode())
    assert math.isclose(s.bits, cli["bits"], rel_tol=1e-9), (s.bits, cli["bits"])
    assert s.bpb == pytest.approx(s.bits / s.bytes, rel=1e-12)
    assert s.per_byte.dtype.name == "float64" and s.per_byte.shape == (s.bytes,)
    assert math.isclose(float(s.per_byte.sum()), s.bits, rel_tol=1e-9)
    if name == "ar":
        assert s.tokens == cli["tokens"] and math.isclose(s.golf_bpb, cli["golf_bpb"], rel_tol=1e-9)
    if name == "gzip":
        assert s.tokens is None and s.golf_bpb is None


def test_evaluate_writes_what_golf_eval_does_and_either_goes_on_with_the_other(tmp_path):
    seen = []
    py = tmp_path / "python"
    summary = fg.evaluate(DOCS, py, golfers=["gzip", "ar"], models=MODELS, shard_docs=4, progress=seen.append)
    assert [g["golfer"] for g in summary["golfers"]] == ["gzip", "ar"] and summary["documents"] == 12
    assert seen[-1] == {"shard": 2, "shards": 3, "documents_done": 12, "documents": 12, "kept": 0}
    cli = tmp_path / "cli"
    golf("eval", DOCS, "--out", cli, "--golfers", "gzip,ar", "--shard-docs", "4", "-q")
    strip = lambda folder: [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in (folder / "documents.jsonl").read_text().splitlines()]
    assert strip(py) == strip(cli)
    assert json.loads((cli / "summary.json").read_text()) == summary
    # The CLI goes on with the Python run's folder (and the other way round): every shard kept.
    assert "(3 kept from an earlier run, 0 scored now)" in golf("eval", DOCS, "--out", py, "--golfers", "gzip,ar", "--shard-docs", "4", "-q")
    seen.clear()
    fg.evaluate(DOCS, cli, golfers=["gzip", "ar"], models=MODELS, shard_docs=4, progress=seen.append)
    assert seen[-1]["kept"] == 12


def test_bad_paths_and_settings_raise_with_the_message(tmp_path):
    gzip = fg.Golfer("gzip")
    with pytest.raises(ValueError, match="the golfers are gzip, ar, mdlm, smollm2, not 'gpt'"):
        fg.Golfer("gpt")
    with pytest.raises(FileNotFoundError, match="is not a model folder"):
        fg.Golfer.from_folder(tmp_path / "nothing")
    with pytest.raises(ValueError, match="the text is empty"):
        gzip.score("")
    with pytest.raises(TypeError, match="text is a str"):
        gzip.score(b"bytes")
    with pytest.raises(ValueError, match='the estimator is "confidence", "l2r" or "nelbo", not "best"'):
        gzip.score("text", estimator="best")
    with pytest.raises(ValueError, match="NELBO needs at least one masking rate"):
        gzip.score("text", estimator="nelbo", steps=0)
    with pytest.raises(ValueError, match="gzip's method is"):
        fg.Golfer("gzip", gzip_method="fast")
    with pytest.raises(FileNotFoundError, match="cannot read .*missing.jsonl"):
        fg.evaluate(tmp_path / "missing.jsonl", tmp_path / "o1", golfers=["gzip"])
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"body": "b"}\n')
    with pytest.raises(fg.GolfError, match='line 2: no "text" field'):
        fg.evaluate(bad, tmp_path / "o2", golfers=["gzip"])
    with pytest.raises(ValueError, match="is not a document set"):
        fg.evaluate(SAMPLES / "README.md", tmp_path / "o3", golfers=["gzip"])
    with pytest.raises(FileNotFoundError, match="is not a model folder"):
        fg.evaluate(DOCS, tmp_path / "o4", golfers=[tmp_path / "not-a-model"])
    fg.evaluate(DOCS, tmp_path / "o5", golfers=["gzip"], shard_docs=6)
    with pytest.raises(fg.GolfError, match="holds another run"):
        fg.evaluate(DOCS, tmp_path / "o5", golfers=["gzip"], shard_docs=4)

    def stop(_):
        raise RuntimeError("enough")

    with pytest.raises(RuntimeError, match="enough"):
        fg.evaluate(DOCS, tmp_path / "o6", golfers=["gzip"], progress=stop)


def test_the_package_is_typed():
    import four_golfers
    from pathlib import Path
    root = Path(four_golfers.__file__).parent
    assert (root / "py.typed").exists() and (root / "_native.pyi").exists()
    assert fg.Golfer.score.__doc__ and fg.evaluate.__doc__ and fg.__doc__
