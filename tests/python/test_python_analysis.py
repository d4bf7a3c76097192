"""Analyses from Python: the same documents as superlens-cli --json (the same
core calls with the same inputs give the same numbers, bit for bit), the
planted super weights of the reference checkpoints, and independent numpy
recomputations of perplexity and massive activations from the engine's own
outputs."""
import json
import os
import pathlib

import numpy as np
import pytest
import superlens

from conftest import DATA, DEMO, FAMILIES, FAMILY_REFS, MOE, MOE_REFS, REFERENCE, REFERENCE_REFS, SOURCE, cli_json

TEXT = os.path.join(SOURCE, "resources", "texts", "kjv_heldout_ruth_jonah_james.txt")
TEXT_FILE = pathlib.Path(TEXT)  # a str would be the text itself
TASKS = os.path.join(SOURCE, "resources", "tasks", "bible_mc.jsonl")
VISION_MASSIVE = os.path.join(DATA, "vision-massive")
SW = "model.layers.1.mlp.down_proj.weight[87,233]=0"  # the demo's super weight
PROMPT = "In the beginning God created the heaven and the earth."


@pytest.fixture(scope="module")
def short_text(tmp_path_factory):
    """The first 4000 characters of the held-out text (a quick study input)."""
    path = tmp_path_factory.mktemp("text") / "short.txt"
    with open(TEXT, encoding="utf-8") as f:
        path.write_text(f.read(4000), encoding="utf-8")
    return path


