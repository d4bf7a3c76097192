"""Logit lens (issue 24) from the CLI and from Python: every layer's row against
an independent float64 numpy computation (the family's final norm and
unembedding, read from the checkpoint here, applied to the float64 reference
forward's residuals in refs.json), the last layer against the model's own
output distribution, edits, and Python's dict equal to `superlens-cli lens --json`."""
import json
import os
import struct

import numpy as np
import pytest
import superlens

from conftest import DEMO, FAMILIES, FAMILY_REFS, REFERENCE, REFERENCE_REFS, cli, cli_error, cli_json

SW = "model.layers.1.mlp.down_proj.weight[87,233]=0"  # the demo's super weight
PROMPT = "In the beginning God created the heaven and the earth."


def load_safetensors(path):
    """Every tensor of a single-file checkpoint as float64 numpy arrays."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[a:b]
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(raw, "<f4")
        elif dt == "F16":
            arr = np.frombuffer(raw, "<f2")
        elif dt == "BF16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(dt)
        out[name] = arr.reshape(info["shape"]).astype(np.float64)
    return out


def find(w, suffix):
    hits = [k for k in w if k.endswith(suffix)]
    assert len(hits) == 1, (suffix, hits)
    return w[hits[0]]


def float64_head(folder):
    """The family's final norm + unembedding (+ soft-capping), float64, as Hugging Face writes it."""
    cfg = json.load(open(os.path.join(folder, "config.json")))
    w = load_safetensors(os.path.join(folder, "model.safetensors"))
    mt = cfg["model_type"]
    eps = cfg.get("rms_norm_eps", cfg.get("layer_norm_epsilon", cfg.get("layer_norm_eps", 1e-5)))
    if mt == "gpt2":
        g, b, head, bias = find(w, "ln_f.weight"), find(w, "ln_f.bias"), find(w, "wte.weight"), None
    elif mt == "phi":
        g, b, head, bias = w["model.final_layernorm.weight"], w["model.final_layernorm.bias"], w["lm_head.weight"], w["lm_head.bias"]
    else:  # llama, qwen3, gemma2: RMSNorm model.norm
        g, b = w["model.norm.weight"], None
        head = w["lm_head.weight"] if "lm_head.weight" in w else w["model.embed_tokens.weight"]
        bias = None
    cap = cfg.get("final_logit_softcapping")

    def apply(x):
        if b is not None:  # LayerNorm
            mu = x.mean(-1, keepdims=True)
            var = ((x - mu) ** 2).mean(-1, keepdims=True)
            n = (x - mu) / np.sqrt(var + eps) * g + b
        else:
            scale = (1.0 + g) if mt.startswith("gemma") else g
            n = x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * scale
        logits = n @ head.T
        if bias is not None:
            logits = logits + bias
        if cap:
            logits = cap * np.tanh(logits / cap)
        z = np.exp(logits - logits.max(-1, keepdims=True))
        return z / z.sum(-1, keepdims=True)

    return apply


CASES = [("llama-planted", REFERENCE, REFERENCE_REFS)] + [(n, FAMILIES, FAMILY_REFS) for n in ("gpt2-f32", "gemma2-f32", "phi-f32", "qwen3-bf16")]


