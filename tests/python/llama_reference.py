"""An independent float64 Llama forward in numpy, written for the Python tests
from Hugging Face's LlamaModel (modeling_llama.py), sharing no code with core:
safetensors read by hand, RMSNorm, rotate-half RoPE, GQA causal attention,
gated SiLU MLP. Hook functions replace a value in flight exactly where the
TransformerLens-named hook sits, so a hooked run of the engine can be checked
against it. Covers the reference checkpoints without rope scaling."""
import json
import math
import os
import struct

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float64)
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        else:
            raise ValueError(info["dtype"])
        out[name] = a.reshape(info["shape"])
    return out


class LlamaReference:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        assert self.cfg["model_type"] == "llama" and not self.cfg.get("rope_scaling")
        self.w = load_safetensors(os.path.join(folder, "model.safetensors"))

    def forward(self, ids, hooks=None):
        """Logits [T, V] (float64). hooks: {hook name: fn(value) -> new value}."""
        hooks = hooks or {}
        c, w = self.cfg, self.w
        d, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        hd = c.get("head_dim") or d // H
        eps, theta = c["rms_norm_eps"], c.get("rope_theta", 10000.0)
        T = len(ids)

        def hook(name, value):
            fn = hooks.get(name)
            return np.asarray(fn(value.copy()), dtype=np.float64) if fn else value

        def rms(x, g):
            return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g

        inv = np.array([1.0 / theta ** (i / hd) for i in range(0, hd, 2)])
        ang = np.arange(T)[:, None] * inv[None, :]
        cos = np.concatenate([np.cos(ang), np.cos(ang)], axis=-1)[:, None, :]
        sin = np.concatenate([np.sin(ang), np.sin(ang)], axis=-1)[:, None, :]

        def rope(x):  # [T, heads, hd]
            rot = np.concatenate([-x[..., hd // 2:], x[..., : hd // 2]], axis=-1)
            return x * cos + rot * sin

        x = hook("hook_embed", w["model.embed_tokens.weight"][ids])
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        for l in range(c["num_hidden_layers"]):
            p = f"model.layers.{l}."
            x = hook(f"blocks.{l}.hook_resid_pre", x)
            h = rms(x, w[p + "input_layernorm.weight"])
            q = rope((h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, hd))
            k = rope((h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, KV, hd))
            v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, KV, hd)
            k = np.repeat(k, H // KV, axis=1)
            v = np.repeat(v, H // KV, axis=1)
            scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(hd) + mask
            scores -= scores.max(axis=-1, keepdims=True)
            pattern = np.exp(scores)
            pattern /= pattern.sum(axis=-1, keepdims=True)
            pattern = hook(f"blocks.{l}.attn.hook_pattern", pattern)
            attn = np.einsum("hqk,khd->qhd", pattern, v).reshape(T, H * hd)
            attn = hook(f"blocks.{l}.hook_attn_out", attn @ w[p + "self_attn.o_proj.weight"].T)
            x = hook(f"blocks.{l}.hook_resid_mid", x + attn)
            h = rms(x, w[p + "post_attention_layernorm.weight"])
            gate = hook(f"blocks.{l}.mlp.hook_pre", h @ w[p + "mlp.gate_proj.weight"].T)
            post = hook(f"blocks.{l}.mlp.hook_post", gate / (1.0 + np.exp(-gate)) * (h @ w[p + "mlp.up_proj.weight"].T))
            out = hook(f"blocks.{l}.hook_mlp_out", post @ w[p + "mlp.down_proj.weight"].T)
            x = hook(f"blocks.{l}.hook_resid_post", x + out)
        x = hook("ln_final.hook_normalized", rms(x, w["model.norm.weight"]))
        head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
        return x @ head.T