def without_timing(doc):
    """A document without its timings ("iterations", "seconds") and without
    the Python-only "edit" key of super weights."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in ("iterations", "seconds")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x
    doc = strip(json.loads(json.dumps(doc)))
    for w in doc.get("super_weights", []):
        w.pop("edit", None)
    return doc


@pytest.mark.parametrize("folder,ref", [(os.path.join(REFERENCE, n), r) for n, r in REFERENCE_REFS.items()] +
                         [(os.path.join(FAMILIES, n), r) for n, r in FAMILY_REFS.items()])
def test_scan_finds_the_planted_super_weights_like_the_cli(folder, ref):
    m = superlens.open(folder)
    s = m.scan(ref["ids"])
    ids = ",".join(map(str, ref["ids"]))
    assert without_timing(s) == without_timing(cli_json("scan", folder, "--ids", ids))
    if "scan_reference" in ref:
        got = [[w["layer"], w["row"], w["col"]] for w in s["super_weights"]]
        assert got == [list(x[:3]) for x in ref["scan_reference"]]
    # every reported weight's zeroing edit is a valid spec of this model
    for w in s["super_weights"]:
        assert m.parse_edits([w["edit"]]) == [w["edit"]]


@pytest.mark.parametrize("name", sorted(MOE_REFS))
def test_scan_of_a_moe_model_like_the_cli(name):
    # One core rule (scanExpertPromptSet) for both front ends: the CLI's
    # document used to list only the flagged massive activations.
    folder = os.path.join(MOE, name)
    ids = MOE_REFS[name]["ids"]
    s = superlens.open(folder).scan(ids)
    assert without_timing(s) == without_timing(cli_json("scan", folder, "--ids", ",".join(map(str, ids))))
    assert "massive_persistent" in s and "top_per_layer" in s


def test_scan_of_an_image_like_the_cli_with_keep_super_from_the_image():
    # One core rule (scanImage); keep_super without coordinates is resolved
    # by a scan of the image (it used to be refused, or left unresolved).
    folder = os.path.join(VISION_MASSIVE, "dinov2-massive-f32")
    image = os.path.join(folder, "image-0.npy")
    m = superlens.open(folder)
    s = m.scan(pixels=image)
    assert without_timing(s) == without_timing(cli_json("scan", folder, "--pixels", image))
    assert "layers" in s  # the scan passes, in both documents now
    # The planted pair: block 1's fc2 writes 40 x neuron 0 into channel 7 (make_vision_massive.py).
    assert [(w["layer"], w["row"], w["col"]) for w in s["super_weights"]] == [(1, 7, 0)]
    keep = "rtn:*:bits=4:block=tensor:keep_super"
    k = m.scan(pixels=image, edits=keep)
    assert k["edits"] == cli_json("scan", folder, "--pixels", image, "--edit", keep)["edits"]
    assert k["edits"][0].endswith(":keep_super=1:7:0"), k["edits"]


def test_scan_of_the_demo_with_text_and_default_prompts(demo):
    s = demo.scan(PROMPT)
    assert without_timing(s) == without_timing(cli_json("scan", DEMO, "--prompt", PROMPT))
    assert s["super_weights"][0]["edit"] == SW
    d = demo.scan()  # the bundled default prompt set, with consistency
    c = cli_json("scan", DEMO)
    assert [(w["layer"], w["row"], w["col"]) for w in d["super_weights"]] == [(w["layer"], w["row"], w["col"]) for w in c["super_weights"]]
    assert d["prompts"] == c["prompts"] > 1


def test_massive_activations_against_a_numpy_recomputation(demo):
    mv = demo.massive(PROMPT)
    r = demo.run(PROMPT, hooks="blocks.*.hook_resid_post")
    flagged = []
    for l in range(demo.n_layers):
        a = np.abs(r.cache[f"blocks.{l}.hook_resid_post"].astype(np.float64))
        med = np.median(a)
        assert mv["layer_median"][l] == pytest.approx(med, rel=1e-12)
        for t, ch in zip(*np.nonzero(a / med >= 100)):
            flagged.append((l, int(t), int(ch)))
    got = [(x["layer"], x["token"], x["channel"]) for x in mv["massive_activations"]]
    assert sorted(got) == sorted(flagged) and got
    for x in mv["massive_activations"]:
        v = r.cache[f"blocks.{x['layer']}.hook_resid_post"][x["token"], x["channel"]]
        assert x["value"] == pytest.approx(float(v)) and x["ratio"] == pytest.approx(abs(float(v)) / mv["layer_median"][x["layer"]])
    s = demo.scan(PROMPT)
    assert s["massive_activations"] == mv["massive_activations"]


def test_perplexity_like_the_cli_and_from_the_logits(demo, planted):
    p = demo.perplexity(TEXT_FILE, ctx=128, bos_windows=True, edits=[SW])
    c = cli_json("ppl", DEMO, "--text", TEXT, "--ctx", "128", "--bos-windows", "--edit", SW, "--per-token")
    for k in ("ppl", "ppl_ci", "ci", "nll", "tokens", "windows", "context", "stride", "text_tokens", "edits"):
        assert p[k] == c[k], k
    assert p["ppl_ci"][0] < p["ppl"] < p["ppl_ci"][1]
    assert demo.perplexity(TEXT_FILE, ctx=128, bos_windows=True, bootstrap=0)["ppl_ci"] is None
    np.testing.assert_array_equal(p["token_nll"], np.asarray(c["token_nll"], dtype=np.float32))
    np.testing.assert_array_equal(p["token_index"], c["token_index"])
    with open(TEXT, encoding="utf-8") as f:
        assert demo.perplexity(f.read(), ctx=128, bos_windows=True, edits=[SW])["ppl"] == p["ppl"]

    # Independently: Hugging Face's sliding windows (stride = ctx) scored in float64 from run() logits.
    ids = [1] + [(13 * i + 5) % 250 + 3 for i in range(99)]
    ctx = 32
    q = planted.perplexity(ids, ctx=ctx)
    nll = []
    for start in range(0, len(ids), ctx):
        window = ids[start:start + ctx]  # its first token is context only
        logits = planted.run(window).logits.astype(np.float64)
        logp = logits - logits.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        nll += [-logp[i, window[i + 1]] for i in range(len(window) - 1)]
    assert q["tokens"] == len(ids) - len(range(0, len(ids), ctx)) == len(nll)
    assert q["ppl"] == pytest.approx(float(np.exp(np.mean(nll))), rel=1e-6)
    assert q["token_nll"].dtype == np.float32 and len(q["token_nll"]) == q["tokens"]


def test_stopwords_and_zeroshot_like_the_cli(demo):
    s = demo.stopwords(TEXT_FILE, edits=[SW], ctx=128, bos_windows=True)
    assert s == cli_json("stopwords", DEMO, "--text", TEXT, "--ctx", "128", "--bos-windows", "--edit", SW)
    z = demo.zeroshot(edits=[SW])
    assert z == cli_json("zeroshot", DEMO, "--edit", SW)
    assert z["tasks"] == "bundled"
    with open(TASKS, encoding="utf-8") as f:
        tasks = [json.loads(line) for line in f if line.strip()]
    zl = demo.zeroshot(tasks=tasks, edits=[SW])
    zf = demo.zeroshot(tasks=TASKS, edits=[SW])
    for k in ("accuracy", "accuracy_norm", "predictions", "log_likelihoods"):
        assert zl[k] == zf[k] == z[k]
    with pytest.raises(superlens.Error, match="tasks"):
        demo.zeroshot(tasks=[{"context": "x", "choices": [], "gold": 3}])


def test_compute_bf16_like_the_cli(planted):
    """superlens.open(..., compute="bf16") is the CLI's --compute bf16: the same logits, bit for bit."""
    folder = os.path.join(REFERENCE, "llama-planted")
    ids = REFERENCE_REFS["llama-planted"]["ids"]
    m = superlens.open(folder, compute="bf16")
    assert m.compute == "bf16" and planted.compute == "fp32"
    got = m.run(ids).logits
    want = cli_json("logits", folder, "--ids", ",".join(map(str, ids)), "--all-positions", "--compute", "bf16")["logits"]
    np.testing.assert_array_equal(got, np.asarray(want, dtype=np.float32))
    assert not np.array_equal(got, planted.run(ids).logits)
    with pytest.raises(superlens.Error, match="fp32, bf16 or fp16"):
        superlens.open(folder, compute="int8")


