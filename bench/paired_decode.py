#!/usr/bin/env python3
"""Single-token decode, SuperLens against llama.cpp, in pairs seconds apart.

On a shared VM the memory's read bandwidth changes by up to 2x from one
minute to the next, and decode streams every weight once per token, so two
decode rates measured minutes apart compare the memory's moods. Here every
program is loaded once and kept waiting (bench_forward --serve,
bench/llamacpp/bench_llamacpp.mjs --serve); each round then asks each of
them, one right after the other and in an order that rotates from round to
round, for one timed generation: the T-token prompt, then 32 single-token
steps. llama.cpp counts with its faster setting (flash attention off or
on), the one with the higher median rate over all rounds; a round's ratio is
SuperLens's decode rate over that setting's in the same round, and the
result is the median over the rounds. (Taking the faster setting round by
round gave llama.cpp two draws against SuperLens's one whenever the memory's
speed flipped within a round.) Optionally the memory read bandwidth is
measured in every round too, with the engine's decode GEMV alone on the
same type of weights in 2 MiB pages (bench_machine --memory-only).

Before a pair starts, both programs' files are put into the page cache in one
state (bench/warm_page_cache.py: dropped, then read whole, which leaves them
in 2 MiB folios on Linux 6.18), unless --no-warm; at the end, the share of
each file that each program read through 2 MiB pages is printed
(bench_forward --pages-of PID). Decode runs up to 15 % faster from a file
held in 2 MiB folios (docs/PERFORMANCE.md), so without this a pair compares
the page cache's history as much as the programs.

  python3 bench/paired_decode.py [--rounds 8] [--types f32,bf16] [--memory]
                                 [--prompt --tokens T] [--no-warm]

Pairs: SuperLens tinyllama-f32 with llama.cpp F32 (target >= 0.9x), and
tinyllama-bf16 with llama.cpp F16 (target >= 1.0x), from SL_WORK (default
/tmp/sl-bench, bench/same_run.sh's checkpoints). --prompt times the T-token
prompt instead (one decode step per generation), both types against
llama.cpp F16 (target >= 1.5x, issue 22's prompt target); short prompts
(by default up to 24 tokens of f32 weights, 28 of bf16 without AMX) run on
the GEMV. Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import warm_page_cache  # noqa: E402  (bench/, beside this script)
TARGETS = {"f32": ("tinyllama-f32", "tinyllama-f32.gguf", "F32", 0.9),
           "bf16": ("tinyllama-bf16", "tinyllama-f16.gguf", "F16", 1.0)}
PROMPT_TARGETS = {"f32": ("tinyllama-f32", "tinyllama-f16.gguf", "F16", 1.5),
                  "bf16": ("tinyllama-bf16", "tinyllama-f16.gguf", "F16", 1.5)}


class Server:
    """One waiting benchmark process: send a line, read one JSON line back."""

    def __init__(self, name, cmd, env=None):
        self.name = name
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, bufsize=1, env=env)
        self.ready = self.read()
        if not self.ready.get("ready"):
            raise SystemExit(f"{name}: did not start: {self.ready}")

    def read(self):
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"{self.name}: ended without an answer (exit {self.p.wait()})")
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)

    def rate(self, steps_key, steps_default, prompt_tokens=0):
        """tok/s of one timed generation: its decode steps, or its prompt when prompt_tokens > 0."""
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        r = self.read()
        if prompt_tokens:
            return prompt_tokens / r["prompt_s"]
        return r.get(steps_key, steps_default) / r["decode_s"]

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=60)


def memory_read(build, dtype):
    """The read bandwidth, and the engine's decode GEMV on `dtype` weights in 2 MiB pages (GB/s)."""
    out = subprocess.run([os.path.join(build, "bench_machine"), "--memory-only", "--json"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    m = json.loads(out)
    gemv = [g["gb_s"] for g in m.get("gemv", []) if g["dtype"] == dtype and g["pages"].startswith("2M")]
    return m["read_gb_s_all_threads"], (gemv[0] if gemv else float("nan"))


def pages_of(build, model, pid):
    """How process pid maps the model's files: bench_forward --pages-of (bench/page_state.h)."""
    out = subprocess.run([os.path.join(build, "bench_forward"), model, "--pages-of", str(pid)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return json.loads(out)


def pages_text(p):
    if not p["mappings"]:
        return "no file mapped"
    share = 100 * p["pmd_mb"] / p["resident_mb"] if p["resident_mb"] else 0
    return f"{share:.0f} % of {p['resident_mb']:.0f} MB through 2 MiB pages"


def run_pair(ty, a, work, build):
    ckpt, gguf, lty, target = (PROMPT_TARGETS if a.prompt else TARGETS)[ty]
    models = [os.path.join(work, ckpt), os.path.join(work, gguf)]
    if not a.no_warm:
        warm_page_cache.warm_all(models, prefix="page cache: ")
    node = ["node", os.path.join(ROOT, "bench", "llamacpp", "bench_llamacpp.mjs")]
    common = ["--threads", "2", "--tokens", str(a.tokens), "--decode", str(a.decode)]
    servers = [Server(f"superlens {ty}", [os.path.join(build, "bench_forward"), os.path.join(work, ckpt), "--serve",
                                          "--tokens", str(a.tokens), "--decode", str(a.decode + 1)]),
               Server(f"llama.cpp {lty}", node + [os.path.join(work, gguf), "--serve"] + common),
               Server(f"llama.cpp {lty} --flash-attn", node + [os.path.join(work, gguf), "--serve", "--flash-attn"] + common)]
    rounds = []
    try:
        for r in range(a.rounds):
            row = {"time": time.strftime("%H:%M:%S", time.gmtime())}
            if a.memory:
                row["memory read GB/s"], row["GEMV GB/s"] = memory_read(build, "BF16" if ty == "bf16" else "F32")
            order = servers[r % 3:] + servers[:r % 3]
            for s in order:
                row[s.name] = s.rate("decode_steps", a.decode, a.tokens if a.prompt else 0)
            rounds.append(row)
            print(json.dumps(row), flush=True)
        pages = {s.name: pages_of(build, m, s.p.pid) for s, m in zip(servers, models)}
    finally:
        for s in servers:
            s.close()
    medians = {s.name: statistics.median(x[s.name] for x in rounds) for s in servers}
    llama = max(servers[1:], key=lambda s: medians[s.name]).name  # the first on a tie
    for row in rounds:
        row["ratio"] = row[servers[0].name] / row[llama]
    ratios = [x["ratio"] for x in rounds]
    med = statistics.median(ratios)
    return {"type": ty, "llama_type": lty, "llama_setting": llama, "target": target, "rounds": rounds, "median_ratio": med,
            "met": med >= target, "rounds_met": sum(x >= target for x in ratios), "median_tok_s": medians, "pages": pages}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--types", default="f32,bf16", help="comma-separated: f32 (against llama.cpp F32), bf16 (against F16)")
    ap.add_argument("--tokens", type=int, default=128, help="prompt length before the decode steps")
    ap.add_argument("--decode", type=int, default=32, help="timed single-token steps per generation")
    ap.add_argument("--memory", action="store_true", help="measure the memory read bandwidth in every round too")
    ap.add_argument("--prompt", action="store_true", help="time the prompt (against llama.cpp F16), not the decode steps")
    ap.add_argument("--no-warm", action="store_true", help="leave the files in the page cache as they are")
    a = ap.parse_args()
    if a.prompt:
        a.decode = 1  # the steps are not timed; one keeps every program's generation short
    work = os.environ.get("SL_WORK", "/tmp/sl-bench")
    build = os.path.join(os.environ.get("SL_BUILD", os.path.join(ROOT, "build")), "bin")
    results = []
    for ty in a.types.split(","):
        if ty not in TARGETS:
            sys.exit(f"--types: {ty}: not f32 or bf16")
        results.append(run_pair(ty, a, work, build))
    for res in results:
        names = list(res["median_tok_s"])
        if a.prompt:
            print(f"\n{a.tokens}-token prompt, {res['type']} against llama.cpp {res['llama_type']}, {len(res['rounds'])} rounds (prompt tok/s):")
        else:
            print(f"\ndecode {res['type']} against llama.cpp {res['llama_type']}, {len(res['rounds'])} rounds, "
                  f"{a.tokens}-token prompt, {a.decode} steps (tok/s):")
        head = ["time"] + (["memory read GB/s", "GEMV GB/s"] if a.memory else []) + names + ["ratio"]
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        for row in res["rounds"]:
            cells = [row["time"]] + [f"{row[k]:.2f}" for k in head[1:]]
            print("| " + " | ".join(cells) + " |")
        print(f"ratio against {res['llama_setting']} (the faster median); "
              f"median ratio {res['median_ratio']:.2f}x (target >= {res['target']}x): "
              f"{'met' if res['met'] else 'not met'}, {res['rounds_met']} of {len(res['rounds'])} rounds; medians "
              + ", ".join(f"{k} {v:.2f}" for k, v in res["median_tok_s"].items()))
        print("pages at the end: " + "; ".join(f"{k} {pages_text(v)}" for k, v in res["pages"].items()))


if __name__ == "__main__":
    main()
