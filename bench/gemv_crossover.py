#!/usr/bin/python3
"""Where the GEMV should stop on this machine: for each checkpoint and token
count, bench_forward's prompt pass with the GEMV taking every token
(SUPERLENS_GEMV_TOKENS=64) and with the GEMM kernels taking them
(SUPERLENS_GEMV_TOKENS=1: the GEMV for one token only), the two in turn
and in an order that rotates from round to round, so both see the same
machine. core/system/gemm_path.h's gemvMaxTokens holds the limits measured
so far (docs/PERFORMANCE.md, "Up to 31 tokens"); run this on a new CPU
before changing them.

  /usr/bin/python3 bench/gemv_crossover.py [--build build] MODEL [MODEL...]
      [--tokens 12,16,20,24,28,31] [--rounds 3] [--repeat 3]
      [--gemm avx2] [--gemv avx2]

--gemm / --gemv set SUPERLENS_GEMM / SUPERLENS_GEMV for every run (e.g. both
avx2 to measure the AVX2 kernels on a CPU with AVX-512). Per token count
it prints the median prompt rate of each path, the median over the rounds
of the GEMV's rate over the kernel's, how many rounds the GEMV won, and the
path the default limits choose there; then, per checkpoint, the counts the
GEMV won (median ratio >= 1) and lost, and the largest it won. Standard
library only.
"""
import argparse
import json
import os
import statistics
import subprocess

PATHS = {"GEMV": "64", "kernel": "1"}


def run(a, model, tokens, limit, repeat):
    env = dict(os.environ)
    env.pop("SUPERLENS_GEMV_TOKENS", None)
    if limit is not None:
        env["SUPERLENS_GEMV_TOKENS"] = limit
    if a.gemm:
        env["SUPERLENS_GEMM"] = a.gemm
    if a.gemv:
        env["SUPERLENS_GEMV"] = a.gemv
    cmd = [os.path.join(a.build, "bin", "bench_forward"), model, "--tokens", str(tokens), "--repeat", str(repeat),
           "--decode", "0", "--no-blas-baseline", "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def summary(rows):
    """The counts the GEMV won (median ratio >= 1) and lost, and the largest
    it won (a limit to set), or None when it won none."""
    ahead = [t for t, r in rows if r >= 1.0]
    behind = [t for t, r in rows if r < 1.0]
    names = lambda ts: ", ".join(str(t) for t in ts) or "none"
    limit = f"{max(ahead)} tokens" if ahead else "none (the kernels from 2 tokens)"
    return f"GEMV ahead at: {names(ahead)}; behind at: {names(behind)}; the largest count it won: {limit}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--build", default="build")
    ap.add_argument("--tokens", default="12,16,20,24,28,31")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gemm", default="")
    ap.add_argument("--gemv", default="")
    a = ap.parse_args()
    counts = [int(t) for t in a.tokens.split(",")]
    if any(t < 2 for t in counts) or a.rounds < 1:
        ap.error("--tokens: counts of 2 or more; --rounds: 1 or more")
    for model in a.models:
        print(f"## {model}" + (f" (SUPERLENS_GEMM={a.gemm})" if a.gemm else "") + (f" (SUPERLENS_GEMV={a.gemv})" if a.gemv else ""))
        print()
        print("| tokens | GEMV tok/s | kernel tok/s | GEMV / kernel | rounds the GEMV won | kernel | default path |")
        print("|---|---|---|---|---|---|---|")
        ratios = []
        for tokens in counts:
            rates = {name: [] for name in PATHS}
            per_round = []
            label = ""
            for r in range(a.rounds):
                order = list(PATHS) if r % 2 == 0 else list(reversed(list(PATHS)))
                got = {}
                for name in order:
                    j = run(a, model, tokens, PATHS[name], a.repeat)
                    got[name] = j["forward_tok_s"]
                    if name == "kernel":
                        label = j["gemm_kernel"]
                for name in PATHS:
                    rates[name].append(got[name])
                per_round.append(got["GEMV"] / got["kernel"])
            default = run(a, model, tokens, None, 1)["gemm_kernel"]
            ratio = statistics.median(per_round)
            won = sum(1 for x in per_round if x >= 1.0)
            ratios.append((tokens, ratio))
            print(f"| {tokens} | {statistics.median(rates['GEMV']):.1f} | {statistics.median(rates['kernel']):.1f} | "
                  f"**{ratio:.2f}x** | {won} of {a.rounds} | {label} | {default} |", flush=True)
        print()
        print(summary(ratios))
        print()


if __name__ == "__main__":
    main()
