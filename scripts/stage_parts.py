#!/usr/bin/env python3
"""Stages a file the page serves into a folder of web/generated/: a copy when it is at most 16 MiB, else parts
of at most 16 MiB (NAME.part00, NAME.part01, ...) and NAME.parts.json with each part's size and sha256 and the
whole's (crates/golf-onnx/src/parts.rs reads it; static hosts refuse large files). --parts stages it as parts
whatever its size (a file the page always reads in parts). Writes only what changed; removes what an earlier
staging of the same file left that this one does not have."""

import argparse
import hashlib
import json
import os
import sys

PART_BYTES = 16 << 20


def write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("src")
    ap.add_argument("dest_dir")
    ap.add_argument("--parts", action="store_true", help="stage as parts even when it is small")
    args = ap.parse_args()
    name = os.path.basename(args.src)
    with open(args.src, "rb") as f:
        data = f.read()
    os.makedirs(args.dest_dir, exist_ok=True)
    whole = os.path.join(args.dest_dir, name)
    keep = set()
    if len(data) <= PART_BYTES and not args.parts:
        write_if_changed(whole, data)
        keep.add(name)
    else:
        parts = []
        for i, at in enumerate(range(0, len(data), PART_BYTES)):
            chunk = data[at : at + PART_BYTES]
            part = f"{name}.part{i:02d}"
            write_if_changed(os.path.join(args.dest_dir, part), chunk)
            parts.append({"path": part, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
            keep.add(part)
        manifest = {"file": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "parts": parts}
        write_if_changed(whole + ".parts.json", (json.dumps(manifest, indent=1) + "\n").encode())
        keep.add(name + ".parts.json")
    for left in os.listdir(args.dest_dir):
        if left not in keep and (left == name or left.startswith(name + ".part")):
            os.remove(os.path.join(args.dest_dir, left))


if __name__ == "__main__":
    sys.exit(main())
