#!/usr/bin/env bash
# Set up a fresh Debian 12 machine, build SuperLens and run the whole test
# suite (core, CLI, GUI offscreen). Ends with ctest's summary.
#   usage: scripts/test.sh [BUILD_DIR]     (default: build)
#          scripts/test.sh --sanitize [BUILD_DIR] [--ci] [CTEST ARGS...]
#             the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#             (scripts/sanitize.sh; default build-asan/, GUI offscreen);
#             .ci/run runs its --ci subset after the normal suite
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  shift
fi

if [ "$(id -u)" -eq 0 ]; then
  "$here/scripts/setup.sh"
else
  sudo "$here/scripts/setup.sh"
fi

if [ $sanitize -eq 1 ]; then
  exec "$here/scripts/sanitize.sh" "$@"
fi

build="${1:-$here/build}"
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)"
export QT_QPA_PLATFORM=offscreen
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
