#!/usr/bin/env bash
# Builds the page into dist/ (installs trunk, wasm-bindgen, wasm-opt and ONNX Runtime Web first if missing, and
# builds models/smollm2 once): what scripts/serve.sh does before serving, scripts/test.sh before the browser tests,
# and the GitHub Pages workflow (.github/workflows/pages.yml) before deploying.
source "$(dirname "$0")/lib.sh"
build_page
