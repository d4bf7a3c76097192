#!/usr/bin/python3
"""`superlens-cli figure` as issue 25 ran it: every view of the demo model
at one and two columns, with the README's prompt and the demo's super weight
zeroed, written as PDF; then every style preset (its face embedded in the
PDF, as pdffonts lists it), the README's figure commands, PNG/SVG and the
JSON report.
Every figure must pass tests/app/figure_layout_check.py (no word off the
page or on another word, no ink on the edge), and every successful call
must print nothing on stderr, also with XDG_RUNTIME_DIR unset (Qt warns
about it unless the command provides a runtime directory) and without
leaving that directory behind.
Environment: SUPERLENS_BIN_DIR, SUPERLENS_SOURCE_DIR."""
import glob
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import figure_layout_check  # noqa: E402
from cli_checks import BIN, check, finish  # noqa: E402

SRC = os.environ["SUPERLENS_SOURCE_DIR"]
DEMO = os.path.join(SRC, "resources", "models", "demo")
PROMPT = "In the beginning God created the heaven and the earth."
EDIT = "model.layers.1.mlp.down_proj.weight[87,233]=0"
VIEWS = ["spikes", "layer", "propagation", "massive", "logits", "attention", "lens", "sinks", "loss"]

env = dict(os.environ)
env.pop("XDG_RUNTIME_DIR", None)
env["QT_QPA_PLATFORM"] = "offscreen"
tmp_root = tempfile.gettempdir()


