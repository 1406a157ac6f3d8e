"""Packages a training run as the AR golfer's model folder: the int8 artifact, its ONNX graph and golfer.json.

Usage: python scripts/ar/package.py [--run .cache/ar-run] [--out models/ar]
Reads RUN/final_model.int8.ptz and RUN/summary.json (written by train_gpt.py).
"""

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golf_import import GOLF, onnx_from_golf  # noqa: E402
from train_gpt import TOKENIZER_SOURCE  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def file_entry(path: Path) -> dict:
    data = path.read_bytes()
    return {"path": path.name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=ROOT / ".cache" / "ar-run")
    p.add_argument("--out", type=Path, default=ROOT / "models" / "ar")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data", help="the held-out texts' folder")
    p.add_argument("--golf", type=Path, help="the golf CLI: also measure both byte counts on the held-out texts")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    summary = json.loads((a.run / "summary.json").read_text())
    ptz = a.out / "final_model.int8.ptz"
    shutil.copyfile(a.run / "final_model.int8.ptz", ptz)
    s = summary["settings"]
    # The run's tokenizer (recorded relative to the repository), copied in: a model folder carries its tokenizer.
    tokenizer = a.out / Path(s["tokenizer"]).name
    shutil.copyfile(ROOT / s["tokenizer"], tokenizer)
    onnx_path = a.out / "model.onnx"
    info = onnx_from_golf(ptz, tokenizer, s["train_seq_len"], onnx_path, a.golf or GOLF)
    manifest = {
        "id": "ar",
        "kind": "autoregressive",
        "label": "AR (Parameter Golf baseline, int8)",
        "about": (
            f"The Parameter Golf baseline architecture at {info['layers']} layers x {info['dim']} wide, trained here "
            f"on {summary['epochs']:.1f} epochs of a {summary['tokens_seen'] / summary['epochs'] / 1e6:.1f}M-token "
            f"FineWeb sample in {summary['wall_clock_seconds'] / 60:.0f} minutes on a 2-core CPU; int8 per-row weights."
        ),
        "onnx": file_entry(onnx_path),
        "artifact": file_entry(ptz),
        "tokenizer": {
            "kind": "sentencepiece",
            "file": tokenizer.name,
            "sha256": hashlib.sha256(tokenizer.read_bytes()).hexdigest(),
            "source": TOKENIZER_SOURCE,
            "rebuild": f"git checkout models/ar/{tokenizer.name} (it is committed; the model folder carries it)",
        },
        "params": summary["params"],
        "context": s["train_seq_len"],
        "layers": info["layers"],
        "kv_heads": info["kv_heads"],
        "head_dim": info["head_dim"],
        "vocab": info["vocab"],
        "bos_id": 1,
        "rebuild": f"golf import models/ar/final_model.int8.ptz --tokenizer models/ar/{tokenizer.name} --context "
        f"{s['train_seq_len']} --out DIR, then copy DIR/model.onnx to models/ar/ (the artifact itself: "
        "scripts/ar/train_gpt.py then scripts/ar/package.py)",
        "training": {
            "script": "scripts/ar/train_gpt.py",
            "data": "train-legalfilter.jsonl (FineWeb sample-10BT, legal-keyword prefiltered), held-out overlap removed",
            "tokens_seen": summary["tokens_seen"],
            "epochs": round(summary["epochs"], 3),
            "steps": summary["steps"],
            "wall_clock_seconds": summary["wall_clock_seconds"],
            "hardware": summary["hardware"],
            "settings": s,
        },
        "artifact_bytes": ptz.stat().st_size,
        "results": summary["results"],
    }
    (a.out / "golfer.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if a.golf:
        # The numbers as the golfer reports them: each held-out file scored as one text, windows of `context`.
        measured = {}
        for name in ("val-first-docs.txt", "edu-sample-part1.txt"):
            r = subprocess.run([str(a.golf), "score", "--golfer", "ar", "--models", str(a.out.parent), "--json",
                                str(a.data / "fineweb" / name)], capture_output=True, check=True)
            out = json.loads(r.stdout)
            measured[name] = {k: out[k] for k in ("bpb", "golf_bpb", "tokens", "bytes", "golf_bytes", "restore_bits")}
        manifest["results"]["golf_score"] = measured
        (a.out / "golfer.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps({k: manifest[k] for k in ("params", "artifact_bytes", "context")} | {"onnx_bytes": manifest["onnx"]["bytes"]}))


if __name__ == "__main__":
    main()
