#!/usr/bin/python3
"""Write a Hugging Face Llama checkpoint as a GGUF v3 file (F32 or F16) that
llama.cpp loads, for the llama.cpp baseline of the engine benchmarks.

Run with Debian's python (/usr/bin/python3, needs python3-numpy):

  /usr/bin/python3 bench/llamacpp/safetensors_to_gguf.py /tmp/sl-tiny /tmp/sl-tiny-f32.gguf --type f32
  /usr/bin/python3 bench/llamacpp/safetensors_to_gguf.py /tmp/sl-bench/tinyllama-f32 /tmp/tl-f16.gguf --type f16

Input: a folder with config.json and model.safetensors, or shards listed in
model.safetensors.index.json; tensors F32, F16 or BF16. Output: a GGUF v3
file (written from the GGUF specification, not with gguf-py) whose 2-D
tensors are --type (f32 or f16) and whose 1-D tensors (norm weights) stay
F32, as llama.cpp's own converter keeps them.

The file is written streaming: the header first (every size is known from
the safetensors headers), then each tensor in chunks read from a numpy
memmap of the checkpoint, so memory stays at one chunk (~64 MB) whatever
the model size.

llama.cpp specifics:
  * q_proj / k_proj rows are permuted per head from Hugging Face's rotary
    layout (rotate-half: pairs (i, i + d/2)) to llama.cpp's interleaved
    LLAMA rope (pairs (2i, 2i + 1)): within each head the rows
    [x_0 .. x_{d/2-1}, y_0 .. y_{d/2-1}] become [x_0, y_0, x_1, y_1, ...].
  * The checkpoints made by bench/make_checkpoint.py carry no tokenizer.
    A synthetic SentencePiece-style ("llama") vocabulary of vocab_size
    pieces is written: 0 <unk>, 1 <s>, 2 </s>, then byte pieces <0x00>...
    (as many as fit: llama.cpp looks up the newline byte), then "<tok_N>".
    Benchmarks feed token ids, so the pieces only have to be accepted.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
ALIGNMENT = 32

# GGUF metadata value types
T_UINT8, T_INT8, T_UINT16, T_INT16, T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY, T_UINT64, T_INT64, T_FLOAT64 = range(13)
# ggml tensor types
GGML_F32, GGML_F16 = 0, 1
# general.file_type (llama_ftype)
FTYPE_ALL_F32, FTYPE_MOSTLY_F16 = 0, 1
# tokenizer.ggml.token_type values (llama_token_type)
TOK_NORMAL, TOK_UNKNOWN, TOK_CONTROL, TOK_USER_DEFINED, TOK_UNUSED, TOK_BYTE = 1, 2, 3, 4, 5, 6

CHUNK_BYTES = 64 << 20


# ---------------------------------------------------------------- safetensors

class SafeTensor:
    def __init__(self, path, data_start, info):
        self.path = path
        self.dtype = info["dtype"]
        self.shape = tuple(info["shape"])
        b, e = info["data_offsets"]
        self.offset = data_start + b
        self.nbytes = e - b
        if self.dtype not in ("F32", "F16", "BF16"):
            raise SystemExit(f"{path}: unsupported dtype {self.dtype}")
        n = int(np.prod(self.shape)) if self.shape else 1
        if n * (4 if self.dtype == "F32" else 2) != self.nbytes:
            raise SystemExit(f"{path}: size of a {self.dtype} tensor {self.shape} does not match its byte range")

    def rows(self):
        """The tensor as a 2-D (rows, cols) memmap of its on-disk dtype; nothing is read yet."""
        raw = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}[self.dtype]
        # a 1-D tensor (norm weight, bias) is viewed as a column, so a per-head row permutation applies to it too
        cols = self.shape[-1] if len(self.shape) >= 2 else 1
        nrows = int(np.prod(self.shape)) // cols
        return np.memmap(self.path, dtype=raw, mode="r", offset=self.offset, shape=(nrows, cols))

    def to_f32(self, block):
        if self.dtype == "BF16":
            return (block.astype(np.uint32) << 16).view(np.float32)
        return block.astype(np.float32, copy=False)


def read_checkpoint(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(folder, "model.safetensors")):
        files = ["model.safetensors"]
    else:
        raise SystemExit(f"{folder}: neither model.safetensors nor model.safetensors.index.json")
    tensors = {}
    for name in files:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        for key, info in header.items():
            if key != "__metadata__":
                tensors[key] = SafeTensor(path, 8 + n, info)
    return tensors


# ---------------------------------------------------------------- GGUF encoding

def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


SCALAR = {T_UINT8: "<B", T_INT8: "<b", T_UINT16: "<H", T_INT16: "<h", T_UINT32: "<I", T_INT32: "<i",
          T_FLOAT32: "<f", T_BOOL: "<?", T_UINT64: "<Q", T_INT64: "<q", T_FLOAT64: "<d"}
NUMPY = {T_UINT8: "<u1", T_INT8: "<i1", T_UINT16: "<u2", T_INT16: "<i2", T_UINT32: "<u4", T_INT32: "<i4",
         T_FLOAT32: "<f4", T_UINT64: "<u8", T_INT64: "<i8", T_FLOAT64: "<f8"}


def gguf_kv(key, vtype, value, elem_type=None):
    out = gguf_str(key) + struct.pack("<I", vtype)
    if vtype == T_STRING:
        return out + gguf_str(value)
    if vtype == T_ARRAY:
        out += struct.pack("<IQ", elem_type, len(value))
        if elem_type == T_STRING:
            return out + b"".join(gguf_str(v) for v in value)
        return out + np.asarray(value, dtype=NUMPY[elem_type]).tobytes()
    return out + struct.pack(SCALAR[vtype], value)


def pad(n, align=ALIGNMENT):
    return (align - n % align) % align


# ---------------------------------------------------------------- Llama mapping

def tensor_plan(cfg, st, out_type):
    """List of (gguf name, SafeTensor, ggml type, n_head for the rope permutation or 0)."""
    L = cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    plan = []
    used = set()

    def add(gname, hname, permute_heads=0, required=True):
        if hname not in st:
            if required:
                raise SystemExit(f"checkpoint has no tensor {hname}")
            return
        t = st[hname]
        gtype = out_type if len(t.shape) >= 2 else GGML_F32
        plan.append((gname, t, gtype, permute_heads))
        used.add(hname)

    add("token_embd.weight", "model.embed_tokens.weight")
    for l in range(L):
        p, b = f"model.layers.{l}.", f"blk.{l}."
        add(b + "attn_norm.weight", p + "input_layernorm.weight")
        add(b + "attn_q.weight", p + "self_attn.q_proj.weight", H)
        add(b + "attn_k.weight", p + "self_attn.k_proj.weight", KV)
        add(b + "attn_v.weight", p + "self_attn.v_proj.weight")
        add(b + "attn_output.weight", p + "self_attn.o_proj.weight")
        add(b + "attn_q.bias", p + "self_attn.q_proj.bias", H, required=False)
        add(b + "attn_k.bias", p + "self_attn.k_proj.bias", KV, required=False)
        add(b + "attn_v.bias", p + "self_attn.v_proj.bias", required=False)
        add(b + "attn_output.bias", p + "self_attn.o_proj.bias", required=False)
        add(b + "ffn_norm.weight", p + "post_attention_layernorm.weight")
        add(b + "ffn_gate.weight", p + "mlp.gate_proj.weight")
        add(b + "ffn_up.weight", p + "mlp.up_proj.weight")
        add(b + "ffn_down.weight", p + "mlp.down_proj.weight")
    add("output_norm.weight", "model.norm.weight")
    tied = cfg.get("tie_word_embeddings", False)
    # a tied checkpoint has no lm_head: llama.cpp then reuses token_embd.weight
    add("output.weight", "lm_head.weight", required=not tied)
    left = sorted(k for k in st if k not in used and not k.endswith("rotary_emb.inv_freq"))
    if left:
        raise SystemExit("tensors this converter does not map: " + ", ".join(left[:8]) + (" ..." if len(left) > 8 else ""))
    return plan


def ggml_dims(shape):
    """GGUF lists dimensions fastest-first (ne[0] = row length): the reverse of numpy's shape."""
    return list(reversed(shape))


