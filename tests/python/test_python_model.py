"""superlens.open: configuration, weights as numpy (zero-copy views of the
mmap for F32 and raw stored values, converted copies for F16/BF16, checked
against the safetensors bytes read by hand), hook names, tokenizers against
the reference libraries' expected ids."""
import gc
import json
import os
import struct

import numpy as np
import pytest
import superlens

from conftest import DATA, FAMILIES, REFERENCE


def read_safetensors_raw(folder):
    """name -> (dtype, numpy array of the stored values as numpy reads them)."""
    files = ["model.safetensors"]
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    out = {}
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            data = f.read()
        for key, info in header.items():
            if key == "__metadata__":
                continue
            b, e = info["data_offsets"]
            np_dtype = {"F32": "<f4", "F16": "<f2", "BF16": "<u2"}.get(info["dtype"])
            if np_dtype:
                out[key] = (info["dtype"], np.frombuffer(data[b:e], dtype=np_dtype).reshape(info["shape"]))
    return out


@pytest.mark.parametrize("folder", ["llama-planted", "qwen2-f16-tied", "mistral-bf16-sharded"])
def test_weights_equal_the_stored_bytes(folder):
    path = os.path.join(REFERENCE, folder)
    m = superlens.open(path)
    stored = read_safetensors_raw(path)
    assert sorted(m.weight_names()) == sorted(stored)
    for name, (dtype, raw) in stored.items():
        w = m.weight(name)
        assert w.dtype == np.float32 and w.shape == raw.shape
        assert not w.flags.writeable
        if dtype == "F32":
            want = raw
        elif dtype == "F16":
            want = raw.astype(np.float32)
        else:
            want = (raw.astype(np.uint32) << 16).view(np.float32)
        np.testing.assert_array_equal(w, want)
        r = m.weight(name, raw=True)
        assert r.dtype == {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}[dtype]
        np.testing.assert_array_equal(r.view(np.uint8), raw.view(np.uint8))
        assert m.tensor_info(name)["dtype"] == dtype and m.tensor_info(name)["shape"] == raw.shape


def test_f32_weights_are_zero_copy_views_that_keep_the_model_alive():
    m = superlens.open(os.path.join(REFERENCE, "llama-planted"))
    name = "model.layers.1.mlp.down_proj.weight"
    a, b = m.weight(name), m.weight(name)
    assert np.shares_memory(a, b)  # both view the same mapped bytes: no copy
    assert a.base is not None and not a.flags.owndata and not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 1.0
    raw = m.weight(name, raw=True)
    assert np.shares_memory(raw, a)
    f16 = superlens.open(os.path.join(REFERENCE, "qwen2-f16-tied"))
    n16 = "model.layers.0.mlp.down_proj.weight"
    assert np.shares_memory(f16.weight(n16, raw=True), f16.weight(n16, raw=True))
    assert not np.shares_memory(f16.weight(n16), f16.weight(n16))  # converted copies
    keep = a.copy()
    planted_value = float(a[13, 57])
    del m, b, raw
    gc.collect()
    np.testing.assert_array_equal(a, keep)  # the mmap lives as long as the view
    assert planted_value == 12.0


def test_configuration_and_hook_names():
    path = os.path.join(FAMILIES, "gpt2-f32")
    m = superlens.open(path)
    with open(os.path.join(path, "config.json")) as f:
        assert m.config == json.load(f)
    assert (m.model_type, m.n_layers, m.d_model, m.d_mlp, m.d_vocab) == ("gpt2", 4, 64, 256, 256)
    assert m.family == "GPT-2" and m.dtype == "F32" and m.n_params > 0 and len(m.fingerprint) > 0
    names = m.hook_names()
    assert names[:3] == ["hook_embed", "hook_pos_embed", "blocks.0.hook_resid_pre"] and names[-1] == "ln_final.hook_normalized"
    assert m.down_proj_name(1) == "transformer.h.1.mlp.c_proj.weight" and m.down_output_axis == 1
    info = m.tensor_info("transformer.h.1.mlp.c_proj.weight")
    assert info["layer"] == 1 and info["matrix"] and info["stored_transposed"] and info["used"]
    gptj = superlens.open(os.path.join(FAMILIES, "gptj-bf16"))
    assert not any("resid_mid" in n for n in gptj.hook_names()) and "hook_pos_embed" not in gptj.hook_names()
    assert len(m.hook_names()) == 3 + 8 * 4
    assert "superlens.Model" in repr(m)


def expected_lines(folder):
    with open(os.path.join(DATA, "tokenizers", folder, "expected.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("folder,source", [("llama-3-hf", "."), ("gpt2-hf", "."), ("llama-2-spm", "tokenizer.model")])
def test_tokenizers_match_the_reference_libraries(folder, source):
    tok = superlens.load_tokenizer(os.path.join(DATA, "tokenizers", folder, source))
    lines = expected_lines(folder)
    assert len(lines) > 100
    for e in lines:
        ids = tok.encode(e["text"], add_special_tokens=e["add_special_tokens"])
        assert ids == e["ids"], e["text"]
        if "tokens" in e:
            assert [tok.token_string(i) for i in ids] == e["tokens"]
        if "decoded" in e:
            assert tok.decode(ids) == e["decoded"]
    assert tok.vocab_size > 0 and isinstance(tok.source_file, str)


def test_model_tokenizer_and_str_tokens(demo):
    tok = demo.tokenizer
    assert tok is demo.tokenizer or tok.source_file == demo.tokenizer.source_file
    ids = tok.encode("In the beginning")
    assert ids[0] == tok.bos_id == 1 and tok.eos_id == 2
    assert tok.decode(ids, skip_special_tokens=True) == "In the beginning"
    assert tok.to_str_tokens(ids) == demo.run(ids).str_tokens
    assert tok.token_to_id(tok.token_string(ids[1])) == ids[1]
    assert tok.token_to_id("no such piece ***") is None
    assert tok.is_special(1) and not tok.is_special(ids[1])
    assert tok.decode(np.array(ids)) == tok.decode(ids)


def run_python(code):
    import subprocess
    import sys
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p


def test_openblas_kernels_follow_the_import_order():
    info = superlens.system_info()
    if not info["blas_requested"]:
        pytest.skip("this CPU leaves the kernel choice to OpenBLAS: nothing to check")
    # imported first (as here), superlens configures the library numpy shares
    assert info["blas_core"].lower() == info["blas_requested"].lower()
    after = run_python("import numpy, superlens; print(superlens.system_info()['blas_core'])")
    if after.stdout.strip().lower() != info["blas_requested"].lower():
        assert "numpy was imported before superlens" in after.stderr and info["blas_requested"] in after.stderr
    else:
        assert "RuntimeWarning" not in after.stderr
    before = run_python("import superlens, numpy; print(superlens.system_info()['blas_core'])")
    assert before.stdout.strip().lower() == info["blas_requested"].lower() and before.stderr == ""
