"""`golf import` on real Parameter Golf entries (GPU-trained by participants, in the shared data's artifacts/): the
imported golfer's bits on the held-out documents equal the entry's own PyTorch model code's (the fork's
train_gpt.py, run here from the shared folder, never copied), and the entries it cannot convert exactly are refused
with the names of what it does not know. On the committed golfers, the Rust importer's graph scores what the Python
exporter's does."""

import hashlib
import importlib.util
import io
import json
import math
import shutil
import subprocess
import sys
import zlib

import pytest
from places import GOLF, MODELS, ROOT, VAL_DOCS, shared

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
    assert got["window"] == WINDOW
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


def test_a_tokenizer_without_byte_fallback_is_refused(tmp_path):
    older = shared("tokenizers/fineweb_1024_bpe.model")  # the older, non-official sp1024
    r = golf("import", MODELS / "ar" / "final_model.int8.ptz", "--tokenizer", older, "--out", tmp_path / "out")
    assert r.returncode == 1 and "no byte fallback" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def spans_of(*args):
    r = golf("score", "--json", "--quiet", *args, VAL_DOCS)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(m)
    return m


def python_graph(golfer: str, artifact):
    """The Python reference exporter's graph (scripts/ar/export_onnx.py) for a committed artifact."""
    export_onnx = module(ROOT / "scripts" / "ar" / "export_onnx.py", "export_onnx")
    if golfer == "ar":
        model, _ = export_onnx.build(export_onnx.load_artifact(artifact), 10000.0, 30.0)
    else:
        mdlm = module(ROOT / "scripts" / "mdlm" / "package.py", "mdlm_package")
        model, _ = export_onnx.build(mdlm.onnx_obj(mdlm.load_artifact(artifact)), 10000.0, 30.0, causal=False)
    return model.SerializeToString()


@pytest.mark.parametrize("golfer,artifact,context", [
    ("ar", "final_model.int8.ptz", 512),
    ("mdlm", "final_model.fp8.ptz", 256),
])
def test_the_rust_graph_scores_what_the_python_exporters_does(tmp_path, golfer, artifact, context):
    folder = MODELS / golfer
    ours, _ = imported(tmp_path, folder / artifact, "--tokenizer", folder / "fineweb_1024_bpe.model",
                       "--context", context)
    # The reference: the same folder with the Python exporter's graph.
    theirs = tmp_path / "python"
    shutil.copytree(folder, theirs)
    graph = python_graph(golfer, folder / artifact)
    (theirs / "model.onnx").write_bytes(graph)
    manifest = json.loads((theirs / "golfer.json").read_text())
    manifest["onnx"].update(sha256=hashlib.sha256(graph).hexdigest(), bytes=len(graph))
    (theirs / "golfer.json").write_text(json.dumps(manifest))
    estimator = ["--estimator", "l2r", "--max-tokens", "300"] if golfer == "mdlm" else []
    a, b = spans_of("--model", ours, *estimator), spans_of("--model", theirs, *estimator)
    assert len(a["spans"]) == len(b["spans"]) > 0
    worst = max(abs(x["bits"] - y["bits"]) for x, y in zip(a["spans"], b["spans"]))
    assert worst <= 1e-6, worst
    assert (a["tokens"], a["bytes"]) == (b["tokens"], b["bytes"])


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


def test_it_writes_over_a_model_folder_but_not_over_other_files(tmp_path):
    ptz = MODELS / "ar" / "final_model.int8.ptz"
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("mine")
    r = golf("import", ptz, "--out", mine)
    assert r.returncode == 1 and "not a model folder" in r.stderr, r.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["todo.txt"]
    out, _ = imported(tmp_path, ptz)
    again, _ = imported(tmp_path, ptz)  # importing again replaces the folder's files
    assert again == out and (out / "golfer.json").exists()
