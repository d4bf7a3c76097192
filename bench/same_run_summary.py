#!/usr/bin/env python3
"""Issue 22's target table from one bench/same_run.sh output.

Each ratio is taken within a round, between programs that ran next to each
other (on a shared VM the memory and the cores change speed from one minute
to the next), then the median over the rounds is compared with the target.
Every program's rate is the median of its runs within the round (llama.cpp's
bench reports it that way); llama.cpp counts with flash attention off or on,
whichever setting has the higher median over the rounds (the faster of the
two in each round would give llama.cpp two draws against the others' one).
The share of the best GEMM compares best pass with best rate, as
bench_machine measures it. Decode against the memory read is measured
between two reads of memory, since the VM's memory changes speed within
seconds: "decode / memory read around each step" is bench_forward --read-pairs (each decode
step between two reads; the steps whose reads agree within 10 %; their
median), "decode GEMV alone / memory read around it" bench_machine
--memory-only (the engine's GEMV over 1 GiB in 2 MiB pages, each pass
between two reads, the same rule). Outputs from before these measurements
have neither row.

  python3 bench/same_run_summary.py /tmp/same_run.out [--json]

Outputs of the older same_run.sh (no rounds) read as one round. Standard
library only.
"""
import argparse
import json
import re
import statistics
import sys

STAMP = re.compile(r"^### (\d\d:\d\d:\d\d) load \S+ \S+ \S+ ?(.*)$")
ROUND = re.compile(r"^round (\d+) (.*)$")
TOGGLE = re.compile(r"^toggle on\s+->.*median ([0-9.]+) ms")


def parse(lines):
    """The output as a list of steps: {time, round, label, json, text}."""
    steps = []
    for line in lines:
        line = line.rstrip("\n")
        m = STAMP.match(line)
        if m:
            label = m.group(2).strip()
            r = ROUND.match(label)
            steps.append({"time": m.group(1), "round": int(r.group(1)) if r else None,
                          "label": r.group(2) if r else label, "json": None, "text": []})
            continue
        if not steps:
            continue
        if line.startswith("{"):
            try:
                steps[-1]["json"] = json.loads(line)
            except json.JSONDecodeError:
                steps[-1]["text"].append(line)
        else:
            steps[-1]["text"].append(line)
    return steps


def rounds_of(steps):
    """{round: {label: json}} for the measurements that are compared; an
    output without rounds is round 1."""
    has_rounds = any(s["round"] is not None for s in steps)
    out = {}
    for s in steps:
        if s["json"] is None:
            continue
        r = s["round"] if has_rounds else 1
        if r is None:
            continue
        key = s["label"]
        if key.startswith(("llama.cpp", "superlens", "pytorch", "memory")):
            out.setdefault(r, {})[key] = s["json"]
    return out


def rate(j, key):
    """The median rate where the program reports one, its only rate otherwise."""
    return j.get(key + "_median", j.get(key))


def llama_settings(rounds):
    """{(type, key): label}: llama.cpp's setting (flash attention off or on)
    with the higher median over the rounds; the first label on a tie."""
    out = {}
    for ty in ("f32", "f16"):
        for key in ("prompt_tok_s", "decode_tok_s"):
            per = {}
            for rd in rounds.values():
                for label, j in rd.items():
                    if label.startswith("llama.cpp " + ty) and j.get(key) is not None:
                        per.setdefault(label, []).append(j[key])
            if per:
                out[(ty, key)] = max(sorted(per), key=lambda label: statistics.median(per[label]))
    return out


def llama(rd, ty, key, settings):
    """llama.cpp's rate for type ty in this round, in the setting chosen over all rounds."""
    label = settings.get((ty, key))
    return rd[label].get(key) if label in rd else None


def gemv_share(mem, dtype):
    """bench_machine's decode GEMV alone on dtype weights in 2 MiB pages, as a
    share of the reads around it (the median over its passes whose two reads
    agree); None when no pass counted or the output predates it."""
    for g in mem.get("gemv", []):
        if g.get("dtype") == dtype and g.get("pages", "").startswith("2M") and g.get("kept"):
            return g["share_of_reads_around"]
    return None


