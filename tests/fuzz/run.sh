#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs
# each for SECONDS (default 60), one job, at nice 15 (SUPERLENS_FUZZ_NICE), on a scratch copy of its
# corpus (the stored corpus is not modified); crash inputs land in
# build-fuzz/fuzz-artifacts/<target>/. Prints one summary line per target.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      targets: gguf gguf_tokenizer safetensors shard_index config edit_spec
#                                                          experiment npy image preprocessor_config imatrix tokenizer_json
#                                                          tokenizer_model prompt cache superweight_study
#
# Needs clang and libFuzzer (Debian: clang, libfuzzer-14-dev). Set
# SUPERLENS_FUZZ_MESSAGES=off to fuzz for crashes only (see fuzz_common.h),
# SUPERLENS_FUZZ_RUNS=1000000 to stop each target after that many executions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(gguf gguf_tokenizer safetensors shard_index config edit_spec experiment npy image preprocessor_config
                                     imatrix tokenizer_json tokenizer_model prompt cache superweight_study)
build="${SUPERLENS_FUZZ_BUILD_DIR:-$root/build-fuzz}"

if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DSUPERLENS_BUILD_FUZZ=ON \
    -DSUPERLENS_BUILD_GUI=OFF -DSUPERLENS_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# SUPERLENS_FUZZ_NO_BUILD=1: run what is built (e.g. while other targets build).
[ -n "${SUPERLENS_FUZZ_NO_BUILD:-}" ] || nice ninja -C "$build" -j2 $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

# Third-party leaks SuperLens cannot fix (each explained in the file).
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
for t in "${targets[@]}"; do
  work="$(mktemp -d)"
  cp -r "$here/corpus/$t/." "$work/"
  [ -d "$here/regressions/$t" ] && cp -r "$here/regressions/$t/." "$work/" 2>/dev/null || true
  rm -f "$work"/open-*   # known open findings would stop the run at once
  mkdir -p "$build/fuzz-artifacts/$t"
  dict=()
  case "$t" in
    gguf|gguf_tokenizer) dict=(-dict="$here/gguf.dict") ;;
    safetensors|shard_index|config|preprocessor_config|tokenizer_json) dict=(-dict="$here/json.dict") ;;
    edit_spec) dict=(-dict="$here/edit_spec.dict") ;;
  esac
  # Inputs longer than a target needs only slow it down (libFuzzer's default
  # is the largest seed): a tokenizer.json of 16 KB already holds every
  # section with a few hundred vocabulary entries and merges.
  extra=()
  case "$t" in
    tokenizer_json) extra=(-max_len=16384) ;;
    shard_index|config|preprocessor_config|prompt|edit_spec) extra=(-max_len=8192) ;;
    # libhdf5 allocates sizes read from a damaged file before it checks them
    # (2 TB for regressions/cache/libhdf5-allocates-2tb-for-a-damaged-header.h5);
    # the C library's malloc refuses such a request and libhdf5 reports an
    # error, so the fuzzer's allocator must refuse too instead of aborting.
    cache) extra=(-malloc_limit_mb=4194304) ;;
  esac
  asan="${ASAN_OPTIONS:-}"
  [ "$t" = cache ] && asan="allocator_may_return_null=1${asan:+:$asan}"
  log="$build/fuzz-artifacts/$t/last-run.log"
  # SUPERLENS_FUZZ_RUNS=N stops after N executions (SECONDS stays the cap).
  [ -n "${SUPERLENS_FUZZ_RUNS:-}" ] && extra+=(-runs="$SUPERLENS_FUZZ_RUNS")
  began=$(date +%s)
  set +e
  ASAN_OPTIONS="$asan" nice -n "${SUPERLENS_FUZZ_NICE:-15}" "$build/fuzz/fuzz_$t" "${dict[@]}" "${extra[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t/" "$work" >"$log" 2>&1
  rc=$?
  set -e
  took=$(( $(date +%s) - began ))
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')"
  size="$(ls "$work" | wc -l)"
  if [ $rc -eq 0 ]; then
    echo "fuzz_$t: $execs executions in ${took} s, coverage $cov edges, corpus $size inputs, no crash"
  else
    echo "fuzz_$t: FAILED after $execs executions (exit $rc): see $log and $build/fuzz-artifacts/$t/"
  fi
  rm -rf "$work"
done
