"""gzip golfer against Python's own zlib: total bits are 8 x the raw DEFLATE stream that
zlib.compressobj(9, DEFLATED, -15) writes, and the per-byte bits add up to it exactly."""

import json
import math
import random
import subprocess
import zlib
from pathlib import Path

import pytest
from places import GOLF, VAL_DOCS, shared


def zlib_raw_len(data: bytes) -> int:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return len(c.compress(data) + c.flush())


def golf(*args, stdin=None):
    return subprocess.run([str(GOLF), *args], input=stdin, capture_output=True)


def score_json(path: Path, *extra):
    r = golf("score", "--golfer", "gzip", "--json", "--per-byte", *extra, str(path))
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    d = tmp_path_factory.mktemp("texts")
    rnd = d / "random-64k.bin"
    rnd.write_bytes(random.Random(1234).randbytes(64 * 1024))
    sentence = b"The quick brown fox jumps over the lazy dog. "
    rep = d / "repeated-1m.txt"
    rep.write_bytes((sentence * (2**20 // len(sentence) + 1))[: 2**20])
    one = d / "one-byte.txt"
    one.write_bytes(b"a")
    # Paths behind a call, so that only the tests of a text the shared data lacks are skipped.
    return {
        "fineweb-val": (lambda: VAL_DOCS, []),
        "enwik8-prefix": (lambda: shared("enwik8/enwik8-prefix.xml"), []),
        "random-64k": (lambda: rnd, ["--bytes"]),
        "repeated-1m": (lambda: rep, []),
        "one-byte": (lambda: one, []),
    }


@pytest.mark.parametrize("name", ["fineweb-val", "enwik8-prefix", "random-64k", "repeated-1m", "one-byte"])
def test_bits_equal_python_zlib_and_add_up(texts, name):
    where, extra = texts[name]
    path = where()
    data = path.read_bytes()
    out = score_json(path, *extra)
    want_bits = 8 * zlib_raw_len(data)
    assert out["bytes"] == len(data)
    assert out["bits"] == want_bits
    # Spans tile the text and their bits add up exactly (they are multiples of 2^-24).
    spans = out["spans"]
    assert spans[0]["start"] == 0 and spans[-1]["end"] == len(data)
    assert all(a["end"] == b["start"] for a, b in zip(spans, spans[1:]))
    assert math.fsum(s["bits"] for s in spans) == want_bits
    per_byte = out["per_byte"]
    assert len(per_byte) == len(data)
    assert math.fsum(per_byte) == want_bits
    assert sum(per_byte) == want_bits  # even plain left-to-right float addition is exact
    assert min(per_byte) >= 0
    assert out["gzip_file_bytes"] == want_bits // 8 + 18


def test_enwik8_bpb(texts):
    out = score_json(texts["enwik8-prefix"][0]())
    assert abs(out["bpb"] - 2.90) <= 0.03, out["bpb"]


def test_marginal_matches_python_prefix_compression():
    text = VAL_DOCS.read_bytes()[:300]
    r = golf("score", "--method", "marginal", "--json", "-", stdin=text)
    assert r.returncode == 0, r.stderr.decode()
    spans = json.loads(r.stdout)["spans"]
    prev = 0  # nothing has been sent before the first byte
    for i, span in enumerate(spans):
        cur = zlib_raw_len(text[: i + 1])
        assert span["bits"] == 8 * (cur - prev), i
        prev = cur


def test_marginal_is_capped(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (16 * 1024 + 1))
    r = golf("score", "--method", "marginal", str(big))
    assert r.returncode != 0
    assert b"limit" in r.stderr


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (["score", "/nonexistent/file.txt"], None, b"cannot read '/nonexistent/file.txt'"),
        (["score", "-"], b"", b"empty"),
        (["score", "-"], b"ok \xff\xfe bytes", b"--bytes"),
        (["generate", "--prompt", ""], None, b"prompt is empty"),
        # Sampler settings that make no sense are refused before anything is sampled (a NaN temperature used to
        # print garbage with exit status 0, a penalty of 0 one token forever, -1 clap's "unexpected argument").
        (["generate", "--prompt", "a", "--temperature", "nan"], None, b"temperature must be a number from 0"),
        (["generate", "--prompt", "a", "--temperature", "inf"], None, b"temperature must be a number from 0"),
        (["generate", "--prompt", "a", "--temperature", "-1"], None, b"temperature must be a number from 0"),
        (["generate", "--prompt", "a", "--top-p", "0"], None, b"top-p must be above 0 and at most 1"),
        (["generate", "--prompt", "a", "--top-p", "1.5"], None, b"top-p must be above 0 and at most 1"),
        (["generate", "--prompt", "a", "--repetition-penalty", "0"], None, b"repetition penalty must be a number above 0"),
        (["generate", "--prompt", "a", "--golfer", "ar", "--repetition-penalty", "-2"], None, b"repetition penalty"),
        (["generate", "--prompt", "a", "--max-tokens", "0"], None, b"max tokens must be at least 1"),
        (["generate", "--prompt", "a", "--max-bytes", "0"], None, b"max bytes must be at least 1"),
        (["generate", "--prompt", "a", "--dry-multiplier", "nan"], None, b"--dry-multiplier"),
    ],
)
def test_bad_input_gets_one_clear_line(args, stdin, message):
    r = golf(*args, stdin=stdin)
    assert r.returncode != 0
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert message in r.stderr


def test_generation_streams_and_is_seeded():
    args = ["generate", "--prompt", "The adrenal glands are", "--max-bytes", "80", "--seed", "5"]
    a, b = golf(*args), golf(*args)
    assert a.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.startswith(b"The adrenal glands are")
    generated = a.stdout[len(b"The adrenal glands are") :].rstrip(b"\n")
    assert 0 < len(generated) <= 80
    generated.decode("utf-8")  # whole characters only
