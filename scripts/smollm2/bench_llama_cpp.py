"""SmolLM2's native speed side by side with llama.cpp's, in one run on this machine: `golf bench --golfer smollm2`
(prefill of 512 positions on ONNX Runtime, then 64 greedy tokens decoded by golf-llama) against llama-cpp-python
on the same GGUF (the one `scripts/smollm2/build.py` unpacked into .cache/smollm2), 1 and 2 threads, best of 3 runs
each, alternating the two. Prints numbers and ratios; asserts nothing about them.

llama-cpp-python is a benchmark-only peer, never a dependency of the project. `--install` builds it from source
(about 12 minutes on 2 cores) into .cache/llamacpp-venv with every instruction set llama.cpp has kernels for
(AVX2, FMA, F16C, and AVX-512 with VNNI, VBMI and BF16, and AVX-VNNI where the CPU has them), except AMX: pip's
default build (GGML_NATIVE) also compiles llama.cpp's AMX kernels where the CPU reports AMX, and on this project's
virtual machines, which report it, those crash (SIGSEGV in ggml_backend_amx_mul_mat at the first decode):

    python3 scripts/smollm2/bench_llama_cpp.py --install      # once
    python3 scripts/smollm2/bench_llama_cpp.py                # after: cargo build --release -p golf-cli

Both sides decode after the same prompt, "The history of the city", and prefill the first tokens of the same
FineWeb text (samples/fineweb-val-first-docs.txt). llama.cpp computes the head at the last prefill position only;
ours at all 512 (scoring needs every position's bits).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GGUF = ROOT / ".cache" / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
VENV = ROOT / ".cache" / "llamacpp-venv"
PEER_VERSION = "0.3.36"
PROMPT = "The history of the city"
DECODE = 64
PREFILL = 512
RUNS = 3


def peer_python() -> Path:
    return VENV / "bin" / "python"


def build_flags() -> str:
    """llama.cpp's CMake flags for this CPU: every instruction set it has kernels for, except AMX."""
    flags = ["AVX", "AVX2", "FMA", "F16C", "BMI2"]
    have = cpu_flags()
    flags += [f for f, cpu in [("AVX512", "avx512f"), ("AVX512_VBMI", "avx512vbmi"), ("AVX512_VNNI", "avx512_vnni"),
                               ("AVX512_BF16", "avx512_bf16"), ("AVX_VNNI", "avx_vnni")] if cpu in have]
    return " ".join(["-DGGML_NATIVE=OFF"] + [f"-DGGML_{f}=ON" for f in flags])


def install() -> None:
    cmake = build_flags()
    marker = VENV / "golf-build-flags"
    if peer_python().exists() and marker.exists() and marker.read_text() == cmake:
        print(f"llama-cpp-python {PEER_VERSION} is already built in {VENV.relative_to(ROOT)} ({cmake})")
        return
    print(f"building llama-cpp-python {PEER_VERSION} from source into {VENV.relative_to(ROOT)} (about 12 minutes)")
    print(f"  CMAKE_ARGS={cmake}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(peer_python()), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["cmake", "ninja", "scikit-build-core", "numpy", "jinja2", "diskcache",
                          "typing-extensions"], check=True)
    subprocess.run(pip + ["--no-build-isolation", "--no-cache-dir", "--force-reinstall", "--no-deps",
                          f"llama-cpp-python=={PEER_VERSION}"], check=True, env={**os.environ, "CMAKE_ARGS": cmake})
    marker.write_text(cmake)


