#!/usr/bin/python3
"""bench/same_run_summary.py: issue 22's ratios from a bench/same_run.sh
output, checked against values worked out by hand for a made-up two-round
output (and an old output without rounds).

Run by CTest with SUPERLENS_SOURCE_DIR set."""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.environ["SUPERLENS_SOURCE_DIR"], "bench", "same_run_summary.py")
spec = importlib.util.spec_from_file_location("same_run_summary", SCRIPT)
summary = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary)


def step(time, label, payload=None, text=()):
    lines = [f"### {time} load 1.00 1.50 1.75 {label}"]
    if payload is not None:
        lines.append(json.dumps(payload))
    return lines + list(text)


def llama(prompt, decode):
    return {"prompt_tok_s": prompt, "decode_tok_s": decode, "prompt_s": [1, 2, 3]}


def superlens(prompt_median, decode, gflops, pairs, gb_s, read_pairs=None, pages=None):
    j = {"forward_tok_s": prompt_median * 1.1, "forward_tok_s_median": prompt_median, "decode_tok_s": decode,
         "gflops": gflops, "recording_pair_ratios": pairs, "recording_overhead_paired_median": 0.5,
         "decode_matrix_gb_s": gb_s}
    if pages is not None:  # bench_forward's model_pages: (resident MB, MB through 2 MiB pages)
        j["model_pages"] = {"mappings": 1, "resident_mb": pages[0], "pmd_mb": pages[1]}
    if read_pairs is not None:  # bench_forward --read-pairs: (steps that count, their median ratio)
        j["read_pairs"] = {"kept": read_pairs[0], "ratio_median": read_pairs[1], "steps": []}
    return j


def two_rounds():
    out = step("10:00:00", "start") + ["Model name: Test CPU", "abc1234 commit"]
    out += step("10:00:01", "decode X=1", {"decode_tok_s": 99.0})
    out += step("10:00:02", "bench_machine", {"cpu": "Test CPU", "best_gemm_gflops": 200.0, "best_gemm_core": "engine f32 Linear"})
    rounds = {
        1: dict(mem=40.0, gemv=(0.84, 0.93, 5), l32=(30.0, 8.0), l32fa=(31.0, 9.0), l16=(40.0, 14.0), l16fa=(44.0, 13.0),
                f32=superlens(88.0, 8.2, 150.0, [1.02, 1.04, 1.01], 34.0, (14, 0.91)),
                bf16=superlens(99.0, 15.0, 170.0, [0.99, 1.03, 1.00], 30.0, (0, 0.0)),
                torch=(48.0, 44.0)),
        2: dict(mem=50.0, gemv=(0.80, 0.0, 0), l32=(30.0, 10.0), l32fa=(29.0, 8.0), l16=(50.0, 15.0), l16fa=(40.0, 16.0),
                f32=superlens(80.0, 9.0, 140.0, [1.06, 1.00, 1.08], 45.0, (16, 0.83), (4000.0, 1000.0)),
                bf16=superlens(90.0, 17.6, 160.0, [1.02, 1.01, 1.05], 40.0, (9, 0.86), (2000.0, 0.0)),
                torch=(55.0, 50.0)),
    }
    for r, d in rounds.items():
        # The GEMV alone: its best pass (GB/s) and its share of the reads around
        # it, of the passes that counted; round 2's f32 had none.
        gemv = [{"dtype": "BF16", "pages": "4K", "gb_s": 1.0, "share_of_reads_around": 0.5, "kept": 5},
                {"dtype": "BF16", "pages": "2M (THP)", "gb_s": d["mem"] - 8.0, "share_of_reads_around": d["gemv"][0], "kept": 4},
                {"dtype": "F32", "pages": "2M (THP)", "gb_s": d["mem"] - 4.0, "share_of_reads_around": d["gemv"][1], "kept": d["gemv"][2]}]
        # Each round first drops and reads the checkpoints again: text only, no measurement.
        out += step(f"10:0{r}:00", f"round {r} page_cache", None, ["/w/tinyllama-f32: 4.40 GB dropped and read in 3.0 s"])
        out += step(f"10:0{r}:00", f"round {r} memory", {"read_gb_s_all_threads": d["mem"], "gemv": gemv})
        out += step(f"10:0{r}:01", f"round {r} llama.cpp f32 ", llama(*d["l32"]))
        out += step(f"10:0{r}:02", f"round {r} llama.cpp f16 ", llama(*d["l16"]))
        out += step(f"10:0{r}:03", f"round {r} llama.cpp f32 --flash-attn", llama(*d["l32fa"]))
        out += step(f"10:0{r}:04", f"round {r} llama.cpp f16 --flash-attn", llama(*d["l16fa"]))
        out += step(f"10:0{r}:05", f"round {r} superlens tinyllama-f32", d["f32"])
        out += step(f"10:0{r}:06", f"round {r} superlens tinyllama-bf16", d["bf16"])
        best, med = d["torch"]
        out += step(f"10:0{r}:07", f"round {r} pytorch", {"forward_tok_s": best, "forward_tok_s_median": med})
    out += step("10:03:00", "gui_toggle", None, ["QStandardPaths: noise", "toggle on  -> all views updated: median 71.5 ms, max 600 ms",
                                                "toggle off -> all views updated: median 20.0 ms"])
    out += step("10:03:10", "7b", {"incremental_seconds": 2.7, "peak_rss_gb": 13.6, "checkpoint_gb": 13.4})
    out += step("10:04:00", "end")
    return [line + "\n" for line in out]


