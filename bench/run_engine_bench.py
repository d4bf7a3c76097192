#!/usr/bin/python3
"""Engine benchmark driver (issue 5): SuperLens vs PyTorch fp32 (2 threads) on
the same random checkpoints, in the same run; prints a Markdown report.

  /usr/bin/python3 bench/run_engine_bench.py --build build --work /tmp/sl-bench [--skip-7b] [--quick]
  /usr/bin/python3 bench/run_engine_bench.py --build build --work /tmp/sl-bench --families [--skip-gptj]

Checkpoints are generated once into --work (TinyLlama-1.1B shape f32 ~4.4 GB,
a ~150M shape f32, a 7B Llama shape bf16 ~13.5 GB in 3 shards). --families
runs the model-family table instead (issue 16): GPT-2 small f32 and bf16,
Pythia-160M f32, Qwen3-0.6B f32 (each next to PyTorch fp32 in the same run),
Gemma-2-2B bf16 (5.2 GB) and GPT-J-6B bf16 (12.1 GB, 32-token prompt, peak RSS
against the checkpoint).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def ensure(work, name, *args):
    out = os.path.join(work, name)
    if not os.path.exists(os.path.join(out, "config.json")):
        print(f"generating {name} ...", file=sys.stderr)
        sh(["/usr/bin/python3", os.path.join(HERE, "make_checkpoint.py"), *args, "--out", out])
    return out


def superlens(build, model, tokens, extra=()):
    return json.loads(sh([os.path.join(build, "bin", "bench_forward"), model, "--tokens", str(tokens), "--json", *extra]))


def torch_baseline(model, tokens, repeat=2):
    return json.loads(sh(["/usr/bin/python3", os.path.join(HERE, "pytorch_baseline.py"), model, "--tokens", str(tokens),
                          "--repeat", str(repeat)]))


def cli_wall(build, model, tokens):
    ids = ",".join(["1"] + [str(7 + (i * 7919) % 30000) for i in range(tokens - 1)])
    t0 = time.time()
    sh([os.path.join(build, "bin", "superlens-cli"), "logits", model, "--ids", ids, "--json"])
    return time.time() - t0


# name, preset, dtype, bench_forward arguments, PyTorch baseline
FAMILY_RUNS = [
    ("GPT-2 small (124M)", "gpt2", "f32", ["--tokens", "128", "--decode", "16"], True),
    ("GPT-2 small (124M)", "gpt2", "bf16", ["--tokens", "128", "--decode", "16"], False),
    ("Pythia-160M", "pythia160m", "f32", ["--tokens", "128", "--decode", "16"], True),
    ("Qwen3-0.6B", "qwen3-0.6b", "f32", ["--tokens", "128", "--decode", "16"], True),
    ("Gemma-2-2B", "gemma2-2b", "bf16", ["--tokens", "128", "--decode", "8", "--repeat", "2"], False),
    ("GPT-J-6B", "gptj6b", "bf16", ["--tokens", "32", "--decode", "4", "--repeat", "1", "--no-blas-baseline"], False),
]


def families(a):
    print("## Model families (issue 16)\n")
    print("| shape | dtype | file | T | prompt tok/s | with 3 hooks | decode tok/s | GFLOP/s | OpenBLAS sgemm, same shapes | "
          "peak RSS | RSS - file | PyTorch fp32 tok/s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, preset, dtype, args, torch in FAMILY_RUNS:
        if preset == "gptj6b" and a.skip_gptj:
            continue
        model = ensure(a.work, f"{preset}-{dtype}", "--preset", preset, "--dtype", dtype)
        s = superlens(a.build, model, int(args[1]), args[2:])
        p = torch_baseline(model, int(args[1])) if torch else None
        blas = f"{s['openblas_gflops_same_shapes']:.0f}" if s["openblas_gflops_same_shapes"] else "—"
        ptxt = f"{p['forward_tok_s']:.1f} | **{s['forward_tok_s'] / p['forward_tok_s']:.2f}x**" if p else "— | —"
        # peak_rss_mb is MiB (getrusage), checkpoint_mb is 10^6 bytes: both to GB (10^9 bytes).
        rss, file = s["peak_rss_mb"] * 1048576 / 1e9, s["checkpoint_mb"] / 1e3
        print(f"| {name} | {dtype} | {file:.2f} GB | {s['tokens']} | {s['forward_tok_s']:.1f} | "
              f"{s['recorded_tok_s']:.1f} | {s['decode_tok_s']:.2f} | {s['gflops']:.0f} | {blas} | "
              f"{rss:.2f} GB | {rss - file:+.2f} GB | {ptxt} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--work", default="/tmp/sl-bench")
    ap.add_argument("--skip-7b", action="store_true")
    ap.add_argument("--quick", action="store_true", help="fewer prompt lengths")
    ap.add_argument("--families", action="store_true", help="the model-family table only")
    ap.add_argument("--skip-gptj", action="store_true", help="with --families: leave out GPT-J-6B (12 GB)")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.families:
        families(a)
        return
    tiny = ensure(a.work, "tinyllama-f32", "--preset", "tinyllama", "--dtype", "f32")
    small = ensure(a.work, "small150m-f32", "--preset", "small150m", "--dtype", "f32")

    print("## Prompt throughput vs PyTorch fp32 (same weights, same run)\n")
    machine = json.loads(sh([os.path.join(a.build, "bin", "bench_machine"), "--json"]))
    print(f"Best fp32 GEMM on this machine (bench_machine): {machine['best_gemm_gflops']:.0f} GFLOP/s ({machine['best_gemm_core']} kernels); "
          f"memory read {machine['read_gb_s_all_threads']:.1f} GB/s\n")
    print("| shape | T | SuperLens tok/s | with 3 hooks recorded | recording overhead | PyTorch tok/s | ratio (recorded / PyTorch) | GFLOP/s | OpenBLAS sgemm GFLOP/s | best GEMM |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    lengths = [16, 128] if a.quick else [16, 64, 128, 256]
    for name, model in (("~150M", small), ("TinyLlama-1.1B", tiny)):
        for T in lengths:
            s = superlens(a.build, model, T)
            p = torch_baseline(model, T)
            print(f"| {name} | {T} | {s['forward_tok_s']:.1f} | {s['recorded_tok_s']:.1f} | {100 * s['recording_overhead']:+.1f}% | "
                  f"{p['forward_tok_s']:.1f} | **{s['recorded_tok_s'] / p['forward_tok_s']:.2f}x** | {s['gflops']:.0f} | "
                  f"{s['openblas_gflops_same_shapes']:.0f} | {machine['best_gemm_gflops']:.0f} |", flush=True)

    print("\n## End to end, as a user runs it (process start to logits)\n")
    print("| shape | T | superlens-cli logits (s) | PyTorch script incl. import + load (s) | ratio |")
    print("|---|---|---|---|---|")
    for name, model in (("~150M", small), ("TinyLlama-1.1B", tiny)):
        for T in (16, 128):
            c = min(cli_wall(a.build, model, T) for _ in range(2))
            p = torch_baseline(model, T, repeat=1)
            print(f"| {name} | {T} | {c:.2f} | {p['script_seconds']:.2f} | **{p['script_seconds'] / c:.2f}x** |", flush=True)

    s = superlens(a.build, tiny, 128)
    print(f"\nTinyLlama f32: incremental recompute after an edit in block 2 (T=128): {s['incremental_seconds']:.2f} s; "
          f"decode {s['decode_tok_s']:.2f} tok/s = {s['decode_weight_gb_s']:.1f} GB/s; peak RSS {s['peak_rss_mb']:.0f} MB "
          f"(checkpoint {s['checkpoint_mb']:.0f} MB)")

    if not a.skip_7b:
        big = ensure(a.work, "llama7b-bf16", "--preset", "llama7b", "--dtype", "bf16", "--shards", "3")
        print("\n## 7B Llama shape, bf16 (no PyTorch baseline: an fp32 copy does not fit in 24 GB)\n")
        s128 = superlens(a.build, big, 128, ("--repeat", "1", "--decode", "6", "--no-blas-baseline"))
        s32 = superlens(a.build, big, 32, ("--repeat", "1", "--decode", "2", "--no-blas-baseline"))
        print(f"- open: {s128['open_seconds']:.3f} s, RSS after open {s128['rss_after_open_mb']:.0f} MB")
        print(f"- 128-token prompt: {s128['forward_seconds']:.1f} s ({s128['forward_tok_s']:.1f} tok/s, {s128['gflops']:.0f} GFLOP/s); "
              f"peak RSS {s128['peak_rss_mb'] / 1024:.2f} GB vs checkpoint {s128['checkpoint_mb'] / 1024:.2f} GB "
              f"(+{(s128['peak_rss_mb'] - s128['checkpoint_mb']) / 1024:.2f} GB)")
        print(f"- single-token decode: {s128['decode_tok_s']:.2f} tok/s = {s128['decode_weight_gb_s']:.1f} GB/s of weights streamed")
        print(f"- incremental recompute after an edit in block 2, 32-token prompt: {s32['incremental_seconds']:.2f} s")


if __name__ == "__main__":
    main()
