"""The CLI on long work and big inputs: progress on stderr only where a person watches (a terminal, not --quiet),
JSON written as it goes that still says the same thing, and memory that does not grow hundreds of bytes per input
byte."""

import json
import os
import pty
import subprocess
import tempfile
import time

from places import GOLF, SAMPLES, VAL_DOCS


def run_on_a_terminal(args: list[str]) -> tuple[bytes, str]:
    """Runs golf with stderr on a pseudo-terminal (as a person at a shell has it) and stdout to a file (a pipe
    would fill while we read the terminal)."""
    master, slave = pty.openpty()
    stdout = tempfile.TemporaryFile()
    p = subprocess.Popen([str(GOLF), *args], stdout=stdout, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the program ended
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait() == 0, seen.decode(errors="replace")
    os.close(master)
    stdout.seek(0)
    return stdout.read(), seen.decode(errors="replace")


def peak_rss_kb(p: subprocess.Popen) -> int:
    """The child's high-water resident set (VmHWM), read every 5 ms until it exits (so: for runs of a good
    fraction of a second, as here). Not rusage's maxrss: a child started
    by vfork counts the parent's memory there too (pytest's, with torch loaded, is most of a gigabyte)."""
    peak, status = 0, f"/proc/{p.pid}/status"
    while p.poll() is None:
        try:
            with open(status) as f:
                hwm = [line for line in f if line.startswith("VmHWM:")]
            peak = max([peak] + [int(line.split()[1]) for line in hwm])
        except OSError:  # it has just exited
            pass
        time.sleep(0.005)
    return peak


def long_text(tmp_path, copies: int) -> str:
    path = tmp_path / "long.txt"
    path.write_bytes(VAL_DOCS.read_bytes() * copies)
    return str(path)


def test_progress_shows_on_a_terminal_for_long_work_only(tmp_path):
    # About 45,000 tokens: a few seconds for the AR golfer.
    text = long_text(tmp_path, 8)
    out, err = run_on_a_terminal(["score", "--golfer", "ar", "--json", text])
    assert "scoring" in err and "tokens" in err and "left" in err, err[-400:]
    assert json.loads(out)["tokens"] > 40_000
    out, err = run_on_a_terminal(["score", "--golfer", "ar", "--json", "--quiet", text])
    assert err == "" and json.loads(out)["tokens"] > 40_000
    # Quick work on a terminal prints nothing extra.
    _, err = run_on_a_terminal(["score", str(VAL_DOCS)])
    assert "scoring" not in err, err
    # Not a terminal (a script, a pipe, these tests): nothing on stderr.
    p = subprocess.run([str(GOLF), "score", "--golfer", "ar", "--json", text], capture_output=True, check=True)
    assert p.stderr == b""


def test_streamed_json_is_the_same_object(tmp_path):
    for golfer in ["gzip", "ar"]:
        plain = json.loads(subprocess.run([str(GOLF), "score", "--golfer", golfer, "--json", "--per-byte",
                                           str(VAL_DOCS)], capture_output=True, check=True).stdout)
        full = json.loads(subprocess.run([str(GOLF), "score", "--golfer", golfer, "--json", "--tokens",
                                          "--per-byte", str(VAL_DOCS)], capture_output=True, check=True).stdout)
        n = VAL_DOCS.stat().st_size
        # Spans tile the text; per_byte has every byte and adds up to the bits; popovers only with --tokens.
        assert plain["spans"][0]["start"] == 0 and plain["spans"][-1]["end"] == n
        assert all(a["end"] == b["start"] for a, b in zip(plain["spans"], plain["spans"][1:]))
        assert len(plain["per_byte"]) == n and abs(sum(plain["per_byte"]) - plain["bits"]) < 1e-6 * plain["bits"]
        assert not any("token" in s for s in plain["spans"]) and all("token" in s for s in full["spans"][1:])
        # The same numbers either way: keeping popovers changes nothing that is counted.
        strip = lambda d: {k: v for k, v in d.items() if k not in ("seconds", "spans")}
        assert strip(plain) == strip(full)
        assert [(s["start"], s["end"], s["bits"]) for s in plain["spans"]] == \
               [(s["start"], s["end"], s["bits"]) for s in full["spans"]]


def test_memory_stays_bounded_on_megabytes(tmp_path):
    # 4.2 MB of text (the committed samples, repeated): gzip with spans and per-byte bits, as JSON.
    path = tmp_path / "big.txt"
    unit = b"".join((SAMPLES / name).read_bytes() for name in
                    ["fineweb-val-first-docs.txt", "fineweb-edu-excerpt.txt", "enwik8-excerpt.txt"])
    data = unit * (4_200_000 // len(unit) + 1)
    path.write_bytes(data)
    p = subprocess.Popen([str(GOLF), "score", "--json", "--per-byte", str(path)], stdout=subprocess.DEVNULL)
    peak_kb = peak_rss_kb(p)
    assert p.returncode == 0
    per_byte = peak_kb * 1024 / len(data)
    # Before the output was streamed this took 465 bytes of memory per input byte.
    assert per_byte < 60, f"{per_byte:.0f} bytes of memory per input byte"
