#!/usr/bin/python3
"""Mixture-of-experts families through the CLI (issue 17): info, logits (with
edits inside experts and expert removal), scan (super experts and the super
weight inside them), capture of the expert hooks read back with h5py, and
study experts, on tests/data/moe against its float64 answers (refs.json).

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
MOE = os.path.join(os.environ["SUPERLENS_TEST_DATA"], "moe")
REFS = json.load(open(os.path.join(MOE, "refs.json")))


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def ids(name):
    return ",".join(str(i) for i in REFS[name]["ids"])


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def last_logits(out):
    j = json.loads(out)
    return j["logits"] if "logits" in j else j["last_logits"]


class Moe(unittest.TestCase):
    def test_info_describes_the_routed_experts(self):
        for name, ref in REFS.items():
            code, out, err = cli("info", os.path.join(MOE, name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["layers"], ref["layers"], name)
            self.assertIn(f"top-{ref['top_k']} of {ref['experts']}", j["block"], name)
            e = j["experts"]
            self.assertEqual((e["count"], e["top_k"], e["intermediate"]), (ref["experts"], ref["top_k"], ref["expert_intermediate"]), name)
            self.assertEqual(e["routed_layers"], ref["routed_layers"], name)
            # a token runs k of the E experts: the idle ones' 3 matrices per routed layer are not active
            idle = len(ref["routed_layers"]) * (ref["experts"] - ref["top_k"]) * 3 * ref["expert_intermediate"] * j["hidden"]
            self.assertEqual(e["active_parameters"], j["parameters"] - idle, name)

    def test_logits_and_expert_edits_match_reference(self):
        for name, ref in REFS.items():
            code, out, err = cli("logits", os.path.join(MOE, name), "--ids", ids(name), "--json")
            self.assertEqual(code, 0, err)
            self.assertLess(rel_err(last_logits(out), ref["logits_last"]), 1e-4, name)
            for key in ("expert_off", "expert_off_renorm", "edited_expert_weight"):
                code, out, err = cli("logits", os.path.join(MOE, name), "--ids", ids(name), "--edit", ref[key]["edit"], "--json")
                self.assertEqual(code, 0, err)
                self.assertLess(rel_err(last_logits(out), ref[key]["logits_all"][-1]), 1e-4, name + " " + key)

    def test_bad_expert_edit_is_one_error_line(self):
        code, out, err = cli("logits", os.path.join(MOE, "mixtral-bf16"), "--ids", ids("mixtral-bf16"), "--edit", "expert:1:9=off")
        self.assertEqual(code, 1, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("out of range", err)

    def test_scan_names_the_planted_super_expert_and_its_weight(self):
        for name, ref in REFS.items():
            code, out, err = cli("scan", os.path.join(MOE, name), "--ids", ids(name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            prof = ref["expert_profile"]
            self.assertEqual([[s["layer"], s["expert"]] for s in j["super_experts"]], prof["super_experts"], name)
            self.assertEqual(len(j["expert_profile"]), len(prof["layers"]) * ref["experts"], name)
            planted = prof.get("planted_super_weight")
            if planted:
                sw = j["super_weights"][0]
                self.assertEqual((sw["tensor"], sw["row"], sw["col"]), (planted["tensor"], planted["row"], planted["col"]), name)
                self.assertEqual(sw["output_axis"], 0)

    def test_capture_records_expert_hooks(self):
        name = "qwen2-moe-f32"
        ref = REFS[name]
        hooks = ["blocks.0.mlp.hook_expert_weights", "blocks.0.mlp.hook_expert_indices", "blocks.0.mlp.experts.5.hook_out",
                 "blocks.2.mlp.shared_expert.hook_out", "blocks.1.mlp.hook_post"]
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "moe.h5")
            args = ["capture", os.path.join(MOE, name), "--ids", ids(name), "--out", path]
            for h in hooks:
                args += ["--hooks", h]
            code, out, err = cli(*args)
            self.assertEqual(code, 0, err)
            with h5py.File(path, "r") as f:
                names = set()
                f.visit(names.add)
                for h in hooks:
                    found = [n for n in names if n.endswith(h)]
                    self.assertTrue(found, h)
                    self.assertLess(rel_err(f[found[0]][()], np.asarray(ref["hooks"][h])), 1e-4, h)

    def test_study_experts_prunes_super_and_random_experts(self):
        name = "mixtral-bf16"
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "ids.txt")
            rng = np.random.default_rng(5)
            with open(text, "w") as f:
                f.write(" ".join(str(int(i)) for i in [1] + list(rng.integers(3, 128, size=47))))
            code, out, err = cli("study", "experts", os.path.join(MOE, name), "--text-ids", text, "--ids", ids(name), "--ctx", "16",
                                 "--no-stopwords", "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            keys = [c["key"] for c in j["conditions"]]
            self.assertEqual(keys, ["original", "super_1_0", "random_control"])
            self.assertEqual(j["conditions"][1]["edits"], ["expert:1:0=off"])
            control = j["conditions"][2]["edits"]
            self.assertEqual(len(control), 1)
            self.assertNotEqual(control[0], "expert:1:0=off")
            for c in j["conditions"]:
                self.assertTrue(np.isfinite(c["ppl"]) and c["ppl"] > 1, c)
            # The original condition is the plain perplexity of the text.
            code, out, err = cli("ppl", os.path.join(MOE, name), "--text-ids", text, "--ctx", "16", "--json")
            self.assertEqual(code, 0, err)
            self.assertAlmostEqual(json.loads(out)["ppl"], j["conditions"][0]["ppl"], places=4)
            # Dense models are refused with one line.
            code, out, err = cli("study", "experts", os.path.join(os.environ["SUPERLENS_TEST_DATA"], "families", "qwen3-bf16"),
                                 "--text-ids", text, "--ctx", "16", "--no-stopwords")
            self.assertEqual(code, 1, err)
            self.assertIn("no routed experts", err)


if __name__ == "__main__":
    unittest.main()
