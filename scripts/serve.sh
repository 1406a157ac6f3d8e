#!/usr/bin/env bash
# Builds the page and serves it on 127.0.0.1 (installs trunk, wasm-bindgen and wasm-opt first if missing).
# Usage: scripts/serve.sh [PORT]   (default 8080)
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/build.sh"
exec python3 "$ROOT/scripts/serve.py" --dir "$ROOT/dist" --port "${1:-8080}"
