#!/usr/bin/python3
"""The Python path against PyTorch, same run, same weights, same token ids
(docs/PYTHON.md "Speed"): superlens.Model.run from a fresh Python process
(wall time around the call, so the binding's own cost counts) and
bench/pytorch_baseline.py (the Hugging Face Llama forward written in torch,
fp32, 2 threads, uninstrumented), twice: with the OpenBLAS kernels Debian's
library picks by itself, and with the kernels SuperLens chose for the CPU
(OPENBLAS_CORETYPE), the fair baseline. Both compute last-position logits; the
SuperLens rows also record blocks.*.mlp.hook_post, blocks.*.hook_mlp_out and
blocks.*.hook_resid_post as numpy arrays. Prints a Markdown table.

  /usr/bin/python3 app/python/bench/bench_vs_pytorch.py --build build \
      --model /tmp/sl-bench/tinyllama-f32 --tokens 16,128 --repeat 3

The checkpoint comes from bench/make_checkpoint.py (random weights of a real
shape); bench/run_engine_bench.py makes it.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

PYTHON_PATH_SCRIPT = r"""
import json, sys, time
import superlens                      # before numpy: OpenBLAS gets the CPU's kernels
import numpy as np
model, ids, repeat, hooks = sys.argv[1], [int(x) for x in sys.argv[2].split(",")], int(sys.argv[3]), sys.argv[4]
t0 = time.time()
m = superlens.open(model)
open_s = time.time() - t0
patterns = ["blocks.*.mlp.hook_post", "blocks.*.hook_mlp_out", "blocks.*.hook_resid_post"] if hooks == "3" else None
m.run(ids, hooks=patterns, all_positions=False)  # warm-up (page cache, allocator)
best, engine = 1e300, 0.0
for _ in range(repeat):
    t0 = time.perf_counter()
    r = m.run(ids, hooks=patterns, all_positions=False)
    arrays = [r.cache[k] for k in r.cache]  # touch every numpy array
    dt = time.perf_counter() - t0
    if dt < best:
        best, engine = dt, r.seconds
print(json.dumps({"forward_seconds": best, "engine_seconds": engine, "open_seconds": open_s, "hooks": len(r.cache),
                  "cached_mb": sum(a.nbytes for a in arrays) / 2**20, "last_logits_head": r.logits[0, :4].tolist(),
                  "blas": superlens.system_info()["blas_core"], "blas_requested": superlens.system_info()["blas_requested"]}))
"""


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd[:3])}...: exit {p.returncode}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", default="16,128")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.abspath(a.build), "python"))
    with open(os.path.join(a.model, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    rows = []
    for T in [int(t) for t in a.tokens.split(",")]:
        ids = ",".join(["1"] + [str(7 + (i * 7919) % (vocab - 7)) for i in range(T - 1)])
        plain = run_json([sys.executable, "-c", PYTHON_PATH_SCRIPT, a.model, ids, str(a.repeat), "0"], env)
        hooked = run_json([sys.executable, "-c", PYTHON_PATH_SCRIPT, a.model, ids, str(a.repeat), "3"], env)
        baseline = [sys.executable, os.path.join(SOURCE, "bench", "pytorch_baseline.py"), a.model, "--ids", ids,
                    "--repeat", str(a.repeat), "--threads", "2"]
        # PyTorch as Debian ships it (its OpenBLAS picks its own kernels), and
        # with the kernels SuperLens chose for this CPU (OPENBLAS_CORETYPE).
        torch = run_json(baseline, {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"})
        torch_same = run_json(baseline, dict(os.environ, OPENBLAS_CORETYPE=plain["blas_requested"])) if plain["blas_requested"] else torch
        diff = max(abs(x - y) for x, y in zip(plain["last_logits_head"], torch["last_logits_head"]))
        rows.append((T, plain, hooked, torch, torch_same, diff))
    print(f"model {a.model}, best of {a.repeat}, SuperLens's OpenBLAS kernels {rows[0][1]['blas']}\n")
    print("| T | superlens run() s | + 3 hook patterns s (MB of arrays) | binding overhead | PyTorch s (Debian's OpenBLAS choice) | "
          "PyTorch s (same kernels as SuperLens) | ratio PyTorch (same kernels) / superlens + hooks | max abs logit diff (first 4) |")
    print("|---|---|---|---|---|---|---|---|")
    for T, p, h, t, ts, d in rows:
        overhead = (h["forward_seconds"] - h["engine_seconds"]) / h["forward_seconds"]
        print(f"| {T} | {p['forward_seconds']:.3f} | {h['forward_seconds']:.3f} ({h['cached_mb']:.0f}) | {overhead * 100:.1f}% | "
              f"{t['forward_seconds']:.3f} | {ts['forward_seconds']:.3f} | **{ts['forward_seconds'] / h['forward_seconds']:.2f}x** | {d:.1e} |")

if __name__ == "__main__":
    main()
