"""A model folder that is broken is refused with one line that names the file and the field, and says what to do;
never a silent wrong number (a manifest with "context": 0 used to score any text as 0.0 bits, exit status 0)."""

import json
import os
import shutil
import subprocess

import pytest
from places import GOLF, MODELS, VAL_DOCS


def copy_of(folder: str, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(MODELS / folder, models / folder)
    return models


def score(models, golfer: str, env=None):
    return subprocess.run([str(GOLF), "score", "--golfer", golfer, "--models", str(models), str(VAL_DOCS)],
                          capture_output=True, env=env)


def edit_manifest(models, folder: str, change):
    path = models / folder / "golfer.json"
    m = json.loads(path.read_text())
    change(m)
    path.write_text(json.dumps(m))


def one_line(r) -> str:
    assert r.returncode == 1, (r.returncode, r.stdout[:200])
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("field,value,says", [
    ("context", 0, '"context" is 0; it must be at least 2'),
    ("stride", 0, '"stride" is 0'),
    ("bos_id", 5000, '"bos_id" has id 5000, outside the vocabulary'),
    ("kind", "transformer", "unknown variant `transformer`, expected `autoregressive` or `diffusion`"),
    ("mask_id", None, 'a diffusion model needs "mask_id"'),
])
def test_a_manifest_that_makes_no_sense_is_refused(tmp_path, field, value, says):
    models = copy_of("mdlm", tmp_path)
    edit_manifest(models, "mdlm", lambda m: m.__setitem__(field, value))
    line = one_line(score(models, "mdlm"))
    assert says in line and "mdlm/golfer.json" in line, line


def test_a_missing_file_entry_is_named(tmp_path):
    models = copy_of("ar", tmp_path)
    edit_manifest(models, "ar", lambda m: m.pop("onnx"))
    line = one_line(score(models, "ar"))
    assert "ar/golfer.json" in line and "missing field `onnx`" in line, line


def test_a_missing_tokenizer_says_how_to_get_it_back(tmp_path):
    models = copy_of("ar", tmp_path)
    (models / "ar" / "fineweb_1024_bpe.model").unlink()
    line = one_line(score(models, "ar"))
    assert "fineweb_1024_bpe.model" in line and "git checkout models/ar/fineweb_1024_bpe.model" in line, line
    assert "export_onnx" not in line  # not "rebuild the ONNX model"


def test_an_empty_ort_dylib_path_means_unset():
    r = score(MODELS, "ar", env={**os.environ, "ORT_DYLIB_PATH": ""})
    assert r.returncode == 0, r.stderr.decode()
