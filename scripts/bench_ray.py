#!/usr/bin/env python3
"""four_golfers.ray's throughput: documents per second with one and with two Ray actors, per golfer, measured in
one run on a local Ray instance with this machine's cores; and, from the measured rates, what Parameter Golf's
50,000 validation documents (151 MB of text: the first 50,000 documents of its FineWeb validation set) would take
per golfer on N cores.

Usage: .venv/bin/python scripts/bench_ray.py [--golfers gzip,ar,mdlm,smollm2] [--docs samples/documents.jsonl]
       [--estimator confidence] [--steps 64] [--cores 2,16,128]
Needs the package (scripts/test.sh builds it into .venv) and Ray (installed there by the same script). A golfer's
rate is its steady one: documents from its first finished document to its last over the time between them (each
document a shard), so that loading the models in each actor is not counted; the wall time with loading is printed
beside it.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VALIDATION_BYTES = 151e6  # the issue's measure of the 50,000 documents' text
VALIDATION_DOCS = 50_000


def measure(fr, docs, golfer, actors, args):
    times = []
    with tempfile.TemporaryDirectory() as out:
        t0 = time.monotonic()
        fr.evaluate(docs, Path(out) / "run", golfers=[golfer], models=ROOT / "models", actors=actors, shard_docs=1,
                    resamples=10, estimator=args.estimator, steps=args.steps,
                    progress=lambda p: times.append(time.monotonic()))
        wall = time.monotonic() - t0
    steady = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else float("nan")
    return wall, steady


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golfers", default="gzip,ar,mdlm,smollm2")
    p.add_argument("--docs", default=str(ROOT / "samples" / "documents.jsonl"))
    p.add_argument("--estimator", default="confidence", help="the diffusion golfer's (golf eval's default)")
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--cores", default="2,16,128", help="core counts to project the 50,000 documents onto")
    args = p.parse_args()
    import ray
    import four_golfers.ray as fr

    texts = [json.loads(l)["text"] for l in Path(args.docs).read_text(encoding="utf-8").splitlines() if l.strip()]
    n, size = len(texts), sum(len(t.encode()) for t in texts)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(f"{n} documents, {size} bytes ({args.docs}); a local Ray instance with 2 CPUs; one actor a CPU")
    cores = [int(c) for c in args.cores.split(",")]
    print(f"{'golfer':<8} {'1 actor':>10} {'2 actors':>10} {'speed-up':>8}   wall with loading (1 / 2)   "
          + "   ".join(f"50,000 docs on {c} cores" for c in cores))
    for golfer in args.golfers.split(","):
        w1, r1 = measure(fr, args.docs, golfer, 1, args)
        w2, r2 = measure(fr, args.docs, golfer, 2, args)
        # Bytes a second per core, from the one-actor rate; the projection assumes the two-actor speed-up's
        # scaling holds (printed beside it).
        per_core = r1 * size / n
        proj = []
        for c in cores:
            seconds = VALIDATION_BYTES / (per_core * c)
            proj.append(f"{seconds / 3600:>10.1f} h" if seconds > 5400 else f"{seconds / 60:>10.1f} min")
        print(f"{golfer:<8} {r1:>7.2f}/s {r2:>7.2f}/s {r2 / r1:>7.2f}x   {w1:>6.1f} s / {w2:>6.1f} s"
              + "".join(f"   {x:>22}" for x in proj))
    print(f"(projections: {VALIDATION_BYTES / 1e6:.0f} MB at the one-actor rate in bytes/s on this set, times the cores)")
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
