"""The mixture-of-experts, encoder (masked LM) and vision-encoder checkpoints
from Python, against the float64 answers of their fixture scripts
(tests/data/moe, encoders, vision: refs.json): logits (MLM logits at every
position; vision models have none) and every recorded hook within 1e-4 of the
largest |reference| value, as tests/core/test_*_golden.cpp require; routing
exactly; expert edits; images given as numpy arrays or .npy files."""
import os

import numpy as np
import pytest
import superlens

from conftest import ENCODER_REFS, ENCODERS, MOE, MOE_REFS, VISION, VISION_REFS, cli_error, cli_json, rel_err

TOL = 1e-4
MOE_NAMES = sorted(MOE_REFS)
ENCODER_NAMES = sorted(ENCODER_REFS)
VISION_NAMES = sorted(VISION_REFS)


def check_hooks(name, r, hooks):
    assert sorted(r.cache) == sorted(hooks), name
    for hook, values in hooks.items():
        want = np.asarray(values)
        got = r.cache[hook]
        assert got.dtype == np.float32 and got.shape == want.shape, (name, hook, got.shape, want.shape)
        assert rel_err(got, want) < TOL, (name, hook)


# --- mixture of experts --------------------------------------------------------------------------

@pytest.mark.parametrize("name", MOE_NAMES)
def test_moe_logits_and_every_hook_match_float64_reference(name):
    ref = MOE_REFS[name]
    m = superlens.open(os.path.join(MOE, name))
    r = m.run(ref["ids"], hooks=sorted(ref["hooks"]))
    assert r.logits.shape == (len(ref["ids"]), len(ref["logits_last"])) and r.logits.dtype == np.float32
    assert rel_err(r.logits, ref["logits_all"]) < TOL, name
    check_hooks(name, r, ref["hooks"])
    # the router's choice, in top-k order, exactly (near ties included)
    for layer, routing in ref["routing"].items():
        got = r.cache["blocks.%s.mlp.hook_expert_indices" % layer]
        np.testing.assert_array_equal(got, np.asarray(routing["indices"], dtype=np.float32))
    assert ref["near_ties"][0]["relative_gap"] < 2e-3  # the fixture really has near ties


@pytest.mark.parametrize("name", MOE_NAMES)
def test_moe_expert_removal_and_expert_weight_edits_match_float64_reference(name):
    ref = MOE_REFS[name]
    m = superlens.open(os.path.join(MOE, name))
    base = m.run(ref["ids"], hooks="blocks.*.hook_resid_post")
    for key in ("expert_off", "expert_off_renorm", "edited_expert_weight"):
        spec = ref[key]["edit"]
        r = m.run(ref["ids"], edits=[spec])
        assert r.edits == [spec]
        assert rel_err(r.logits, ref[key]["logits_all"]) < TOL, (name, spec)
        assert rel_err(r.logits, base.logits) > 1e-4, spec  # the edit is visible
        # incremental from the unedited run: bit-identical to the full pass
        inc = m.run(ref["ids"], hooks="blocks.*.hook_resid_post", edits=[spec], previous=base)
        assert inc.recomputed_from > 0
        np.testing.assert_array_equal(inc.logits, r.logits)


def test_moe_hook_function_on_an_expert_output_equals_the_activation_edit():
    name = "olmoe-f32"
    ref = MOE_REFS[name]
    m = superlens.open(os.path.join(MOE, name))
    layer = ref["routed_layers"][0]
    hook = "blocks.%d.mlp.experts.%d.hook_out" % (layer, ref["routing"][str(layer)]["indices"][2][0])
    seen = {}

    def scale(a):
        seen["shape"] = a.shape
        a[2] *= 5.0  # the expert's output at token 2, in place

    r = m.run(ref["ids"], hooks={hook: scale})
    assert r.hook_edits > 0 and r.passes == 2
    # the same values as plain activation edits give the same logits, bit for bit
    plain = m.run(ref["ids"], hooks=[hook])
    specs = ["%s[2,%d]=%r" % (hook, c, float(np.float32(v * np.float32(5.0)))) for c, v in enumerate(plain.cache[hook][2]) if v != 0]
    direct = m.run(ref["ids"], edits=specs)
    np.testing.assert_array_equal(r.logits, direct.logits)
    assert rel_err(r.logits, plain.logits) > 1e-6
    assert seen["shape"] == plain.cache[hook].shape


