#!/usr/bin/python3
"""Figures carry their provenance (issue 24): `superlens-cli figure` embeds the
version, the model's path and fingerprint, the prompt, the edits and the exact
command in PDF (XMP), SVG (<metadata>) and PNG (text chunks) and heads the CSV
with the same lines. This test reads the metadata back with its own parsers
(no SuperLens code), runs the embedded command again and gets the same CSV,
and regenerates figures with `figure --from FILE`.
Environment: SUPERLENS_BIN_DIR, SUPERLENS_SOURCE_DIR."""
import html
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import BIN, check, finish  # noqa: E402

SRC = os.environ["SUPERLENS_SOURCE_DIR"]
DEMO = os.path.join(SRC, "resources", "models", "demo")
PROMPT = "In the beginning God created the heaven and the earth's \"light\"."
EDIT = "model.layers.1.mlp.down_proj.weight[87,233]=0"
env = dict(os.environ, QT_QPA_PLATFORM="offscreen")


def run(args):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    return p.returncode, p.stdout, p.stderr


def png_texts(path):
    """Every tEXt / zTXt / iTXt chunk of a PNG, parsed here."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, {}
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"tEXt":
            k, v = body.split(b"\0", 1)
            out[k.decode("latin-1")] = v.decode("latin-1")
        elif kind == b"zTXt":
            k, rest = body.split(b"\0", 1)
            out[k.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            k, rest = body.split(b"\0", 1)
            flag, _method = rest[0], rest[1]
            _lang, rest = rest[2:].split(b"\0", 1)
            _tk, text = rest.split(b"\0", 1)
            out[k.decode("latin-1")] = (zlib.decompress(text) if flag else text).decode("utf-8")
    return out


def provenance(path):
    """{field: value} as embedded, read with this file's own parsers."""
    if path.endswith(".png"):
        t = png_texts(path)
        return {k[len("SuperLens-"):]: v for k, v in t.items() if k.startswith("SuperLens-") and k != "SuperLens-Provenance"}
    if path.endswith(".svg"):
        root = ET.parse(path).getroot()
        meta = [e for e in root.iter() if e.tag.endswith("}metadata") or e.tag == "metadata"]
        check(len(meta) == 1, f"{path}: one <metadata> element")
        rec = [e for e in meta[0].iter() if e.tag.endswith("}provenance")]
        check(len(rec) == 1, f"{path}: the provenance element")
        return dict(rec[0].attrib)
    raw = open(path, "rb").read()
    m = re.search(rb"<x:xmpmeta.*?</x:xmpmeta>", raw, re.S)
    check(m is not None, f"{path}: an uncompressed XMP packet")
    return {k.decode(): html.unescape(v.decode("utf-8")) for k, v in re.findall(rb"<superlens:([a-z-]+)>(.*?)</superlens:\1>", m.group(0), re.S)
            if k != b"provenance"}


def csv_comments(path):
    return [line[2:].rstrip("\n") for line in open(path, encoding="utf-8") if line.startswith("# ")]


code, out, err = run([BIN, "info", DEMO, "--json"])
check(code == 0, err)
fingerprint = json.loads(out)["fingerprint"]

