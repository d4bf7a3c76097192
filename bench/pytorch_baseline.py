#!/usr/bin/python3
"""PyTorch fp32 baseline for bench_forward: the Hugging Face Llama forward
written directly in torch (Debian's python3-torch; 2 threads), on the same
safetensors weights, uninstrumented. Prints JSON: forward seconds (best of N)
and tokens/s, plus the wall time of the whole script (what a user pays).

  /usr/bin/python3 bench/pytorch_baseline.py MODEL --tokens 128 --repeat 3
"""
import argparse
import json
import os
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


@torch.inference_mode()
def forward(W, cfg, ids):
    d = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = d // H
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ids", help="comma-separated ids (else random, seed 42, first = 1)")
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
    best = 1e300
    for _ in range(a.repeat):
        t0 = time.time()
        logits = forward(W, cfg, ids)
        best = min(best, time.time() - t0)
    print(json.dumps({"tokens": int(ids.shape[0]), "forward_seconds": best, "forward_tok_s": ids.shape[0] / best,
                      "load_seconds": load_s, "script_seconds": time.time() - T_START, "threads": a.threads,
                      "torch": torch.__version__, "last_logits_head": logits[0, :4].tolist()}))


if __name__ == "__main__":
    main()
