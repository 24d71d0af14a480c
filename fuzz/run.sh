#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, one after the other, on one core.
#   fuzz/run.sh 20                     # what CI does
#   fuzz/run.sh 3600 server_session    # a long run of one target
# cargo-fuzz on the stable toolchain: --sanitizer none (AddressSanitizer needs nightly's -Z flags;
# safe Rust does not need it). libFuzzer's last "Done N runs in S second(s)" line is the figure.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
cargo fuzz build --sanitizer none
mkdir -p logs
failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target (${seconds}s)"
  status=0
  cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"logs/$target.log" 2>&1 || status=$?
  grep -E '^Done|^stat::(number_of_executed_units|peak_rss_mb)|panicked at|SUMMARY|Test unit written' \
    "logs/$target.log" || true
  if [ "$status" -ne 0 ]; then
    grep -A12 'panicked at' "logs/$target.log" >&2 || tail -40 "logs/$target.log" >&2
    failed+=("$target")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz targets failed: ${failed[*]}" >&2; exit 1; }
