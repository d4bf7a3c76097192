#!/usr/bin/python3
"""Write a random Hugging Face checkpoint folder of a given shape, for benchmarks.

Run with Debian's python (/usr/bin/python3, needs python3-numpy). Weights are
N(0, 0.02), biases N(0, 0.02), norm weights 1 (Gemma's (1 + w) norms: 0),
written tensor by tensor (and converted in slices) so a 12 GB bf16 GPT-J never
needs more than one fp32 tensor in memory. Optionally plants a super weight
the way the shared reference models do: token 1 carries a large value in one
embedding channel, an early MLP channel fires on it, and one down-projection
weight turns that into a huge output in one residual channel.

Presets are Llama shapes (tinyllama, llama7b, small150m, tiny) or real model
shapes of the other families, with the hub files' tensor names, stored
layouts (GPT-2's Conv1D weights [in, out]), buffers (GPT-2/GPT-J/Pythia causal
masks, Pythia's rotary inv_freq) and config.json keys:

  gpt2          GPT-2 small (124M): n_embd 768, 12 layers, 12 heads, vocab 50257,
                n_positions 1024, openai-community/gpt2 names (no prefix), tied
  pythia160m    Pythia-160M (gpt_neox): 768, 12 layers, 12 heads, 3072, vocab 50304,
                rotary_pct 0.25, parallel residual, untied embed_out
  qwen3-0.6b    Qwen3-0.6B: hidden 1024, 28 layers, 16 heads / 8 kv, head_dim 128,
                3072, vocab 151936, q/k norms, tied
  gemma2-2b     Gemma-2-2B: hidden 2304, 26 layers, 8 heads / 4 kv, head_dim 256,
                9216, vocab 256000, tied, softcaps 50/30, sliding 4096,
                query_pre_attn_scalar 256 (3 shards, as on the hub)
  gptj6b        GPT-J-6B: n_embd 4096, 28 layers, 16 heads, rotary_dim 64,
                n_inner null (16384), vocab 50400, lm_head with bias (3 shards)
  mixtral8x7b   Mixtral-8x7B: hidden 4096, 32 layers, 32 heads / 8 kv, 8 experts of
                14336 (block_sparse_moe.experts.E.w1/w3/w2), top-2 (8 shards; 93 GB
                in bf16: --layers N for a shallower one)

Examples:
  /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype f32 --out /tmp/tinyllama
  /usr/bin/python3 bench/make_checkpoint.py --preset llama7b --dtype bf16 --shards 3 --out /tmp/llama7b
  /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --plant 2:1000:3000 --out /tmp/tl-planted
  /usr/bin/python3 bench/make_checkpoint.py --preset gpt2 --dtype f32 --out /tmp/gpt2
  /usr/bin/python3 bench/make_checkpoint.py --preset gptj6b --dtype bf16 --out /tmp/gptj6b
  /usr/bin/python3 bench/make_checkpoint.py --preset mixtral8x7b --layers 1 --dtype bf16 --shards 1 --out /tmp/mixtral1
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

# Llama shapes: name -> (hidden, layers, heads, kv_heads, intermediate, vocab)
PRESETS = {
    "tinyllama": (2048, 22, 32, 4, 5632, 32000),
    "llama7b": (4096, 32, 32, 32, 11008, 32000),
    "small150m": (768, 12, 12, 12, 2048, 32000),
    "tiny": (64, 2, 4, 2, 160, 256),
}

# Other families: name -> (family, shape, default shards)
FAMILY_PRESETS = {
    "gpt2": ("gpt2", dict(hidden=768, layers=12, heads=12, kv_heads=12, intermediate=3072, vocab=50257, positions=1024), 1),
    "pythia160m": ("gpt_neox", dict(hidden=768, layers=12, heads=12, kv_heads=12, intermediate=3072, vocab=50304, positions=2048), 1),
    "qwen3-0.6b": ("qwen3", dict(hidden=1024, layers=28, heads=16, kv_heads=8, head_dim=128, intermediate=3072, vocab=151936), 1),
    "gemma2-2b": ("gemma2", dict(hidden=2304, layers=26, heads=8, kv_heads=4, head_dim=256, intermediate=9216, vocab=256000), 3),
    "gptj6b": ("gptj", dict(hidden=4096, layers=28, heads=16, kv_heads=16, intermediate=16384, vocab=50400, positions=2048,
                            rotary_dim=64), 3),
    # Mixtral-8x7B's shapes (8 experts of 14336, top-2); --layers N makes a shallower one.
    "mixtral8x7b": ("mixtral", dict(hidden=4096, layers=32, heads=32, kv_heads=8, intermediate=14336, vocab=32000, experts=8, top_k=2), 8),
}

DTYPES = {"f32": ("F32", 4), "bf16": ("BF16", 2), "f16": ("F16", 2)}
TORCH_DTYPE = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}

# Tensor kinds: how make_tensor fills them.
W, BIAS, NORM, NORM0, MASK, MASKED_BIAS, INV_FREQ = "w", "bias", "norm", "norm0", "mask", "masked_bias", "inv_freq"


def to_bytes(a, dtype):
    """Bytes of a float32 array in the file's dtype (bf16: round to nearest even, as torch casts)."""
    a = np.ascontiguousarray(a, dtype=np.float32).reshape(-1)
    if dtype == "f32":
        return a.tobytes()
    if dtype == "f16":
        return a.astype(np.float16).tobytes()
    u = a.view(np.uint32)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded.tobytes()


