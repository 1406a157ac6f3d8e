"""The AR golfer against its Python reference (PyTorch, dequantized int8 model):
- the ONNX graph's per-token log2 p equals PyTorch's to 1e-4, over one pass and chunked over the KV cache;
- the Rust CLI's Parameter Golf bpb equals eval_val's definition computed in Python to 1e-4 relative;
- the converter takes a baseline-format artifact of another shape (with a bfloat16 embedding, as the baseline's
  is), trained a few steps here, and Python and Rust score it identically."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
spm = pytest.importorskip("sentencepiece")

from places import GOLF, MODELS, ROOT, SP_MODEL, VAL_DOCS, shared  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts" / "ar"))
import export_onnx  # noqa: E402
import score_text  # noqa: E402
import train_gpt  # noqa: E402


@pytest.fixture(scope="module")
def sp():
    return spm.SentencePieceProcessor(model_file=str(SP_MODEL))


def manifest(models: Path) -> dict:
    return json.loads((models / "ar" / "golfer.json").read_text())


def rust_score(models: Path, text_file: Path) -> dict:
    r = subprocess.run([str(GOLF), "score", "--golfer", "ar", "--models", str(models), "--json", str(text_file)],
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    out = json.loads(r.stdout)
    out.pop("spans")
    return out


def onnx_logprobs(onnx_path: Path, m: dict, ids: list[int], chunk: int | None) -> np.ndarray:
    sess = ort.InferenceSession(str(onnx_path))
    past = {f"past_{k}_{i}": np.zeros((1, m["kv_heads"], 0, m["head_dim"]), np.float32)
            for i in range(m["layers"]) for k in ("key", "value")}
    names = [o.name for o in sess.get_outputs()]
    got, n = [], len(ids) - 1
    step = chunk or n
    for a in range(0, n, step):
        b = min(a + step, n)
        out = dict(zip(names, sess.run(None, {"input_ids": np.array([ids[a:b]]), "targets": np.array([ids[a + 1:b + 1]]), **past})))
        got.append(out["logprob2"][0])
        past = {k.replace("present", "past"): v for k, v in out.items() if k.startswith("present")}
    return np.concatenate(got)


def check_model(models: Path, sp, texts):
    m = manifest(models)
    model = score_text.load_model(models / "ar" / m["artifact"]["path"])
    # Per-token log-probabilities: ONNX (one pass, and chunks over the cache) against PyTorch.
    doc = VAL_DOCS.read_text(encoding="utf-8").splitlines()[1]
    ids = [sp.bos_id()] + sp.encode(doc)[: m["context"] - 1]
    with torch.no_grad():
        x, y = torch.tensor([ids[:-1]]), torch.tensor([ids[1:]])
        want = (torch.log_softmax(model.logits(x).double(), -1).gather(-1, y[..., None])[0, :, 0] / np.log(2)).numpy()
    for chunk in (None, 37):
        got = onnx_logprobs(models / "ar" / "model.onnx", m, ids, chunk)
        assert np.abs(got - want).max() < 1e-4, (chunk, np.abs(got - want).max())
    # Whole texts: Rust's Parameter Golf bpb against eval_val's definition in Python.
    for path in texts:
        py = score_text.score_text(model, sp, path.read_text(encoding="utf-8"), m["context"])
        rs = rust_score(models, path)
        assert rs["tokens"] == py["tokens"] and rs["golf_bytes"] == py["golf_bytes"]
        assert abs(rs["golf_bpb"] - py["golf_bpb"]) / py["golf_bpb"] < 1e-4, (path.name, rs["golf_bpb"], py["golf_bpb"])
        assert rs["bytes"] == path.stat().st_size and rs["bpb"] > 0


def test_committed_golfer_matches_python(sp):
    check_model(MODELS, sp, [VAL_DOCS])


def test_committed_golfer_matches_python_on_the_edu_sample(sp):
    """The same on 512 KB of FineWeb-Edu (201K tokens)."""
    check_model(MODELS, sp, [shared("fineweb/edu-sample-part1.txt")])


def test_converter_takes_another_shape(tmp_path, sp):
    """A baseline-format artifact of a different shape, trained a few steps: converts and scores identically."""
    corpus = shared("fineweb/train-legalfilter.jsonl").parents[1]
    data = tmp_path / "data"
    subprocess.run([sys.executable, str(ROOT / "scripts/ar/prepare_data.py"), "--data", str(corpus), "--out", str(data)],
                   check=True, capture_output=True)
    run = tmp_path / "run"
    env = {**os.environ, "DATA_DIR": str(data), "OUT_DIR": str(run), "NUM_LAYERS": "3", "MODEL_DIM": "192",
           "NUM_HEADS": "6", "NUM_KV_HEADS": "3", "MLP_MULT": "2", "TRAIN_SEQ_LEN": "64", "TRAIN_BATCH_TOKENS": "1024",
           "ITERATIONS": "6", "VAL_EVERY_SECONDS": "1e9", "EVAL_TOKENS": "2048", "TOKENIZER_PATH": str(SP_MODEL)}
    subprocess.run([sys.executable, str(ROOT / "scripts/ar/train_gpt.py")], env=env, check=True, capture_output=True)
    # As the baseline stores it: the embedding in bfloat16 before int8 quantization.
    state = torch.load(run / "final_model.pt", map_location="cpu")
    state["tok_emb.weight"] = state["tok_emb.weight"].to(torch.bfloat16)
    train_gpt.save_ptz(state, run / "final_model.int8.ptz")
    obj = export_onnx.load_artifact(run / "final_model.int8.ptz")
    assert obj["dtypes"]["tok_emb.weight"] == "bfloat16" and "blocks.0.mlp.fc.weight" in obj["quantized"]
    models = tmp_path / "models"
    subprocess.run([sys.executable, str(ROOT / "scripts/ar/package.py"), "--run", str(run), "--out", str(models / "ar"),
                    "--data", str(corpus)], check=True, capture_output=True)
    assert manifest(models)["layers"] == 3 and manifest(models)["kv_heads"] == 3
    check_model(models, sp, [VAL_DOCS])
