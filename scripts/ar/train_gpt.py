"""Train the autoregressive golfer: the Parameter Golf baseline architecture, on CPU or one CUDA GPU.

Architecture (module and state-dict names as the baseline's `train_gpt.py`, so its int8 artifacts load here):
token embedding -> RMS norm (kept as x0) -> blocks -> RMS norm -> tied head -> 30*tanh(logits/30).
Block: x = mix0*x + mix1*x0; x += attn_scale * attn(norm(x)); x += mlp_scale * mlp(norm(x)).
Attention: GQA, RMS-normed q and k, half-split RoPE, learned per-head q_gain. MLP: relu^2. The first half of the
blocks push skips that the second half adds back (weighted) in reverse order.
Optimizers: Muon (Newton-Schulz orthogonalised momentum) for block matrices, Adam for the tied embedding and for
vectors and scalars. Learning rates decay linearly to zero over the last WARMDOWN_FRAC of the wall-clock budget.

Every setting comes from an environment variable (see Settings). The defaults are a CPU-sized model; the baseline's
full size is NUM_LAYERS=9 MODEL_DIM=512 NUM_HEADS=8 NUM_KV_HEADS=4 TRAIN_SEQ_LEN=1024 TRAIN_BATCH_TOKENS=524288.

Usage: python scripts/ar/prepare_data.py; python scripts/ar/train_gpt.py
Outputs in OUT_DIR: train.log (starting with this file's source), checkpoint.pt (resumable with RESUME=1),
final_model.pt, final_model.int8.ptz (the baseline's export format) and summary.json.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[2]
# What a model folder's manifest says of its tokenizer; models/NOTICE.md has the provenance and license text.
TOKENIZER_SOURCE = ("The official Parameter Golf sp1024: SentencePiece BPE, vocab 1024, byte fallback; openai/parameter-golf "
                    "@ 38bc1c56 (MIT; see models/NOTICE.md)")


def env(name, default, kind=str):
    return kind(os.environ.get(name, default))


def recorded(settings) -> dict:
    """The settings as the log and the summary record them: paths relative to the repository, so no committed
    file names the folders of the machine that trained the model."""
    out = asdict(settings)
    for key in ("data_dir", "tokenizer", "out_dir"):
        if key in out and os.path.isabs(out[key]):
            out[key] = os.path.relpath(out[key], ROOT)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Settings
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Settings:
    data_dir: str = env("DATA_DIR", str(ROOT / ".cache" / "ar-data"))
    # The official Parameter Golf sp1024 (byte fallback on), committed with the importer.
    tokenizer: str = env("TOKENIZER_PATH", str(ROOT / "crates" / "golf-import" / "tokenizer" / "fineweb_1024_bpe.model"))
    out_dir: str = env("OUT_DIR", str(ROOT / ".cache" / "ar-run"))
    seed: int = env("SEED", 1337, int)
    resume: bool = env("RESUME", "0") == "1"
    # Model shape.
    vocab_size: int = env("VOCAB_SIZE", 1024, int)
    num_layers: int = env("NUM_LAYERS", 6, int)
    model_dim: int = env("MODEL_DIM", 256, int)
    num_heads: int = env("NUM_HEADS", 4, int)
    num_kv_heads: int = env("NUM_KV_HEADS", 2, int)
    mlp_mult: int = env("MLP_MULT", 2, int)
    rope_base: float = env("ROPE_BASE", 10000.0, float)
    logit_softcap: float = env("LOGIT_SOFTCAP", 30.0, float)
    qk_gain_init: float = env("QK_GAIN_INIT", 1.5, float)
    tied_embed_init_std: float = env("TIED_EMBED_INIT_STD", 0.005, float)
    # Training length and batch.
    train_seq_len: int = env("TRAIN_SEQ_LEN", 256, int)
    train_batch_tokens: int = env("TRAIN_BATCH_TOKENS", 8192, int)
    iterations: int = env("ITERATIONS", 1_000_000, int)
    max_wallclock_seconds: float = env("MAX_WALLCLOCK_SECONDS", 4800.0, float)
    warmdown_frac: float = env("WARMDOWN_FRAC", 0.3, float)
    # Optimizers.
    tied_embed_lr: float = env("TIED_EMBED_LR", 0.05, float)
    matrix_lr: float = env("MATRIX_LR", 0.04, float)
    scalar_lr: float = env("SCALAR_LR", 0.04, float)
    muon_momentum: float = env("MUON_MOMENTUM", 0.95, float)
    muon_momentum_warmup_start: float = env("MUON_MOMENTUM_WARMUP_START", 0.85, float)
    muon_momentum_warmup_steps: int = env("MUON_MOMENTUM_WARMUP_STEPS", 300, int)
    muon_backend_steps: int = env("MUON_BACKEND_STEPS", 5, int)
    beta1: float = env("BETA1", 0.9, float)
    beta2: float = env("BETA2", 0.95, float)
    adam_eps: float = env("ADAM_EPS", 1e-8, float)
    # Logging and evaluation.
    log_every: int = env("TRAIN_LOG_EVERY", 50, int)
    val_every_seconds: float = env("VAL_EVERY_SECONDS", 900.0, float)
    checkpoint_every_seconds: float = env("CHECKPOINT_EVERY_SECONDS", 600.0, float)
    # Cap on held-out tokens per evaluation (0 = all); quick runs (tests) need not read 200K tokens four times.
    eval_tokens: int = env("EVAL_TOKENS", 0, int)
    threads: int = env("THREADS", 0, int)
    # torch.compile the training step: about 1.16x more tokens/s on a 2-core CPU, after about a minute of compiling.
    compile: bool = env("COMPILE", "0") == "1"


CONTROL_TENSOR_PATTERNS = ("attn_scale", "mlp_scale", "resid_mix", "q_gain", "skip_weight")

# ----------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------


def rotate_half_split(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    half = x.size(-1) // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat((a * cos + b * sin, b * cos - a * sin), dim=-1)


class Rotary(nn.Module):
    def __init__(self, head_dim: int, base: float):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        freqs = torch.outer(positions.float(), self.inv_freq)
        return freqs.cos()[None, None], freqs.sin()[None, None]


class Linear(nn.Linear):
    """Weights stay fp32 for the optimizer; the matmul runs in the activation dtype (bf16 under autocast)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight.to(x.dtype))


