#!/usr/bin/python3
"""`superlens-cli figure` on vision models (issue 18): every view that applies
to a vision encoder renders from --image and from --pixels (clean files per
tests/app/figure_layout_check.py, nothing on stderr); the Patch grid's CSV
from --image equals the one from --pixels of the processor's pixel_values
(the fixture's image-pixels.npy) within float32 rounding; the views that do
not apply (logits, lens, loss) fail with one line saying why; a text prompt
to a vision model and an image to a text model are one error line each; an
exported figure's embedded command (--from) writes the same CSV again.
Environment: SUPERLENS_BIN_DIR, SUPERLENS_TEST_DATA."""
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import figure_layout_check  # noqa: E402

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
VIS = os.path.join(DATA, "vision")
MODEL = os.path.join(VIS, "dinov2-registers-bf16")
IMAGE = os.path.join(VIS, "images", "clip-shortest-edge.png")
EDIT = "blocks.1.hook_resid_post[0,3]=0"
APPLY = ["spikes", "layer", "propagation", "massive", "attention", "sinks", "patches"]

env = dict(os.environ)
env["QT_QPA_PLATFORM"] = "offscreen"
# A runtime folder of our own: without one, figure makes /tmp/superlens-runtime-*
# for the command's life, which test_figure_cli (run in parallel) counts as left behind.
env["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="superlens-vision-test-")


def figure(*args):
    p = subprocess.run([BIN, "figure", *args], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


def rows(path):
    with open(path, newline="") as f:
        return [r for r in csv.reader(line for line in f if not line.startswith("# "))]


class VisionFigures(unittest.TestCase):
    def test_every_view_that_applies_renders_from_an_image_and_from_pixels(self):
        with tempfile.TemporaryDirectory() as d:
            for kind in APPLY:
                for option, value in (("--image", IMAGE), ("--pixels", os.path.join(MODEL, "pixels.npy"))):
                    out = os.path.join(d, f"{kind}{option}.pdf")
                    code, stdout, err = figure(kind, MODEL, option, value, "--edit", EDIT, "--out", out)
                    self.assertEqual(code, 0, err)
                    self.assertEqual(err, "", kind)
                    report = figure_layout_check.check_file(out)
                    self.assertEqual(report["clipped"], [], kind)
                    self.assertEqual(report["overlapping"], [], kind)
                    self.assertEqual(report["edge_ink"], 0, kind)

    def test_views_without_a_vocabulary_say_why_in_one_line(self):
        with tempfile.TemporaryDirectory() as d:
            for kind in ("logits", "lens", "loss"):
                code, _, err = figure(kind, MODEL, "--image", IMAGE, "--out", os.path.join(d, kind + ".pdf"))
                self.assertEqual(code, 1, kind)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn("vision encoder", err)

    def test_wrong_input_kinds_are_one_error_line(self):
        with tempfile.TemporaryDirectory() as d:
            code, _, err = figure("patches", MODEL, "--prompt", "a cat", "--out", os.path.join(d, "x.pdf"))
            self.assertEqual(code, 1)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("reads an image", err)
            code, _, err = figure("spikes", os.path.join(DATA, "reference", "llama-planted"), "--image", IMAGE, "--out", os.path.join(d, "y.pdf"))
            self.assertEqual(code, 1)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("--image", err)
            code, _, err = figure("patches", MODEL, "--image", IMAGE, "--quantity", "nonsense", "--out", os.path.join(d, "z.pdf"))
            self.assertEqual(code, 1)
            self.assertIn("--quantity", err)

    def test_image_equals_the_processors_pixel_values(self):
        # --image (core's preprocessing) against --pixels of the processor's pixel_values.
        with tempfile.TemporaryDirectory() as d:
            for quantity in ("massive", "attn-registers"):
                a, b = os.path.join(d, f"a-{quantity}.png"), os.path.join(d, f"b-{quantity}.png")
                code, _, err = figure("patches", MODEL, "--image", IMAGE, "--quantity", quantity, "--layer", "2", "--out", a)
                self.assertEqual(code, 0, err)
                code, _, err = figure("patches", MODEL, "--pixels", os.path.join(MODEL, "image-pixels.npy"), "--quantity", quantity,
                                      "--layer", "2", "--out", b)
                self.assertEqual(code, 0, err)
                ra, rb = rows(a[:-4] + ".csv"), rows(b[:-4] + ".csv")
                self.assertEqual(ra[0], rb[0])
                self.assertEqual(len(ra), 1 + 1 + 4 + 2 * 2)
                for x, y in zip(ra[1:], rb[1:]):
                    self.assertEqual(x[:7], y[:7])
                    self.assertAlmostEqual(float(x[7]), float(y[7]), delta=1e-5 * max(1.0, abs(float(y[7]))))

    def test_embedded_command_redraws_the_same_csv(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "grid.svg")
            code, _, err = figure("patches", MODEL, "--image", IMAGE, "--edit", EDIT, "--quantity", "attn-cls", "--head", "2", "--layer", "1",
                                  "--out", out)
            self.assertEqual(code, 0, err)
            again = os.path.join(d, "again.svg")
            code, _, err = figure("--from", out, "--out", again)
            self.assertEqual(code, 0, err)
            self.assertEqual(rows(out[:-4] + ".csv"), rows(again[:-4] + ".csv"))
            with open(out[:-4] + ".csv") as f:
                self.assertIn("attn-cls", f.read())


if __name__ == "__main__":
    try:
        unittest.main()
    finally:
        shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)