def write_array(f, a, dtype, chunk=1 << 24):
    # Slices of 16M elements keep the conversion temporaries small (bf16 makes three uint32 copies).
    a = np.ascontiguousarray(a).reshape(-1)
    for i in range(0, a.size, chunk):
        f.write(to_bytes(a[i:i + chunk], dtype))


# ------------------------------------------------------------------ families
# Each returns (config dict, [(name, shape, kind)], roles) where roles names the
# tensors the planted super weight uses: embed, gate (or None), up, down, and
# whether up/down are stored [in, out] (GPT-2 Conv1D).

def llama_family(p, tie):
    h, layers, heads, kv, inter, vocab = p["hidden"], p["layers"], p["heads"], p["kv_heads"], p["intermediate"], p["vocab"]
    hd = h // heads
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h,
        "intermediate_size": inter, "num_attention_heads": heads, "num_key_value_heads": kv,
        "num_hidden_layers": layers, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": vocab,
        "max_position_embeddings": 4096, "tie_word_embeddings": tie, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu",
    }
    t = [("model.embed_tokens.weight", (vocab, h), W)]
    for l in range(layers):
        q = f"model.layers.{l}."
        t += [
            (q + "input_layernorm.weight", (h,), NORM),
            (q + "self_attn.q_proj.weight", (heads * hd, h), W),
            (q + "self_attn.k_proj.weight", (kv * hd, h), W),
            (q + "self_attn.v_proj.weight", (kv * hd, h), W),
            (q + "self_attn.o_proj.weight", (h, heads * hd), W),
            (q + "post_attention_layernorm.weight", (h,), NORM),
            (q + "mlp.gate_proj.weight", (inter, h), W),
            (q + "mlp.up_proj.weight", (inter, h), W),
            (q + "mlp.down_proj.weight", (h, inter), W),
        ]
    t.append(("model.norm.weight", (h,), NORM))
    if not tie:
        t.append(("lm_head.weight", (vocab, h), W))
    roles = dict(embed="model.embed_tokens.weight", gate="model.layers.{L}.mlp.gate_proj.weight",
                 up="model.layers.{L}.mlp.up_proj.weight", down="model.layers.{L}.mlp.down_proj.weight", conv1d=False)
    return config, t, roles


