#!/usr/bin/python3
"""bench/gemv_crossover.py against a stand-in bench_forward whose rates
follow a model worked out by hand: the GEMV at 80 tok/s whatever the
tokens, the kernel at 90 tok/s times the share of its 32-token panels the
tokens fill. The rotating order of the two settings, the environment each
run gets, the ratios and the crossover.

Run by CTest with SUPERLENS_SOURCE_DIR set."""
import os
import stat
import subprocess
import tempfile
import unittest

SCRIPT = os.path.join(os.environ["SUPERLENS_SOURCE_DIR"], "bench", "gemv_crossover.py")

FAKE = r'''#!/usr/bin/python3
import json, math, os, sys
args = sys.argv[1:]
tokens = int(args[args.index("--tokens") + 1])
limit = os.environ.get("SUPERLENS_GEMV_TOKENS")
gemv = limit is not None and tokens <= int(limit) if limit else tokens <= 24
rate = 80.0 if gemv else 90.0 * tokens / (32 * math.ceil(tokens / 32))
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write("%s,%s,%s\n" % (tokens, limit or "unset", os.environ.get("SUPERLENS_GEMM", "")))
print("model ...")
print(json.dumps({"forward_tok_s": rate, "gemm_kernel": "AVX-512 GEMV" if gemv else "AVX-512 kernel"}))
'''


class GemvCrossover(unittest.TestCase):
    def run_fake(self, *args):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "bin"))
            path = os.path.join(d, "bin", "bench_forward")
            with open(path, "w") as f:
                f.write(FAKE)
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
            log = os.path.join(d, "calls.log")
            env = dict(os.environ, FAKE_LOG=log, SUPERLENS_GEMV_TOKENS="5")  # the script sets its own
            p = subprocess.run(["/usr/bin/python3", SCRIPT, "--build", d, "model", *args], capture_output=True, text=True, env=env,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(log) as f:
                return p.stdout, f.read().split()

    def test_order_ratios_and_crossover(self):
        out, calls = self.run_fake("--tokens", "16,28,31", "--rounds", "2", "--gemm", "avx2")
        # Per count: round 1 GEMV then kernel, round 2 the other way round, then the default limits once.
        self.assertEqual(calls[:5], ["16,64,avx2", "16,1,avx2", "16,1,avx2", "16,64,avx2", "16,unset,avx2"])
        self.assertEqual(len(calls), 15)
        # 16 tokens: 80 against 90 * 16 / 32 = 45 -> 1.78x; 28: 80 / 78.75 = 1.016; 31: 80 / 87.1875 = 0.918.
        self.assertIn("| 16 | 80.0 | 45.0 | **1.78x** | 2 of 2 | AVX-512 kernel | AVX-512 GEMV |", out)
        self.assertIn("| 28 | 80.0 | 78.8 | **1.02x** | 2 of 2 | AVX-512 kernel | AVX-512 kernel |", out)
        self.assertIn("| 31 | 80.0 | 87.2 | **0.92x** | 0 of 2 | AVX-512 kernel | AVX-512 kernel |", out)
        self.assertIn("GEMV ahead at: 16, 28; behind at: 31; the largest count it won: 28 tokens", out)
        self.assertIn("(SUPERLENS_GEMM=avx2)", out)

    def test_a_gemv_that_wins_nothing(self):
        out, calls = self.run_fake("--tokens", "31", "--rounds", "1")
        self.assertEqual(calls, ["31,64,", "31,1,", "31,unset,"])
        self.assertIn("GEMV ahead at: none; behind at: 31; the largest count it won: none (the kernels from 2 tokens)", out)

    def test_bad_token_counts_are_refused(self):
        p = subprocess.run(["/usr/bin/python3", SCRIPT, "model", "--tokens", "1,16"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--tokens: counts of 2 or more", p.stderr)


if __name__ == "__main__":
    unittest.main()
