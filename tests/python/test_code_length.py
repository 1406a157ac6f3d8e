"""The SentencePiece golfers' bits are a true code length over the text as given: what normalization drops or
changes (whitespace runs, tabs, newlines, NFKC folds) is paid for by a side channel that restores it
(`crates/golf-tokenize/src/restore.rs`; its round trip is tested in Rust), and the totals add up: bits = model bits
+ 8 per <unk> byte + the side channel, spans sum to the bits, and the Parameter Golf count leaves it out."""

import json
import math
import subprocess

import pytest
from places import GOLF, VAL_DOCS


def score(golfer: str, text: str, tmp_path) -> dict:
    path = tmp_path / "text.txt"
    path.write_bytes(text.encode())
    args = ["--estimator", "l2r"] if golfer == "mdlm" else []
    r = subprocess.run([str(GOLF), "score", "--golfer", golfer, "--json", "--tokens", *args, str(path)],
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.mark.parametrize("golfer", ["ar", "mdlm"])
def test_whitespace_as_given_costs_bits(golfer, tmp_path):
    one, four, ten = (score(golfer, t, tmp_path) for t in ("a b", "a    b", "a          b"))
    # The same tokens, so the same model bits and the same Parameter Golf count ...
    assert one["model_bits"] == four["model_bits"] == ten["model_bits"]
    assert one["golf_bpb"] == four["golf_bpb"]
    # ... but more whitespace to restore costs more.
    assert one["bits"] < four["bits"] < ten["bits"]
    assert four["restore_edits"] == 1 and one["restore_edits"] == 0
    # Whitespace only: no tokens, and still not free.
    blank = score(golfer, " \t\n  \r\n", tmp_path)
    assert blank["tokens"] == 0 and blank["bits"] > 0 and blank["bpb"] > 0


@pytest.mark.parametrize("golfer", ["ar", "mdlm"])
def test_totals_add_up(golfer, tmp_path):
    text = VAL_DOCS.read_text(encoding="utf-8").splitlines()[1][:1500] + "\n\n  tabs\tand  runs   of spaces\r\n"
    out = score(golfer, text, tmp_path)
    assert out["restore_edits"] >= 4
    assert math.isclose(out["bits"], out["model_bits"] + out["restore_bits"], rel_tol=1e-12)
    spans = out["spans"]
    assert math.isclose(math.fsum(s["bits"] for s in spans), out["bits"], rel_tol=1e-9)
    restored = math.fsum(s.get("token", {}).get("restore_bits", 0.0) for s in spans)
    assert restored == out["restore_bits"]
    # The popovers say what was restored.
    details = " ".join(s["token"].get("detail", "") for s in spans if "token" in s)
    assert "to restore a carriage return + a newline" in details and "a tab" in details


def test_byte_level_bpe_needs_no_side_channel(tmp_path):
    out = score("smollm2", "a    b\n\n\tc", tmp_path)
    assert out["restore_bits"] == 0 and out["restore_edits"] == 0
