#!/usr/bin/python3
"""Precision emulation (--compute bf16|fp16) against torch.

tests/data/precision/refs.json (scripts/fixtures/make_precision_refs.py)
holds, for the Llama reference and the GPT-2 fixture, the logits of a torch
module written after the Hugging Face modeling files, run in float32, with
every op's output rounded to bf16/fp16 ("emulated"), and as
`module.to(torch.bfloat16)` on Debian's torch 1.13 ("native"). Checked here:

- --compute bf16/fp16 reproduces the emulated run: most logits bit for bit
  (the rest differ where sgemm and torch sum an fp32 product in another order
  and the bf16 rounding of that op flips by one unit, which then propagates),
  and the largest difference is a small fraction of what the dtype itself
  changes (max |emulated - fp32|, the difference the exact engine has);
- the native bf16 run is closer to --compute bf16 than to the exact engine
  (torch 1.13's CPU kernels round inside some ops, so not bit for bit);
- --compute fp32 is the default and leaves the logits bit-identical;
- a bad dtype is a usage error.
Standard library only.
"""
import json
import math
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, expect_error, finish, run, run_json  # noqa: E402

SOURCE = os.environ["SUPERLENS_SOURCE_DIR"]
with open(os.path.join(os.environ["SUPERLENS_TEST_DATA"], "precision", "refs.json")) as f:
    REFS = json.load(f)

# Bounds (measured values in docs/ANALYSIS.md, "Precision emulation"). A
# logit may differ from torch's emulated run only where an fp32 sum taken in
# another order flipped one rounding upstream: by at most MAX_ULPS units in
# the last place of the dtype at the scale of its position's logits (the
# largest |logit| of the row: lm_head's output is rounded at that scale), by at
# most this fraction of the dtype's own effect, and most logits must be
# bit-identical.
MAX_ULPS = 2
MAX_FRACTION_OF_DTYPE_EFFECT = 0.5
MIN_BIT_EQUAL = 0.75
MANTISSA_BITS = {"bf16": 7, "fp16": 10}


def ulp(x, dtype):
    """Spacing of the dtype's values at |x| (normal range; fp16 subnormals: 2^-24)."""
    if x == 0:
        return 2.0 ** -24 if dtype == "fp16" else 2.0 ** -133
    e = math.floor(math.log2(abs(x)))
    if dtype == "fp16":
        e = max(e, -14)
    return 2.0 ** (e - MANTISSA_BITS[dtype])


def flat(rows):
    return [v for r in rows for v in r]


def max_diff(a, b):
    return max(abs(x - y) for x, y in zip(a, b))


for name, ref in REFS["models"].items():
    model = os.path.join(SOURCE, ref["folder"])
    ids = ",".join(str(i) for i in ref["ids"])
    fp32_torch = flat(ref["fp32"])
    exact = run_json("logits", model, "--ids", ids, "--all-positions")
    same = run_json("logits", model, "--ids", ids, "--all-positions", "--compute", "fp32")
    if exact is None or same is None:
        continue
    exact = flat(exact["logits"])
    check(exact == flat(same["logits"]), f"{name}: --compute fp32 changed the logits")
    print(f"{name}: exact engine vs torch fp32: max |diff| {max_diff(exact, fp32_torch):.3g}")
    for dtype in ("bf16", "fp16"):
        j = run_json("logits", model, "--ids", ids, "--all-positions", "--compute", dtype)
        if j is None:
            continue
        got = flat(j["logits"])
        emulated = flat(ref[dtype]["emulated"])
        effect = max_diff(emulated, fp32_torch)  # what the dtype changes
        err = max_diff(got, emulated)
        equal = sum(1 for x, y in zip(got, emulated) if x == y) / len(got)
        exact_err = max_diff(exact, emulated)
        print(f"{name} {dtype}: max |engine - torch emulated| {err:.3g} ({equal:.1%} bit-equal); "
              f"exact engine vs torch emulated {exact_err:.3g}; dtype effect {effect:.3g}")
        check(effect > 0, f"{name} {dtype}: the reference shows no effect of the dtype")
        check(err <= MAX_FRACTION_OF_DTYPE_EFFECT * effect,
              f"{name} {dtype}: max |engine - torch| {err:.4g} > {MAX_FRACTION_OF_DTYPE_EFFECT} x dtype effect {effect:.4g}")
        check(equal >= MIN_BIT_EQUAL, f"{name} {dtype}: only {equal:.1%} of the logits bit-equal")
        rows = ref[dtype]["emulated"]
        scale = [ulp(max(abs(v) for v in row), dtype) for row in rows for _ in row]
        worst = max(abs(x - y) / u for x, y, u in zip(got, emulated, scale))
        print(f"{name} {dtype}: largest difference {worst:.2g} units in the last place of {dtype}")
        check(worst <= MAX_ULPS, f"{name} {dtype}: a logit {worst:.3g} ulps from torch's emulated run")
        if dtype == "bf16":
            native = flat(ref["bf16"]["native"])
            nat_err, nat_exact = max_diff(got, native), max_diff(exact, native)
            print(f"{name} bf16: torch 1.13 native bf16 vs engine bf16 {nat_err:.3g}, vs exact engine {nat_exact:.3g}")
            check(nat_err < nat_exact, f"{name}: native bf16 is not closer to --compute bf16 ({nat_err:.4g}) than to fp32 ({nat_exact:.4g})")

