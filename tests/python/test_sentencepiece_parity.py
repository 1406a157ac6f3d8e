"""Our Rust SentencePiece (golf tokenize) against Python's sentencepiece: same ids and the same byte offsets,
on every held-out document and on edge strings, with the tokenizer both golfers use: the official Parameter Golf
sp1024 (byte fallback: ids 4..259 spell raw bytes). A model without byte fallback is refused."""

import json
import subprocess

import pytest
from places import GOLF, MODELS as MODELS_DIR, OFFICIAL_SP, VAL_DOCS, shared

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
    # What only byte fallback can spell: rare scripts and symbols, private use, the replacement character, controls.
    "\x00nul\x01soh\x7fdel", "\ufffd replacement", "\ue000\U0010fffd private use", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙", "ꙮ 𓀀 hieroglyph",
    "ᚠᛇᚻ runes", "ཀུན་ tibetan", "தமிழ் tamil", "🧪🦀🫠 newer emoji", "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f tag flag",
    "mixed 中文 and 😀 and \x02 in one",
]


def test_both_golfers_carry_the_official_tokenizer():
    for golfer in ("ar", "mdlm"):
        assert (MODELS_DIR / golfer / "fineweb_1024_bpe.model").read_bytes() == OFFICIAL_SP.read_bytes(), golfer


def test_a_model_without_byte_fallback_is_refused():
    older = shared("tokenizers/fineweb_1024_bpe.model")  # the older, non-official sp1024: no byte pieces
    r = subprocess.run([str(GOLF), "tokenize", "--model", str(older), "-"], input=b"hello", capture_output=True)
    assert r.returncode == 1 and r.stdout == b""
    assert "no byte fallback" in r.stderr.decode(), r.stderr.decode()


@pytest.fixture(scope="module")
def model():
    return OFFICIAL_SP


def rust(model, texts):
    r = subprocess.run(
        [str(GOLF), "tokenize", "--model", str(model), "--json-array", "-"],
        input=json.dumps(texts).encode(), capture_output=True,
    )
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def python(sp, text):
    proto = sp.encode(text, return_type="proto")
    return {"ids": [p.id for p in proto.pieces], "offsets": [[p.begin, p.end] for p in proto.pieces]}


@pytest.fixture(scope="module")
def sp(model):
    return sentencepiece.SentencePieceProcessor(model_file=str(model))


def test_edge_strings(model, sp):
    assert len(EDGE_STRINGS) >= 60
    results = rust(model, EDGE_STRINGS)
    for text, got in zip(EDGE_STRINGS, results):
        assert got == python(sp, text), repr(text)
    # The byte-fallback cases are exercised: raw-byte pieces appear, and <unk> never does.
    ids = [i for r in results for i in r["ids"]]
    assert sum(4 <= i <= 259 for i in ids) > 100 and sp.unk_id() not in ids


def same_as_python(model, sp, texts):
    results = rust(model, texts)
    for i, (text, got) in enumerate(zip(texts, results)):
        want = python(sp, text)
        assert got["ids"] == want["ids"], f"document {i}"
        assert got["offsets"] == want["offsets"], f"document {i}"
    return sum(len(r["ids"]) for r in results)


def test_held_out_documents(model, sp):
    assert same_as_python(model, sp, VAL_DOCS.read_text(encoding="utf-8").splitlines()) > 6_000


def test_edu_sample(model, sp):
    edu = shared("fineweb/edu-sample-part1.txt").read_bytes().decode("utf-8", errors="ignore")
    assert same_as_python(model, sp, [edu]) > 200_000
