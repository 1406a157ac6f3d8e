"""How the site is served: `scripts/serve.py` (cross-origin isolated, or `--plain` as GitHub Pages serves), and the
built site's `_headers` file, which asks the hosts that read one (Cloudflare Pages, Netlify) for what serve.py sends
(docs/deploying.md). `dist/` is built by scripts/test.sh before the Python tests."""

import contextlib
import re
import subprocess
import sys
import urllib.request

import pytest

from places import ROOT

DIST = ROOT / "dist"
ISOLATION = ("Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy", "Cross-Origin-Resource-Policy")


@contextlib.contextmanager
def serving(folder, *flags):
    """scripts/serve.py on a free port of 127.0.0.1, serving `folder`; yields its URL."""
    server = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "serve.py"), "--dir", str(folder),
                               "--port", "0", *flags], stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert m, f"serve.py said: {line!r}"
        yield m.group()
    finally:
        server.kill()
        server.wait()


def headers(url):
    with urllib.request.urlopen(url) as r:
        return {k.lower(): v for k, v in r.headers.items()}


@pytest.fixture
def site(tmp_path):
    (tmp_path / "index.html").write_text("<!DOCTYPE html><title>t</title>")
    (tmp_path / "a.mjs").write_text("export {};")
    (tmp_path / "b.wasm").write_bytes(b"\0asm\1\0\0\0")
    return tmp_path


def test_serve_isolates_every_response(site):
    with serving(site) as url:
        for name, mime in (("", "text/html"), ("a.mjs", "text/javascript"), ("b.wasm", "application/wasm")):
            h = headers(url + name)
            assert h["content-type"].startswith(mime), (name, h["content-type"])
            assert h["cross-origin-opener-policy"] == "same-origin"
            assert h["cross-origin-embedder-policy"] == "require-corp"
            assert h["cross-origin-resource-policy"] == "same-origin"


def test_serve_plain_sends_no_isolation_headers(site):
    """--plain serves as GitHub Pages does: the same files and MIME types, no isolation headers."""
    with serving(site, "--plain") as url:
        for name, mime in (("", "text/html"), ("a.mjs", "text/javascript"), ("b.wasm", "application/wasm")):
            h = headers(url + name)
            assert h["content-type"].startswith(mime), (name, h["content-type"])
            assert not [k for k in ISOLATION if k.lower() in h], h


def test_headers_file_asks_for_what_serve_sends(site):
    """`dist/_headers`: every path (`/*`) gets the isolation headers scripts/serve.py sends, with the same values."""
    if not (DIST / "index.html").is_file():
        pytest.skip("needs the built page in dist/ (scripts/build.sh)")
    path = DIST / "_headers"
    assert path.is_file(), "dist/_headers is missing (web/index.html copies web/_headers)"
    rules, current = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = rules.setdefault(line.strip(), {})
        elif current is not None:
            name, _, value = line.strip().partition(":")
            current[name.strip()] = value.strip()
    with serving(site) as url:
        sent = headers(url)
    assert rules.get("/*") == {k: sent[k.lower()] for k in ISOLATION}, rules


def built():
    if not (DIST / "index.html").is_file():
        pytest.skip("needs the built page in dist/ (scripts/build.sh)")
    return [p for p in DIST.rglob("*") if p.is_file()]


def test_no_file_of_the_site_is_too_large_for_a_static_host():
    """Cloudflare Pages refuses files over 25 MiB (GitHub warns at 50 MB): the build serves larger ones in parts of
    at most 16 MiB (scripts/stage_parts.py), which the page reads whole only up to."""
    large = {str(p.relative_to(DIST)): p.stat().st_size for p in built() if p.stat().st_size > 16 << 20}
    assert not large, large


def test_parts_join_to_the_files_their_manifests_describe():
    """Each NAME.parts.json: its parts, in order, are NAME's bytes (sha256 and size of each part and of the whole),
    and a model's is the file its golfer.json names, by its sha256."""
    import hashlib
    import json

    manifests = [p for p in built() if p.name.endswith(".parts.json")]
    named = {str(p.relative_to(DIST)) for p in manifests}
    # The WebGPU build's wasm is always parts; so is SmolLM2's graph (96.9 MB).
    assert {"ort/ort-wasm-simd-threaded.asyncify.wasm.parts.json", "models/smollm2/model.onnx.parts.json"} <= named
    for m in manifests:
        parts = json.loads(m.read_text())
        assert m.name == parts["file"] + ".parts.json"
        whole = hashlib.sha256()
        size = 0
        for part in parts["parts"]:
            data = (m.parent / part["path"]).read_bytes()
            assert 0 < len(data) == part["bytes"] <= 16 << 20, part["path"]
            assert hashlib.sha256(data).hexdigest() == part["sha256"], part["path"]
            whole.update(data)
            size += len(data)
        assert (size, whole.hexdigest()) == (parts["bytes"], parts["sha256"]), m
        assert not (m.parent / parts["file"]).exists(), f"{parts['file']} is served both whole and in parts"
    for golfer in DIST.glob("models/*/golfer.json"):
        onnx = json.loads(golfer.read_text())["onnx"]
        parted = golfer.parent / (onnx["path"] + ".parts.json")
        if parted.exists():
            parts = json.loads(parted.read_text())
            assert (parts["sha256"], parts["bytes"]) == (onnx["sha256"], onnx["bytes"]), golfer
        else:
            assert onnx["bytes"] <= 16 << 20, f"{golfer}: a graph over 16 MiB must be served in parts"
            assert hashlib.sha256((golfer.parent / onnx["path"]).read_bytes()).hexdigest() == onnx["sha256"]
