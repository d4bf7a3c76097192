#!/usr/bin/env bash
# The test suite under AddressSanitizer + UndefinedBehaviorSanitizer: builds
# core, the CLI, the Python module and their tests with
# -fsanitize=address,undefined (SUPERLENS_SANITIZE=ON, gcc, -O1 -g1; no GUI,
# no benchmarks) in BUILD_DIR (default build-asan/) and runs every test of
# that build. Any sanitizer report fails its test (halt_on_error). Extra
# arguments go to ctest (e.g. -L core, -R cache); SANITIZE_TARGETS="t1 t2"
# builds only those targets (for a ctest selection).
#
#   scripts/sanitize.sh [BUILD_DIR] [CTEST ARGS...]
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

start=$(date +%s)
# -O1 -g1: the sanitizers' usual optimisation level, with line tables for the
# reports' stack traces; it compiles in about half the time of -O2 -g.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSUPERLENS_SANITIZE=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DSUPERLENS_BUILD_GUI=OFF -DSUPERLENS_BUILD_BENCH=OFF >/dev/null
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
export ASAN_OPTIONS="${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:allocator_may_return_null=1}"
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
