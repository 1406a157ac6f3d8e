"""`golf eval`: a document set scored by every golfer, resumable. Every document's bits are `golf score`'s for it
alone; the Parquet file holds the JSONL's rows; the summary's intervals come back with the same seed; a run
stopped halfway (Ctrl-C, or killed outright) and started again writes what an uninterrupted run does; a Parameter
Golf token shard (written by a record's own shard writer, tokenized with the official sp1024) is read document by
document and scored as its decoded tokens' text."""

import importlib.util
import json
import math
import shutil
import signal
import subprocess
import sys
import time

import pytest
from places import GOLF, MODELS, OFFICIAL_SP, ROOT, SAMPLES, shared

DOCS = SAMPLES / "documents.jsonl"
GOLFERS = ["gzip", "ar", "mdlm", "smollm2"]
# The diffusion golfer's NELBO with 8 masking rates: its chain rules take one model call a token (minutes here).
OPTIONS = ["--estimator", "nelbo", "--steps", "8"]
RECORDS = ROOT.parent / "shared" / "records"


def golf(*args, check=True, **kw):
    return subprocess.run([str(GOLF), *map(str, args)], capture_output=True, text=True, check=check, **kw)


def eval_args(out, *extra):
    return ["eval", DOCS, "--out", out, "--shard-docs", "2", "--quiet", *OPTIONS, *extra]


def rows(folder):
    return [json.loads(line) for line in (folder / "documents.jsonl").read_text().splitlines()]


def without_seconds(rs):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rs]


@pytest.fixture(scope="module")
def whole(committed_set_eval):
    """One uninterrupted run of the committed set with all four golfers (conftest.py), with eval_args' settings."""
    return committed_set_eval


def test_the_committed_set_is_the_samples():
    docs = [json.loads(line) for line in DOCS.read_text(encoding="utf-8").splitlines()]
    lines = (SAMPLES / "fineweb-val-first-docs.txt").read_text(encoding="utf-8").split("\n")
    expected = [l for l in lines if l] + [(SAMPLES / f).read_text(encoding="utf-8") for f in ["fineweb-edu-excerpt.txt", "enwik8-excerpt.txt"]]
    assert [d["text"] for d in docs] == expected


def test_every_document_scores_as_golf_score_does_alone(whole, tmp_path):
    docs = [json.loads(line) for line in DOCS.read_text(encoding="utf-8").splitlines()]
    by = {(r["doc"], r["golfer"]): r for r in rows(whole)}
    assert len(by) == len(docs) * len(GOLFERS)
    for k, d in enumerate(docs):
        text = tmp_path / f"doc{k}.txt"
        text.write_text(d["text"], encoding="utf-8")
        for g in GOLFERS:
            alone = json.loads(golf("score", "--golfer", g, "--json", *OPTIONS, text).stdout)
            row = by[(k, g)]
            assert row["bytes"] == alone["bytes"] == len(d["text"].encode())
            assert math.isclose(row["bits"], alone["bits"], rel_tol=1e-9), (k, g, row["bits"], alone["bits"])
            assert row["meta"]["source"] == d["source"]


def test_the_parquet_file_holds_the_jsonl_rows(whole):
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(whole / "documents.parquet").to_pylist()
    for r in table:
        r["meta"] = json.loads(r["meta"])
        for k in ["tokens", "golf_bytes", "golf_bpb", "bpb"]:
            if r[k] is None:
                r.pop(k)
    expected = [{k: v for k, v in r.items() if v is not None} for r in rows(whole)]
    assert table == expected


def test_the_summary(whole):
    s = json.loads((whole / "summary.json").read_text())
    assert [g["golfer"] for g in s["golfers"]] == GOLFERS and s["documents"] == 12
    rs = rows(whole)
    for g in s["golfers"]:
        mine = [r for r in rs if r["golfer"] == g["golfer"]]
        texts = [json.loads(line)["text"] for line in DOCS.read_text(encoding="utf-8").splitlines()]
        assert g["bytes"] == sum(r["bytes"] for r in mine) == sum(len(t.encode()) for t in texts)
        assert math.isclose(g["bpb"], sum(r["bits"] for r in mine) / sum(r["bytes"] for r in mine), rel_tol=1e-12)
        assert g["low"] < g["bpb"] < g["high"]
    assert len(s["pairs"]) == 6
    for p in s["pairs"]:
        assert p["low"] <= p["difference"] <= p["high"] and 0 <= p["a_wins"] <= 1


def test_the_same_seed_gives_the_same_intervals(whole, tmp_path):
    """The run again over the same shards (all kept: nothing is scored) with the seed it had and with another."""
    for seed, same in [("0", True), ("5", False)]:
        out = tmp_path / f"seed{seed}"
        shutil.copytree(whole, out)
        r = golf(*eval_args(out, "--seed", seed))
        assert "(6 kept from an earlier run, 0 scored now)" in r.stdout
        a, b = json.loads((whole / "summary.json").read_text()), json.loads((out / "summary.json").read_text())
        assert (a == b) is same
        assert [g["bpb"] for g in a["golfers"]] == [g["bpb"] for g in b["golfers"]]


