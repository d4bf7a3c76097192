#!/usr/bin/env bash
# Set up a fresh Debian 12 machine, build SuperLens and open the app on the
# bundled demo model. Extra arguments go to the app (e.g. --prompt "...").
#   usage: scripts/run_demo.sh [app arguments...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SUPERLENS_BUILD_DIR:-$here/build}"

if [ "$(id -u)" -eq 0 ]; then
  "$here/scripts/setup.sh"
else
  sudo "$here/scripts/setup.sh"
fi

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$(nproc)" --target superlens superlens-cli
exec "$build/bin/superlens" --model "$here/resources/models/demo" "$@"
