"""The diffusion golfer's three likelihood estimators in Python (PyTorch), per token, for the parity tests and for
the numbers in the manifest. The Rust estimators (crates/golf-onnx) follow the same definitions.

A text is BOS followed by its tokens (the stream). It is scored in windows of the training length T: window w covers
stream[w*(T-1) : w*(T-1) + T]; its position 0 (the token before it) is visible and positions 1.. are scored, so every
token is charged exactly once and the model always sees at least the token before the window. BOS tokens stay visible.

- NELBO with K steps: for k = 0..K-1, t_k = eps + (1 - eps) * (k + 0.5) / K; position i is masked when
  u(seed, w, k, i) < t_k; a masked token is charged (1/t_k) * -log2 p(x_i) / K. An upper bound on the code length
  (in expectation over the masks).
- Left-to-right chain rule: everything masked; reveal positions 1, 2, ... in order, charging -log2 p(x_i) when i is
  revealed. Exact for that order (one forward pass per token).
- Confidence-order chain rule: everything masked; at each step reveal the masked position whose most likely token
  has the highest probability (ties: leftmost), charging -log2 p(x_i) of its true token.

u(seed, w, k, i) is a hash, not a sequential generator, so Rust can reproduce any mask without replaying others:
splitmix64(seed ^ (w << 40) ^ (k << 20) ^ i) >> 11, times 2^-53.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1
LN2 = math.log(2.0)


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def uniform(seed: int, w: int, k: int, i: int) -> float:
    return (splitmix64(seed ^ (w << 40) ^ (k << 20) ^ i) >> 11) * 2.0 ** -53


def windows(stream: list[int], T: int) -> list[tuple[int, list[int]]]:
    """(offset, tokens) per window; the last one may be shorter."""
    out, w = [], 0
    while w * (T - 1) + 1 < len(stream):
        a = w * (T - 1)
        out.append((a, stream[a: a + T]))
        w += 1
    return out


def visible0(window: list[int], bos_id: int) -> list[bool]:
    return [i == 0 or tok == bos_id for i, tok in enumerate(window)]


def torch_forward(model, mask_id: int):
    """forward(ids, masked, targets) -> (log2 p(target) per position, the top probability per position), float64."""

    @torch.no_grad()
    def forward(ids: list[int], masked: list[bool], targets: list[int]):
        x = torch.tensor([[mask_id if m else t for t, m in zip(ids, masked)]])
        lp = F.log_softmax(model.logits(x)[0].double(), dim=-1) / LN2
        picked = lp[torch.arange(len(ids)), torch.tensor(targets)]
        return picked.numpy(), torch.exp2(lp.max(dim=-1).values).numpy()

    return forward


def onnx_forward(session, mask_id: int):
    """The same from the ONNX graph's outputs (logprob2, top_probs[..., 0]): what the Rust golfer reads."""

    def forward(ids: list[int], masked: list[bool], targets: list[int]):
        x = np.array([[mask_id if m else t for t, m in zip(ids, masked)]], dtype=np.int64)
        out = dict(zip(["logprob2", "top_probs"], session.run(["logprob2", "top_probs"], {"input_ids": x, "targets": np.array([targets])})))
        return out["logprob2"][0].astype(np.float64), out["top_probs"][0, :, 0].astype(np.float64)

    return forward


def nelbo(forward, stream: list[int], T: int, K: int, seed: int, bos_id: int, eps: float = 1e-3) -> np.ndarray:
    bits = np.zeros(len(stream) - 1)
    for w, (a, win) in enumerate(windows(stream, T)):
        fixed = visible0(win, bos_id)
        for k in range(K):
            t = eps + (1 - eps) * (k + 0.5) / K
            masked = [not f and uniform(seed, w, k, i) < t for i, f in enumerate(fixed)]
            if not any(masked):
                continue
            lp, _ = forward(win, masked, win)
            for i, m in enumerate(masked):
                if m:
                    bits[a + i - 1] += -float(lp[i]) / t / K
    return bits


def chain_rule(forward, stream: list[int], T: int, bos_id: int, order: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-token bits and the step (within its window) at which each token was revealed."""
    bits = np.zeros(len(stream) - 1)
    when = np.zeros(len(stream) - 1, dtype=np.int64)
    for a, win in windows(stream, T):
        fixed = visible0(win, bos_id)
        masked = [not f for f in fixed]
        for i, f in enumerate(fixed):
            if f and i > 0:
                when[a + i - 1] = -1  # a visible start-of-document token: charged nothing
        step = 0
        while any(masked):
            lp, conf = forward(win, masked, win)
            if order == "l2r":
                i = masked.index(True)
            else:
                i = max((j for j, m in enumerate(masked) if m), key=lambda j: (conf[j], -j))
            bits[a + i - 1] = -float(lp[i])
            when[a + i - 1] = step
            masked[i] = False
            step += 1
    return bits, when
