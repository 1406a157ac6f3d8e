"""Writes the fuzz targets' small seed corpora into fuzz/seeds/<target>/ (committed; `cargo fuzz` grows its own
corpus from them in fuzz/corpus/, which is not). Run with the test environment's Python (.venv: torch,
sentencepiece): `.venv/bin/python fuzz/seeds.py`.

- import: tiny artifacts in the baseline's own format, made by the Naive Baseline record's own code (its GPT,
  `quantize_state_dict_int8`, torch.save, zlib), run from ../shared/records, never copied; each seed is the
  target's mode byte and the bytes it wraps (0: the .ptz as is; 1: the torch.save zip, which the target zlib-wraps;
  2: the same for xz), so the fuzzer mutates the zip and the pickle directly.
- sentencepiece_model: the official sp1024 model cut to its first pieces, with its normalizer flags varied.
- share_link, inflate, gzip, sentencepiece_text: short texts from samples/ and what zlib makes of them.
- manifest: the committed model folders' golfer.json.
"""

import base64
import importlib.util
import io
import os
import random
import shutil
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("GOLF_SHARED", ROOT.parent / "shared"))
OUT = HERE / "seeds"


def write(target: str, name: str, data: bytes) -> None:
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def texts() -> list[bytes]:
    out = []
    for name in ["fineweb-val-first-docs.txt", "fineweb-edu-excerpt.txt", "enwik8-excerpt.txt"]:
        t = (ROOT / "samples" / name).read_bytes()
        out += [t[:300], t[1000:3000]]
    out += ["emoji 😀🎉 日本語 한국어 Привет a\u0301 \t\r\n  spaces   ".encode(), bytes(range(256)), b"a" * 500]
    return out


def raw_deflate(data: bytes, level: int = 9) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8)
    return c.compress(data) + c.flush()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def import_seeds() -> None:
    import torch

    spec = importlib.util.spec_from_file_location("baseline", SHARED / "records/2026-03-17_NaiveBaseline/train_gpt.py")
    base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(base)
    # Small enough to mutate quickly; tensors over 256 values go through the int8 path, the rest pass through as
    # fp16, so a seed has both kinds.
    base.INT8_KEEP_FLOAT_MAX_NUMEL = 256
    for i, (layers, dim, heads, kv, tied) in enumerate([(1, 8, 2, 1, True), (2, 8, 2, 2, False)]):
        torch.manual_seed(i)
        model = base.GPT(vocab_size=1024, num_layers=layers, model_dim=dim, num_heads=heads, num_kv_heads=kv,
                         mlp_mult=2, tie_embeddings=tied, tied_embed_init_std=0.005, logit_softcap=30.0,
                         rope_base=10000.0, qk_gain_init=1.5)
        quant, _ = base.quantize_state_dict_int8(model.state_dict())
        buf = io.BytesIO()
        torch.save(quant, buf)
        raw = buf.getvalue()
        write("import", f"baseline-{layers}x{dim}-zip", b"\x01" + raw)
        write("import", f"baseline-{layers}x{dim}-ptz", b"\x00" + zlib.compress(raw, 9))
    write("import", "xz-wrapped-zip", b"\x02" + raw)


def sentencepiece_seeds() -> None:
    from sentencepiece import sentencepiece_model_pb2 as pb

    full = pb.ModelProto()
    full.ParseFromString((ROOT / "crates/golf-import/tokenizer/fineweb_1024_bpe.model").read_bytes())
    def no_charsmap(m):
        # The nmt_nfkc charsmap is 240 KB; one seed keeps it, the others fuzz the rest of the model quickly.
        m.normalizer_spec.name = "identity"
        m.normalizer_spec.precompiled_charsmap = b""

    def no_byte_fallback(m):
        no_charsmap(m)
        m.trainer_spec.byte_fallback = False
        kept = [p for p in m.pieces if p.type != pb.ModelProto.SentencePiece.BYTE]
        del m.pieces[:]
        m.pieces.extend(kept)

    for name, keep, tweaks in [
        ("sp1024-first-300-nfkc", 300, []),
        ("sp1024-first-300", 300, [no_charsmap]),
        ("no-byte-fallback", 300, [no_byte_fallback]),
        ("no-dummy-prefix", 300, [no_charsmap, lambda m: setattr(m.normalizer_spec, "add_dummy_prefix", False)]),
        ("keep-whitespace", 300, [no_charsmap, lambda m: setattr(m.normalizer_spec, "remove_extra_whitespaces", False)]),
        ("tiny", 270, [no_charsmap]),
    ]:
        m = pb.ModelProto()
        m.CopyFrom(full)
        del m.pieces[keep:]
        for tweak in tweaks:
            tweak(m)
        write("sentencepiece_model", name, m.SerializeToString())


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    ts = texts()
    for i, t in enumerate(ts):
        write("gzip", f"text-{i}", t)
        write("sentencepiece_text", f"text-{i}", t)
        write("inflate", f"level9-{i}", raw_deflate(t))
        write("inflate", f"level1-{i}", raw_deflate(t, 1))
        write("inflate", f"stored-{i}", raw_deflate(t, 0))
        if t.decode("utf-8", "ignore") == t.decode("utf-8", "replace"):
            write("share_link", f"link-{i}", f"t={b64url(raw_deflate(t))}&s=12&e=nelbo&k=32".encode())
    write("share_link", "all-settings",
          f"t={b64url(raw_deflate(b'a shared text'))}&s=3.5&e=l2r&k=8&d=gzip,ar&c=rank&l={'ab' * 32}:{b64url(b'final_model.int8.ptz')}".encode())
    for m in ["ar", "mdlm", "smollm2"]:
        write("manifest", m, (ROOT / "models" / m / "golfer.json").read_bytes())
    sentencepiece_seeds()
    import_seeds()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {sum(1 for f in OUT.rglob('*') if f.is_file())} seeds, {total / 1024:.0f} KB, under {OUT}")


if __name__ == "__main__":
    sys.exit(main())