def test_moe_expert_hooks_are_listed_and_expert_edits_are_checked():
    m = superlens.open(os.path.join(MOE, "qwen2-moe-f32"))
    names = m.hook_names()
    assert "blocks.0.mlp.hook_expert_weights" in names and "blocks.0.mlp.experts.7.hook_out" in names
    assert "blocks.1.mlp.hook_post" in names  # mlp_only_layers: layer 1 is dense
    with pytest.raises(superlens.Error) as e:
        m.run([1, 2, 3], edits=["expert:0:8=off"])
    assert str(e.value) == cli_error("logits", os.path.join(MOE, "qwen2-moe-f32"), "--ids", "1,2,3", "--edit", "expert:0:8=off")


def test_moe_scan_finds_the_planted_super_expert_as_the_cli_does():
    name = "olmoe-f32"
    ref = MOE_REFS[name]
    folder = os.path.join(MOE, name)
    m = superlens.open(folder)
    s = m.scan(ref["ids"])
    want = cli_json("scan", folder, "--ids", ",".join(map(str, ref["ids"])))
    for key in ("super_experts", "expert_profile", "expert_threshold", "first_token_experts", "super_weights", "dense_layers"):
        assert s[key] == want[key], key
    assert s["dense_layers"] == []  # every OLMoE layer is routed
    # Qwen2-MoE mixes a dense layer (mlp_only_layers = [1]): its scan is part of the document too.
    qwen = os.path.join(MOE, "qwen2-moe-f32")
    q = superlens.open(qwen).scan(MOE_REFS["qwen2-moe-f32"]["ids"])
    qwant = cli_json("scan", qwen, "--ids", ",".join(map(str, MOE_REFS["qwen2-moe-f32"]["ids"])))
    assert q["dense_layers"] == qwant["dense_layers"] == [1]
    assert q["super_weights"] == qwant["super_weights"]
    layer, expert, channel = ref["planted_super_expert"]
    assert [(e["layer"], e["expert"], e["channel"]) for e in s["super_experts"]][0] == (layer, expert, channel)
    assert abs(s["expert_threshold"]["threshold"] - ref["expert_profile"]["threshold"]) < 1e-4 * ref["expert_profile"]["threshold"]
    planted = ref["expert_profile"]["planted_super_weight"]
    assert (s["super_weights"][0]["tensor"], s["super_weights"][0]["row"], s["super_weights"][0]["col"]) == \
           (planted["tensor"], planted["row"], planted["col"])


# --- encoders (masked LM) -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_encoder_mlm_logits_at_every_position_and_every_hook_match_float64_reference(name):
    m = superlens.open(os.path.join(ENCODERS, name))
    for prompt in ENCODER_REFS[name]["prompts"]:
        r = m.run(prompt["ids"], hooks=sorted(prompt["hooks"]))
        want = np.asarray(prompt["logits_all"])
        assert r.logits.shape == want.shape and r.logits.dtype == np.float32
        assert rel_err(r.logits, want) < TOL, name
        check_hooks(name, r, prompt["hooks"])


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_encoder_weight_edit_matches_float64_reference(name):
    ref = ENCODER_REFS[name]
    m = superlens.open(os.path.join(ENCODERS, name))
    r = m.run(ref["prompts"][0]["ids"], edits=[ref["edited"]["edit"]])
    assert rel_err(r.logits, ref["edited"]["logits_all"]) < TOL, name


def test_mask_prompt_text_gives_the_reference_ids_and_logits():
    ref = ENCODER_REFS["roberta-f32"]
    m = superlens.open(os.path.join(ENCODERS, "roberta-f32"))
    ids = ref["prompts"][0]["ids"]
    assert m.tokenizer.encode(ref["mask_text"]) == ids
    r = m.run(ref["mask_text"])
    assert r.tokens == ids
    assert rel_err(r.logits, ref["prompts"][0]["logits_all"]) < TOL
    mask = ids.index(m.tokenizer.encode("<mask>", add_special_tokens=False)[0])
    # the <mask> row is the MLM prediction: the same numbers as the CLI's
    j = cli_json("logits", os.path.join(ENCODERS, "roberta-f32"), "--prompt", ref["mask_text"], "--all-positions")
    assert rel_err(r.logits[mask], np.asarray(j["logits"])[mask]) < 1e-6


def test_encoders_refuse_left_to_right_measures_with_the_cli_message():
    folder = os.path.join(ENCODERS, "bert-f16")
    m = superlens.open(folder)
    ids = ENCODER_REFS["bert-f16"]["prompts"][0]["ids"]
    with pytest.raises(superlens.Error) as e:
        m.generate(ids, max_new_tokens=2)
    assert "bidirectional encoder" in str(e.value)
    assert str(e.value) == cli_error("generate", folder, "--ids", ",".join(map(str, ids)), "--max-new", "2")


# --- vision encoders ------------------------------------------------------------------------------

def pixels_of(name):
    return np.load(os.path.join(VISION, name, "pixels.npy"))


