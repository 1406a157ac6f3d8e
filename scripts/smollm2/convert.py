"""Converts SmolLM2-135M-Instruct's Q4_1 GGUF into the golfer's ONNX graph, losslessly (scripts/smollm2/build.py
runs it at set-up).

- Q4_1 linear weights -> com.microsoft MatMulNBits (4 bits, block 32) with float zero points: the GGUF's fp16 d
  and m are stored as they are and the graph derives scale = d and zero point = -m/d (ONNX Runtime folds this at
  load), so (q - zp) * scale = q*d + m exactly up to float32 rounding. Nibbles are repacked to ORT's order.
- The Q8_0 token embedding is one uint8 initializer (q + 128) shared by GatherBlockQuantized (the embedding) and an
  8-bit MatMulNBits (the tied LM head).
- llama blocks: RMSNorm (eps from the GGUF), interleaved RoPE (llama.cpp's permuted q/k), GQA attention over a KV
  cache, SwiGLU MLP. Outputs as the AR golfer's graph: logprob2, rank, top_ids, top_probs, entropy, last_logits,
  present_*.

Usage: python scripts/smollm2/convert.py MODEL.gguf OUT.onnx
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import gguf
import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ar"))
from export_onnx import Graph, scoring_outputs  # noqa: E402

MS = "com.microsoft"


def field(r: gguf.GGUFReader, key: str):
    f = r.fields[key]
    v = f.parts[f.data[0]]
    return v.tobytes().decode() if f.types[0] == gguf.GGUFValueType.STRING else v[0].item()


def q4_1_blocks(t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(packed nibbles in ORT's order [N, K/32, 16], d fp16 [N, K/32], m fp16 [N, K/32])."""
    b = t.data.reshape(t.data.shape[0], -1, 20)
    d = b[..., 0:2].copy().view(np.float16)[..., 0]
    m = b[..., 2:4].copy().view(np.float16)[..., 0]
    qs = b[..., 4:20]
    # GGUF: element j = qs[j] & 15, element j + 16 = qs[j] >> 4. ORT: byte i = element 2i | element 2i+1 << 4.
    elems = np.concatenate([qs & 15, qs >> 4], axis=-1)
    packed = (elems[..., 0::2] | (elems[..., 1::2] << 4)).astype(np.uint8)
    return packed, d, m


def q8_0_blocks(t) -> tuple[np.ndarray, np.ndarray]:
    """(q + 128 as uint8 [V, K/32, 32], d fp16 [V, K/32])."""
    b = t.data.reshape(t.data.shape[0], -1, 34)
    d = b[..., 0:2].copy().view(np.float16)[..., 0]
    q = b[..., 2:34].copy().view(np.int8)
    return (q.astype(np.int16) + 128).astype(np.uint8), d


