#!/usr/bin/python3
"""Regression check between two builds: runs bench_forward of build A and of
build B on the same checkpoint, alternating (A B A B ...) so both see the same
machine load, and prints per-run figures, the best and the median of each, and
the ratios B / A (> 1: B is faster).

  /usr/bin/python3 bench/compare_builds.py --old /work/old/build --new build MODEL [MODEL...] \\
      [--rounds 5] [--tokens 128] [--decode 16]

Each bench_forward run is itself the best of its --repeat passes; the load
average is printed before every run. On a shared machine wall-clock rates
follow the load; CPU time (user + system of all threads, from getrusage: the
engine's pool and single-threaded OpenBLAS block instead of spinning, so
waiting for a core costs none) is the steadier measure of the work done.
bench_forward reports it per prompt pass (least of --repeat) and for the
generation (16-token prompt + decode); both builds must have that field
(bench/bench_common.h cpuSeconds, patch an old tree's bench_forward.cpp
with it). Ratios are old / new for CPU seconds and new / old for rates, so
> 1 always means B is faster.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess


def run(build, model, a):
    cmd = [os.path.join(build, "bin", "bench_forward"), model, "--tokens", str(a.tokens), "--decode", str(a.decode),
           "--repeat", str(a.repeat), "--json", "--no-blas-baseline"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    j = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    j["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return j


def ratio(a, b):
    """a / b to 3 decimals, or n/a when b is 0 (no decode steps timed: --decode 0)."""
    return f"{a / b:.3f}" if b else "n/a"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="build directory A (the baseline)")
    ap.add_argument("--new", required=True, help="build directory B")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--decode", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    keys = ("forward_tok_s", "recorded_tok_s", "decode_tok_s")
    for model in a.models:
        res = {"old": [], "new": []}
        print(f"## {model} (T={a.tokens}, decode {a.decode}, {a.rounds} alternating rounds)\n")
        print("| round | build | load avg | prompt tok/s | recorded tok/s | decode tok/s | incremental s | CPU s: pass | CPU s: recorded pass | CPU s: generate | CPU s: whole run |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in range(a.rounds):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                load = os.getloadavg()[0]
                j = run(a.old if which == "old" else a.new, model, a)
                res[which].append(j)
                print(f"| {r + 1} | {which} | {load:.1f} | {j['forward_tok_s']:.1f} | {j['recorded_tok_s']:.1f} | "
                      f"{j['decode_tok_s']:.2f} | {j['incremental_seconds']:.3f} | {j['forward_cpu_seconds']:.3f} | "
                      f"{j['recorded_cpu_seconds']:.3f} | {j['generate_cpu_seconds']:.3f} | {j['cpu_seconds']:.2f} |", flush=True)
        print("\n| figure | old best | new best | new/old (best) | old median | new median | new/old (median) |")
        print("|---|---|---|---|---|---|---|")
        for k in keys:
            o = [j[k] for j in res["old"]]
            n = [j[k] for j in res["new"]]
            print(f"| {k} | {max(o):.2f} | {max(n):.2f} | **{ratio(max(n), max(o))}** | {statistics.median(o):.2f} | "
                  f"{statistics.median(n):.2f} | {ratio(statistics.median(n), statistics.median(o))} |")
        for k, label in (("forward_cpu_seconds", "CPU s per prompt pass"), ("recorded_cpu_seconds", "CPU s per recorded pass"),
                         ("generate_cpu_seconds", "CPU s per generation"), ("cpu_seconds", "CPU s per whole run")):
            o = [j[k] for j in res["old"]]
            n = [j[k] for j in res["new"]]
            print(f"| {label} (lower is better) | {min(o):.3f} | {min(n):.3f} | **{ratio(min(o), min(n))}** (old/new) | "
                  f"{statistics.median(o):.3f} | {statistics.median(n):.3f} | {ratio(statistics.median(o), statistics.median(n))} (old/new) |")
        print(flush=True)


if __name__ == "__main__":
    main()
