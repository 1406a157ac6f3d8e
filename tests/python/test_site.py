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
