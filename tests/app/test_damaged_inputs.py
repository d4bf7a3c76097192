#!/usr/bin/python3
"""Issue 15's families of damaged input, tried as a new user would, against
superlens-cli: each must end in exit 1 (2 for usage errors) with exactly one
stderr line naming the file or argument and the problem, nothing on stdout,
and no new file anywhere near the input (the model folder and its parent are
listed before and after). Inputs are built here from the bundled demo model.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_SOURCE_DIR set."""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
SRC = os.environ["SUPERLENS_SOURCE_DIR"]
DEMO = os.path.join(SRC, "resources", "models", "demo")
FUZZ = os.path.join(SRC, "tests", "fuzz")


def listing(*dirs):
    out = set()
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            for f in files + subdirs:
                out.add(os.path.join(root, f))
    return out


class DamagedInputs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="superlens-damaged-")
        self.parent = os.path.join(self.tmp, "models")
        os.mkdir(self.parent)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def model(self, name, replace=None, link_weights=True):
        """A copy of the demo with files replaced: {name: bytes | callable(path)}."""
        d = os.path.join(self.parent, name)
        os.mkdir(d)
        for f in os.listdir(DEMO):
            src = os.path.join(DEMO, f)
            if f.endswith(".safetensors") and link_weights:
                os.symlink(src, os.path.join(d, f))
            else:
                shutil.copyfile(src, os.path.join(d, f))
        for f, content in (replace or {}).items():
            p = os.path.join(d, f)
            if os.path.lexists(p):
                os.remove(p)
            if callable(content):
                content(p)
            else:
                with open(p, "wb") as fh:
                    fh.write(content)
        return d

    def config_with(self, **fields):
        with open(os.path.join(DEMO, "config.json")) as f:
            c = json.load(f)
        c.update(fields)
        return json.dumps(c).encode()

    def refused(self, args, fragment, named=None, code=1, cwd=None):
        watch = [self.parent] + ([cwd] if cwd else [])
        before = listing(*watch)
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, cwd=cwd or self.tmp)
        after = listing(*watch)
        what = " ".join(a[:60] for a in args)
        self.assertEqual(p.returncode, code, f"{what}: exit {p.returncode}, stderr {p.stderr!r}")
        self.assertEqual(p.stdout, "", what)
        lines = p.stderr.split("\n")
        self.assertEqual(lines[-1], "", what)
        self.assertEqual(len(lines), 2, f"{what}: not one line: {p.stderr!r}")
        self.assertIn(fragment, lines[0], what)
        if named:
            self.assertIn(named, lines[0], what)
        self.assertEqual(after - before, set(), f"{what}: new files near the input")
        return lines[0]

    # ---- crashes ----
    def test_heads_beyond_int32_in_config(self):
        m = self.model("heads", {"config.json": self.config_with(num_attention_heads=2**32)})
        self.refused(["info", m], "num_attention_heads", named=os.path.join(m, "config.json"))

    def test_crafted_precompiled_charsmap(self):
        for name in sorted(os.listdir(os.path.join(FUZZ, "regressions", "tokenizer_model"))):
            with open(os.path.join(FUZZ, "regressions", "tokenizer_model", name), "rb") as f:
                m = self.model(name.replace(".", "-"), {"tokenizer.model": f.read()})
            expected = "precompiled_charsmap" if name.startswith("charsmap-") else "not a valid SentencePiece model"
            self.refused(["tokenize", m, "--prompt", "AB caf\u00e9 \u2160 \uff21B"], expected, named=os.path.join(m, "tokenizer.model"))

    # ---- hangs ----
    def test_named_pipes_instead_of_files(self):
        for f in ("model.safetensors", "config.json", "tokenizer.model"):
            m = self.model("fifo-" + f, {f: lambda p: os.mkfifo(p)})
            args = ["tokenize", m, "--prompt", "hi"] if f == "tokenizer.model" else ["info", m]
            self.refused(args, "not a regular file", named=os.path.join(m, f))

    # ---- accepted but wrong ----
    def test_dimensions_beyond_int32(self):
        for n in (2**32 + 4, 10**12):
            m = self.model(f"layers-{n}", {"config.json": self.config_with(num_hidden_layers=n)})
            self.refused(["info", m], "num_hidden_layers", named=os.path.join(m, "config.json"))

    def test_merges_of_the_wrong_type(self):
        with open(os.path.join(SRC, "tests", "data", "tokenizers", "stories260K-hf", "tokenizer.json")) as f:
            tok = json.load(f)
        for merges in (5, {"a": "b"}, "a b"):
            tok["model"]["merges"] = merges
            m = self.model(f"merges-{type(merges).__name__}", {"tokenizer.json": json.dumps(tok).encode()})
            self.refused(["tokenize", m, "--prompt", "hi"], "merges", named=os.path.join(m, "tokenizer.json"))

    def test_nan_weights(self):
        with open(os.path.join(DEMO, "model.safetensors"), "rb") as f:
            data = bytearray(f.read())
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8:8 + n])
        name = "model.layers.1.mlp.down_proj.weight"
        assert header[name]["dtype"] == "F32"
        start = 8 + n + header[name]["data_offsets"][0]
        data[start:start + 4] = struct.pack("<f", float("nan"))
        m = self.model("nan", {"model.safetensors": bytes(data)}, link_weights=False)
        for args in (["logits", m, "--ids", "1,5,9"], ["scan", m, "--ids", "1,5,9"]):
            self.refused(args, name + " holds 1 NaN")

    # ---- unbounded memory or time ----
    def test_prompt_beyond_the_context(self):
        ids = ",".join(["5"] * 300)
        self.refused(["logits", DEMO, "--ids", ids], "300 positions exceed")
        self.refused(["generate", DEMO, "--ids", "1,5", "--max-new", "100000"], "exceed")

    def test_vocabulary_id_far_beyond_the_limit(self):
        with open(os.path.join(SRC, "tests", "data", "tokenizers", "stories260K-hf", "tokenizer.json")) as f:
            tok = json.load(f)
        tok["model"]["vocab"]["zz-far"] = 10**8
        m = self.model("vocab-id", {"tokenizer.json": json.dumps(tok).encode()})
        self.refused(["tokenize", m, "--prompt", "hi"], "beyond the limit", named=os.path.join(m, "tokenizer.json"))

    def test_config_linked_to_dev_zero(self):
        m = self.model("zero", {"config.json": lambda p: os.symlink("/dev/zero", p)})
        self.refused(["info", m], "not a regular file", named=os.path.join(m, "config.json"))

    # ---- messy errors ----
    def test_newlines_inside_names_and_arguments(self):
        m = self.model("newline", {"config.json": self.config_with(model_type="\nllama")})
        self.refused(["info", m], "\\x0allama")
        self.refused(["logits", DEMO, "--ids", "1", "--edit", "model.no\nrm.weight[0]=1"], "model.no\\x0arm.weight")
        self.refused(["logits", DEMO, "--ids", "1,5\x1b[2J"], "--ids: '5\\x1b[2J' is not a token id")
        # One flipped bit in config.json: nlohmann's message echoes the byte.
        with open(os.path.join(DEMO, "config.json"), "rb") as f:
            cfg = bytearray(f.read())
        cfg[cfg.index(b'"model_type"') + 11] = 0xA2
        m = self.model("flipped", {"config.json": bytes(cfg)})
        self.refused(["info", m], "model_type\\xa2", named=os.path.join(m, "config.json"))

    def safetensors_with(self, name, change):
        """A copy of the demo whose model.safetensors header is changed by change(header dict)."""
        with open(os.path.join(DEMO, "model.safetensors"), "rb") as f:
            raw = f.read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        change(header)
        text = json.dumps(header).encode()
        return self.model(name, {"model.safetensors": struct.pack("<Q", len(text)) + text + raw[8 + n:]}, link_weights=False)

    def test_newlines_inside_tensor_names(self):
        """Tensor names come from the file: escaped wherever an error names them."""
        def renamed(h):
            h["model.no\nrm.weight"] = h.pop("model.norm.weight")

        def overlapping(h):
            h["extra\nname\x1b[2J"] = dict(h["model.norm.weight"])

        def bad_dtype(h):
            h["extra\nname"] = dict(h["model.norm.weight"], dtype="F\n32")

        def beyond(h):
            h["extra\nname"] = dict(h["model.norm.weight"], data_offsets=[0, 10**12])

        for name, change, fragment in (("renamed", renamed, "required tensor 'model.norm.weight' is missing"),
                                       ("overlap", overlapping, "tensors 'extra\\x0aname\\x1b[2J' and 'model.norm.weight' overlap"),
                                       ("dtype", bad_dtype, "tensor 'extra\\x0aname': unknown dtype 'F\\x0a32'"),
                                       ("beyond", beyond, "tensor 'extra\\x0aname': data_offsets [0, 1000000000000) lie outside")):
            m = self.safetensors_with(name, change)
            for args in (["info", m], ["logits", m, "--ids", "1,5"]):
                self.refused(args, fragment, named=m)

    def test_usage_errors(self):
        self.refused(["frobnicate"], "unknown command 'frobnicate'", code=2)
        self.refused(["logits", DEMO, "--no-such-option"], "no-such-option", code=2)

    # ---- writes near the input ----
    def test_outputs_into_the_model_folder(self):
        m = self.model("out")
        os.mkdir(os.path.join(m, "sub"))
        self.refused(["capture", m, "--ids", "1,5", "--out", os.path.join(m, "acts.h5")], "model folder")
        self.refused(["capture", m, "--ids", "1,5", "--out", os.path.join(m, "sub", "acts.h5")], "model folder " + m + " ")
        self.refused(["figure", "spikes", m, "--ids", "1,5", "--out", os.path.join(m, "f.pdf")], "model folder")

    # ---- caches that do not fit the model ----
    def demo_cache(self, name):
        """A capture of the demo model (ids 1,5,9) at tmp/NAME; skips without h5py."""
        try:
            import h5py  # noqa: F401
        except ImportError:
            self.skipTest("h5py")
        out = os.path.join(self.tmp, name)
        p = subprocess.run([BIN, "capture", DEMO, "--ids", "1,5,9", "--out", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return out

    def test_cache_of_the_wrong_width_is_not_reused(self):
        out = self.demo_cache("acts.h5")
        import h5py
        import numpy as np
        with h5py.File(out, "r+") as f:
            g = f["runs/0"]
            name = "blocks.0.hook_resid_post"
            del g[name]
            g.create_dataset(name, data=np.zeros((3, 129), dtype=np.float32))
        with open(out, "rb") as f:
            before = f.read()
        self.refused(["capture", DEMO, "--ids", "1,5,9", "--out", out], "/runs/0/blocks.0.hook_resid_post has shape [3, 129]",
                     named=out, cwd=self.tmp)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_flipped_bytes_in_a_runs_links(self):
        """One flipped byte in a run group's link storage (the run's 48 links
        sit in HDF5's dense storage: a fractal heap and a B-tree at the end of
        the file). libhdf5 1.10 crashed listing such a group in about a quarter
        of these flips; each must now be refused in one line (or, where the
        byte does not matter, the run reused), the file unchanged."""
        good = self.demo_cache("good.h5")
        with open(good, "rb") as f:
            data = f.read()
        names = [i for i in range(len(data)) if data.startswith(b"hook_resid_post", i)]
        self.assertGreater(len(names), 4)
        heap = [i for i in names if i > len(data) // 2]
        begin, end = min(heap) - 256, len(data)
        out = os.path.join(self.tmp, "flipped.h5")
        refused = 0
        # MALLOC_PERTURB_: the entries libhdf5 freed were never written; a
        # fill pattern makes the old crash certain instead of likely.
        env = dict(os.environ, MALLOC_PERTURB_="165")
        for at in range(begin, end, max(1, (end - begin) // 40)):
            damaged = bytearray(data)
            damaged[at] ^= 0x10
            with open(out, "wb") as f:
                f.write(damaged)
            p = subprocess.run([BIN, "capture", DEMO, "--ids", "1,5,9", "--out", out], capture_output=True, text=True, timeout=60,
                               cwd=self.tmp, env=env)
            self.assertIn(p.returncode, (0, 1), f"byte {at}: exit {p.returncode}, stderr {p.stderr!r}")
            if p.returncode == 1:
                refused += 1
                self.assertEqual(p.stdout, "")
                self.assertEqual(p.stderr.count("\n"), 1, p.stderr)
                self.assertIn(out + ": damaged SuperLens activation cache: /runs/0", p.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), bytes(damaged), f"byte {at}: the file changed")
        self.assertGreater(refused, 10)

    def test_caches_of_the_wrong_type_layer_token_ids_or_format(self):
        """The other mismatches of the family (dtype, layer index, token ids),
        and a cache rewritten in HDF5's earliest format (no checksums: libhdf5
        1.10 reads freed memory on damaged ones): each refused by capture,
        which would otherwise reuse or append to the file, unchanged."""
        good = self.demo_cache("good.h5")
        import h5py
        import numpy as np

        def damage(name, change):
            out = os.path.join(self.tmp, name + ".h5")
            shutil.copyfile(good, out)
            with h5py.File(out, "r+") as f:
                change(f["runs/0"])
            return out

        hook = "blocks.0.hook_resid_post"

        def as_float64(g):
            data = g[hook][()]
            del g[hook]
            g.create_dataset(hook, data=data.astype(np.float64))

        def layer_7(g):
            g.create_dataset("blocks.7.hook_resid_post", data=g[hook][()])

        def token_beyond(g):
            del g["token_ids"]
            g.create_dataset("token_ids", data=np.array([1, 5, 100000], dtype=np.int32))

        earliest = os.path.join(self.tmp, "earliest.h5")
        with h5py.File(good, "r") as f, h5py.File(earliest, "w") as g:
            for k in f:
                f.copy(f[k], g)
            for k, v in f.attrs.items():
                g.attrs[k] = v
        with open(earliest, "rb") as f:
            self.assertEqual(f.read(9)[8], 0, "h5py's default format: superblock version 0")
        for out, fragment in ((damage("f64", as_float64), "/runs/0/" + hook + " holds"),
                              (damage("layer7", layer_7), "/runs/0/blocks.7.hook_resid_post"),
                              (damage("ids", token_beyond), "/runs/0/token_ids[2] is 100000, outside"),
                              (earliest, "superblock version 0")):
            with open(out, "rb") as f:
                before = f.read()
            self.refused(["capture", DEMO, "--ids", "1,5,9", "--out", out], fragment, named=out, cwd=self.tmp)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