# A figure made with --compute bf16 embeds it, so `figure --from` redraws the same bf16 run.
with tempfile.TemporaryDirectory() as tmp:
    llama = os.path.join(SOURCE, REFS["models"]["llama-planted"]["folder"])
    ids = ",".join(str(i) for i in REFS["models"]["llama-planted"]["ids"])
    out = os.path.join(tmp, "logits.svg")
    code, _, err = run("figure", "logits", llama, "--ids", ids, "--compute", "bf16", "--out", out)
    check(code == 0, f"figure --compute bf16: exit {code}: {err.strip()}")
    if code == 0:
        with open(out, encoding="utf-8", errors="replace") as f:
            check("--compute bf16" in f.read(), "the figure's embedded command lacks --compute bf16")
        with open(os.path.join(tmp, "logits.csv")) as f:
            first = f.read()
        os.remove(os.path.join(tmp, "logits.csv"))
        code, _, err = run("figure", "--from", out)
        check(code == 0, f"figure --from: exit {code}: {err.strip()}")
        with open(os.path.join(tmp, "logits.csv")) as f:
            check(f.read() == first, "figure --from of a bf16 figure drew other data")
        code, _, _ = run("figure", "logits", llama, "--ids", ids, "--out", os.path.join(tmp, "exact.svg"))
        with open(os.path.join(tmp, "exact.csv")) as f:
            check(f.read() != first, "the bf16 figure's data equals the exact engine's")

# An activation cache says how its run was computed: "float32+bf16", and an
# exact run of the same tokens is not taken for it (nor it for the exact one).
with tempfile.TemporaryDirectory() as tmp:
    import h5py  # Debian's python3-h5py
    llama = os.path.join(SOURCE, REFS["models"]["llama-planted"]["folder"])
    ids = ",".join(str(i) for i in REFS["models"]["llama-planted"]["ids"])
    h5 = os.path.join(tmp, "acts.h5")
    for extra in (["--compute", "bf16"], []):
        code, _, err = run("capture", llama, "--ids", ids, "--out", h5, *extra)
        check(code == 0, f"capture {extra}: exit {code}: {err.strip()}")
    with h5py.File(h5, "r") as f:
        got = [f["runs"][k].attrs["precision"] for k in sorted(f["runs"], key=int)]
    got = [g.decode() if isinstance(g, bytes) else g for g in got]
    check(got == ["float32+bf16", "float32"], f"cache precision attributes {got}")

expect_error(2, "logits", os.path.join(SOURCE, "tests/data/reference/llama-planted"), "--ids", "1,2", "--compute", "int8",
             mention="fp32, bf16 or fp16")
finish("precision emulation: OK")