def figure(*args):
    p = subprocess.run([BIN, "figure", *args], capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


def check_figure(path, what):
    r = figure_layout_check.check_file(path)
    for p in r["clipped"] + r["overlapping"]:
        check(False, f"{what}: {p}")
    check(r["edge_ink"] == 0, f"{what}: {r['edge_ink']} ink pixels on the page edge")


runtime_before = set(glob.glob(os.path.join(tmp_root, "superlens-runtime-*")))
with tempfile.TemporaryDirectory() as d:
    # The commands, exactly.
    for view in VIEWS:
        for width in ("one", "two"):
            out = os.path.join(d, f"{view}-{width}.pdf")
            code, stdout, stderr = figure(view, DEMO, "--prompt", PROMPT, "--edit", EDIT, "--width", width, "--out", out)
            what = f"figure {view} --width {width}"
            check(code == 0, f"{what}: exit {code}: {stderr.strip()}")
            check(stderr == "", f"{what}: stderr should be empty, got {stderr!r}")
            if code == 0:
                check_figure(out, what)
                check(os.path.exists(out[:-4] + ".csv"), f"{what}: no CSV")

    # Presets, other formats and the JSON report.
    for view, style, width, ext in [("logits", "nature", "one", "svg"), ("propagation", "science", "one", "png"),
                                    ("massive", "ieee", "two", "pdf"), ("spikes", "arxiv", "one", "pdf")]:
        out = os.path.join(d, f"{view}-{style}.{ext}")
        code, stdout, stderr = figure(view, DEMO, "--prompt", PROMPT, "--edit", EDIT, "--style", style, "--width", width,
                                      "--out", out, "--json")
        what = f"figure {view} --style {style} --width {width} ({ext})"
        check(code == 0, f"{what}: exit {code}: {stderr.strip()}")
        check(stderr == "", f"{what}: stderr should be empty, got {stderr!r}")
        if code != 0:
            continue
        j = json.loads(stdout)
        check(j["style"] == style, f"{what}: style {j.get('style')}")
        check(j.get("layout", {}).get("problems") == [], f"{what}: layout problems {j.get('layout')}")
        check(isinstance(j["caption"], str) and j["caption"], f"{what}: no caption")
        if ext != "svg":  # SVG words need an SVG renderer; test_figure_layout checks them through QtSvg
            check_figure(out, what)

    # Every preset (each with another view): quiet, clean, and its PDF embeds
    # the preset's face and nothing else (scripts/setup.sh installs them).
    faces = {"default": "DejaVuSans", "neurips": "LiberationSerif", "icml": "LiberationSerif", "iclr": "LiberationSerif",
             "acl": "LiberationSerif", "nature": "LiberationSans", "science": "LiberationSans", "ieee": "LiberationSerif",
             "arxiv": "CMUSerif"}
    for view, (style, face) in zip(VIEWS, faces.items()):
        out = os.path.join(d, f"font-{style}.pdf")
        code, stdout, stderr = figure(view, DEMO, "--prompt", PROMPT, "--edit", EDIT, "--style", style, "--out", out)
        what = f"figure {view} --style {style}"
        check(code == 0, f"{what}: exit {code}: {stderr.strip()}")
        check(stderr == "", f"{what}: stderr should be empty, got {stderr!r}")
        if code != 0:
            continue
        check_figure(out, what)
        lines = subprocess.run(["pdffonts", out], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
        fonts = [(line.split()[0].split("+")[-1], line.split()[-5]) for line in lines if line.strip()]
        check(fonts != [], f"{what}: no font in the PDF")
        for name, emb in fonts:
            check(name.startswith(face) and emb == "yes", f"{what}: PDF font {name} (embedded: {emb}), expected {face} embedded")

    # The README's walk-through commands, as written and at one column.
    readme = [("spikes", ["--out", "spikes.pdf"]),
              ("spikes,propagation,logits", ["--edit", EDIT, "--style", "icml", "--width", "two", "--out", "fig.pdf"]),
              ("spikes,propagation,logits", ["--edit", EDIT, "--style", "icml", "--width", "one", "--out", "fig-one.pdf"])]
    for kinds, rest in readme:
        out = os.path.join(d, rest[-1])
        args = [kinds, DEMO, "--prompt", PROMPT] + rest[:-1] + [out]
        code, stdout, stderr = figure(*args)
        what = "figure " + " ".join(args[:1] + args[4:-1])
        check(code == 0, f"{what}: exit {code}: {stderr.strip()}")
        check(stderr == "", f"{what}: stderr should be empty, got {stderr!r}")
        if code == 0:
            check_figure(out, what)
    svg = os.path.join(d, "fig.svg")
    code, stdout, stderr = figure("propagation", DEMO, "--prompt", "In the beginning", "--edit", EDIT, "--out", svg)
    check(code == 0 and stderr == "", f"README figure propagation --out fig.svg: exit {code}: {stderr.strip()}")
    code, stdout, stderr = figure("--from", svg)
    check(code == 0 and stderr == "", f"README figure --from fig.svg: exit {code}: {stderr.strip()}")

    # Nature's single column is 89 mm.
    code, stdout, stderr = figure("spikes", DEMO, "--prompt", PROMPT, "--style", "nature", "--out", os.path.join(d, "n.pdf"), "--json")
    check(code == 0 and abs(json.loads(stdout)["width_in"] - 3.5) < 1e-9, f"nature one column: {stdout} {stderr}")

    # A logits title that does not fit is shortened on the page and kept whole in the caption.
    code, stdout, stderr = figure("logits", DEMO, "--prompt", PROMPT, "--edit", EDIT, "--width", "2", "--out", os.path.join(d, "narrow.pdf"), "--json")
    check(code == 0, f"logits at 2 in: exit {code}: {stderr.strip()}")
    if code == 0:
        j = json.loads(stdout)
        check(any("stopword mass" in s for s in j["layout"]["shortened"]) or "stopword mass" in j["caption"], f"caption: {j['caption']}")
        check_figure(os.path.join(d, "narrow.pdf"), "logits at 2 in")

    # Several views in one figure: panels a, b, c and one CSV per panel.
    for width in ("one", "two"):
        out = os.path.join(d, f"panels-{width}.pdf")
        code, stdout, stderr = figure("spikes,propagation,logits", DEMO, "--prompt", PROMPT, "--edit", EDIT, "--width", width,
                                      "--out", out, "--json")
        what = f"figure spikes,propagation,logits --width {width}"
        check(code == 0, f"{what}: exit {code}: {stderr.strip()}")
        check(stderr == "", f"{what}: stderr should be empty, got {stderr!r}")
        if code != 0:
            continue
        j = json.loads(stdout)
        check([p["letter"] for p in j["panels"]] == ["a", "b", "c"], f"{what}: panels {j['panels']}")
        for p in j["panels"]:
            check(p["csv"] and os.path.exists(p["csv"]) and p["csv"].endswith(f"_{p['letter']}.csv"), f"{what}: panel CSV {p['csv']}")
        check_figure(out, what)
        words = [w[0] for w in figure_layout_check.pdf_words(out)[0][2]]
        for letter in "abc":
            check(letter in words, f"{what}: no panel letter {letter!r} on the page")
    code, stdout, stderr = figure("spikes,bogus", DEMO, "--prompt", PROMPT, "--out", os.path.join(d, "y.pdf"))
    check(code == 1 and "bogus" in stderr, f"figure spikes,bogus: exit {code}: {stderr.strip()}")

    # Bad usage: an unknown preset.
    code, stdout, stderr = figure("spikes", DEMO, "--prompt", PROMPT, "--style", "vogue", "--out", os.path.join(d, "x.pdf"))
    check(code == 2, f"--style vogue: exit {code}")
    check("vogue" in stderr and "neurips" in stderr, f"--style vogue: stderr should name the presets: {stderr.strip()}")

runtime_after = set(glob.glob(os.path.join(tmp_root, "superlens-runtime-*")))
check(runtime_after <= runtime_before, f"figure left runtime folders behind: {sorted(runtime_after - runtime_before)}")

finish("figure CLI: issue 25's commands give clean figures and a quiet stderr")
