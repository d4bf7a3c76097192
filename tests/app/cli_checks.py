"""Shared helpers of the Python CLI contract tests: run superlens-cli, parse
its one JSON document, collect failed checks, and check one-line errors.
Standard library only. Environment: SUPERLENS_BIN_DIR."""
import json
import os
import subprocess
import sys

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def run_json(*args):
    code, out, err = run(*args, "--json")
    if code != 0:
        check(False, f"{args}: exit {code}: {err.strip()}")
        return None
    try:
        return json.loads(out)  # exactly one document: json.loads rejects trailing data
    except json.JSONDecodeError as e:
        check(False, f"{args}: stdout is not one JSON document: {e}")
        return None


def expect_error(code_wanted, *args, mention=None):
    code, out, err = run(*args)
    check(code == code_wanted, f"{args}: exit {code}, wanted {code_wanted} ({err.strip()})")
    check(code < 128, f"{args}: killed by a signal")
    if code_wanted == 1:
        lines = [l for l in err.splitlines() if l.strip()]
        check(len(lines) == 1, f"{args}: error should be one stderr line, got {lines}")
        check(out == "", f"{args}: stdout should stay empty on error, got {out[:200]!r}")
    if mention:
        check(mention in err, f"{args}: stderr should mention {mention!r}: {err.strip()}")


def finish(passed_message):
    """Exit 1 when any check failed, else print the message."""
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(passed_message)
