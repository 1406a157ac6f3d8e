#!/usr/bin/env python3
"""The CLI on big inputs: peak memory and throughput of `golf score --json --per-byte` on 10 MB of FineWeb text
against the same command on its first 300 KB, measured in one run.

Usage: python3 scripts/bench_big_input.py [--golfers gzip,ar] [--mb 10]
Needs the release CLI (cargo build --release -p golf-cli) and the shared data's FineWeb training documents
(../shared/data/fineweb/train-legalfilter.jsonl, or $GOLF_DATA/fineweb/...). Prints one line per run and the
ratios; writes the texts under target/bench/.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("GOLF_DATA", ROOT.parent / "shared" / "data"))
GOLF = ROOT / "target" / "release" / "golf"


def texts(mb: float) -> tuple[Path, Path]:
    """The first `mb` MB of the training documents joined by blank lines, and its first 300 KB (cut at a
    character boundary)."""
    out = ROOT / "target" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    big, small = out / f"fineweb-{mb:g}mb.txt", out / "fineweb-300kb.txt"
    want = int(mb * 1_000_000)
    if not big.exists() or big.stat().st_size > want or big.stat().st_size < want - 4:
        source = DATA / "fineweb" / "train-legalfilter.jsonl"
        if not source.exists():
            sys.exit(f"error: no {source}: this benchmark needs the shared data (set GOLF_DATA)")
        docs, size = [], 0
        with source.open() as f:
            for line in f:
                docs.append(json.loads(line)["text"])
                size += len(docs[-1].encode()) + 2
                if size > want:
                    break
        data = "\n\n".join(docs).encode()[:want].decode("utf-8", "ignore").encode()
        big.write_bytes(data)
        small.write_bytes(data[:300_000].decode("utf-8", "ignore").encode())
    return big, small


def peak_rss_mb(p: subprocess.Popen) -> float:
    """The child's high-water resident set (VmHWM), read every 5 ms until it exits (so: for runs of a good
    fraction of a second, as here). Not rusage's maxrss: a child started
    by vfork counts this script's own memory there too."""
    peak, status = 0, f"/proc/{p.pid}/status"
    while p.poll() is None:
        try:
            with open(status) as f:
                peak = max([peak] + [int(line.split()[1]) for line in f if line.startswith("VmHWM:")])
        except OSError:  # it has just exited
            pass
        time.sleep(0.005)
    return peak / 1024


def run(golfer: str, path: Path) -> dict:
    """One `golf score --json --per-byte`: its wall-clock seconds, peak RSS and the JSON's totals."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        p = subprocess.Popen(
            [str(GOLF), "score", "--golfer", golfer, "--json", "--per-byte", "--quiet", str(path)], stdout=out
        )
        peak = peak_rss_mb(p)
        seconds = time.monotonic() - start
        if p.returncode != 0:
            sys.exit(f"error: golf score --golfer {golfer} {path} exited with {p.returncode}")
        out.seek(0)
        raw = out.read()
    d = json.loads(raw)
    assert len(d["per_byte"]) == d["bytes"] == path.stat().st_size, "per_byte covers every byte"
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "bytes": d["bytes"],
        "tokens": d.get("tokens"),
        "bpb": d["bpb"],
        "json_mb": len(raw) / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--golfers", default="gzip,ar")
    ap.add_argument("--mb", type=float, default=10)
    args = ap.parse_args()
    if not GOLF.exists():
        sys.exit("error: build the CLI first: cargo build --release -p golf-cli")
    big, small = texts(args.mb)
    print(f"golf score --json --per-byte on {big.name} ({big.stat().st_size:,} bytes) and {small.name}, {os.cpu_count()} cores")
    for golfer in args.golfers.split(","):
        r = {name: run(golfer, p) for name, p in [("300 KB", small), (f"{args.mb:g} MB", big)]}
        for name, m in r.items():
            rate = f"{m['tokens'] / m['seconds']:,.0f} tokens/s" if m["tokens"] else f"{m['bytes'] / m['seconds'] / 1e6:.1f} MB/s"
            print(f"  {golfer:<8} {name:>7}: {m['seconds']:7.1f} s, {rate}, peak {m['peak_mb']:,.0f} MB, "
                  f"bpb {m['bpb']:.4f}, JSON {m['json_mb']:,.0f} MB")
        small_m, big_m = r["300 KB"], r[f"{args.mb:g} MB"]
        unit = "tokens" if small_m["tokens"] else "bytes"
        def speed(m: dict) -> float:
            return m[unit] / m["seconds"]

        print(f"  {golfer:<8} throughput on {args.mb:g} MB / on 300 KB: {speed(big_m) / speed(small_m):.3f}")


if __name__ == "__main__":
    main()