def per_round(rd, machine, settings):
    """The measured values of one round, by target name."""
    f32, bf16 = rd.get("superlens tinyllama-f32"), rd.get("superlens tinyllama-bf16")
    torch, mem = rd.get("pytorch"), rd.get("memory")
    l16p = llama(rd, "f16", "prompt_tok_s", settings)
    l32d, l16d = llama(rd, "f32", "decode_tok_s", settings), llama(rd, "f16", "decode_tok_s", settings)
    v = {}

    def ratio(name, a, b):
        if a is not None and b:
            v[name] = a / b

    for dt, j in (("f32", f32), ("bf16", bf16)):
        if j is None:
            continue
        ratio(f"prompt {dt} / llama.cpp F16", rate(j, "forward_tok_s"), l16p)
        if torch:
            ratio(f"prompt {dt} / PyTorch fp32", rate(j, "forward_tok_s"), rate(torch, "forward_tok_s"))
        if machine:
            ratio(f"prompt {dt} GFLOP/s / best GEMM", j.get("gflops"), machine.get("best_gemm_gflops"))
        ratio(f"decode {dt} / llama.cpp " + ("F32" if dt == "f32" else "F16"), j.get("decode_tok_s"), l32d if dt == "f32" else l16d)
        pairs = j.get("read_pairs") or {}
        if pairs.get("kept"):
            v[f"decode {dt} / memory read around each step"] = pairs["ratio_median"]
    if mem:
        for dt in ("f32", "bf16"):
            share = gemv_share(mem, dt.upper())
            if share is not None:
                v[f"decode GEMV alone {dt} / memory read around it"] = share
    return v


def recording_overheads(rounds):
    """Recording overhead per dtype: the median of every adjacent pair's
    ratio over all rounds (one round's 3 pairs move by +-10 % on a VM); older
    outputs without the pairs give each round's median instead."""
    out = {}
    for dt in ("f32", "bf16"):
        pairs, medians = [], []
        for r in sorted(rounds):
            j = rounds[r].get(f"superlens tinyllama-{dt}")
            if not j:
                continue
            if j.get("recording_pair_ratios"):
                pairs += [x - 1.0 for x in j["recording_pair_ratios"]]
            elif "recording_overhead_paired_median" in j:
                medians.append(j["recording_overhead_paired_median"])
        if pairs or medians:
            out[f"recording overhead {dt}"] = pairs or medians
    return out


# name prefix -> (comparison, threshold)
TARGETS = [
    ("prompt f32 / llama.cpp F16", ">=", 1.5), ("prompt bf16 / llama.cpp F16", ">=", 1.5),
    ("prompt f32 / PyTorch fp32", ">=", 2.0), ("prompt bf16 / PyTorch fp32", ">=", 2.0),
    ("prompt f32 GFLOP/s / best GEMM", ">=", 0.75), ("prompt bf16 GFLOP/s / best GEMM", ">=", 0.75),
    ("decode bf16 / llama.cpp F16", ">=", 1.0), ("decode f32 / llama.cpp F32", ">=", 0.9),
    ("decode f32 / memory read around each step", ">=", 0.85), ("decode bf16 / memory read around each step", ">=", 0.85),
    ("decode GEMV alone f32 / memory read around it", ">=", 0.85), ("decode GEMV alone bf16 / memory read around it", ">=", 0.85),
    ("recording overhead f32", "<=", 0.05), ("recording overhead bf16", "<=", 0.05),
    ("GUI toggle median ms", "<=", 300.0), ("7B bf16 incremental s", "<=", 3.0),
    ("7B bf16 peak RSS over checkpoint GB", "<=", 2.0),
]


def meets(op, value, threshold):
    return value >= threshold if op == ">=" else value <= threshold


