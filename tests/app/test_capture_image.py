#!/usr/bin/python3
"""`superlens-cli capture` on vision models (issue 18): an image run stores the
pixel values that ran (/runs/<n>/pixel_values) instead of token ids, names each
position (CLS, registers, patches), and its hooks equal the fixtures' float64
answers (tests/data/vision/refs.json). The same image again is reused, whether
given as --image or as the processor's pixel_values (--pixels); another image
is a new run; text prompts to a vision model are refused without a file.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
VIS = os.path.join(os.environ["SUPERLENS_TEST_DATA"], "vision")
REFS = json.load(open(os.path.join(VIS, "refs.json")))
IMAGE = os.path.join(VIS, "images", "clip-shortest-edge.png")


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def labels(registers, grid):
    gh, gw = grid
    return ["CLS"] + [f"register {i}" for i in range(registers)] + [f"patch ({r}, {c})" for r in range(gh) for c in range(gw)]


class CaptureImage(unittest.TestCase):
    def test_every_vision_fixture_records_its_reference_hooks(self):
        for name, ref in REFS.items():
            folder = os.path.join(VIS, name)
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "acts.h5")
                code, so, err = cli("capture", folder, "--pixels", os.path.join(folder, "pixels.npy"), "--hooks", "*", "--out", out, "--json")
                self.assertEqual(code, 0, err)
                j = json.loads(so)
                T = 1 + ref["registers"] + ref["grid"][0] * ref["grid"][1]
                self.assertEqual(j["runs"][0]["positions"], T, name)
                self.assertEqual(j["runs"][0]["ids"], [], name)
                with h5py.File(out, "r") as f:
                    run = f["runs/0"]
                    self.assertNotIn("token_ids", run)
                    want_px = np.load(os.path.join(folder, "pixels.npy"))[0]
                    self.assertEqual(run["pixel_values"].dtype, np.float32)
                    self.assertTrue(np.array_equal(run["pixel_values"][()], want_px), name)  # bit for bit
                    self.assertEqual(int(run.attrs["positions"]), T)
                    texts = [t.decode() if isinstance(t, bytes) else t for t in run["token_texts"][()]]
                    self.assertEqual(texts, labels(ref["registers"], ref["grid"]), name)
                    checked = 0
                    for hook, want in ref["hooks"].items():
                        self.assertIn(hook, run, f"{name}: {hook} not recorded")
                        got = run[hook][()].astype(np.float64)
                        want = np.asarray(want, dtype=np.float64)
                        self.assertEqual(got.shape, want.shape, f"{name} {hook}")
                        err_rel = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30)
                        self.assertLess(err_rel, 1e-4, f"{name} {hook}")
                        checked += 1
                    self.assertGreater(checked, 10, name)
                    self.assertNotIn("logits", run)  # vision encoders have no head

    def test_the_same_image_is_reused_and_another_is_a_new_run(self):
        name = "dinov2-registers-bf16"
        folder = os.path.join(VIS, name)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "acts.h5")
            code, so, err = cli("capture", folder, "--image", IMAGE, "--out", out, "--json")
            self.assertEqual(code, 0, err)
            self.assertFalse(json.loads(so)["runs"][0]["reused"])
            # The processor's pixel_values of that image (bit-identical to what --image made): reused.
            code, so, err = cli("capture", folder, "--pixels", os.path.join(folder, "image-pixels.npy"), "--out", out, "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(so)
            self.assertTrue(j["runs"][0]["reused"], so)
            self.assertEqual(j["runs"][0]["run"], 0)
            self.assertIn("reused", err)
            # Another image: a second run, with its own pixels.
            code, so, err = cli("capture", folder, "--pixels", os.path.join(folder, "pixels.npy"), "--out", out, "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(so)
            self.assertFalse(j["runs"][0]["reused"])
            self.assertEqual(j["runs"][0]["run"], 1)
            with h5py.File(out, "r") as f:
                a, b = f["runs/0/pixel_values"][()], f["runs/1/pixel_values"][()]
                self.assertTrue(np.array_equal(a, np.load(os.path.join(folder, "image-pixels.npy"))[0]))
                self.assertTrue(np.array_equal(b, np.load(os.path.join(folder, "pixels.npy"))[0]))
                self.assertNotEqual(f["runs/0"].attrs["pixels_fingerprint"], f["runs/1"].attrs["pixels_fingerprint"])

    def test_text_input_to_a_vision_model_is_refused_without_a_file(self):
        folder = os.path.join(VIS, "vit-f32")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "acts.h5")
            code, so, err = cli("capture", folder, "--ids", "1,2,3", "--out", out)
            self.assertEqual(code, 1)
            self.assertEqual(so, "")
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("reads an image", err)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
