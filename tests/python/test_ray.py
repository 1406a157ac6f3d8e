"""four_golfers.ray on a real Ray cluster of two processes on this machine (a head node and a second node joined
over loopback, one CPU each): its results equal `golf eval`'s row for row; an actor killed in the middle of a shard
is restarted by Ray and its shard run again, with no document lost or counted twice."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from places import GOLF, MODELS, SAMPLES

ray = pytest.importorskip("ray", reason="Ray is installed into .venv by scripts/test.sh")
fr = pytest.importorskip("four_golfers.ray", reason="the package is built by scripts/test.sh (maturin develop)")

DOCS = SAMPLES / "documents.jsonl"
RAY = Path(sys.executable).parent / "ray"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`ray start --head` and a second `ray start --address` on loopback, each in the foreground (--block) as a
    process of this test's, stopped with it."""
    port = free_port()
    common = ["--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats", "--block"]
    logs = tmp_path_factory.mktemp("ray")
    # A cluster on loopback, for this test alone: no token (Ray 2.60 makes one per `ray start --head`, kept in the
    # home folder, where the driver and the second node would have to find the same one).
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    os.environ["RAY_AUTH_MODE"] = "disabled"
    nodes = []

    def start(args, name):
        log = open(logs / f"{name}.log", "w")
        nodes.append(subprocess.Popen([str(RAY), "start", *args, *common], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True, env=env))

    try:
        start(["--head", f"--port={port}", "--include-dashboard=false"], "head")
        address = f"127.0.0.1:{port}"
        # Connected once the head answers; then both nodes are in the cluster (what it says, not a time).
        deadline = time.monotonic() + 300
        while True:
            try:
                ray.init(address=address, log_to_driver=False)
                break
            except Exception:
                if time.monotonic() > deadline or nodes[0].poll() is not None:
                    raise AssertionError((logs / "head.log").read_text())
                time.sleep(0.5)
        start([f"--address={address}"], "second")
        while sum(n["Alive"] for n in ray.nodes()) < 2:
            assert time.monotonic() < deadline and nodes[1].poll() is None, (logs / "second.log").read_text()
            time.sleep(0.5)
        yield address
    finally:
        ray.shutdown()
        # Each node's processes are in its launcher's process group: asked to stop, then made to.
        for p in nodes:
            os.killpg(p.pid, signal.SIGTERM)
        for p in nodes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def rows(folder):
    return [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in (folder / "documents.jsonl").read_text().splitlines()]


def test_two_nodes_give_golf_evals_rows(cluster, tmp_path, committed_set_eval):
    golfers = ["gzip", "ar", "mdlm", "smollm2"]
    assert sum(n["Alive"] for n in ray.nodes()) == 2 and ray.cluster_resources()["CPU"] == 2
    seen = []
    summary = fr.evaluate(DOCS, tmp_path / "ray", golfers=golfers, models=MODELS, shard_docs=2,
                          estimator="nelbo", steps=8, progress=seen.append)
    assert seen[-1]["shards_done"] == 6 and seen[-1]["actors"] == 2
    cli = committed_set_eval  # `golf eval` with the same golfers and options
    assert rows(tmp_path / "ray") == rows(cli)
    assert json.loads((cli / "summary.json").read_text()) == summary
    # The same shards: the CLI keeps every one the cluster wrote.
    again = subprocess.run([str(GOLF), "eval", str(DOCS), "--out", str(tmp_path / "ray"), "--golfers", ",".join(golfers),
                            "--shard-docs", "2", "-q", "--estimator", "nelbo", "--steps", "8"], check=True, capture_output=True, text=True)
    assert "(6 kept from an earlier run, 0 scored now)" in again.stdout


def test_an_actor_killed_mid_shard_has_its_shard_run_again(cluster, tmp_path, committed_set_eval):
    golfers = ["gzip", "smollm2"]
    marks = tmp_path / "marks"
    marks.mkdir()
    killed = []

    def kill_one_mid_shard():
        """Kills the actor of a shard it has begun and not finished: after the kill (its process gone, it writes
        nothing more), no `.done` beside its `.started` means the shard was cut short; otherwise the next one."""
        tried = set()
        while not killed and not finished.is_set():
            for started in sorted(marks.glob("*.started")):
                name = started.name.removesuffix(".started")
                if name in tried or (marks / f"{name}.done").exists():
                    continue
                tried.add(name)
                pid = int(name.split(".pid-")[1])
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                while Path(f"/proc/{pid}").exists() and not finished.is_set():
                    time.sleep(0.01)
                if not (marks / f"{name}.done").exists():
                    killed.append(name)
                    return
            time.sleep(0.01)

    finished = threading.Event()
    watcher = threading.Thread(target=kill_one_mid_shard)
    watcher.start()
    try:
        summary = fr.evaluate(DOCS, tmp_path / "ray", golfers=golfers, models=MODELS, shard_docs=2, marks=marks)
    finally:
        finished.set()
        watcher.join()
    assert killed, "no actor was killed in the middle of a shard"
    shard = killed[0].split(".pid-")[0]
    runs = sorted(p.name for p in marks.glob(f"{shard}.pid-*.started"))
    assert len(runs) >= 2, runs  # begun again, by the restarted actor (another process)
    assert any((marks / r.replace(".started", ".done")).exists() for r in runs)
    got = rows(tmp_path / "ray")
    assert len(got) == 12 * len(golfers) and len({(r["doc"], r["golfer"]) for r in got}) == len(got)
    # `golf eval`'s rows of these two golfers (a golfer's rows and bootstrap interval do not depend on the others).
    cli = committed_set_eval
    assert got == [r for r in rows(cli) if r["golfer"] in golfers]
    theirs = json.loads((cli / "summary.json").read_text())["golfers"]
    assert summary["golfers"] == [g for g in theirs if g["golfer"] in golfers]
