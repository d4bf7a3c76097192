#!/usr/bin/python3
"""Compare llama.cpp's last-position logits (through node-llama-cpp, on a GGUF
written by safetensors_to_gguf.py) with SuperLens's on the same checkpoint.

  /usr/bin/python3 bench/llamacpp/check_logits.py --model /tmp/sl-tiny --gguf /tmp/sl-tiny-f32.gguf \
      --ids 1,5,77 [--cli build/bin/superlens-cli] [--kv-type F32] [--tol 1e-3] [--gguf-ref OTHER.gguf]

Prints one JSON line (max |diff|, max |logit|, argmax of each) and exits 1
when max |diff| exceeds --tol. Needs node-llama-cpp installed by run.sh.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="Hugging Face checkpoint folder")
    ap.add_argument("--gguf", required=True, help="the same checkpoint as GGUF")
    ap.add_argument("--ids", default="1,5,77")
    ap.add_argument("--cli", default=os.path.join(ROOT, "build", "bin", "superlens-cli"))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--kv-type", default="F32", help="llama.cpp KV cache type (F32: compare the weights alone; F16: llama.cpp's default)")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--gguf-ref", help="another GGUF of the same weights (e.g. one llama.cpp's converter wrote): "
                                       "also report llama.cpp's max |diff| between the two files")
    a = ap.parse_args()

    sl = json.loads(subprocess.run([a.cli, "logits", a.model, "--ids", a.ids, "--json"],
                                   check=True, capture_output=True, text=True).stdout)

    def llamacpp(gguf):
        return json.loads(subprocess.run(["node", os.path.join(HERE, "bench_llamacpp.mjs"), gguf, "--ids", a.ids,
                                          "--threads", a.threads, "--kv-type", a.kv_type, "--logits"],
                                         check=True, capture_output=True, text=True).stdout)

    lc = llamacpp(a.gguf)
    x, y = sl["logits"], lc["logits"]
    if len(x) != len(y):
        raise SystemExit(f"vocab sizes differ: SuperLens {len(x)}, llama.cpp {len(y)}")
    diffs = [abs(p - q) for p, q in zip(x, y)]
    worst = max(range(len(diffs)), key=diffs.__getitem__)
    res = {
        "ids": a.ids, "gguf": os.path.basename(a.gguf), "n_vocab": len(x),
        "max_abs_diff": diffs[worst], "at_token": worst,
        "mean_abs_diff": sum(diffs) / len(diffs),
        "max_abs_logit": max(abs(v) for v in x),
        "argmax_superlens": max(range(len(x)), key=x.__getitem__),
        "argmax_llamacpp": max(range(len(y)), key=y.__getitem__),
        "kv_cache_type": lc.get("kv_type"), "llama_cpp_release": lc.get("llama_cpp_release"),
    }
    res["pass"] = res["max_abs_diff"] <= a.tol and res["argmax_superlens"] == res["argmax_llamacpp"]
    if a.gguf_ref:
        ref = llamacpp(a.gguf_ref)["logits"]
        res["gguf_ref"] = os.path.basename(a.gguf_ref)
        res["max_abs_diff_vs_gguf_ref"] = max(abs(p - q) for p, q in zip(y, ref)) if len(ref) == len(y) else None
        res["pass"] = res["pass"] and res["max_abs_diff_vs_gguf_ref"] is not None and res["max_abs_diff_vs_gguf_ref"] <= a.tol
    print(json.dumps(res))
    sys.exit(0 if res["pass"] else 1)


if __name__ == "__main__":
    main()
