#!/usr/bin/python3
"""CLI contracts of the analysis commands (scan, ppl, stopwords, zeroshot,
study): JSON shape per DESIGN.md, exact super weights on the reference models,
numbers against float64 values computed here from refs.json, exit codes and
one-line errors. Standard library only (run with /usr/bin/python3).

Environment: SUPERLENS_BIN_DIR, SUPERLENS_TEST_DATA, SUPERLENS_SOURCE_DIR.
"""
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, expect_error, finish, run, run_json  # noqa: E402

MODELS = os.environ["SUPERLENS_TEST_DATA"]
REF = os.path.join(MODELS, "reference")
STORIES = os.path.join(MODELS, "stories260K")
with open(os.path.join(REF, "refs.json")) as f:
    REFS = json.load(f)
with open(os.path.join(STORIES, "reference.json")) as f:
    STORIES_REF = json.load(f)


def log_softmax(row):
    m = max(row)
    s = sum(math.exp(x - m) for x in row)
    return [x - m - math.log(s) for x in row]


def ids_arg(ids):
    return ",".join(str(i) for i in ids)


# --- scan: exact planted coordinates, massive activation at token 0 ----------
for name, ref in REFS.items():
    model = os.path.join(REF, name)
    j = run_json("scan", model, "--ids", ids_arg(ref["ids"]))
    if j is None:
        continue
    check(set(j.keys()) >= {"super_weights", "massive_activations"}, f"scan {name}: keys {sorted(j.keys())}")
    got = sorted((s["layer"], s["row"], s["col"]) for s in j["super_weights"])
    want = sorted(tuple(c) for c in ref["planted"])
    check(got == want, f"scan {name}: super weights {got}, planted {want}")
    for s in j["super_weights"]:
        check({"layer", "row", "col", "value", "down_in", "down_out"} <= set(s), f"scan {name}: super weight fields {sorted(s)}")
        hook_in = ref["hooks"][f"blocks.{s['layer']}.mlp.hook_post"][0][s["col"]]
        check(abs(s["down_in"] - hook_in) <= 1e-4 * abs(hook_in), f"scan {name}: down_in {s['down_in']} vs reference {hook_in}")
    for m in j["massive_activations"]:
        check({"layer", "token", "channel", "value", "ratio"} <= set(m), f"scan {name}: massive fields {sorted(m)}")
        flat = [abs(v) for row in ref["hooks"][f"blocks.{m['layer']}.hook_resid_post"] for v in row]
        flat.sort()
        n = len(flat)
        med = flat[n // 2] if n % 2 else 0.5 * (flat[n // 2 - 1] + flat[n // 2])
        want_value = ref["hooks"][f"blocks.{m['layer']}.hook_resid_post"][m["token"]][m["channel"]]
        check(abs(m["value"] - want_value) <= 1e-4 * abs(want_value), f"scan {name}: massive value")
        check(abs(m["ratio"] - abs(want_value) / med) <= 1e-3 * m["ratio"], f"scan {name}: ratio {m['ratio']} vs {abs(want_value) / med}")
    for layer, row, col in ref["planted"]:
        hit = any(m["token"] == 0 and m["channel"] == row and m["layer"] == layer for m in j["massive_activations"])
        check(hit, f"scan {name}: no massive activation at token 0, channel {row}, layer {layer}")
    if not ref["planted"]:
        check(j["massive_activations"] == [], f"scan {name}: massive activations on an unplanted model")
    check(j["published"] is None, f"scan {name}: reference model matched a published entry")
    check(len(j["iterations"]) == len(ref["planted"]) + 1, f"scan {name}: iterations {j['iterations']}")

# Without --ids on a model without tokenizer: one clear error asking for --ids.
expect_error(1, "scan", os.path.join(REF, "llama-planted"), mention="--ids")
expect_error(1, "scan", os.path.join(REF, "llama-planted"), "--json", mention="--ids")

# The trained negative control, on the bundled default prompts (its own tokenizer).
j = run_json("scan", STORIES)
if j is not None:
    check(j["super_weights"] == [], f"scan stories260K: {j['super_weights']}")
    check(j["massive_activations"] == [], "scan stories260K: massive activations")
    check(j["prompts"] >= 5, f"scan stories260K: default prompt set has {j['prompts']} prompts")
for p in STORIES_REF["prompts"]:
    j = run_json("scan", STORIES, "--prompt", p["text"])
    if j is not None:
        check(j["ids"] == p["ids"], "scan stories260K: prompt ids")
        check(j["super_weights"] == [], "scan stories260K: super weights on a reference prompt")

# Consistency over --prompts and a user edit that removes the planted weight.
with tempfile.TemporaryDirectory() as tmp:
    j = run_json("scan", os.path.join(REF, "llama-planted"), "--ids", "1,5,77", "--edit",
                 "model.layers.1.mlp.down_proj.weight[13,57]=0")
    if j is not None:
        check(j["super_weights"] == [] and j["massive_activations"] == [], "scan with the super weight zeroed by --edit")
    # Usage errors: exit 2.
    expect_error(2, "scan", os.path.join(REF, "llama-planted"), "--ids", "1,2", "--prompt", "x")
    expect_error(2, "scan")
    expect_error(2, "scan", os.path.join(REF, "llama-planted"), "--ids", "1", "--output-ratio", "-3")
    expect_error(1, "scan", os.path.join(tmp, "missing"), "--ids", "1")
    expect_error(1, "scan", os.path.join(REF, "llama-planted"), "--ids", "1,99999")
    expect_error(1, "scan", os.path.join(REF, "llama-planted"), "--ids", "1,2", "--edit", "model.layers.9.mlp.down_proj.weight[0,0]=0")

    # --- ppl -------------------------------------------------------------
    ref = REFS["llama-planted"]
    idsfile = os.path.join(tmp, "ids.txt")
    with open(idsfile, "w") as f:
        f.write(" ".join(str(i) for i in ref["ids"]) + "\n")
    j = run_json("ppl", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--per-token")
    if j is not None:
        check({"ppl", "nll", "tokens"} <= set(j), f"ppl keys {sorted(j)}")
        nll = [-log_softmax(ref["logits_all"][k - 1])[ref["ids"][k]] for k in range(1, len(ref["ids"]))]
        want = sum(nll) / len(nll)
        check(abs(j["nll"] - want) < 1e-4, f"ppl nll {j['nll']} vs float64 {want}")
        check(abs(j["ppl"] - math.exp(want)) < 1e-4 * math.exp(want), "ppl value")
        check(j["tokens"] == len(ref["ids"]) - 1, "ppl token count")
        check(len(j["token_nll"]) == len(nll) and all(abs(a - b) < 1e-4 for a, b in zip(j["token_nll"], nll)), "ppl per-token NLL")
    for p in STORIES_REF["prompts"]:
        textfile = os.path.join(tmp, "story.txt")
        with open(textfile, "w") as f:
            f.write(p["text"])
        j = run_json("ppl", STORIES, "--text", textfile)
        if j is not None:
            check(abs(j["nll"] - p["mean_nll_next_token"]) < 1e-4, f"ppl stories: {j['nll']} vs reference {p['mean_nll_next_token']}")
    # --bos-windows: the text (without BOS) in --ctx windows that each start
    # with BOS scores exactly like the same windows given as ids.
    story = os.path.join(tmp, "story.txt")
    with open(story, "w") as f:
        f.write(" ".join(p["text"] for p in STORIES_REF["prompts"]))
    body = run_json("tokenize", STORIES, "--prompt", open(story).read())["ids"][1:]
    windows = []
    for i in range(0, len(body), 15):
        windows += [1] + body[i:i + 15]
    winfile = os.path.join(tmp, "windows.txt")
    with open(winfile, "w") as f:
        f.write(ids_arg(windows))
    a = run_json("ppl", STORIES, "--text", story, "--ctx", "16", "--bos-windows")
    b = run_json("ppl", STORIES, "--text-ids", winfile, "--ctx", "16")
    if a is not None and b is not None:
        check(a["tokens"] == len(body) and a["nll"] == b["nll"], f"ppl --bos-windows {a} vs ids {b}")
    expect_error(1, "ppl", STORIES, "--text", story, "--ctx", "16", "--stride", "8", "--bos-windows", mention="--stride")
    j = run_json("ppl", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--ctx", "4", "--stride", "2")
    if j is not None:
        check(j["tokens"] == len(ref["ids"]) - 1 and j["windows"] == 4, f"ppl sliding windows: {j}")
    expect_error(2, "ppl", os.path.join(REF, "llama-planted"))
    expect_error(2, "ppl", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--ctx", "4", "--stride", "5")
    expect_error(1, "ppl", os.path.join(REF, "llama-planted"), "--text", textfile, mention="tokenizer")
    expect_error(1, "ppl", STORIES, "--text", os.path.join(tmp, "nope.txt"), mention="nope.txt")
    bad_ids = os.path.join(tmp, "bad.txt")
    with open(bad_ids, "w") as f:
        f.write("1, 2, x")
    expect_error(1, "ppl", os.path.join(REF, "llama-planted"), "--text-ids", bad_ids, mention="bad.txt")

    # --- stopwords -------------------------------------------------------
    stop = [2, 5, 12, 77]
    edit = ref["edited"]["edit"]
    j = run_json("stopwords", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--stopword-ids", ids_arg(stop), "--edit", edit)
    if j is not None:
        check({"original_mass", "edited_mass", "ratio", "top_movers"} <= set(j), f"stopwords keys {sorted(j)}")
        mass = 0.0
        for k in range(len(ref["ids"]) - 1):
            ls = log_softmax(ref["logits_all"][k])
            mass += sum(math.exp(ls[s]) for s in stop)
        mass /= len(ref["ids"]) - 1
        check(abs(j["original_mass"] - mass) < 1e-5, f"stopwords mass {j['original_mass']} vs float64 {mass}")
        check(abs(j["ratio"] - j["edited_mass"] / j["original_mass"]) < 1e-9, "stopwords ratio")
        check(j["edits"] == [edit], "stopwords edits echoed")
    text = os.path.join(tmp, "kjv.txt")
    with open(text, "w") as f:
        f.write("Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her mom.\n")
    j = run_json("stopwords", STORIES, "--text", text)
    if j is not None:
        check(j["ratio"] == 1.0, "stopwords without edits: ratio 1")
        check(j["stopword_ids"] > 10, "stopwords: bundled English list maps to tokens")
        check(all("token" in m for m in j["top_movers"]), "stopwords: movers carry token text")
    words = os.path.join(tmp, "words.txt")
    with open(words, "w") as f:
        f.write("# mine\nthe\nand\n")
    j = run_json("stopwords", STORIES, "--text", text, "--stopwords", words, "--edit", "model.layers.0.mlp.down_proj.weight[*,5]=0")
    if j is not None:
        check(j["ratio"] != 1.0, "stopwords with an edit moves the mass")
    expect_error(1, "stopwords", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, mention="--stopword-ids")
    expect_error(1, "stopwords", STORIES, "--text", text, "--stopwords", os.path.join(tmp, "nowords.txt"))

    # --- zeroshot --------------------------------------------------------
    tasks = os.path.join(tmp, "tasks.jsonl")
    k = 5
    ids = ref["ids"]
    with open(tasks, "w") as f:
        f.write(json.dumps({"context_ids": ids[:k], "choices_ids": [ids[k:], [7], [ids[k]]], "gold": 2}) + "\n")
    j = run_json("zeroshot", os.path.join(REF, "llama-planted"), "--tasks", tasks)
    if j is not None:
        check({"accuracy", "accuracy_norm", "count"} <= set(j), f"zeroshot keys {sorted(j)}")
        ll0 = sum(log_softmax(ref["logits_all"][t - 1])[ids[t]] for t in range(k, len(ids)))
        ll1 = log_softmax(ref["logits_all"][k - 1])[7]
        ll2 = log_softmax(ref["logits_all"][k - 1])[ids[k]]
        got = j["log_likelihoods"][0]
        check(all(abs(a - b) < 1e-4 for a, b in zip(got, [ll0, ll1, ll2])), f"zeroshot log-likelihoods {got} vs {[ll0, ll1, ll2]}")
        pred = max(range(3), key=lambda i: [ll0, ll1, ll2][i])
        check(j["accuracy"] == (1.0 if pred == 2 else 0.0), "zeroshot accuracy")
    j = run_json("zeroshot", STORIES)
    if j is not None:
        check(j["count"] >= 30 and 0 <= j["accuracy"] <= 1 and 0 <= j["accuracy_norm"] <= 1, f"zeroshot bundled: {j['count']}")
    expect_error(1, "zeroshot", os.path.join(REF, "llama-planted"), mention="tokenizer")
    badtasks = os.path.join(tmp, "bad.jsonl")
    with open(badtasks, "w") as f:
        f.write('{"context": "a", "choices": ["b", "c"], "gold": 5}\n')
    expect_error(1, "zeroshot", STORIES, "--tasks", badtasks, mention="bad.jsonl:1")

    # --- study superweight -----------------------------------------------
    j = run_json("study", "superweight", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--tasks", tasks,
                 "--stopword-ids", ids_arg(stop), "--ctx", "8", "--stride", "4")
    if j is not None:
        keys = [c["key"] for c in j["conditions"]]
        check(keys == ["original", "sw_zeroed", "sw_zeroed_sa_restored", "outliers_zeroed"], f"study conditions {keys}")
        check([(s["layer"], s["row"], s["col"]) for s in j["super_weights"]] == [(1, 13, 57)], "study super weights")
        check(len(j["outliers"]) == 1 and (j["outliers"][0]["row"], j["outliers"][0]["col"]) != (13, 57), "study outliers")
        for c in j["conditions"]:
            check({"ppl", "nll", "zero_shot", "stopwords"} <= set(c), f"study condition keys {sorted(c)}")
        check(j["conditions"][0]["stopwords"]["ratio"] == 1.0, "study: original stopword ratio is 1")
        check("| original |" in j["markdown"], "study: markdown table")
        # Each condition's perplexity equals `ppl` with the same edits.
        for c in j["conditions"]:
            args = ["ppl", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--ctx", "8", "--stride", "4"]
            for e in c["edits"]:
                args += ["--edit", e]
            p = run_json(*args)
            if p is not None:
                check(abs(p["nll"] - c["nll"]) < 1e-9, f"study {c['key']}: nll {c['nll']} vs ppl {p['nll']}")
        # Intervals beside each value (default 95%, 1000 resamples), containing the value.
        check(j["ci"] == {"level": 0.95, "resamples": 1000, "seed": j["ci"]["seed"]}, f"study ci options {j['ci']}")
        for c in j["conditions"]:
            for value, ci in ((c["ppl"], c["ppl_ci"]), (c["stopwords"]["mass"], c["stopwords"]["mass_ci"]),
                              (c["zero_shot"]["accuracy"], c["zero_shot"]["accuracy_ci"]), (c["ppl_ratio"], c["ppl_ratio_ci"])):
                check(isinstance(ci, list) and len(ci) == 2 and ci[0] <= value <= ci[1], f"study {c['key']}: {value} in {ci}")
        check(j["conditions"][0]["ppl_ratio_ci"] == [1.0, 1.0], "study: the original's ratio interval is [1, 1]")
        check("null" not in j["conditions"][1] and j["joint"] is None, "study: no null control or joint table unless asked")
    # --null K and --joint on the two-super-weight Phi-3; intervals off.
    j = run_json("study", "superweight", os.path.join(REF, "phi3-bf16-two-super-weights"), "--text-ids", idsfile, "--ctx", "8",
                 "--null", "5", "--joint", "--bootstrap", "0")
    if j is not None:
        n = j["conditions"][1]["null"]
        check(n["k"] == 5 and len(n["ppl"]) == 5 and 0 <= n["percentile"] <= 100 and "z" in n, f"study null {n}")
        check(j["conditions"][1]["null_elsewhere"]["k"] == 5, "study null elsewhere")
        check(j["conditions"][1]["ppl_ci"] is None and j["ci"] is None, "study --bootstrap 0: no intervals")
        jt = j["joint"]
        check(len(jt["items"]) == 2 and len(jt["interaction"]) == 2 and jt["interaction"][0][0] == 0.0, f"study joint {jt}")
        check(abs(jt["interaction"][0][1] - (jt["pair"][0][1] - jt["single"][0] - jt["single"][1])) < 1e-12, "study joint interaction")
        check(abs(jt["all"] - jt["pair"][0][1]) < 1e-12, "study joint: all = the one pair")
    expect_error(2, "study", "superweight", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--ci", "1.5")
    expect_error(2, "study", "superweight", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--ci", "1", mention="--ci")
    md = os.path.join(tmp, "study.md")
    code, out, err = run("study", "superweight", os.path.join(REF, "phi3-bf16-two-super-weights"), "--text-ids", idsfile, "--markdown", md)
    check(code == 0 and out.startswith("Super weights ablated:"), f"study markdown to stdout: {code} {err}")
    check(os.path.exists(md) and open(md).read() == out, "study --markdown writes the same table")
    expect_error(1, "study", "superweight", STORIES, "--text", text, mention="no super weight")
    # A super activation scanned beyond the window cannot be restored at its
    # position in every window: one clear line before the study runs (it failed
    # mid-study with an activation edit's "token 9 is out of range (8)").
    expect_error(1, "study", "superweight", os.path.join(REF, "llama-planted"), "--text-ids", idsfile, "--ctx", "8",
                 "--ids", "5,77,130,12,200,99,31,250,64,1", "--bootstrap", "0", "--no-tasks",
                 mention="sits at token 9 of the scan input, beyond the 8-token window")
    expect_error(2, "study", STORIES)
    expect_error(2, "study")
    expect_error(2, "study", "superweight", STORIES)

    # --- keep_super resolved by the scan for other commands ---------------
    j = run_json("logits", os.path.join(REF, "llama-two-in-one-row-mqa"), "--ids", ids_arg(REFS["llama-two-in-one-row-mqa"]["ids"]),
                 "--edit", "rtn:model.layers.*.mlp.*:bits=4:block=128:keep_super")
    if j is not None:
        check(len(j["edits"]) == 1 and "keep_super=1:29:17;1:29:120" in j["edits"][0].replace("1:29:120;1:29:17", "1:29:17;1:29:120"),
              f"keep_super resolution: {j['edits']}")

finish("all analysis CLI checks passed")
