#!/usr/bin/env python3
"""`golf eval` against `golf score`, in one run, both pinned to core 0 (taskset -c 0; ONNX Runtime's thread pool
may still place a thread elsewhere, so the neural golfers can use more, alike in both commands): the rate of scoring a corpus document
by document (JSONL, resumable shards, Parquet) against scoring the same documents' text joined into one file, per
golfer; and eval's peak memory on 1 MB and on 10 MB of documents (flat: it holds a shard, not the corpus).

Usage: python3 scripts/bench_eval.py [--golfers gzip,ar] [--mb 10]
Needs the release CLI and the shared data's FineWeb training documents (../shared/data/fineweb/
train-legalfilter.jsonl, or $GOLF_DATA/fineweb/...). Writes its corpora under target/bench/.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("GOLF_DATA", ROOT.parent / "shared" / "data"))
GOLF = ROOT / "target" / "release" / "golf"
sys.path.insert(0, str(ROOT / "scripts"))
from bench_big_input import peak_rss_mb  # noqa: E402


def corpus(mb: float) -> tuple[Path, Path]:
    """The first whole training documents within `mb` MB, as JSONL and as one text (joined by blank lines)."""
    out = ROOT / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    jsonl, text = out / f"docs-{mb:g}mb.jsonl", out / f"docs-{mb:g}mb.txt"
    if not jsonl.exists():
        source = DATA / "fineweb" / "train-legalfilter.jsonl"
        if not source.exists():
            sys.exit(f"error: no {source}: this benchmark needs the shared data (set GOLF_DATA)")
        docs, size = [], 0
        with source.open(encoding="utf-8") as f:
            for line in f:
                t = json.loads(line)["text"]
                if size + len(t.encode()) > mb * 1e6:
                    break
                docs.append(t)
                size += len(t.encode())
        jsonl.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs), encoding="utf-8")
        text.write_text("\n\n".join(docs), encoding="utf-8")
    return jsonl, text


def timed(args: list) -> tuple[float, float]:
    """Seconds and peak resident set (MB) of `golf ARGS` on core 0."""
    t0 = time.monotonic()
    p = subprocess.Popen(["taskset", "-c", "0", str(GOLF), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = peak_rss_mb(p)
    if p.returncode != 0:
        sys.exit(f"error: golf {' '.join(map(str, args))}: {p.stderr.read().decode()}")
    return time.monotonic() - t0, peak


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golfers", default="gzip,ar")
    p.add_argument("--mb", type=float, default=10)
    args = p.parse_args()
    small, _ = corpus(1)
    big, big_text = corpus(args.mb)
    out = ROOT / "target" / "bench" / "eval-out"
    size = big_text.stat().st_size
    docs = sum(1 for _ in big.open())
    print(f"{docs} documents, {size / 1e6:.1f} MB; taskset -c 0; the release CLI")
    for golfer in args.golfers.split(","):
        shutil.rmtree(out, ignore_errors=True)
        t_eval, m_big = timed(["eval", big, "--out", out, "--golfers", golfer, "-q"])
        t_score, _ = timed(["score", "--golfer", golfer, "-q", big_text])
        shutil.rmtree(out, ignore_errors=True)
        _, m_small = timed(["eval", small, "--out", out, "--golfers", golfer, "-q"])
        print(f"{golfer:<8} eval {size / t_eval / 1e6:.3f} MB/s ({t_eval:.1f} s), score {size / t_score / 1e6:.3f} MB/s "
              f"({t_score:.1f} s): eval/score rate {t_score / t_eval:.3f}; eval's peak memory {m_small:.0f} MB on "
              f"1 MB, {m_big:.0f} MB on {args.mb:g} MB ({m_big / m_small:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
