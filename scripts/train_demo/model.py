"""A plain Hugging Face Llama forward pass in PyTorch (no biases).

Exactly the LlamaForCausalLM equations SuperLens's C++ engine implements:
RMSNorm (x * rsqrt(mean(x^2) + eps) * weight, computed in float32), RoPE with
rotate_half (pairs (i, i + head_dim/2), inv_freq = theta^(-2i/head_dim)),
grouped-query attention with causal softmax, SwiGLU MLP
down(silu(gate(x)) * up(x)), final norm and lm_head. Nothing about the super
weight lives here: it is all in the weights.

`forward` can record hook values with DESIGN.md's names and apply simple
interventions (a callback per hook), which evaluate.py uses.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class Config:
    vocab_size: int = 2048
    hidden_size: int = 192
    intermediate_size: int = 512
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 6
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 512
    tie_word_embeddings: bool = False
    bos_token_id: int = 1
    eos_token_id: int = 2

    @property
    def head_dim(self):
        return self.hidden_size // self.num_attention_heads

    def to_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rope_cos_sin(cfg, T, device=None):
    hd = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    t = torch.arange(T, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(device), emb.sin().to(device)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d, H, KV, hd = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.q_proj = nn.Linear(d, H * hd, bias=False)
        self.k_proj = nn.Linear(d, KV * hd, bias=False)
        self.v_proj = nn.Linear(d, KV * hd, bias=False)
        self.o_proj = nn.Linear(H * hd, d, bias=False)

    def forward(self, x, cos, sin, hook=None, prefix=""):
        B, T, _ = x.shape
        cfg = self.cfg
        H, KV, hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        q = self.q_proj(x).view(B, T, H, hd).transpose(1, 2)
        k = self.k_proj(x).view(B, T, KV, hd).transpose(1, 2)
        v = self.v_proj(x).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if KV != H:
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf"))
        att = F.softmax(att.float(), dim=-1).to(q.dtype)
        if hook is not None:
            att = hook(prefix + "attn.hook_pattern", att)
        y = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
        return self.o_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, f = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x, hook=None, prefix=""):
        g = self.gate_proj(x)
        if hook is not None:
            g = hook(prefix + "mlp.hook_pre", g)
        h = F.silu(g) * self.up_proj(x)
        if hook is not None:
            h = hook(prefix + "mlp.hook_post", h)
        return self.down_proj(h)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, hook=None, prefix=""):
        if hook is not None:
            x = hook(prefix + "hook_resid_pre", x)
        a = self.self_attn(self.input_layernorm(x), cos, sin, hook, prefix)
        if hook is not None:
            a = hook(prefix + "hook_attn_out", a)
        x = x + a
        if hook is not None:
            x = hook(prefix + "hook_resid_mid", x)
        m = self.mlp(self.post_attention_layernorm(x), hook, prefix)
        if hook is not None:
            m = hook(prefix + "hook_mlp_out", m)
        x = x + m
        if hook is not None:
            x = hook(prefix + "hook_resid_post", x)
        return x


class Llama(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens.weight
        self._rope = {}

    def rope(self, T, device):
        key = (T, str(device))
        if key not in self._rope:
            self._rope[key] = rope_cos_sin(self.cfg, T, device)
        return self._rope[key]

    def forward(self, ids, hook=None):
        """ids [B, T] -> logits [B, T, V]. hook(name, tensor) -> tensor."""
        B, T = ids.shape
        cos, sin = self.rope(T, ids.device)
        x = self.embed_tokens(ids)
        if hook is not None:
            x = hook("hook_embed", x)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, hook, f"blocks.{i}.")
        x = self.norm(x)
        if hook is not None:
            x = hook("ln_final.hook_normalized", x)
        return self.lm_head(x)

    def hf_state_dict(self):
        """Tensors under Hugging Face LlamaForCausalLM names."""
        out = {"model.embed_tokens.weight": self.embed_tokens.weight}
        for i, L in enumerate(self.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + f"self_attn.{n}.weight"] = getattr(L.self_attn, n).weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                out[p + f"mlp.{n}.weight"] = getattr(L.mlp, n).weight
            out[p + "input_layernorm.weight"] = L.input_layernorm.weight
            out[p + "post_attention_layernorm.weight"] = L.post_attention_layernorm.weight
        out["model.norm.weight"] = self.norm.weight
        if not self.cfg.tie_word_embeddings:
            out["lm_head.weight"] = self.lm_head.weight
        return {k: v.detach() for k, v in out.items()}

    def load_hf_state_dict(self, sd):
        own = self.hf_state_dict()
        for k in own:
            if k not in sd:
                raise KeyError(f"missing tensor {k}")
        with torch.no_grad():
            self.embed_tokens.weight.copy_(sd["model.embed_tokens.weight"])
            for i, L in enumerate(self.layers):
                p = f"model.layers.{i}."
                for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                    getattr(L.self_attn, n).weight.copy_(sd[p + f"self_attn.{n}.weight"])
                for n in ("gate_proj", "up_proj", "down_proj"):
                    getattr(L.mlp, n).weight.copy_(sd[p + f"mlp.{n}.weight"])
                L.input_layernorm.weight.copy_(sd[p + "input_layernorm.weight"])
                L.post_attention_layernorm.weight.copy_(sd[p + "post_attention_layernorm.weight"])
            self.norm.weight.copy_(sd["model.norm.weight"])
            if not self.cfg.tie_word_embeddings:
                self.lm_head.weight.copy_(sd["lm_head.weight"])
