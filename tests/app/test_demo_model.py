#!/usr/bin/python3
"""The bundled demo model (resources/models/demo) really has a super weight.

Runs superlens-cli on the shipped model and checks the numbers its model card
reports (with margins): the tokenizer matches SentencePiece, the scan finds the
one designed super weight and a first-token massive activation >= 100x the
median that persists to the last layer, and the super-weight ablation study on
the held-out text (Ruth, Jonah, James; BOS-prefixed windows of 256 tokens)
shows the paper's Table 1 pattern: zeroing the super weight multiplies the
perplexity, zeroing the 100 largest other weights of the matrix does not,
restoring the super activation recovers it. Standard library only.

Environment: SUPERLENS_BIN_DIR, SUPERLENS_SOURCE_DIR.
"""
import json
import os
import subprocess
import sys

BIN = os.path.join(os.environ["SUPERLENS_BIN_DIR"], "superlens-cli")
SRC = os.environ["SUPERLENS_SOURCE_DIR"]
DEMO = os.path.join(SRC, "resources", "models", "demo")
IDS = os.path.join(SRC, "resources", "texts", "kjv_heldout_ruth_jonah_james.bos256.ids")

# The designed coordinate (scripts/train_demo/train.py: sw_layer, ch_r, ch_c).
LAYER, ROW, COL = 1, 87, 233
SW_EDIT = f"model.layers.{LAYER}.mlp.down_proj.weight[{ROW},{COL}]=0"
# Measured on the shipped model (README.md): keep these a little below the
# measurement so a correct engine passes and a broken one does not.
PPL_ORIGINAL = 72.781          # held-out perplexity of the unedited model
PPL_RATIO_FLOOR = 6.0          # super weight zeroed / original (measured 6.812)
OTHERS_RATIO_MAX = 1.10        # 100 largest other weights zeroed / original
RESTORED_RATIO_MAX = 1.05      # zeroed + super activation restored / original
MASSIVE_RATIO_FLOOR = 100.0

