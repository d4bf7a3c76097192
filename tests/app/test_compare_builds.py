#!/usr/bin/python3
"""bench/compare_builds.py against two stand-in builds whose bench_forward
prints fixed figures: the alternating order and the ratios, worked out by
hand, including a run without decode steps (--decode 0), whose zero decode
rate and generation time once stopped the script with a division by zero.

Run by CTest with SUPERLENS_SOURCE_DIR set."""
import json
import os
import stat
import subprocess
import tempfile
import unittest

SCRIPT = os.path.join(os.environ["SUPERLENS_SOURCE_DIR"], "bench", "compare_builds.py")

# bench_forward --json as build `who` prints it; decode figures are zero with --decode 0.
FAKE = r'''#!/usr/bin/python3
import json, os, sys
args = sys.argv[1:]
who = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
decode = int(args[args.index("--decode") + 1])
rate = {"old": 10.0, "new": 25.0}[who]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(who + "\n")
print(json.dumps({"forward_tok_s": rate, "recorded_tok_s": rate * 0.9, "decode_tok_s": rate / 10 if decode else 0.0,
                  "incremental_seconds": 1.0 / rate, "forward_cpu_seconds": 2.0 / rate, "recorded_cpu_seconds": 2.2 / rate,
                  "generate_cpu_seconds": 3.0 / rate if decode else 0.0}))
'''


class CompareBuilds(unittest.TestCase):
    def run_fake(self, decode):
        with tempfile.TemporaryDirectory() as d:
            for who in ("old", "new"):
                os.makedirs(os.path.join(d, who, "bin"))
                path = os.path.join(d, who, "bin", "bench_forward")
                with open(path, "w") as f:
                    f.write(FAKE)
                os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
            log = os.path.join(d, "calls.log")
            p = subprocess.run(["/usr/bin/python3", SCRIPT, "--old", os.path.join(d, "old"), "--new", os.path.join(d, "new"), "model",
                                "--rounds", "3", "--decode", str(decode), "--tokens", "4"],
                               capture_output=True, text=True, env=dict(os.environ, FAKE_LOG=log), timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(log) as f:
                return p.stdout, f.read().split()

    def test_rounds_alternate_and_ratios_are_new_over_old(self):
        out, calls = self.run_fake(16)
        self.assertEqual(calls, ["old", "new", "new", "old", "old", "new"])
        self.assertIn("| forward_tok_s | 10.00 | 25.00 | **2.500** | 10.00 | 25.00 | 2.500 |", out)
        self.assertIn("| decode_tok_s | 1.00 | 2.50 | **2.500** |", out)
        # CPU seconds: old / new, so > 1 still means the new build is faster.
        self.assertIn("| CPU s per prompt pass (lower is better) | 0.200 | 0.080 | **2.500** (old/new) |", out)

    def test_without_decode_steps_the_decode_ratios_are_not_available(self):
        out, _ = self.run_fake(0)
        self.assertIn("| forward_tok_s | 10.00 | 25.00 | **2.500** |", out)
        self.assertIn("| decode_tok_s | 0.00 | 0.00 | **n/a** | 0.00 | 0.00 | n/a |", out)
        self.assertIn("| CPU s per generation (lower is better) | 0.000 | 0.000 | **n/a** (old/new) |", out)


if __name__ == "__main__":
    unittest.main()
