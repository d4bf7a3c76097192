#!/usr/bin/python3
"""CLI contracts of `study laser` and `study quant` (docs/COMPRESSION.md):
JSON / CSV / Markdown shapes, numbers consistent with `ppl`, the keep_super
effect on the planted model, the scan-resolved super weight, exit codes and
one-line errors. Standard library only (run with /usr/bin/python3).

Environment: SUPERLENS_BIN_DIR, SUPERLENS_TEST_DATA.
"""
import json
import os
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, expect_error, finish, run, run_json  # noqa: E402

REF = os.path.join(os.environ["SUPERLENS_TEST_DATA"], "reference")
LLAMA = os.path.join(REF, "llama-planted")
PHI3 = os.path.join(REF, "phi3-bf16-two-super-weights")

tmp = tempfile.mkdtemp(prefix="superlens-compression-cli-")
rng = random.Random(5)
# A text the model itself likes (sampled, fixed seed), so damage shows in the perplexity.
gen = run_json("generate", LLAMA, "--ids", "1", "--max-new", "120", "--temperature", "0.7", "--top-k", "20", "--seed", "1")
ids = [1] + (gen["new_ids"] if gen else [rng.randrange(3, 256) for _ in range(120)])
text_ids = os.path.join(tmp, "text.ids")
with open(text_ids, "w") as f:
    f.write(" ".join(str(i) for i in ids))
answers = os.path.join(tmp, "answers.jsonl")
with open(answers, "w") as f:
    for k in range(4):
        ctx = [1] + [rng.randrange(3, 256) for _ in range(6)]
        f.write(json.dumps({"context_ids": ctx, "answer_ids": [rng.randrange(3, 256), rng.randrange(3, 256)]}) + "\n")

# --- study laser: JSON shape, consistency with `ppl` ---------------------------
j = run_json("study", "laser", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--types", "up,down", "--layers", "1,3",
             "--rhos", "0.05,1", "--answers", answers)
