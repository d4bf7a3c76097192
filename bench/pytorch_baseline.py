#!/usr/bin/python3
"""PyTorch fp32 baseline for bench_forward: the Hugging Face forward of the
Llama, Qwen3, GPT-2 and GPT-NeoX (Pythia) families written directly in torch
(Debian's python3-torch, no transformers; 2 threads), on the same safetensors
weights, uninstrumented, dispatched on config.json's model_type. Prints JSON:
forward seconds (best of N) and tokens/s, every pass and the median, plus the wall time of the whole
script (what a user pays).

  /usr/bin/python3 bench/pytorch_baseline.py MODEL --tokens 128 --repeat 3
  /usr/bin/python3 bench/pytorch_baseline.py MODEL --ids 1,5,77 --print-logits   # check against superlens-cli logits
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

T_START = time.time()
import numpy as np  # noqa: E402
import torch  # noqa: E402


def load_safetensors(folder):
    files = []
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
        for key, info in header.items():
            if key == "__metadata__":
                continue
            b, e = info["data_offsets"]
            raw = data[b:e]
            if info["dtype"] == "F32":
                arr = raw.view(np.float32)
            elif info["dtype"] == "F16":
                arr = raw.view(np.float16).astype(np.float32)
            elif info["dtype"] == "BF16":
                arr = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
            elif info["dtype"] == "BOOL":
                continue  # causal-mask buffers of GPT-2/GPT-J/NeoX saves: not weights
            else:
                raise SystemExit(f"{path}: unsupported dtype {info['dtype']}")
            tensors[key] = torch.from_numpy(np.array(arr).reshape(info["shape"]))
    return tensors


def rope(x, pos, theta):
    hd = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    ang = pos[:, None].float() * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1)
    sin = torch.cat([ang.sin(), ang.sin()], -1)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_partial(x, pos, theta, rot):
    # Rotate-half over the leading `rot` dims of each head (GPT-NeoX rotary_pct), the rest passes through.
    return torch.cat([rope(x[..., :rot], pos, theta), x[..., rot:]], -1)


def attend(q, k, v, mask, scale):
    att = torch.softmax(q @ k.transpose(1, 2) * scale + mask, -1)
    return att @ v


@torch.inference_mode()
def forward_llama(W, cfg, ids, qk_norm=False):
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or d // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    T = ids.shape[0]
    pos = torch.arange(T)
    x = W["model.embed_tokens.weight"][ids]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, hd).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, KV, hd).transpose(0, 1)
        if qk_norm:  # Qwen3: RMSNorm of each head's q and k before RoPE
            q = rms(q, W[p + "self_attn.q_norm.weight"], eps)
            k = rms(k, W[p + "self_attn.k_norm.weight"], eps)
        q, k = rope(q, pos, theta), rope(k, pos, theta)
        k = k.repeat_interleave(H // KV, 0)
        v = v.repeat_interleave(H // KV, 0)
        att = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, -1)
        o = (att @ v).transpose(0, 1).reshape(T, H * hd) @ W[p + "self_attn.o_proj.weight"].T
        x = x + o
        h = rms(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"], eps)
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return x[-1:] @ head.T


def layer_norm(x, W, name, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], W[name + ".weight"], W[name + ".bias"], eps)


@torch.inference_mode()
def forward_gpt2(W, cfg, ids):
    # GPT2LMHeadModel: Conv1D weights [in, out] (x @ W + b), learned positions, gelu_new, tied head.
    pre = "transformer." if "transformer.wte.weight" in W else ""
    d, H = cfg["n_embd"], cfg["n_head"]
    hd, eps, T = d // H, cfg.get("layer_norm_epsilon", 1e-5), ids.shape[0]
    x = W[pre + "wte.weight"][ids] + W[pre + "wpe.weight"][:T]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["n_layer"]):
        p = f"{pre}h.{l}."
        h = layer_norm(x, W, p + "ln_1", eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.reshape(T, H, hd).transpose(0, 1) for t in qkv.split(d, -1))
        scale = hd ** -0.5 / ((l + 1) if cfg.get("scale_attn_by_inverse_layer_idx") else 1)
        o = attend(q, k, v, mask, scale).transpose(0, 1).reshape(T, d)
        x = x + o @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        h = layer_norm(x, W, p + "ln_2", eps)
        m = torch.nn.functional.gelu(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"], approximate="tanh")
        x = x + m @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    x = layer_norm(x, W, pre + "ln_f", eps)
    return x[-1:] @ W.get("lm_head.weight", W[pre + "wte.weight"]).T


@torch.inference_mode()
def forward_gpt_neox(W, cfg, ids):
    # GPTNeoXForCausalLM: fused query_key_value per head [q | k | v], partial rotary, exact gelu, parallel residual.
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    hd, eps, T = d // H, cfg.get("layer_norm_eps", 1e-5), ids.shape[0]
    rot = int(hd * cfg.get("rotary_pct", 0.25))
    theta = cfg.get("rotary_emb_base", 10000.0)
    pos = torch.arange(T)
    x = W["gpt_neox.embed_in.weight"][ids]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        h = layer_norm(x, W, p + "input_layernorm", eps)
        qkv = (h @ W[p + "attention.query_key_value.weight"].T + W[p + "attention.query_key_value.bias"]).view(T, H, 3 * hd)
        q, k, v = (t.transpose(0, 1) for t in qkv.split(hd, -1))
        q, k = rope_partial(q, pos, theta, rot), rope_partial(k, pos, theta, rot)
        o = attend(q, k, v, mask, hd ** -0.5).transpose(0, 1).reshape(T, d)
        a = o @ W[p + "attention.dense.weight"].T + W[p + "attention.dense.bias"]
        h2 = layer_norm(x if cfg.get("use_parallel_residual", True) else x + a, W, p + "post_attention_layernorm", eps)
        m = torch.nn.functional.gelu(h2 @ W[p + "mlp.dense_h_to_4h.weight"].T + W[p + "mlp.dense_h_to_4h.bias"])
        x = x + a + m @ W[p + "mlp.dense_4h_to_h.weight"].T + W[p + "mlp.dense_4h_to_h.bias"]
    x = layer_norm(x, W, "gpt_neox.final_layer_norm", eps)
    return x[-1:] @ W.get("embed_out.weight", W["gpt_neox.embed_in.weight"]).T


FORWARDS = {
    "llama": forward_llama,
    "mistral": forward_llama,
    "qwen3": lambda W, cfg, ids: forward_llama(W, cfg, ids, qk_norm=True),
    "gpt2": forward_gpt2,
    "gpt_neox": forward_gpt_neox,
}


def forward(W, cfg, ids):
    mt = cfg.get("model_type", "llama")
    if mt not in FORWARDS:
        raise SystemExit(f"pytorch_baseline.py: model_type '{mt}' is not implemented (have: {', '.join(sorted(FORWARDS))})")
    return FORWARDS[mt](W, cfg, ids)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ids", help="comma-separated ids (else random, seed 42, first = 1)")
    ap.add_argument("--print-logits", action="store_true", help="also print the last position's logits (all of them)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    t0 = time.time()
    W = load_safetensors(a.model)
    load_s = time.time() - t0
    if a.ids:
        ids = torch.tensor([int(x) for x in a.ids.split(",")])
    else:
        g = torch.Generator().manual_seed(42)
        ids = torch.randint(0, cfg["vocab_size"], (a.tokens,), generator=g)
        ids[0] = 1
    forward(W, cfg, ids)  # warm-up
    times = []
    for _ in range(a.repeat):
        t0 = time.time()
        logits = forward(W, cfg, ids)
        times.append(time.time() - t0)
    best, med = min(times), statistics.median(times)
    out = {"tokens": int(ids.shape[0]), "forward_seconds": best, "forward_tok_s": ids.shape[0] / best,
           "forward_s": [round(t, 4) for t in times], "forward_tok_s_median": ids.shape[0] / med,
           "load_seconds": load_s, "script_seconds": time.time() - T_START, "threads": a.threads,
           "torch": torch.__version__, "model_type": cfg.get("model_type", "llama"), "last_logits_head": logits[0, :4].tolist()}
    if a.print_logits:
        out["last_logits"] = logits[0].tolist()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
