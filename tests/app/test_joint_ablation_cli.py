#!/usr/bin/python3
"""Joint ablation (issue 23) of super weights (`study superweight --joint`),
experts (`study experts --joint`) and massive activations (`study massive`),
against brute force: every subset the table reports (each item alone, all but
one, all, every pair) is run again by hand through `ppl --edit ...`, and the
singles, leave-one-out, all, pair and interaction entries are recomputed from
those perplexity passes; intervals are recomputed with an independent copy
of the fixed-seed window bootstrap (splitmix64, type-7 percentiles) from the
per-token NLLs `ppl --per-token` prints; the massive-activation means are
recomputed from `capture` of every window read back with h5py.

Fixtures: the Phi-3 reference checkpoint with two planted super weights in
one column (two massive-activation sites at BOS), Mixtral and OLMoE MoE
fixtures (8 experts per routed layer). Environment: SUPERLENS_BIN_DIR,
SUPERLENS_TEST_DATA."""
import itertools
import json
import math
import os
import random
import re
import sys
import tempfile

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bootstrap_reference import interval as bootstrap_interval  # noqa: E402
from cli_checks import check, expect_error, finish, run, run_json  # noqa: E402

DATA = os.environ["SUPERLENS_TEST_DATA"]
PHI3 = os.path.join(DATA, "reference", "phi3-bf16-two-super-weights")
MIXTRAL = os.path.join(DATA, "moe", "mixtral-bf16")
OLMOE = os.path.join(DATA, "moe", "olmoe-f32")
MOE_REFS = json.load(open(os.path.join(DATA, "moe", "refs.json")))
B = 200
LEVEL = 0.9
CTX = 8
EXACT = 1e-12      # the same passes: only the summation order differs
CI_TOL = 2e-5      # intervals from float32-printed token NLLs


def interval(n, statistic):
    return bootstrap_interval(n, statistic, B, LEVEL)


