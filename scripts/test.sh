#!/usr/bin/env bash
# Runs every test: formatting, clippy (native and wasm), cargo tests, Python tests (pytest) and the
# headless-browser test of the built page. Installs what the tests need first, skipping what is there.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_data  # fail early and clearly when ../shared/data (or $GOLF_DATA) is missing

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
cargo clippy -p golf-web -p golf-core -p golf-gzip -p golf-tokenize -p golf-onnx --target wasm32-unknown-unknown --locked -- -D warnings
say "cargo test"
cargo test --workspace --locked
say "building the golf CLI (release)"
cargo build --release --locked -p golf-cli

build_page

say "Python tests"
"$ROOT/.venv/bin/python" -m pytest -q "$ROOT/tests/python"

say "browser tests (headless Chromium)"
node "$ROOT/tests/browser/page.test.mjs"
node "$ROOT/tests/browser/mdlm.test.mjs"
node "$ROOT/tests/browser/views.test.mjs"
say "all tests passed"