def build(path: Path) -> onnx.ModelProto:
    r = gguf.GGUFReader(str(path))
    tensors = {t.name: t for t in r.tensors}
    L = field(r, "llama.block_count")
    D = field(r, "llama.embedding_length")
    H = field(r, "llama.attention.head_count")
    KVH = field(r, "llama.attention.head_count_kv")
    F = field(r, "llama.feed_forward_length")
    base = field(r, "llama.rope.freq_base")
    eps = field(r, "llama.attention.layer_norm_rms_epsilon")
    HD = D // H
    g = Graph()
    two, one, zero = (g.const([v], "i", np.int64) for v in (2, 1, 0))

    def matmul_4bit(x: str, name: str) -> str:
        t = tensors[name]
        packed, d, m = q4_1_blocks(t)
        n, k = packed.shape[0], packed.shape[1] * 32
        scale = g.op("Cast", [g.const(d.reshape(-1), name + ".d", np.float16)], to=TensorProto.FLOAT)
        m32 = g.op("Cast", [g.const(m.reshape(-1), name + ".m", np.float16)], to=TensorProto.FLOAT)
        zp = g.op("Neg", [g.op("Div", [m32, scale])])
        b = g.const(packed, name + ".q4", np.uint8)
        return g.op("MatMulNBits", [x, b, scale, zp], name.split(".")[-2], domain=MS, K=k, N=n, bits=4, block_size=32)

    emb_q, emb_d = q8_0_blocks(tensors["token_embd.weight"])
    V = emb_q.shape[0]
    emb = g.const(emb_q, "token_embd.q8", np.uint8)
    emb_scale = g.op("Cast", [g.const(emb_d.reshape(V, -1, 1), "token_embd.d", np.float16)], to=TensorProto.FLOAT)

    def norm(x: str, name: str) -> str:
        w = g.const(np.asarray(tensors[name].data, np.float32), name)
        ms = g.op("ReduceMean", [g.op("Mul", [x, x]), g.const([-1], "axis", np.int64)], keepdims=1)
        return g.op("Mul", [g.op("Div", [x, g.op("Sqrt", [g.op("Add", [ms, g.const(eps, "eps")])])]), w], "norm")

    # Positions and interleaved rotary angles.
    past_len = g.op("Slice", [g.op("Shape", ["past_key_0"]), two, g.const([3], "i", np.int64)])
    seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), one, two])
    p0, t0 = g.op("Squeeze", [past_len, zero]), g.op("Squeeze", [seq_len, zero])
    pos = g.op("Range", [p0, g.op("Add", [p0, t0]), g.const(1, "one", np.int64)], "pos")
    inv_freq = (1.0 / (base ** (np.arange(0, HD, 2, dtype=np.float64) / HD))).astype(np.float32)
    freqs = g.op("Mul", [g.op("Unsqueeze", [g.op("Cast", [pos], to=TensorProto.FLOAT), one]), g.const(inv_freq[None], "inv_freq")])
    cos = g.op("Reshape", [g.op("Cos", [freqs]), g.const([1, 1, -1, HD // 2, 1], "shape", np.int64)])
    sin = g.op("Reshape", [g.op("Sin", [freqs]), g.const([1, 1, -1, HD // 2, 1], "shape", np.int64)])

    def rope(x: str, n: int) -> str:
        # Pairs (2i, 2i+1) rotate together: view as [.., HD/2, 2].
        pairs = g.op("Reshape", [x, g.const([1, n, -1, HD // 2, 2], "shape", np.int64)])
        a, b = g.op("Split", [pairs, g.const([1, 1], "split", np.int64)], outputs=2, axis=-1)
        ra = g.op("Sub", [g.op("Mul", [a, cos]), g.op("Mul", [b, sin])])
        rb = g.op("Add", [g.op("Mul", [b, cos]), g.op("Mul", [a, sin])])
        return g.op("Reshape", [g.op("Concat", [ra, rb], axis=-1), g.const([1, n, -1, HD], "shape", np.int64)])

    def heads(x: str, n: int) -> str:
        return g.op("Transpose", [g.op("Reshape", [x, g.const([1, -1, n, HD], "shape", np.int64)])], perm=[0, 2, 1, 3])

    outputs = []
    neg_inf = g.const(-np.inf, "neg_inf")
    x = g.op("GatherBlockQuantized", [emb, "input_ids", emb_scale], "embed", domain=MS, gather_axis=0,
             quantize_axis=2, block_size=32, bits=8)
    x = g.op("Reshape", [x, g.const([1, -1, D], "shape", np.int64)])
    for i in range(L):
        p = f"blk.{i}."
        h = norm(x, p + "attn_norm.weight")
        q = rope(heads(matmul_4bit(h, p + "attn_q.weight"), H), H)
        k = rope(heads(matmul_4bit(h, p + "attn_k.weight"), KVH), KVH)
        v = heads(matmul_4bit(h, p + "attn_v.weight"), KVH)
        k_all = g.op("Concat", [f"past_key_{i}", k], outputs=[f"present_key_{i}"], axis=2)
        v_all = g.op("Concat", [f"past_value_{i}", v], outputs=[f"present_value_{i}"], axis=2)
        outputs += [helper.make_tensor_value_info(f"present_{kind}_{i}", TensorProto.FLOAT, [1, KVH, "S", HD])
                    for kind in ("key", "value")]
        s_len = g.op("Slice", [g.op("Shape", [k_all]), two, g.const([3], "i", np.int64)])
        expand_to = g.op("Concat", [g.const([1, KVH, H // KVH], "shape", np.int64), s_len, g.const([HD], "shape", np.int64)], axis=0)
        kx = g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [k_all, two]), expand_to]), g.const([1, H, -1, HD], "shape", np.int64)])
        vx = g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [v_all, two]), expand_to]), g.const([1, H, -1, HD], "shape", np.int64)])
        scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [kx], perm=[0, 1, 3, 2])]), g.const(1 / math.sqrt(HD), "scale")])
        kpos = g.op("Range", [g.const(0, "zero", np.int64), g.op("Squeeze", [s_len, zero]), g.const(1, "one", np.int64)])
        allowed = g.op("LessOrEqual", [g.op("Unsqueeze", [kpos, zero]), g.op("Unsqueeze", [pos, one])])
        att = g.op("Softmax", [g.op("Where", [allowed, scores, neg_inf])], axis=-1)
        y = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [att, vx])], perm=[0, 2, 1, 3]), g.const([1, -1, D], "shape", np.int64)])
        x = g.op("Add", [x, matmul_4bit(y, p + "attn_output.weight")])
        h = norm(x, p + "ffn_norm.weight")
        gate = matmul_4bit(h, p + "ffn_gate.weight")
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), matmul_4bit(h, p + "ffn_up.weight")])
        x = g.op("Add", [x, matmul_4bit(act, p + "ffn_down.weight")], "x")
    h = norm(x, "output_norm.weight")
    head_scale = g.op("Reshape", [emb_scale, g.const([-1], "shape", np.int64)])
    logits = g.op("MatMulNBits", [h, emb, head_scale], "logits", domain=MS, K=D, N=V, bits=8, block_size=32)
    outputs = scoring_outputs(g, logits, V) + outputs
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "T"]),
              helper.make_tensor_value_info("targets", TensorProto.INT64, [1, "T"])]
    inputs += [helper.make_tensor_value_info(f"past_{k}_{i}", TensorProto.FLOAT, [1, KVH, "P", HD])
               for i in range(L) for k in ("key", "value")]
    graph = helper.make_graph(g.nodes, "smollm2", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(MS, 1)],
                              producer_name="four-golfers")
    model.ir_version = 10
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("gguf", type=Path)
    p.add_argument("out", type=Path)
    a = p.parse_args()
    save(build(a.gguf), a.out)
    print(f"wrote {a.out}")


def save(model: onnx.ModelProto, out: Path) -> None:
    # One self-contained file (~99 MB, far below protobuf's 2 GB limit): the browser and the native runtime
    # both load it from memory, with no external-data file to find.
    out.write_bytes(model.SerializeToString())


if __name__ == "__main__":
    main()
