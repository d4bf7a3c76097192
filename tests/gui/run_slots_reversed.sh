#!/bin/sh
# Runs every test slot of a Qt Test binary in reverse declaration order
# (initTestCase/init/cleanup still wrap them): a slot that only passes after
# another one has run fails here.
set -e
bin="$1"
slots=$("$bin" -functions | sed 's/()$//' | tac)
if [ -z "$slots" ]; then
    echo "run_slots_reversed.sh: $bin lists no test slots" >&2
    exit 1
fi
# shellcheck disable=SC2086  # one argument per slot name
exec "$bin" $slots