def mixtral_family(p, tie):
    """Llama's attention; block_sparse_moe.gate and experts.E.w1/w3/w2 as the hub files name them."""
    config, t, roles = llama_family(p, tie)
    E, k, h, inter = p["experts"], p["top_k"], p["hidden"], p["intermediate"]
    config.update({"architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "num_local_experts": E,
                   "num_experts_per_tok": k, "rope_theta": 1e6, "sliding_window": None})
    out = []
    for name, shape, kind in t:
        if ".mlp." not in name:
            out.append((name, shape, kind))
        elif name.endswith("mlp.down_proj.weight"):
            q = name[:-len("mlp.down_proj.weight")] + "block_sparse_moe."
            out.append((q + "gate.weight", (E, h), W))
            for e in range(E):
                out += [(q + f"experts.{e}.w1.weight", (inter, h), W), (q + f"experts.{e}.w3.weight", (inter, h), W),
                        (q + f"experts.{e}.w2.weight", (h, inter), W)]
    roles = dict(embed="model.embed_tokens.weight", gate="model.layers.{L}.block_sparse_moe.experts.0.w1.weight",
                 up="model.layers.{L}.block_sparse_moe.experts.0.w3.weight",
                 down="model.layers.{L}.block_sparse_moe.experts.0.w2.weight", conv1d=False)
    return config, out, roles


def qwen3_family(p, tie):
    h, layers, heads, kv, hd, inter, vocab = (p["hidden"], p["layers"], p["heads"], p["kv_heads"], p["head_dim"], p["intermediate"],
                                              p["vocab"])
    config = {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
        "eos_token_id": 151645, "head_dim": hd, "hidden_act": "silu", "hidden_size": h, "initializer_range": 0.02,
        "intermediate_size": inter, "max_position_embeddings": 40960, "max_window_layers": layers, "model_type": "qwen3",
        "num_attention_heads": heads, "num_hidden_layers": layers, "num_key_value_heads": kv, "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "tie_word_embeddings": tie,
        "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False, "vocab_size": vocab,
    }
    t = [("model.embed_tokens.weight", (vocab, h), W)]
    for l in range(layers):
        q = f"model.layers.{l}."
        t += [
            (q + "input_layernorm.weight", (h,), NORM),
            (q + "mlp.down_proj.weight", (h, inter), W),
            (q + "mlp.gate_proj.weight", (inter, h), W),
            (q + "mlp.up_proj.weight", (inter, h), W),
            (q + "post_attention_layernorm.weight", (h,), NORM),
            (q + "self_attn.k_norm.weight", (hd,), NORM),
            (q + "self_attn.k_proj.weight", (kv * hd, h), W),
            (q + "self_attn.o_proj.weight", (h, heads * hd), W),
            (q + "self_attn.q_norm.weight", (hd,), NORM),
            (q + "self_attn.q_proj.weight", (heads * hd, h), W),
            (q + "self_attn.v_proj.weight", (kv * hd, h), W),
        ]
    t.append(("model.norm.weight", (h,), NORM))
    if not tie:
        t.append(("lm_head.weight", (vocab, h), W))
    roles = dict(embed="model.embed_tokens.weight", gate="model.layers.{L}.mlp.gate_proj.weight",
                 up="model.layers.{L}.mlp.up_proj.weight", down="model.layers.{L}.mlp.down_proj.weight", conv1d=False)
    return config, t, roles


