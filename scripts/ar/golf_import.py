"""The golfers' ONNX graphs come from `golf import` (crates/golf-import), the same Rust code that imports a
participant's artifact on the page; the packaging scripts call it rather than building a graph of their own."""

import json
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLF = ROOT / "target" / "release" / "golf"


def onnx_from_golf(artifact: Path, tokenizer: Path, context: int, out: Path, golf: Path = GOLF) -> dict:
    """Writes `out` (model.onnx) as `golf import` builds it for `artifact`, trained with `tokenizer`; returns the
    dimensions it read (layers, dim, heads, kv_heads, head_dim, vocab)."""
    if not golf.exists():
        raise SystemExit(f"{golf} is missing: build it first (cargo build --release -p golf-cli)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(golf), "import", str(artifact), "--tokenizer", str(tokenizer), "--context", str(context),
                        "--out", tmp], check=True, stdout=subprocess.DEVNULL)
        out.write_bytes((Path(tmp) / "model.onnx").read_bytes())
        m = json.loads((Path(tmp) / "golfer.json").read_text())
    return {**{k: m[k] for k in ("layers", "kv_heads", "head_dim", "vocab")}, "dim": m["training"]["dim"],
            "heads": m["training"]["heads"]}
