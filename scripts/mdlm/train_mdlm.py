"""Train the diffusion golfer: a masked diffusion LM (MDLM) of the Parameter Golf family, on CPU or one CUDA GPU.

The model is the AR golfer's (scripts/ar/train_gpt.py: same blocks, RMS norms, relu^2 MLP, GQA, q/k norm and gain,
U-Net skips, softcap 30) with **bidirectional** attention, an embedding of VOCAB_SIZE + 1 rows (the last row is
[MASK]) and a tied head that excludes the MASK row. No timestep conditioning: the model sees only which positions
are masked.

Objective (absorbing-state masking): draw t in [T_EPS, 1] per sequence (low-discrepancy: one uniform offset per batch,
spread evenly over the batch), mask each position with probability t, and minimise
min(1/t, WEIGHT_CLAMP) * (cross-entropy summed over the masked positions) / sequence length: the MDLM negative ELBO
per token (clamped at small t, where it is noisy). Position 0 of every window and every BOS token stay visible:
scoring gives the model the token before each window, as eval_val does for the AR golfer.
Optimizers as the AR golfer (Muon for block matrices, Adam for embedding and scalars); an EMA of the weights (fp32
shadow) is what gets exported.

Every setting comes from an environment variable (see MdlmSettings and the AR golfer's Settings). Defaults are CPU
sized; the Parameter Golf fp8 MDLM is NUM_LAYERS=8 MODEL_DIM=576 NUM_HEADS=8 NUM_KV_HEADS=4 MATRIX_LR=0.02
EMA_DECAY=0.999 TRAIN_SEQ_LEN=1024 on a GPU.

Usage: python scripts/ar/prepare_data.py (the shards are shared with the AR golfer); python scripts/mdlm/train_mdlm.py
Outputs in OUT_DIR: train.log (starting with this file's source), checkpoint.pt (RESUME=1), final_model.pt (the EMA
weights) and summary.json.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ar"))
from train_gpt import GPT, ROOT, Muon, Settings, autocast, byte_tables, env, load_shard, recorded, split_params  # noqa: E402


@dataclass
class MdlmSettings(Settings):
    out_dir: str = env("OUT_DIR", str(ROOT / ".cache" / "mdlm-run"))
    matrix_lr: float = env("MATRIX_LR", 0.04, float)
    t_eps: float = env("T_EPS", 1e-3, float)
    weight_clamp: float = env("WEIGHT_CLAMP", 10.0, float)
    ema_decay: float = env("EMA_DECAY", 0.995, float)
    # Held-out NELBO during training: K mask levels over this many windows.
    val_steps: int = env("VAL_STEPS", 16, int)
    val_windows: int = env("VAL_WINDOWS", 8, int)


def mask_id(s: Settings) -> int:
    return s.vocab_size


def make_model(s: Settings) -> GPT:
    return GPT(s, embed_rows=s.vocab_size + 1, causal=False)


def maskable(x: Tensor, bos_id: int) -> Tensor:
    """Positions that may be masked: not position 0 of a window, not a BOS."""
    m = x != bos_id
    m[:, 0] = False
    return m


def nelbo_loss(model: GPT, x: Tensor, t: Tensor, s: MdlmSettings, bos_id: int, generator=None) -> Tensor:
    """Mean over the batch of min(1/t, clamp) * sum over masked positions of -log p(x_i), per position."""
    can = maskable(x, bos_id)
    u = torch.rand(x.shape, generator=generator, device=x.device)
    masked = (u < t[:, None]) & can
    inp = torch.where(masked, torch.full_like(x, mask_id(s)), x)
    with autocast(x.device):
        logits = model.logits(inp)
    ce = F.cross_entropy(logits.reshape(-1, s.vocab_size), x.reshape(-1), reduction="none").view(x.shape)
    w = torch.clamp(1.0 / t, max=s.weight_clamp)
    return ((ce * masked).sum(1) * w).sum() / x.numel()


@torch.no_grad()
def held_out_nelbo(model: GPT, tokens: np.ndarray, s: MdlmSettings, tables, bos_id: int, device) -> float:
    """A quick held-out NELBO in bits per byte (K evenly spaced t, unclamped 1/t, fixed seed) on the first
    VAL_WINDOWS windows; the full estimators are in scripts/mdlm/estimators.py."""
    base, space, boundary = tables
    T = s.train_seq_len
    n = min(s.val_windows, (len(tokens) - 1) // (T - 1))
    windows = np.stack([tokens[i * (T - 1): i * (T - 1) + T] for i in range(n)]).astype(np.int64)
    x = torch.from_numpy(windows).to(device)
    g = torch.Generator(device=device).manual_seed(0)
    K, total = s.val_steps, 0.0
    clamp = s.weight_clamp
    s.weight_clamp = float("inf")
    model.eval()
    for k in range(K):
        t = torch.full((n,), s.t_eps + (1 - s.t_eps) * (k + 0.5) / K, device=device)
        total += nelbo_loss(model, x, t, s, bos_id, g).item() * x.numel() / K
    model.train()
    s.weight_clamp = clamp
    xp, yt = windows[:, :-1].reshape(-1), windows[:, 1:].reshape(-1)
    n_bytes = int((base[yt] + (space[yt] & ~boundary[xp])).sum())
    return total / math.log(2) / n_bytes


def main() -> None:
    s = MdlmSettings()
    out = Path(s.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train.log"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if s.threads:
        torch.set_num_threads(s.threads)

    def log(msg: str, console: bool = True) -> None:
        if console:
            print(msg, flush=True)
        with open(log_path, "a", encoding="utf-8") as f:
            print(msg, file=f)

    if not s.resume:
        log_path.write_text("")
    log(Path(__file__).read_text(encoding="utf-8"), console=False)
    log("=" * 100, console=False)
    hardware = torch.cuda.get_device_name(0) if device.type == "cuda" else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    log(f"python {sys.version.split()[0]} torch {torch.__version__} device {device} ({hardware})")
    log(f"settings {json.dumps(recorded(s))}")

    torch.manual_seed(s.seed)
    rng = np.random.default_rng(s.seed)
    sp = spm.SentencePieceProcessor(model_file=s.tokenizer)
    assert sp.vocab_size() == s.vocab_size, "VOCAB_SIZE does not match the tokenizer"
    bos_id = sp.bos_id()
    tables = byte_tables(sp, s.vocab_size)
    data = Path(s.data_dir)
    train = load_shard(data / "fineweb_train_000000.bin")
    val = load_shard(data / "val_first_docs.bin")
    log(f"train tokens {len(train)}; held-out tokens {len(val)}")

    model = make_model(s).to(device)
    ema = {k: v.detach().float().clone() for k, v in model.state_dict().items()}
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model params {n_params}")
    matrices, scalars = split_params(model)
    opt_embed = torch.optim.Adam([model.tok_emb.weight], lr=s.tied_embed_lr, betas=(s.beta1, s.beta2), eps=s.adam_eps)
    opt_muon = Muon(matrices, lr=s.matrix_lr, momentum=s.muon_momentum, backend_steps=s.muon_backend_steps)
    opt_scalar = torch.optim.Adam(scalars, lr=s.scalar_lr, betas=(s.beta1, s.beta2), eps=s.adam_eps)
    optimizers = [(opt_embed, s.tied_embed_lr), (opt_muon, s.matrix_lr), (opt_scalar, s.scalar_lr)]

    step, pos, elapsed, tokens_seen = 0, 0, 0.0, 0
    ckpt_path = out / "checkpoint.pt"
    if s.resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device)
        model.load_state_dict(ck["model"])
        ema = ck["ema"]
        for (opt, _), st in zip(optimizers, ck["optimizers"]):
            opt.load_state_dict(st)
        step, pos, elapsed, tokens_seen = ck["step"], ck["pos"], ck["elapsed"], ck["tokens_seen"]
        log(f"resumed at step {step} ({elapsed:.0f} s, {tokens_seen} tokens)")

    def save_checkpoint():
        torch.save({"model": model.state_dict(), "ema": ema, "optimizers": [o.state_dict() for o, _ in optimizers],
                    "step": step, "pos": pos, "elapsed": elapsed, "tokens_seen": tokens_seen}, ckpt_path)

    def lr_scale() -> float:
        left = s.max_wallclock_seconds - elapsed
        warmdown = s.warmdown_frac * s.max_wallclock_seconds
        return max(left, 0.0) / warmdown if left < warmdown else 1.0

    def ema_model() -> GPT:
        m = make_model(s).to(device)
        m.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in ema.items()})
        return m

    T = s.train_seq_len
    batch_seqs = s.train_batch_tokens // T
    span = batch_seqs * T
    last_ckpt = last_val = elapsed
    t_start = time.time() - elapsed
    model.train()
    while step < s.iterations and elapsed < s.max_wallclock_seconds:
        if pos + span > len(train):
            pos = 0
        x = torch.from_numpy(train[pos: pos + span].astype(np.int64)).view(batch_seqs, T).to(device)
        pos += span
        # Low-discrepancy t: one uniform offset, spread evenly over the batch.
        u = (rng.random() + np.arange(batch_seqs) / batch_seqs) % 1.0
        t = torch.from_numpy(s.t_eps + (1 - s.t_eps) * u).float().to(device)
        loss = nelbo_loss(model, x, t, s, bos_id)
        loss.backward()
        frac = min(step / max(s.muon_momentum_warmup_steps, 1), 1.0)
        for group in opt_muon.param_groups:
            group["momentum"] = (1 - frac) * s.muon_momentum_warmup_start + frac * s.muon_momentum
        scale = lr_scale()
        for opt, base_lr in optimizers:
            for group in opt.param_groups:
                group["lr"] = base_lr * scale
            opt.step()
            opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            d = min(s.ema_decay, (1 + step) / (10 + step))
            for k, v in model.state_dict().items():
                ema[k].mul_(d).add_(v.float(), alpha=1 - d)
        step += 1
        tokens_seen += x.numel()
        elapsed = time.time() - t_start
        if step % s.log_every == 0 or step <= 5:
            log(f"step {step} loss {loss.item():.4f} lr_scale {scale:.3f} tokens {tokens_seen} "
                f"epochs {tokens_seen / len(train):.3f} elapsed {elapsed:.0f}s ({tokens_seen / elapsed:.0f} tok/s)")
        if elapsed - last_val >= s.val_every_seconds:
            vb = held_out_nelbo(ema_model(), val, s, tables, bos_id, device)
            log(f"step {step} val_first_docs NELBO (K={s.val_steps}, {s.val_windows} windows, EMA) {vb:.4f} bpb")
            last_val = elapsed = time.time() - t_start
        if elapsed - last_ckpt >= s.checkpoint_every_seconds:
            save_checkpoint()
            last_ckpt = elapsed
    save_checkpoint()
    log(f"training done: {step} steps, {tokens_seen} tokens ({tokens_seen / len(train):.3f} epochs), {elapsed:.0f} s")
    final = ema_model()
    torch.save(final.state_dict(), out / "final_model.pt")
    vb = held_out_nelbo(final, val, s, tables, bos_id, device)
    log(f"val_first_docs NELBO (K={s.val_steps}, {s.val_windows} windows, EMA) {vb:.4f} bpb")
    summary = {"params": n_params, "steps": step, "tokens_seen": tokens_seen, "epochs": tokens_seen / len(train),
               "wall_clock_seconds": round(elapsed, 1), "hardware": hardware, "settings": recorded(s),
               "quick_val_nelbo_bpb": vb}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
