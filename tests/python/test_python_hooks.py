"""Hooks from Python: recorded shapes and dtypes, and Python callables that
read or change activations in flight, checked against an independent
float64 numpy forward (llama_reference.py) with the same hook functions, and
against the equivalent activation edits of the engine."""
import os

import numpy as np
import pytest
import superlens

from conftest import REFERENCE, REFERENCE_REFS, rel_err
from llama_reference import LlamaReference

FOLDER = os.path.join(REFERENCE, "llama-planted")
REF = REFERENCE_REFS["llama-planted"]
IDS = REF["ids"]
TOL = 1e-4


@pytest.fixture(scope="module")
def ref():
    r = LlamaReference(FOLDER)
    # The reference itself reproduces the fixture script's float64 answers.
    assert rel_err(r.forward(IDS), REF["logits_all"]) < 1e-12
    return r


def test_recorded_hooks_have_transformerlens_shapes(planted):
    r = planted.run(IDS, hooks=["*"])
    T, d, f, H = len(IDS), planted.d_model, planted.d_mlp, planted.n_heads
    assert list(r.cache) == planted.hook_names()  # every hook, in execution order
    for name, a in r.cache.items():
        assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.flags.c_contiguous
        if name.endswith("hook_pattern"):
            want = (H, T, T)
        elif ".mlp.hook_" in name:
            want = (T, f)
        else:
            want = (T, d)
        assert a.shape == want, name
    p = r.cache["blocks.0.attn.hook_pattern"]
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(np.triu(p[0], k=1) == 0)  # causal: no weight on later keys
    assert r["blocks.1.hook_mlp_out"] is r.cache["blocks.1.hook_mlp_out"]
    with pytest.raises(KeyError):
        planted.run(IDS, hooks="blocks.0.*")["blocks.1.hook_mlp_out"]


def test_cache_arrays_are_read_only_views_kept_alive_by_the_result(planted):
    r = planted.run(IDS, hooks="blocks.1.hook_mlp_out")
    a = r.cache["blocks.1.hook_mlp_out"]
    assert not a.flags.writeable and not a.flags.owndata and a.base is not None
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    logits = r.logits
    assert not logits.flags.writeable
    keep = a.copy()
    del r
    import gc
    gc.collect()
    np.testing.assert_array_equal(a, keep)  # still valid: the array owns a reference


def test_run_with_cache_returns_logits_and_every_hook(planted):
    logits, cache = planted.run_with_cache(IDS)
    assert logits.shape == (len(IDS), REF["vocab"])
    assert set(cache) == set(planted.hook_names())
    r = planted.run(IDS)
    np.testing.assert_array_equal(logits, r.logits)  # recording changes nothing
    logits2, cache2 = planted.run_with_cache(IDS, hooks=["blocks.*.hook_resid_post"])
    assert sorted(cache2) == sorted(f"blocks.{l}.hook_resid_post" for l in range(planted.n_layers))


def test_observer_callable_sees_the_value_and_costs_no_extra_pass(planted, ref):
    seen = {}

    def observe(a):
        seen["value"] = a.copy()
        seen["writeable"] = a.flags.writeable

    plain = planted.run(IDS)
    r = planted.run(IDS, hooks={"blocks.1.hook_mlp_out": observe})
    assert r.passes == 1 and r.hook_edits == 0
    np.testing.assert_array_equal(r.logits, plain.logits)
    np.testing.assert_array_equal(seen["value"], r.cache["blocks.1.hook_mlp_out"])
    assert seen["writeable"] and seen["value"].dtype == np.float32
    want = {}
    ref.forward(IDS, {"blocks.1.hook_mlp_out": lambda v: want.setdefault("v", v)})
    assert rel_err(seen["value"], want["v"]) < TOL


def test_in_place_change_equals_the_edit_and_the_float64_reference(planted, ref):
    def zero_channel(a):
        a[:, 13] = 0.0  # the planted super activation's channel, in place

    r = planted.run(IDS, hooks={"blocks.1.hook_mlp_out": zero_channel})
    assert r.passes == 2 and r.hook_edits == len(IDS)
    edited = planted.run(IDS, edits=["blocks.1.hook_mlp_out[*,13]=0"])
    np.testing.assert_array_equal(r.logits, edited.logits)

    def zero_ref(v):
        v[:, 13] = 0.0
        return v

    want = ref.forward(IDS, {"blocks.1.hook_mlp_out": zero_ref})
    assert rel_err(r.logits, want) < TOL
    assert rel_err(r.logits, REF["logits_all"]) > 1e-2  # and it did change the model
    assert np.all(r.cache["blocks.1.hook_mlp_out"][:, 13] == 0)


