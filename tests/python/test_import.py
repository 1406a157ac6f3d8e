"""`golf import` on real Parameter Golf entries (GPU-trained by participants, in the shared data's artifacts/): the
imported golfer's bits on the held-out documents equal the entry's own PyTorch model code's (the fork's
train_gpt.py, run here from the shared folder, never copied), and the entries it cannot convert exactly are refused
with the names of what it does not know. On the committed golfers, the Rust importer's graph scores what the Python
exporter's does."""

import importlib.util
import io
import json
import math
import subprocess
import zlib

import pytest
from places import GOLF, MODELS, VAL_DOCS, shared

torch = pytest.importorskip("torch")
spm = pytest.importorskip("sentencepiece")

WINDOW = 512


def golf(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(GOLF), *map(str, args)], capture_output=True, text=True)


def imported(tmp_path, artifact, *options):
    out = tmp_path / artifact.parent.name
    r = golf("import", artifact, "--out", out, *options)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def score(*args) -> dict:
    r = golf("score", "--json", "--quiet", *args, VAL_DOCS)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def fork_bits(folder, text: str) -> float:
    """The entry's bits under its own model code: the official tokenizer, one document, BOS first, non-overlapping
    512-token windows (eval_val's), float32 on the CPU."""
    spec = importlib.util.spec_from_file_location(f"fork_{folder.name.replace('-', '_')}", folder / "train_gpt.py")
    fork = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fork)
    obj = torch.load(io.BytesIO(zlib.decompress((folder / "final_model.int8.ptz").read_bytes())), map_location="cpu")
    state = fork.dequantize_state_dict_int8(obj)
    vocab, dim = state["tok_emb.weight"].shape
    heads = state["blocks.0.attn.q_gain"].numel()
    model = fork.GPT(
        vocab_size=vocab, num_layers=1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks.")),
        model_dim=dim, num_heads=heads, num_kv_heads=state["blocks.0.attn.c_k.weight"].shape[0] // (dim // heads),
        mlp_mult=state["blocks.0.mlp.fc.weight"].shape[0] // dim, tie_embeddings="lm_head.weight" not in state,
        tied_embed_init_std=0.005, logit_softcap=30.0, rope_base=10000.0, qk_gain_init=1.5,
    ).float()
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval()
    sp = spm.SentencePieceProcessor(model_file=str(shared("tokenizers/official/fineweb_1024_bpe.model")))
    ids = torch.tensor([sp.bos_id()] + sp.encode(text))
    nats = 0.0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, WINDOW):
            y = ids[start + 1:start + 1 + WINDOW]
            x = ids[start:start + len(y)]
            nats += model(x[None], y[None]).item() * len(y)
    return nats / math.log(2)


@pytest.mark.parametrize("folder,options", [
    ("samtruss-7x384-c839523", []),
    ("samtruss-7x384-leaky-44620a5", ["--activation", "leaky_relu2:0.5"]),
])
def test_an_entry_scores_what_its_own_code_does(tmp_path, folder, options):
    entry = shared(f"../artifacts/{folder}")
    out, said = imported(tmp_path, entry / "final_model.int8.ptz", "--context", WINDOW, *options)
    assert "assumed: RoPE base 10000" in said and "assumed: logit softcap 30" in said, said
    assert ("assumed: activation relu2" in said) == (not options), said
    got = score("--model", out)
    want = fork_bits(entry, VAL_DOCS.read_text(encoding="utf-8"))
    assert abs(got["model_bits"] - want) <= 1e-4 * want, (got["model_bits"], want)
    assert got["unk_tokens"] == 0 and got["window"] == WINDOW
    manifest = json.loads((out / "golfer.json").read_text())
    assert manifest["training"]["assumed"]["activation"] == ("relu2" if not options else "leaky_relu2:0.5")
    assert manifest["context"] == WINDOW and manifest["layers"] == 7 and manifest["params"] == 7_630_520


@pytest.mark.parametrize("folder,names", [
    ("montysteele-6x2-adapters-dc69b08", ["repeat_scales", "repeat_shifts"]),
    ("digitalsword99-swiglu-5f3e761", ["blocks.N.mlp.gate_up.weight", "pass_gate", "lacks: blocks.N.mlp.fc.weight"]),
])
def test_an_entry_it_cannot_convert_exactly_is_refused_by_name(tmp_path, folder, names):
    r = golf("import", shared(f"../artifacts/{folder}/final_model.int8.ptz"), "--out", tmp_path / "out")
    assert r.returncode == 1, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and all(n in lines[0] for n in names), lines
    assert not (tmp_path / "out").exists()


def spans_of(*args):
    r = golf("score", "--json", "--quiet", *args, VAL_DOCS)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("golfer,artifact,extra", [
    ("ar", "final_model.int8.ptz", ["--context", "512"]),
    ("mdlm", "final_model.fp8.ptz", []),
])
def test_the_rust_graph_scores_what_the_python_exporters_does(tmp_path, golfer, artifact, extra):
    """The committed model.onnx files were built by scripts/ar/export_onnx.py (the MDLM's through package.py)."""
    folder = MODELS / golfer
    out, _ = imported(tmp_path, folder / artifact, "--tokenizer", folder / "fineweb_1024_bpe.model", *extra)
    estimator = ["--estimator", "l2r", "--max-tokens", "300"] if golfer == "mdlm" else []
    ours, theirs = spans_of("--model", out, *estimator), spans_of("--golfer", golfer, *estimator)
    assert len(ours["spans"]) == len(theirs["spans"]) > 0
    worst = max(abs(a["bits"] - b["bits"]) for a, b in zip(ours["spans"], theirs["spans"]))
    assert worst <= 1e-6, worst
    assert (ours["tokens"], ours["bytes"]) == (theirs["tokens"], theirs["bytes"])


def test_a_damaged_or_foreign_file_is_refused(tmp_path):
    bad = tmp_path / "final_model.int8.ptz"
    bad.write_bytes(zlib.compress(b"not a torch file"))
    r = golf("import", bad, "--out", tmp_path / "out")
    assert r.returncode == 1 and "torch.save zip cannot be read" in r.stderr, r.stderr
    bad.write_bytes(b"hello")
    r = golf("import", bad, "--out", tmp_path / "out")
    assert r.returncode == 1 and "neither zlib, xz nor a torch.save zip" in r.stderr, r.stderr


def test_a_tokenizer_that_does_not_fit_is_refused(tmp_path):
    big = shared("tokenizers/fineweb_8192_bpe.model")
    r = golf("import", MODELS / "ar" / "final_model.int8.ptz", "--tokenizer", big, "--out", tmp_path / "out")
    assert r.returncode == 1 and "8192 pieces" in r.stderr and "1024 rows" in r.stderr, r.stderr