@pytest.mark.parametrize("name,root,refs", CASES, ids=[c[0] for c in CASES])
def test_every_layer_matches_a_float64_numpy_lens(name, root, refs):
    ref = refs[name]
    folder = os.path.join(root, name)
    head = float64_head(folder)
    ids = ",".join(str(i) for i in ref["ids"])
    T, L = len(ref["ids"]), ref["layers"]
    for P in (1, T - 1):
        j = cli_json("lens", folder, "--ids", ids, "--position", str(P), "--top", "5")
        assert j["position"] == P
        assert [row["layer"] for row in j["layers"]] == list(range(-1, L))
        final = None
        for row in reversed(j["layers"]):
            layer = row["layer"]
            hook = "blocks.0.hook_resid_pre" if layer < 0 else f"blocks.{layer}.hook_resid_post"
            if hook not in ref["hooks"]:
                continue
            p = head(np.asarray(ref["hooks"][hook], dtype=np.float64)[P])
            if layer == L - 1:
                final = int(np.argmax(p))
                assert j["final"]["id"] == final
            order = np.argsort(-p, kind="stable")
            got = [t["id"] for t in row["top"]]
            # Ties within float32 noise may swap: compare the probabilities of the listed ids and the top-1.
            assert got[0] == order[0] or abs(p[got[0]] - p[order[0]]) < 1e-6, (name, layer, got, order[:5])
            for t in row["top"]:
                assert abs(t["prob"] - p[t["id"]]) < 5e-5, (name, P, layer, t, p[t["id"]])
            np.testing.assert_allclose([t["prob"] for t in row["top"]], p[order[:5]], atol=5e-5)
            h = -float(np.sum(p[p > 0] * np.log(p[p > 0])))
            assert abs(row["entropy"] - h) < 2e-4 * max(1.0, h), (name, layer, row["entropy"], h)
            assert abs(row["final_prob"] - p[final]) < 5e-5
            # Rank: ids more probable than the final prediction (ties within float32 noise may count either way).
            assert int(np.sum(p > p[final] + 1e-7)) <= row["final_rank"] <= int(np.sum(p > p[final] - 1e-7)), (name, layer)


def test_last_layer_is_the_models_own_output_distribution(demo):
    for edits in ([], ["--edit", SW]):
        j = cli_json("lens", DEMO, "--prompt", PROMPT, "--top", "8", *edits)
        out = cli_json("logits", DEMO, "--prompt", PROMPT, "--all-positions", *edits)
        logits = np.asarray(out["logits"], dtype=np.float64)
        T = logits.shape[0]
        assert j["position"] == T - 1
        z = np.exp(logits - logits.max(-1, keepdims=True))
        p = z / z.sum(-1, keepdims=True)
        last = j["layers"][-1]
        assert last["layer"] == len(j["layers"]) - 2  # rows: -1 (embeddings), 0 .. L-1
        assert last["final_rank"] == 0
        assert last["top"][0]["id"] == int(np.argmax(p[T - 1])) == j["final"]["id"]
        for t in last["top"]:
            assert abs(t["prob"] - p[T - 1, t["id"]]) < 1e-12
        # The heatmap's last row is the top-1 of the output at every position.
        np.testing.assert_array_equal(j["top1"]["id"][-1], np.argmax(p, axis=-1))
        np.testing.assert_allclose(j["top1"]["prob"][-1], p.max(-1), rtol=0, atol=1e-12)


def test_edits_change_the_later_layers_only_and_keep_the_original(demo):
    j = cli_json("lens", DEMO, "--prompt", PROMPT, "--edit", SW)
    plain = cli_json("lens", DEMO, "--prompt", PROMPT)
    assert j["edits"] == [SW]
    assert j["original"]["layers"] == plain["layers"]
    # Layers before the edited block are untouched (the embeddings and block 0).
    for k in (0, 1):
        assert j["layers"][k] == plain["layers"][k]
    # Zeroing the demo's super weight changes the final distribution.
    assert j["layers"][-1]["top"] != plain["layers"][-1]["top"]


def test_python_lens_is_the_cli_document(demo):
    for kwargs, extra in (({}, []), ({"position": 3, "top": 4}, ["--position", "3", "--top", "4"]), ({"edits": SW}, ["--edit", SW])):
        d = demo.lens(PROMPT, **kwargs)
        j = cli_json("lens", DEMO, "--prompt", PROMPT, *extra)
        for key in ("position", "final", "layers", "ids", "edits"):
            assert d[key] == j[key], key
        np.testing.assert_array_equal(d["top1"]["prob"], np.asarray(j["top1"]["prob"]))
        np.testing.assert_array_equal(d["top1"]["id"], np.asarray(j["top1"]["id"]))
        assert d["top1"]["prob"].shape == (len(j["layers"]), len(j["ids"]))
        if "edits" in kwargs:
            assert d["original"]["layers"] == j["original"]["layers"]


def test_bad_input_gives_one_clear_line(demo):
    msg = cli_error("lens", DEMO, "--ids", "1,5,9", "--position", "3")
    assert "--position 3" in msg and "3 tokens" in msg
    with pytest.raises(superlens.Error, match="position 7 is outside"):
        demo.lens([1, 5, 9], position=7)
    code, out, err = cli("lens", DEMO)
    assert code == 2 and "--prompt" in err
