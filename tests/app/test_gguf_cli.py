#!/usr/bin/python3
"""GGUF files of every block type through the CLI (issue 19): info, logits,
scan, capture and compare on the files scripts/fixtures/make_gguf_models.py
writes at test time (CTest fixture gguf_quant), checked against that script's
float64 answers (refs.json: a numpy forward over the weights as its own
quantizers dequantized them, per-tensor errors, super weight values and steps).

Run by CTest with SUPERLENS_BIN_DIR, SUPERLENS_TEST_DATA and SUPERLENS_GGUF_QUANT_DIR set."""
import json
import math
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
QDIR = os.environ["SUPERLENS_GGUF_QUANT_DIR"]
SOURCE = os.path.join(DATA, "gguf", "llama-q256")
STORIES = os.path.join(DATA, "stories260K")
REFS = json.load(open(os.path.join(QDIR, "refs.json")))
IDS = ",".join(str(i) for i in REFS["ids"])
SW = REFS["super_weight"]


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def gguf(kind):
    return os.path.join(QDIR, f"llama-q256-{kind}.gguf")


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def close(got, want, rel, absolute=0.0):
    return abs(got - want) <= absolute + rel * abs(want)


class EveryBlockType(unittest.TestCase):
    def test_info_logits_scan_capture(self):
        for kind, ref in REFS["types"].items():
            with self.subTest(kind=kind):
                code, out, err = cli("info", gguf(kind), "--json")
                self.assertEqual(code, 0, err)
                j = json.loads(out)
                self.assertEqual(j["format"], "gguf")
                self.assertEqual(j["dtype"], kind)
                self.assertIn(kind, j["dtypes"])
                self.assertEqual((j["layers"], j["hidden"], j["intermediate"], j["vocab"]), (2, 256, 512, 256))

                code, out, err = cli("logits", gguf(kind), "--ids", IDS, "--all-positions", "--json")
                self.assertEqual(code, 0, err)
                self.assertLess(rel_err(json.loads(out)["logits"], ref["logits"]), 1e-4, kind)

                code, out, err = cli("scan", gguf(kind), "--ids", IDS, "--json")
                self.assertEqual(code, 0, err)
                found = [(s["layer"], s["row"], s["col"], s["gguf_tensor"]) for s in json.loads(out)["super_weights"]]
                self.assertIn((1, SW["row"], SW["col"], "blk.1.ffn_down.weight"), found, kind)

                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, "c.h5")
                    code, out, err = cli("capture", gguf(kind), "--ids", IDS, "--out", path)
                    self.assertEqual(code, 0, err)
                    with h5py.File(path, "r") as f:
                        names = []
                        f.visit(names.append)
                        resid = [n for n in names if n.endswith("blocks.1.hook_resid_post")]
                        self.assertEqual(len(resid), 1, names)
                        got = float(np.asarray(f[resid[0]]).reshape(-1, 256)[0, SW["row"]])
                    self.assertTrue(close(got, ref["super_activation"], 1e-4), (kind, got, ref["super_activation"]))


