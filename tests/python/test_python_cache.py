"""The HDF5 activation cache from Python without h5py: Model.capture writes
it, superlens.cache.open reads it (and files superlens-cli wrote); values are
checked against the engine's own run and against h5py as an independent
reader."""
import os

import numpy as np
import pytest
import superlens

from conftest import DEMO, REFERENCE, cli

PROMPT = "In the beginning God created the heaven and the earth."
SW = "model.layers.1.mlp.down_proj.weight[87,233]=0"


def test_capture_and_read_back(demo, tmp_path):
    path = tmp_path / "acts.h5"
    hooks = ["blocks.*.hook_mlp_out", "blocks.1.attn.hook_pattern"]
    first = demo.capture(path, PROMPT, hooks=hooks)
    assert first["run"] == 0 and not first["reused"] and first["file_bytes"] > 0
    assert demo.capture(path, PROMPT, hooks=hooks)["reused"]  # same tokens, edits, hooks: not recomputed
    second = demo.capture(str(path), PROMPT, hooks=hooks, edits=[SW], all_positions=True)
    assert second["run"] == 1 and not second["reused"]

    plain = demo.run(PROMPT, hooks=hooks)
    edited = demo.run(PROMPT, hooks=hooks, edits=[SW])
    with superlens.cache.open(path) as f:
        assert len(f) == 2 and f.version == 1
        assert f.model_fingerprint == demo.fingerprint and f.model_config == demo.config
        assert f.has_vocab and len(f.vocab_pieces) == demo.tokenizer.vocab_size
        r0, r1 = f[0], f[-1]
        assert r0.prompt == PROMPT and r0.tokens == plain.tokens and r0.edits == [] and r1.edits == [SW]
        assert r0.token_texts == plain.str_tokens and r0.precision == "float32" and r0.metadata == {}
        assert r0.hook_names() == list(plain.cache) and r0.keys() == r0.hook_names()
        for name, want in plain.cache.items():
            got = r0[name]
            assert got.dtype == np.float32 and r0.shapes[name] == want.shape
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(r1[name], edited.cache[name])
        assert "blocks.1.hook_mlp_out" in r0 and "blocks.1.hook_resid_post" not in r0
        np.testing.assert_array_equal(r0.logits, demo.run(PROMPT, all_positions=False).logits)  # last position by default
        np.testing.assert_array_equal(r1.logits, edited.logits)      # all_positions=True
        np.testing.assert_array_equal(r0.read("blocks.1.attn.hook_pattern", first=2, count=1),
                                      plain.cache["blocks.1.attn.hook_pattern"][2:3])
        np.testing.assert_array_equal(r0.read("blocks.3.hook_mlp_out", first=4), plain.cache["blocks.3.hook_mlp_out"][4:])
        assert set(r0.cache) == set(plain.cache)
        with pytest.raises(superlens.Error):
            r0["blocks.9.hook_mlp_out"]
        with pytest.raises(IndexError):
            f[2]
    assert f.closed
    with pytest.raises(superlens.Error, match="closed"):
        f[0]

    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as h:
        np.testing.assert_array_equal(h["runs/1"]["blocks.2.hook_mlp_out"][()], edited.cache["blocks.2.hook_mlp_out"])
        assert list(h["runs/0/token_ids"][()]) == plain.tokens


def test_reads_what_the_cli_captured(tmp_path):
    folder = os.path.join(REFERENCE, "llama-planted")
    out = tmp_path / "cli.h5"
    code, _, err = cli("capture", folder, "--ids", "1,5,9,200", "--out", str(out))
    assert code == 0, err
    m = superlens.open(folder)
    f = superlens.cache.open(out)
    run = f[0]
    r = m.run(run.tokens, hooks=run.hook_names())
    for name in run.hook_names():
        np.testing.assert_array_equal(run[name], r.cache[name])
    assert run.token_strings == [] and run.prompt == ""
    f.close()


def test_capture_errors(demo, planted, tmp_path):
    with pytest.raises(FileNotFoundError):
        demo.capture(tmp_path / "missing-folder" / "a.h5", PROMPT)
    path = tmp_path / "a.h5"
    demo.capture(path, PROMPT, hooks="blocks.0.hook_mlp_out")
    with pytest.raises(superlens.Error):  # a cache of another model is never overwritten
        planted.capture(path, [1, 2, 3])
    with pytest.raises(superlens.Error):
        demo.capture(path, PROMPT, compress="zip9")
    assert len(superlens.cache.open(path)) == 1
