"""Tokenizes the training corpus into Parameter Golf shards, after removing any training document that overlaps
a held-out text.

Shard format (as the Parameter Golf export): 256 little-endian int32 header (magic 20240520, version 1, token
count), then uint16 tokens; each document is BOS + its tokens, no end marker.

Usage: python scripts/ar/prepare_data.py [--data ../shared/data] [--out .cache/ar-data]
Writes fineweb_train_000000.bin, val_first_docs.bin, val_edu.bin and overlap_report.json to --out.
"""

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm

MAGIC, VERSION = 20240520, 1
# Two texts share a document if they share a run of this many characters.
OVERLAP_CHARS = 64


def write_shard(path: Path, tokens: np.ndarray) -> None:
    header = np.zeros(256, dtype="<i4")
    header[:3] = (MAGIC, VERSION, len(tokens))
    assert tokens.max(initial=0) < 2**16
    with open(path, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype("<u2").tobytes())


def windows(text: str, stride: int):
    for i in range(0, max(len(text) - OVERLAP_CHARS + 1, 0), stride):
        yield hashlib.blake2b(text[i : i + OVERLAP_CHARS].encode(), digest_size=8).digest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[2]
    p.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    p.add_argument("--out", type=Path, default=root / ".cache" / "ar-data")
    # The official Parameter Golf sp1024 (byte fallback on), as participants' entries use.
    p.add_argument("--tokenizer", type=Path, default=root / "crates" / "golf-import" / "tokenizer" / "fineweb_1024_bpe.model")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    sp = spm.SentencePieceProcessor(model_file=str(a.tokenizer))
    bos = sp.bos_id()

    val_docs = (a.data / "fineweb" / "val-first-docs.txt").read_text(encoding="utf-8").splitlines()
    edu = (a.data / "fineweb" / "edu-sample-part1.txt").read_bytes().decode("utf-8", errors="ignore")
    held_out = set()
    for text in [*val_docs, edu]:
        held_out.update(windows(text, 1))

    kept, dropped = [], []
    with open(a.data / "fineweb" / "train-legalfilter.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            # Stride 32 over a training document still catches every shared run of 96+ characters.
            if any(w in held_out for w in windows(doc["text"], 32)):
                dropped.append(doc["id"])
            else:
                kept.append(doc["text"])

    def encode_docs(texts):
        out = []
        for ids in sp.encode(texts):
            out.append(bos)
            out.extend(ids)
        return np.array(out, dtype=np.int64)

    train = encode_docs(kept)
    write_shard(a.out / "fineweb_train_000000.bin", train)
    write_shard(a.out / "val_first_docs.bin", encode_docs(val_docs))
    write_shard(a.out / "val_edu.bin", encode_docs([edu]))
    report = {
        "train_docs_kept": len(kept),
        "train_docs_dropped_for_overlap": len(dropped),
        "dropped_ids": dropped,
        "overlap_rule": f"a shared run of {OVERLAP_CHARS} characters (training windows at stride 32)",
        "tokenizer": str(a.tokenizer.resolve().relative_to(root)) if a.tokenizer.resolve().is_relative_to(root) else a.tokenizer.name,
        "train_tokens": int(len(train)),
        "train_bytes": sum(len(t.encode()) for t in kept),
        "seconds": round(time.time() - t0, 1),
    }
    (a.out / "overlap_report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "dropped_ids"}))


if __name__ == "__main__":
    main()
