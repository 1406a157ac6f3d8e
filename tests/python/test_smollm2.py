"""The SmolLM2 golfer against independent references:
- tokenizer: the Rust ids equal llama.cpp's (committed goldens from scripts/smollm2/tokenizer_goldens.py);
- graph: the ONNX model against a float64 numpy forward pass of the dequantized GGUF (scripts/smollm2/reference.py),
  and chunked KV-cache scoring against one full pass;
- Rust native per-token log-probs against Python onnxruntime on the same graph;
- a 100 KB text through the sliding window, chat generation, and a corrupted model file's error."""

import hashlib
import json
import resource
import shutil
import subprocess
import sys

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

from places import GOLF, ROOT, VAL_DOCS, shared  # noqa: E402

MODEL_DIR = ROOT / "models" / "smollm2"
GGUF = ROOT / ".cache" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
GOLDENS = ROOT / "tests" / "data" / "smollm2_tokenizer_goldens.json"
sys.path.insert(0, str(ROOT / "scripts" / "smollm2"))

MANIFEST = json.loads((MODEL_DIR / "golfer.json").read_text())
LAYERS, KV_HEADS, HEAD_DIM = MANIFEST["layers"], MANIFEST["kv_heads"], MANIFEST["head_dim"]


def golf(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(GOLF), *args], input=stdin, capture_output=True)


def tokenize(texts: list[str]) -> list[dict]:
    r = golf("tokenize", "--model", str(MODEL_DIR / "tokenizer.json"), "--json-array",
             stdin=json.dumps(texts).encode())
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def session():
    assert (MODEL_DIR / "model.onnx").exists(), "models/smollm2/model.onnx is built by scripts/smollm2/build.py"
    return ort.InferenceSession(str(MODEL_DIR / "model.onnx"))


def empty_past() -> dict:
    return {f"past_{k}_{i}": np.zeros((1, KV_HEADS, 0, HEAD_DIM), np.float32)
            for i in range(LAYERS) for k in ("key", "value")}


def run(session, ids: list[int], targets: list[int], past: dict) -> dict:
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {"input_ids": np.array([ids]), "targets": np.array([targets]), **past})))


def logprobs(session, stream: list[int], chunk: int | None = None) -> np.ndarray:
    """log2 p(stream[i+1] | stream[:i+1]) for every i, in chunks over the KV cache (one pass when chunk is None)."""
    n, past, got = len(stream) - 1, empty_past(), []
    step = chunk or n
    for a in range(0, n, step):
        b = min(a + step, n)
        out = run(session, stream[a:b], stream[a + 1:b + 1], past)
        got.append(out["logprob2"][0])
        past = {k.replace("present", "past"): v for k, v in out.items() if k.startswith("present")}
    return np.concatenate(got)


def val_ids() -> list[int]:
    return json.loads(GOLDENS.read_text())["files"][0]["ids"]


