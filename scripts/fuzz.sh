#!/usr/bin/env bash
# Runs the fuzz targets (fuzz/fuzz_targets/) with libFuzzer through cargo fuzz: each for SECONDS (default 30),
# starting from the committed seeds (fuzz/seeds/TARGET) and the corpus earlier runs grew (fuzz/corpus/TARGET,
# git-ignored). A crash, a hang (over 30 s for one input), or an allocation over 1 GB fails the run; libFuzzer
# writes the input to fuzz/artifacts/TARGET/ and prints how to replay it.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     e.g. scripts/fuzz.sh 3600 import share_link
# Installs cargo-fuzz if missing. The stable toolchain takes cargo fuzz's -Z flags with RUSTC_BOOTSTRAP=1.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
CARGO_FUZZ_VERSION=0.13.2
ensure_cargo_fuzz() {
  if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION (about 2 minutes)"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
}
seconds="${1:-30}"
shift || true
ensure_cargo_fuzz
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
say "building the fuzz targets (address sanitizer)"
cargo fuzz build --fuzz-dir fuzz -O --debug-assertions
mkdir -p target # the logs go there; a fresh clone may not have built anything yet
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  say "fuzzing $t for ${seconds} s"
  # Inputs up to 1 MB; -malloc_limit_mb: one allocation over 1 GB is a finding, as is RSS over 2 GB.
  set +e
  cargo fuzz run --fuzz-dir fuzz -O --debug-assertions "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$seconds" -max_len=1048576 -timeout=30 -malloc_limit_mb=1024 -rss_limit_mb=2048 \
    -print_final_stats=1 2>&1 | tee "target/fuzz-$t.log" |
    grep --line-buffered -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done [0-9])|ERROR|panicked|deadly signal|Test unit written'
  status=${PIPESTATUS[0]}
  set -e
  [ "$status" = 0 ] || { echo "error: fuzz target $t failed (exit $status): see target/fuzz-$t.log" >&2; exit 1; }
done
say "fuzzing passed: ${targets[*]} (${seconds} s each)"
