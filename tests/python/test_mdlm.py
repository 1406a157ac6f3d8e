"""The diffusion golfer against its Python references:
- fp8 decoding is exact: for all 256 codes the graph's table lookup equals torch's float8_e4m3fn -> float32;
- the ONNX graph equals the PyTorch model loaded from the fp8 artifact (log2 p at masked positions, to 1e-4);
- the Rust per-token bits of each estimator (NELBO with fixed seeds, left-to-right, confidence order) equal
  scripts/mdlm/estimators.py run on the same graph, to 1e-4;
- in generation neither this golfer nor the AR golfer prints `<unk>` (U+2047)."""

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

from places import GOLF, ROOT, VAL_DOCS  # noqa: E402

MODEL_DIR = Path(os.environ.get("MDLM_DIR", ROOT / "models" / "mdlm"))
sys.path[:0] = [str(ROOT / "scripts" / "mdlm"), str(ROOT / "scripts" / "ar")]
import estimators  # noqa: E402
import export_onnx  # noqa: E402
import package  # noqa: E402
from train_mdlm import MdlmSettings, make_model  # noqa: E402

MANIFEST = json.loads((MODEL_DIR / "golfer.json").read_text())


@pytest.fixture(scope="module")
def session():
    return ort.InferenceSession(str(MODEL_DIR / "model.onnx"))


@pytest.fixture(scope="module")
def sp():
    return spm.SentencePieceProcessor(model_file=str(MODEL_DIR / MANIFEST["tokenizer"]["file"]))