if j is not None:
    check(j["study"] == "laser", "laser: study key")
    check(j["types"] == ["up", "down"] and j["layers"] == [1, 3] and j["rhos"] == [0.05, 1], f"laser: grid {j['types']} {j['layers']} {j['rhos']}")
    check(len(j["cells"]) == 8, f"laser: {len(j['cells'])} cells, wanted 8")
    check(j["metrics"] == ["ppl", "nll", "answer_loss", "answer_exact_match"], f"laser: metrics {j['metrics']}")
    ppl = run_json("ppl", LLAMA, "--text-ids", text_ids, "--ctx", "32")
    if ppl is not None:
        check(j["baseline"]["ppl"] == ppl["ppl"], f"laser: baseline ppl {j['baseline']['ppl']} != ppl command {ppl['ppl']}")
    cell = j["cells"][0]
    check(set(cell) >= {"type", "layer", "rho", "tensor", "edit", "rank", "max_rank", "factored", "method", "ppl", "answer_loss"},
          f"laser: cell keys {sorted(cell)}")
    # Intervals (default 95%, 1000 resamples): of each measured value and of its change from the baseline.
    for name in j["metrics"]:
        ci, dci = cell.get(name + "_ci"), cell.get(name + "_delta_ci")
        check(isinstance(ci, list) and ci[0] <= cell[name] <= ci[1], f"laser: {name} {cell[name]} in {ci}")
        d = cell[name] - j["baseline"][name]
        check(isinstance(dci, list) and dci[0] <= d + 1e-12 and d - 1e-12 <= dci[1], f"laser: {name} change {d} in {dci}")
    check(j["baseline"]["ppl_delta_ci"] == [0.0, 0.0], "laser: the baseline's change interval is [0, 0]")
    check(cell["edit"] == "laser:model.layers.1.mlp.up_proj.weight:rank=0.05", f"laser: cell edit {cell['edit']}")
    check(cell["rank"] == 3 and cell["max_rank"] == 64, f"laser: rank {cell['rank']}/{cell['max_rank']}")
    edited = run_json("ppl", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--edit", cell["edit"])
    if edited is not None:
        check(cell["ppl"] == edited["ppl"], f"laser: cell ppl {cell['ppl']} != ppl --edit {edited['ppl']}")
    full = [c for c in j["cells"] if c["rho"] == 1]
    check(all(abs(c["ppl"] - j["baseline"]["ppl"]) < 1e-4 * j["baseline"]["ppl"] for c in full), "laser: rho=1 must keep the model")
    hm = [h for h in j["heatmaps"] if h["type"] == "down" and h["metric"] == "ppl"]
    check(len(hm) == 1 and len(hm[0]["values"]) == 2 and len(hm[0]["values"][0]) == 2, "laser: down/ppl heatmap is layers x rhos")
    if hm:
        want = [c["ppl"] for c in j["cells"] if c["type"] == "down" and c["layer"] == 3 and c["rho"] == 0.05][0]
        check(hm[0]["values"][1][0] == want, "laser: heatmap cell [layer 3][rho 0.05]")

code, out, err = run("study", "laser", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--types", "o", "--layers", "0-1", "--rhos", "0.5", "--csv")
check(code == 0, f"laser --csv: exit {code} {err.strip()}")
lines = out.strip().splitlines()
check(len(lines) == 4 and lines[0].startswith("type,layer,rho,tensor,rank"), f"laser --csv: {lines[:2]}")
code, out, err = run("study", "laser", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--types", "o", "--layers", "2", "--rhos", "0.5")
check(code == 0 and out.startswith("| matrix | layer | rho | rank |"), f"laser markdown default: {out[:80]!r}")

j = run_json("study", "laser", PHI3, "--text-ids", text_ids, "--ctx", "32", "--layers", "1", "--rhos", "0.5")
if j is not None:
    check(j["types"] == ["gate_up", "down", "qkv", "o"], f"laser phi3 default types {j['types']}")

# --- study quant: Fig. 7 series, keep_super effect, scan resolution ------------
down = "model.layers.*.mlp.down_proj.weight"
j = run_json("study", "quant", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--bits", "6", "--pattern", down, "--blocks", "64,tensor",
             "--super-weights", "1:13:57", "--no-tasks")
if j is not None:
    series = [s["name"] for s in j["plots"][0]["series"]]
    check(series == ["rtn", "rtn_keep_super"], f"quant: series {series}")
    check([p["block_label"] for p in j["points"]] == ["64", "tensor", "64", "tensor"], "quant: block labels")
    base = j["baseline"]["ppl"]
    plain = j["points"][1]["ppl"]
    keep = j["points"][3]["ppl"]
    check(abs(keep - base) * 3 < abs(plain - base), f"quant: keep_super at block=tensor should stay near the baseline ({base} {plain} {keep})")
    check(j["points"][3]["edit"].endswith(":keep_super=1:13:57"), f"quant: edit {j['points'][3]['edit']}")
    edited = run_json("ppl", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--edit", j["points"][3]["edit"])
    if edited is not None:
        check(keep == edited["ppl"], f"quant: point ppl {keep} != ppl --edit {edited['ppl']}")

j = run_json("study", "quant", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--blocks", "tensor", "--act-bits", "8", "--act-blocks", "tensor")
if j is not None:
    check([[s["layer"], s["row"], s["col"]] for s in j["super_weights"]] == [[1, 13, 57]], f"quant: scanned super weights {j['super_weights']}")
    check([p["series"] for p in j["points"]] == ["rtn", "rtn_keep_super", "actq", "actq_keep_super"], f"quant: series {[p['series'] for p in j['points']]}")
    check({"token": 0, "channel": 13} in j["super_activations"], f"quant: super activations {j['super_activations']}")
    check(":keep_super=0:13" in j["points"][3]["edit"], f"quant: actq keep edit {j['points'][3]['edit']}")

j = run_json("study", "quant", LLAMA, "--text-ids", text_ids, "--ctx", "32", "--blocks", "128", "--no-keep-super", "--bootstrap", "0")
if j is not None:
    check("ppl_ci" not in j["points"][0] and "ppl_ci" not in j["baseline"], "quant --bootstrap 0: no intervals")
if j is not None:
    check([p["series"] for p in j["points"]] == ["rtn"], "quant --no-keep-super: plain only")

# --- errors ----------------------------------------------------------------------
expect_error(1, "study", "laser", LLAMA, "--text-ids", text_ids, "--types", "qkv", mention="qkv")
expect_error(1, "study", "laser", LLAMA, "--text-ids", text_ids, "--rhos", "0,0.5", mention="--rhos")
expect_error(1, "study", "laser", LLAMA, "--text-ids", text_ids, "--layers", "7", mention="--layers")
expect_error(1, "study", "laser", os.path.join(tmp, "nope"), "--text-ids", text_ids)
expect_error(1, "study", "quant", LLAMA, "--text-ids", text_ids, "--blocks", "0", mention="--blocks")
expect_error(1, "study", "quant", LLAMA, "--text-ids", text_ids, "--pattern", "nothing.*", mention="matches no")
expect_error(1, "study", "quant", LLAMA, "--text-ids", text_ids, "--super-weights", "1:99:57", mention="down_proj")
expect_error(1, "study", "laser", LLAMA, "--text", os.path.join(tmp, "x.txt"), mention="tokenizer")
expect_error(2, "study", "laser", LLAMA)
expect_error(2, "study", "laser", LLAMA, "--text-ids", text_ids, "--json", "--csv")
expect_error(2, "study", "quant", LLAMA, "--text-ids", text_ids, "--bits", "9")

finish("compression CLI: all checks passed")
