#!/usr/bin/env bash
# Runs every test: formatting, clippy (native and wasm), cargo tests, Python tests (pytest) and the
# headless-browser test of the built page. Installs what the tests need first, skipping what is there.
# Tests that need the shared data's large texts are skipped without it and listed at the end; in CI (CI=true),
# where the shared data is always present, a skipped test fails the run.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
if ! have_data; then
  if [ "${CI:-}" = true ]; then
    echo "error: CI needs the shared data at $GOLF_DATA (set GOLF_DATA to the folder holding fineweb/ and enwik8/)" >&2
    exit 1
  fi
  say "no shared data at $GOLF_DATA: the tests that need its large texts will be skipped"
fi
mkdir -p "$ROOT/target"
export GOLF_SKIP_LOG="$ROOT/target/skipped-tests.txt"
: >"$GOLF_SKIP_LOG"

rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
ensure_chromium
ensure_browser_test_deps
ensure_python_env

say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings
ensure_wasm_target
say "cargo clippy (wasm32)"
cargo clippy -p golf-web -p golf-core -p golf-gzip -p golf-tokenize -p golf-onnx -p golf-import -p golf-llama -p golf-engine --target wasm32-unknown-unknown --locked -- -D warnings
say "cargo test"
cargo test --workspace --locked
say "building the golf CLI (release)"
cargo build --release --locked -p golf-cli

build_page

say "Python tests"
"$ROOT/.venv/bin/python" -m pytest -q -rs "$ROOT/tests/python"

say "browser tests (headless Chromium)"
node "$ROOT/tests/browser/page.test.mjs"
node "$ROOT/tests/browser/mdlm.test.mjs"
node "$ROOT/tests/browser/views.test.mjs"
node "$ROOT/tests/browser/import.test.mjs"
node "$ROOT/tests/browser/workers.test.mjs"
node "$ROOT/tests/browser/webgpu.test.mjs"

if [ -s "$GOLF_SKIP_LOG" ]; then
  say "skipped tests ($(wc -l <"$GOLF_SKIP_LOG")):"
  sed 's/^/  /' "$GOLF_SKIP_LOG"
  if [ "${CI:-}" = true ]; then
    echo "error: tests were skipped in CI, where nothing may be" >&2
    exit 1
  fi
  say "all tests passed, except the skipped ones above"
else
  say "all tests passed (none skipped)"
fi
