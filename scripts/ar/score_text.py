"""Python reference for the AR golfer's numbers: Parameter Golf's eval_val definition applied to one text.

The text is one document: <s> followed by its SentencePiece tokens. The stream is cut into non-overlapping
windows of WINDOW tokens, each scored from a fresh context (as eval_val does), plus the final partial window so that
every token is charged. Bits are -log2 p under the dequantized int8 model in float32 PyTorch; bytes are eval_val's
piece-length count.

Usage: python scripts/ar/score_text.py models/ar/final_model.int8.ptz TEXT_FILE [--window 512]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_onnx  # noqa: E402
import train_gpt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def load_model(ptz: Path) -> train_gpt.GPT:
    obj = export_onnx.load_artifact(ptz)
    sh = export_onnx.shapes_of(obj)
    s = train_gpt.Settings(
        vocab_size=sh["vocab"], num_layers=sh["layers"], model_dim=sh["dim"], num_heads=sh["heads"],
        num_kv_heads=sh["kv_heads"], mlp_mult=sh["hidden"] // sh["dim"],
    )
    model = train_gpt.GPT(s)
    model.load_state_dict(train_gpt.dequantize_int8(obj))
    return model.eval()


@torch.no_grad()
def score_text(model: train_gpt.GPT, sp: spm.SentencePieceProcessor, text: str, window: int) -> dict:
    ids = sp.encode(text)
    stream = np.array([sp.bos_id()] + ids, dtype=np.int64)
    base, space, boundary = train_gpt.byte_tables(sp, model.vocab_size)
    logprob2 = []
    for a in range(0, len(ids), window):
        b = min(a + window, len(ids))
        x = torch.from_numpy(stream[a:b])[None]
        y = torch.from_numpy(stream[a + 1 : b + 1])[None]
        lp = torch.log_softmax(model.logits(x).double(), -1).gather(-1, y[..., None])[0, :, 0] / math.log(2)
        logprob2.extend(lp.tolist())
    x, y = stream[:-1], stream[1:]
    golf_bytes = int((base[y] + (space[y] & ~boundary[x])).sum())
    bits = -float(np.sum(logprob2))
    return {"tokens": len(ids), "model_bits": bits, "golf_bytes": golf_bytes, "golf_bpb": bits / golf_bytes,
            "logprob2": logprob2}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ptz", type=Path)
    p.add_argument("text", type=Path)
    p.add_argument("--window", type=int, default=512)
    p.add_argument("--tokenizer", type=Path, default=ROOT / "models/ar/fineweb_1024_bpe.model")
    a = p.parse_args()
    sp = spm.SentencePieceProcessor(model_file=str(a.tokenizer))
    r = score_text(load_model(a.ptz), sp, a.text.read_text(encoding="utf-8"), a.window)
    print(json.dumps({k: v for k, v in r.items() if k != "logprob2"}))


if __name__ == "__main__":
    main()
