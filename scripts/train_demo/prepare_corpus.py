#!/usr/bin/python3
"""Dump the King James Bible from Debian's bible-kjv package and split it.

The corpus is the Authorized (King James) Version text shipped by Debian's
`bible-kjv-text` package (/usr/lib/bible.data), read with the `bible` program
of `bible-kjv` (install both with setup.sh). The KJV text is in the public
domain (translation of 1611; see /usr/share/doc/bible-kjv-text/copyright).

Output (under work/):
  verses.txt    every training verse, one per line (SentencePiece input)
  train.txt     training text, one chapter per line (verses joined by spaces)
  heldout.txt   the held-out books, same format; never used for training
and, when --texts-dir is given, a copy of heldout.txt for the repository.

Held-out books: Ruth, Jonah and James (a narrative, a prophetic narrative and
an epistle; about 32 KB). They are removed from the training text entirely.
"""
import argparse
import os
import re
import subprocess

HELDOUT_BOOKS = ["Ruth", "Jonah", "Jas"]  # book codes as `bible` prints them
REF = re.compile(r"^([0-9]?[A-Za-z]+)([0-9]+):([0-9]+) (.*)$")


def dump_bible():
    # -f turns pretty-printing off: one verse per line, "Ge1:1 In the beginning..."
    # -l0 disables line wrapping. The reference range covers the whole Bible.
    out = subprocess.run(["bible", "-f", "-l0", "gen1:1-rev22:21"],
                         check=True, capture_output=True, text=True).stdout
    verses = []
    for line in out.splitlines():
        m = REF.match(line)
        if not m:
            if line.strip():
                raise SystemExit(f"unexpected line from bible: {line!r}")
            continue
        book, chap, _verse, text = m.groups()
        verses.append((book, int(chap), " ".join(text.split())))
    if len(verses) != 31102:
        raise SystemExit(f"expected 31102 verses, got {len(verses)}")
    return verses


def chapters(verses):
    """Group verses into chapters: [(book, chapter, text)]."""
    out = []
    for book, chap, text in verses:
        if out and out[-1][0] == book and out[-1][1] == chap:
            out[-1][2].append(text)
        else:
            out.append((book, chap, [text]))
    return [(b, c, " ".join(t)) for b, c, t in out]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(os.path.dirname(__file__), "work"))
    ap.add_argument("--texts-dir", default=None,
                    help="also write the held-out text here (resources/texts)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    verses = dump_bible()
    train_v = [v for v in verses if v[0] not in HELDOUT_BOOKS]
    held_v = [v for v in verses if v[0] in HELDOUT_BOOKS]
    with open(os.path.join(args.work, "verses.txt"), "w") as f:
        for _, _, t in train_v:
            f.write(t + "\n")
    with open(os.path.join(args.work, "train.txt"), "w") as f:
        for _, _, t in chapters(train_v):
            f.write(t + "\n")
    held = "".join(t + "\n" for _, _, t in chapters(held_v))
    with open(os.path.join(args.work, "heldout.txt"), "w") as f:
        f.write(held)
    if args.texts_dir:
        os.makedirs(args.texts_dir, exist_ok=True)
        with open(os.path.join(args.texts_dir, "kjv_heldout_ruth_jonah_james.txt"), "w") as f:
            f.write(held)
    print(f"train: {len(train_v)} verses, held out: {len(held_v)} verses "
          f"({len(held.encode())} bytes)")


if __name__ == "__main__":
    main()
