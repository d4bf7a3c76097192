#!/usr/bin/python3
"""superlens-cli contract (DESIGN.md): exit codes, one-line errors, one JSON
document with --json, full validation by every command, ids-only models.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
REF = os.path.join(DATA, "reference")
REFS = json.load(open(os.path.join(REF, "refs.json")))
STORIES = os.path.join(DATA, "stories260K")


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class Contract(unittest.TestCase):
    def assert_error(self, code, out, err, expected_code, fragment):
        self.assertEqual(code, expected_code, err)
        self.assertEqual(out, "", "stdout must stay empty on error")
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertGreaterEqual(len(lines), 1)
        self.assertIn(fragment, lines[0])
        if expected_code == 1:
            self.assertEqual(len(lines), 1, err)

    def test_info_json_is_one_document(self):
        for name in REFS:
            code, out, err = cli("info", os.path.join(REF, name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["layers"], REFS[name]["layers"])
            self.assertEqual(j["hidden"], REFS[name]["hidden"])
            self.assertEqual(j["vocab"], REFS[name]["vocab"])
            self.assertIn(j["dtype"], ("F32", "BF16", "F16"))
            self.assertIsNone(j["tokenizer"])

    def test_info_system_describes_this_machine(self):
        code, out, err = cli("info", "--system", "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split(":", 1)[1].split()
        # The features it reports are the kernel's own flags (CPUID read independently).
        for ours, kernel in (("avx2", "avx2"), ("fma", "fma"), ("avx512f", "avx512f"), ("avx512_bf16", "avx512_bf16"),
                             ("amx_tile", "amx_tile")):
            self.assertEqual(ours in j["cpu"]["features"], kernel in flags, ours)
        self.assertIn("OpenBLAS", j["blas"]["config"])
        self.assertTrue(j["blas"]["kernels"])
        self.assertTrue(j["blas"]["chosen_by"])
        self.assertEqual(j["engine_threads"], os.cpu_count())
        self.assertGreater(j["gemm"]["gflops_1_thread"], 0.5)
        self.assertGreater(j["gemm"]["gflops_all_threads"], 0.5)
        # The decode GEMV follows the CPU (AVX-512 F/BW/VL when the kernel reports them), or SUPERLENS_GEMV.
        has512 = all(f in flags for f in ("avx512f", "avx512bw", "avx512vl"))
        self.assertEqual(j["gemv_path"]["avx512"], has512, j["gemv_path"])
        self.assertTrue(j["gemv_path"]["chosen_by"])
        # Prompt GEMMs: our kernel in AVX-512 where the CPU has AVX-512 F/DQ/BW/VL, in AVX2 otherwise,
        # unless SUPERLENS_GEMM says otherwise.
        has512gemm = has512 and "avx512dq" in flags
        self.assertEqual(j["gemm_path"]["kernel_isa"], "avx512" if has512gemm else "avx2", j["gemm_path"])
        self.assertGreater(j["gemm"]["gflops_f32_linear"], 0.5)
        self.assertGreater(j["gemm"]["gflops_bf16_linear"], 0.5)
        p = subprocess.run([BIN, "info", "--system", "--json"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMM="blas"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["gemm_path"]["kernel_isa"], "none")
        p = subprocess.run([BIN, "info", "--system"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMM="avx512"))
        if has512gemm:
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("AVX-512 kernel", p.stdout)
        else:
            self.assertEqual(p.returncode, 1)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn("SUPERLENS_GEMM=avx512", p.stderr)
        p = subprocess.run([BIN, "info", "--system", "--json"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMV="avx2"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(json.loads(p.stdout)["gemv_path"]["avx512"])
        p = subprocess.run([BIN, "info", "--system"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMV="sse"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("SUPERLENS_GEMV=sse", p.stderr)
        # One token's streamed bf16 rows (AVX-512 GEMV): prefetched in software except on AMD, or as
        # SUPERLENS_GEMV_ROW_PREFETCH says; a value it does not know is refused in one line.
        if has512:
            amd = any(line.split(":")[-1].strip() in ("AuthenticAMD", "HygonGenuine")
                      for line in open("/proc/cpuinfo") if line.startswith("vendor_id"))
            self.assertIn("bf16 rows not prefetched (AMD: auto)" if amd else "bf16 rows prefetched (not AMD: auto)",
                          j["gemv_path"]["chosen_by"])
            for pf, words in (("on", "bf16 rows prefetched"), ("off", "bf16 rows not prefetched")):
                p = subprocess.run([BIN, "info", "--system", "--json"], capture_output=True, text=True, timeout=120,
                                   env=dict(os.environ, SUPERLENS_GEMV_ROW_PREFETCH=pf))
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn(words + " (SUPERLENS_GEMV_ROW_PREFETCH=" + pf + ")", json.loads(p.stdout)["gemv_path"]["chosen_by"])
        p = subprocess.run([BIN, "info", "--system"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMV_ROW_PREFETCH="sometimes"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("SUPERLENS_GEMV_ROW_PREFETCH=sometimes: not one of auto, on, off", p.stderr)
        p = subprocess.run([BIN, "info", "--system"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMM="fast"))
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("SUPERLENS_GEMM=fast: not one of auto, amx, avx512, avx2, blas", p.stderr)
        # The GEMV's token limits, by weight type, and SUPERLENS_GEMV_TOKENS setting them all.
        self.assertIn("of f32 weights", j["gemv_path"]["name"])
        p = subprocess.run([BIN, "info", "--system", "--json"], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, SUPERLENS_GEMV_TOKENS="7"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("up to 7 tokens of f32 weights, 7 of bf16, 7 of f16, 7 of decoded ones",
                      json.loads(p.stdout)["gemv_path"]["name"])
        for bad in ("0", "65", "8x", "-3", ""):
            p = subprocess.run([BIN, "info", "--system"], capture_output=True, text=True, timeout=120,
                               env=dict(os.environ, SUPERLENS_GEMV_TOKENS=bad))
            if bad == "":  # unset in effect
                self.assertEqual(p.returncode, 0, p.stderr)
                continue
            self.assertEqual(p.returncode, 1, bad)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn("SUPERLENS_GEMV_TOKENS=" + bad + ": not a whole number from 1 to 64", p.stderr)
        # A forced kernel path is reported as such; one the CPU cannot run is refused in one line.
        env = dict(os.environ, SUPERLENS_BLAS_CORE="PRESCOTT")
        p = subprocess.run([BIN, "info", "--system", "--json"], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["blas"]["kernels"].lower(), "prescott")
        env["SUPERLENS_BLAS_CORE"] = "NOSUCHCORE"
        p = subprocess.run([BIN, "info", "--system"], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        self.assertIn("SUPERLENS_BLAS_CORE=NOSUCHCORE", p.stderr)
        self.assertEqual(p.stdout, "")
        # info needs a model or --system, not both.
        code, out, err = cli("info")
        self.assertEqual(code, 2, err)

    def test_logits_json_matches_reference(self):
        for name in ("llama-planted", "qwen2-f16-tied", "phi3-bf16-two-super-weights"):
            ids = ",".join(str(i) for i in REFS[name]["ids"])
            code, out, err = cli("logits", os.path.join(REF, name), "--ids", ids, "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["ids"], REFS[name]["ids"])
            want = REFS[name]["logits_last"]
            scale = max(abs(v) for v in want)
            self.assertLess(max(abs(a - b) for a, b in zip(j["logits"], want)), 1e-4 * scale)
            code, out, err = cli("logits", os.path.join(REF, name), "--ids", ids, "--edit", REFS[name]["edited"]["edit"], "--json")
            self.assertEqual(code, 0, err)
            want = REFS[name]["edited"]["logits"]
            self.assertLess(max(abs(a - b) for a, b in zip(json.loads(out)["logits"], want)), 1e-4 * max(abs(v) for v in want))

    def test_logits_all_positions_and_top(self):
        name = "llama-planted"
        ids = ",".join(str(i) for i in REFS[name]["ids"])
        code, out, err = cli("logits", os.path.join(REF, name), "--ids", ids, "--all-positions", "--top", "3", "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual(len(j["logits"]), len(REFS[name]["ids"]))
        self.assertEqual(len(j["top"]), len(REFS[name]["ids"]))
        self.assertEqual(len(j["top"][0]), 3)
        last = j["logits"][-1]
        self.assertEqual(j["top"][-1][0]["id"], max(range(len(last)), key=lambda i: last[i]))

    def test_bad_edits_exit_1_with_one_line(self):
        m = os.path.join(REF, "llama-planted")
        for spec, fragment in [("model.layers.1.mlp.down_proj.weight[64,0]=0", "out of range"),
                               ("model.layers.1.mlp.nope.weight[0,0]=0", "unknown tensor"),
                               ("garbage", "expected NAME[i,j]"),
                               ("blocks.1.hook_mlp_out[3,0]=0", "token 3 is out of range")]:
            self.assert_error(*cli("logits", m, "--ids", "1,2,3", "--edit", spec, "--json"), 1, fragment)

    def test_usage_errors_exit_2(self):
        self.assertEqual(cli()[0], 2)
        self.assertEqual(cli("nonsense")[0], 2)
        self.assertEqual(cli("info")[0], 2)
        self.assertEqual(cli("logits", os.path.join(REF, "llama-planted"))[0], 2)
        self.assertEqual(cli("logits", os.path.join(REF, "llama-planted"), "--ids", "1", "--prompt", "x")[0], 2)
        code, out, err = cli("info", "--help")
        self.assertEqual(code, 0)
        self.assertIn("MODEL", out)

    def test_usage_errors_are_one_line_naming_the_problem(self):
        code, out, err = cli("frobnicate", "x")
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("unknown command 'frobnicate'", err)
        self.assertIn("logits", err)  # the commands that exist are listed
        code, out, err = cli("logits", os.path.join(REF, "llama-planted"), "--prompt")
        self.assertEqual(code, 2)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("--prompt", err)

    def test_runs_beyond_the_context_are_refused(self):
        # stories260K: rotary, max_position_embeddings 512 (its config.json).
        cfg = json.load(open(os.path.join(STORIES, "config.json")))
        ctx = cfg["max_position_embeddings"]
        ids = ",".join(["1"] * (ctx + 1))
        self.assert_error(*cli("logits", STORIES, "--ids", ids, "--json"), 1, f"{ctx + 1} positions exceed this Llama model's context of {ctx}")
        self.assertEqual(cli("logits", STORIES, "--ids", ",".join(["1"] * ctx))[0], 0)
        self.assert_error(*cli("generate", STORIES, "--ids", "1,2", "--max-new", str(ctx)), 1, f"{ctx + 2} positions exceed")
        self.assert_error(*cli("generate", STORIES, "--prompt", "Once", "--max-new", "100000"), 1, "positions exceed")

    def test_ids_only_model_refuses_prompt_clearly(self):
        self.assert_error(*cli("logits", os.path.join(REF, "llama-planted"), "--prompt", "hello", "--json"), 1, "no tokenizer.json or tokenizer.model")
        self.assert_error(*cli("tokenize", os.path.join(REF, "llama-planted"), "--prompt", "hello"), 1, "no tokenizer.json or tokenizer.model")
        self.assert_error(*cli("logits", os.path.join(REF, "llama-planted"), "--ids", "1,999"), 1, "outside the model's vocabulary")
        self.assert_error(*cli("logits", os.path.join(REF, "llama-planted"), "--ids", "1,x"), 1, "is not a token id")

    def test_every_command_refuses_a_damaged_folder(self):
        with tempfile.TemporaryDirectory() as d:
            damaged = os.path.join(d, "m")
            shutil.copytree(os.path.join(REF, "llama-planted"), damaged)
            with open(os.path.join(damaged, "model.safetensors"), "r+b") as f:
                f.truncate(1000)
            for args in (["info", damaged], ["logits", damaged, "--ids", "1,2"], ["generate", damaged, "--ids", "1"]):
                self.assert_error(*cli(*args, "--json"), 1, "model.safetensors")
            self.assertEqual(sorted(os.listdir(damaged)), ["config.json", "model.safetensors"], "nothing written into the model folder")

    def test_tokenize_and_generate_on_stories260k(self):
        r = json.load(open(os.path.join(STORIES, "reference.json")))
        p = r["prompts"][0]
        code, out, err = cli("tokenize", STORIES, "--prompt", p["text"], "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual(j["ids"], p["ids"])
        self.assertEqual(j["tokens"][0], "<s>")
        g = r["greedy_from_bos"]
        code, out, err = cli("generate", STORIES, "--ids", "1", "--max-new", str(len(g["ids"]) - 1), "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual([1] + j["new_ids"], g["ids"])
        self.assertTrue(g["text"].startswith(j["text"][:40]))
        # A continuation after a prompt keeps the space its first piece carries
        # ("time," + " there"), so prompt_text + text reads as the whole greedy text.
        head = g["ids"][:6]
        code, out, err = cli("generate", STORIES, "--ids", ",".join(map(str, head)), "--max-new", "8", "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual(head + j["new_ids"], g["ids"][:14])
        self.assertTrue(j["text"].startswith(" "), j["text"])
        self.assertTrue(g["text"].startswith(j["prompt_text"] + j["text"]), (j["prompt_text"], j["text"]))

    def test_edits_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"edits": [{"spec": "model.layers.1.mlp.down_proj.weight[13,57]=0", "enabled": True},
                                 {"spec": "model.layers.1.mlp.down_proj.weight[0,0]=5", "enabled": False}]}, f)
            path = f.name
        try:
            name = "llama-planted"
            ids = ",".join(str(i) for i in REFS[name]["ids"])
            code, out, err = cli("logits", os.path.join(REF, name), "--ids", ids, "--edits", path, "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["edits"], ["model.layers.1.mlp.down_proj.weight[13,57]=0"])
            want = REFS[name]["edited"]["logits"]
            self.assertLess(max(abs(a - b) for a, b in zip(j["logits"], want)), 1e-4 * max(abs(v) for v in want))
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