def tensor_nbytes(t, gtype):
    n = int(np.prod(t.shape))
    return n * (4 if gtype == GGML_F32 else 2)


def synthetic_vocab(n_vocab):
    tokens, types = [], []
    specials = [("<unk>", TOK_UNKNOWN), ("<s>", TOK_CONTROL), ("</s>", TOK_CONTROL)]
    for piece, ty in specials[:n_vocab]:
        tokens.append(piece)
        types.append(ty)
    byte = 0
    while len(tokens) < n_vocab and byte < 256:
        tokens.append(f"<0x{byte:02X}>")
        types.append(TOK_BYTE)
        byte += 1
    while len(tokens) < n_vocab:
        tokens.append(f"<tok_{len(tokens)}>")
        types.append(TOK_NORMAL)
    scores = [0.0] * n_vocab
    return tokens, scores, types


def metadata(cfg, name, out_type, n_vocab):
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    d = cfg["hidden_size"]
    head_dim = cfg.get("head_dim") or d // H
    arch = "llama"
    kv = [
        gguf_kv("general.architecture", T_STRING, arch),
        gguf_kv("general.name", T_STRING, name),
        gguf_kv("general.file_type", T_UINT32, FTYPE_ALL_F32 if out_type == GGML_F32 else FTYPE_MOSTLY_F16),
        gguf_kv("general.alignment", T_UINT32, ALIGNMENT),
        gguf_kv(f"{arch}.vocab_size", T_UINT32, n_vocab),
        gguf_kv(f"{arch}.context_length", T_UINT32, int(cfg.get("max_position_embeddings", 2048))),
        gguf_kv(f"{arch}.embedding_length", T_UINT32, d),
        gguf_kv(f"{arch}.block_count", T_UINT32, cfg["num_hidden_layers"]),
        gguf_kv(f"{arch}.feed_forward_length", T_UINT32, cfg["intermediate_size"]),
        gguf_kv(f"{arch}.attention.head_count", T_UINT32, H),
        gguf_kv(f"{arch}.attention.head_count_kv", T_UINT32, KV),
        gguf_kv(f"{arch}.attention.layer_norm_rms_epsilon", T_FLOAT32, float(cfg.get("rms_norm_eps", 1e-6))),
        gguf_kv(f"{arch}.rope.dimension_count", T_UINT32, head_dim),
        gguf_kv(f"{arch}.rope.freq_base", T_FLOAT32, float(cfg.get("rope_theta", 10000.0))),
    ]
    if head_dim != d // H:
        kv += [gguf_kv(f"{arch}.attention.key_length", T_UINT32, head_dim),
               gguf_kv(f"{arch}.attention.value_length", T_UINT32, head_dim)]
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type") or rs.get("type")
        if kind == "linear":
            kv += [gguf_kv(f"{arch}.rope.scaling.type", T_STRING, "linear"),
                   gguf_kv(f"{arch}.rope.scaling.factor", T_FLOAT32, float(rs["factor"]))]
        else:
            print(f"warning: rope_scaling {kind!r} is not written; positions past the original context differ", file=sys.stderr)
    tokens, scores, types = synthetic_vocab(n_vocab)
    kv += [
        gguf_kv("tokenizer.ggml.model", T_STRING, "llama"),
        gguf_kv("tokenizer.ggml.tokens", T_ARRAY, tokens, T_STRING),
        gguf_kv("tokenizer.ggml.scores", T_ARRAY, scores, T_FLOAT32),
        gguf_kv("tokenizer.ggml.token_type", T_ARRAY, types, T_INT32),
        gguf_kv("tokenizer.ggml.unknown_token_id", T_UINT32, 0),
        gguf_kv("tokenizer.ggml.bos_token_id", T_UINT32, int(cfg.get("bos_token_id", 1) or 1)),
        gguf_kv("tokenizer.ggml.eos_token_id", T_UINT32, int(cfg.get("eos_token_id", 2) or 2)),
        gguf_kv("tokenizer.ggml.add_bos_token", T_BOOL, True),
        gguf_kv("tokenizer.ggml.add_eos_token", T_BOOL, False),
    ]
    return kv