# SentencePiece (python3-sentencepiece 0.1.97) ids of the shipped tokenizer.model, BOS included.
TOKENIZE = {
    "In the beginning God created the heaven and the earth.":
        [1, 1037, 261, 1796, 1246, 391, 282, 564, 285, 261, 736, 270, 261, 624, 2009],
    "And the LORD said unto Moses, Speak unto the children of Israel":
        [1, 300, 261, 345, 394, 325, 688, 2001, 1261, 770, 325, 261, 497, 271, 437],
    "Blessed are the poor in spirit: for theirs is the kingdom of heaven.":
        [1, 1946, 425, 261, 1448, 290, 971, 2013, 322, 397, 1993, 340, 261, 986, 271, 736, 2009],
    "Caf\u00e9 123 \u2014 zebra!":
        [1, 520, 1990, 1999, 198, 172, 1986, 52, 53, 54, 1986, 229, 131, 151, 1986, 2031, 809, 333, 2041],
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def run_json(*args):
    p = subprocess.run([BIN, *args, "--json"], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        check(False, f"{args}: exit {p.returncode}: {p.stderr.strip()}")
        return None
    return json.loads(p.stdout)


# --- files ---------------------------------------------------------------
for name in ("config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json", "README.md"):
    check(os.path.isfile(os.path.join(DEMO, name)), f"demo model lacks {name}")
size = sum(os.path.getsize(os.path.join(DEMO, n)) for n in os.listdir(DEMO))
check(size < 20 * 1024 * 1024, f"demo model is {size} bytes, over 20 MB")
with open(os.path.join(DEMO, "config.json")) as f:
    cfg = json.load(f)
check(cfg["model_type"] == "llama", f"model_type {cfg['model_type']}")

# --- tokenizer matches SentencePiece ----------------------------------------
for text, ids in TOKENIZE.items():
    j = run_json("tokenize", DEMO, "--prompt", text)
    if j is not None:
        check(j["ids"] == ids, f"tokenize {text!r}: {j['ids']} != {ids}")

# --- scan: the designed super weight and a persistent massive activation ----
j = run_json("scan", DEMO, "--prompt", "In the beginning God created the heaven and the earth.")
if j is not None:
    sws = [(s["layer"], s["row"], s["col"]) for s in j["super_weights"]]
    check(sws == [(LAYER, ROW, COL)], f"scan super weights {sws}, wanted {[(LAYER, ROW, COL)]}")
    per_layer = {m["layer"]: m for m in j["massive_activations"] if m["token"] == 0 and m["channel"] == ROW}
    L = cfg["num_hidden_layers"]
    for layer in range(LAYER, L):
        m = per_layer.get(layer)
        check(m is not None and m["ratio"] >= MASSIVE_RATIO_FLOOR,
              f"layer {layer}: no first-token massive activation >= {MASSIVE_RATIO_FLOOR}x in channel {ROW}: {m}")
    check({"token": 0, "channel": ROW, "first_layer": LAYER, "last_layer": L - 1} in j["massive_persistent"],
          f"massive activation should persist in token 0, channel {ROW}, layers {LAYER}..{L-1}: {j['massive_persistent']}")

# --- the ablation study on the held-out text --------------------------------
j = run_json("study", "superweight", DEMO, "--text-ids", IDS, "--ctx", "256", "--outliers", "100", "--no-tasks")
if j is not None:
    check([(s["layer"], s["row"], s["col"]) for s in j["super_weights"]] == [(LAYER, ROW, COL)],
          f"study super weights {j['super_weights']}")
    check(len(j["outliers"]) == 100, f"study zeroed {len(j['outliers'])} outliers, wanted 100")
    c = {x["key"]: x for x in j["conditions"]}
    base = c["original"]["ppl"]
    r_sw = c["sw_zeroed"]["ppl"] / base
    r_rest = c["sw_zeroed_sa_restored"]["ppl"] / base
    r_out = c["outliers_zeroed"]["ppl"] / base
    print(f"ppl original {base:.2f}; x{r_sw:.2f} super weight zeroed; x{r_rest:.3f} restored; "
          f"x{r_out:.3f} 100 other outliers zeroed")
    check(c["original"]["tokens"] == 9128, f"scored {c['original']['tokens']} tokens, wanted 9128")
    check(abs(base / PPL_ORIGINAL - 1) < 0.01, f"original perplexity {base:.3f}, model card says {PPL_ORIGINAL}")
    check(r_sw >= PPL_RATIO_FLOOR, f"super weight zeroed: ppl x{r_sw:.2f} < {PPL_RATIO_FLOOR}")
    check(r_out < OTHERS_RATIO_MAX, f"100 other outliers zeroed: ppl x{r_out:.3f} >= {OTHERS_RATIO_MAX}")
    check(r_rest < RESTORED_RATIO_MAX, f"super activation restored: ppl x{r_rest:.3f} >= {RESTORED_RATIO_MAX}")
    # 95% bootstrap interval of the ratio (36 windows, paired): well above 1 (ANALYSIS.md's worked example).
    lo, hi = c["sw_zeroed"]["ppl_ratio_ci"]
    check(lo <= r_sw <= hi and lo > PPL_RATIO_FLOOR * 0.9, f"super weight zeroed: ratio interval [{lo:.2f}, {hi:.2f}]")
    lo, hi = c["original"]["ppl_ci"]
    check(lo < base < hi and hi < c["sw_zeroed"]["ppl_ci"][0], f"original ppl interval [{lo:.1f}, {hi:.1f}] overlaps the ablated one")

# --- the held-out cloze set: reproducible, and the super weight matters ------
CLOZE = os.path.join(SRC, "resources", "tasks", "kjv_heldout_cloze.jsonl")
import tempfile  # noqa: E402
with tempfile.TemporaryDirectory() as tmp:
    again = os.path.join(tmp, "cloze.jsonl")
    r = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "scripts", "train_demo", "make_cloze_tasks.py"), "--out", again],
                       capture_output=True, text=True)
    check(r.returncode == 0 and open(again, "rb").read() == open(CLOZE, "rb").read(),
          f"make_cloze_tasks.py does not reproduce {CLOZE}: {r.stderr.strip()}")
items = [json.loads(line) for line in open(CLOZE, encoding="utf-8")]
check(len(items) == 300 and all(len(x["choices"]) == 4 for x in items), f"cloze set: {len(items)} items")
for edits, floor, ceiling in (([], 0.40, 0.52), (["--edit", SW_EDIT], 0.28, 0.40)):
    j = run_json("zeroshot", DEMO, "--tasks", CLOZE, *edits)
    if j is not None:
        check(j["count"] == 300 and floor <= j["accuracy"] <= ceiling, f"cloze accuracy {j['accuracy']:.3f} {edits} not in [{floor}, {ceiling}]")

# --- greedy generation changes when the super weight is zeroed --------------
j = run_json("generate", DEMO, "--prompt", "And the LORD said unto Moses,", "--max-new", "24",
             "--edit", SW_EDIT, "--compare")
if j is not None:
    check(j["new_ids"] != j["original"]["new_ids"], "zeroing the super weight should change greedy generation")

if failures:
    print(f"{len(failures)} check(s) failed", file=sys.stderr)
    sys.exit(1)
print("all demo model checks passed")
