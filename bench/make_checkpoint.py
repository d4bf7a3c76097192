#!/usr/bin/python3
"""Write a random Hugging Face checkpoint folder of a given shape, for benchmarks.

Run with Debian's python (/usr/bin/python3, needs python3-numpy). Weights are
N(0, 0.02) (norm weights 1), written tensor by tensor so a 7B bf16 checkpoint
never needs more than one tensor in memory. Optionally plants a super weight
the way the shared reference models do: token 1 (BOS) carries a large value in
one embedding channel, an early MLP channel fires on it, and one down_proj
weight turns that into a huge output in one residual channel.

Examples:
  /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype f32 --out /tmp/tinyllama
  /usr/bin/python3 bench/make_checkpoint.py --preset llama7b --dtype bf16 --shards 3 --out /tmp/llama7b
  /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --plant 2:1000:3000 --out /tmp/tl-planted
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

PRESETS = {
    # name: hidden, layers, heads, kv_heads, intermediate, vocab
    "tinyllama": (2048, 22, 32, 4, 5632, 32000),
    "llama7b": (4096, 32, 32, 32, 11008, 32000),
    "small150m": (768, 12, 12, 12, 2048, 32000),
    "tiny": (64, 2, 4, 2, 160, 256),
}

DTYPES = {"f32": ("F32", 4), "bf16": ("BF16", 2), "f16": ("F16", 2)}


def to_bytes(a, dtype):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "f32":
        return a.tobytes()
    if dtype == "f16":
        return a.astype(np.float16).tobytes()
    u = a.view(np.uint32)
    # round to nearest even, as torch does when casting to bfloat16
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded.tobytes()


def tensor_shapes(h, layers, heads, kv, inter, vocab, tie):
    hd = h // heads
    shapes = [("model.embed_tokens.weight", (vocab, h))]
    for l in range(layers):
        p = f"model.layers.{l}."
        shapes += [
            (p + "input_layernorm.weight", (h,)),
            (p + "self_attn.q_proj.weight", (heads * hd, h)),
            (p + "self_attn.k_proj.weight", (kv * hd, h)),
            (p + "self_attn.v_proj.weight", (kv * hd, h)),
            (p + "self_attn.o_proj.weight", (h, heads * hd)),
            (p + "post_attention_layernorm.weight", (h,)),
            (p + "mlp.gate_proj.weight", (inter, h)),
            (p + "mlp.up_proj.weight", (inter, h)),
            (p + "mlp.down_proj.weight", (h, inter)),
        ]
    shapes.append(("model.norm.weight", (h,)))
    if not tie:
        shapes.append(("lm_head.weight", (vocab, h)))
    return shapes


def make_tensor(name, shape, rng, plant, h):
    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        return np.ones(shape, dtype=np.float32)
    a = rng.standard_normal(shape, dtype=np.float32)
    a *= 0.02
    if plant:
        layer, row, col = plant
        carrier = 7 % h  # embedding channel that marks BOS
        if name == "model.embed_tokens.weight":
            a[1, :] *= 0.1
            a[1, carrier] = 4.0
        elif name == f"model.layers.{layer}.mlp.gate_proj.weight" or name == f"model.layers.{layer}.mlp.up_proj.weight":
            a[col, carrier] = 2.0
        elif name == f"model.layers.{layer}.mlp.down_proj.weight":
            a[row, col] = -8.0
    return a


def write_shard(path, items, dtype):
    st_dtype, size = DTYPES[dtype]
    header = {}
    offset = 0
    for name, shape, _ in items:
        n = int(np.prod(shape)) * size
        header[name] = {"dtype": st_dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    hbytes = json.dumps(header, separators=(",", ":")).encode()
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for name, shape, make in items:
            f.write(to_bytes(make(), dtype))
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--heads", type=int)
    ap.add_argument("--kv-heads", type=int)
    ap.add_argument("--intermediate", type=int)
    ap.add_argument("--vocab", type=int)
    ap.add_argument("--dtype", choices=sorted(DTYPES), default="f32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--tie", action="store_true", help="tie lm_head to the embedding")
    ap.add_argument("--plant", help="plant a super weight LAYER:ROW:COL")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    h, layers, heads, kv, inter, vocab = PRESETS[a.preset]
    h = a.hidden or h
    layers = a.layers or layers
    heads = a.heads or heads
    kv = a.kv_heads or kv
    inter = a.intermediate or inter
    vocab = a.vocab or vocab
    plant = tuple(int(x) for x in a.plant.split(":")) if a.plant else None
    os.makedirs(a.out, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h,
        "intermediate_size": inter, "num_attention_heads": heads, "num_key_value_heads": kv,
        "num_hidden_layers": layers, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": vocab,
        "max_position_embeddings": 4096, "tie_word_embeddings": a.tie, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "torch_dtype": {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[a.dtype],
    }
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    rng = np.random.default_rng(a.seed)
    shapes = tensor_shapes(h, layers, heads, kv, inter, vocab, a.tie)
    items = [(n, s, (lambda n=n, s=s: make_tensor(n, s, rng, plant, h))) for n, s in shapes]
    if a.shards <= 1:
        write_shard(os.path.join(a.out, "model.safetensors"), items, a.dtype)
    else:
        per = (len(items) + a.shards - 1) // a.shards
        weight_map = {}
        for i in range(a.shards):
            chunk = items[i * per:(i + 1) * per]
            fname = f"model-{i + 1:05d}-of-{a.shards:05d}.safetensors"
            write_shard(os.path.join(a.out, fname), chunk, a.dtype)
            for n, _, _ in chunk:
                weight_map[n] = fname
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    params = sum(int(np.prod(s)) for _, s in shapes)
    print(f"wrote {a.out}: {params / 1e6:.1f}M parameters, {a.dtype}, {max(1, a.shards)} file(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