# ---------------------------------------------------------------- streaming

def rope_permute(block, n_rows_head):
    """Rows of whole heads: per head, [x_0..x_{h-1}, y_0..y_{h-1}] -> [x_0, y_0, x_1, y_1, ...]."""
    g = block.shape[0] // n_rows_head
    half = n_rows_head // 2
    return block.reshape(g, 2, half, block.shape[1]).swapaxes(1, 2).reshape(block.shape)


def write_tensor(f, t, gtype, permute_heads):
    src = t.rows()
    nrows, cols = src.shape
    out_dtype = np.float32 if gtype == GGML_F32 else np.float16
    step_unit = 1
    if permute_heads:
        if nrows % permute_heads or (nrows // permute_heads) % 2:
            raise SystemExit(f"cannot permute {t.shape} into {permute_heads} heads of even size")
        step_unit = nrows // permute_heads  # rows per head: chunks hold whole heads
    rows_per_chunk = max(step_unit, (CHUNK_BYTES // (cols * 4)) // step_unit * step_unit)
    written = 0
    for r in range(0, nrows, rows_per_chunk):
        block = t.to_f32(np.asarray(src[r:r + rows_per_chunk]))
        if permute_heads:
            block = rope_permute(block, step_unit)
        data = np.ascontiguousarray(block, dtype=out_dtype)
        f.write(data.tobytes())
        written += data.nbytes
    del src
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="Hugging Face checkpoint folder (config.json + safetensors)")
    ap.add_argument("out", help="GGUF file to write")
    ap.add_argument("--type", choices=("f32", "f16"), default="f32", help="type of the 2-D tensors (default f32)")
    ap.add_argument("--name", help="general.name (default: the folder's name)")
    a = ap.parse_args()

    t0 = time.time()
    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    arch = (cfg.get("architectures") or ["?"])[0]
    if cfg.get("model_type") != "llama" and arch != "LlamaForCausalLM":
        raise SystemExit(f"{a.model}: not a Llama checkpoint (model_type {cfg.get('model_type')}, {arch})")
    if cfg.get("hidden_act", "silu") != "silu":
        raise SystemExit(f"{a.model}: hidden_act {cfg['hidden_act']} is not llama's silu")
    st = read_checkpoint(a.model)
    out_type = GGML_F32 if a.type == "f32" else GGML_F16
    plan = tensor_plan(cfg, st, out_type)
    n_vocab = st["model.embed_tokens.weight"].shape[0]
    if cfg.get("vocab_size") not in (None, n_vocab):
        print(f"warning: config vocab_size {cfg['vocab_size']} != embedding rows {n_vocab}; using {n_vocab}", file=sys.stderr)

    kv = metadata(cfg, a.name or os.path.basename(os.path.normpath(a.model)), out_type, n_vocab)
    infos, offset = [], 0
    for gname, t, gtype, _ in plan:
        dims = ggml_dims(t.shape)
        infos.append(gguf_str(gname) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
                     + struct.pack("<IQ", gtype, offset))
        offset += tensor_nbytes(t, gtype)
        offset += pad(offset)
    header = GGUF_MAGIC + struct.pack("<IQQ", GGUF_VERSION, len(plan), len(kv)) + b"".join(kv) + b"".join(infos)
    header += b"\0" * pad(len(header))

    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(header)
        data_start = f.tell()
        for gname, t, gtype, heads in plan:
            pos = f.tell() - data_start
            n = write_tensor(f, t, gtype, heads)
            if n != tensor_nbytes(t, gtype):
                raise SystemExit(f"{gname}: wrote {n} bytes, expected {tensor_nbytes(t, gtype)}")
            f.write(b"\0" * pad(pos + n))
        total = f.tell()
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: GGUF v{GGUF_VERSION}, {len(plan)} tensors ({a.type}), {len(kv)} metadata keys, "
          f"{total / 1e9:.3f} GB in {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
