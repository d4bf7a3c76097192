#!/usr/bin/python3
"""bench_forward --read-pairs on the bundled demo model: every decode step
between two reads of memory, each step's ratio recomputed here from the
fields it reports (the matrices a token reads, worked out from the demo's
config by hand; the step's time; the reads on its two sides), the 10 % rule
for the steps that count, and their median. bench_machine --memory-only:
the GEMV alone between reads, by the same rule.

Run by CTest with SUPERLENS_SOURCE_DIR and SUPERLENS_BIN_DIR set."""
import json
import os
import statistics
import subprocess
import unittest

# The demo (resources/models/demo/config.json): hidden 128, MLP 384, 6
# layers, 4 heads and 4 KV heads of 32, gated MLP, vocabulary 2048, f32.
# Per block q, k, v, o: 4 x 128 x 128; gate, up, down: 3 x 128 x 384; then
# the head 2048 x 128; 4 bytes each.
DEMO_MATRIX_BYTES = (6 * (4 * 128 * 128 + 3 * 128 * 384) + 2048 * 128) * 4


class ReadPairs(unittest.TestCase):
    def test_each_step_against_the_reads_around_it(self):
        binary = os.path.join(os.environ.get("SUPERLENS_BIN_DIR", ""), "bench_forward")
        if not os.path.exists(binary):
            self.skipTest("bench_forward not built (SUPERLENS_BUILD_BENCH=OFF)")
        model = os.path.join(os.environ["SUPERLENS_SOURCE_DIR"], "resources", "models", "demo")
        p = subprocess.run([binary, model, "--tokens", "4", "--repeat", "1", "--decode", "2", "--no-blas-baseline",
                            "--read-pairs", "5", "--json"], capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        j = json.loads(p.stdout)
        pairs = j["read_pairs"]
        self.assertEqual(DEMO_MATRIX_BYTES, 6160384)
        self.assertAlmostEqual(pairs["matrix_gb"], DEMO_MATRIX_BYTES / 1e9, places=12)
        steps = pairs["steps"]
        self.assertEqual(len(steps), 5)
        kept = []
        for i, s in enumerate(steps):
            self.assertGreater(s["step_s"], 0)
            self.assertGreater(s["read_before_gb_s"], 0)
            if i > 0:  # one read between two steps: after the one, before the next
                self.assertEqual(s["read_before_gb_s"], steps[i - 1]["read_after_gb_s"])
            self.assertAlmostEqual(s["step_gb_s"], DEMO_MATRIX_BYTES / 1e9 / s["step_s"], delta=1e-9 * s["step_gb_s"])
            before, after = s["read_before_gb_s"], s["read_after_gb_s"]
            # The reads stay outside the step: one pass over the 1 GiB buffer
            # takes longer than a decode step of the demo (about 0.1 ms).
            self.assertLess(s["step_s"], 2**30 / 1e9 / max(before, after))
            ratio = s["step_gb_s"] / ((before + after) / 2)
            self.assertAlmostEqual(s["ratio"], ratio, delta=1e-9 * ratio)
            same = abs(before - after) <= 0.10 * max(before, after)
            self.assertEqual(s["same_mode"], same, s)
            if same:
                kept.append(ratio)
        self.assertEqual(pairs["kept"], len(kept))
        self.assertAlmostEqual(pairs["ratio_median"], statistics.median(kept) if kept else 0.0,
                               delta=1e-9 * max(kept, default=1.0))
        # The model's pages (bench/page_state.h): its one file, mapped; every
        # matrix was read, so at least those bytes are resident, and at most
        # the file rounded up to 4 KiB pages; some or none through 2 MiB pages.
        pages = j["model_pages"]
        self.assertEqual(pages["mappings"], 1)
        size = os.path.getsize(os.path.join(model, "model.safetensors"))
        self.assertGreaterEqual(pages["resident_mb"] * 2**20, DEMO_MATRIX_BYTES)
        self.assertLessEqual(pages["resident_mb"] * 2**20, (size + 4095) // 4096 * 4096)
        self.assertGreaterEqual(pages["pmd_mb"], 0)
        self.assertLessEqual(pages["pmd_mb"], pages["resident_mb"])
        # The peak RSS is taken before the 1 GiB read buffer exists.
        self.assertLess(j["peak_rss_gb"], 0.9)


    def test_the_gemv_alone_between_reads(self):
        binary = os.path.join(os.environ.get("SUPERLENS_BIN_DIR", ""), "bench_machine")
        if not os.path.exists(binary):
            self.skipTest("bench_machine not built (SUPERLENS_BUILD_BENCH=OFF)")
        p = subprocess.run([binary, "--memory-only", "--json"], capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        gemv = json.loads(p.stdout)["gemv"]
        self.assertEqual(sorted((g["dtype"], g["pages"]) for g in gemv),
                         [("BF16", "2M (THP)"), ("BF16", "4K"), ("F32", "2M (THP)"), ("F32", "4K")])
        for g in gemv:
            each = g["each"]
            self.assertEqual(len(each), g["passes"])
            self.assertEqual(g["gb_s"], max(e["gb_s"] for e in each))
            shares = []
            for i, e in enumerate(each):
                if i > 0:  # the read after one pass is the read before the next
                    self.assertEqual(e["read_before_gb_s"], each[i - 1]["read_after_gb_s"])
                before, after = e["read_before_gb_s"], e["read_after_gb_s"]
                if abs(before - after) <= 0.10 * max(before, after):
                    shares.append(e["gb_s"] / ((before + after) / 2))
            self.assertEqual(g["kept"], len(shares), g)
            self.assertAlmostEqual(g["share_of_reads_around"], statistics.median(shares) if shares else 0.0, places=9)


if __name__ == "__main__":
    unittest.main()
