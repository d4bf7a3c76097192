#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for SECONDS (default 60):
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# The same as tests/fuzz/run.sh (see there and docs/RELIABILITY.md#fuzzing).
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/fuzz/run.sh" "$@"
