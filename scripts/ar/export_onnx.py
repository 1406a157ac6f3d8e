"""The Python form of the golfers' ONNX graph, kept as a reference: `golf import` (crates/golf-import, Rust, also
on the page) is what builds the graphs now, and tests/python/test_import.py checks that the two score alike. Its
`Graph` and `scoring_outputs` also serve SmolLM2's converter. It converts a Parameter Golf baseline artifact
(`final_model.int8.ptz`) into the AR golfer's graph.

The graph keeps the int8 weights and their fp16 per-row scales and dequantizes them itself (weights that were
bfloat16 before quantization are rounded to bfloat16 again, as PyTorch's dequantization does). It takes and returns
a KV cache and computes what the page needs inside the graph:

  inputs   input_ids int64 [1, T], targets int64 [1, T] (the token after each position; anything for the last),
           past_key_{i} / past_value_{i} float [1, kv_heads, P, head_dim]
  outputs  logprob2 [1, T] (log2 p(target)), rank int64 [1, T] (1 = the most likely token), top_ids int64 [1, T, 10], top_probs [1, T, 10], entropy [1, T] (bits),
           last_logits [1, vocab], present_key_{i} / present_value_{i}

Shapes (layers, width, heads, KV heads, MLP width, vocabulary) are read from the artifact, so any baseline-architecture
entry converts. RoPE base and logit softcap are the baseline's unless given.

Usage: python scripts/ar/export_onnx.py final_model.int8.ptz out.onnx [--rope-base 10000] [--softcap 30]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import zlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

try:
    import torch
except ModuleNotFoundError:
    # Reading artifacts and building the AR/MDLM graphs need PyTorch; the SmolLM2 converter uses only `Graph` and
    # `scoring_outputs`, and the page's set-up installs no PyTorch.
    torch = None

TOP_K = 10


def load_artifact(path: Path) -> dict:
    return torch.load(io.BytesIO(zlib.decompress(path.read_bytes())), map_location="cpu")


def shapes_of(obj: dict) -> dict:
    """The model's dimensions, from tensor shapes alone (a diffusion model's embedding has one extra row, [MASK])."""
    t = {**obj["quantized"], **obj["passthrough"], **obj.get("fp8", {})}
    names = list(t)
    layers = 1 + max(int(n.split(".")[1]) for n in names if n.startswith("blocks."))
    vocab, dim = t["tok_emb.weight"].shape
    vocab -= 1 if obj.get("mask_row") else 0
    heads = t["blocks.0.attn.q_gain"].numel()
    head_dim = dim // heads
    kv_heads = t["blocks.0.attn.c_k.weight"].shape[0] // head_dim
    hidden = t["blocks.0.mlp.fc.weight"].shape[0]
    return dict(layers=layers, vocab=vocab, dim=dim, heads=heads, kv_heads=kv_heads, head_dim=head_dim, hidden=hidden)


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, hint: str) -> str:
        self.n += 1
        return f"{hint}_{self.n}"

    def op(self, op: str, inputs: list[str], hint: str = "", outputs: int | list[str] = 1, **attrs):
        outs = outputs if isinstance(outputs, list) else [self.name(hint or op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.name("n_" + op), **attrs))
        return outs[0] if len(outs) == 1 else outs

    def const(self, value, hint: str = "c", dtype=np.float32) -> str:
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name


def scoring_outputs(g: Graph, logits: str, vocab: int) -> list:
    """What every autoregressive golfer's graph reports, computed in the graph from logits [1, T, vocab] and the
    `targets` input: logprob2, rank, top_ids, top_probs, entropy and last_logits. Returns their value infos."""
    two = g.const([2], "i", np.int64)
    logsm = g.op("LogSoftmax", [logits], axis=-1)
    picked = g.op("GatherElements", [logsm, g.op("Unsqueeze", ["targets", two])], axis=2)
    g.op("Mul", [g.op("Squeeze", [picked, two]), g.const(1.0 / math.log(2.0), "inv_ln2")], outputs=["logprob2"])
    # Rank of the target: 1 + how many tokens the model put strictly above it.
    above = g.op("Cast", [g.op("Greater", [logsm, picked])], to=TensorProto.INT64)
    g.op("Add", [g.op("ReduceSum", [above, g.const([-1], "axis", np.int64)], keepdims=0), g.const(1, "one", np.int64)], outputs=["rank"])
    probs = g.op("Exp", [logsm])
    g.op("TopK", [probs, g.const([TOP_K], "k", np.int64)], outputs=["top_probs", "top_ids"], axis=-1)
    plogp = g.op("ReduceSum", [g.op("Mul", [probs, logsm]), g.const([-1], "axis", np.int64)], keepdims=0)
    g.op("Mul", [plogp, g.const(-1.0 / math.log(2.0), "neg_inv_ln2")], outputs=["entropy"])
    g.op("Gather", [logits, g.const(-1, "last", np.int64)], outputs=["last_logits"], axis=1)
    return [
        helper.make_tensor_value_info("logprob2", TensorProto.FLOAT, [1, "T"]),
        helper.make_tensor_value_info("rank", TensorProto.INT64, [1, "T"]),
        helper.make_tensor_value_info("top_ids", TensorProto.INT64, [1, "T", TOP_K]),
        helper.make_tensor_value_info("top_probs", TensorProto.FLOAT, [1, "T", TOP_K]),
        helper.make_tensor_value_info("entropy", TensorProto.FLOAT, [1, "T"]),
        helper.make_tensor_value_info("last_logits", TensorProto.FLOAT, [1, vocab]),
    ]


# float8_e4m3fn: every code's float32 value, as PyTorch converts it (codes 0x7F and 0xFF are NaN).
FP8_E4M3_TABLE = torch.arange(256, dtype=torch.uint8).view(torch.float8_e4m3fn).float().numpy() if torch else None


def build(obj: dict, rope_base: float, softcap: float, causal: bool = True) -> tuple[onnx.ModelProto, dict]:
    """The graph for an artifact: int8 (the baseline's format) and/or fp8 e4m3 tensors (`obj["fp8"]`: uint8 codes).
    causal=False builds the diffusion golfer's graph: bidirectional attention, no KV cache, the head without the
    [MASK] row, and the full `logits` [1, T, vocab] as an extra output."""
    sh = shapes_of(obj)
    g = Graph()
    quantized, scales, dtypes = obj["quantized"], obj["scales"], obj["dtypes"]
    passthrough, orig = obj["passthrough"], obj.get("passthrough_orig_dtypes", {})
    fp8 = obj.get("fp8", {})
    fp8_table = g.const(FP8_E4M3_TABLE, "fp8_e4m3_table") if fp8 else None

    def weight(name: str) -> str:
        """A float32 tensor as PyTorch's dequantization yields it, computed in the graph for int8 tensors and by
        table lookup for fp8 codes (exact; ONNX Runtime folds both at load)."""
        if name in fp8:
            codes = g.op("Cast", [g.const(fp8[name].numpy(), name + ".fp8", np.uint8)], to=TensorProto.INT32)
            return g.op("Gather", [fp8_table, codes], name + ".f32", axis=0)
        if name in quantized:
            q = g.const(quantized[name].numpy(), name + ".q", np.int8)
            qf = g.op("Cast", [q], to=TensorProto.FLOAT)
            s = scales[name]
            if s.ndim > 0:
                sv = g.const(s.numpy().reshape(-1, *([1] * (quantized[name].ndim - 1))), name + ".scale", np.float16)
                w = g.op("Mul", [qf, g.op("Cast", [sv], to=TensorProto.FLOAT)], name + ".dq")
            else:
                w = g.op("Mul", [qf, g.const(float(s), name + ".scale")], name + ".dq")
            if dtypes[name] == "bfloat16":
                w = g.op("Cast", [g.op("Cast", [w], to=TensorProto.BFLOAT16)], to=TensorProto.FLOAT)
            elif dtypes[name] == "float16":
                w = g.op("Cast", [g.op("Cast", [w], to=TensorProto.FLOAT16)], to=TensorProto.FLOAT)
            return w
        t = passthrough[name]
        if t.dtype == torch.float16:
            # Stored as fp16 (half the bytes); widened in the graph, through the original dtype if it was bf16.
            w = g.op("Cast", [g.const(t.numpy(), name, np.float16)], to=TensorProto.FLOAT)
            if orig.get(name) == "bfloat16":
                w = g.op("Cast", [g.op("Cast", [w], to=TensorProto.BFLOAT16)], to=TensorProto.FLOAT)
            return w
        return g.const(t.float().numpy(), name)

    def linear(x: str, name: str) -> str:
        return g.op("MatMul", [x, g.op("Transpose", [weight(name)], perm=[1, 0])], name.split(".")[-2])

    eps = g.const(np.finfo(np.float32).eps, "eps")

    def rms(x: str) -> str:
        ms = g.op("ReduceMean", [g.op("Mul", [x, x]), g.const([-1], "axis", np.int64)], keepdims=1)
        return g.op("Div", [x, g.op("Sqrt", [g.op("Add", [ms, eps])])], "rms")

    def shape_const(vals) -> str:
        return g.const(vals, "shape", np.int64)

    L, V, D, H, KVH, HD = (sh[k] for k in ("layers", "vocab", "dim", "heads", "kv_heads", "head_dim"))
    G = H // KVH
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "T"]),
        helper.make_tensor_value_info("targets", TensorProto.INT64, [1, "T"]),
    ]
    outputs = []
    for i in range(L if causal else 0):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_{kind}_{i}", TensorProto.FLOAT, [1, KVH, "P", HD]))

    # Positions P .. P+T-1 (0 .. T-1 without a cache) and their rotary angles.
    zero, one, two = (g.const([v], "i", np.int64) for v in (0, 1, 2))
    if causal:
        past_len = g.op("Slice", [g.op("Shape", ["past_key_0"]), two, g.const([3], "i", np.int64)], "P")
        seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), one, two], "T")
        p0 = g.op("Squeeze", [past_len, zero])
    else:
        seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), one, two], "T")
        p0 = g.const(0, "zero", np.int64)
    t0 = g.op("Squeeze", [seq_len, zero])
    pos = g.op("Range", [p0, g.op("Add", [p0, t0]), g.const(1, "one", np.int64)], "pos")
    posf = g.op("Cast", [pos], to=TensorProto.FLOAT)
    inv_freq = (1.0 / (rope_base ** (torch.arange(0, HD, 2, dtype=torch.float32) / HD))).numpy()
    freqs = g.op("Mul", [g.op("Unsqueeze", [posf, one]), g.const(inv_freq[None, :], "inv_freq")])
    cos = g.op("Reshape", [g.op("Cos", [freqs]), shape_const([1, 1, -1, HD // 2])], "cos")
    sin = g.op("Reshape", [g.op("Sin", [freqs]), shape_const([1, 1, -1, HD // 2])], "sin")

    def rope(x: str) -> str:
        a, b = g.op("Split", [x, g.const([HD // 2, HD // 2], "split", np.int64)], outputs=2, axis=-1)
        first = g.op("Add", [g.op("Mul", [a, cos]), g.op("Mul", [b, sin])])
        second = g.op("Sub", [g.op("Mul", [b, cos]), g.op("Mul", [a, sin])])
        return g.op("Concat", [first, second], "rope", axis=-1)

    def heads(x: str, n: int) -> str:
        return g.op("Transpose", [g.op("Reshape", [x, shape_const([1, -1, n, HD])])], perm=[0, 2, 1, 3])

    # Causal mask over the whole cache: query at absolute position p sees keys 0..=p.
    neg_inf = g.const(-np.inf, "neg_inf") if causal else ""
    scale = g.const(1.0 / math.sqrt(HD), "attn_scale")

    def attention(x: str, i: int) -> str:
        p = f"blocks.{i}.attn."
        q = rope(rms(heads(linear(x, p + "c_q.weight"), H)))
        k = rope(rms(heads(linear(x, p + "c_k.weight"), KVH)))
        v = heads(linear(x, p + "c_v.weight"), KVH)
        gain = passthrough[p + "q_gain"].float().numpy().reshape(1, H, 1, 1)
        q = g.op("Mul", [q, g.const(gain, p + "q_gain")])
        if causal:
            k_all = g.op("Concat", [f"past_key_{i}", k], outputs=[f"present_key_{i}"], axis=2)
            v_all = g.op("Concat", [f"past_value_{i}", v], outputs=[f"present_value_{i}"], axis=2)
            outputs.extend(
                helper.make_tensor_value_info(f"present_{kind}_{i}", TensorProto.FLOAT, [1, KVH, "S", HD]) for kind in ("key", "value")
            )
        else:
            k_all, v_all = k, v
        if G > 1:  # each KV head serves G consecutive query heads
            s_len = g.op("Slice", [g.op("Shape", [k_all]), two, g.const([3], "i", np.int64)])
            expand_to = g.op("Concat", [shape_const([1, KVH, G]), s_len, shape_const([HD])], axis=0)
            k_all = g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [k_all, two]), expand_to]), shape_const([1, H, -1, HD])])
            v_all = g.op("Reshape", [g.op("Expand", [g.op("Unsqueeze", [v_all, two]), expand_to]), shape_const([1, H, -1, HD])])
        scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k_all], perm=[0, 1, 3, 2])]), scale])
        if causal:
            total = g.op("Squeeze", [g.op("Slice", [g.op("Shape", [k_all]), two, g.const([3], "i", np.int64)]), zero])
            kpos = g.op("Range", [g.const(0, "zero", np.int64), total, g.const(1, "one", np.int64)])
            allowed = g.op("LessOrEqual", [g.op("Unsqueeze", [kpos, zero]), g.op("Unsqueeze", [pos, one])])
            scores = g.op("Where", [allowed, scores, neg_inf])
        probs = g.op("Softmax", [scores], axis=-1)
        y = g.op("Transpose", [g.op("MatMul", [probs, v_all])], perm=[0, 2, 1, 3])
        return linear(g.op("Reshape", [y, shape_const([1, -1, D])]), p + "proj.weight")

    def block(x: str, x0: str, i: int) -> str:
        p = f"blocks.{i}."
        mix = passthrough[p + "resid_mix"].float().numpy()
        x = g.op("Add", [g.op("Mul", [x, g.const(mix[0], p + "mix0")]), g.op("Mul", [x0, g.const(mix[1], p + "mix1")])])
        a = attention(rms(x), i)
        x = g.op("Add", [x, g.op("Mul", [a, weight(p + "attn_scale")])])
        h = g.op("Relu", [linear(rms(x), p + "mlp.fc.weight")])
        m = linear(g.op("Mul", [h, h]), p + "mlp.proj.weight")
        return g.op("Add", [x, g.op("Mul", [m, weight(p + "mlp_scale")])], "x")

    emb = weight("tok_emb.weight")
    x = x0 = rms(g.op("Gather", [emb, "input_ids"], axis=0))
    n_enc = L // 2
    skips = []
    skip_w = passthrough["skip_weights"].float().numpy() if "skip_weights" in passthrough else np.zeros((0, D), np.float32)
    for i in range(n_enc):
        x = block(x, x0, i)
        skips.append(x)
    for j in range(L - n_enc):
        if skips:
            x = g.op("Add", [x, g.op("Mul", [skips.pop(), g.const(skip_w[j], f"skip_weights.{j}")])])
        x = block(x, x0, n_enc + j)
    head = emb
    if obj.get("mask_row"):  # the tied head predicts the vocabulary only, never [MASK]
        head = g.op("Slice", [emb, zero, g.const([V], "i", np.int64)], "head")
    raw = g.op("MatMul", [rms(x), g.op("Transpose", [head], perm=[1, 0])], "raw_logits")
    cap = g.const(softcap, "softcap")
    logits = g.op("Mul", [g.op("Tanh", [g.op("Div", [raw, cap])]), cap], "logits" if causal else None,
                  outputs=1 if causal else ["logits"])
    outputs = scoring_outputs(g, logits, V) + outputs
    if not causal:
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "T", V]))
    graph = helper.make_graph(g.nodes, "ar_golfer" if causal else "mdlm_golfer", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="four-golfers")
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model, {**sh, "rope_base": rope_base, "logit_softcap": softcap}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("artifact", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--rope-base", type=float, default=10000.0)
    p.add_argument("--softcap", type=float, default=30.0)
    a = p.parse_args()
    model, info = build(load_artifact(a.artifact), a.rope_base, a.softcap)
    onnx.save(model, a.out)
    print(json.dumps({**info, "onnx_bytes": a.out.stat().st_size}))


if __name__ == "__main__":
    main()
