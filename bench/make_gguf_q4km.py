#!/usr/bin/python3
"""Write a random-weight GGUF of a Llama shape in llama.cpp's Q4_K_M mix, for
the peak-RSS benchmark of issue 19 (a 7B Q4_K_M file must run with peak RSS
within file size + 2 GB: quantized tensors stay in the mapping and are
dequantized a tile at a time inside each GEMM).

Q4_K_M as llama-quantize makes it (llama_tensor_get_type): Q4_K everywhere
except output.weight (Q6_K) and, in the layers use_more_bits() picks (the
first and last eighth of the layers and every third between), attn_v and
ffn_down (Q6_K); norms F32. Block bytes are random with every fp16 scale
field (d, dmin) set to a small finite value, so every weight decodes to a
finite number of the usual size. Written tensor by tensor (one tensor in
memory at a time).

  /usr/bin/python3 bench/make_gguf_q4km.py --out /tmp/llama7b-q4km.gguf            # 7B: 3.9 GB
  /usr/bin/python3 bench/make_gguf_q4km.py --layers 2 --out /tmp/llama7b-2l.gguf   # a quick check
Then: build/bench/bench_forward /tmp/llama7b-q4km.gguf --tokens 16 --repeat 1 --decode 0 --no-blas-baseline
"""
import argparse
import os
import struct

import numpy as np

SHAPES = {"llama7b": dict(hidden=4096, inter=11008, layers=32, heads=32, kv=32, vocab=32000),
          "tiny": dict(hidden=256, inter=768, layers=4, heads=4, kv=4, vocab=512)}
Q4_K, Q6_K, F32 = 12, 14, 0
BLOCK = {Q4_K: 144, Q6_K: 210}
SCALE_FIELDS = {Q4_K: (0, 2), Q6_K: (208,)}   # byte offsets of the fp16 scales in a block


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, value):
    if isinstance(value, str):
        return gstr(key) + struct.pack("<I", 8) + gstr(value)
    if isinstance(value, float):
        return gstr(key) + struct.pack("<If", 6, value)
    return gstr(key) + struct.pack("<II", 4, value)


def use_more_bits(i, n):
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def random_blocks(rng, t, rows, cols):
    n = rows * cols // 256
    raw = rng.integers(0, 256, size=(n, BLOCK[t]), dtype=np.uint8)
    scale = (rng.random(n) * 0.002 + 0.0005).astype("<f2").view(np.uint8).reshape(n, 2)
    for off in SCALE_FIELDS[t]:
        raw[:, off:off + 2] = scale
    return raw


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", default="llama7b", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, help="fewer layers than the shape (a quick check)")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    s = dict(SHAPES[a.shape])
    if a.layers:
        s["layers"] = a.layers
    d, f, L, V = s["hidden"], s["inter"], s["layers"], s["vocab"]
    hd = d // s["heads"]
    tensors = [("token_embd.weight", Q4_K, V, d), ("output_norm.weight", F32, 1, d), ("output.weight", Q6_K, V, d)]
    for i in range(L):
        more = use_more_bits(i, L)
        tensors += [(f"blk.{i}.attn_norm.weight", F32, 1, d), (f"blk.{i}.ffn_norm.weight", F32, 1, d),
                    (f"blk.{i}.attn_q.weight", Q4_K, d, d), (f"blk.{i}.attn_k.weight", Q4_K, s["kv"] * hd, d),
                    (f"blk.{i}.attn_v.weight", Q6_K if more else Q4_K, s["kv"] * hd, d),
                    (f"blk.{i}.attn_output.weight", Q4_K, d, d), (f"blk.{i}.ffn_gate.weight", Q4_K, f, d),
                    (f"blk.{i}.ffn_up.weight", Q4_K, f, d), (f"blk.{i}.ffn_down.weight", Q6_K if more else Q4_K, d, f)]
    kvs = [("general.architecture", "llama"), ("general.name", f"random {a.shape} Q4_K_M"), ("general.file_type", 15),
           ("llama.block_count", L), ("llama.context_length", 4096), ("llama.embedding_length", d),
           ("llama.feed_forward_length", f), ("llama.attention.head_count", s["heads"]),
           ("llama.attention.head_count_kv", s["kv"]), ("llama.attention.layer_norm_rms_epsilon", 1e-5),
           ("llama.rope.freq_base", 10000.0)]
    header = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, v in kvs:
        header += kv(k, v)
    sizes, offset, offsets = [], 0, []
    for name, t, rows, cols in tensors:
        size = rows * cols * 4 if t == F32 else rows * cols // 256 * BLOCK[t]
        offsets.append(offset)
        sizes.append(size)
        offset = (offset + size + 31) // 32 * 32
        ne = [cols] if rows == 1 else [cols, rows]
        header += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", t, offsets[-1])
    header += b"\0" * ((-len(header)) % 32)
    rng = np.random.default_rng(a.seed)
    with open(a.out + ".tmp", "wb") as fh:
        fh.write(header)
        start = len(header)
        for (name, t, rows, cols), o, size in zip(tensors, offsets, sizes):
            fh.write(b"\0" * (start + o - fh.tell()))
            data = np.ones(cols, "<f4").tobytes() if t == F32 else random_blocks(rng, t, rows, cols).tobytes()
            assert len(data) == size
            fh.write(data)
    os.replace(a.out + ".tmp", a.out)
    print(f"{a.out}: {os.path.getsize(a.out) / 1e9:.2f} GB, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
