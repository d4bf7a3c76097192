"""r.logits and r.cache on every test model against the float64 answers of the
fixture scripts (tests/data/*/refs.json, reference.json): within 1e-4 of the
largest |reference| value, as the core golden tests require."""
import os

import numpy as np
import pytest
import superlens

from conftest import GOLDEN, STORIES, STORIES_REF, rel_err

TOL = 1e-4


@pytest.mark.parametrize("name,folder,ref", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_logits_and_hooks_match_float64_reference(name, folder, ref):
    m = superlens.open(folder)
    hooks = sorted(ref["hooks"])
    r = m.run(ref["ids"], hooks=hooks)
    assert r.tokens == ref["ids"]
    T, V = len(ref["ids"]), ref["vocab"]
    assert r.logits.shape == (T, V) and r.logits.dtype == np.float32
    assert rel_err(r.logits, ref["logits_all"]) < TOL, name
    assert rel_err(r.logits[-1], ref["logits_last"]) < TOL, name
    assert sorted(r.cache) == hooks
    for hook in hooks:
        want = np.asarray(ref["hooks"][hook])
        got = r.cache[hook]
        assert got.dtype == np.float32 and got.shape == want.shape, (name, hook, got.shape, want.shape)
        assert rel_err(got, want) < TOL, (name, hook)


@pytest.mark.parametrize("name,folder,ref", [g for g in GOLDEN if g[2].get("edited")], ids=[g[0] for g in GOLDEN if g[2].get("edited")])
def test_edited_logits_match_float64_reference(name, folder, ref):
    m = superlens.open(folder)
    for key in ("edited", "edited_scale"):
        if not ref.get(key):
            continue
        r = m.run(ref["ids"], edits=[ref[key]["edit"]])
        assert rel_err(r.logits[-1], ref[key]["logits"]) < TOL, (name, key)
        if "logits_all" in ref[key]:
            assert rel_err(r.logits, ref[key]["logits_all"]) < TOL, (name, key)
        assert r.edits == [ref[key]["edit"]]


def test_last_position_only_matches_last_row():
    name, folder, ref = GOLDEN[0]
    m = superlens.open(folder)
    full = m.run(ref["ids"])
    last = m.run(ref["ids"], all_positions=False)
    assert last.logits.shape == (1, ref["vocab"])
    # the head runs as a matrix-vector product then: equal up to float32 rounding
    assert rel_err(last.logits[0], full.logits[-1]) < 1e-6


def test_stories260k_real_model_text_prompts_and_greedy_generation():
    m = superlens.open(STORIES)
    for p in STORIES_REF["prompts"]:
        assert m.tokenizer.encode(p["text"]) == p["ids"]
        r = m.run(p["text"])  # text: encoded with the tokenizer's BOS, like --prompt
        assert r.tokens == p["ids"]
        assert rel_err(r.logits[-1], p["logits_last"]) < TOL
        # mean next-token NLL, float64 from our float32 logits
        logits = r.logits.astype(np.float64)
        logp = logits - logits.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        nll = -np.mean([logp[i, p["ids"][i + 1]] for i in range(len(p["ids"]) - 1)])
        assert abs(nll - p["mean_nll_next_token"]) < 1e-4
    g = STORIES_REF["greedy_from_bos"]
    out = m.generate([g["ids"][0]], max_new_tokens=len(g["ids"]) - 1)
    assert [g["ids"][0]] + out["new_ids"] == g["ids"]
    assert out["prompt_text"] + out["text"] == g["text"]
    assert m.tokenizer.decode(g["ids"], skip_special_tokens=True) == g["text"]


def test_float64_precision_is_closer_to_the_reference():
    name, folder, ref = GOLDEN[0]
    m64 = superlens.open(folder, precision="float64")
    assert m64.precision == "float64"
    r64 = m64.run(ref["ids"])
    r32 = superlens.open(folder).run(ref["ids"])
    assert r64.logits.dtype == np.float32  # float64 arithmetic, float32 results
    e64, e32 = rel_err(r64.logits, ref["logits_all"]), rel_err(r32.logits, ref["logits_all"])
    assert e64 < 1e-6 and e64 <= e32