@pytest.mark.parametrize("name", VISION_NAMES)
def test_vision_every_hook_and_final_hidden_states_match_float64_reference(name):
    ref = VISION_REFS[name]
    m = superlens.open(os.path.join(VISION, name))
    px = pixels_of(name)
    assert list(px.shape) == ref["pixels_shape"] and px.dtype == np.float32
    r = m.run(pixels=px, hooks=sorted(ref["hooks"]))
    T = 1 + ref["registers"] + ref["grid"][0] * ref["grid"][1]
    assert r.logits.shape[0] in (0, T) and r.logits.size == 0  # no vocabulary
    assert r.tokens == []
    final = r.cache["ln_final.hook_normalized"]
    assert final.shape == (T, np.asarray(ref["hooks"]["ln_final.hook_normalized"]).shape[1])
    assert rel_err(final, ref["hooks"]["ln_final.hook_normalized"]) < TOL, name
    check_hooks(name, r, ref["hooks"])
    # run_with_cache: the same numbers
    _, cache = m.run_with_cache(pixels=px, hooks="ln_final.hook_normalized")
    np.testing.assert_array_equal(cache["ln_final.hook_normalized"], final)


def test_vision_pixels_as_file_float64_and_chw_give_the_same_pass():
    name = "dinov2-registers-bf16"
    m = superlens.open(os.path.join(VISION, name))
    px = pixels_of(name)
    want = m.run(pixels=px, hooks="ln_final.hook_normalized").cache["ln_final.hook_normalized"]
    path = os.path.join(VISION, name, "pixels.npy")
    import pathlib
    for given in (path, pathlib.Path(path), px[0], px.astype(np.float64), np.asfortranarray(px[0])):
        got = m.run(pixels=given, hooks="ln_final.hook_normalized").cache["ln_final.hook_normalized"]
        np.testing.assert_array_equal(got, want)


def test_vision_hook_function_and_activation_edit_on_a_patch():
    name = "vit-f32"
    m = superlens.open(os.path.join(VISION, name))
    px = pixels_of(name)
    base = m.run(pixels=px, hooks="ln_final.hook_normalized")
    last = base.cache["ln_final.hook_normalized"].shape[0] - 1

    def zero(a):
        a[last, 3] = 0.0

    r = m.run(pixels=px, hooks={"blocks.1.hook_resid_pre": zero, "ln_final.hook_normalized": None})
    direct = m.run(pixels=px, hooks="ln_final.hook_normalized", edits=["blocks.1.hook_resid_pre[%d,3]=0" % last])
    np.testing.assert_array_equal(r.cache["ln_final.hook_normalized"], direct.cache["ln_final.hook_normalized"])
    assert not np.array_equal(direct.cache["ln_final.hook_normalized"], base.cache["ln_final.hook_normalized"])
    inc = m.run(pixels=px, hooks="ln_final.hook_normalized", edits=["blocks.1.hook_resid_pre[%d,3]=0" % last], previous=base)
    assert inc.recomputed_from == 2
    np.testing.assert_array_equal(inc.cache["ln_final.hook_normalized"], direct.cache["ln_final.hook_normalized"])


def test_vision_scan_and_massive_name_each_token_as_the_cli_does():
    name = "dinov2-registers-bf16"
    folder = os.path.join(VISION, name)
    m = superlens.open(folder)
    s = m.scan(pixels=pixels_of(name))
    want = cli_json("scan", folder, "--pixels", os.path.join(folder, "pixels.npy"))
    assert s["image"] == want["image"] and s["image"]["registers"] == 4
    assert [(a["layer"], a["token"], a["channel"], a["token_kind"]) for l in s["top_per_layer"] for a in l] == \
           [(a["layer"], a["token"], a["channel"], a["token_kind"]) for l in want["top_per_layer"] for a in l]
    assert [w["tensor"] for w in s["super_weights"]] == [w["tensor"] for w in want["super_weights"]]
    kinds = {a["token_kind"] for l in s["top_per_layer"] for a in l}
    assert kinds <= {"cls", "register", "patch"}
    mv = m.massive(pixels=pixels_of(name))
    assert mv["image"] == want["image"]
    assert [(a["token"], a["channel"]) for a in mv["top_per_layer"][0]] == [(a["token"], a["channel"]) for a in s["top_per_layer"][0]]


