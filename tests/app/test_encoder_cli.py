#!/usr/bin/python3
"""Encoders and vision encoders through the CLI (issue 18): info, logits
--all-positions with a <mask> prompt, capture and scan on the RoBERTa/BERT
fixtures (tests/data/encoders), and scan --pixels / --image with token kinds
on the vision fixtures (tests/data/vision), checked against their float64
answers and the image processors' pixel_values.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
ENC = os.path.join(DATA, "encoders")
VIS = os.path.join(DATA, "vision")
ENC_REFS = json.load(open(os.path.join(ENC, "refs.json")))
VIS_REFS = json.load(open(os.path.join(VIS, "refs.json")))


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def rel_err(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


class Encoders(unittest.TestCase):
    def test_info_names_the_encoder_recipe(self):
        for name in ENC_REFS:
            code, out, err = cli("info", os.path.join(ENC, name), "--json")
            self.assertEqual(code, 0, err)
            self.assertIn("bidirectional", json.dumps(json.loads(out)), name)

    def test_mask_prompt_gives_mlm_logits_at_every_position(self):
        ref = ENC_REFS["roberta-f32"]
        code, out, err = cli("logits", os.path.join(ENC, "roberta-f32"), "--prompt", ref["mask_text"], "--all-positions", "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual(j["ids"], ref["prompts"][0]["ids"])  # <s> ... <mask> ... </s>, as HF tokenizers
        self.assertLess(rel_err(j["logits"], ref["prompts"][0]["logits_all"]), 1e-4)

    def test_logits_without_all_positions_are_the_mask_positions(self):
        ref = ENC_REFS["roberta-f32"]
        ids = ref["prompts"][0]["ids"]
        mask_id = 560  # "<mask>" in the fixture's tokenizer.json
        want_positions = [i for i, t in enumerate(ids) if t == mask_id]
        self.assertEqual(len(want_positions), 1)
        code, out, err = cli("logits", os.path.join(ENC, "roberta-f32"), "--prompt", ref["mask_text"], "--top", "3", "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertEqual(j["mask_positions"], want_positions)
        rows = [ref["prompts"][0]["logits_all"][p] for p in want_positions]
        self.assertLess(rel_err(j["logits"], rows), 1e-4)
        best = int(np.argmax(rows[0]))
        self.assertEqual(j["top"][0][0]["id"], best)
        # text form names the mask position
        code, out, err = cli("logits", os.path.join(ENC, "roberta-f32"), "--prompt", ref["mask_text"])
        self.assertEqual(code, 0, err)
        self.assertIn(f"position {want_positions[0]} (token {mask_id})", out)
        # no mask in the input, or no tokenizer to name it: one error line
        code, out, err = cli("logits", os.path.join(ENC, "roberta-f32"), "--prompt", "The capital of France.")
        self.assertEqual(code, 1)
        self.assertIn("no mask token (<mask>, id 560) in the input", err)
        code, out, err = cli("logits", os.path.join(ENC, "bert-f16"), "--ids", "101,7,250,103,102")
        self.assertEqual(code, 1)
        self.assertIn("--all-positions", err)
        self.assertEqual(len([l for l in err.splitlines() if l.strip()]), 1, err)

    def test_ids_with_padding_and_an_edit(self):
        ref = ENC_REFS["roberta-f32"]
        ids = ",".join(str(i) for i in ref["prompts"][0]["ids"])
        code, out, err = cli("logits", os.path.join(ENC, "roberta-f32"), "--ids", ids, "--all-positions", "--edit", ref["edited"]["edit"], "--json")
        self.assertEqual(code, 0, err)
        self.assertLess(rel_err(json.loads(out)["logits"], ref["edited"]["logits_all"]), 1e-4)

    def test_capture_and_scan(self):
        for name, ref in ENC_REFS.items():
            prompt = ref["prompts"][0]
            ids = ",".join(str(i) for i in prompt["ids"])
            with tempfile.TemporaryDirectory() as tmp:
                out_file = os.path.join(tmp, "enc.h5")
                code, out, err = cli("capture", os.path.join(ENC, name), "--ids", ids, "--out", out_file,
                                     "--hooks", "blocks.*.hook_resid_mid", "--hooks", "ln_final.hook_normalized", "--json")
                self.assertEqual(code, 0, err)
                with h5py.File(out_file, "r") as f:
                    run = f["runs"][sorted(f["runs"].keys())[0]]
                    self.assertLess(rel_err(run["blocks.0.hook_resid_mid"][()], prompt["hooks"]["blocks.0.hook_resid_mid"]), 1e-4)
                    self.assertLess(rel_err(run["ln_final.hook_normalized"][()], prompt["hooks"]["ln_final.hook_normalized"]), 1e-4)
            code, out, err = cli("scan", os.path.join(ENC, name), "--ids", ids, "--json")
            self.assertEqual(code, 0, err)
            self.assertIn("massive_activations", json.loads(out))

    def test_left_to_right_commands_refuse_an_encoder(self):
        code, out, err = cli("generate", os.path.join(ENC, "roberta-f32"), "--ids", "0,5,2", "--max-new", "2")
        self.assertEqual(code, 1, err)
        self.assertIn("bidirectional encoder", err)
        self.assertEqual(out, "")


class Vision(unittest.TestCase):
    def test_scan_reports_token_kinds(self):
        for name, ref in VIS_REFS.items():
            folder = os.path.join(VIS, name)
            code, out, err = cli("scan", folder, "--pixels", os.path.join(folder, "pixels.npy"), "--top-k", "4", "--json")
            self.assertEqual(code, 0, err)
            j = json.loads(out)
            R, (gh, gw) = ref["registers"], ref["grid"]
            self.assertEqual(j["image"]["tokens"], 1 + R + gh * gw)
            self.assertEqual(j["image"]["registers"], R)
            resid = np.asarray(ref["hooks"]["blocks.0.hook_resid_post"])
            for entry in j["top_per_layer"][0]:
                t = entry["token"]
                kind = "cls" if t == 0 else ("register" if t <= R else "patch")
                self.assertEqual(entry["token_kind"], kind, name)
                if kind == "patch":
                    self.assertEqual(entry["patch_row"] * gw + entry["patch_col"], t - 1 - R)
                if kind == "register":
                    self.assertEqual(entry["register"], t - 1)
                self.assertAlmostEqual(entry["value"], resid[t, entry["channel"]], delta=1e-4 * np.max(np.abs(resid)))
            # the largest entry of layer 0 is the reference's largest |resid_post|
            top = j["top_per_layer"][0][0]
            t, c = np.unravel_index(np.argmax(np.abs(resid)), resid.shape)
            self.assertEqual((top["token"], top["channel"]), (int(t), int(c)))

    def test_image_file_equals_the_processors_pixel_values(self):
        # --image PNG through each folder's preprocessor_config.json gives the
        # pixel_values the fixture script computed (image-pixels.npy): the scans agree.
        image = os.path.join(VIS, "images", "clip-shortest-edge.png")
        for name in VIS_REFS:
            folder = os.path.join(VIS, name)
            code, a, err = cli("scan", folder, "--image", image, "--top-k", "3", "--json")
            self.assertEqual(code, 0, err)
            code, b, err = cli("scan", folder, "--pixels", os.path.join(folder, "image-pixels.npy"), "--top-k", "3", "--json")
            self.assertEqual(code, 0, err)
            ja, jb = json.loads(a), json.loads(b)
            self.assertEqual(ja["top_per_layer"], jb["top_per_layer"], name)
            self.assertEqual(ja["image"], jb["image"], name)

    def test_other_image_sizes_interpolate_positions(self):
        for name, ref in VIS_REFS.items():
            other = ref["interpolated"]
            folder = os.path.join(VIS, name)
            code, out, err = cli("scan", folder, "--pixels", os.path.join(folder, other["pixels_file"]), "--json")
            self.assertEqual(code, 0, err)
            gh, gw = other["grid"]
            self.assertEqual(json.loads(out)["image"]["patch_grid"], [gh, gw], name)

    def test_bad_image_files_are_one_error_line(self):
        folder = os.path.join(VIS, "vit-f32")
        with tempfile.TemporaryDirectory() as tmp:
            png = open(os.path.join(VIS, "images", "clip-shortest-edge.png"), "rb").read()
            cases = {"cut.png": png[:len(png) // 2], "text.png": b"hello", "huge.png": png[:16] + bytes.fromhex("00004e2000004e20") + png[24:]}
            for fname, data in cases.items():
                path = os.path.join(tmp, fname)
                with open(path, "wb") as fh:
                    fh.write(data)
                code, out, err = cli("scan", folder, "--image", path)
                self.assertEqual(code, 1, fname)
                lines = [l for l in err.splitlines() if l.strip()]
                self.assertEqual(len(lines), 1, err)
                self.assertIn(fname, err)
            # a model folder without preprocessor_config.json
            bare = os.path.join(tmp, "bare")
            os.mkdir(bare)
            for f in ("config.json", "model.safetensors"):
                os.symlink(os.path.join(folder, f), os.path.join(bare, f))
            code, out, err = cli("scan", bare, "--image", os.path.join(VIS, "images", "vit-noresize.png"))
            self.assertEqual(code, 1)
            self.assertIn("preprocessor_config.json: missing", err)
        code, out, err = cli("scan", os.path.join(ENC, "roberta-f32"), "--image", os.path.join(VIS, "images", "vit-noresize.png"))
        self.assertEqual(code, 1)
        self.assertIn("--image: this", err)
        self.assertIn("reads tokens", err)

    def test_wrong_input_kinds_are_one_error_line(self):
        folder = os.path.join(VIS, "vit-f32")
        code, out, err = cli("scan", folder, "--ids", "1,2,3")
        self.assertEqual(code, 1)
        self.assertIn("reads an image", err)
        code, out, err = cli("scan", os.path.join(ENC, "roberta-f32"), "--pixels", os.path.join(folder, "pixels.npy"))
        self.assertEqual(code, 1)
        self.assertIn("reads tokens", err)
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.npy")
            with open(bad, "wb") as fh:
                fh.write(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<i4'}")
            code, out, err = cli("scan", folder, "--pixels", bad)
            self.assertEqual(code, 1)
            self.assertIn("bad.npy", err)
            self.assertEqual(len([l for l in err.splitlines() if l.strip()]), 1, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
