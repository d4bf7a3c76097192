#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/)
from the repository's own files, deterministically (run it again and git
shows no change):

  gguf         small files from a GGUF writer written here (every metadata
               type, nested arrays, one tensor of every ggml type with random
               blocks, alignments), and the real files of tests/data with their
               metadata kept and long arrays cut to 64 entries
  gguf_tokenizer  vocabulary-only GGUFs: the real files' tokenizer metadata
               (SentencePiece) cut to their first 600 tokens, and small
               byte-level BPE vocabularies (GPT-2's first 1000 tokens and the
               merges among them) under each pre-tokenizer SuperLens reads
  safetensors  the headers of every safetensors file in tests/data and
               resources with each shape cut to at most 2 x 2 (data rewritten),
               plus a few small files of every dtype
  config       every config.json in tests/data and resources
  shard_index  the sharded index of tests/data (model.safetensors.index.json),
               cut to a few entries, and small indexes with the names a
               shard must not have
  preprocessor_config  every preprocessor_config.json in tests/data, and
               variants of each size form (int, shortest edge, height/width)
  prompt       token-id lists (first byte 0, 4, 8: vocabularies of any size,
               256, 151669) and prompt texts (first byte 1-3: Qwen3's
               tokenizer.json, Llama 2's tokenizer.json and tokenizer.model)
               with special tokens, from the tokenizers' expected.jsonl texts
  npy          the vision fixtures' pixels.npy files and small .npy files of
               every accepted and refused form (fuzz_npy.cpp)
  image        the --image fixtures (tests/data/vision/images), each also cut
               in half, and PNG headers the decoder must refuse (fuzz_image.cpp)
  imatrix      small llama-imatrix files, legacy .dat (with and without the
               trailer) and GGUF (dense and per-expert)
  edit_spec    edit specs from DESIGN.md and the tests (first byte 0), and
               edits files (first byte 1): see fuzz_edit_spec.cpp
  experiment   experiments files as the GUI writes them (prompts, edits with
               labels and origins, a run history with ids, an image run and
               null numbers), bare edit lists, and damaged variants
  tokenizer_json  every tokenizer.json in tests/data, the large ones cut to
               their first 400 ids and 24 added tokens, and the merges among
               them
  cache        small activation caches (.h5) written here with h5py after
               the layout in activation_cache.h (a llama config, runs with
               and without logits, vocabulary, attention patterns), times not
               tracked so the bytes repeat
  tokenizer_model  the small tokenizer.model files of tests/data and
               resources, the same with normalization rules (a
               precompiled_charsmap) spliced in as normalizer and denormalizer,
               and small models SentencePiece trains here (unigram, BPE, char,
               word) with user-defined rules; needs the sentencepiece module

Usage: /usr/bin/python3 tests/fuzz/make_corpus.py   (from the repository root)
"""
import glob
import json
import os
import random
import shutil
import struct
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")

# ---- GGUF ----

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
# ggml type id -> (block elements, block bytes)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
        10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
        16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
        23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
        34: (256, 54), 35: (256, 66), 39: (32, 17)}


def gstr(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    """Encodes value v of GGUF type t; arrays are (element type, [values])."""
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def gguf(kvs, tensors=(), alignment=32, version=3):
    """kvs: [(key, type, value)]; tensors: [(name, ne, ggml type, data bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    offset, offsets = 0, []
    for _, _, _, data in tensors:
        offsets.append(offset)
        offset = (offset + len(data) + alignment - 1) // alignment * alignment
    for (name, ne, t, _), o in zip(tensors, offsets):
        out += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne) + struct.pack("<IQ", t, o)
    if tensors:
        out += b"\0" * ((-len(out)) % alignment)
        start = len(out)
        for (_, _, _, data), o in zip(tensors, offsets):
            out += b"\0" * (start + o - len(out)) + data
    return out


def read_gguf_metadata(path):
    """The metadata of a real GGUF file as [(key, type, value)]."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 24
    _, _, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)

    def rstr():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n]
        pos += 8 + n
        return s

    def rval(t):
        nonlocal pos
        if t == STRING:
            return rstr()
        if t == ARRAY:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            return (et, [rval(et) for _ in range(n)])
        (v,) = struct.unpack_from(SCALAR[t], data, pos)
        pos += struct.calcsize(SCALAR[t])
        return v

    kvs = []
    for _ in range(n_kv):
        k = rstr()
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        kvs.append((k, t, rval(t)))
    return kvs


def cut_arrays(kvs, n):
    return [(k, t, (v[0], v[1][:n]) if t == ARRAY else v) for k, t, v in kvs]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gguf_corpus(rng):
    write("gguf", "minimal.gguf", gguf([]))
    write("gguf", "minimal-v2.gguf", gguf([], version=2))
    every = [("u8", U8, 200), ("i8", I8, -100), ("u16", U16, 60000), ("i16", I16, -30000), ("u32", U32, 4000000000),
             ("i32", I32, -2000000000), ("f32", F32, 0.5), ("bool", BOOL, 1), ("str", STRING, "h\u00e9llo"),
             ("u64", U64, 2**64 - 1), ("i64", I64, -2**62), ("f64", F64, -1e300),
             ("arr.u8", ARRAY, (U8, [1, 2, 3])), ("arr.i32", ARRAY, (I32, [-1, 0, 1])), ("arr.f32", ARRAY, (F32, [1.5, -2.0])),
             ("arr.bool", ARRAY, (BOOL, [0, 1])), ("arr.str", ARRAY, (STRING, ["a", "", "bc"])), ("arr.empty", ARRAY, (U64, [])),
             ("arr.nested", ARRAY, (ARRAY, [(U32, [1, 2]), (STRING, ["x"]), (ARRAY, [(I8, [-1])])]))]
    write("gguf", "every-value-type.gguf", gguf(every))
    # One 2-row tensor of every ggml type, random blocks (scales may be anything).
    tensors = []
    for t, (be, bb) in sorted(GGML.items()):
        tensors.append((f"t{t}.weight", [be * 2, 2], t, bytes(rng.getrandbits(8) for _ in range(bb * 4))))
    arch = [("general.architecture", STRING, "llama"), ("llama.block_count", U32, 1)]
    write("gguf", "every-tensor-type.gguf", gguf(arch, tensors))
    for t in (0, 1, 2, 8, 12, 14, 30):
        be, bb = GGML[t]
        data = bytes(rng.getrandbits(8) for _ in range(bb * 2))
        write("gguf", f"tensor-type-{t}.gguf", gguf(arch, [("w", [be, 2], t, data)]))
    f32 = lambda n: struct.pack(f"<{n}f", *[rng.uniform(-1, 1) for _ in range(n)])
    for a in (1, 8, 64):
        kv = arch + [("general.alignment", U32, a)]
        write("gguf", f"alignment-{a}.gguf", gguf(kv, [("a", [4, 3], 0, f32(12)), ("b", [8], 0, f32(8))], alignment=a))
    write("gguf", "four-dims.gguf", gguf(arch, [("x", [2, 2, 2, 2], 0, f32(16)), ("y", [3], 0, f32(3))]))
    # Real files: their metadata (arrays cut to 64 entries), no tensors.
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "*.gguf"), recursive=True)):
        name = os.path.basename(path)[:-5]
        write("gguf", f"real-{name}-metadata.gguf", gguf(cut_arrays(read_gguf_metadata(path), 64)))
    # stories260K's first 4 KiB as llama.cpp wrote them (cut inside the token list).
    with open(os.path.join(ROOT, "tests", "data", "stories260K", "stories260K.gguf"), "rb") as f:
        write("gguf", "real-stories260K-first-4k.gguf", f.read(4096))


# ---- safetensors ----

ST_SIZES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
            "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def gguf_tokenizer_corpus():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "*.gguf"), recursive=True)):
        def key(k):
            return k.decode() if isinstance(k, bytes) else k
        kvs = [kv for kv in read_gguf_metadata(path) if key(kv[0]).startswith("tokenizer.") or key(kv[0]) == "general.architecture"]
        if not any(key(k) == "tokenizer.ggml.model" for k, _, _ in kvs):
            continue
        name = os.path.splitext(os.path.basename(path))[0]
        write("gguf_tokenizer", f"spm-{name}-600.gguf", gguf(cut_arrays(kvs, 600)))
    tok = json.load(open(os.path.join(ROOT, "tests", "data", "tokenizers", "gpt2-hf", "tokenizer.json"), encoding="utf-8"))
    n = 1000
    vocab = sorted(((i, t) for t, i in tok["model"]["vocab"].items() if i < n))
    tokens = [t for _, t in vocab]
    have = set(tokens)
    merges = [m for m in tok["model"]["merges"] if all(x in have for x in m.split(" ")) and m.replace(" ", "") in have]
    for pre in ("gpt-2", "llama-bpe", "qwen2"):
        kvs = [("general.architecture", STRING, "gpt2"), ("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, pre),
               ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)), ("tokenizer.ggml.token_type", ARRAY, (I32, [1] * len(tokens))),
               ("tokenizer.ggml.merges", ARRAY, (STRING, merges)), ("tokenizer.ggml.bos_token_id", U32, 0),
               ("tokenizer.ggml.eos_token_id", U32, 0)]
        write("gguf_tokenizer", f"bpe-gpt2-{n}-{pre}.gguf", gguf(kvs))


def safetensors(entries, metadata=None):
    """entries: [(name, dtype, shape)] -> a valid file with random data."""
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in entries:
        n = ST_SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        blobs.append(bytes((i * 37 + offset) & 0xFF for i in range(n)))
        offset += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def safetensors_corpus():
    write("safetensors", "every-dtype.safetensors",
          safetensors([(f"t.{d}", d, [2, 3]) for d in sorted(ST_SIZES)], {"format": "pt"}))
    write("safetensors", "empty.safetensors", safetensors([]))
    write("safetensors", "scalar-and-empty.safetensors", safetensors([("s", "F32", []), ("e", "F32", [0, 4]), ("v", "BF16", [5])]))
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "*.safetensors"), recursive=True) +
                   glob.glob(os.path.join(ROOT, "resources", "**", "*.safetensors"), recursive=True))
    for path in files:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        meta = header.pop("__metadata__", None)
        entries = [(k, v["dtype"], [min(d, 2) for d in v["shape"]]) for k, v in header.items()]
        rel = os.path.relpath(path, ROOT).replace(os.sep, "-")
        write("safetensors", f"real-{rel}", safetensors(entries, meta))


# ---- config.json ----

def config_corpus():
    files = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "config.json"), recursive=True) +
                   glob.glob(os.path.join(ROOT, "resources", "**", "config.json"), recursive=True))
    for path in files:
        rel = os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, "-")
        d = os.path.join(OUT, "config")
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(path, os.path.join(d, rel + ".json"))


# ---- sharded index (model.safetensors.index.json) ----

def shard_index_corpus():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "model.safetensors.index.json"), recursive=True)):
        with open(path, "rb") as f:
            raw = f.read()
        name = os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, "-")
        write("shard_index", name + ".json", raw)
        j = json.loads(raw)
        cut = dict(list(j["weight_map"].items())[:4])
        write("shard_index", name + "-cut.json", json.dumps({"metadata": j.get("metadata", {}), "weight_map": cut}).encode())
    small = {"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"}
    write("shard_index", "two-shards.json", json.dumps({"weight_map": small}, separators=(",", ":")).encode())
    for i, bad in enumerate(["../x.safetensors", "", ".", "..", "a\\\\b", "sub/x.safetensors", "x\\u0000.safetensors"]):
        write("shard_index", f"bad-name-{i}.json", ('{"weight_map":{"a.weight":"' + bad + '"}}').encode())
    write("shard_index", "not-a-string.json", b'{"weight_map":{"a.weight":3}}')
    write("shard_index", "empty-map.json", b'{"weight_map":{}}')


# ---- preprocessor_config.json ----

def preprocessor_config_corpus():
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "preprocessor_config.json"), recursive=True)):
        with open(path, "rb") as f:
            raw = f.read()
        name = os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, "-")
        write("preprocessor_config", name + ".json", raw)
    base = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": 6, "resample": 2, "do_rescale": True,
            "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    variants = {
        "vit-int-size": {},
        "vit-height-width": {"size": {"height": 4, "width": 9}},
        "clip-shortest-edge": {"image_processor_type": "CLIPImageProcessor", "size": {"shortest_edge": 8}, "resample": 3,
                               "do_center_crop": True, "crop_size": {"height": 6, "width": 6}},
        "bit-int-crop": {"image_processor_type": "BitImageProcessor", "size": {"shortest_edge": 5}, "do_center_crop": True, "crop_size": 4},
        "no-resize-no-normalize": {"do_resize": False, "do_normalize": False},
        "feature-extractor": {"image_processor_type": None, "feature_extractor_type": "ViTFeatureExtractor", "resample": 1},
    }
    for name, change in variants.items():
        c = dict(base)
        c.update(change)
        c = {k: v for k, v in c.items() if v is not None}
        write("preprocessor_config", name + ".json", json.dumps(c, sort_keys=True).encode())


# ---- prompts and token ids ----

def prompt_corpus():
    ids = ["1,5,9", "1, 5, 9,", "1 5 9", "0\n255\n7", "  42  ", "1,,2", ",1", "x", "-1", "2147483647", "2147483648",
           "99999999999999999999", "1;2", "151668, 151669", "255,256", "1\t2,\r\n3"]
    for i, text in enumerate(ids):
        write("prompt", f"ids-{i:02d}.txt", bytes([(4 * i) % 12]) + text.encode())
    specials = ["<|im_start|>user\nhello<|im_end|>", "<|endoftext|><|endoftext|>", "<think>\n</think>", "<s> </s> <unk>",
                "<s>[INST] hi [/INST]", "<|im_start|", "\u2581\u2581 two", "\ufeffBOM", "caf\u00e9 \u4e2d\u6587 \U0001f600"]
    texts = []
    for folder in ("qwen3-hf", "llama-2-hf"):
        with open(os.path.join(ROOT, "tests", "data", "tokenizers", folder, "expected.jsonl"), encoding="utf-8") as f:
            for line in f:
                t = json.loads(line)["text"]
                if t not in texts and len(t) <= 300:
                    texts.append(t)
    texts = texts[:24]
    n = 0
    for tok in (1, 2, 3):
        for t in texts[tok - 1::3] + specials:
            write("prompt", f"text{tok}-{n:03d}.txt", bytes([tok]) + t.encode("utf-8"))
            n += 1
    write("prompt", "text1-invalid-utf8.txt", b"\x01\xff\xfe<|im_start|>\xc3")
    write("prompt", "text3-invalid-utf8.txt", b"\x03\xff\xfe<s>\xc3")


# ---- edit specs ----

SPECS = [
    "model.layers.2.mlp.down_proj.weight[3968,7003]=0",
    "model.layers.2.mlp.down_proj.weight[3968,7003]*=0.5",
    "model.layers.0.mlp.down_proj.weight[*,5]=0",
    "model.layers.1.mlp.down_proj.weight[3,*]=-1e-05",
    "model.norm.weight[7]=2",
    "blocks.2.hook_mlp_out[0,3968]=-1234.5",
    "blocks.1.hook_mlp_out[*,13]=mean",
    "blocks.2.attn.hook_pattern[1,5,0]=0",
    "laser:model.layers.27.mlp.up_proj.weight:rank=0.01",
    "rtn:model.layers.*.mlp.*:bits=4:block=128:keep_super",
    "rtn:model.layers.*.mlp.*:bits=4:block=tensor:keep_super=1:13:57;2:3:64",
    "rtn:model.layers.*:bits=8:block=64:zclip=3:pclip=99.9",
    "actq:blocks.*.hook_resid_post:bits=8:block=token:keep_super=0:13",
    "actq:blocks.*.hook_resid_post:bits=4:block=32",
    "expert:1:3=off",
    "expert:0:12=off:renorm",
    "blocks.1.mlp.experts.3.hook_out[*,17]=0",
    "model.layers.1.block_sparse_moe.experts.2.w2.weight[19,90]=0",
]
EDIT_FILES = [
    json.dumps(SPECS[:4]),
    json.dumps({"edits": [{"spec": SPECS[5], "enabled": True}, {"spec": SPECS[9], "enabled": False}, SPECS[8]]}),
    json.dumps({"edits": []}),
]


def edit_corpus():
    for i, s in enumerate(SPECS):
        write("edit_spec", f"spec-{i:02d}", b"\0" + s.encode())
    for i, s in enumerate(EDIT_FILES):
        write("edit_spec", f"file-{i:02d}", b"\1" + s.encode())


def experiment_corpus():
    run = {"number": 1, "time": "2026-12-06T18:00:00.125Z", "prompt": "Summer is hot. Winter is", "ids_mode": False,
           "ids": [1, 450, 29871, 2147483647], "edits": [SPECS[0]], "prediction": "' the'", "prediction_prob": 0.3125,
           "mean_loss": 4.375, "stopword_mass": 0.30000000000000004, "perplexity": None}
    image_run = {"number": 2, "time": "", "prompt": "cat.png", "ids_mode": False, "image": "/pictures/cat.png", "ids": [],
                 "edits": [], "prediction": "", "prediction_prob": 0, "mean_loss": None, "stopword_mass": None, "perplexity": 1234.5}
    full = {"format": "superlens-experiment", "version": 1, "model": "/models/demo", "prompts": ["Summer is hot. Winter is", "1, 450"],
            "current_prompt": 1, "ids_mode": True,
            "edits": [{"spec": SPECS[0], "enabled": True, "label": "super weight", "origin": "detected"},
                      {"spec": SPECS[6], "enabled": False, "label": SPECS[6], "origin": "user"}, SPECS[17]],
            "history": [run, image_run]}
    files = {
        "full.json": json.dumps(full, indent=2),
        "no-history.json": json.dumps({k: v for k, v in full.items() if k != "history"}, indent=4),
        "bare-list.json": json.dumps(SPECS[:3] + [{"spec": SPECS[4], "enabled": False}]),
        "empty.json": '{"edits": []}',
        "bad-ids.json": json.dumps({"edits": [], "history": [dict(run, ids=[1, "x"])]}),
        "bad-number.json": json.dumps({"edits": [], "history": [dict(run, number=0)]}),
        "bad-current.json": json.dumps(dict(full, current_prompt=5)),
        "cut.json": json.dumps(full)[:200],
    }
    for name, text in files.items():
        write("experiment", name, text.encode())


def npy(descr, shape, payload, version=1, header_extra=""):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), %s}" % (descr, ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""), header_extra)
    total = 8 + (2 if version == 1 else 4) + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode("latin1") + payload


def npy_corpus():
    # every pixels.npy of the vision fixtures, and small files of each accepted and refused form
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "vision", "*", "pixels.npy"))):
        with open(path, "rb") as fh:
            write("npy", "vision-" + os.path.basename(os.path.dirname(path)) + ".npy", fh.read())
    write("npy", "f4-chw.npy", npy("<f4", [3, 2, 2], struct.pack("<12f", *range(12))))
    write("npy", "f8-v2.npy", npy("<f8", [1, 1, 2, 3], struct.pack("<6d", *range(6)), version=2))
    write("npy", "u1-refused.npy", npy("|u1", [1, 2, 2], bytes(4)))
    write("npy", "fortran.npy", npy("<f4", [1, 1, 1], bytes(4)).replace(b"False", b"True "))
    write("npy", "short-data.npy", npy("<f4", [3, 4, 4], bytes(10)))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def image_corpus():
    # the --image fixtures (PNG of every colour type, one JPEG), cut and
    # header-only forms: a 16-bit PNG, oversized sides, a pixel count past the ceiling
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "vision", "images", "*.png")) +
                       glob.glob(os.path.join(ROOT, "tests", "data", "vision", "images", "*.jpg"))):
        with open(path, "rb") as fh:
            data = fh.read()
        name = os.path.basename(path)
        write("image", name, data)
        write("image", "cut-" + name, data[:len(data) // 2])
    sig = b"\x89PNG\r\n\x1a\n"
    for name, (w, h, depth) in {"png16.png": (4, 4, 16), "wide.png": (20000, 2, 8), "many-pixels.png": (16000, 16000, 8)}.items():
        write("image", name, sig + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 2, 0, 0, 0)) + png_chunk(b"IEND", b""))
    raw = b"".join(b"\x00" + bytes([x * 60 % 256, x * 30 % 256, 255 - x * 50 % 256] * 1) for x in range(4))
    write("image", "one-column.png", sig + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 4, 8, 2, 0, 0, 0)) +
          png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))
# ---- importance matrices (llama-imatrix) ----

def imatrix_legacy(entries, trailer=None):
    """entries: [(name, ncall, [values])]; trailer: (last chunk, dataset name) or None."""
    out = struct.pack("<i", len(entries))
    for name, ncall, values in entries:
        b = name.encode()
        out += struct.pack("<i", len(b)) + b + struct.pack("<ii", ncall, len(values)) + struct.pack(f"<{len(values)}f", *values)
    if trailer is not None:
        out += struct.pack("<i", trailer[0])
        d = trailer[1].encode()
        out += struct.pack("<i", len(d)) + d
    return out


def imatrix_gguf(entries, chunks=4, chunk_size=512):
    """entries: [(name, columns, [counts per matrix], [sums])]."""
    tensors = []
    for name, cols, counts, sums in entries:
        tensors.append((name + ".in_sum2", [cols, len(counts)], 0, struct.pack(f"<{len(sums)}f", *sums)))
        tensors.append((name + ".counts", [1, len(counts)], 0, struct.pack(f"<{len(counts)}f", *counts)))
    kvs = [("general.type", STRING, "imatrix"), ("imatrix.datasets", ARRAY, (STRING, ["calibration.txt"])),
           ("imatrix.chunk_count", U32, chunks), ("imatrix.chunk_size", U32, chunk_size)]
    return gguf(kvs, tensors)


def imatrix_corpus(rng):
    vals = [round(rng.random() * 10, 3) for _ in range(16)]
    write("imatrix", "legacy-one.dat", imatrix_legacy([("blk.0.ffn_down.weight", 10, vals)]))
    write("imatrix", "legacy-trailer.dat", imatrix_legacy(
        [("blk.0.ffn_down.weight", 10, vals), ("blk.0.attn_q.weight", 10, vals[:8])], (10, "wiki.train.raw")))
    write("imatrix", "legacy-zero-calls.dat", imatrix_legacy([("output.weight", 0, vals[:4])], (0, "")))
    write("imatrix", "gguf-dense.gguf", imatrix_gguf([("blk.0.ffn_down.weight", 8, [2048.0], vals[:8]),
                                                      ("blk.1.ffn_down.weight", 8, [2048.0], vals[8:])]))
    write("imatrix", "gguf-experts.gguf", imatrix_gguf([("blk.0.ffn_down_exps.weight", 4, [100.0, 0.0, 50.0, 7.0], vals)]))
# ---- tokenizer.json ----

def tokenizer_json_corpus():
    seen = set()
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "**", "tokenizer.json"), recursive=True)):
        with open(path, "rb") as f:
            raw = f.read()
        tok = json.loads(raw)
        model = tok["model"]
        if len(model["vocab"]) > 600:
            n = 400
            vocab = {t: i for t, i in model["vocab"].items() if i < n}
            have = set(vocab)
            merges = []
            for m in model.get("merges") or []:
                a, b = m.split(" ", 1) if isinstance(m, str) else m
                if a in have and b in have and a + b in have:
                    merges.append(m)
            model["vocab"] = vocab
            model["merges"] = merges
            # At most 24 added tokens (Llama 3 has 256, mostly reserved ones,
            # which made its seed 41 KB and each fuzz input slow to build).
            if len(tok.get("added_tokens") or []) > 24:
                tok["added_tokens"] = tok["added_tokens"][:24]
            # Added tokens outside the cut vocabulary get the next ids (as
            # Hugging Face assigns them on load); the post-processor's ids follow.
            remap, nxt = {}, n
            for a in tok.get("added_tokens") or []:
                if a["id"] >= n and a["content"] not in vocab:
                    remap[a["id"]] = nxt
                    a["id"] = nxt
                    nxt += 1

            def fix(node):
                if isinstance(node, dict):
                    for k, v in node.items():
                        if k == "ids" and isinstance(v, list):
                            node[k] = [remap.get(i, i) for i in v]
                        elif k in ("sep", "cls") and isinstance(v, list) and len(v) == 2:
                            v[1] = remap.get(v[1], v[1])
                        else:
                            fix(v)
                elif isinstance(node, list):
                    for v in node:
                        fix(v)
            fix(tok.get("post_processor"))
            raw = json.dumps(tok, ensure_ascii=False, separators=(",", ":")).encode()
        if raw in seen:
            continue
        seen.add(raw)
        name = os.path.basename(os.path.dirname(path))
        write("tokenizer_json", f"{name}.json", raw)


# ---- tokenizer.model (SentencePiece ModelProto) ----

def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_bytes(field, data):
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def pb_encode(fields):
    out = b""
    for f, w, v in fields:
        out += pb_varint(f << 3 | w) + (pb_varint(v) if w == 0 else pb_varint(len(v)) + v if w == 2 else v)
    return out


def pb_fields(data):
    """[(field number, wire type, payload)] of one message (no groups)."""
    pos, out = 0, []

    def varint():
        nonlocal pos
        r, s = 0, 0
        while True:
            c = data[pos]
            pos += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r
    while pos < len(data):
        key = varint()
        f, w = key >> 3, key & 7
        if w == 0:
            v = varint()
        elif w == 1:
            v, pos = data[pos:pos + 8], pos + 8
        elif w == 5:
            v, pos = data[pos:pos + 4], pos + 4
        else:
            n = varint()
            v, pos = data[pos:pos + n], pos + n
        out.append((f, w, v))
    return out


SPM_TEXT_WORDS = ("the quick brown fox jumps over the lazy dog once upon a time there was a little girl "
                  "\uff26\uff55\uff4c\uff4c caf\u00e9 na\u00efve \u2160 A B").split()
# User-defined normalization rules (code points, hex): SentencePiece compiles
# them into a precompiled_charsmap of about 1 KB.
SPM_RULES = "41\t61\n42\t62\nFF21\t41\n2160\t49\nE9\t65 301\n3000\t20\n"


def spm_train(tmp, model_type, rules, vocab):
    import sentencepiece as spm
    text = os.path.join(tmp, "text.txt")
    rng = random.Random(15)
    with open(text, "w", encoding="utf-8") as f:
        for _ in range(300):
            f.write(" ".join(rng.choice(SPM_TEXT_WORDS) for _ in range(10)) + "\n")
    args = dict(input=text, model_prefix=os.path.join(tmp, "m"), vocab_size=vocab, model_type=model_type, num_threads=1,
                minloglevel=2, hard_vocab_limit=False)
    if rules:
        with open(os.path.join(tmp, "rules.tsv"), "w") as f:
            f.write(SPM_RULES)
        args["normalization_rule_tsv"] = os.path.join(tmp, "rules.tsv")
    spm.SentencePieceTrainer.train(**args)
    with open(os.path.join(tmp, "m.model"), "rb") as f:
        data = f.read()
    # trainer_spec (field 2) names the scratch paths: dropped (encoding does not read it).
    return pb_encode([(f, w, v) for f, w, v in pb_fields(data) if f != 2])


def charsmap_of(model):
    for f, w, v in pb_fields(model):
        if f == 3 and w == 2:
            for g, w2, v2 in pb_fields(v):
                if g == 2 and w2 == 2:
                    return v2
    raise ValueError("no precompiled_charsmap")


def tokenizer_model_corpus():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        trained = {t: spm_train(tmp, t, True, 40) for t in ("unigram", "bpe", "char", "word")}
    for t, data in trained.items():
        write("tokenizer_model", f"trained-{t}-rules.model", data)
    charsmap = charsmap_of(trained["unigram"])
    for path in (os.path.join(ROOT, "tests", "data", "stories260K", "tokenizer.model"),
                 os.path.join(ROOT, "resources", "models", "demo", "tokenizer.model")):
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.relpath(os.path.dirname(path), ROOT).replace(os.sep, "-")
        write("tokenizer_model", f"{name}.model", data)
        # A repeated message field merges into the first: these add the rules.
        write("tokenizer_model", f"{name}-rules.model", data + pb_bytes(3, pb_bytes(2, charsmap)))
        write("tokenizer_model", f"{name}-denormalizer-rules.model", data + pb_bytes(5, pb_bytes(2, charsmap)))


# ---- HDF5 activation caches ----

CACHE_CONFIG = {"model_type": "llama", "hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2,
                "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": 20, "max_position_embeddings": 32,
                "rms_norm_eps": 1e-5}


def cache_file(path, runs, vocab=True):
    import h5py
    import numpy as np

    def fixed(text):
        b = text.encode()
        return np.array(b, dtype=f"S{max(1, len(b))}")

    def group(parent, name):
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_obj_track_times(False)
        return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))

    def dataset(parent, name, data):
        parent.create_dataset(name, data=data, track_times=False)

    rng = np.random.default_rng(15)
    # HDF5's 1.8 formats, as SuperLens writes them (checksummed; the reader
    # refuses the earliest format), and no times in the root group's header.
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V18, h5py.h5f.LIBVER_V110)
    with h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl)) as f:
        for k, v in (("format", "superlens-activations"), ("model_config", json.dumps(CACHE_CONFIG)),
                     ("model_fingerprint", "0011223344556677"), ("model_name", "tiny"), ("model_dtype", "F32"),
                     ("created_by", "make_corpus.py")):
            f.attrs[k] = fixed(v)
        f.attrs["version"] = np.int32(1)
        f.attrs["model_parameters"] = np.int64(1234)
        if vocab:
            v = group(f, "vocab")
            dataset(v, "pieces", np.array([f"p{i}".encode() for i in range(20)], dtype="S4"))
            dataset(v, "texts", np.array([f"t{i}".encode() for i in range(20)], dtype="S4"))
        r = group(f, "runs")
        for n, (T, hooks, logits) in enumerate(runs):
            g = group(r, str(n))
            for k, v in (("prompt", "a b c"), ("edits", "[]"), ("hook_patterns", '["blocks.*"]'), ("precision", "float32"),
                         ("logits_positions", "all" if logits == "all" else "last"), ("created", "2026-01-01T00:00:00Z"),
                         ("metadata", "{}")):
                g.attrs[k] = fixed(v)
            g.attrs["seconds"] = np.float64(0.25)
            dataset(g, "token_ids", np.arange(1, T + 1, dtype=np.int32))
            dataset(g, "token_strings", np.array([f"p{i}".encode() for i in range(1, T + 1)], dtype="S4"))
            dataset(g, "token_texts", np.array([f"t{i}".encode() for i in range(1, T + 1)], dtype="S4"))
            if logits:
                dataset(g, "logits", rng.standard_normal((T if logits == "all" else 1, 20)).astype(np.float32))
            for h in hooks:
                shape = (2, T, T) if h.endswith("hook_pattern") else (T, 12 if ".mlp.hook_" in h else 8)
                dataset(g, h, rng.standard_normal(shape).astype(np.float32))


def cache_corpus():
    d = os.path.join(OUT, "cache")
    os.makedirs(d, exist_ok=True)
    cache_file(os.path.join(d, "empty-runs.h5"), [], vocab=False)
    cache_file(os.path.join(d, "one-run.h5"), [(3, ["blocks.0.hook_resid_post"], "last")])
    cache_file(os.path.join(d, "two-runs.h5"),
               [(3, ["blocks.0.hook_resid_post", "blocks.1.mlp.hook_post", "blocks.1.attn.hook_pattern"], "last"),
                (4, ["hook_embed", "blocks.1.hook_mlp_out", "ln_final.hook_normalized"], "all")])
    cache_file(os.path.join(d, "no-logits.h5"), [(2, ["blocks.0.hook_attn_out"], None)], vocab=False)
    # A run of more than eight links: HDF5 keeps them in dense storage (a
    # fractal heap and a B-tree), where one flipped byte crashed libhdf5's
    # H5Literate before the reader listed links one by one.
    every = ["hook_embed", "ln_final.hook_normalized"] + [f"blocks.{l}.{h}" for l in range(2) for h in (
        "hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post", "mlp.hook_post", "attn.hook_pattern")]
    cache_file(os.path.join(d, "dense-run.h5"), [(3, every, "last")])

def superweight_study_corpus():
    # The document of `study superweight --json` (issue 23), small: every part the parser reads.
    def cond(key, ppl, ci=True):
        c = {"key": key, "label": key.replace("_", " "), "edits": [], "ppl": ppl, "ppl_ci": [ppl * 0.9, ppl * 1.1] if ci else None,
             "ppl_ratio": ppl / 10.0, "ppl_ratio_ci": [ppl / 11.0, ppl / 9.0] if ci else None, "nll": 2.302585092994046, "tokens": 31, "windows": 4,
             "zero_shot": {"accuracy": 0.5, "accuracy_ci": [0.25, 0.75], "accuracy_norm": 0.5, "accuracy_norm_ci": None, "accuracy_delta": 0.0,
                           "accuracy_delta_ci": [0.0, 0.0], "count": 4, "predictions": [0, 1, 2, 1]},
             "stopwords": {"mass": 0.3, "mass_ci": [0.25, 0.35], "original_mass": 0.3, "ratio": 1.0, "ratio_ci": [0.9, 1.1]}}
        return c
    zeroed = cond("sw_zeroed", 70.0)
    zeroed["edits"] = ["model.layers.1.mlp.down_proj.weight[8,42]=0"]
    zeroed["null"] = {"scope": "same_matrix", "k": 3, "ppl": [10.0, 10.5, 9.5], "mean": 10.0, "sd": 0.5, "percentile": 100.0, "z": 120.0,
                      "edits": [["model.layers.1.mlp.down_proj.weight[3,4]=0.5"], ["model.layers.1.mlp.down_proj.weight[5,6]=-1"],
                                ["model.layers.1.mlp.down_proj.weight[7,8]=2"]]}
    zeroed["null_elsewhere"] = {"scope": "elsewhere", "k": 2, "ppl": [10.0, 10.0], "mean": 10.0, "sd": 0.0, "percentile": 100.0, "z": None}
    full = {"study": "superweight",
            "super_weights": [{"layer": 1, "row": 8, "col": 42, "value": -3.5, "token": 0, "down_out": 900.0, "output_axis": 0},
                              {"layer": 1, "row": 50, "col": 42, "value": 2.5, "token": 0, "down_out": -400.0, "output_axis": 0}],
            "outliers": [{"layer": 1, "row": 3, "col": 9}, {"layer": 1, "row": 4, "col": 10}],
            "conditions": [cond("original", 10.0), zeroed, cond("sw_zeroed_sa_restored", 11.0), cond("outliers_zeroed", 10.2, ci=False)],
            "joint": {"items": [{"layer": 1, "row": 8, "col": 42}, {"layer": 1, "row": 50, "col": 42}], "unit": "mean NLL change (nats)",
                      "original_nll": 2.302585092994046, "single": [0.5, 0.01], "single_ci": [[0.4, 0.6], None],
                      "leave_one_out": [0.01, 0.5], "leave_one_out_ci": [None, [0.4, 0.6]], "all": 1.9, "all_ci": [1.8, 2.0],
                      "pair": [[0.5, 1.9], [1.9, 0.01]], "interaction": [[0.0, 1.39], [1.39, 0.0]],
                      "interaction_ci": [[None, [1.2, 1.5]], [[1.2, 1.5], None]]},
            "ci": {"level": 0.95, "resamples": 1000, "seed": 1592598563}, "notes": ["a note"]}
    write("superweight_study", "full.json", json.dumps(full, separators=(",", ":")).encode())
    minimal = {"super_weights": [], "conditions": [{"key": "original"}]}
    write("superweight_study", "minimal-no-study-field.json", json.dumps(minimal, separators=(",", ":")).encode())
    write("superweight_study", "joint-not-square.json",
          json.dumps({"study": "superweight", "super_weights": [], "conditions": [{"key": "original", "ppl": 3.0}],
                      "joint": {"items": [{"layer": 0, "row": 1, "col": 2}], "original_nll": 1.0, "single": [0.1], "leave_one_out": [0.0],
                                "all": 0.1, "pair": [[0.1, 0.2]], "interaction": [[0.0]]}}, separators=(",", ":")).encode())
    write("superweight_study", "laser-study.json", b'{"study":"laser","baseline":{}}')


def main():
    rng = random.Random(15)
    for target in ("gguf", "gguf_tokenizer", "safetensors", "shard_index", "config", "edit_spec", "npy", "image", "preprocessor_config", "imatrix",
                   "tokenizer_json", "tokenizer_model", "prompt", "cache", "superweight_study"):
        shutil.rmtree(os.path.join(OUT, target), ignore_errors=True)
    gguf_corpus(rng)
    gguf_tokenizer_corpus()
    safetensors_corpus()
    shard_index_corpus()
    config_corpus()
    preprocessor_config_corpus()
    prompt_corpus()
    edit_corpus()
    experiment_corpus()
    npy_corpus()
    image_corpus()
    imatrix_corpus(random.Random(19))
    tokenizer_json_corpus()
    tokenizer_model_corpus()
    cache_corpus()
    superweight_study_corpus()
    for target in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, target))
        size = sum(os.path.getsize(os.path.join(OUT, target, f)) for f in files)
        print(f"{target}: {len(files)} files, {size} bytes")


if __name__ == "__main__":
    main()