class SameRunSummary(unittest.TestCase):
    def targets(self, lines):
        return {t["target"]: t for t in summary.summarise(lines)["targets"]}

    def test_ratios_are_taken_within_each_round_then_their_median(self):
        t = self.targets(two_rounds())
        # llama.cpp F16 prompt: 40 and 50 without flash attention (median 45),
        # 44 and 40 with it (42), so every round counts against the first.
        self.assertEqual(t["prompt f32 / llama.cpp F16"]["rounds"], [88.0 / 40.0, 80.0 / 50.0])
        self.assertAlmostEqual(t["prompt f32 / llama.cpp F16"]["median"], (2.2 + 1.6) / 2)
        self.assertTrue(t["prompt f32 / llama.cpp F16"]["met"])
        self.assertEqual(t["prompt f32 / llama.cpp F16"]["rounds_met"], 2)
        # PyTorch's median rate (44, 50), not its best (48, 55).
        self.assertEqual(t["prompt bf16 / PyTorch fp32"]["rounds"], [99.0 / 44.0, 90.0 / 50.0])
        self.assertAlmostEqual(t["prompt bf16 / PyTorch fp32"]["median"], (2.25 + 1.8) / 2)
        self.assertTrue(t["prompt bf16 / PyTorch fp32"]["met"])
        self.assertEqual(t["prompt bf16 / PyTorch fp32"]["rounds_met"], 1)
        self.assertEqual(t["prompt f32 / PyTorch fp32"]["rounds"], [2.0, 1.6])
        self.assertFalse(t["prompt f32 / PyTorch fp32"]["met"])
        # Best pass against the machine's best GEMM (200).
        self.assertEqual(t["prompt f32 GFLOP/s / best GEMM"]["rounds"], [0.75, 0.70])
        self.assertFalse(t["prompt f32 GFLOP/s / best GEMM"]["met"])
        # Decode against one llama.cpp setting for all rounds: F32 8, 10
        # (median 9) against 9, 8 with flash attention (8.5); F16 14, 15 and
        # 13, 16 tie at 14.5, and the first label (without) counts.
        self.assertEqual(t["decode f32 / llama.cpp F32"]["rounds"], [8.2 / 8.0, 9.0 / 10.0])
        self.assertTrue(t["decode f32 / llama.cpp F32"]["met"])
        self.assertEqual(t["decode bf16 / llama.cpp F16"]["rounds"], [15.0 / 14.0, 17.6 / 15.0])
        # The GEMV alone in 2 MiB pages, as a share of the reads around it; the
        # 4 KiB entry does not count, nor a round where no pass counted.
        self.assertEqual(t["decode GEMV alone bf16 / memory read around it"]["rounds"], [0.84, 0.80])
        self.assertFalse(t["decode GEMV alone bf16 / memory read around it"]["met"])
        self.assertEqual(t["decode GEMV alone f32 / memory read around it"]["rounds"], [0.93])
        self.assertTrue(t["decode GEMV alone f32 / memory read around it"]["met"])
        # The rows that set a decode rate against a read made a minute earlier are gone.
        self.assertNotIn("decode f32 GB/s / best memory read", t)
        # Decode against the reads around each step: each round's median as
        # bench_forward gave it; a round where no step counted gives none.
        self.assertEqual(t["decode f32 / memory read around each step"]["rounds"], [0.91, 0.83])
        self.assertAlmostEqual(t["decode f32 / memory read around each step"]["median"], 0.87)
        self.assertTrue(t["decode f32 / memory read around each step"]["met"])
        self.assertEqual(t["decode bf16 / memory read around each step"]["rounds"], [0.86])
        self.assertTrue(t["decode bf16 / memory read around each step"]["met"])

    def test_recording_overhead_pools_every_pair_of_every_round(self):
        t = self.targets(two_rounds())
        f32 = t["recording overhead f32"]
        self.assertEqual(len(f32["rounds"]), 6)
        self.assertAlmostEqual(f32["median"], (0.02 + 0.04) / 2)  # sorted: 0, .01, .02, .04, .06, .08
        self.assertTrue(f32["met"])
        bf16 = t["recording overhead bf16"]
        self.assertAlmostEqual(bf16["median"], (0.01 + 0.02) / 2)

    def test_single_measurements(self):
        t = self.targets(two_rounds())
        self.assertEqual(t["GUI toggle median ms"]["rounds"], [71.5])
        self.assertEqual(t["7B bf16 incremental s"]["rounds"], [2.7])
        self.assertAlmostEqual(t["7B bf16 peak RSS over checkpoint GB"]["median"], 0.2)
        s = summary.summarise(two_rounds())
        self.assertEqual((s["cpu"], s["from"], s["to"], s["best_gemm_gflops"]), ("Test CPU", "10:00:00", "10:04:00", 200.0))
        self.assertEqual(s["rates"][2]["llama.cpp f16 --flash-attn decode"], 16.0)
        # The share of each checkpoint's resident pages mapped through 2 MiB
        # pages, where bench_forward reported it (round 2 only).
        self.assertEqual(s["rates"][2]["superlens tinyllama-f32 % in 2 MiB pages"], 25.0)
        self.assertEqual(s["rates"][2]["superlens tinyllama-bf16 % in 2 MiB pages"], 0.0)
        self.assertNotIn("superlens tinyllama-f32 % in 2 MiB pages", s["rates"][1])

    def test_an_output_without_rounds_is_one_round(self):
        old, keep = [], True
        for line in two_rounds():  # round 1 alone, its labels as the older same_run.sh wrote them
            if line.startswith("###"):
                keep = "round 2" not in line
            if keep:
                old.append(line.replace("round 1 ", ""))
        t = self.targets(old)
        self.assertEqual(t["prompt f32 / llama.cpp F16"]["rounds"], [2.0])
        for got, want in zip(t["recording overhead f32"]["rounds"], [0.02, 0.04, 0.01], strict=True):
            self.assertAlmostEqual(got, want)

    def test_command_line(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "same_run.out")
            with open(path, "w") as f:
                f.writelines(two_rounds())
            p = subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("| prompt f32 / llama.cpp F16 >= 1.50x | 2.20x, 1.60x | 1.90x | yes (2 of 2 rounds) |", p.stdout)
            self.assertIn("| decode GEMV alone f32 / memory read around it >= 85 % | 93 % | 93 % | yes |", p.stdout)
            self.assertIn("| decode f32 / memory read around each step >= 85 % | 91 %, 83 % | 87 % | yes (1 of 2 rounds) |", p.stdout)
            self.assertIn("| recording overhead f32 <= +5.0 % |", p.stdout)
            p = subprocess.run([sys.executable, SCRIPT, path, "--json"], capture_output=True, text=True, timeout=60)
            self.assertEqual(json.loads(p.stdout)["best_gemm_core"], "engine f32 Linear")
            empty = os.path.join(d, "empty.out")
            open(empty, "w").close()
            p = subprocess.run([sys.executable, SCRIPT, empty], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(p.stderr.strip(), f"{empty}: no same_run.sh measurements in it")
            p = subprocess.run([sys.executable, SCRIPT, os.path.join(d, "missing.out")], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.stderr.strip(), f"{os.path.join(d, 'missing.out')}: No such file or directory")


if __name__ == "__main__":
    unittest.main()
