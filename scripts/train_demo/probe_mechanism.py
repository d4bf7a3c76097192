#!/usr/bin/python3
"""Which part of the designed mechanism carries the stopword shift?

Measures held-out perplexity and stopword mass (over all predicting positions,
and over content positions: those whose actual next token is not a stopword)
for the demo model under partial removals of the planted path and under
sharper logits:

  original                    the model as is
  super weight zeroed         the whole path (super activation, sinks, bias)
  sink bias removed           the value dims that read the super-activation
                              channel (v_proj[hd*h + hd-1, r] = 0, later layers)
  sinks removed               the key dims that read it (k_proj[hd*h + hd/2-1, r] = 0)
  later MLPs removed          the MLP outputs of the layers after the super weight
  logits x K                  softmax(K * logits): a sharper (K > 1) output

Usage:
  /usr/bin/python3 probe_mechanism.py [--model DIR | --checkpoint work/NAME.pt] [--windows N]
The channel numbers come from the checkpoint's recipe, or from train.py's
DEFAULT_RECIPE for a model folder.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evaluate as E  # noqa: E402
from data import encode_file, eval_windows, load_sp  # noqa: E402
from train import DEFAULT_RECIPE  # noqa: E402


def measure(m, windows, sw_ids, edits=None, scale=1.0):
    is_sw = torch.zeros(m.cfg.vocab_size, dtype=torch.bool)
    is_sw[torch.tensor(sw_ids)] = True
    nll, n, tot, ctot, cn = 0.0, 0, 0.0, 0.0, 0
    with torch.no_grad():
        for w in windows:
            logits = scale * m(w[None], E.Hooks(edits=edits) if edits else None)[0][:-1]
            nll += F.cross_entropy(logits, w[1:], reduction="sum").item()
            n += len(w) - 1
            p = logits.softmax(-1)[:, is_sw].sum(-1)
            tot += p.sum().item()
            keep = ~is_sw[w[1:]]
            ctot += p[keep].sum().item()
            cn += int(keep.sum())
    return math.exp(nll / n), tot / n, ctot / max(cn, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(E.REPO, "resources", "models", "demo"))
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--text", default=os.path.join(E.REPO, "resources", "texts",
                                                   "kjv_heldout_ruth_jonah_james.txt"))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--windows", type=int, default=0, help="first N windows only (0: all)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    m = E.load_model(args)
    R = torch.load(args.checkpoint)["recipe"] if args.checkpoint else DEFAULT_RECIPE
    sp = load_sp(os.path.join(os.path.dirname(args.checkpoint), "tokenizer.model") if args.checkpoint
                 else os.path.join(args.model, "tokenizer.model"))
    windows = eval_windows(encode_file(sp, args.text), args.ctx)
    if args.windows:
        windows = windows[:args.windows]
    sw_ids, _ = E.stopword_ids(sp)
    cfg = m.cfg
    l, r, c = R["sw_layer"], R["ch_r"], R["ch_c"]
    hd, H, KV = cfg.head_dim, cfg.num_attention_heads, cfg.num_key_value_heads
    later = range(l + 1, cfg.num_hidden_layers)

    def zeroed(entries):
        """Context: set (tensor, index) entries to 0, measure, put them back."""
        saved = [(t, i, t[i].item()) for t, i in entries]
        for t, i, _ in saved:
            t[i] = 0.0
        return saved

    def restore(saved):
        for t, i, v in saved:
            t[i] = v

    def zero_out(x):
        return torch.zeros_like(x)

    rows = []

    def run(name, entries=(), edits=None, scale=1.0):
        s = zeroed(list(entries))
        p, sm, sc = measure(m, windows, sw_ids, edits, scale)
        restore(s)
        rows.append({"condition": name, "ppl": p, "stopword_mass": sm, "stopword_mass_content": sc})
        print(f"  {name:28s} {p:10.2f}  {p / rows[0]['ppl']:6.2f}x  {sm:.4f}  {sc:.4f}", flush=True)

    print(f"{len(windows)} windows; condition, ppl, x original, stopword mass (all, content positions)")
    run("original")
    run("super weight zeroed", [(m.layers[l].mlp.down_proj.weight, (r, c))])
    run("sink bias removed", [(m.layers[i].self_attn.v_proj.weight, (kv * hd + hd - 1, r))
                              for i in later for kv in range(KV)])
    run("sinks removed", [(m.layers[i].self_attn.k_proj.weight, (kv * hd + hd // 2 - 1, r))
                          for i in later for kv in range(KV)])
    run("later MLPs removed", edits={f"blocks.{i}.hook_mlp_out": zero_out for i in later})
    for k in (1.5, 2.0):
        run(f"logits x {k:g}", scale=k)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
