#!/usr/bin/python3
"""LASER on an encoder (issue 18): `superlens-cli study laser` on the RoBERTa
fixture measures the text by masked-token accuracy and loss. Checked here
against an independent float64 forward (scripts/fixtures/make_encoder_models.py,
written from modeling_roberta.py) of the masked windows, with and without a
rank-reduced matrix (numpy float64 SVD): loss within 1e-4, accuracy exact;
the masked positions against this file's own implementation of the
documented rule (core/analysis/metrics.h, docs/COMPRESSION.md "Encoders");
the bootstrap intervals against a re-implementation of bootstrap.h's
resampler on the reference's per-window sums; the Python module's study
equal to the CLI's document.

The text ends in Japanese: byte-level BPE splits it into UTF-8 byte tokens,
one of which the random fixture predicts at most <mask> positions, so the
accuracies are not all zero (0.05..0.19 across the cells).

Run by CTest with SUPERLENS_BIN_DIR, SUPERLENS_TEST_DATA, SUPERLENS_SOURCE_DIR set."""
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
SOURCE = os.environ["SUPERLENS_SOURCE_DIR"]
sys.path.insert(0, os.path.join(SOURCE, "scripts", "fixtures"))
import make_encoder_models as enc  # noqa: E402
import make_family_models as fam  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bootstrap_reference import SEED, SplitMix, interval as bootstrap_interval  # noqa: E402

MODEL = os.path.join(DATA, "encoders", "roberta-f32")
TEXT = os.path.join(DATA, "encoders", "mlm_text.txt")
SPEC = next(m for m in enc.MODELS if m["name"] == "roberta-f32")


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def cli_json(*args):
    code, out, err = cli(*args, "--json")
    if code != 0:
        raise AssertionError(f"superlens-cli {' '.join(args)}: exit {code}: {err}")
    return json.loads(out)


