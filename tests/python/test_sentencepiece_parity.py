"""Our Rust SentencePiece (golf tokenize) against Python's sentencepiece: same ids and the same byte offsets,
on every held-out document and on edge strings."""

import json
import subprocess

import pytest
from places import GOLF, SP_MODEL as MODEL, VAL_DOCS, shared

sentencepiece = pytest.importorskip("sentencepiece")

EDGE_STRINGS = [
    "", " ", "   ", "a", "  leading and trailing  ", "many     inner      spaces", "tabs\tand\nnewlines\r\nhere",
    "\u00a0non-breaking\u00a0space", "\u3000ideographic space", "zero\u200bwidth\u200bjoiner", "soft\u00adhyphen",
    "0", "42", "3.14159", "1,234,567", "2026-11-28", "+44 20 7946 0958", "0x1F600", "١٢٣ arabic digits", "①②③ circled",
    "café", "naïve résumé", "Ångström", "ﬁ ﬂ ligatures", "Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ", "ｶﾀｶﾅ half-width", "x² + y³ = z⁴",
    "½ ¼ ¾", "™ © ®", "Ω ≈ ç √ ∫", "Привет, мир", "Γειά σου", "שלום", "مرحبا", "नमस्ते", "日本語のテキスト", "中文文本",
    "한국어", "emoji 😀🎉👍🏽", "flag 🇫🇷 family 👨‍👩‍👧", "❤️ with variation selector",
    "<s>", "</s>", "<unk>", "<pad>", "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "▁ literal meta space",
    "def f(x):\n    return x ** 2  # square", "if (a && b) { c[i] = d->e; }", "SELECT * FROM t WHERE id = 1;",
    "https://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32", "{\"json\": [1, 2.5, null]}",
    "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "tHe QuIcK bRoWn",
    "don't won't it's", "“curly quotes” and ‘single’", "em—dash en–dash", "ellipsis… and ...", "!!!???",
    "a\u0301 combining accent", "\ufeffbyte order mark", "control\x07bell\x1bescape", "trailing newline\n",
]


def rust(texts):
    r = subprocess.run(
        [str(GOLF), "tokenize", "--model", str(MODEL), "--json-array", "-"],
        input=json.dumps(texts).encode(), capture_output=True,
    )
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def python(sp, text):
    proto = sp.encode(text, return_type="proto")
    return {"ids": [p.id for p in proto.pieces], "offsets": [[p.begin, p.end] for p in proto.pieces]}


@pytest.fixture(scope="module")
def sp():
    return sentencepiece.SentencePieceProcessor(model_file=str(MODEL))


def test_edge_strings(sp):
    assert len(EDGE_STRINGS) >= 50
    for text, got in zip(EDGE_STRINGS, rust(EDGE_STRINGS)):
        assert got == python(sp, text), repr(text)


def same_as_python(sp, texts):
    results = rust(texts)
    for i, (text, got) in enumerate(zip(texts, results)):
        want = python(sp, text)
        assert got["ids"] == want["ids"], f"document {i}"
        assert got["offsets"] == want["offsets"], f"document {i}"
    return sum(len(r["ids"]) for r in results)


def test_held_out_documents(sp):
    assert same_as_python(sp, VAL_DOCS.read_text(encoding="utf-8").splitlines()) > 6_000


def test_edu_sample(sp):
    edu = shared("fineweb/edu-sample-part1.txt").read_bytes().decode("utf-8", errors="ignore")
    assert same_as_python(sp, [edu]) > 200_000