def gemma2_family(p, tie):
    h, layers, heads, kv, hd, inter, vocab = (p["hidden"], p["layers"], p["heads"], p["kv_heads"], p["head_dim"], p["intermediate"],
                                              p["vocab"])
    config = {
        "architectures": ["Gemma2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0, "attn_logit_softcapping": 50.0,
        "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": 1, "final_logit_softcapping": 30.0, "head_dim": hd,
        "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh", "hidden_size": h, "initializer_range": 0.02,
        "intermediate_size": inter, "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": heads,
        "num_hidden_layers": layers, "num_key_value_heads": kv, "pad_token_id": 0, "query_pre_attn_scalar": 256,
        "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": tie,
        "transformers_version": "4.42.4", "use_cache": True, "vocab_size": vocab,
    }
    t = [("model.embed_tokens.weight", (vocab, h), W)]
    for l in range(layers):
        q = f"model.layers.{l}."
        t += [
            (q + "input_layernorm.weight", (h,), NORM0),
            (q + "mlp.down_proj.weight", (h, inter), W),
            (q + "mlp.gate_proj.weight", (inter, h), W),
            (q + "mlp.up_proj.weight", (inter, h), W),
            (q + "post_attention_layernorm.weight", (h,), NORM0),
            (q + "post_feedforward_layernorm.weight", (h,), NORM0),
            (q + "pre_feedforward_layernorm.weight", (h,), NORM0),
            (q + "self_attn.k_proj.weight", (kv * hd, h), W),
            (q + "self_attn.o_proj.weight", (h, heads * hd), W),
            (q + "self_attn.q_proj.weight", (heads * hd, h), W),
            (q + "self_attn.v_proj.weight", (kv * hd, h), W),
        ]
    t.append(("model.norm.weight", (h,), NORM0))
    if not tie:
        t.append(("lm_head.weight", (vocab, h), W))
    roles = dict(embed="model.embed_tokens.weight", gate="model.layers.{L}.mlp.gate_proj.weight",
                 up="model.layers.{L}.mlp.up_proj.weight", down="model.layers.{L}.mlp.down_proj.weight", conv1d=False,
                 post_mlp_norm="model.layers.{L}.post_feedforward_layernorm.weight")
    return config, t, roles


def gpt2_family(p, tie):
    # openai-community/gpt2's model.safetensors: no "transformer." prefix, Conv1D weights [in, out],
    # the causal-mask buffer h.L.attn.bias [1, 1, n_positions, n_positions] in the file's dtype.
    h, layers, heads, inter, vocab, npos = p["hidden"], p["layers"], p["heads"], p["intermediate"], p["vocab"], p["positions"]
    config = {
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1, "bos_token_id": 50256,
        "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_ctx": npos, "n_embd": h, "n_head": heads, "n_layer": layers, "n_positions": npos, "resid_pdrop": 0.1,
        "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True, "summary_type": "cls_index",
        "summary_use_proj": True, "vocab_size": vocab,
    }
    if inter != 4 * h:
        config["n_inner"] = inter
    if not tie:
        config["tie_word_embeddings"] = False
    t = [("wte.weight", (vocab, h), W), ("wpe.weight", (npos, h), W)]
    for l in range(layers):
        q = f"h.{l}."
        t += [
            (q + "ln_1.weight", (h,), NORM),
            (q + "ln_1.bias", (h,), BIAS),
            (q + "attn.bias", (1, 1, npos, npos), MASK),
            (q + "attn.c_attn.weight", (h, 3 * h), W),
            (q + "attn.c_attn.bias", (3 * h,), BIAS),
            (q + "attn.c_proj.weight", (h, h), W),
            (q + "attn.c_proj.bias", (h,), BIAS),
            (q + "ln_2.weight", (h,), NORM),
            (q + "ln_2.bias", (h,), BIAS),
            (q + "mlp.c_fc.weight", (h, inter), W),
            (q + "mlp.c_fc.bias", (inter,), BIAS),
            (q + "mlp.c_proj.weight", (inter, h), W),
            (q + "mlp.c_proj.bias", (h,), BIAS),
        ]
    t += [("ln_f.weight", (h,), NORM), ("ln_f.bias", (h,), BIAS)]
    if not tie:
        t.append(("lm_head.weight", (vocab, h), W))
    roles = dict(embed="wte.weight", gate=None, up="h.{L}.mlp.c_fc.weight", down="h.{L}.mlp.c_proj.weight", conv1d=True)
    return config, t, roles


def gptj_family(p, tie):
    # EleutherAI/gpt-j-6b: q/k/v/out_proj without bias, parallel block with one ln_1,
    # lm_head with bias, BOOL attn.bias and scalar attn.masked_bias buffers.
    h, layers, heads, inter, vocab, npos = p["hidden"], p["layers"], p["heads"], p["intermediate"], p["vocab"], p["positions"]
    config = {
        "activation_function": "gelu_new", "architectures": ["GPTJForCausalLM"], "attn_pdrop": 0.0, "bos_token_id": 50256,
        "embd_pdrop": 0.0, "eos_token_id": 50256, "gradient_checkpointing": False, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gptj", "n_embd": h, "n_head": heads, "n_inner": None if inter == 4 * h else inter,
        "n_layer": layers, "n_positions": npos, "resid_pdrop": 0.0, "rotary": True, "rotary_dim": p["rotary_dim"],
        "scale_attn_weights": True, "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
        "summary_type": "cls_index", "summary_use_proj": True, "tie_word_embeddings": tie, "tokenizer_class": "GPT2Tokenizer",
        "transformers_version": "4.18.0.dev0", "use_cache": True, "vocab_size": vocab,
    }
    t = [("transformer.wte.weight", (vocab, h), W)]
    for l in range(layers):
        q = f"transformer.h.{l}."
        t += [
            (q + "ln_1.weight", (h,), NORM),
            (q + "ln_1.bias", (h,), BIAS),
            (q + "attn.bias", (1, 1, npos, npos), MASK),
            (q + "attn.masked_bias", (), MASKED_BIAS),
            (q + "attn.k_proj.weight", (h, h), W),
            (q + "attn.v_proj.weight", (h, h), W),
            (q + "attn.q_proj.weight", (h, h), W),
            (q + "attn.out_proj.weight", (h, h), W),
            (q + "mlp.fc_in.weight", (inter, h), W),
            (q + "mlp.fc_in.bias", (inter,), BIAS),
            (q + "mlp.fc_out.weight", (h, inter), W),
            (q + "mlp.fc_out.bias", (h,), BIAS),
        ]
    t += [("transformer.ln_f.weight", (h,), NORM), ("transformer.ln_f.bias", (h,), BIAS)]
    if not tie:
        t += [("lm_head.weight", (vocab, h), W), ("lm_head.bias", (vocab,), BIAS)]
    roles = dict(embed="transformer.wte.weight", gate=None, up="transformer.h.{L}.mlp.fc_in.weight",
                 down="transformer.h.{L}.mlp.fc_out.weight", conv1d=False)
    return config, t, roles


def gpt_neox_family(p, tie):
    # EleutherAI/pythia-160m: fused query_key_value (per head [q | k | v]), parallel residual with two
    # norms, untied embed_out; old saves carry attention.bias (BOOL), masked_bias and rotary inv_freq.
    h, layers, heads, inter, vocab, npos = p["hidden"], p["layers"], p["heads"], p["intermediate"], p["vocab"], p["positions"]
    hd = h // heads
    rot = int(hd * 0.25)
    config = {
        "architectures": ["GPTNeoXForCausalLM"], "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "gelu", "hidden_size": h,
        "initializer_range": 0.02, "intermediate_size": inter, "layer_norm_eps": 1e-05, "max_position_embeddings": npos,
        "model_type": "gpt_neox", "num_attention_heads": heads, "num_hidden_layers": layers, "rotary_emb_base": 10000,
        "rotary_pct": 0.25, "tie_word_embeddings": tie, "transformers_version": "4.24.0", "use_cache": True,
        "use_parallel_residual": True, "vocab_size": vocab,
    }
    t = [("gpt_neox.embed_in.weight", (vocab, h), W)]
    for l in range(layers):
        q = f"gpt_neox.layers.{l}."
        t += [
            (q + "input_layernorm.weight", (h,), NORM),
            (q + "input_layernorm.bias", (h,), BIAS),
            (q + "post_attention_layernorm.weight", (h,), NORM),
            (q + "post_attention_layernorm.bias", (h,), BIAS),
            (q + "attention.bias", (1, 1, npos, npos), MASK),
            (q + "attention.masked_bias", (), MASKED_BIAS),
            (q + "attention.rotary_emb.inv_freq", (rot // 2,), INV_FREQ),
            (q + "attention.query_key_value.weight", (3 * h, h), W),
            (q + "attention.query_key_value.bias", (3 * h,), BIAS),
            (q + "attention.dense.weight", (h, h), W),
            (q + "attention.dense.bias", (h,), BIAS),
            (q + "mlp.dense_h_to_4h.weight", (inter, h), W),
            (q + "mlp.dense_h_to_4h.bias", (inter,), BIAS),
            (q + "mlp.dense_4h_to_h.weight", (h, inter), W),
            (q + "mlp.dense_4h_to_h.bias", (h,), BIAS),
        ]
    t += [("gpt_neox.final_layer_norm.weight", (h,), NORM), ("gpt_neox.final_layer_norm.bias", (h,), BIAS)]
    if not tie:
        t.append(("embed_out.weight", (vocab, h), W))
    roles = dict(embed="gpt_neox.embed_in.weight", gate=None, up="gpt_neox.layers.{L}.mlp.dense_h_to_4h.weight",
                 down="gpt_neox.layers.{L}.mlp.dense_4h_to_h.weight", conv1d=False)
    return config, t, roles


FAMILIES = {"llama": llama_family, "qwen3": qwen3_family, "gemma2": gemma2_family, "gpt2": gpt2_family, "gptj": gptj_family,
            "gpt_neox": gpt_neox_family, "mixtral": mixtral_family}
TIED_BY_DEFAULT = {"llama": False, "qwen3": True, "gemma2": True, "gpt2": True, "gptj": False, "gpt_neox": False, "mixtral": False}


def make_tensor(name, shape, kind, rng, plant, roles, h):
    if kind == NORM:
        return np.ones(shape, dtype=np.float32)
    if kind == NORM0:
        a = np.zeros(shape, dtype=np.float32)
        if plant and roles.get("post_mlp_norm") and name == roles["post_mlp_norm"].replace("{L}", str(plant[0])):
            a[plant[1]] = 31.0  # Gemma: x (1 + 31) lets the spike survive the norm of the MLP output
        return a
    if kind == MASK:
        n = shape[-1]
        return np.tril(np.ones((n, n), dtype=np.uint8)).reshape(shape)
    if kind == MASKED_BIAS:
        return np.full(shape, -1e9, dtype=np.float32)
    if kind == INV_FREQ:
        dim = 2 * shape[0]
        return (1.0 / (10000.0 ** (np.arange(0, dim, 2, dtype=np.float64) / dim))).astype(np.float32)
    a = rng.standard_normal(shape, dtype=np.float32)
    a *= 0.02
    if plant and kind == W:
        layer, row, col = plant
        carrier = 7 % h  # embedding channel that marks token 1
        up = roles["up"].replace("{L}", str(layer))
        gate = roles["gate"].replace("{L}", str(layer)) if roles["gate"] else None
        down = roles["down"].replace("{L}", str(layer))
        if name == roles["embed"]:
            a[1, :] *= 0.1
            a[1, carrier] = 4.0
        elif name in (up, gate):
            if roles["conv1d"]:
                a[carrier, col] = 2.0
            else:
                a[col, carrier] = 2.0
        elif name == down:
            # (row, col) = (output channel, MLP channel); a Conv1D tensor is stored [in, out].
            if roles["conv1d"]:
                a[col, row] = -8.0
            else:
                if roles.get("post_mlp_norm"):
                    a[row, :] *= 0.01  # the output channel is quiet except at the planted weight
                a[row, col] = -8.0
    return a


def write_shard(path, items, dtype):
    st_dtype, size = DTYPES[dtype]
    header = {}
    offset = 0
    for name, shape, kind, _ in items:
        tdtype, tsize = ("BOOL", 1) if kind == MASK else (st_dtype, size)
        n = int(np.prod(shape, dtype=np.int64)) * tsize
        header[name] = {"dtype": tdtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for name, shape, kind, make in items:
            a = make()
            if kind == MASK:
                f.write(np.ascontiguousarray(a, dtype=np.uint8).tobytes())
            else:
                write_array(f, a, dtype)
            del a
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS) + sorted(FAMILY_PRESETS), default="tiny")
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--intermediate", type=int)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--shards", type=int, help="number of files (default: 1; gemma2-2b and gptj6b: 3)")
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tie", action="store_true", default=None, help="tie lm_head to the embedding")
    tie.add_argument("--untie", dest="tie", action="store_false", help="write a separate lm_head")
    ap.add_argument("--plant", help="plant a super weight LAYER:ROW:COL (ROW = output channel, COL = MLP channel)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    if a.preset in PRESETS:
        family, shards = "llama", 1
        h, layers, heads, kv, inter, vocab = PRESETS[a.preset]
        p = dict(hidden=h, layers=layers, heads=heads, kv_heads=kv, intermediate=inter, vocab=vocab)
    else:
        family, p, shards = FAMILY_PRESETS[a.preset]
        p = dict(p)
    for key in ("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab"):
        if getattr(a, key) is not None:
            p[key] = getattr(a, key)
    if family in ("gpt2", "gptj", "gpt_neox") and p["kv_heads"] != p["heads"]:
        sys.exit(f"{family} has no grouped-query attention (--kv-heads must equal --heads)")
    shards = a.shards if a.shards is not None else shards
    tie = TIED_BY_DEFAULT[family] if a.tie is None else a.tie
    plant = tuple(int(x) for x in a.plant.split(":")) if a.plant else None

    config, shapes, roles = FAMILIES[family](p, tie)
    config["torch_dtype"] = TORCH_DTYPE[a.dtype]
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    rng = np.random.default_rng(a.seed)
    h = p["hidden"]
    items = [(n, s, k, (lambda n=n, s=s, k=k: make_tensor(n, s, k, rng, plant, roles, h))) for n, s, k in shapes]
    if shards <= 1:
        write_shard(os.path.join(a.out, "model.safetensors"), items, a.dtype)
    else:
        # Split by bytes, in tensor order, so shards come out about equal.
        sizes = [int(np.prod(s, dtype=np.int64)) for _, s, _, _ in items]
        total, target = sum(sizes), sum(sizes) / shards
        chunks, cur, acc = [], [], 0
        for item, size in zip(items, sizes):
            if cur and acc + size / 2 > target * (len(chunks) + 1) and len(chunks) < shards - 1:
                chunks.append(cur)
                cur = []
            cur.append(item)
            acc += size
        chunks.append(cur)
        weight_map = {}
        for i, chunk in enumerate(chunks):
            fname = f"model-{i + 1:05d}-of-{len(chunks):05d}.safetensors"
            write_shard(os.path.join(a.out, fname), chunk, a.dtype)
            for n, _, _, _ in chunk:
                weight_map[n] = fname
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total * DTYPES[a.dtype][1]}, "weight_map": weight_map}, f, indent=1)
        shards = len(chunks)
    params = sum(int(np.prod(s, dtype=np.int64)) for _, s, k in shapes if k in (W, BIAS, NORM, NORM0))
    print(f"wrote {a.out}: {a.preset} ({family}), {params / 1e6:.1f}M parameters, {a.dtype}, {max(1, shards)} file(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
