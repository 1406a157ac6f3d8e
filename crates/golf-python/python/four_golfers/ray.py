"""`golf eval` on a Ray cluster: the documents go out in shards to actors that each load the golfers once, and
come back as rows that this process (the driver) writes, a shard whole at a time, into the same run folder the CLI
writes: the same shards, the same checksums, the same `documents.parquet`, `documents.jsonl` and `summary.json`.

    import ray, four_golfers.ray
    ray.init(address="auto")                    # an existing cluster (or leave Ray to start a local one)
    summary = four_golfers.ray.evaluate("samples/documents.jsonl", "results", golfers=["gzip", "ar"])

An actor that dies (its process killed, its node lost) is restarted by Ray and its shard run again: a shard's rows
are written only when one whole run of it comes back, so no document is lost or counted twice. A stopped driver
goes on, when run again, from the shards it wrote. Every node needs the package and the model folders at the same
paths; the documents travel with the shards, so only the driver reads the corpus.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable, Optional

from . import GOLFERS, PathLike, _find_onnxruntime, _native, _spec

__all__ = ["evaluate"]


class _Scorer:
    """A Ray actor: the golfers, loaded once; scores a shard's documents into rows (JSONL)."""

    def __init__(self, specs, gzip_method, stride, estimator, steps, mask_seed, threads, marks):
        _find_onnxruntime()
        self._scorer = _native.ShardScorer(specs, gzip_method, stride, estimator, steps, mask_seed, threads)
        self._marks = marks

    def golfers(self) -> str:
        return self._scorer.golfers()

    def pid(self) -> int:
        return os.getpid()

    def _mark(self, index: int, what: str) -> None:
        if self._marks is not None:
            with open(os.path.join(self._marks, f"shard-{index}.pid-{os.getpid()}.{what}"), "w"):
                pass

    def score(self, index: int, docs: list) -> tuple[int, str]:
        self._mark(index, "started")
        rows = self._scorer.score(docs)
        self._mark(index, "done")
        return index, rows


def evaluate(
    corpus: PathLike,
    out: PathLike,
    *,
    golfers: Iterable[PathLike] = GOLFERS,
    models: Optional[PathLike] = None,
    tokenizer: Optional[PathLike] = None,
    actors: Optional[int] = None,
    cpus_per_actor: int = 1,
    shard_docs: int = 64,
    resamples: int = 1000,
    seed: int = 0,
    gzip_method: str = "exact",
    stride: Optional[int] = None,
    estimator: str = "confidence",
    steps: int = 64,
    mask_seed: int = 0,
    progress: Optional[Callable[[dict[str, Any]], Any]] = None,
    marks: Optional[PathLike] = None,
) -> dict[str, Any]:
    """`four_golfers.evaluate` on the Ray cluster this process is connected to (`ray.init`; one is started here
    if none is): `actors` actors (default: as many as the cluster's CPUs allow at `cpus_per_actor` each, whose
    ONNX Runtime gets that many threads), each scoring one shard at a time. Writes and returns what `evaluate`
    does. `progress` is called after each shard written with {shard, shards, shards_done, kept, actors, pids}:
    the shard's place, and each actor's process id as it is now (a restarted actor has a new one). With `marks`
    (a folder every node can write), each actor leaves an empty file `shard-S.pid-P.started` when it begins a
    shard and `.done` when it has its rows, to watch a run from outside (the tests kill an actor mid-shard by it)."""
    import ray

    specs = [_spec(g, models) for g in golfers]
    folder = _native.RunFolder(
        os.fspath(corpus), os.fspath(out), specs, None if tokenizer is None else os.fspath(tokenizer),
        shard_docs, resamples, seed, gzip_method, stride, estimator, steps, mask_seed,
    )
    if not ray.is_initialized():
        ray.init()
    if actors is None:
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)) // cpus_per_actor)
    # Restarted as often as they die, and a task of a dead actor run again on its restart.
    Actor = ray.remote(num_cpus=cpus_per_actor, max_restarts=-1, max_task_retries=-1)(_Scorer)
    marks = None if marks is None else os.fspath(marks)
    pool = [Actor.remote(specs, gzip_method, stride, estimator, steps, mask_seed, cpus_per_actor, marks) for _ in range(actors)]
    expected = json.loads(folder.golfers())
    for a in pool:
        theirs = json.loads(ray.get(a.golfers.remote()))
        if theirs != expected:
            raise _native.GolfError(
                f"an actor loaded other golfers than this run's ({theirs} against {expected}): every node needs "
                "the same model folders at the same paths"
            )
    pids = {i: ray.get(a.pid.remote()) for i, a in enumerate(pool)}
    in_flight: dict[Any, int] = {}  # a shard's result -> the actor scoring it
    free = list(range(len(pool)))
    done = 0
    exhausted = False
    while True:
        while free and not exhausted:
            shard = folder.next_shard()
            if shard is None:
                exhausted = True
                break
            index, docs = shard
            actor = free.pop()
            in_flight[pool[actor].score.remote(index, docs)] = actor
        if not in_flight:
            break
        ready, _ = ray.wait(list(in_flight), num_returns=1)
        ref = ready[0]
        actor = in_flight.pop(ref)
        index, rows = ray.get(ref)
        folder.write_shard(index, rows)
        done += 1
        free.append(actor)
        if progress is not None:
            pids[actor] = ray.get(pool[actor].pid.remote())
            progress({"shard": index, "shards": folder.shards(), "shards_done": done, "kept": folder.kept(),
                      "actors": len(pool), "pids": dict(pids)})
    summary = json.loads(folder.finish())
    for a in pool:
        ray.kill(a)
    return summary