with tempfile.TemporaryDirectory() as tmp:
    for fmt in ("pdf", "svg", "png"):
        for kind in ("lens", "sinks", "loss", "spikes"):
            fig = os.path.join(tmp, f"{kind}.{fmt}")
            code, out, err = run([BIN, "figure", kind, DEMO, "--prompt", PROMPT, "--edit", EDIT, "--out", fig])
            check(code == 0 and err == "", f"{kind}.{fmt}: {err}")
            p = provenance(fig)
            what = f"{kind}.{fmt}"
            check(p.get("superlens-version") == "0.1.0", f"{what}: version {p.get('superlens-version')}")
            check(p.get("model") == os.path.realpath(DEMO), f"{what}: model path {p.get('model')}")
            check(p.get("model-fingerprint") == fingerprint, f"{what}: fingerprint")
            check(p.get("prompt") == PROMPT, f"{what}: prompt {p.get('prompt')!r}")
            check(p.get("edits") == EDIT, f"{what}: edits")
            cmd = p.get("command", "")
            words = shlex.split(cmd)
            check(words[:3] == ["superlens-cli", "figure", kind] and words[words.index("--out") + 1] == fig, f"{what}: command {cmd}")
            # The CSV carries the same record.
            csv = fig[:-4] + ".csv"
            comments = csv_comments(csv)
            check(f"command: {cmd}" in comments and f"model-fingerprint: {fingerprint}" in comments, f"{what}: CSV header {comments}")
            # Run the embedded command again (as a shell would split it): the same CSV.
            before = open(csv, "rb").read()
            os.remove(csv)
            os.remove(fig)
            code, out, err = run([BIN] + words[1:])
            check(code == 0, f"{what}: re-run: {err}")
            check(open(csv, "rb").read() == before, f"{what}: the re-run wrote a different CSV")
            check(provenance(fig) == p, f"{what}: the re-run embedded a different record")
            # figure --from: the same again, and elsewhere with --out.
            os.remove(csv)
            shutil.copy(fig, fig + ".orig." + fmt)
            code, out, err = run([BIN, "figure", "--from", fig + ".orig." + fmt])
            check(code == 0 and open(csv, "rb").read() == before, f"{what}: --from: {err}")
            other = os.path.join(tmp, f"other-{kind}.{fmt}")
            code, out, err = run([BIN, "figure", "--from", fig, "--out", other])
            check(code == 0, f"{what}: --from --out: {err}")
            data = lambda path: [line for line in open(path, encoding="utf-8") if not line.startswith("# command:")]  # noqa: E731
            check(data(other[:-4] + ".csv") == data(csv), f"{what}: --from --out: different data")
            check(shlex.split(provenance(other)["command"])[-1] == other, f"{what}: --from --out: the new file names itself")

    # The views' own state is a figure option and travels in the command: lens
    # position, attention head and run, sink carriers. Each changes the picture
    # (against the default state; the attention CSV too) and the re-run of the
    # embedded command draws the same picture and data again.
    for kind, state in (("lens", ["--position", "3"]), ("attention", ["--head", "1", "--pattern", "edited"]),
                        ("sinks", ["--carriers", "all"])):
        base = os.path.join(tmp, f"state-default-{kind}.svg")
        fig = os.path.join(tmp, f"state-{kind}.svg")
        code, out, err = run([BIN, "figure", kind, DEMO, "--prompt", PROMPT, "--edit", EDIT, "--layer", "3", "--out", base])
        check(code == 0, f"{kind} default: {err}")
        code, out, err = run([BIN, "figure", kind, DEMO, "--prompt", PROMPT, "--edit", EDIT, "--layer", "3", "--out", fig] + state)
        check(code == 0, f"{kind} {state}: {err}")
        words = shlex.split(provenance(fig)["command"])
        check(all(words[words.index(state[i]) + 1] == state[i + 1] for i in range(0, len(state), 2)), f"{kind}: {state} in {words}")
        rows = lambda path: [line for line in open(path[:-4] + ".csv", encoding="utf-8") if not line.startswith("# ")]  # noqa: E731
        # The picture without its metadata (the lens and sinks CSVs hold every position / both carrier sets).
        body = lambda path: re.sub(r"<metadata>.*?</metadata>", "", open(path, encoding="utf-8").read(), flags=re.S)  # noqa: E731
        drawn, picture = rows(fig), body(fig)
        check(picture != body(base), f"{kind}: {state} drew the same picture as the default state")
        if kind == "attention":
            check(drawn != rows(base), f"{kind}: {state} wrote the same data as the default state")
        os.remove(fig[:-4] + ".csv")
        os.remove(fig)
        code, out, err = run([BIN] + words[1:])
        check(code == 0 and rows(fig) == drawn and body(fig) == picture, f"{kind}: re-run of {state}: {err}")
    # The Loss view on the held-out text: --loss-text in the command, re-run to the same rows.
    text = os.path.join(SRC, "resources", "texts", "kjv_heldout_ruth_jonah_james.txt")
    fig = os.path.join(tmp, "held-out-loss.png")
    code, out, err = run([BIN, "figure", "loss", DEMO, "--prompt", PROMPT, "--edit", EDIT, "--loss-text", text, "--out", fig])
    check(code == 0, f"--loss-text: {err}")
    rows = [line for line in open(fig[:-4] + ".csv", encoding="utf-8") if not line.startswith("# ")]
    check(len(rows) == 1 + 127, f"--loss-text: {len(rows)} CSV lines (header + 127 predicted tokens)")
    check("--loss-text" in provenance(fig)["command"], "--loss-text in the command")
    os.remove(fig[:-4] + ".csv")
    code, out, err = run([BIN, "figure", "--from", fig])
    check(code == 0 and [line for line in open(fig[:-4] + ".csv", encoding="utf-8") if not line.startswith("# ")] == rows, f"--loss-text --from: {err}")
    code, out, err = run([BIN, "figure", "loss", DEMO, "--prompt", PROMPT, "--loss-text", "/nonexistent.txt", "--out", os.path.join(tmp, "x.svg")])
    check(code == 1 and "/nonexistent.txt" in err and len(err.strip().splitlines()) == 1, f"--loss-text missing: {err}")

    # The study views: `figure laser|quant --study FILE` draws a study JSON, with
    # the views' controls as options; the embedded command re-runs to the same data.
    ids = os.path.join(SRC, "resources", "texts", "kjv_heldout_ruth_jonah_james.bos256.ids")
    study = os.path.join(tmp, "laser.json")
    code, out, err = run([BIN, "study", "laser", DEMO, "--text-ids", ids, "--ctx", "64", "--types", "down,up", "--layers", "1,3",
                          "--rhos", "0.05,1", "--no-tasks", "--json"])
    check(code == 0, f"study laser: {err}")
    open(study, "w").write(out)
    base, fig = os.path.join(tmp, "laser-default.svg"), os.path.join(tmp, "laser.svg")
    code, out, err = run([BIN, "figure", "laser", "--study", study, "--out", base])
    check(code == 0, f"figure laser: {err}")
    code, out, err = run([BIN, "figure", "laser", "--study", study, "--matrix", "up", "--change", "yes", "--out", fig])
    check(code == 0, f"figure laser --matrix up --change yes: {err}")
    words = shlex.split(provenance(fig)["command"])
    check(words[2:5] == ["laser", "--study", study] and words[words.index("--matrix") + 1] == "up" and words[words.index("--change") + 1] == "yes",
          f"laser command: {words}")
    rows = lambda path: [line for line in open(path[:-4] + ".csv", encoding="utf-8") if not line.startswith("# ")]  # noqa: E731
    drawn = rows(fig)
    check(drawn != rows(base), "laser: --matrix up --change yes wrote the same data as the default")
    os.remove(fig[:-4] + ".csv")
    code, out, err = run([BIN, "figure", "--from", fig])
    check(code == 0 and rows(fig) == drawn, f"laser --from: {err}")
    code, out, err = run([BIN, "figure", "laser", "--study", study, "--matrix", "gate", "--out", os.path.join(tmp, "x.svg")])
    check(code == 1 and "--matrix gate" in err, f"laser --matrix gate: {code} {err}")
    code, out, err = run([BIN, "figure", "quant", "--study", study, "--out", os.path.join(tmp, "x.svg")])
    check(code == 1 and "a laser study, not quant" in err, f"quant of a laser study: {code} {err}")
    code, out, err = run([BIN, "figure", "laser", DEMO, "--prompt", PROMPT, "--out", os.path.join(tmp, "x.svg")])
    check(code == 2 and "--study" in err, f"laser without --study: {code} {err}")

    # The default states are spelled out too (a GUI export names every control).
    words = shlex.split(provenance(os.path.join(tmp, "state-default-attention.svg"))["command"])
    check(words[words.index("--head") + 1] == "mean" and words[words.index("--pattern") + 1] == "original", f"attention defaults: {words}")
    # A state option no drawn view has, or a bad value: one clear line, nothing written.
    code, out, err = run([BIN, "figure", "lens", DEMO, "--prompt", PROMPT, "--head", "1", "--out", os.path.join(tmp, "x.svg")])
    check(code == 2 and "--head applies to the attention or patches figure only" in err, f"--head on lens: {code} {err}")
    code, out, err = run([BIN, "figure", "lens", DEMO, "--prompt", PROMPT, "--position", "99", "--out", os.path.join(tmp, "x.svg")])
    check(code == 1 and "--position 99" in err and len(err.strip().splitlines()) == 1, f"--position 99: {code} {err}")
    code, out, err = run([BIN, "figure", "sinks", DEMO, "--prompt", PROMPT, "--carriers", "some", "--out", os.path.join(tmp, "x.svg")])
    check(code == 1 and "--carriers some" in err, f"--carriers some: {code} {err}")
    check(not os.path.exists(os.path.join(tmp, "x.svg")), "a refused figure wrote no file")

    # Token ids and a multi-panel figure: every panel CSV carries the record and its panel.
    fig = os.path.join(tmp, "panels.svg")
    code, out, err = run([BIN, "figure", "lens,sinks", DEMO, "--ids", "1,450,783,310,344", "--out", fig, "--width", "two"])
    check(code == 0, err)
    p = provenance(fig)
    check(p["ids"] == "1,450,783,310,344" and p["prompt"] == "" and "--ids 1,450,783,310,344" in p["command"], f"ids: {p}")
    check("panel: b (sinks)" in csv_comments(os.path.join(tmp, "panels_b.csv")), "panel CSV header")

    # Errors: one line naming the file.
    plain = os.path.join(tmp, "plain.png")
    shutil.copy(os.path.join(SRC, "docs", "screenshots", "logits.png"), plain)
    code, out, err = run([BIN, "figure", "--from", plain])
    check(code == 1 and "plain.png" in err and "no SuperLens provenance" in err and len(err.strip().splitlines()) == 1, f"no provenance: {err}")
    code, out, err = run([BIN, "figure", "--from", fig, "lens"])
    check(code == 2, f"--from with a kind: {code} {err}")

finish("figure provenance: embedded in PDF, SVG, PNG and CSV, read back, re-run to the same CSV, --from")