def summarise(lines):
    steps = parse(lines)
    machine = next((s["json"] for s in steps if s["label"] == "bench_machine" and s["json"]), None)
    rounds = rounds_of(steps)
    settings = llama_settings(rounds)
    values = {}  # target -> [value per round]
    for r in sorted(rounds):
        for k, x in per_round(rounds[r], machine, settings).items():
            values.setdefault(k, []).append(x)
    values.update(recording_overheads(rounds))
    for s in steps:
        if s["label"] == "gui_toggle":
            for t in s["text"]:
                m = TOGGLE.match(t)
                if m:
                    values["GUI toggle median ms"] = [float(m.group(1))]
        if s["label"] == "7b" and s["json"]:
            j = s["json"]
            values["7B bf16 incremental s"] = [j["incremental_seconds"]]
            values["7B bf16 peak RSS over checkpoint GB"] = [j["peak_rss_gb"] - j["checkpoint_gb"]]
    rows = []
    for name, op, threshold in TARGETS:
        if name not in values:
            continue
        xs = values[name]
        med = statistics.median(xs)
        rows.append({"target": name, "op": op, "threshold": threshold, "rounds": xs, "median": med,
                     "met": meets(op, med, threshold), "rounds_met": sum(meets(op, x, threshold) for x in xs)})
    rates = {}
    for r in sorted(rounds):
        rd = rounds[r]
        row = {}
        for label, j in rd.items():
            if label == "memory":
                row["memory read GB/s"] = j.get("read_gb_s_all_threads")
            elif label.startswith("llama.cpp"):
                row[label + " prompt"] = j.get("prompt_tok_s")
                row[label + " decode"] = j.get("decode_tok_s")
            else:
                row[label + " prompt"] = rate(j, "forward_tok_s")
                if "decode_tok_s" in j:
                    row[label + " decode"] = j["decode_tok_s"]
                pages = j.get("model_pages") or {}
                if pages.get("resident_mb"):  # decode reads faster through 2 MiB pages (bench/page_state.h)
                    row[label + " % in 2 MiB pages"] = 100 * pages["pmd_mb"] / pages["resident_mb"]
        rates[r] = row
    first = next((s["time"] for s in steps), None)
    last = steps[-1]["time"] if steps else None
    return {"cpu": machine.get("cpu") if machine else None, "from": first, "to": last,
            "best_gemm_gflops": machine.get("best_gemm_gflops") if machine else None,
            "best_gemm_core": machine.get("best_gemm_core") if machine else None,
            "targets": rows, "rates": rates}


def fmt(name, x):
    if name.startswith("recording"):
        return f"{100 * x:+.1f} %"
    if "ms" in name or name.endswith(" s") or name.endswith("GB"):
        return f"{x:.2f}" if x < 100 else f"{x:.1f}"
    if "best GEMM" in name or "memory read" in name:
        return f"{100 * x:.0f} %"
    return f"{x:.2f}x"


def print_markdown(s, out=sys.stdout):
    out.write(f"same run {s['from']}-{s['to']} UTC on {s['cpu']}; best GEMM {s['best_gemm_gflops'] or 0:.1f} GFLOP/s "
              f"({s['best_gemm_core']})\n\n")
    out.write("| target | per round (recording: per adjacent pair) | median | met |\n|---|---|---|---|\n")
    for r in s["targets"]:
        n = len(r["rounds"])
        per = ", ".join(fmt(r["target"], x) for x in r["rounds"])
        unit = "pairs" if r["target"].startswith("recording") else "rounds"
        verdict = ("yes" if r["met"] else "no") + (f" ({r['rounds_met']} of {n} {unit})" if n > 1 else "")
        out.write(f"| {r['target']} {r['op']} {fmt(r['target'], r['threshold'])} | {per} | "
                  f"{fmt(r['target'], r['median'])} | {verdict} |\n")
    labels = sorted({k for row in s["rates"].values() for k in row})
    if labels:
        out.write("\n| rate (tok/s; memory GB/s) | " + " | ".join(f"round {r}" for r in s["rates"]) + " |\n")
        out.write("|---|" + "---|" * len(s["rates"]) + "\n")
        for k in labels:
            cells = [s["rates"][r].get(k) for r in s["rates"]]
            out.write(f"| {k} | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells) + " |\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("output", help="what bench/same_run.sh printed")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    a = ap.parse_args()
    try:
        with open(a.output, encoding="utf-8", errors="replace") as f:
            s = summarise(f.readlines())
    except OSError as e:
        sys.exit(f"{a.output}: {e.strerror}")
    if not s["targets"]:
        sys.exit(f"{a.output}: no same_run.sh measurements in it")
    if a.json:
        print(json.dumps(s, indent=1))
    else:
        print_markdown(s)


if __name__ == "__main__":
    main()
