#!/usr/bin/python3
"""Confidence intervals of the standalone `ppl`, `stopwords` and `zeroshot`
commands (--ci, --bootstrap; `<name>_ci` in JSON, the interval in the text).

Every interval is recomputed here by brute force from the per-unit numbers
the command prints (per-token NLLs grouped into their windows, per-window
stopword masses, per-task predictions): the same fixed-seed resampler
(splitmix64, index = high 64 bits of x * n), each replicate's statistic, and
numpy's type-7 percentiles, written independently of core. The study's
intervals of the same text must equal the standalone ones (one rule).
Standard library only.
"""
import json
import math
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bootstrap_reference import SEED, interval as bootstrap_interval  # noqa: E402
from cli_checks import check, expect_error, finish, run, run_json  # noqa: E402

MODEL = os.path.join(os.environ["SUPERLENS_TEST_DATA"], "reference", "llama-planted")
B = 300      # resamples
LEVEL = 0.9
CTX = 8
SUPER_WEIGHT = "model.layers.1.mlp.down_proj.weight[13,57]=0"  # the planted super weight


def interval(n, statistic):
    return bootstrap_interval(n, statistic, B, LEVEL)


def wsum(values, counts):
    return sum(c * v for c, v in zip(counts, values))


def close(got, want, what, rel=1e-6):
    ok = got is not None and len(got) == 2 and all(abs(g - w) <= rel * max(1.0, abs(w)) for g, w in zip(got, want))
    check(ok, f"{what}: {got} vs brute force {want}")


rng = random.Random(23)
with tempfile.TemporaryDirectory() as tmp:
    ids = [1] + [rng.randrange(3, 256) for _ in range(79)]  # 10 windows of 8
    text = os.path.join(tmp, "text.ids")
    with open(text, "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    opts = ["--ctx", str(CTX), "--bootstrap", str(B), "--ci", str(LEVEL)]

    # --- ppl: windows of per-token NLLs ---------------------------------------
    j = run_json("ppl", MODEL, "--text-ids", text, "--per-token", *opts)
    if j is not None:
        windows = len(ids) // CTX
        nll, tok = [0.0] * windows, [0] * windows
        for v, i in zip(j["token_nll"], j["token_index"]):
            nll[i // CTX] += v
            tok[i // CTX] += 1
        want = interval(windows, lambda c: math.exp(wsum(nll, c) / wsum(tok, c)))
        close(j["ppl_ci"], want, "ppl_ci", rel=1e-5)  # token NLLs are printed as float32
        check(j["ppl_ci"][0] <= j["ppl"] <= j["ppl_ci"][1], f"ppl {j['ppl']} outside its interval {j['ppl_ci']}")
        check(j["ci"] == {"level": LEVEL, "resamples": B, "seed": SEED}, f"ppl ci {j['ci']}")
        code, out, _ = run("ppl", MODEL, "--text-ids", text, *opts)
        check(code == 0 and "(90% CI)" in out and f"{j['ppl_ci'][0]:.6g}" in out, f"ppl text output lacks the interval: {out!r}")
        off = run_json("ppl", MODEL, "--text-ids", text, "--ctx", str(CTX), "--bootstrap", "0")
        check(off is not None and off["ppl_ci"] is None and off["ci"] is None, "ppl --bootstrap 0 still has an interval")
        # One rule: the study's original condition has the same interval.
        s = run_json("study", "superweight", MODEL, "--text-ids", text, "--super-weights", "1:13:57", "--no-tasks",
                     "--stopword-ids", "3,4,5,6,7,8,9,10", *opts)
        if s is not None:
            check(s["conditions"][0]["ppl_ci"] == j["ppl_ci"], f"study ppl_ci {s['conditions'][0]['ppl_ci']} != ppl's {j['ppl_ci']}")

    # --- stopwords: per-window masses, the ratio paired -------------------------
    stop = ",".join(str(i) for i in range(3, 40))
    j = run_json("stopwords", MODEL, "--text-ids", text, "--stopword-ids", stop, "--edit", SUPER_WEIGHT, *opts)
    if j is not None:
        m0, m1, pos = j["window_mass_original"], j["window_mass_edited"], j["window_positions"]
        n = len(pos)
        check(n == len(ids) // CTX and sum(pos) == j["positions"], f"stopwords windows {n}, positions {sum(pos)} vs {j['positions']}")
        check(abs(sum(m0) / sum(pos) - j["original_mass"]) <= 1e-9, "window masses do not sum to original_mass")
        check(abs(sum(m1) / sum(pos) - j["edited_mass"]) <= 1e-9, "window masses do not sum to edited_mass")
        close(j["original_mass_ci"], interval(n, lambda c: wsum(m0, c) / wsum(pos, c)), "original_mass_ci")
        close(j["edited_mass_ci"], interval(n, lambda c: wsum(m1, c) / wsum(pos, c)), "edited_mass_ci")
        close(j["ratio_ci"], interval(n, lambda c: wsum(m1, c) / wsum(m0, c)), "ratio_ci (paired)")
        code, out, _ = run("stopwords", MODEL, "--text-ids", text, "--stopword-ids", stop, "--edit", SUPER_WEIGHT, *opts)
        check(code == 0 and out.count("(90% CI)") == 3, f"stopwords text output lacks the intervals: {out.splitlines()[:1]}")

    # --- zeroshot: per-task correctness --------------------------------------
    tasks = os.path.join(tmp, "tasks.jsonl")
    with open(tasks, "w") as f:
        for _ in range(40):
            ctx = [1] + [rng.randrange(3, 256) for _ in range(rng.randrange(3, 7))]
            choices = [[rng.randrange(3, 256) for _ in range(rng.randrange(1, 3))] for _ in range(4)]
            f.write(json.dumps({"context_ids": ctx, "choices_ids": choices, "gold": rng.randrange(4)}) + "\n")
    j = run_json("zeroshot", MODEL, "--tasks", tasks, "--bootstrap", str(B), "--ci", str(LEVEL))
    if j is not None:
        for key, preds in (("accuracy", j["predictions"]), ("accuracy_norm", j["predictions_norm"])):
            a = [1.0 if p == g else 0.0 for p, g in zip(preds, j["gold"])]
            close(j[key + "_ci"], interval(len(a), lambda c: wsum(a, c) / len(a)), key + "_ci")
        code, out, _ = run("zeroshot", MODEL, "--tasks", tasks, "--bootstrap", str(B), "--ci", str(LEVEL))
        check(code == 0 and out.count("(90% CI)") == 2, f"zeroshot text output lacks the intervals: {out!r}")

    expect_error(2, "ppl", MODEL, "--text-ids", text, "--ci", "1.5")
    expect_error(2, "zeroshot", MODEL, "--tasks", tasks, "--bootstrap", "-1")

finish("measure intervals: OK")
