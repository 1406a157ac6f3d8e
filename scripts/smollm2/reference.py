"""An independent float64 forward pass of SmolLM2's GGUF in numpy: the weights dequantized straight from the
Q4_1 / Q8_0 blocks as llama.cpp defines them (x = d*q + m; x = d*q), the llama block written out plainly.
Used to check the ONNX graph (scripts/smollm2/convert.py).

Usage: python scripts/smollm2/reference.py MODEL.gguf MODEL.onnx   (prints max |logit difference| on 3 prompts)
"""

from __future__ import annotations

import sys
from pathlib import Path

import gguf
import numpy as np


def dequantize(t) -> np.ndarray:
    """[rows, K] float64 from a GGUF tensor."""
    kind = t.tensor_type.name
    if kind == "F32":
        return np.asarray(t.data, np.float64)
    if kind == "Q4_1":
        b = t.data.reshape(t.data.shape[0], -1, 20)
        d = b[..., 0:2].copy().view(np.float16).astype(np.float64)
        m = b[..., 2:4].copy().view(np.float16).astype(np.float64)
        qs = b[..., 4:20]
        q = np.concatenate([qs & 15, qs >> 4], axis=-1).astype(np.float64)
        return (d * q + m).reshape(t.data.shape[0], -1)
    if kind == "Q8_0":
        b = t.data.reshape(t.data.shape[0], -1, 34)
        d = b[..., 0:2].copy().view(np.float16).astype(np.float64)
        q = b[..., 2:34].copy().view(np.int8).astype(np.float64)
        return (d * q).reshape(t.data.shape[0], -1)
    raise ValueError(f"{t.name}: unsupported type {kind}")


class Reference:
    def __init__(self, path: Path):
        r = gguf.GGUFReader(str(path))

        def field(key):
            f = r.fields[key]
            return f.parts[f.data[0]][0].item()

        self.L = field("llama.block_count")
        self.H = field("llama.attention.head_count")
        self.KVH = field("llama.attention.head_count_kv")
        self.eps = field("llama.attention.layer_norm_rms_epsilon")
        self.base = field("llama.rope.freq_base")
        self.w = {t.name: dequantize(t) for t in r.tensors}
        self.D = self.w["token_embd.weight"].shape[1]
        self.HD = self.D // self.H

    def norm(self, x, name):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * self.w[name]

    def rope(self, x, pos):
        # llama.cpp's layout: adjacent pairs (2i, 2i+1) rotate together.
        inv = 1.0 / (self.base ** (np.arange(0, self.HD, 2) / self.HD))
        ang = pos[:, None] * inv[None]
        c, s = np.cos(ang)[None], np.sin(ang)[None]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * c - b * s
        out[..., 1::2] = b * c + a * s
        return out

    def logits(self, ids: list[int]) -> np.ndarray:
        w, T = self.w, len(ids)
        x = w["token_embd.weight"][ids]
        pos = np.arange(T, dtype=np.float64)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        for i in range(self.L):
            p = f"blk.{i}."
            h = self.norm(x, p + "attn_norm.weight")
            q = (h @ w[p + "attn_q.weight"].T).reshape(T, self.H, self.HD).transpose(1, 0, 2)
            k = (h @ w[p + "attn_k.weight"].T).reshape(T, self.KVH, self.HD).transpose(1, 0, 2)
            v = (h @ w[p + "attn_v.weight"].T).reshape(T, self.KVH, self.HD).transpose(1, 0, 2)
            q, k = self.rope(q, pos), self.rope(k, pos)
            g = self.H // self.KVH
            k, v = np.repeat(k, g, axis=0), np.repeat(v, g, axis=0)
            att = q @ k.transpose(0, 2, 1) / np.sqrt(self.HD) + mask
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            y = (att @ v).transpose(1, 0, 2).reshape(T, self.D)
            x = x + y @ w[p + "attn_output.weight"].T
            h = self.norm(x, p + "ffn_norm.weight")
            gate = h @ w[p + "ffn_gate.weight"].T
            x = x + ((gate / (1 + np.exp(-gate))) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        return self.norm(x, "output_norm.weight") @ w["token_embd.weight"].T


def onnx_logits(session, ids, layers, kv_heads, head_dim, chunk=None) -> np.ndarray:
    """All positions' logits from the graph: last_logits after each prefix chunk is only the last position, so
    feed one token at a time over the KV cache (also exercises the cache)."""
    past = {f"past_{k}_{i}": np.zeros((1, kv_heads, 0, head_dim), np.float32) for i in range(layers) for k in ("key", "value")}
    names = [o.name for o in session.get_outputs()]
    rows = []
    for t in ids:
        out = dict(zip(names, session.run(None, {"input_ids": np.array([[t]]), "targets": np.array([[0]]), **past})))
        rows.append(out["last_logits"][0])
        past = {k.replace("present", "past"): v for k, v in out.items() if k.startswith("present")}
    return np.stack(rows)


def main() -> None:
    import onnxruntime as ort

    ref = Reference(Path(sys.argv[1]))
    session = ort.InferenceSession(sys.argv[2])
    rng = np.random.default_rng(0)
    prompts = [[504, 3575, 282, 4649, 314], list(rng.integers(100, 49152, 16)), list(rng.integers(100, 49152, 200))]
    for ids in prompts:
        want = ref.logits([int(i) for i in ids])
        got = onnx_logits(session, [int(i) for i in ids], ref.L, ref.KVH, ref.HD)
        print(f"{len(ids)} tokens: max |logit difference| {np.abs(got - want).max():.2e}")


if __name__ == "__main__":
    main()
