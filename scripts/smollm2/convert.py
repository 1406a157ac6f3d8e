"""Converts SmolLM2-135M-Instruct's Q4_1 GGUF into the golfer's ONNX graph, losslessly (scripts/smollm2/build.py
runs it at set-up).

- Q4_1 linear weights -> com.microsoft MatMulNBits (4 bits, block 32, default zero point 8) plus a block-sum
  correction: the GGUF's fp16 d and m are stored as they are; (q - 8)*d + (m + 8d) = q*d + m exactly up to float32
  rounding. Nibbles are repacked to ORT's order; q/k/v and gate/up are fused into one matmul each.
- The Q8_0 token embedding is one uint8 initializer (q + 128) shared by GatherBlockQuantized (the embedding) and
  the tied LM head (dequantized by constant nodes that ONNX Runtime folds at load).
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

    def linear(x: str, names: list[str]) -> str | list[str]:
        """x @ W.T for Q4_1 weights that share the input x, fused into one matmul (q/k/v; gate/up).
        Q4_1 is x = d*q + m per block of 32. MatMulNBits without zero points computes (q - 8)*d, for which ONNX
        Runtime has fast prepacked kernels (float zero points make it fall back, ~20x slower natively); the rest,
        (m + 8d) per block, is added as the input's block sums times a small float matrix. Same weights, exactly."""
        blocks = [q4_1_blocks(tensors[n]) for n in names]
        packed, d, m = (np.concatenate([b[i] for b in blocks]) for i in range(3))
        n, k = packed.shape[0], packed.shape[1] * 32
        hint = names[0].split(".")[-2] if len(names) == 1 else "+".join(nm.split(".")[-2] for nm in names)
        d32 = g.op("Cast", [g.const(d, hint + ".d", np.float16)], to=TensorProto.FLOAT)
        m32 = g.op("Cast", [g.const(m, hint + ".m", np.float16)], to=TensorProto.FLOAT)
        offset = g.op("Transpose", [g.op("Add", [m32, g.op("Mul", [d32, g.const(8.0, "eight")])])], perm=[1, 0])
        scale = g.op("Reshape", [d32, g.const([-1], "shape", np.int64)])
        b = g.const(packed, hint + ".q4", np.uint8)
        y = g.op("MatMulNBits", [x, b, scale], hint, domain=MS, K=k, N=n, bits=4, block_size=32)
        sums = g.op("ReduceSum", [g.op("Reshape", [x, g.const([1, -1, k // 32, 32], "shape", np.int64)]),
                                  g.const([-1], "axis", np.int64)], keepdims=0)
        y = g.op("Add", [y, g.op("MatMul", [sums, offset])])
        if len(names) == 1:
            return y
        sizes = [tensors[nm].data.shape[0] for nm in names]
        return g.op("Split", [y, g.const(sizes, "split", np.int64)], outputs=len(names), axis=-1)

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
        q, k, v = linear(h, [p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"])
        q, k, v = rope(heads(q, H), H), rope(heads(k, KVH), KVH), heads(v, KVH)
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
        x = g.op("Add", [x, linear(y, [p + "attn_output.weight"])])
        h = norm(x, p + "ffn_norm.weight")
        gate, up = linear(h, [p + "ffn_gate.weight", p + "ffn_up.weight"])
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        x = g.op("Add", [x, linear(act, [p + "ffn_down.weight"])], "x")
    h = norm(x, "output_norm.weight")
    # The tied head: the same Q8_0 codes, dequantized by constant nodes (d * (u - 128), exact in float32) that ONNX
    # Runtime folds into one float [D, V] matrix when it loads the model. An 8-bit MatMulNBits reads fewer bytes
    # but has no fast exact kernel (only accuracy_level 4, which quantizes the activations): 160 ms per decoded
    # token natively against 5 ms for the float matmul.
    codes = g.op("Sub", [g.op("Cast", [emb], to=TensorProto.FLOAT), g.const(128.0, "zero_point")])
    head = g.op("Reshape", [g.op("Mul", [codes, emb_scale]), g.const([V, D], "shape", np.int64)])
    logits = g.op("MatMul", [h, g.op("Transpose", [head], perm=[1, 0])], "logits")
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