class Compare(unittest.TestCase):
    def compare(self, *args):
        code, out, err = cli("compare", *args, "--json")
        self.assertEqual(code, 0, err)
        return json.loads(out)

    def test_checkpoint_against_each_quantization(self):
        st = REFS["safetensors"]
        for kind, ref in REFS["types"].items():
            with self.subTest(kind=kind):
                j = self.compare(SOURCE, gguf(kind), "--ids", IDS)
                self.assertEqual(j["a"]["format"], "safetensors")
                self.assertEqual(j["b"]["format"], "gguf")
                # Per-tensor relative error ||B - A|| / ||A||: the script's, from its own dequantized values.
                got = {t["name"]: t for t in j["tensors"]}
                self.assertEqual(set(got), set(ref["relative_error"]))
                for name, want in ref["relative_error"].items():
                    self.assertTrue(close(got[name]["relative_error"], want, 1e-6, 1e-12), (kind, name, got[name], want))
                    self.assertEqual(got[name]["storage_b"], "F32" if got[name]["elements"] == 256 and name.endswith("norm.weight") else kind)
                # Each tensor's kind within its block (what the GUI's Compare view groups its bars by).
                self.assertEqual(got["model.layers.1.mlp.down_proj.weight"]["kind"], "mlp.down_proj")
                self.assertEqual(got["model.layers.0.self_attn.q_proj.weight"]["kind"], "self_attn.q_proj")
                self.assertEqual(got["model.embed_tokens.weight"]["kind"], "model.embed_tokens")
                self.assertEqual(j["only_in_a"], [])
                self.assertEqual(j["only_in_b"], [])
                self.assertEqual(len(j["layers"]), 2)
                # The super weight in both, and its error in units of B's block step.
                sws = [s for s in j["super_weights"] if (s["layer"], s["row"], s["col"]) == (1, SW["row"], SW["col"])]
                self.assertEqual(len(sws), 1, j["super_weights"])
                s = sws[0]
                self.assertTrue(s["found_in_a"])
                self.assertEqual(s["gguf_tensor_b"], "blk.1.ffn_down.weight")
                self.assertEqual(s["storage_b"], kind)
                self.assertEqual(s["value_a"], SW["value"])
                self.assertEqual(np.float32(s["value_b"]), np.float32(ref["super_weight"]))
                if ref["super_weight_step"] is None:
                    self.assertIsNone(s["step_b"])
                    self.assertIsNone(s["error_in_steps_b"])
                else:
                    self.assertEqual(np.float32(s["step_b"]), np.float32(ref["super_weight_step"]), kind)
                    want_steps = (ref["super_weight"] - SW["value"]) / ref["super_weight_step"]
                    self.assertTrue(close(s["error_in_steps_b"], want_steps, 1e-5, 1e-6), (kind, s, want_steps))
                # The super activation in both runs.
                self.assertTrue(close(s["activation_a"], st["super_activation"], 1e-4))
                self.assertTrue(close(s["activation_b"], ref["super_activation"], 1e-4))
                # KL(P_A || P_B), NLL and perplexity on the tokens.
                lg = j["logits"]
                self.assertEqual(lg["positions"], len(REFS["ids"]))
                self.assertEqual(lg["predicted"], len(REFS["ids"]) - 1)
                self.assertTrue(close(lg["nll_a"], st["nll"], 1e-4), (lg, st["nll"]))
                self.assertTrue(close(lg["nll_b"], ref["nll"], 1e-4), (kind, lg, ref["nll"]))
                self.assertTrue(close(lg["ppl_b"], math.exp(ref["nll"]), 1e-4))
                self.assertTrue(close(lg["kl_mean"], ref["kl_mean"], 1e-3, 2e-6), (kind, lg["kl_mean"], ref["kl_mean"]))
                self.assertTrue(close(lg["kl_max"], ref["kl_max"], 1e-3, 2e-6), (kind, lg["kl_max"], ref["kl_max"]))

    def test_stories260k_against_its_gguf_by_text(self):
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "t.txt")
            with open(text, "w") as f:
                f.write("Once upon a time, there was a little girl named Lily. She loved to play outside.")
            j = self.compare(STORIES, os.path.join(STORIES, "stories260K.gguf"), "--text", text)
            # Same weights (q/k rows un-permuted exactly): no error anywhere.
            self.assertGreater(len(j["tensors"]), 40)
            self.assertTrue(all(t["relative_error"] == 0 for t in j["tensors"]), [t for t in j["tensors"] if t["relative_error"]])
            self.assertIn("blk.0.attn_q.weight", [t["gguf_b"] for t in j["tensors"]])
            self.assertEqual(j["only_in_b"], ["lm_head.weight"])  # the GGUF stores the tied head as output.weight
            self.assertLess(j["logits"]["kl_max"], 1e-9)
            self.assertEqual(j["logits"]["top1_agreement"], 1.0)
            self.assertGreater(j["logits"]["positions"], 10)
            self.assertEqual(j["super_weights"], [])
            # The text report says the same.
            code, out, err = cli("compare", STORIES, os.path.join(STORIES, "stories260K.gguf"), "--text", text)
            self.assertEqual(code, 0, err)
            self.assertIn("KL(A||B) mean", out)
            self.assertIn("super weights (0)", out)

    def test_text_report_names_the_super_weight_and_its_steps(self):
        code, out, err = cli("compare", SOURCE, gguf("Q4_K"), "--ids", IDS)
        self.assertEqual(code, 0, err)
        self.assertIn("model.layers.1.mlp.down_proj.weight[77,300]", out)
        self.assertIn("B's block step", out)
        self.assertIn("perplexity A", out)

    def test_importance_matrix_next_to_the_super_weight(self):
        # llama-imatrix files written here from llama.cpp's layouts: legacy (value = mean square x ncall)
        # and GGUF (in_sum2 / counts); column 300 (the super weight's neuron) is the most important.
        import struct
        rng = np.random.default_rng(5)
        mean_sq = {L: rng.random(512) * 2 for L in range(2)}
        mean_sq[1][300] = 4000.0
        ncall = 7
        legacy = struct.pack("<i", 2)
        for L in range(2):
            name = f"blk.{L}.ffn_down.weight".encode()
            legacy += struct.pack("<i", len(name)) + name + struct.pack("<ii", ncall, 512)
            legacy += (mean_sq[L] * ncall).astype("<f4").tobytes()
        legacy += struct.pack("<i", ncall) + struct.pack("<i", 8) + b"calib.txt"[:8]
        row = (mean_sq[1] * ncall).astype("<f4").astype(np.float64) / ncall
        v = row[300]
        want_rank = 1 + int(np.sum(row > v))
        want_ratio = v / np.sort(row)[256]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "imatrix.dat")
            with open(path, "wb") as f:
                f.write(legacy)
            j = self.compare(SOURCE, gguf("Q4_K"), "--ids", IDS, "--imatrix", path)
            s = [s for s in j["super_weights"] if s["row"] == SW["row"]][0]
            im = s["imatrix"]
            self.assertEqual(im["tensor"], "blk.1.ffn_down.weight")
            self.assertEqual(im["columns"], 512)
            self.assertTrue(close(im["importance"], v, 1e-12))
            self.assertEqual(im["rank"], want_rank)
            self.assertEqual(want_rank, 1)
            self.assertTrue(close(im["ratio_to_median"], want_ratio, 1e-12))
            code, out, err = cli("compare", SOURCE, gguf("Q4_K"), "--ids", IDS, "--imatrix", path)
            self.assertEqual(code, 0, err)
            self.assertIn("imatrix     column 300 of blk.1.ffn_down.weight", out)
            # Safetensors on both sides: nothing names llama.cpp's tensors.
            code, out, err = cli("compare", SOURCE, SOURCE, "--ids", IDS, "--imatrix", path)
            self.assertEqual(code, 1, err)
            self.assertIn("one of the two models must be a GGUF file", err)
            # A truncated file: one line naming it.
            with open(path, "wb") as f:
                f.write(legacy[:100])
            code, out, err = cli("compare", SOURCE, gguf("Q4_K"), "--ids", IDS, "--imatrix", path)
            self.assertEqual(code, 1, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("imatrix.dat", err)

    def test_conv1d_coordinates(self):
        # GPT-2 stores its projections [in, out]: the super weight keeps its stored coordinates.
        fam = os.path.join(DATA, "families")
        ref = json.load(open(os.path.join(fam, "refs.json")))["gpt2-f32"]
        ids = ",".join(str(i) for i in ref["ids"])
        j = self.compare(os.path.join(fam, "gpt2-f32"), os.path.join(fam, "gpt2-f32"), "--ids", ids)
        self.assertTrue(all(t["relative_error"] == 0 for t in j["tensors"]))
        planted = ref["planted"][0]
        s = j["super_weights"][0]
        self.assertEqual((s["layer"], s["row"], s["col"], s["output_channel"]),
                         (planted["layer"], planted["row"], planted["col"], planted["output_channel"]))
        self.assertTrue(s["found_in_a"] and s["found_in_b"])
        self.assertEqual(s["value_a"], s["value_b"])
        self.assertEqual(s["activation_a"], s["activation_b"])
        self.assertEqual(j["logits"]["kl_max"], 0)

    def test_models_of_other_shapes_are_refused_in_one_line(self):
        code, out, err = cli("compare", SOURCE, os.path.join(STORIES, "stories260K.gguf"), "--ids", "1,2,3")
        self.assertEqual(code, 1, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("cannot be compared: layers 2 vs 5", err)
        code, out, err = cli("compare", SOURCE, gguf("Q8_0"))
        self.assertEqual(code, 2, err)
        self.assertIn("compare needs one of --prompt, --ids, --text or --text-ids", err)


class BenchLabels(unittest.TestCase):
    def test_bench_forward_names_the_kernel_decoded_weights_take(self):
        # Quantized blocks reach the kernels through their decoder: the GEMV
        # for up to 11 tokens, our GEMM kernel (or OpenBLAS with
        # SUPERLENS_GEMM=blas) from 12; bench_forward's label must say so
        # (it said "GEMV" up to 15, the limit of weights read in place).
        binary = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "bench_forward")
        if not os.path.exists(binary):
            self.skipTest("bench_forward not built (SUPERLENS_BUILD_BENCH=OFF)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERLENS_GEM")}
        labels = {}
        for tokens in (11, 12):
            p = subprocess.run([binary, gguf("Q8_0"), "--tokens", str(tokens), "--repeat", "1", "--decode", "0",
                                "--no-blas-baseline", "--json"], capture_output=True, text=True, timeout=300, env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            labels[tokens] = json.loads(p.stdout.strip().splitlines()[-1])["gemm_kernel"]
        self.assertIn("GEMV", labels[11])
        self.assertIn("kernel", labels[12])


if __name__ == "__main__":
    unittest.main(verbosity=2)