def tokenizer_specials():
    with open(os.path.join(MODEL, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    specials = {t["id"] for t in tj["added_tokens"] if t.get("special")}
    mask = next(t["id"] for t in tj["added_tokens"] if t["content"] == "<mask>")
    return specials, mask


def masked_windows(ids, ctx, fraction, seed):
    """The documented rule, written from its description."""
    specials, mask = tokenizer_specials()
    b, e = 0, len(ids)
    while b < e and ids[b] in specials:
        b += 1
    while e > b and ids[e - 1] in specials:
        e -= 1
    prefix, suffix = ids[:b], ids[e:]
    chunk = ctx - len(prefix) - len(suffix)
    rng = SplitMix(seed)
    out = []
    for c in range(b, e, chunk):
        body = ids[c:min(e, c + chunk)]
        inp = prefix + body + suffix
        elig = [i for i in range(len(prefix), len(prefix) + len(body)) if inp[i] not in specials]
        if not elig:
            continue
        m = len(elig)
        k = min(m, max(1, math.floor(fraction * m + 0.5)))
        for i in range(k):
            j = i + rng.below(m - i)
            elig[i], elig[j] = elig[j], elig[i]
        pos = sorted(elig[:k])
        targets = [inp[p] for p in pos]
        for p in pos:
            inp[p] = mask
        out.append({"input": inp, "positions": pos, "targets": targets})
    return out


def weights(edit=None):
    w = fam.read_safetensors(os.path.join(MODEL, "model.safetensors"))
    if edit:
        name, rho = edit
        u, s, vt = np.linalg.svd(w[name], full_matrices=False)
        k = max(1, math.floor(rho * min(w[name].shape)))
        w[name] = (u[:, :k] * s[:k]) @ vt[:k]
    return w


def reference_scores(windows, w):
    """Per window (NLL sum, masked, correct) of the float64 forward."""
    out = []
    for win in windows:
        _, logits = enc.forward(SPEC, w, win["input"])
        nll, correct = 0.0, 0
        for p, t in zip(win["positions"], win["targets"]):
            row = logits[p]
            mx = row.max()
            lse = mx + math.log(math.fsum(np.exp(row - mx).tolist()))
            nll += lse - row[t]
            correct += int(int(np.argmax(row)) == t)
        out.append((nll, len(win["positions"]), correct))
    return out


def bootstrap_ci(units, stat, resamples, level, seed=SEED):
    return bootstrap_interval(len(units), stat, resamples, level, seed)


class EncoderLaser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(TEXT, encoding="utf-8") as f:
            text = f.read()
        cls.ids = cli_json("tokenize", MODEL, "--prompt", text)["ids"]

    def test_masking_follows_the_documented_rule(self):
        for ctx, fraction, seed in ((None, 0.15, 0x6D61736B), (16, 0.15, 0x6D61736B), (12, 0.4, 7)):
            args = ["study", "laser", MODEL, "--text", TEXT, "--types", "up", "--layers", "0", "--rhos", "0.5", "--bootstrap", "0"]
            if ctx:
                args += ["--ctx", str(ctx)]
            if (fraction, seed) != (0.15, 0x6D61736B):
                args += ["--mask-fraction", str(fraction), "--mask-seed", str(seed)]
            j = cli_json(*args)
            want = masked_windows(self.ids, ctx or 38, fraction, seed)  # 38: 40 positions from padding_idx + 1
            self.assertEqual(j["masked_lm"]["windows"], want, f"ctx {ctx} fraction {fraction} seed {seed}")
            self.assertEqual(j["masked_lm"]["rule"], "mask")
            self.assertEqual(j["metrics"], ["mlm_accuracy", "mlm_loss"])
            self.assertIsNone(j["baseline"]["ppl"])
            self.assertEqual(j["baseline"]["mlm_tokens"], sum(len(w["positions"]) for w in want))
        self.assertGreater(len(want), 2)

    def test_accuracy_and_loss_equal_the_float64_forward(self):
        j = cli_json("study", "laser", MODEL, "--text", TEXT, "--ctx", "16", "--types", "up,down,q", "--layers", "1,2",
                     "--rhos", "0.1,0.5", "--bootstrap", "300", "--ci", "0.9")
        windows = j["masked_lm"]["windows"]
        self.assertEqual(len(j["cells"]), 12)
        conditions = [(None, j["baseline"])] + [((c["tensor"], c["rho"]), c) for c in j["cells"] if c["layer"] == 2 or c["rho"] == 0.1]
        base_scores = None
        for edit, got in conditions:
            scores = reference_scores(windows, weights(edit))
            nll = sum(s[0] for s in scores)
            tokens = sum(s[1] for s in scores)
            correct = sum(s[2] for s in scores)
            self.assertLess(abs(got["mlm_loss"] - nll / tokens), 1e-4, f"{edit}: loss {got['mlm_loss']} vs {nll / tokens}")
            self.assertEqual(got["mlm_accuracy"], correct / tokens, f"{edit}")
            self.assertEqual(got["mlm_tokens"], tokens)
            loss = lambda sc: (lambda c: sum(k * s[0] for k, s in zip(c, sc)) / sum(k * s[1] for k, s in zip(c, sc)))  # noqa: E731
            ci = bootstrap_ci(scores, loss(scores), 300, 0.9)
            self.assertLess(max(abs(a - b) for a, b in zip(got["mlm_loss_ci"], ci)), 1e-4, f"{edit}: ci {got['mlm_loss_ci']} vs {ci}")
            self.assertTrue(got["mlm_loss_ci"][0] <= got["mlm_loss"] <= got["mlm_loss_ci"][1])
            self.assertIn("mlm_accuracy_ci", got)
            if base_scores is None:
                base_scores = scores
            else:
                delta = bootstrap_ci(scores, lambda c: loss(scores)(c) - loss(base_scores)(c), 300, 0.9)
                self.assertLess(max(abs(a - b) for a, b in zip(got["mlm_loss_delta_ci"], delta)), 1e-4, f"{edit}: delta ci")
        # Accuracy is not trivially zero, and the edits move both measures.
        accs = {c["mlm_accuracy"] for c in j["cells"]} | {j["baseline"]["mlm_accuracy"]}
        self.assertGreater(max(accs), 0.0)
        self.assertGreater(len(accs), 2)
        self.assertTrue(any(abs(c["mlm_loss"] - j["baseline"]["mlm_loss"]) > 1e-3 for c in j["cells"]))

    def test_markdown_and_csv_name_the_masked_measure(self):
        code, out, err = cli("study", "laser", MODEL, "--text", TEXT, "--types", "down", "--layers", "2", "--rhos", "0.5")
        self.assertEqual(code, 0, err)
        self.assertIn("MLM acc", out)
        self.assertIn("MLM loss", out)
        self.assertIn("masked-token accuracy and loss", out)
        code, out, err = cli("study", "laser", MODEL, "--text", TEXT, "--types", "down", "--layers", "2", "--rhos", "0.5", "--csv")
        self.assertEqual(code, 0, err)
        self.assertIn("mlm_accuracy,mlm_loss", out.splitlines()[0])

    def test_next_token_measures_are_refused_by_name(self):
        tasks = os.path.join(SOURCE, "resources", "tasks", "bible_mc.jsonl")
        code, out, err = cli("study", "laser", MODEL, "--text", TEXT, "--tasks", tasks, "--types", "up", "--layers", "0", "--rhos", "0.5")
        self.assertEqual(code, 1)
        self.assertIn("bidirectional encoder", err)
        self.assertEqual(out, "")
        code, out, err = cli("study", "laser", MODEL, "--text", TEXT, "--ctx", "2", "--types", "up", "--layers", "0", "--rhos", "0.5")
        self.assertEqual(code, 1)
        self.assertIn("no room for text", err)
        # Without a tokenizer there is no mask token.
        with tempfile.NamedTemporaryFile("w", suffix=".ids") as f:
            f.write("101 7 250 42 18 102\n")
            f.flush()
            code, out, err = cli("study", "laser", os.path.join(DATA, "encoders", "bert-f16"), "--text-ids", f.name, "--types", "up",
                                 "--layers", "0", "--rhos", "0.5")
        self.assertEqual(code, 1)
        self.assertIn("needs its tokenizer", err)


if __name__ == "__main__":
    unittest.main()
