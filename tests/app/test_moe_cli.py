#!/usr/bin/python3
"""Mixture-of-experts families through the CLI (issue 17): info, logits (with
edits inside experts and expert removal), scan (super experts and the super
weight inside them), capture of the expert hooks read back with h5py, and
study experts, on tests/data/moe against its float64 answers (refs.json).

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import shutil
import struct
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


def write_text_ids(tmp):
    """A 48-token id text (BOS then seeded ids) for the perplexity windows; returns (path, the rng for more)."""
    text = os.path.join(tmp, "ids.txt")
    rng = np.random.default_rng(5)
    with open(text, "w") as f:
        f.write(" ".join(str(int(i)) for i in [1] + list(rng.integers(3, 128, size=47))))
    return text, rng


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
            text, rng = write_text_ids(tmp)
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

    def test_study_experts_measures_zero_shot_accuracy_of_every_condition(self):
        name = "mixtral-bf16"
        with tempfile.TemporaryDirectory() as tmp:
            text, rng = write_text_ids(tmp)
            # Token-id tasks (the fixtures have no tokenizer): 12 items of 3 choices.
            tasks = os.path.join(tmp, "tasks.jsonl")
            with open(tasks, "w") as f:
                for _ in range(12):
                    ctx = [1] + [int(i) for i in rng.integers(3, 128, size=6)]
                    choices = [[int(i) for i in rng.integers(3, 128, size=int(rng.integers(1, 4)))] for _ in range(3)]
                    f.write(json.dumps({"context_ids": ctx, "choices_ids": choices, "gold": int(rng.integers(0, 3))}) + "\n")
            code, out, err = cli("study", "experts", os.path.join(MOE, name), "--text-ids", text, "--ids", ids(name), "--ctx", "16",
                                 "--no-stopwords", "--tasks", tasks, "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["tasks"], tasks)
            self.assertIn("zero-shot accuracy", j["markdown"])
            accuracies = set()
            for c in j["conditions"]:
                zs = c["zero_shot"]
                self.assertEqual(zs["count"], 12, c["key"])
                # Each condition's accuracy is what `zeroshot` gives with the same experts pruned.
                edit_args = [a for e in c["edits"] for a in ("--edit", e)]
                code, out2, err = cli("zeroshot", os.path.join(MOE, name), "--tasks", tasks, *edit_args, "--json")
                self.assertEqual(code, 0, err)
                z = json.loads(out2)
                self.assertAlmostEqual(z["accuracy"], zs["accuracy"], places=12, msg=c["key"])
                self.assertEqual(z["predictions"], zs["predictions"], c["key"])
                accuracies.add(tuple(zs["predictions"]))
            # Pruning changes some prediction (the measure sees the edits).
            self.assertGreater(len(accuracies), 1)
            # --no-tasks: none; text tasks without a tokenizer: one line naming the model.
            code, out, err = cli("study", "experts", os.path.join(MOE, name), "--text-ids", text, "--ids", ids(name), "--ctx", "16",
                                 "--no-stopwords", "--no-tasks", "--json")
            self.assertEqual(code, 0, err)
            self.assertIsNone(json.loads(out)["conditions"][0]["zero_shot"])
            text_tasks = os.path.join(tmp, "text.jsonl")
            with open(text_tasks, "w") as f:
                f.write(json.dumps({"context": "In the beginning", "choices": ["God", "man"], "gold": 0}) + "\n")
            code, out, err = cli("study", "experts", os.path.join(MOE, name), "--text-ids", text, "--ids", ids(name), "--ctx", "16",
                                 "--no-stopwords", "--tasks", text_tasks)
            self.assertEqual(code, 1, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("no tokenizer (needed for the text tasks of", err)

    def test_scan_finds_a_super_weight_in_a_dense_layer_of_qwen2_moe(self):
        # Qwen2-MoE's mlp_only_layers = [1]: a dense MLP between routed ones.
        # A super weight planted there (input channel C made to spike by
        # scaling its gate and up rows, its down_proj column zero but for row R)
        # is found by the dense-layer scan, beside the expert profile.
        name, C, R = "qwen2-moe-f32", 20, 7
        with tempfile.TemporaryDirectory() as tmp:
            dst = os.path.join(tmp, name)
            os.mkdir(dst)
            shutil.copy(os.path.join(MOE, name, "config.json"), dst)
            raw = bytearray(open(os.path.join(MOE, name, "model.safetensors"), "rb").read())
            n = struct.unpack("<Q", raw[:8])[0]
            header = json.loads(raw[8:8 + n])

            def tensor(key):
                e = header[key]
                a, b = e["data_offsets"]
                self.assertEqual(e["dtype"], "F32")
                return np.frombuffer(raw, dtype=np.float32, count=(b - a) // 4, offset=8 + n + a).reshape(e["shape"])

            for proj in ("gate_proj", "up_proj"):
                tensor(f"model.layers.1.mlp.{proj}.weight")[C, :] *= 6
            down = tensor("model.layers.1.mlp.down_proj.weight")
            down[:, C] = 0
            down[R, C] = 10
            with open(os.path.join(dst, "model.safetensors"), "wb") as f:
                f.write(raw)
            code, out, err = cli("scan", dst, "--ids", ids(name), "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            self.assertEqual(j["dense_layers"], [1])
            dense = [w for w in j["super_weights"] if "expert" not in w]
            self.assertEqual([(w["layer"], w["row"], w["col"], w["tensor"]) for w in dense],
                             [(1, R, C, "model.layers.1.mlp.down_proj.weight")])
            self.assertAlmostEqual(dense[0]["value"], 10.0, places=6)
            # The unplanted fixture has none there.
            code, out, err = cli("scan", os.path.join(MOE, name), "--ids", ids(name), "--json")
            self.assertEqual(code, 0, err)
            self.assertEqual([w for w in json.loads(out)["super_weights"] if "expert" not in w], [])

    def test_figure_experts_draws_the_float64_profile(self):
        name = "mixtral-bf16"
        ref = REFS[name]
        with tempfile.TemporaryDirectory() as tmp:
            out_pdf = os.path.join(tmp, "experts.pdf")
            code, out, err = cli("figure", "experts", os.path.join(MOE, name), "--ids", ids(name), "--edit", "expert:1:0=off",
                                 "--width", "one", "--out", out_pdf, "--json")
            self.assertEqual(code, 0, err)
            self.assertEqual(err, "")
            self.assertGreater(os.path.getsize(out_pdf), 1000)
            rows = [line.split(",") for line in open(os.path.join(tmp, "experts.csv")) if line.strip() and not line.startswith("#")]
            header, body = rows[0], rows[1:]
            col = {h: i for i, h in enumerate(header)}
            prof = ref["expert_profile"]
            self.assertEqual(len(body), len(prof["layers"]) * ref["experts"])
            for r in body:
                li = prof["layers"].index(int(r[col["layer"]]))
                e = int(r[col["expert"]])
                want = prof["max_abs_out"][li][e]
                got = float(r[col["max_abs_out"]])
                self.assertLess(abs(got - want), 1e-4 * max(1.0, abs(want)), (li, e))
                self.assertEqual(int(r[col["load"]]), prof["load"][li][e], (li, e))
                self.assertEqual(r[col["super"]], "1" if [prof["layers"][li], e] in prof["super_experts"] else "0")
                self.assertEqual(r[col["pruned"]], "1" if (prof["layers"][li], e) == (1, 0) else "0")
                # mean router probability over the prompt, from the float64 hook
                w = np.asarray(ref["hooks"][f"blocks.{prof['layers'][li]}.mlp.hook_expert_weights"])
                self.assertLess(abs(float(r[col["mean_p_original"]]) - w[:, e].mean()), 1e-5)
            # A dense model has no experts to draw: one line.
            code, out, err = cli("figure", "experts", os.path.join(os.environ["SUPERLENS_TEST_DATA"], "families", "qwen3-bf16"),
                                 "--ids", "1,5,9", "--out", os.path.join(tmp, "dense.pdf"))
            self.assertEqual(code, 1, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("no routed experts", err)
            self.assertFalse(os.path.exists(os.path.join(tmp, "dense.pdf")))


if __name__ == "__main__":
    unittest.main()
