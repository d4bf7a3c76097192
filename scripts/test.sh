#!/usr/bin/env bash
# Set up a fresh Debian 12 machine, build SuperLens and run the whole test
# suite (core, CLI, GUI offscreen). Ends with ctest's summary.
#   usage: scripts/test.sh [BUILD_DIR]     (default: build)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"

if [ "$(id -u)" -eq 0 ]; then
  "$here/scripts/setup.sh"
else
  sudo "$here/scripts/setup.sh"
fi

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)"
export QT_QPA_PLATFORM=offscreen
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