@pytest.mark.parametrize("how", ["SIGINT", "SIGKILL"])
def test_a_run_stopped_halfway_goes_on_to_the_same_files(whole, tmp_path, how):
    out = tmp_path / "halves"
    p = subprocess.Popen([str(GOLF), *map(str, eval_args(out))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Stopped once two of its six shards are written (what it says it has done, not a time).
    second = out / "shards" / "000001.jsonl"
    while not second.exists() and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(getattr(signal, how))
    _, err = p.communicate(timeout=600)
    if how == "SIGINT":
        assert p.returncode == 130 and "stopped on request after" in err and "run the same command again" in err, err
    else:
        assert p.returncode == -signal.SIGKILL
    written = sorted(f.name for f in (out / "shards").glob("*.jsonl"))
    assert 2 <= len(written) < 6, written
    r = golf(*eval_args(out))
    kept = int(r.stdout.split("(")[1].split(" kept")[0])
    assert kept == len(written), r.stdout
    assert without_seconds(rows(out)) == without_seconds(rows(whole))
    assert (out / "summary.json").read_bytes() == (whole / "summary.json").read_bytes()
    assert not list((out / "shards").glob("*.partial")) or how == "SIGKILL"


def test_bad_input_is_said(tmp_path):
    for body, says in [
        ('{"text": "a"}\n{"txt": "b"}\n', "line 2: no \"text\" field"),
        ('{"text": "a"}\nnot json\n', "line 2: not JSON"),
    ]:
        bad = tmp_path / "bad.jsonl"
        bad.write_text(body)
        r = golf("eval", bad, "--out", tmp_path / "o1", "--golfers", "gzip", check=False)
        assert r.returncode == 1 and says in r.stderr, r.stderr
    r = golf("eval", SAMPLES / "README.md", "--out", tmp_path / "o2", "--golfers", "gzip", check=False)
    assert "is not a document set" in r.stderr, r.stderr
    shard = tmp_path / "fineweb_val_000000.bin"
    shard.write_bytes(b"\0" * 2048)
    r = golf("eval", shard, "--out", tmp_path / "o3", "--golfers", "gzip", check=False)
    assert "give the SentencePiece tokenizer it was written with" in r.stderr, r.stderr
    r = golf("eval", shard, "--tokenizer", OFFICIAL_SP, "--out", tmp_path / "o3", "--golfers", "gzip", check=False)
    assert "not a Parameter Golf shard (its header starts 0 0" in r.stderr, r.stderr
    out = tmp_path / "o4"
    golf("eval", DOCS, "--out", out, "--golfers", "gzip", "-q")
    r = golf("eval", DOCS, "--out", out, "--golfers", "gzip,ar", check=False)
    assert "holds another run (golfers gzip there, gzip, ar now" in r.stderr, r.stderr


def test_a_model_folder_is_one_more_golfer(tmp_path):
    """`--model DIR` adds the golfer of a model folder (such as `golf import` writes) after --golfers'."""
    golf("eval", DOCS, "--out", tmp_path / "named", "--golfers", "gzip,ar", "-q")
    golf("eval", DOCS, "--out", tmp_path / "folder", "--golfers", "gzip", "--model", MODELS / "ar", "-q")
    assert without_seconds(rows(tmp_path / "folder")) == without_seconds(rows(tmp_path / "named"))
    r = golf("eval", DOCS, "--out", tmp_path / "twice", "--golfers", "gzip,ar", "--model", MODELS / "ar", check=False)
    assert r.returncode == 1 and "the golfer ar is given twice" in r.stderr, r.stderr


def record_shard_writer():
    """The shard writer of a record's own data script (the challenge's header: 20240520, version 1, the count)."""
    script = shared("../records/2026-04-27_SmearGateBOSFix_PR1787Base_LQERAsym_PhasedTTT/prepare_caseops_data.py")
    sys.path.insert(0, str(script.parent))
    spec = importlib.util.spec_from_file_location("prepare_caseops_data", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._write_shard, module.BOS_ID


def test_a_parameter_golf_shard_is_read_document_by_document(tmp_path):
    np = pytest.importorskip("numpy")
    spm = pytest.importorskip("sentencepiece")
    write_shard, bos = record_shard_writer()
    corpus = shared("fineweb/train-legalfilter.jsonl")
    texts = [json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines()[:300]]
    sp = spm.SentencePieceProcessor(model_file=str(OFFICIAL_SP))
    assert sp.bos_id() == bos
    ids = [sp.encode(t) for t in texts]
    tokens = np.array([t for doc in ids for t in [bos, *doc]], dtype=np.uint16)
    shard = tmp_path / "fineweb_val_000000.bin"
    write_shard(shard, tokens)
    out = tmp_path / "out"
    golf("eval", shard, "--tokenizer", OFFICIAL_SP, "--out", out, "--golfers", "gzip", "-q")
    rs = rows(out)
    assert len(rs) == len(texts)
    decoded = [sp.decode(doc) for doc in ids]
    for k in [0, 1, 57, 299]:
        assert rs[k]["bytes"] == len(decoded[k].encode())
        assert rs[k]["meta"]["tokens"] == len(ids[k]) + 1
        text = tmp_path / "doc.txt"
        text.write_text(decoded[k], encoding="utf-8")
        alone = json.loads(golf("score", "--json", text).stdout)
        assert rs[k]["bits"] == alone["bits"], k
    assert [r["bytes"] for r in rs] == [len(d.encode()) for d in decoded]
    assert rs[-1]["meta"]["token"] == len(tokens) - len(ids[-1]) - 1
