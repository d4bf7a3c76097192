#!/usr/bin/python3
"""Write the held-out text as token ids in BOS-prefixed windows, for --text-ids.

  /usr/bin/python3 make_eval_ids.py TOKENIZER.model TEXT OUT.ids [--ctx 256]

The demo model is trained on windows that start with BOS (its super weight
fires on BOS only, see README.md). `superlens-cli ppl/stopwords/study --text`
tokenizes the whole text with one BOS at the start and cuts it into windows of
--ctx tokens, so every window after the first starts mid-text without BOS,
where the demo model has no super activation at all. This file restores the
training-time layout for the CLI: each line is one window, BOS (id 1) followed
by ctx-1 text tokens (the last line may be shorter). With `--text-ids OUT.ids
--ctx 256` the CLI's non-overlapping windows coincide with the lines, each
window's BOS is context only (a window never predicts its first token), and
every text token is scored exactly once.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import BOS, encode_file, load_sp  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tokenizer")
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--ctx", type=int, default=256)
    args = ap.parse_args()
    ids = encode_file(load_sp(args.tokenizer), args.text)
    n = args.ctx - 1
    lines = [" ".join(str(i) for i in [BOS] + ids[s:s + n].tolist()) for s in range(0, len(ids), n)]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{args.out}: {len(ids)} text tokens in {len(lines)} windows of BOS + up to {n}")


if __name__ == "__main__":
    main()
