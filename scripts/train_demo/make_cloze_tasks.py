#!/usr/bin/env python3
"""Cloze multiple-choice tasks from the demo model's held-out books (issue 23).

Reads resources/texts/kjv_heldout_ruth_jonah_james.txt (Ruth, Jonah, James:
never seen in training) and writes resources/tasks/kjv_heldout_cloze.jsonl,
one lm-eval-harness task per line:
  {"context": "<the words of a verse before the target>", "choices": [4 words], "gold": i}

Rules (seeded, deterministic: python3 make_cloze_tasks.py gives the same file):
- the text is cut into clauses at . ; : ? ! (each clause a candidate item);
- per clause, one target drawn among its content words (letters only,
  >= 4 letters, not in the bundled stopword list) that have >= 6 words of
  the clause before them; the context is the clause up to the target
  (a trailing comma dropped);
- the 3 distractors are other content words of the held-out text with the
  same capitalisation (lower / Capitalised), drawn from the 40 words nearest
  in corpus frequency to the target (so frequency alone does not give the
  answer), none equal to the target;
- the gold position is drawn uniformly (chance = 25%); at most one item per
  (context, target) pair; then --count items are sampled from the candidates.

Standard library only.
"""

import argparse
import json
import os
import random
import re
from collections import Counter

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def stopwords():
    words = set()
    with open(os.path.join(ROOT, "resources", "stopwords", "english.txt"), encoding="utf-8") as f:
        for line in f:
            w = line.strip()
            if w and not w.startswith("#"):
                words.add(w.lower())
    return words


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--text", default=os.path.join(ROOT, "resources", "texts", "kjv_heldout_ruth_jonah_james.txt"))
    ap.add_argument("--out", default=os.path.join(ROOT, "resources", "tasks", "kjv_heldout_cloze.jsonl"))
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=23)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    stop = stopwords()
    text = open(args.text, encoding="utf-8").read()
    clauses = [c.strip() for c in re.split(r"[.;:?!]", text) if c.strip()]

    def content(w):
        return w.isalpha() and len(w) >= 4 and w.lower() not in stop

    freq = Counter(w for c in clauses for w in re.findall(r"[A-Za-z]+", c) if content(w))
    vocab = sorted(freq, key=lambda w: (freq[w], w))

    candidates, seen = [], set()
    for c in clauses:
        toks = c.split()
        spots = [k for k in range(6, len(toks)) if content(toks[k].rstrip(","))]
        if not spots:
            continue
        k = rng.choice(spots)
        target = toks[k].rstrip(",")
        context = " ".join(toks[:k]).rstrip(",")
        if (context, target) in seen:
            continue
        seen.add((context, target))
        candidates.append((context, target))

    items = []
    rng.shuffle(candidates)
    for context, target in candidates:
        cap = target[0].isupper()
        i = vocab.index(target)
        near = [w for w in vocab[max(0, i - 20): i + 21] if w != target and w[0].isupper() == cap and w.lower() != target.lower()]
        if len(near) < 3:
            continue
        distractors = rng.sample(near, 3)
        gold = rng.randrange(4)
        choices = distractors[:gold] + [target] + distractors[gold:]
        items.append({"context": context, "choices": choices, "gold": gold})
        if len(items) == args.count:
            break
    if len(items) < args.count:
        raise SystemExit(f"only {len(items)} items could be made (wanted {args.count})")
    with open(args.out, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    print(f"{args.out}: {len(items)} items from {len(candidates)} candidate clauses (seed {args.seed})")


if __name__ == "__main__":
    main()
