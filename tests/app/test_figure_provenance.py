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