def test_generate_like_the_cli(demo):
    g = demo.generate("And the LORD said unto Moses,", max_new_tokens=16, edits=[SW])
    c = cli_json("generate", DEMO, "--prompt", "And the LORD said unto Moses,", "--max-new", "16", "--edit", SW)
    for k in ("new_ids", "text", "prompt_text", "ids", "edits"):
        assert g[k] == c[k], k


def test_study_superweight_like_the_cli(demo, short_text):
    s = superlens.study_superweight(DEMO, short_text, ctx=128, bos_windows=True)
    c = cli_json("study", "superweight", DEMO, "--text", str(short_text), "--ctx", "128", "--bos-windows")
    assert without_timing(s) == without_timing(c)
    keys = [x["key"] for x in s["conditions"]]
    assert keys == ["original", "sw_zeroed", "sw_zeroed_sa_restored", "outliers_zeroed"]
    ppl = {x["key"]: x["ppl"] for x in s["conditions"]}
    assert ppl["sw_zeroed"] > ppl["original"]  # the demo's card: removing the super weight hurts


def test_study_laser_and_quant_like_the_cli(demo, short_text):
    laser = demo.study_laser(short_text, types="down", layers=[4, 5], rhos=[0.1, 0.5], ctx=128, bos_windows=True, tasks=False)
    c = cli_json("study", "laser", DEMO, "--text", str(short_text), "--types", "down", "--layers", "4,5", "--rhos", "0.1,0.5",
                 "--ctx", "128", "--bos-windows", "--no-tasks")
    md = laser.pop("markdown")
    assert without_timing(laser) == without_timing(c) and "|" in md
    assert len(laser["cells"]) == 4
    quant = demo.study_quant(short_text, blocks=[64, "tensor"], ctx=128, bos_windows=True, tasks=False)
    c = cli_json("study", "quant", DEMO, "--text", str(short_text), "--blocks", "64,tensor", "--ctx", "128", "--bos-windows", "--no-tasks")
    quant.pop("markdown")
    assert without_timing(quant) == without_timing(c)
    assert {p["series"] for p in quant["points"]} == {"rtn", "rtn_keep_super"}


def test_study_laser_on_an_encoder_like_the_cli():
    """Masked-token accuracy and loss (issue 18): the same windows, masks and numbers as the CLI, ci/bootstrap and mask options included."""
    model = os.path.join(SOURCE, "tests", "data", "encoders", "roberta-f32")
    text = pathlib.Path(SOURCE, "tests", "data", "encoders", "mlm_text.txt")
    m = superlens.open(model)
    for kw, args in (({}, []), (dict(ctx=16, mask_fraction=0.3, mask_seed=11, ci=0.9, bootstrap=200),
                                ["--ctx", "16", "--mask-fraction", "0.3", "--mask-seed", "11", "--ci", "0.9", "--bootstrap", "200"])):
        laser = m.study_laser(text, types="up,down", layers=[2], rhos=[0.25], **kw)
        c = cli_json("study", "laser", model, "--text", str(text), "--types", "up,down", "--layers", "2", "--rhos", "0.25", *args)
        laser.pop("markdown")
        assert without_timing(laser) == without_timing(c)
        assert laser["metrics"] == ["mlm_accuracy", "mlm_loss"] and laser["cells"][0]["mlm_loss_ci"] is not None
    with pytest.raises(Exception, match="outside"):
        m.study_laser(text, types="up", layers=[0], rhos=[0.5], mask_fraction=1.5)