def test_fp8_decoding_is_exact_for_all_codes():
    from onnx import TensorProto, helper, numpy_helper

    codes = torch.arange(256, dtype=torch.uint8)
    obj = {"quantized": {}, "scales": {}, "dtypes": {}, "passthrough": {}, "fp8": {"w": codes.view(1, 256)}}
    g = export_onnx.Graph()
    table = g.const(export_onnx.FP8_E4M3_TABLE, "fp8_e4m3_table")
    idx = g.op("Cast", [g.const(obj["fp8"]["w"].numpy(), "w.fp8", np.uint8)], to=TensorProto.INT32)
    g.op("Gather", [table, idx], outputs=["y"], axis=0)
    graph = helper.make_graph(g.nodes, "fp8", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 256])], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    got = ort.InferenceSession(model.SerializeToString()).run(None, {})[0][0]
    want = codes.view(torch.float8_e4m3fn).float().numpy()
    # Bit for bit, NaN codes (0x7F, 0xFF) included.
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    # The shipped graph carries the same table.
    shipped = {i.name: numpy_helper.to_array(i) for i in __import__("onnx").load(str(MODEL_DIR / "model.onnx")).graph.initializer}
    tables = [v for k, v in shipped.items() if k.startswith("fp8_e4m3_table")]
    assert len(tables) == 1 and np.array_equal(tables[0].view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("golfer", ["ar", "mdlm"])
def test_the_shipped_graphs_have_no_unused_initializers(golfer):
    """ONNX Runtime warns on the console about each one (and the page's tests fail on console output)."""
    import onnx

    g = onnx.load(str(MODEL_DIR.parent / golfer / "model.onnx")).graph
    used = {i for n in g.node for i in n.input}
    assert [i.name for i in g.initializer if i.name not in used] == []


def test_graph_equals_pytorch_fp8_model(session):
    s = MdlmSettings()
    for k, v in MANIFEST["training"]["settings"].items():
        setattr(s, k, v)
    stored = package.load_artifact(MODEL_DIR / MANIFEST["artifact"]["path"])
    model = make_model(s)
    model.load_state_dict({k: v.float() for k, v in stored.items()})
    model.eval()
    rng = np.random.default_rng(0)
    T = MANIFEST["context"]
    torch_fwd = estimators.torch_forward(model, MANIFEST["mask_id"])
    onnx_fwd = estimators.onnx_forward(session, MANIFEST["mask_id"])
    for rate in (0.1, 0.5, 0.9):
        ids = [int(i) for i in rng.integers(2, MANIFEST["vocab"], T)]
        masked = [bool(m) for m in rng.random(T) < rate]
        a, _ = torch_fwd(ids, masked, ids)
        b, _ = onnx_fwd(ids, masked, ids)
        assert np.abs(a - b).max() < 1e-4, rate


def rust_spans(text_path: Path, *args: str) -> dict:
    r = subprocess.run([str(GOLF), "score", "--golfer", "mdlm", "--models", str(MODEL_DIR.parent), "--json",
                        *args, str(text_path)], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


@pytest.mark.parametrize("estimator", ["nelbo", "l2r", "confidence"])
def test_rust_estimators_equal_python(estimator, session, sp, tmp_path):
    # About 600 tokens: several windows of the model's context.
    text = VAL_DOCS.read_text()[:2500]
    text = text.encode("ascii", "ignore").decode()  # every token then covers its own bytes: spans are tokens
    path = tmp_path / "text.txt"
    path.write_text(text)
    stream = [MANIFEST["bos_id"]] + sp.encode(text)
    fwd = estimators.onnx_forward(session, MANIFEST["mask_id"])
    T, bos = MANIFEST["context"], MANIFEST["bos_id"]
    if estimator == "nelbo":
        py = estimators.nelbo(fwd, stream, T, 8, 3, bos, MANIFEST["t_eps"])
        rust = rust_spans(path, "--estimator", "nelbo", "--steps", "8", "--mask-seed", "3", "--tokens")
    else:
        py, _ = estimators.chain_rule(fwd, stream, T, bos, estimator)
        rust = rust_spans(path, "--estimator", estimator, "--tokens")
    assert len(stream) - 1 > 2 * T, "the text should span several windows"
    spans = rust["spans"]
    assert len(spans) == len(py)
    # The model's bits per token: each span's bits less what it pays to restore normalized whitespace.
    diff = max(abs(s["bits"] - s["token"].get("restore_bits", 0.0) - b) for s, b in zip(spans, py))
    assert diff < 1e-4, diff
    assert abs(rust["model_bits"] - py.sum()) < 1e-3


def test_max_tokens_scores_the_prefix_as_if_alone(tmp_path):
    # The page cuts a slow chain rule to whole windows; the kept tokens must get the bits of that prefix alone.
    text = VAL_DOCS.read_text()[:2500]
    path = tmp_path / "text.txt"
    path.write_text(text)
    window = MANIFEST["context"] - 1
    cut = rust_spans(path, "--estimator", "l2r", "--max-tokens", str(window), "--tokens")
    assert cut["tokens"] == window and cut["bytes"] < len(text.encode())
    prefix = tmp_path / "prefix.txt"
    prefix.write_bytes(text.encode()[: cut["bytes"]])
    alone = rust_spans(prefix, "--estimator", "l2r", "--tokens")
    assert alone["tokens"] == window
    assert [s["bits"] for s in cut["spans"]] == [s["bits"] for s in alone["spans"]]
    # Left to right reveals in text order: the spans' reveal order counts up.
    order = [s["token"]["revealed"] for s in cut["spans"]]
    assert order == sorted(order) and order[0] == 0 and len(set(order)) == len(order)


def test_generation_unmasks_to_a_full_canvas():
    args = [str(GOLF), "generate", "--golfer", "mdlm", "--models", str(MODEL_DIR.parent), "--prompt",
            "The history of the city", "--max-tokens", "24", "--steps", "6", "--show-steps", "--seed", "7"]
    r = subprocess.run(args, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 6
    masked = [line.count("\u2591") for line in lines]
    # 24 slots, 4 committed per step: 20, 16, ..., 0 still masked.
    assert masked == [20, 16, 12, 8, 4, 0], masked
    assert r.stdout == subprocess.run(args, capture_output=True).stdout  # seeded: the same canvas again
    leftmost = subprocess.run(args + ["--leftmost"], capture_output=True).stdout.decode().splitlines()
    first = leftmost[0].split("The history of the city", 1)[1]
    assert "\u2591" not in first[: len(first) - 20]  # the leftmost slots were committed first


@pytest.mark.parametrize("golfer", ["ar", "mdlm"])
def test_generation_never_samples_unk(golfer):
    """Hot sampling after a prompt of characters outside the vocabulary (byte fallback spells each as its UTF-8
    bytes, so the model sees byte tokens, never `<unk>`): the output is the prompt as given, then sampled text with
    no `<unk>` placeholder (U+2047). That the sampler rules `<unk>` out even where the model favours it is
    golf-onnx's unit test `sampling_rules_out_unk_and_nothing_else`."""
    prompt = "\u6771\u4eac \u5927\u962a \u540d\u53e4\u5c4b \U0001f600 \u672d\u5e4c \u798f\u5ca1 \u6a2a\u6d5c "
    extra = ["--steps", "16"] if golfer == "mdlm" else ["--max-bytes", "600"]
    for seed in map(str, range(1, 7)):
        args = [str(GOLF), "generate", "--golfer", golfer, "--models", str(MODEL_DIR.parent), "--prompt", prompt,
                "--max-tokens", "128", "--temperature", "1.5", "--top-p", "1", "--seed", seed, *extra]
        r = subprocess.run(args, capture_output=True)
        assert r.returncode == 0, r.stderr.decode()
        out = r.stdout.decode()
        assert out.startswith(prompt)  # the prompt as given, then what was sampled
        assert "\u2047" not in out[len(prompt):], (seed, out)
