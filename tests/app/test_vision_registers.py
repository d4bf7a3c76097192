#!/usr/bin/python3
"""`superlens-cli study registers` (issue 18) on the planted fixtures of
tests/data/vision-massive (scripts/fixtures/make_vision_massive.py): the
massive activation is found where it was planted (CLS in the DINOv2 fixture,
register 2 in the DINOv2-with-registers one) with its token kind, the
intervention sites and their means over the images equal the float64
forward's, and the zero and mean interventions' effects on the final hidden
states (CLS cosine, CLS and all-token relative change) equal those computed
from the script's float64 forwards with the site set to 0 / to the mean
(within 1e-4). On the pair, the report names CLS for the model without
registers and the register token for the one with them.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import subprocess
import unittest

import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
VM = os.path.join(DATA, "vision-massive")
with open(os.path.join(VM, "refs.json"), encoding="utf-8") as _f:
    REFS = json.load(_f)
PLAIN, REGS = "dinov2-massive-f32", "dinov2-registers-massive-f32"


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def study(models, images, *extra):
    args = ["study", "registers", *models]
    for f in images:
        args += ["--pixels", f]
    code, out, err = cli(*args, *extra, "--json")
    if code != 0:
        raise AssertionError(f"exit {code}: {err}")
    return json.loads(out)


def images_of(name):
    return [os.path.join(VM, name, f) for f in REFS[name]["images"]]


def effect(base, edited):
    base, edited = np.asarray(base), np.asarray(edited)
    a, b = base[0], edited[0]
    return {"cls_cosine": float(a @ b / np.sqrt((a @ a) * (b @ b))),
            "cls_rel_change": float(np.linalg.norm(b - a) / np.linalg.norm(a)),
            "tokens_rel_change": float(np.linalg.norm(edited - base) / np.linalg.norm(base))}


class Registers(unittest.TestCase):
    def check_model(self, name, kind, label):
        ref = REFS[name]
        j = study([os.path.join(VM, name)], images_of(name))
        self.assertEqual(len(j["models"]), 1)
        m = j["models"][0]
        planted = ref["planted"]
        # Found where planted, in the planted layer and the next (carried by the residual), nowhere else.
        self.assertEqual([(e["layer"], e["token"], e["channel"], e["token_kind"], e["label"], e["images"]) for e in m["massive_activations"]],
                         [(L, planted["token"], planted["channel"], kind, label, 3) for L in (1, 2)])
        self.assertEqual(m["where"], {"cls": 2 if kind == "cls" else 0, "register": 2 if kind == "register" else 0, "patch": 0})
        self.assertEqual(m["intervention_layer"], planted["layer"])
        self.assertEqual(len(m["sites"]), 1)
        site = m["sites"][0]
        self.assertEqual((site["token"], site["channel"], site["token_kind"]), (planted["token"], planted["channel"], kind))
        np.testing.assert_allclose(site["values"], ref["values"], rtol=1e-5)
        self.assertLess(abs(site["mean"] - ref["mean"]) / abs(ref["mean"]), 1e-5)
        self.assertEqual(len(m["images"]), 3)
        sums = {"zero": np.zeros(3), "mean": np.zeros(3)}
        for got, run in zip(m["images"], ref["runs"]):
            self.assertEqual(got["image"], os.path.join(VM, name, run["image"]))
            self.assertEqual(got["zero_edits"], [f"blocks.1.hook_resid_post[{planted['token']},{planted['channel']}]=0"])
            for mode, key in (("zero", "final_zero"), ("mean", "final_mean")):
                want = effect(run["final"], run[key])
                for k, v in want.items():
                    self.assertLess(abs(got[mode][k] - v), 1e-4, f"{name} {run['image']} {mode} {k}: {got[mode][k]} vs {v}")
                sums[mode] += [want["cls_cosine"], want["cls_rel_change"], want["tokens_rel_change"]]
        for mode in ("zero", "mean"):
            got = m["effect"][mode]
            np.testing.assert_allclose([got["cls_cosine"], got["cls_rel_change"], got["tokens_rel_change"]], sums[mode] / 3, atol=1e-4)
        # Sun et al.: zeroing the massive activation changes the output far more than setting it to its mean.
        self.assertGreater(m["effect"]["zero"]["cls_rel_change"], 10 * m["effect"]["mean"]["cls_rel_change"])
        self.assertGreater(m["effect"]["zero"]["cls_rel_change"], 0.05)
        self.assertIsNone(m["head"])

    def test_without_registers_on_cls(self):
        self.check_model(PLAIN, "cls", "CLS")

    def test_with_registers_on_a_register(self):
        self.check_model(REGS, "register", "register 2")

    def test_the_pair_names_where_they_live(self):
        j = study([os.path.join(VM, PLAIN), os.path.join(VM, REGS)], images_of(PLAIN))
        self.assertEqual([(c["registers"], c["massive_on"]) for c in j["comparison"]], [(0, "cls"), (4, "register")])
        code, out, err = cli("study", "registers", os.path.join(VM, PLAIN), os.path.join(VM, REGS), *sum((["--pixels", f] for f in images_of(PLAIN)), []))
        self.assertEqual(code, 0, err)
        self.assertIn("| 1 | CLS | 7 |", out)
        self.assertIn("| 1 | register 2 | 7 |", out)
        self.assertIn("Massive activations live on:", out)

    def test_a_threshold_above_the_plant_finds_nothing(self):
        j = study([os.path.join(VM, PLAIN)], images_of(PLAIN), "--massive-ratio", "100000")
        m = j["models"][0]
        self.assertEqual(m["massive_activations"], [])
        self.assertEqual(m["intervention_layer"], -1)
        self.assertIn("nothing to intervene on", m["notes"][0])

    def test_bad_inputs_are_refused_by_name(self):
        code, out, err = cli("study", "registers", os.path.join(DATA, "encoders", "roberta-f32"), "--pixels", images_of(PLAIN)[0])
        self.assertEqual(code, 1)
        self.assertIn("reads tokens", err)
        other = os.path.join(DATA, "vision", "dinov2-f32", "pixels-9x17.npy")
        code, out, err = cli("study", "registers", os.path.join(VM, PLAIN), "--pixels", images_of(PLAIN)[0], "--pixels", other)
        self.assertEqual(code, 1)
        self.assertIn("pixels-9x17.npy", err)
        self.assertIn("same patch grid", err)
        code, out, err = cli("study", "registers", os.path.join(VM, PLAIN))
        self.assertEqual(code, 2)
        code, out, err = cli("study", "registers", os.path.join(VM, PLAIN), "--pixels", "/nonexistent.npy")
        self.assertEqual(code, 1)
        self.assertIn("/nonexistent.npy", err)


if __name__ == "__main__":
    unittest.main()