class Brute:
    """One `ppl` pass per edit set (cached): mean NLL and per-window sums."""

    def __init__(self, model, text):
        self.model, self.text, self.cache = model, text, {}

    def __call__(self, edits):
        key = tuple(edits)
        if key not in self.cache:
            args = ["ppl", self.model, "--text-ids", self.text, "--ctx", str(CTX), "--per-token", "--bootstrap", "0"]
            for e in edits:
                args += ["--edit", e]
            j = run_json(*args)
            if j is None:
                raise SystemExit(f"ppl failed: {args}")
            windows = max(j["token_index"]) // CTX + 1
            nll, tok = [0.0] * windows, [0] * windows
            for v, i in zip(j["token_nll"], j["token_index"]):
                nll[i // CTX] += v
                tok[i // CTX] += 1
            self.cache[key] = (j["nll"], nll, tok)
        return self.cache[key]


def mean_nll(w, c):
    return sum(a * b for a, b in zip(w[1], c)) / sum(a * b for a, b in zip(w[2], c))


def close_ci(got, want, what):
    ok = got is not None and len(got) == 2 and all(abs(g - x) <= CI_TOL for g, x in zip(got, want))
    check(ok, f"{what}: {got} vs brute force {want}")


def check_joint(jt, brute, item_edits, base, what, intervals=True):
    """Every entry of a joint table against passes made by hand. item_edits[i]: the edit texts of item i."""
    n = len(item_edits)
    check(jt["edits"] == item_edits, f"{what}: edits {jt['edits']} vs {item_edits}")
    check(len(jt["names"]) == n and len(jt["items"]) == n, f"{what}: {n} names and items")

    def nll(subset):
        return brute(base + [e for i in sorted(subset) for e in item_edits[i]])

    w0 = nll(())
    check(abs(jt["original_nll"] - w0[0]) <= EXACT, f"{what}: original_nll {jt['original_nll']} vs {w0[0]}")
    full = tuple(range(n))
    check(abs(jt["all"] - (nll(full)[0] - w0[0])) <= EXACT, f"{what}: all {jt['all']}")
    for i in range(n):
        single = nll((i,))[0] - w0[0]
        check(abs(jt["single"][i] - single) <= EXACT, f"{what}: single[{i}] {jt['single'][i]} vs {single}")
        loo = nll(tuple(k for k in full if k != i))[0] - w0[0]
        check(abs(jt["leave_one_out"][i] - loo) <= EXACT, f"{what}: leave_one_out[{i}] {jt['leave_one_out'][i]} vs {loo}")
        check(jt["pair"][i][i] == jt["single"][i] and jt["interaction"][i][i] == 0.0 and jt["interaction_ci"][i][i] is None,
              f"{what}: diagonal {i}")
    for i, k in itertools.combinations(range(n), 2):
        pair = nll((i, k))[0] - w0[0]
        inter = nll((i, k))[0] - nll((i,))[0] - nll((k,))[0] + w0[0]
        for a, b in ((i, k), (k, i)):
            check(abs(jt["pair"][a][b] - pair) <= EXACT, f"{what}: pair[{a}][{b}] {jt['pair'][a][b]} vs {pair}")
            check(abs(jt["interaction"][a][b] - inter) <= EXACT, f"{what}: interaction[{a}][{b}] {jt['interaction'][a][b]} vs {inter}")
    if not intervals:
        check(jt["all_ci"] is None and all(c is None for c in jt["single_ci"]), f"{what}: intervals without --bootstrap")
        return
    windows = len(w0[1])
    for i in range(n):
        wi = nll((i,))
        close_ci(jt["single_ci"][i], interval(windows, lambda c: mean_nll(wi, c) - mean_nll(w0, c)), f"{what}: single_ci[{i}]")
        wl = nll(tuple(k for k in full if k != i))
        close_ci(jt["leave_one_out_ci"][i], interval(windows, lambda c: mean_nll(wl, c) - mean_nll(w0, c)), f"{what}: leave_one_out_ci[{i}]")
    wa = nll(full)
    close_ci(jt["all_ci"], interval(windows, lambda c: mean_nll(wa, c) - mean_nll(w0, c)), f"{what}: all_ci")
    if n >= 2:
        wp, w_0, w_1 = nll((0, 1)), nll((0,)), nll((1,))
        want = interval(windows, lambda c: mean_nll(wp, c) - mean_nll(w_0, c) - mean_nll(w_1, c) + mean_nll(w0, c))
        close_ci(jt["interaction_ci"][0][1], want, f"{what}: interaction_ci[0][1]")
        check(jt["interaction_ci"][1][0] == jt["interaction_ci"][0][1], f"{what}: interaction_ci symmetric")


rng = random.Random(2323)
with tempfile.TemporaryDirectory() as tmp:
    ids = [1] + [rng.randrange(3, 128) for _ in range(79)]  # 10 windows of 8
    text = os.path.join(tmp, "text.ids")
    with open(text, "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    opts = ["--ctx", str(CTX), "--bootstrap", str(B), "--ci", str(LEVEL)]

    # --- super weights: the two planted ones and an ordinary weight (n = 3) ----------------
    brute = Brute(PHI3, text)
    j = run_json("study", "superweight", PHI3, "--text-ids", text, "--super-weights", "1:8:42;1:50:42;2:3:5", "--no-tasks",
                 "--no-stopwords", "--joint", *opts)
    if j is not None:
        jt = j["joint"]
        # The super-weight JSON keeps its fields (a GUI table reads them); "names" and "edits" are added.
        check(set(jt) == {"items", "unit", "original_nll", "single", "single_ci", "leave_one_out", "leave_one_out_ci", "all", "all_ci",
                          "pair", "interaction", "interaction_ci", "names", "edits"}, f"superweight joint keys {sorted(jt)}")
        check(jt["items"] == [{"layer": 1, "row": 8, "col": 42}, {"layer": 1, "row": 50, "col": 42}, {"layer": 2, "row": 3, "col": 5}],
              f"superweight items {jt['items']}")
        check(jt["names"] == ["1:8:42", "1:50:42", "2:3:5"], f"superweight names {jt['names']}")
        check([re.search(r"layers\.(\d+)\..*\[(\d+),(\d+)\]=0$", e[0]).groups() for e in jt["edits"]] == [("1", "8", "42"), ("1", "50", "42"), ("2", "3", "5")],
              f"superweight edits {jt['edits']}")
        check_joint(jt, brute, jt["edits"], [], "superweight")
        check(abs(jt["all"] - (j["conditions"][1]["nll"] - j["conditions"][0]["nll"])) <= EXACT, "superweight: all = sw_zeroed")
        check("| all but 1:8:42 |" in j["markdown"] and "Pairwise interaction" in j["markdown"], "superweight markdown")

    # --- experts: four given experts of Mixtral (n = 4: leave-one-out differs from the pairs) ---------
    mix_ids = ",".join(map(str, MOE_REFS["mixtral-bf16"]["ids"]))
    brute = Brute(MIXTRAL, text)
    given = [(0, 1), (1, 0), (1, 3), (2, 5)]
    j = run_json("study", "experts", MIXTRAL, "--text-ids", text, "--ids", mix_ids, "--no-stopwords", "--no-tasks",
                 "--experts", ";".join(f"{l}:{e}" for l, e in given), "--joint", *opts)
    if j is not None:
        jt = j["joint"]
        edits = [[f"expert:{l}:{e}=off"] for l, e in given]
        check(jt["items"] == [{"layer": l, "expert": e} for l, e in given], f"experts items {jt['items']}")
        check(jt["names"] == [f"L{l}:E{e}" for l, e in given], f"experts names {jt['names']}")
        check(j["experts_given"] is True and [[x["layer"], x["expert"]] for x in j["ablated_experts"]] == [list(g) for g in given],
              "experts: the given experts are the ones ablated")
        keys = [c["key"] for c in j["conditions"]]
        check(keys == ["original"] + [f"expert_{l}_{e}" for l, e in given] + ["all_given", "random_control"], f"experts keys {keys}")
        control = j["conditions"][-1]["edits"]
        check(len(control) == 4 and not set(control) & {e[0] for e in edits}, f"experts: control {control} avoids the given experts")
        check_joint(jt, brute, edits, [], "experts")
        # The singles and "all" are the study's own conditions.
        for i in range(4):
            check(abs(jt["single"][i] - (j["conditions"][i + 1]["nll"] - j["conditions"][0]["nll"])) <= EXACT, f"experts: single {i} = condition")
        # Intervals of the conditions: perplexity and its paired ratio.
        w0 = brute(())
        for c in j["conditions"][:2]:
            w = brute(tuple(c["edits"]))
            close_ci([math.log(x) for x in c["ppl_ci"]], interval(len(w[1]), lambda k: mean_nll(w, k)), f"experts {c['key']} ppl_ci (log)")
            close_ci([math.log(x) for x in c["ppl_ratio_ci"]], interval(len(w[1]), lambda k: mean_nll(w, k) - mean_nll(w0, k)),
                     f"experts {c['key']} ppl_ratio_ci (log)")
        check("| all but L0:E1 |" in j["markdown"], "experts markdown has the joint table")
    # Without --experts: the flagged super experts (OLMoE: one, so the joint has one item and no pairs).
    brute = Brute(OLMOE, text)
    j = run_json("study", "experts", OLMOE, "--text-ids", text, "--ids", ",".join(map(str, MOE_REFS["olmoe-f32"]["ids"])),
                 "--no-stopwords", "--no-tasks", "--joint", "--ctx", str(CTX), "--bootstrap", "0")
    if j is not None:
        sup = MOE_REFS["olmoe-f32"]["expert_profile"]["super_experts"]
        check(j["experts_given"] is False and [[x["layer"], x["expert"]] for x in j["ablated_experts"]] == sup, f"olmoe ablated {j['ablated_experts']}")
        check_joint(j["joint"], brute, [[f"expert:{l}:{e}=off"] for l, e in sup], [], "olmoe flagged", intervals=False)
        check(j["ci"] is None and j["conditions"][0]["ppl_ci"] is None, "olmoe: --bootstrap 0 gives no intervals")
    j = run_json("study", "experts", OLMOE, "--text-ids", text, "--ids", ",".join(map(str, MOE_REFS["olmoe-f32"]["ids"])),
                 "--no-stopwords", "--no-tasks", "--ctx", str(CTX))
    check(j is not None and j["joint"] is None, "experts: no joint table unless asked")
    expect_error(1, "study", "experts", MIXTRAL, "--text-ids", text, "--ctx", str(CTX), "--no-stopwords", "--no-tasks",
                 "--experts", "1:9", "--joint", mention="not a routed expert")
    expect_error(1, "study", "experts", MIXTRAL, "--text-ids", text, "--ctx", str(CTX), "--no-stopwords", "--no-tasks",
                 "--experts", "1:2;1:2", mention="listed twice")
    expect_error(2, "study", "experts", MIXTRAL, "--text-ids", text, "--ctx", str(CTX), "--no-stopwords", "--no-tasks",
                 "--experts", "1", mention="LAYER:EXPERT")

    # --- massive activations: the Phi-3 fixture's two planted sites, zero and mean -------------------
    # Every window starts with BOS (as --bos-windows makes them), where the planted sites fire.
    ids = [1 if i % CTX == 0 else t for i, t in enumerate(ids)]
    bos_text = os.path.join(tmp, "bos.ids")
    with open(bos_text, "w") as f:
        f.write(" ".join(map(str, ids)) + "\n")
    brute = Brute(PHI3, bos_text)
    j = run_json("study", "massive", PHI3, "--text-ids", bos_text, *opts)
    if j is not None:
        sites = j["sites"]
        check([(s["layer"], s["token"], s["channel"]) for s in sites] == [(1, 0, 8), (1, 0, 50)], f"massive sites {sites}")
        # The means: blocks.1.hook_resid_post[0, c] of every window's own pass, captured and read back.
        values = {s["channel"]: [] for s in sites}
        for w in range(len(ids) // CTX):
            out = os.path.join(tmp, f"w{w}.h5")
            code, _, err = run("capture", PHI3, "--ids", ",".join(map(str, ids[w * CTX:(w + 1) * CTX])), "--hooks", "blocks.1.hook_resid_post",
                               "--out", out)
            check(code == 0, f"capture window {w}: {err}")
            with h5py.File(out, "r") as f:
                names = []
                f.visit(names.append)
                data = f[[n for n in names if n.endswith("blocks.1.hook_resid_post")][0]][()]
            data = data.reshape(-1, data.shape[-1])
            for c in values:
                values[c].append(float(data[0, c]))
        for s in sites:
            want = sum(values[s["channel"]]) / len(values[s["channel"]])
            check(s["mean"] == want and s["mean_windows"] == 10, f"massive mean of channel {s['channel']}: {s['mean']} vs {want}")
            check(s["ratio"] >= 100, f"massive site {s['channel']}: ratio {s['ratio']}")
            check(s["zero_edit"] == f"blocks.1.hook_resid_post[0,{s['channel']}]=0", f"zero edit {s['zero_edit']}")
            m = re.fullmatch(r"blocks\.1\.hook_resid_post\[0,(\d+)\]=(.+)", s["mean_edit"])
            check(m is not None and float(m.group(2)) == s["mean"], f"mean edit {s['mean_edit']}")
        check(j["zero"]["items"] == [{"layer": 1, "token": 0, "channel": s["channel"]} for s in sites], "massive items")
        check_joint(j["zero"], brute, [[s["zero_edit"]] for s in sites], [], "massive zero")
        check_joint(j["mean"], brute, [[s["mean_edit"]] for s in sites], [], "massive mean")
        # Sun et al.'s pattern: a site at BOS is the same in every window (position 0 sees only BOS), so its mean is
        # its value and setting it changes nothing, while zeroing it does.
        for s in sites:
            check(abs(s["mean"] - s["value"]) <= 1e-6 * abs(s["value"]), f"massive: mean {s['mean']} of a BOS site vs its value {s['value']}")
        check(j["mean"]["all"] == 0.0 and j["mean"]["single"] == [0.0, 0.0], f"massive mean effects {j['mean']['all']}")
        check(abs(j["zero"]["all"]) > 1e-3 and j["notes"] == [], f"massive zero {j['zero']['all']}, notes {j['notes']}")
        check(math.isclose(j["original_ppl"], math.exp(brute(())[0]), rel_tol=1e-12), "massive original ppl")
        check("### Set to zero" in j["markdown"] and "### Set to the mean" in j["markdown"], "massive markdown")
    # Windows that do not start with BOS: the note says the mean mixes tokens.
    one = run_json("study", "massive", PHI3, "--text-ids", text, "--ctx", str(CTX), "--bootstrap", "0", "--max-sites", "1")
    check(one is not None and len(one["sites"]) == 1 and one["sites"][0]["channel"] == 8 and any("--max-sites" in n for n in one["notes"])
          and any("9 of 10 windows hold another token" in n for n in one["notes"]), f"massive --max-sites 1 / notes: {one and one['notes']}")
    expect_error(1, "study", "massive", PHI3, "--text-ids", text, "--ctx", str(CTX), "--massive-ratio", "1e9", mention="no massive activation")
    expect_error(2, "study", "massive", PHI3, "--text-ids", text, "--max-sites", "17")

finish("joint ablation: super weights, experts and massive activations equal their brute-force passes")