def test_bad_pixel_arrays_and_wrong_inputs_raise_one_line_errors():
    name = "vit-f32"
    folder = os.path.join(VISION, name)
    m = superlens.open(folder)
    px = pixels_of(name)
    cases = [
        (px.astype(np.int64), "pixels: dtype int64 is not supported (float32 or float64 pixel values)"),
        (px.astype(np.float16), "pixels: dtype float16 is not supported (float32 or float64 pixel values)"),
        (np.concatenate([px, px]), "pixels: a batch of 2 images; one image ([1, C, H, W] or [C, H, W]) is expected"),
        (px[0, 0], "pixels: shape (12, 12) is not [C, H, W] or [1, C, H, W]"),
        (np.zeros((1, 0, 12, 12), np.float32), "pixels: 0 channels (1..16 accepted)"),
    ]
    nan = px.copy()
    nan[0, 1, 2, 3] = np.nan
    cases.append((nan, "pixels: value %d is not finite" % (1 * 144 + 2 * 12 + 3)))
    inf = px.astype(np.float64)
    inf[0, 0, 0, 1] = 1e300  # finite in float64, not in float32
    cases.append((inf, "pixels: value 1 is not finite"))
    for arr, message in cases:
        with pytest.raises(superlens.Error) as e:
            m.run(pixels=arr)
        assert str(e.value) == message
        assert isinstance(e.value, ValueError)
    # the engine's own checks (channels, image size): the CLI's messages. Other
    # grids than the trained one are interpolated (issue 18), so 16x12 runs.
    with pytest.raises(superlens.Error) as e:
        m.run(pixels=px[:, :1])
    assert "channels" in str(e.value) and "\n" not in str(e.value)
    assert m.run(pixels=np.zeros((1, 3, 16, 12), np.float32)).cache == {}
    with pytest.raises(superlens.Error) as e:
        m.run(pixels=np.zeros((1, 3, 2, 2), np.float32))
    assert str(e.value) == "the image (2x2) is smaller than one 4-pixel patch"
    with pytest.raises(superlens.Error) as e:
        m.run(pixels=np.zeros((1, 3, 3000, 3000), np.float32))
    assert "562500 patches; at most 16384 are accepted" in str(e.value) and "\n" not in str(e.value)
    # a bad .npy file: the CLI's message, word for word
    bad = os.path.join(os.environ.get("TMPDIR", "/tmp"), "superlens_py_bad_pixels_%d.npy" % os.getpid())
    np.save(bad, nan)
    try:
        with pytest.raises(superlens.Error) as e:
            m.run(pixels=bad)
        assert str(e.value) == cli_error("scan", folder, "--pixels", bad)
    finally:
        os.remove(bad)
    with pytest.raises(FileNotFoundError) as e:
        m.run(pixels=os.path.join(folder, "missing.npy"))
    # tokens to a vision model, pixels to a token model, both at once
    with pytest.raises(superlens.Error) as e:
        m.run([1, 2, 3])
    assert str(e.value) == "this %s model reads an image, not tokens: give pixels= (a [1, C, H, W] float array or a .npy file)" % m.family
    with pytest.raises(superlens.Error) as e:
        m.run([1, 2], pixels=px)
    assert str(e.value) == "give either input (text or token ids) or pixels, not both"
    with pytest.raises(superlens.Error) as e:
        m.perplexity([1, 2, 3])
    assert "reads an image" in str(e.value)
    enc = superlens.open(os.path.join(ENCODERS, "bert-f16"))
    with pytest.raises(superlens.Error) as e:
        enc.run(pixels=px)
    assert str(e.value) == "pixels: this %s model reads tokens (give text or token ids)" % enc.family
    with pytest.raises(TypeError):
        m.run(pixels=[[1.0]])


def test_vision_progress_cancel_and_gil_release():
    name = "clip-vision-f16"
    m = superlens.open(os.path.join(VISION, name))
    px = pixels_of(name)
    calls = []
    r = m.run(pixels=px, hooks="*", progress=lambda done, total, stage: calls.append((done, total)))
    assert calls and calls[-1][0] == calls[-1][1]
    token = superlens.CancelToken()
    token.cancel()
    with pytest.raises(superlens.Cancelled):
        m.run(pixels=px, cancel=token)
    with pytest.raises(superlens.Cancelled):
        m.scan(pixels=px, cancel=token)
    # usable afterwards, same numbers
    again = m.run(pixels=px, hooks="*")
    for k, v in r.cache.items():
        np.testing.assert_array_equal(again.cache[k], v)
    # another Python thread runs while the pass computes (GIL released)
    import threading
    other = superlens.open(os.path.join(MOE, "olmoe-f32"))
    results = {}

    def work():
        results["moe"] = other.run(MOE_REFS["olmoe-f32"]["ids"]).logits

    t = threading.Thread(target=work)
    t.start()
    results["vision"] = m.run(pixels=px, hooks="ln_final.hook_normalized").cache["ln_final.hook_normalized"]
    t.join()
    assert rel_err(results["moe"], MOE_REFS["olmoe-f32"]["logits_all"]) < TOL
    assert rel_err(results["vision"], VISION_REFS[name]["hooks"]["ln_final.hook_normalized"]) < TOL