class CausalSelfAttention(nn.Module):
    def __init__(self, s: Settings, causal: bool = True):
        super().__init__()
        self.num_heads, self.num_kv_heads = s.num_heads, s.num_kv_heads
        self.head_dim = s.model_dim // s.num_heads
        self.causal = causal
        kv_dim = s.num_kv_heads * self.head_dim
        self.c_q = Linear(s.model_dim, s.model_dim, bias=False)
        self.c_k = Linear(s.model_dim, kv_dim, bias=False)
        self.c_v = Linear(s.model_dim, kv_dim, bias=False)
        self.proj = Linear(s.model_dim, s.model_dim, bias=False)
        nn.init.zeros_(self.proj.weight)
        self.q_gain = nn.Parameter(torch.full((s.num_heads,), s.qk_gain_init))
        self.rotary = Rotary(self.head_dim, s.rope_base)

    def forward(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        q = self.c_q(x).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)
        k = self.c_k(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = self.c_v(x).view(b, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = F.rms_norm(q, (self.head_dim,)), F.rms_norm(k, (self.head_dim,))
        cos, sin = self.rotary(torch.arange(t, device=x.device))
        q = rotate_half_split(q, cos.to(q.dtype), sin.to(q.dtype))
        k = rotate_half_split(k, cos.to(k.dtype), sin.to(k.dtype))
        q = q * self.q_gain.to(q.dtype)[None, :, None, None]
        group = self.num_heads // self.num_kv_heads
        if group > 1:
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, s: Settings):
        super().__init__()
        self.fc = Linear(s.model_dim, s.mlp_mult * s.model_dim, bias=False)
        self.proj = Linear(s.mlp_mult * s.model_dim, s.model_dim, bias=False)
        nn.init.zeros_(self.proj.weight)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(torch.relu(self.fc(x)).square())


class Block(nn.Module):
    def __init__(self, s: Settings, causal: bool = True):
        super().__init__()
        self.attn = CausalSelfAttention(s, causal)
        self.mlp = MLP(s)
        self.attn_scale = nn.Parameter(torch.ones(s.model_dim))
        self.mlp_scale = nn.Parameter(torch.ones(s.model_dim))
        self.resid_mix = nn.Parameter(torch.stack((torch.ones(s.model_dim), torch.zeros(s.model_dim))))

    def forward(self, x: Tensor, x0: Tensor) -> Tensor:
        mix = self.resid_mix.to(x.dtype)
        x = mix[0] * x + mix[1] * x0
        x = x + self.attn_scale.to(x.dtype) * self.attn(F.rms_norm(x, (x.size(-1),)))
        return x + self.mlp_scale.to(x.dtype) * self.mlp(F.rms_norm(x, (x.size(-1),)))


class GPT(nn.Module):
    def __init__(self, s: Settings, embed_rows: int | None = None, causal: bool = True):
        super().__init__()
        self.vocab_size = s.vocab_size
        self.softcap = s.logit_softcap
        self.tok_emb = nn.Embedding(embed_rows or s.vocab_size, s.model_dim)
        nn.init.normal_(self.tok_emb.weight, std=s.tied_embed_init_std)
        self.num_encoder = s.num_layers // 2
        self.num_decoder = s.num_layers - self.num_encoder
        self.skip_weights = nn.Parameter(torch.ones(min(self.num_encoder, self.num_decoder), s.model_dim))
        self.blocks = nn.ModuleList(Block(s, causal) for _ in range(s.num_layers))

    def hidden(self, ids: Tensor) -> Tensor:
        x = F.rms_norm(self.tok_emb(ids), (self.tok_emb.embedding_dim,))
        x0, skips = x, []
        for i in range(self.num_encoder):
            x = self.blocks[i](x, x0)
            skips.append(x)
        for i in range(self.num_decoder):
            if skips:
                x = x + self.skip_weights[i].to(x.dtype) * skips.pop()
            x = self.blocks[self.num_encoder + i](x, x0)
        return F.rms_norm(x, (x.size(-1),))

    def logits(self, ids: Tensor) -> Tensor:
        # The tied head covers the vocabulary only (a diffusion model's extra MASK row is never predicted).
        raw = F.linear(self.hidden(ids), self.tok_emb.weight[: self.vocab_size])
        return self.softcap * torch.tanh(raw.float() / self.softcap)

    def forward(self, ids: Tensor, targets: Tensor) -> Tensor:
        return F.cross_entropy(self.logits(ids).reshape(-1, self.vocab_size), targets.reshape(-1))


# ----------------------------------------------------------------------------------------------------------------
# Muon
# ----------------------------------------------------------------------------------------------------------------


def newton_schulz_orthogonalize(g: Tensor, steps: int) -> Tensor:
    """Approximately maps g to the nearest semi-orthogonal matrix (the quintic iteration of Muon)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.to(torch.bfloat16 if g.is_cuda else torch.float32)
    x = x / (x.norm() + 1e-7)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return (x.T if tall else x).to(g.dtype)


class Muon(torch.optim.Optimizer):
    def __init__(self, params, lr: float, momentum: float, backend_steps: int):
        super().__init__(params, dict(lr=lr, momentum=momentum, backend_steps=backend_steps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p.grad))
                buf.mul_(group["momentum"]).add_(p.grad)
                g = p.grad.add(buf, alpha=group["momentum"])  # Nesterov
                g = newton_schulz_orthogonalize(g, group["backend_steps"])
                g = g * max(1.0, g.size(0) / g.size(1)) ** 0.5
                p.add_(g, alpha=-group["lr"])


# ----------------------------------------------------------------------------------------------------------------
# Data and the val_bpb byte count
# ----------------------------------------------------------------------------------------------------------------


def load_shard(path: Path) -> np.ndarray:
    header = np.fromfile(path, dtype="<i4", count=256)
    if header[0] != 20240520 or header[1] != 1:
        raise ValueError(f"{path} is not a Parameter Golf shard")
    tokens = np.fromfile(path, dtype="<u2", offset=1024)
    if len(tokens) != header[2]:
        raise ValueError(f"{path}: header says {header[2]} tokens, file has {len(tokens)}")
    return tokens


def byte_tables(sp: spm.SentencePieceProcessor, vocab: int):
    """eval_val's byte count: a piece's UTF-8 length without its leading '▁', plus 1 for that '▁' unless the
    previous token is a boundary (control, unknown or unused) token."""
    base = np.zeros(vocab, dtype=np.int64)
    space = np.zeros(vocab, dtype=bool)
    boundary = np.ones(vocab, dtype=bool)
    for i in range(sp.vocab_size()):
        if sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i):
            continue
        boundary[i] = False
        if sp.is_byte(i):
            base[i] = 1
            continue
        piece = sp.id_to_piece(i)
        if piece.startswith("▁"):
            space[i] = True
            piece = piece[1:]
        base[i] = len(piece.encode("utf-8"))
    return base, space, boundary


@torch.no_grad()
def eval_bpb(model: GPT, tokens: np.ndarray, seq_len: int, tables, device, batch_seqs: int = 16):
    """val_loss and val_bpb exactly as eval_val defines them: non-overlapping windows of seq_len tokens."""
    base, space, boundary = tables
    n_seq = (len(tokens) - 1) // seq_len
    if n_seq == 0:
        seq_len, n_seq = len(tokens) - 1, 1
    loss_sum, n_tok, n_bytes = 0.0, 0, 0
    model.eval()
    for s0 in range(0, n_seq, batch_seqs):
        s1 = min(s0 + batch_seqs, n_seq)
        chunk = torch.from_numpy(tokens[s0 * seq_len : s1 * seq_len + 1].astype(np.int64))
        x, y = chunk[:-1].view(-1, seq_len).to(device), chunk[1:].view(-1, seq_len).to(device)
        with autocast(device):
            logits = model.logits(x)
        loss_sum += F.cross_entropy(logits.reshape(-1, model.vocab_size).double(), y.reshape(-1), reduction="sum").item()
        n_tok += y.numel()
        xp, yt = x.reshape(-1).cpu().numpy(), y.reshape(-1).cpu().numpy()
        n_bytes += int((base[yt] + (space[yt] & ~boundary[xp])).sum())
    model.train()
    val_loss = loss_sum / n_tok
    return val_loss, val_loss / math.log(2) * n_tok / n_bytes


def autocast(device):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)


# ----------------------------------------------------------------------------------------------------------------
# The baseline's int8 export format
# ----------------------------------------------------------------------------------------------------------------

KEEP_FLOAT_MAX_NUMEL = 65_536
CLIP_Q = 99.99984 / 100.0


def quantize_int8(state: dict[str, Tensor]) -> dict:
    """Per-row int8 (fp16 scales, rows clipped at the 99.99984th percentile) for 2-D float tensors; per-tensor int8
    for other large float tensors; fp16 passthrough for small ones (fp32 for control tensors)."""
    quantized, scales, dtypes, passthrough, orig, qmeta = {}, {}, {}, {}, {}, {}
    for name, t in state.items():
        t = t.detach().cpu().contiguous()
        if not t.is_floating_point():
            passthrough[name] = t
        elif t.numel() <= KEEP_FLOAT_MAX_NUMEL:
            if any(p in name for p in CONTROL_TENSOR_PATTERNS):
                passthrough[name] = t.float().contiguous()
            else:
                orig[name] = str(t.dtype).removeprefix("torch.")
                passthrough[name] = t.to(torch.float16).contiguous()
        else:
            t32 = t.float()
            if t32.ndim == 2:
                clip = torch.quantile(t32.abs(), CLIP_Q, dim=1)
                scale = (clip / 127.0).clamp_min(1.0 / 127.0)
                q = torch.clamp(torch.round(t32.clamp(-clip[:, None], clip[:, None]) / scale[:, None]), -127, 127)
                scales[name] = scale.to(torch.float16).contiguous()
                qmeta[name] = {"scheme": "per_row", "axis": 0}
            else:
                clip = float(torch.quantile(t32.abs().flatten(), CLIP_Q))
                scale = torch.tensor(clip / 127.0 if clip > 0 else 1.0)
                q = torch.clamp(torch.round(t32.clamp(-clip, clip) / scale), -127, 127)
                scales[name] = scale
            quantized[name] = q.to(torch.int8).contiguous()
            dtypes[name] = str(t.dtype).removeprefix("torch.")
    obj = {"__quant_format__": "int8_clean_per_row_v1", "quantized": quantized, "scales": scales, "dtypes": dtypes,
           "passthrough": passthrough}
    if qmeta:
        obj["qmeta"] = qmeta
    if orig:
        obj["passthrough_orig_dtypes"] = orig
    return obj


def dequantize_int8(obj: dict) -> dict[str, Tensor]:
    out = {}
    for name, q in obj["quantized"].items():
        s = obj["scales"][name]
        dtype = getattr(torch, obj["dtypes"][name])
        if s.ndim > 0:
            out[name] = (q.float() * s.float().view(q.shape[0], *([1] * (q.ndim - 1)))).to(dtype)
        else:
            out[name] = (q.float() * float(s)).to(dtype)
    for name, t in obj["passthrough"].items():
        o = obj.get("passthrough_orig_dtypes", {}).get(name)
        out[name] = t.to(getattr(torch, o)) if o else t
    return out


def save_ptz(state: dict[str, Tensor], path: Path) -> int:
    buf = io.BytesIO()
    torch.save(quantize_int8(state), buf)
    blob = zlib.compress(buf.getvalue(), level=9)
    path.write_bytes(blob)
    return len(blob)


def load_ptz(path: Path) -> dict[str, Tensor]:
    return dequantize_int8(torch.load(io.BytesIO(zlib.decompress(path.read_bytes())), map_location="cpu"))


# ----------------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------------


def split_params(model: GPT):
    matrices, scalars = [], [model.skip_weights]
    for name, p in model.blocks.named_parameters():
        (matrices if p.ndim == 2 and not any(c in name for c in CONTROL_TENSOR_PATTERNS) else scalars).append(p)
    return matrices, scalars


def main() -> None:
    s = Settings()
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
    np.random.seed(s.seed)
    sp = spm.SentencePieceProcessor(model_file=s.tokenizer)
    assert sp.vocab_size() == s.vocab_size, "VOCAB_SIZE does not match the tokenizer"
    tables = byte_tables(sp, s.vocab_size)
    data = Path(s.data_dir)
    train = load_shard(data / "fineweb_train_000000.bin")
    held_out = {"val_first_docs": load_shard(data / "val_first_docs.bin"), "val_edu": load_shard(data / "val_edu.bin")}
    if s.eval_tokens:
        held_out = {k: v[: s.eval_tokens + 1] for k, v in held_out.items()}
    log(f"train tokens {len(train)}; held-out tokens " + ", ".join(f"{k} {len(v)}" for k, v in held_out.items()))

    model = GPT(s).to(device)
    # Only the training step is compiled; evaluation and export use the plain module (and its plain state-dict names).
    train_step_model = torch.compile(model) if s.compile else model
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
        for (opt, _), st in zip(optimizers, ck["optimizers"]):
            opt.load_state_dict(st)
        step, pos, elapsed, tokens_seen = ck["step"], ck["pos"], ck["elapsed"], ck["tokens_seen"]
        log(f"resumed at step {step} ({elapsed:.0f} s, {tokens_seen} tokens)")

    def save_checkpoint():
        torch.save({"model": model.state_dict(), "optimizers": [o.state_dict() for o, _ in optimizers], "step": step,
                    "pos": pos, "elapsed": elapsed, "tokens_seen": tokens_seen}, ckpt_path)

    def lr_scale() -> float:
        left = s.max_wallclock_seconds - elapsed
        warmdown = s.warmdown_frac * s.max_wallclock_seconds
        return max(left, 0.0) / warmdown if left < warmdown else 1.0

    batch_seqs = s.train_batch_tokens // s.train_seq_len
    span = batch_seqs * s.train_seq_len + 1
    last_ckpt = last_val = elapsed
    t_start = time.time() - elapsed
    model.train()
    while step < s.iterations and elapsed < s.max_wallclock_seconds:
        if pos + span > len(train):
            pos = 0  # next epoch: stream the corpus again from the start
        chunk = torch.from_numpy(train[pos : pos + span].astype(np.int64))
        pos += span - 1
        x = chunk[:-1].view(batch_seqs, s.train_seq_len).to(device)
        y = chunk[1:].view(batch_seqs, s.train_seq_len).to(device)
        with autocast(device):
            loss = train_step_model(x, y)
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
        step += 1
        tokens_seen += x.numel()
        elapsed = time.time() - t_start
        if step % s.log_every == 0 or step <= 5:
            log(f"step {step} loss {loss.item():.4f} lr_scale {scale:.3f} tokens {tokens_seen} "
                f"epochs {tokens_seen / len(train):.3f} elapsed {elapsed:.0f}s ({tokens_seen / elapsed:.0f} tok/s)")
        if elapsed - last_val >= s.val_every_seconds:
            vl, vb = eval_bpb(model, held_out["val_first_docs"], s.train_seq_len, tables, device)
            log(f"step {step} val_first_docs val_loss {vl:.4f} val_bpb {vb:.4f}")
            last_val = elapsed = time.time() - t_start
        if elapsed - last_ckpt >= s.checkpoint_every_seconds:
            save_checkpoint()
            last_ckpt = elapsed
    save_checkpoint()
    log(f"training done: {step} steps, {tokens_seen} tokens ({tokens_seen / len(train):.3f} epochs), {elapsed:.0f} s")

    results = {}
    for name, toks in held_out.items():
        results[name] = dict(zip(("val_loss", "val_bpb"), eval_bpb(model, toks, s.train_seq_len, tables, device)))
    torch.save(model.state_dict(), out / "final_model.pt")
    ptz_bytes = save_ptz(model.state_dict(), out / "final_model.int8.ptz")
    model.load_state_dict(load_ptz(out / "final_model.int8.ptz"))
    for name, toks in held_out.items():
        vl, vb = eval_bpb(model, toks, s.train_seq_len, tables, device)
        results[name].update(roundtrip_val_loss=vl, roundtrip_val_bpb=vb)
        log(f"{name}: val_bpb {results[name]['val_bpb']:.4f}, after the int8+zlib round trip {vb:.4f}")
    summary = {
        "params": n_params, "int8_ptz_bytes": ptz_bytes, "steps": step, "tokens_seen": tokens_seen,
        "epochs": tokens_seen / len(train), "wall_clock_seconds": round(elapsed, 1), "hardware": hardware,
        "settings": recorded(s), "results": results,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    log(f"final_model.int8.ptz: {ptz_bytes} bytes")


if __name__ == "__main__":
    main()
