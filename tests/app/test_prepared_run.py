#!/usr/bin/python3
"""The start every model-running command shares (app/cli prepareModel,
prepareRun, prepareTextRun, optionalTokenizer, PreparedModel::editsFor): the model's own tokenizer, a GGUF file's
too, names the tokens of `lens`, `logits` and `generate` and encodes the
texts of `ppl` and `stopwords`; a damaged tokenizer is refused in one line
even for --ids, by every command; a vision model is refused by the text
commands naming what to give.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_TEST_DATA set."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
DATA = os.environ["SUPERLENS_TEST_DATA"]
GGUF = os.path.join(DATA, "stories260K", "stories260K.gguf")


def cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


class PreparedRun(unittest.TestCase):
    def test_lens_names_tokens_with_a_gguf_files_own_tokenizer(self):
        # lens looked for tokenizer files beside the model, so a GGUF file's
        # lens had no token strings; it now uses the model's own tokenizer.
        code, out, err = cli("lens", GGUF, "--prompt", "Once upon a time", "--json")
        self.assertEqual(code, 0, err)
        j = json.loads(out)
        self.assertIsInstance(j["final"]["token"], str)
        code, out2, err = cli("logits", GGUF, "--prompt", "Once upon a time", "--top", "3", "--json")
        self.assertEqual(code, 0, err)
        self.assertEqual(json.loads(out2)["ids"], j["ids"])
        self.assertTrue(all(isinstance(t["token"], str) for t in json.loads(out2)["top"]))

    def test_a_damaged_tokenizer_is_refused_even_for_ids(self):
        src = os.path.join(DATA, "stories260K")
        with tempfile.TemporaryDirectory() as tmp:
            m = os.path.join(tmp, "model")
            os.mkdir(m)
            for f in ("config.json", "model.safetensors", "tokenizer_config.json"):
                shutil.copy(os.path.join(src, f), m)
            with open(os.path.join(m, "tokenizer.model"), "wb") as f:
                f.write(b"\x0a\x05broken")
            ids = os.path.join(tmp, "ids.txt")
            with open(ids, "w") as f:
                f.write("1 2 3 4 5 6 7 8\n")
            out_h5 = os.path.join(tmp, "acts.h5")
            # capture read a damaged tokenizer silently for --ids (and wrote no vocabulary); now refused like the rest.
            for command in (["logits", m, "--ids", "1,2,3"], ["lens", m, "--ids", "1,2,3"], ["generate", m, "--ids", "1,2,3", "--max-new", "2"],
                            ["capture", m, "--ids", "1,2,3", "--out", out_h5], ["scan", m, "--ids", "1,2,3"],
                            ["ppl", m, "--text-ids", ids], ["figure", "spikes", m, "--ids", "1,2,3", "--out", os.path.join(tmp, "f.svg")]):
                code, out, err = cli(*command)
                self.assertEqual(code, 1, command)
                self.assertEqual(out, "", command)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn("tokenizer.model", err)

    def test_text_measures_use_a_gguf_files_own_tokenizer(self):
        # ppl, stopwords and the studies looked for tokenizer files beside the
        # model: a GGUF file alone in its folder could not take --text.
        with tempfile.TemporaryDirectory() as tmp:
            alone = os.path.join(tmp, "stories260K.gguf")
            shutil.copy(GGUF, alone)
            text = os.path.join(tmp, "text.txt")
            with open(text, "w") as f:
                f.write("Once upon a time, there was a little girl named Lily. She loved to play outside in the sun.\n" * 4)
            for command in (["ppl", "--text", text, "--ctx", "32", "--json"], ["stopwords", "--text", text, "--ctx", "32", "--json"]):
                code, out, err = cli(command[0], alone, *command[1:])
                self.assertEqual(code, 0, err)
                # The same numbers as the file beside its tokenizer.model (the GGUF's own vocabulary is used in both).
                code2, out2, err2 = cli(command[0], GGUF, *command[1:])
                self.assertEqual(code2, 0, err2)
                a, b = json.loads(out), json.loads(out2)
                for key in ("ppl", "tokens", "original_mass", "positions"):
                    if key in a:
                        self.assertEqual(a[key], b[key], key)

    def test_capture_and_scan_read_a_prompts_file_by_one_rule(self):
        # capture kept every non-blank line verbatim ('#' lines were prompts,
        # blanks around a prompt were tokenized); scan trimmed, skipped '#'
        # comments and dropped repeats. One rule now (core::parsePromptLines).
        stories = os.path.join(DATA, "stories260K")
        with tempfile.TemporaryDirectory() as tmp:
            prompts = os.path.join(tmp, "p.txt")
            with open(prompts, "w") as f:
                f.write("# prompts for the test\nOnce upon a time\n\n   The cat sat on the mat.  \r\n#not a prompt\nOnce upon a time\n")
            code, out, err = cli("capture", stories, "--prompts", prompts, "--out", os.path.join(tmp, "a.h5"), "--json")
            self.assertEqual(code, 0, err)
            runs = json.loads(out)["runs"]
            self.assertEqual([r["reused"] for r in runs], [False, False, True])
            self.assertEqual([r["prompt"] for r in runs], ["Once upon a time", "The cat sat on the mat.", "Once upon a time"])
            code, out, err = cli("scan", stories, "--ids", "1,2,3", "--prompts", prompts, "--json")
            self.assertEqual(code, 0, err)
            self.assertEqual(json.loads(out)["prompts"], 4)  # --ids, then the file's three (repeats kept)
            with open(prompts, "w") as f:
                f.write("# only a comment\n\n")
            for command in (["capture", stories, "--prompts", prompts, "--out", os.path.join(tmp, "b.h5")], ["scan", stories, "--prompts", prompts]):
                code, out, err = cli(*command)
                self.assertEqual(code, 1, command)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertIn("p.txt: no prompts", err)

    def test_text_commands_refuse_a_vision_model_naming_the_input(self):
        vit = os.path.join(DATA, "vision", "vit-f32")
        for command in (["logits", vit, "--ids", "1,2"], ["lens", vit, "--ids", "1,2"], ["generate", vit, "--ids", "1,2"]):
            code, out, err = cli(*command)
            self.assertEqual(code, 1, command)
            self.assertEqual(out, "")
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("reads an image", err)


class KeepSuperFromEachInput(unittest.TestCase):
    """keep_super without coordinates is resolved by a scan of the command's
    own input, whatever its shape (PreparedModel::editsFor,
    core::resolveKeepSuperFromScan): an image, a mixture-of-experts prompt,
    a study's text. Each case used to end in "keep_super without coordinates
    must be resolved by a scan first" or "not available for images yet"."""

    VISION = os.path.join(DATA, "vision-massive", "dinov2-massive-f32")
    IMAGE = os.path.join(VISION, "image-0.npy")
    KEEP = "rtn:*:bits=4:block=tensor:keep_super"
    # The planted pair of make_vision_massive.py: block 1's fc2 writes 40 x neuron 0 into channel 7.
    PLANTED = ":keep_super=1:7:0"

    def json_of(self, *args):
        code, out, err = cli(*args, "--json")
        self.assertEqual(code, 0, f"{args}: {err}")
        return json.loads(out)

    def test_an_image_command_scans_the_image(self):
        j = self.json_of("scan", self.VISION, "--pixels", self.IMAGE, "--edit", self.KEEP)
        self.assertEqual(j["edits"], [self.KEEP + "=1:7:0"])
        # actq keeps the super activation: CLS (token 0), channel 7.
        actq = "actq:blocks.*.hook_resid_post:bits=8:block=tensor:keep_super"
        j = self.json_of("scan", self.VISION, "--pixels", self.IMAGE, "--edit", actq)
        self.assertEqual(j["edits"], [actq + "=0:7"])
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "acts.h5")
            code, _, err = cli("capture", self.VISION, "--pixels", self.IMAGE, "--edit", self.KEEP, "--out", out)
            self.assertEqual(code, 0, err)
            import h5py  # Debian's python3-h5py, as the capture tests
            with h5py.File(out, "r") as f:
                edits = json.loads(f["runs/0"].attrs["edits"])
            self.assertEqual(edits, [self.KEEP + "=1:7:0"])

    def test_a_mixture_of_experts_scan_resolves_it(self):
        mixtral = os.path.join(DATA, "moe", "mixtral-bf16")
        ids = ",".join(map(str, json.load(open(os.path.join(DATA, "moe", "refs.json")))["mixtral-bf16"]["ids"]))
        plain = self.json_of("scan", mixtral, "--ids", ids)
        j = self.json_of("scan", mixtral, "--ids", ids, "--edit", "rtn:*:bits=8:block=tensor:keep_super")
        self.assertEqual(len(j["edits"]), 1)
        self.assertNotIn("keep_super", j["edits"][0].replace(":keep_super=", ""), j["edits"])  # resolved or dropped
        # 8-bit weights keep the same super experts (their peaks move a little).
        experts = [[(e["layer"], e["expert"]) for e in d["super_experts"]] for d in (j, plain)]
        self.assertEqual(experts[0], experts[1])
        self.assertTrue(experts[0])

    def test_the_studies_resolve_it_from_their_scan_input(self):
        phi3 = os.path.join(DATA, "reference", "phi3-bf16-two-super-weights")
        ids = json.load(open(os.path.join(DATA, "reference", "refs.json")))["phi3-bf16-two-super-weights"]["ids"]
        keep = "rtn:model.layers.*.mlp.*:bits=8:block=tensor:keep_super"
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "text.ids")
            with open(text, "w") as f:
                f.write(" ".join(map(str, ids * 4)))
            j = self.json_of("study", "massive", phi3, "--text-ids", text, "--ctx", str(len(ids)), "--bootstrap", "0", "--edit", keep)
            # The fixture's two planted super weights (tests/data/reference/refs.json "planted").
            self.assertEqual(j["edits"], [keep + "=1:8:42;1:50:42"])
            # study experts reports its base edits too, resolved by a scan of its profile input.
            mixtral = os.path.join(DATA, "moe", "mixtral-bf16")
            moe_ids = json.load(open(os.path.join(DATA, "moe", "refs.json")))["mixtral-bf16"]["ids"]
            with open(text, "w") as f:
                f.write(" ".join(map(str, moe_ids * 4)))
            j = self.json_of("study", "experts", mixtral, "--text-ids", text, "--ctx", "8", "--bootstrap", "0", "--no-tasks",
                             "--no-stopwords", "--edit", "rtn:*:bits=8:block=tensor:keep_super")
            self.assertEqual(j["edits"], ["rtn:*:bits=8:block=tensor"])  # the scan finds no dense super weight: nothing to keep

    def test_figure_overlay_of_model_b_resolves_it_for_b(self):
        # figure --overlay-b ran model B with the edits unresolved (the engine
        # refused: "keep_super without coordinates must be resolved by a scan first").
        stories = os.path.join(DATA, "stories260K")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "logits.png")
            code, _, err = cli("figure", "logits", stories, "--compare-with", os.path.join(stories, "stories260K.gguf"), "--overlay-b",
                               "--ids", "1,403,407,261,378", "--edit", "rtn:*:bits=8:block=tensor:keep_super", "--out", out)
            self.assertEqual(code, 0, err)
            self.assertTrue(os.path.getsize(out) > 0)

    def test_a_stride_beyond_the_default_window_is_one_error(self):
        planted = os.path.join(DATA, "reference", "llama-planted")
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "text.ids")
            with open(text, "w") as f:
                f.write(" ".join(str(3 + i % 200) for i in range(64)))
            code, out, err = cli("ppl", planted, "--text-ids", text, "--stride", "100000")
            self.assertEqual(code, 1, err)
            self.assertEqual(out, "")
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn("--stride 100000 is larger than the window", err)
            code, _, err = cli("ppl", planted, "--text-ids", text, "--ctx", "8", "--stride", "9")
            self.assertEqual(code, 2, err)


if __name__ == "__main__":
    unittest.main()
