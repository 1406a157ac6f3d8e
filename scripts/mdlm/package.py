"""Packages a trained diffusion golfer into models/mdlm/:

1. final_model.fp8.ptz: every 2-D weight matrix (the embedding with its [MASK] row, and the blocks' matrices) as
   fp8 e4m3 with no scale (`t.to(torch.float8_e4m3fn)`), the small and control tensors as fp16; torch.save, then the
   smaller of zlib level 9 and lzma preset 6 (Parameter Golf's rule). Its size must stay within 16,000,000 bytes.
2. model.onnx: `golf import`'s graph (bidirectional; the fp8 codes are decoded in the graph by a 256-entry table,
   exactly as PyTorch converts float8_e4m3fn to float32), so build the golf CLI first.
3. golfer.json: the manifest, with the three estimators' bits per byte on the held-out texts (Python, this script:
   scripts/mdlm/estimators.py), before and after the fp8 round trip.

4. with --golf: the numbers as `golf score --golfer mdlm` reports them (val-first-docs as one text, each
   estimator, both byte counts, and the seconds it took), as results.golf_score.

Usage: python scripts/mdlm/package.py [--run .cache/mdlm-run] [--out models/mdlm] [--k 64] [--edu-tokens 5000]
       [--golf target/release/golf]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import math
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "ar"))
import estimators  # noqa: E402
from golf_import import onnx_from_golf  # noqa: E402
from train_gpt import CONTROL_TENSOR_PATTERNS, ROOT, TOKENIZER_SOURCE, byte_tables, load_shard  # noqa: E402
from train_mdlm import MdlmSettings, make_model  # noqa: E402

ARTIFACT_LIMIT = 16_000_000


def to_fp8(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, t in state.items():
        control = any(c in name for c in CONTROL_TENSOR_PATTERNS)
        out[name] = t.to(torch.float8_e4m3fn) if t.ndim == 2 and not control else t.to(torch.float16)
    return out


def compress(raw: bytes) -> bytes:
    """The smaller of zlib-9 and lzma-6; the format is recognisable by its first bytes (0x78 / xz magic)."""
    return min(zlib.compress(raw, 9), lzma.compress(raw, preset=6), key=len)


def decompress(data: bytes) -> bytes:
    return lzma.decompress(data) if data[:6] == b"\xfd7zXZ\x00" else zlib.decompress(data)


def save_artifact(state: dict[str, torch.Tensor], path: Path) -> int:
    buf = io.BytesIO()
    torch.save(to_fp8(state), buf)
    data = compress(buf.getvalue())
    path.write_bytes(data)
    return len(data)


def load_artifact(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(io.BytesIO(decompress(path.read_bytes())), map_location="cpu")


def onnx_obj(stored: dict[str, torch.Tensor]) -> dict:
    """The artifact in export_onnx's form (the tests' Python reference graph): fp8 tensors as uint8 codes, the rest
    passed through."""
    fp8 = {k: v.view(torch.uint8) for k, v in stored.items() if v.dtype == torch.float8_e4m3fn}
    passthrough = {k: v for k, v in stored.items() if v.dtype != torch.float8_e4m3fn}
    return {"quantized": {}, "scales": {}, "dtypes": {}, "passthrough": passthrough, "fp8": fp8, "mask_row": True}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=ROOT / ".cache" / "mdlm-run")
    p.add_argument("--out", type=Path, default=ROOT / "models" / "mdlm")
    p.add_argument("--k", type=int, default=64, help="NELBO steps for the reported numbers")
    p.add_argument("--seed", type=int, default=0, help="NELBO mask seed")
    p.add_argument("--edu-tokens", type=int, default=5_000,
                   help="score this many tokens of the edu sample (the chain rules cost one pass per token)")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the held-out texts' folder")
    p.add_argument("--golf", type=Path, help="the golf CLI: also measure each estimator as the golfer reports it")
    a = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    summary = json.loads((a.run / "summary.json").read_text())
    s = MdlmSettings()
    for k, v in summary["settings"].items():
        setattr(s, k, v)
    for k in ("data_dir", "tokenizer", "out_dir"):  # recorded relative to the repository
        setattr(s, k, str(ROOT / getattr(s, k)))
    model = make_model(s)
    model.load_state_dict(torch.load(a.run / "final_model.pt", map_location="cpu"))
    model.eval()

    a.out.mkdir(parents=True, exist_ok=True)
    artifact = a.out / "final_model.fp8.ptz"
    n_bytes = save_artifact(model.state_dict(), artifact)
    assert n_bytes <= ARTIFACT_LIMIT, f"{n_bytes} bytes is over the {ARTIFACT_LIMIT} limit"
    stored = load_artifact(artifact)
    rt = make_model(s)
    rt.load_state_dict({k: v.float() for k, v in stored.items()})
    rt.eval()

    sp = spm.SentencePieceProcessor(model_file=s.tokenizer)
    tokenizer = a.out / Path(s.tokenizer).name  # a model folder carries its tokenizer
    tokenizer.write_bytes(Path(s.tokenizer).read_bytes())
    # The graph: golf import's (bidirectional, the fp8 codes decoded in the graph, the head without [MASK]).
    assert (s.rope_base, s.logit_softcap) == (10000.0, 30.0), "golf import assumes the baseline's RoPE base and softcap"
    onnx_path = a.out / "model.onnx"
    onnx_from_golf(artifact, tokenizer, s.train_seq_len, onnx_path)
    print(f"artifact {n_bytes} bytes; model.onnx {onnx_path.stat().st_size} bytes", flush=True)
    tables = byte_tables(sp, s.vocab_size)
    data_dir = Path(s.data_dir)
    held = {"val_first_docs": load_shard(data_dir / "val_first_docs.bin"),
            "val_edu": load_shard(data_dir / "val_edu.bin")[: a.edu_tokens + 1]}
    base, space, boundary = tables
    results = {}
    for name, toks in held.items():
        stream = [int(t) for t in toks]
        xp, yt = np.array(stream[:-1]), np.array(stream[1:])
        golf_bytes = int((base[yt] + (space[yt] & ~boundary[xp])).sum())
        r = {"tokens": len(stream) - 1, "golf_bytes": golf_bytes}
        for label, m in (("fp32", model), ("fp8", rt)):
            for est in ("nelbo", "l2r", "confidence"):
                if label == "fp32" and est != "nelbo":
                    continue  # the chain rules are reported for the shipped (fp8) model only
                fwd = estimators.torch_forward(m, s.vocab_size)
                if est == "nelbo":
                    bits = estimators.nelbo(fwd, stream, s.train_seq_len, a.k, a.seed, sp.bos_id(), s.t_eps)
                else:
                    bits, _ = estimators.chain_rule(fwd, stream, s.train_seq_len, sp.bos_id(), est)
                r[f"{label}_{est}_golf_bpb"] = float(bits.sum() / golf_bytes)
                print(f"{name} {label} {est}: {r[f'{label}_{est}_golf_bpb']:.4f} bpb (Parameter Golf count)", flush=True)
        results[name] = r

    manifest = {
        "id": "mdlm",
        "kind": "diffusion",
        "label": "MDLM (masked diffusion, fp8 e4m3)",
        "about": (f"A masked diffusion LM of the Parameter Golf family ({s.num_layers} layers x {s.model_dim}, "
                  "bidirectional), trained here on a 2-core CPU; every weight matrix stored as fp8 e4m3."),
        "onnx": {"path": "model.onnx", "sha256": sha256(onnx_path), "bytes": onnx_path.stat().st_size},
        "artifact": {"path": artifact.name, "sha256": sha256(artifact), "bytes": n_bytes},
        "tokenizer": {"kind": "sentencepiece", "file": tokenizer.name, "sha256": sha256(tokenizer),
                      "source": TOKENIZER_SOURCE,
                      "rebuild": f"git checkout models/mdlm/{tokenizer.name} (it is committed; the model folder carries it)"},
        "params": summary["params"],
        "context": s.train_seq_len,
        "layers": s.num_layers,
        "kv_heads": s.num_kv_heads,
        "head_dim": s.model_dim // s.num_heads,
        "vocab": s.vocab_size,
        "bos_id": sp.bos_id(),
        "mask_id": s.vocab_size,
        "t_eps": s.t_eps,
        "rebuild": "python scripts/mdlm/package.py (the training: scripts/mdlm/train_mdlm.py)",
        "training": {k: summary[k] for k in ("tokens_seen", "epochs", "steps", "wall_clock_seconds", "hardware", "settings")},
        "artifact_bytes": n_bytes,
        "results": {"nelbo_k": a.k, "nelbo_seed": a.seed, **results},
    }
    (a.out / "golfer.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if a.golf:
        manifest["results"]["golf_score"] = golf_score(a.golf, a.out, a.data / "fineweb" / "val-first-docs.txt", a.k, a.seed)
        manifest["results"]["note"] = (
            "package.py numbers score the held-out shards (BOS before every document, as the training data); "
            "golf_score scores the file as one text. Parameter Golf count throughout unless 'bpb'.")
        (a.out / "golfer.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["results"], indent=2))


def golf_score(golf: Path, folder: Path, text: Path, k: int, seed: int) -> dict:
    """Each estimator on `text` as one text, as `golf score` reports it (the native Rust golfer)."""
    runs = {f"nelbo_k{k}_seed{seed}": ["--estimator", "nelbo", "--steps", str(k), "--mask-seed", str(seed)],
            "l2r": ["--estimator", "l2r"], "confidence": ["--estimator", "confidence"]}
    out = {}
    for label, args in runs.items():
        t0 = time.time()
        r = subprocess.run([str(golf), "score", "--golfer", "mdlm", "--models", str(folder.parent), "--json", "--quiet",
                            *args, str(text)], capture_output=True, check=True)
        got = json.loads(r.stdout)
        out[label] = {"bpb": round(got["bpb"], 4), "golf_bpb": round(got["golf_bpb"], 4),
                      "seconds": round(time.time() - t0, 1)}
        common = {k: got[k] for k in ("tokens", "bytes", "golf_bytes", "restore_bits")}
        print(f"golf score {label}: {out[label]}", flush=True)
    return {f"{text.name} (whole file as one text, golf score --golfer mdlm)": {**out, **common}}


if __name__ == "__main__":
    main()
