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