def test_tokenizer_matches_llama_cpp():
    goldens = json.loads(GOLDENS.read_text())
    strings = goldens["strings"]
    assert len(strings) >= 50
    texts = [s["text"] for s in strings]
    files = []
    for f in goldens["files"]:
        data = (ROOT / f["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f"{f['file']} is not the text the goldens were made from"
        files.append(data.decode())
    got = tokenize(texts + files)
    want = [s["ids"] for s in strings] + [f["ids"] for f in goldens["files"]]
    bad = [(t[:40], g["ids"], w) for t, g, w in zip(texts + files, got, want) if g["ids"] != w]
    assert not bad, f"{len(bad)} texts tokenize differently from llama.cpp, first: {bad[0]}"
    # Byte ranges tile each text exactly.
    for t, g in zip(texts + files, got):
        ends = [o[1] for o in g["offsets"]]
        assert [o[0] for o in g["offsets"]] == [0] + ends[:-1] and ends[-1] == len(t.encode())
    # Look-alikes of control tokens are plain text.
    control = {0, 1, 2}
    for s, g in zip(texts, got):
        if "<|" in s:
            assert not control & set(g["ids"]), s


def test_graph_matches_float64_reference(session):
    from reference import Reference, onnx_logits

    assert GGUF.exists(), "the GGUF is unpacked into .cache/smollm2 by scripts/smollm2/build.py"
    ref = Reference(GGUF)
    prompts = [
        [504, 3575, 282, 4649, 314],  # "The capital of France is"
        tokenize(["<|im_start|> is text here; 12345 digits, café, 你好"])[0]["ids"],
        [0] + val_ids()[:239],  # 240 tokens of FineWeb text after <|endoftext|>
    ]
    for ids in prompts:
        want = ref.logits(ids)
        # All positions' log2 p of the next token, one pass.
        lse = np.log(np.exp(want - want.max(-1, keepdims=True)).sum(-1)) + want.max(-1)
        want_lp = (want[np.arange(len(ids) - 1), ids[1:]] - lse[:-1]) / np.log(2)
        out = run(session, ids, ids[1:] + [0], empty_past())
        assert np.abs(out["logprob2"][0][:-1] - want_lp).max() < 1e-3
        # The last position's logits over the whole vocabulary.
        assert np.abs(out["last_logits"][0] - want[-1]).max() < 1e-3, len(ids)
    # Every position's logits, one token at a time over the KV cache, on the shorter prompts.
    for ids in prompts[:2]:
        got = onnx_logits(session, ids, LAYERS, KV_HEADS, HEAD_DIM)
        diff = np.abs(got - ref.logits(ids)).max()
        assert diff < 1e-3, diff


def test_decoder_matches_float64_reference():
    """golf-llama's decode step (generation's path): a prompt prefilled through the graph, then 192 tokens one at a
    time through the Rust kernels, against the float64 numpy forward pass."""
    from reference import Reference

    ids = [0] + val_ids()[:199]
    prefill = 8
    r = golf("decoder-logprobs", "--ids", ",".join(map(str, ids)), "--prefill", str(prefill))
    assert r.returncode == 0, r.stderr.decode()
    got = np.array(json.loads(r.stdout))
    want = Reference(GGUF).logits(ids)
    lse = np.log(np.exp(want - want.max(-1, keepdims=True)).sum(-1)) + want.max(-1)
    at = np.arange(prefill - 1, len(ids) - 1)
    want_lp = (want[at, np.array(ids)[at + 1]] - lse[at]) / np.log(2)
    assert len(got) == len(want_lp) == 192
    diff = np.abs(got - want_lp).max()
    assert diff < 1e-3, diff


@pytest.mark.parametrize("prompt", ["The history of the city", "def fibonacci(n):", "Les enfants jouent dans"])
def test_decoder_generates_the_graphs_tokens(prompt):
    """64 greedy tokens: the same text whether each token is decoded by golf-llama or by the ONNX graph."""
    args = ["generate", "--golfer", "smollm2", "--temperature", "0", "--repetition-penalty", "1",
            "--max-tokens", "64", "--max-bytes", "100000", "--prompt", prompt]
    ours, graph = golf(*args), golf(*args, "--graph-decode")
    assert ours.returncode == 0 and graph.returncode == 0, ours.stderr.decode() + graph.stderr.decode()
    assert len(ours.stdout) > len(prompt) + 64
    assert ours.stdout == graph.stdout


def test_chunked_kv_cache_equals_one_pass(session):
    stream = [0] + val_ids()[:300]
    full = logprobs(session, stream)
    for chunk in (37, 128):
        assert np.abs(logprobs(session, stream, chunk) - full).max() < 1e-4


def default_text() -> str:
    return VAL_DOCS.read_text().split("\n")[1]


def test_rust_matches_python_onnxruntime(session, tmp_path):
    text = default_text()
    path = tmp_path / "text.txt"
    path.write_text(text)
    r = golf("score", "--golfer", "smollm2", "--json", "--tokens", str(path))
    assert r.returncode == 0, r.stderr.decode()
    rust = json.loads(r.stdout)
    ids = tokenize([text])[0]
    assert rust["tokens"] == len(ids["ids"]) and rust["tokens"] < MANIFEST["context"]
    py = -logprobs(session, [MANIFEST["bos_id"]] + ids["ids"])
    # Python's per-token bits grouped as the Rust spans group them (tokens ending inside a character join the next).
    raw = text.encode()
    groups, acc = [], 0.0
    for (a, b), bits in zip(ids["offsets"], py):
        acc += bits
        if b == len(raw) or (raw[b] & 0xC0) != 0x80:
            groups.append((b, acc))
            acc = 0.0
    spans = rust["spans"]
    assert [s["end"] for s in spans] == [g[0] for g in groups]
    diff = max(abs(s["bits"] - g[1]) for s, g in zip(spans, groups))
    assert diff < 1e-4, diff
    assert abs(rust["bits"] - py.sum()) < 1e-3
    assert abs(rust["bpb"] - py.sum() / len(raw)) < 1e-6


def test_100_kb_text_slides_through_the_window(tmp_path):
    raw = shared("fineweb/edu-sample-part1.txt").read_bytes()[:100_000]
    text = raw.decode(errors="ignore")  # cut at a character boundary
    path = tmp_path / "long.txt"
    path.write_text(text)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = golf("score", "--golfer", "smollm2", "--json", "--stride", "2048", str(path))
    assert r.returncode == 0, r.stderr.decode()
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = json.loads(r.stdout)
    assert out["window"] == 2048 and out["stride"] == 2048
    assert out["tokens"] > 2 * out["window"]  # several windows
    assert out["bytes"] == len(text.encode())
    assert sum(s["end"] - s["start"] for s in out["spans"]) == out["bytes"]
    assert 0.3 < out["bpb"] < 2.0
    # The peak of any child so far; the model alone is ~0.3 GB in memory. Fails if memory grew with the text.
    assert max(before, peak_kb) < 3_000_000, peak_kb


def test_chat_answers_and_stops_at_im_end():
    r = golf("generate", "--golfer", "smollm2", "--chat", "--temperature", "0", "--max-tokens", "200",
             "--max-bytes", "5000", "--prompt", "What is the capital of France? Answer in one sentence.")
    assert r.returncode == 0, r.stderr.decode()
    answer = r.stdout.decode().split("\n", 1)[1].strip()
    assert "Paris" in answer
    assert "<|im_end|>" not in answer and "<|im_start|>" not in answer
    # It ended on <|im_end|>, not on the token limit.
    assert len(tokenize([answer])[0]["ids"]) < 150


def test_corrupted_or_missing_model_file_says_which_and_how_to_rebuild(tmp_path):
    models = tmp_path / "models"
    (models / "smollm2").mkdir(parents=True)
    for f in ("golfer.json", "tokenizer.json"):
        shutil.copy(MODEL_DIR / f, models / "smollm2" / f)
    r = golf("score", "--golfer", "smollm2", "--models", str(models), str(GOLDENS))
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "model.onnx" in err and "cannot read" in err and "scripts/smollm2/build.py" in err, err

    data = bytearray((MODEL_DIR / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / "smollm2" / "model.onnx").write_bytes(data)
    r = golf("score", "--golfer", "smollm2", "--models", str(models), str(GOLDENS))
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "model.onnx" in err and "sha256" in err and "python scripts/smollm2/build.py" in err, err


def test_a_byte_the_vocabulary_lacks_is_refused_by_name(tmp_path):
    """SmolLM2's vocabulary has no token for 21 bytes, among them the control character 0x04. The library would
    drop it and the bits would be a shorter text's; the golfer refuses the text, naming the byte and where it is,
    and still scores the same text without it."""
    path = tmp_path / "ctrl.txt"
    path.write_bytes(b"end of transmission\x04 here")
    r = golf("score", "--golfer", "smollm2", "--json", str(path))
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "no token for the byte 0x04" in err and "at byte 19 of the text" in err, err
    assert "panicked" not in err
    r = golf("generate", "--golfer", "smollm2", "--max-tokens", "4", "--prompt", "a\x04b")
    assert r.returncode != 0 and "no token for the byte 0x04" in r.stderr.decode(), r.stderr.decode()
    path.write_bytes(b"end of transmission here")
    r = golf("score", "--golfer", "smollm2", "--json", str(path))
    assert r.returncode == 0, r.stderr.decode()
    assert json.loads(r.stdout)["bytes"] == 24
