#!/usr/bin/env python3
"""Writes the built page's app shell into dist/sw.js: every file the page loads from dist/, by path, with its
sha256, which the service worker keeps for offline visits (web/sw.js). Left out: the worker's own files, the
host's _headers, and what the golfers' workers keep themselves (each model folder's graph and tokenizer, and every
file served in parts). A new build's files make a new sw.js, which browsers take as a new worker."""

import hashlib
import json
import pathlib
import re
import sys

MARK = "/* SHELL */ {}"


def shell(dist):
    kept_by_workers = set()
    for golfer in dist.glob("models/*/golfer.json"):
        m = json.loads(golfer.read_text())
        folder = golfer.parent.relative_to(dist).as_posix()
        kept_by_workers |= {f"{folder}/{m['onnx']['path']}", f"{folder}/{m['tokenizer']['file']}"}
    files = {}
    for p in sorted(dist.rglob("*")):
        path = p.relative_to(dist).as_posix()
        if not p.is_file() or path in ("sw.js", "_headers", "coi-serviceworker.js") or path in kept_by_workers:
            continue
        if re.search(r"\.part\d+$", path):
            continue
        files[path] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def main():
    dist = pathlib.Path(sys.argv[1])
    sw = dist / "sw.js"
    text = sw.read_text()
    if text.count(MARK) != 1:
        sys.exit(f"error: {sw} must hold {MARK!r} once (web/sw.js, copied by trunk)")
    sw.write_text(text.replace(MARK, json.dumps(shell(dist), indent=1, sort_keys=True)))


if __name__ == "__main__":
    main()
