"""The CLI on what a shell pipeline or a stranger hands it: a reader that stops early (`golf ... | head -c 5`) ends
the run quietly with status 0, as ripgrep does; a model folder whose manifest points outside the folder or sizes
things absurdly is refused in one line, before anything is read or allocated; an artifact that unpacks to gigabytes
is refused within the importer's cap."""

import json
import lzma
import shutil
import subprocess

import pytest
from places import GOLF, MODELS, SP_MODEL, VAL_DOCS
from test_cli_big_input import peak_rss_kb


def big_text(tmp_path) -> str:
    """About 1 MB: its tokens, spans or generated text are several times a pipe's buffer."""
    path = tmp_path / "big.txt"
    path.write_bytes(VAL_DOCS.read_bytes() * 60)
    return str(path)


def through_head_c_5(args: list[str]) -> tuple[int, bytes, bytes]:
    """`golf ARGS | head -c 5`: read five bytes, then close the pipe."""
    p = subprocess.Popen([str(GOLF), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.read(5)
    p.stdout.close()
    err = p.stderr.read()
    return p.wait(), first, err


@pytest.mark.parametrize("args", [
    ["tokenize", "--model", str(SP_MODEL), "BIG"],
    ["score", "--json", "--per-byte", "BIG"],
    ["score", "--json", "--tokens", "BIG"],
    ["generate", "--prompt", "The ", "--max-bytes", "100000"],
])
def test_a_reader_that_stops_early_ends_the_run_quietly(tmp_path, args):
    text = big_text(tmp_path)
    status, first, err = through_head_c_5([text if a == "BIG" else a for a in args])
    assert len(first) == 5
    # Before: tokenize panicked ("failed printing to stdout: Broken pipe", 101); score and generate printed
    # "golf: Broken pipe (os error 32)" and exited 1.
    assert (status, err) == (0, b""), err.decode(errors="replace")


def ar_copy(tmp_path, change) -> str:
    folder = tmp_path / "ar"
    shutil.copytree(MODELS / "ar", folder)
    manifest = json.loads((folder / "golfer.json").read_text())
    change(manifest)
    (folder / "golfer.json").write_text(json.dumps(manifest))
    return str(folder)


def refusal(folder: str) -> str:
    r = subprocess.run([str(GOLF), "score", "--model", folder, str(VAL_DOCS)], capture_output=True)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, (r.returncode, lines)
    return lines[0]


def test_a_manifest_cannot_point_outside_its_folder(tmp_path):
    line = refusal(ar_copy(tmp_path, lambda m: m["onnx"].update(path="/etc/passwd")))
    assert '"onnx.path" is "/etc/passwd": it is an absolute path' in line, line
    assert "sha256" not in line  # before, /etc/passwd was read and its digest printed


def test_a_hand_edited_layer_count_is_refused_at_once(tmp_path):
    line = refusal(ar_copy(tmp_path, lambda m: m.update(layers=100_000_000)))
    assert '"layers" is 100000000; it must be at most 256' in line, line
    line = refusal(ar_copy(tmp_path / "7", lambda m: m.update(layers=7)))
    assert 'the graph has 6 layers (inputs past_key_*), golfer.json says "layers": 7' in line, line


def test_an_xz_artifact_that_unpacks_to_gigabytes_is_refused_in_bounded_memory(tmp_path):
    # The bad-input probe's case: a small xz file of zeros took `golf import` to a 4 GiB allocation and an abort
    # (exit 134). Here 1 GiB of zeros in about 150 KB: the import stops at its 256 MB cap and says so.
    xz = lzma.LZMACompressor(format=lzma.FORMAT_XZ, preset=0)
    zeros = bytes(1 << 20)
    packed = b"".join(xz.compress(zeros) for _ in range(1024)) + xz.flush()
    assert len(packed) < 1 << 20
    ptz = tmp_path / "final_model.int8.ptz"
    ptz.write_bytes(packed)
    p = subprocess.Popen([str(GOLF), "import", str(ptz), "--out", str(tmp_path / "out")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_kb = peak_rss_kb(p)
    err = p.stderr.read().decode()
    assert p.returncode == 1, (p.returncode, err)
    assert "it decompresses to more than 256 MB" in err, err
    assert peak_kb < 512 << 10, f"{peak_kb >> 10} MB resident"
    assert not (tmp_path / "out").exists()
