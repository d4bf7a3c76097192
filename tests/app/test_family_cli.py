#!/usr/bin/python3
"""Every model family through the CLI (issue 16): info, logits, scan, capture
and figure on the tiny family checkpoints of tests/data/families, checked
against their float64 answers (refs.json) and read back with h5py.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
FAM = os.path.join(os.environ["SUPERLENS_TEST_DATA"], "families")
REFS = json.load(open(os.path.join(FAM, "refs.json")))
PARALLEL = {"gptj-bf16", "phi-f32", "pythia-f16"}


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def ids(name):
    return ",".join(str(i) for i in REFS[name]["ids"])


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


class Families(unittest.TestCase):
    def test_info_names_family_block_and_down_projection(self):
        for name, ref in REFS.items():
            code, out, err = cli("info", os.path.join(FAM, name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["layers"], ref["layers"], name)
            self.assertEqual(j["hidden"], ref["hidden"], name)
            self.assertEqual(j["vocab"], ref["vocab"], name)
            self.assertTrue(j["family"], name)
            self.assertEqual(j["down_output_axis"], ref["planted"][0]["output_axis"], name)
            # The planted tensor is layer 1's down projection; info names layer 0's.
            self.assertEqual(j["down_projection"], ref["planted"][0]["tensor"].replace(".1.", ".0.", 1), name)
            self.assertEqual("parallel" in j["block"], name in PARALLEL, j["block"])

    def test_logits_match_reference(self):
        for name, ref in REFS.items():
            code, out, err = cli("logits", os.path.join(FAM, name), "--ids", ids(name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            got = j["logits"] if "logits" in j else j["last_logits"]
            self.assertLess(rel_err(got, ref["logits_last"]), 1e-4, name)

    def test_scan_reports_stored_coordinates_and_output_axis(self):
        for name, ref in REFS.items():
            code, out, err = cli("scan", os.path.join(FAM, name), "--ids", ids(name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertGreaterEqual(len(j["super_weights"]), 1, name)
            sw, p = j["super_weights"][0], ref["planted"][0]
            self.assertEqual((sw["layer"], sw["row"], sw["col"]), (p["layer"], p["row"], p["col"]), name)
            self.assertEqual(sw["tensor"], p["tensor"], name)
            self.assertEqual(sw["output_axis"], p["output_axis"], name)
            self.assertEqual(sw["output_channel"], p["output_channel"], name)
            self.assertEqual(sw["input_channel"], p["input_channel"], name)

    def test_zeroing_edit_from_the_scan_matches_reference(self):
        for name, ref in REFS.items():
            code, out, err = cli("logits", os.path.join(FAM, name), "--ids", ids(name), "--edit", ref["edited"]["edit"], "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            got = j["logits"] if "logits" in j else j["last_logits"]
            self.assertLess(rel_err(got, ref["edited"]["logits"]), 1e-4, name)

    def test_capture_records_what_each_family_has(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name, ref in REFS.items():
                path = os.path.join(tmp, name + ".h5")
                code, out, err = cli("capture", os.path.join(FAM, name), "--ids", ids(name), "--out", path)
                self.assertEqual(code, 0, err)
                with h5py.File(path, "r") as f:
                    names = set()
                    f.visit(names.add)
                    has_mid = any(n.endswith("hook_resid_mid") for n in names)
                    self.assertEqual(has_mid, name not in PARALLEL, name)
                    post = [n for n in names if n.endswith("blocks.1.hook_resid_post")]
                    self.assertTrue(post, name)
                    want = np.asarray(ref["hooks"]["blocks.1.hook_resid_post"])
                    self.assertLess(rel_err(f[post[0]][()], want), 1e-4, name)

    def test_missing_hook_is_refused_by_name(self):
        code, out, err = cli("capture", os.path.join(FAM, "gptj-bf16"), "--ids", ids("gptj-bf16"), "--hooks", "blocks.0.hook_resid_mid",
                             "--out", "/tmp/never-written.h5")
        self.assertEqual(code, 1, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("parallel", err)
        self.assertFalse(os.path.exists("/tmp/never-written.h5"))

    def test_figure_of_every_family(self):
        with tempfile.TemporaryDirectory() as tmp:
            for name in REFS:
                out_path = os.path.join(tmp, name + ".svg")
                code, out, err = cli("figure", "spikes", os.path.join(FAM, name), "--ids", ids(name), "--out", out_path)
                self.assertEqual(code, 0, err)
                self.assertGreater(os.path.getsize(out_path), 1000, name)


class Gguf(unittest.TestCase):
    """Issue 19: a .gguf file wherever a model folder is accepted."""
    STORIES = os.path.join(os.environ["SUPERLENS_TEST_DATA"], "stories260K")
    IDS = "1,403,407,261,378,300,33,91"

    def test_info_logits_scan_capture_on_a_gguf_file(self):
        gguf = os.path.join(self.STORIES, "stories260K.gguf")
        code, out, err = cli("info", gguf, "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual(j["format"], "gguf")
        self.assertEqual(j["architecture"], "llama")
        self.assertEqual(j["layers"], 5)
        self.assertIn("F32", j["dtypes"])
        code, out, err = cli("logits", gguf, "--ids", self.IDS, "--json")
        self.assertEqual(code, 0, err)
        code2, out2, err2 = cli("logits", self.STORIES, "--ids", self.IDS, "--json")
        self.assertEqual(code2, 0, err2)
        a, b = json.loads(out), json.loads(out2)
        key = "logits" if "logits" in a else "last_logits"
        self.assertLess(rel_err(a[key], b[key]), 1e-5)
        # An edit by llama.cpp's name is the edit by Hugging Face's name.
        code, out, err = cli("logits", gguf, "--ids", self.IDS, "--edit", "blk.1.ffn_down.weight[3,5]=0", "--json")
        self.assertEqual(code, 0, err)
        code2, out2, err2 = cli("logits", gguf, "--ids", self.IDS, "--edit", "model.layers.1.mlp.down_proj.weight[3,5]=0", "--json")
        self.assertEqual(json.loads(out)[key], json.loads(out2)[key])
        code, out, err = cli("scan", gguf, "--ids", self.IDS, "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out)["super_weights"], [])  # stories260K has none
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "g.h5")
            code, out, err = cli("capture", gguf, "--ids", self.IDS, "--out", path)
            self.assertEqual(code, 0, err)
            with h5py.File(path, "r") as f:
                names = set()
                f.visit(names.add)
                self.assertTrue(any(n.endswith("blocks.4.hook_resid_post") for n in names))

    def test_a_damaged_gguf_is_refused_in_one_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "cut.gguf")
            with open(os.path.join(self.STORIES, "stories260K.gguf"), "rb") as src:
                data = src.read()
            with open(path, "wb") as f:
                f.write(data[:len(data) // 2])
            code, out, err = cli("logits", path, "--ids", self.IDS)
            self.assertEqual(code, 1, err)
            self.assertEqual(out, "")
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("cut.gguf", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