def test_study_experts_and_massive_joint_like_the_cli(tmp_path):
    """study_experts (given experts, joint) and study_massive (issue 23): the CLI's documents, number for number."""
    path = tmp_path / "text.ids"
    rng = np.random.default_rng(23)
    text = [1] + [int(i) for i in rng.integers(3, 128, size=63)]  # ids (the fixtures have no tokenizer)
    path.write_text(" ".join(map(str, text)))
    mixtral = os.path.join(MOE, "mixtral-bf16")
    ids = MOE_REFS["mixtral-bf16"]["ids"]
    s = superlens.study_experts(mixtral, text, profile_input=ids, experts=[(1, 0), (2, 5), (0, 3)], joint=True, ctx=8, stopwords=False,
                                tasks=False, bootstrap=100, ci=0.9)
    c = cli_json("study", "experts", mixtral, "--text-ids", str(path), "--ids", ",".join(map(str, ids)), "--experts", "1:0;2:5;0:3", "--joint",
                 "--ctx", "8", "--no-stopwords", "--no-tasks", "--bootstrap", "100", "--ci", "0.9")
    assert s == c
    assert s["joint"]["names"] == ["L1:E0", "L2:E5", "L0:E3"] and s["joint"]["interaction_ci"][0][1] is not None
    # Without experts=: the flagged super expert, no joint table.
    s = superlens.open(mixtral).study_experts(text, profile_input=ids, ctx=8, stopwords=False, tasks=False)
    assert s["joint"] is None and [[e["layer"], e["expert"]] for e in s["ablated_experts"]] == MOE_REFS["mixtral-bf16"]["expert_profile"]["super_experts"]
    phi3 = os.path.join(REFERENCE, "phi3-bf16-two-super-weights")
    m = superlens.study_massive(phi3, text, ctx=8, bootstrap=100, ci=0.9)
    c = cli_json("study", "massive", phi3, "--text-ids", str(path), "--ctx", "8", "--bootstrap", "100", "--ci", "0.9")
    assert m == c
    assert [x["channel"] for x in m["sites"]] == [8, 50] and m["zero"]["all"] > m["mean"]["all"]
    with pytest.raises(Exception, match="max-sites"):
        superlens.study_massive(phi3, text, ctx=8, max_sites=0)


def test_study_registers_like_the_cli():
    """study_registers (issue 18): the CLI's document for one model, arrays and paths alike."""
    vm = os.path.join(SOURCE, "tests", "data", "vision-massive")
    folder = os.path.join(vm, "dinov2-registers-massive-f32")
    files = [os.path.join(folder, f"image-{i}.npy") for i in range(3)]
    m = superlens.open(folder)
    doc = m.study_registers(files)
    md = doc.pop("markdown")
    args = sum((["--pixels", f] for f in files), [])
    assert doc == cli_json("study", "registers", folder, *args) and "register 2" in md
    site = doc["models"][0]["sites"][0]
    assert (site["token_kind"], site["register"], site["channel"]) == ("register", 2, 7)
    arrays = m.study_registers([np.load(f) for f in files])
    assert arrays["models"][0]["effect"] == doc["models"][0]["effect"]
    assert arrays["models"][0]["images"][0]["image"] == "pixels[0]"
    with pytest.raises(Exception, match="list of images"):
        m.study_registers(files[0])


def test_weights_under_edits(planted):
    name = "model.layers.1.mlp.down_proj.weight"
    w = planted.weight(name)
    z = planted.weight(name, edits=["model.layers.1.mlp.down_proj.weight[13,57]=0"])
    assert not z.flags.writeable and z[13, 57] == 0 and w[13, 57] != 0
    diff = np.argwhere(z != w)
    assert diff.tolist() == [[13, 57]]
    lr = planted.weight(name, edits=["laser:model.layers.1.mlp.down_proj.weight:rank=0.1"])
    k = max(1, int(0.1 * min(w.shape)))
    assert np.linalg.matrix_rank(lr.astype(np.float64), tol=1e-4 * np.abs(lr).max()) == k
    # rank-k truncation is the best rank-k approximation: compare with numpy's SVD
    u, sv, vt = np.linalg.svd(w.astype(np.float64))
    best = (u[:, :k] * sv[:k]) @ vt[:k]
    assert np.max(np.abs(lr - best)) < 1e-4 * np.abs(best).max()