def peer_run(threads: int) -> None:
    """Inside the peer's environment: one measurement of llama.cpp, printed as JSON."""
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(
        model_path=str(GGUF), n_threads=threads, n_threads_batch=threads, n_ctx=2048, n_batch=PREFILL, verbose=False,
    )
    vocab = llm.n_vocab()

    def greedy() -> int:
        # The last position's logits (eval keeps them only in the context unless logits_all).
        return int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))))

    text = (ROOT / "samples" / "fineweb-val-first-docs.txt").read_text()
    prefill_ids = llm.tokenize(text.encode(), add_bos=False, special=False)[:PREFILL]
    llm.reset()
    t = time.perf_counter()
    llm.eval(prefill_ids)
    prefill_seconds = time.perf_counter() - t

    # Greedy decode, one eval per token, the first token (after the prompt's prefill) not timed: as ours.
    llm.reset()
    llm.eval(llm.tokenize(PROMPT.encode(), add_bos=False, special=False))
    token = greedy()
    tokens = [token]
    t = time.perf_counter()
    for _ in range(DECODE):
        llm.eval([token])
        token = greedy()
        tokens.append(token)
    decode_seconds = time.perf_counter() - t
    print(json.dumps({
        "prefill_tokens": len(prefill_ids), "prefill_seconds": prefill_seconds,
        "decode_tokens": DECODE, "decode_seconds": decode_seconds,
        "text": llm.detokenize(tokens).decode(errors="replace"),
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace"),
    }))


def ours(golf: Path, threads: int) -> dict:
    out = subprocess.run(
        [str(golf), "bench", "--golfer", "smollm2", "--threads", str(threads), "--json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return json.loads(out.stdout)


def theirs(threads: int) -> dict:
    out = subprocess.run(
        [str(peer_python()), __file__, "--peer-run", str(threads)], check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "this CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true", help="build llama-cpp-python into .cache/llamacpp-venv first")
    ap.add_argument("--golf", default=str(ROOT / "target" / "release" / "golf"), help="the golf binary")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--peer-run", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer_run:
        peer_run(args.peer_run)
        return
    if args.install:
        install()
    if not (VENV / "golf-build-flags").exists():
        sys.exit(f"error: no llama-cpp-python built in {VENV.relative_to(ROOT)}: run with --install once (~12 min)")
    if not GGUF.exists():
        sys.exit(f"error: {GGUF.relative_to(ROOT)} is missing: python scripts/smollm2/build.py unpacks it")
    golf = Path(args.golf)
    if not golf.exists():
        sys.exit(f"error: {golf} is missing: cargo build --release -p golf-cli")

    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        # Best of RUNS, alternating ours and theirs so that a slow spell of a shared machine hits both.
        us, peer = [], []
        for _ in range(RUNS):
            us.append(ours(golf, threads))
            peer.append(theirs(threads))
        rows.append((threads, us, peer))

    cores = os.cpu_count()
    print(f"SmolLM2-135M-Instruct natively, same GGUF, same run ({cpu_name()}, {cores} cores; "
          f"llama-cpp-python {PEER_VERSION}):")
    print(f"  llama.cpp's build: {rows[0][2][0]['system_info'].strip()}")
    for threads, us, peer in rows:
        ud = min(u["decode_seconds"] * 1e3 / u["decode_tokens"] for u in us)
        pd = min(p["decode_seconds"] * 1e3 / p["decode_tokens"] for p in peer)
        up = max(u["prefill_tokens"] / u["prefill_seconds"] for u in us)
        pp = max(p["prefill_tokens"] / p["prefill_seconds"] for p in peer)
        print(f"  {threads} thread(s):")
        print(f"    decode   ours {ud:7.2f} ms/token   llama.cpp {pd:7.2f} ms/token   ratio {ud / pd:.2f}x "
              f"(ours / llama.cpp's time)")
        print(f"    prefill  ours {up:7.1f} tokens/s   llama.cpp {pp:7.1f} tokens/s   ratio {up / pp:.2f}x "
              f"(ours / llama.cpp's speed; {us[0]['prefill_tokens']} vs {peer[0]['prefill_tokens']} tokens)")
        words = peer[0]["text"].split()
        print(f"    llama.cpp's greedy text begins: {' '.join(words[:10])!r}")


if __name__ == "__main__":
    main()
