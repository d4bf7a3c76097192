#!/usr/bin/python3
"""Layout check of exported figures, read back from the files themselves.

For a PDF, `pdftotext -bbox` (poppler-utils) gives the box of every word on
the page; a figure fails when
  - a word box leaves the page or comes within EDGE_PT of its edge (clipped
    or touching text),
  - two word boxes of horizontal or vertical text overlap by more than
    OVERLAP_PT along the text and more than the slack of lines set solid
    across it (text printed on text, see _overlap),
and `pdftoppm` renders the page to find ink in the outermost pixels.

Rotated text (slanted token labels) comes back from pdftotext as fragments
whose axis-aligned boxes overlap their neighbours although the glyphs do
not; such "diagonal" words (those `pdftotext -nodiag` leaves out) count for
the page check but not for the overlap check, as issue 25 asks. Rotated
labels are checked for overlap in-process, on their rotated boxes, by
tests/widgets/test_figure_layout.cpp.

An SVG is checked after converting it to PDF with `rsvg-convert` when that
tool exists (librsvg2-bin); a PNG by its edge pixels.

Usage: figure_layout_check.py [--json] FILE.pdf|FILE.svg|FILE.png ...
Prints one line per problem and a summary line
    "files N  clipped_words C  overlapping_pairs P  files_with_edge_ink E"
(with --json one JSON document {"files": {FILE: {...}}, "totals": {...}})
and exits 1 when there is any problem.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

EDGE_PT = 0.5      # a word closer than this to the page edge counts as clipped
OVERLAP_PT = 0.6   # boxes overlapping less than this are fine
LINE_SLACK = 0.15  # across lines: this fraction of a word box's height (see _overlap)

_NS = "{http://www.w3.org/1999/xhtml}"


def pdf_words(pdf, nodiag=False):
    """[(page_w, page_h, [(text, x0, y0, x1, y1), ...]) per page] from pdftotext -bbox."""
    args = ["pdftotext", "-bbox"] + (["-nodiag"] if nodiag else []) + [pdf, "-"]
    out = subprocess.run(args, check=True, capture_output=True).stdout
    root = ET.fromstring(out)
    pages = []
    for page in root.iter(_NS + "page"):
        words = []
        for w in page.iter(_NS + "word"):
            words.append((w.text or "", float(w.get("xMin")), float(w.get("yMin")), float(w.get("xMax")), float(w.get("yMax"))))
        pages.append((float(page.get("width")), float(page.get("height")), words))
    return pages


def _overlap(a, b):
    """Boxes overlap beyond the slack of their font's line box. A word box
    spans the font's ascent and descent (about 1.16 em for DejaVu), so lines
    set solid (baselines one em apart) overlap by about 0.15 of a box
    without any glyph touching: that much is allowed across the lines
    (vertically for horizontal text, horizontally for vertical text);
    along the text OVERLAP_PT is."""
    dx = min(a[3], b[3]) - max(a[1], b[1])
    dy = min(a[4], b[4]) - max(a[2], b[2])
    wa, ha, wb, hb = a[3] - a[1], a[4] - a[2], b[3] - b[1], b[4] - b[2]
    vertical = ha > 1.5 * wa and hb > 1.5 * wb and len(a[0]) > 1 and len(b[0]) > 1
    slack_x = max(OVERLAP_PT, LINE_SLACK * min(wa, wb)) if vertical else OVERLAP_PT
    slack_y = OVERLAP_PT if vertical else max(OVERLAP_PT, LINE_SLACK * min(ha, hb))
    return dx > slack_x and dy > slack_y


def check_words(pages, straight_pages=None):
    """(clipped, overlapping) lists of human-readable problems. `pages` has every
    word; `straight_pages` (pdftotext -nodiag) the horizontal and vertical ones,
    which alone are checked for overlap (all when it is None)."""
    clipped, overlapping = [], []
    for index, (pw, ph, words) in enumerate(pages):
        for t, x0, y0, x1, y1 in words:
            if x0 < EDGE_PT or y0 < EDGE_PT or x1 > pw - EDGE_PT or y1 > ph - EDGE_PT:
                clipped.append(f"word '{t}' at [{x0:.1f},{y0:.1f},{x1:.1f},{y1:.1f}] leaves the {pw:.0f}x{ph:.0f} pt page")
        if straight_pages is not None:
            words = straight_pages[index][2]
        for i in range(len(words)):
            for j in range(i + 1, len(words)):
                if _overlap(words[i], words[j]):
                    a, b = words[i], words[j]
                    overlapping.append(f"words '{a[0]}' and '{b[0]}' overlap at [{max(a[1], b[1]):.1f},{max(a[2], b[2]):.1f}]")
    return clipped, overlapping


def _pnm_edge_ink(path):
    """Number of non-white pixels in the outermost row/column of a binary PPM/PGM."""
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P([56])\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    magic, w, h = m.group(1), int(m.group(2)), int(m.group(3))
    ch = 3 if magic == b"6" else 1
    px = data[m.end():]
    ink = 0

    def dark(x, y):
        o = (y * w + x) * ch
        return min(px[o:o + ch]) < 200

    for x in range(w):
        ink += dark(x, 0) + dark(x, h - 1)
    for y in range(1, h - 1):
        ink += dark(0, y) + dark(w - 1, y)
    return ink


def pdf_edge_ink(pdf, dpi=150):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", pdf, os.path.join(d, "p")], check=True, capture_output=True)
        return sum(_pnm_edge_ink(os.path.join(d, f)) for f in sorted(os.listdir(d)))


def png_edge_ink(png):
    # Decode through Qt-free means: pdftoppm cannot read PNG, so use python's zlib.
    import struct
    import zlib
    with open(png, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", png + ": not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    assert depth == 8 and ctype in (2, 6), png + ": expected 8-bit RGB(A)"
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, o = [], bytearray(stride), 0
    for _ in range(h):
        ft = raw[o]
        line = bytearray(raw[o + 1:o + 1 + stride])
        o += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line

    def dark(x, y):
        px = rows[y][x * bpp:x * bpp + 3]
        return min(px) < 200

    ink = sum(dark(x, 0) + dark(x, h - 1) for x in range(w))
    ink += sum(dark(0, y) + dark(w - 1, y) for y in range(1, h - 1))
    return ink


def check_file(path):
    """dict(clipped=[...], overlapping=[...], edge_ink=int, words=int)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".png":
        return {"clipped": [], "overlapping": [], "edge_ink": png_edge_ink(path), "words": 0}
    pdf = path
    tmp = None
    if ext == ".svg":
        conv = shutil.which("rsvg-convert")
        if not conv:
            raise RuntimeError("rsvg-convert (librsvg2-bin) is needed to check SVG text")
        tmp = tempfile.NamedTemporaryFile(suffix=".pdf", delete=False)
        tmp.close()
        subprocess.run([conv, "-f", "pdf", "-o", tmp.name, path], check=True, capture_output=True)
        pdf = tmp.name
    try:
        pages = pdf_words(pdf)
        clipped, overlapping = check_words(pages, pdf_words(pdf, nodiag=True))
        return {"clipped": clipped, "overlapping": overlapping, "edge_ink": pdf_edge_ink(pdf),
                "words": sum(len(p[2]) for p in pages)}
    finally:
        if tmp:
            os.unlink(tmp.name)


def main(argv):
    as_json = "--json" in argv
    argv = [a for a in argv if a != "--json"]
    if not argv:
        print("usage: figure_layout_check.py [--json] FILE.pdf|FILE.svg|FILE.png ...", file=sys.stderr)
        return 2
    totals = {"clipped": 0, "overlapping": 0, "edge_ink": 0}
    results = {}
    for path in argv:
        r = check_file(path)
        results[path] = r
        totals["clipped"] += len(r["clipped"])
        totals["overlapping"] += len(r["overlapping"])
        totals["edge_ink"] += 1 if r["edge_ink"] else 0
        if as_json:
            continue
        for p in r["clipped"]:
            print(f"{path}: clipped: {p}")
        for p in r["overlapping"]:
            print(f"{path}: overlap: {p}")
        if r["edge_ink"]:
            print(f"{path}: {r['edge_ink']} ink pixels on the page edge")
    if as_json:
        import json
        print(json.dumps({"files": results, "totals": totals}))
        return 1 if any(totals.values()) else 0
    print(f"files {len(argv)}  clipped_words {totals['clipped']}  overlapping_pairs {totals['overlapping']}  "
          f"files_with_edge_ink {totals['edge_ink']}")
    return 1 if any(totals.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