def test_returned_array_replaces_every_element(planted, ref):
    r = planted.run(IDS, hooks={"blocks.2.hook_resid_pre": lambda a: a * 0.5})
    nonzero = int(np.count_nonzero(planted.run(IDS, hooks="blocks.2.hook_resid_pre").cache["blocks.2.hook_resid_pre"]))
    assert r.hook_edits == nonzero and r.passes == 2
    assert r.recomputed_from == 3  # the last pass restarted at block 2 (stage 1 + 2)
    want = ref.forward(IDS, {"blocks.2.hook_resid_pre": lambda v: v * 0.5})
    assert rel_err(r.logits, want) < TOL
    # returning a list / float64 array of the right shape works too (converted to float32)
    r2 = planted.run(IDS, hooks={"blocks.2.hook_resid_pre": lambda a: (a.astype(np.float64) * 0.5).tolist()})
    np.testing.assert_array_equal(r2.logits, r.logits)


def test_chained_callables_see_earlier_changes_pattern_and_name_argument(planted, ref):
    calls = []

    def uniform_head1(p):
        T = p.shape[1]
        p[1] = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]
        calls.append("pattern")
        return p

    def bump(a, name):  # two positional arguments: called with the hook name
        calls.append(name)
        a[:, 5] += 1.0
        return a

    r = planted.run(IDS, hooks=[("blocks.2.hook_mlp_out", bump), ("blocks.0.attn.hook_pattern", uniform_head1)])
    assert calls == ["pattern", "blocks.2.hook_mlp_out"]  # execution order, not argument order
    want = ref.forward(IDS, {"blocks.0.attn.hook_pattern": uniform_head1, "blocks.2.hook_mlp_out": lambda v: bump(v, "ref")})
    assert rel_err(r.logits, want) < TOL
    # the second hook saw the value computed after the first change
    hooked = {}
    ref.forward(IDS, {"blocks.0.attn.hook_pattern": uniform_head1, "blocks.2.hook_mlp_out": lambda v: hooked.setdefault("v", v)})
    assert rel_err(r.cache["blocks.2.hook_mlp_out"][:, 5] - 1.0, hooked["v"][:, 5]) < TOL


def test_pattern_callables_run_once_per_matching_hook_in_order(planted):
    names = []
    planted.run(IDS, hooks={"blocks.*.hook_mlp_out": lambda a, n: names.append(n)})
    assert names == [f"blocks.{l}.hook_mlp_out" for l in range(planted.n_layers)]
    # a default second parameter is not the hook name
    got = []
    planted.run(IDS, hooks={"blocks.0.hook_mlp_out": lambda a, scale=2: got.append(scale)})
    assert got == [2]


def test_callable_errors_propagate_and_leave_the_model_usable(planted):
    def boom(a):
        raise ArithmeticError("boom")

    with pytest.raises(ArithmeticError, match="boom"):
        planted.run(IDS, hooks={"blocks.1.hook_mlp_out": boom})
    with pytest.raises(superlens.Error, match=r"hook function for blocks.1.hook_mlp_out returned shape \(3,\), expected \(10, 64\)"):
        planted.run(IDS, hooks={"blocks.1.hook_mlp_out": lambda a: np.zeros(3)})
    with pytest.raises(TypeError):
        planted.run(IDS, hooks={"blocks.1.hook_mlp_out": 42})
    np.testing.assert_array_equal(planted.run(IDS).logits, planted.run(IDS).logits)
    assert rel_err(planted.run(IDS).logits, REF["logits_all"]) < TOL


def test_previous_result_gives_incremental_recompute(planted):
    hooks = ["blocks.*.hook_resid_post"]
    base = planted.run(IDS, hooks=hooks)
    edit = "model.layers.2.mlp.down_proj.weight[3,4]=0"
    inc = planted.run(IDS, hooks=hooks, edits=[edit], previous=base)
    full = planted.run(IDS, hooks=hooks, edits=[edit])
    assert inc.recomputed_from == 3 and full.recomputed_from == 0
    np.testing.assert_array_equal(inc.logits, full.logits)
    for k in full.cache:
        np.testing.assert_array_equal(inc.cache[k], full.cache[k])
