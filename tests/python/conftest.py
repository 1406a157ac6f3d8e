"""Records every skipped test (or skipped test file), by name and with its reason, in $GOLF_SKIP_LOG, so that
scripts/test.sh can list them at the end (and fail in CI, where nothing may be skipped)."""

import os


def record_skip(report):
    log = os.environ.get("GOLF_SKIP_LOG")
    if not (log and report.skipped):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"pytest {report.nodeid}: {reason.removeprefix('Skipped: ')}\n")


def pytest_runtest_logreport(report):
    record_skip(report)


def pytest_collectreport(report):
    record_skip(report)


import subprocess  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def committed_set_eval(tmp_path_factory):
    """One uninterrupted `golf eval` of samples/documents.jsonl with all four golfers (the diffusion golfer by NELBO
    over 8 masking rates), 2 documents a shard: what test_eval.py and test_ray.py compare their runs with."""
    from places import GOLF, SAMPLES
    out = tmp_path_factory.mktemp("eval") / "whole"
    r = subprocess.run([str(GOLF), "eval", str(SAMPLES / "documents.jsonl"), "--out", str(out), "--shard-docs", "2",
                        "--quiet", "--estimator", "nelbo", "--steps", "8"], capture_output=True, text=True, check=True)
    assert "12 documents in 6 shards (0 kept from an earlier run, 6 scored now)" in r.stdout, r.stdout + r.stderr
    return out
