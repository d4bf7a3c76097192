#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer: builds
# core, the CLI, the GUI, the Python module and their tests with
# -fsanitize=address,undefined (SUPERLENS_SANITIZE=ON, gcc, -O1 -g1; no
# benchmarks) in BUILD_DIR (default build-asan/) and runs every test of that
# build (GUI tests offscreen). Any sanitizer report fails its test
# (halt_on_error; leaks too, LeakSanitizer). Extra arguments go to ctest
# (e.g. -L core, -R cache); SANITIZE_TARGETS="t1 t2" builds only those
# targets (for a ctest selection).
#
#   scripts/sanitize.sh [BUILD_DIR] [CTEST ARGS...]
#   scripts/sanitize.sh [BUILD_DIR] --ci      the subset .ci/run runs (below)
#
# --ci builds core and the executables of the tests in ci_tests only, and
# runs exactly those: every fuzz replay (each parser, all of core linked, on
# its seed corpus and its crash regressions, with a leak check per input) and
# the core tests of damaged and hostile files (model folders, HDF5 caches,
# output files, non-finite weights, GGUF, tokenizers), and the kernels that
# read weights stored at odd offsets (Conv1D layout, single-token GEMV).
# The whole suite does not fit CI's budget (docs/RELIABILITY.md, "Sanitizers").
#
# The build runs under `nice` already: start the script without an outer
# `nice` (nice 19 compilers get almost nothing on a shared machine).
#
# Measured and reported in docs/RELIABILITY.md ("Sanitizers").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build-asan"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build="$1"
  shift
fi
jobs="${SUPERLENS_JOBS:-$(nproc)}"

# The CI subset (--ci): tests whose executables build from core plus one
# file each. Keep in step with docs/RELIABILITY.md.
ci_tests=(fuzz_replay_gguf fuzz_replay_gguf_tokenizer fuzz_replay_safetensors fuzz_replay_shard_index
          fuzz_replay_config fuzz_replay_edit_spec fuzz_replay_npy fuzz_replay_image
          fuzz_replay_preprocessor_config fuzz_replay_imatrix fuzz_replay_tokenizer_json
          fuzz_replay_tokenizer_model fuzz_replay_prompt fuzz_replay_cache
          test_model_loading test_cache_damaged test_cache_mismatch test_output_file test_non_finite
          test_gguf_reader test_tokenizer_loading test_sentencepiece_rules
          test_transposed_weight test_gemm_paths)
# More runs of those executables: the GEMM kernel forced in each ISA (the
# automatic choice above takes only the CPU's best).
ci_reruns=(test_gemm_path_avx512 test_gemm_path_avx2)
if [ "${1:-}" = "--ci" ]; then
  shift
  SANITIZE_TARGETS="${ci_tests[*]}"
  all=("${ci_tests[@]}" "${ci_reruns[@]}")
  set -- -R "^($(IFS='|'; echo "${all[*]}"))\$" "$@"
fi

start=$(date +%s)
# -O1 -g1: the sanitizers' usual optimisation level, with line tables for the
# reports' stack traces; it compiles in about half the time of -O2 -g.
# -fdebug-prefix-map: debug information names paths relative to the source
# tree, so ccache (which hashes the compiling directory when -g is on) reuses
# these objects from any clone (CI's fresh folder, another worktree).
dbg="-O1 -g1 -DNDEBUG -fdebug-prefix-map=$root=."
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSUPERLENS_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$dbg" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$dbg" \
  -DSUPERLENS_BUILD_GUI=ON -DSUPERLENS_BUILD_BENCH=OFF >/dev/null
# SANITIZE_TARGETS: build only these targets (e.g. the tests a ctest -R picks).
if [ -n "${SANITIZE_TARGETS:-}" ]; then
  # shellcheck disable=SC2086
  nice cmake --build "$build" -j "$jobs" --target $SANITIZE_TARGETS
else
  nice cmake --build "$build" -j "$jobs"
fi
built=$(date +%s)

# Leaks are reported too (LeakSanitizer); the first report ends the process.
# allocator_may_return_null: malloc fails as the C library's does for absurd
# sizes (libhdf5 asks for sizes read from damaged files before checking them,
# e.g. 2 TB in test_cache_damaged; our own code then gets std::bad_alloc).
# intercept_tls_get_addr=0: with gcc 12's runtime on Debian 12's glibc 2.36,
# LeakSanitizer's end-of-process scan recorded a dynamic-TLS block of a
# dlopen'ed library at a bogus range ("DTLS 17 at 0x6663-0x800007765" with
# LSAN_OPTIONS=verbosity=1) and crashed reading it ("Tracer caught signal 11",
# `figure --from` in test_figure_provenance, every time). Without the
# interception, dynamic TLS is not a root of the scan: an object held only
# there would be reported as a leak (a false report, never a missed one).
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:allocator_may_return_null=1:intercept_tls_get_addr=0}"
# Third-party leaks SuperLens cannot fix (each explained in the file).
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export QT_QPA_PLATFORM=offscreen
set +e
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@"
rc=$?
set -e
echo "sanitize: build $((built - start)) s, tests $(( $(date +%s) - built )) s, ctest exit $rc"
exit $rc
