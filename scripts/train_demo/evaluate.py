#!/usr/bin/python3
"""Measure the demo model's super weight with a plain PyTorch Llama forward.

Usage:
  /usr/bin/python3 evaluate.py --model ../../resources/models/demo \
      --text ../../resources/texts/kjv_heldout_ruth_jonah_james.txt [--ctx 256] [--json out.json]
  (or --checkpoint work/demo.pt for a training checkpoint)

Measures, and prints as a table:
  * super weights found by the SuperLens detector rule (per layer: max |down_proj
    output| over tokens x channels against the layer's median |output|; a layer
    at >= --spike-ratio gives token t and row r; column c = argmax_c |W[r,c] x_t[c]|;
    zero it and rescan until nothing stands out),
  * massive activations: per layer, the largest |residual| (resid_post) and its
    ratio to that layer's median |residual| over all tokens x channels,
  * attention on BOS per layer (mean over heads and query positions > 0),
  * perplexity on the held-out text: original, super weight zeroed, zeroed with the
    super activation restored (down_proj output at token 0, channel r set back to its
    original value), and the 100 largest-magnitude other weights of the same matrix zeroed,
  * stopword probability mass (mean next-token probability of stopword pieces), over
    all predicting positions and over the content positions alone (those whose
    actual next token is not a stopword),
  * greedy generations from a few prompts, original vs. super weight zeroed.
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
from model import Config, Llama  # noqa: E402
from data import BOS, encode_file, eval_windows, hf_windows, load_sp  # noqa: E402
import safetensors_io  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
STOPWORDS_FILE = os.path.join(REPO, "resources", "stopwords", "english.txt")
GEN_PROMPTS = ["In the beginning", "And the LORD said unto Moses,",
               "Blessed are the", "And it came to pass, when the king"]


def load_model(args):
    if args.checkpoint:
        ck = torch.load(args.checkpoint)
        R = ck["recipe"]
        cfg = Config(**{k: R[k] for k in Config.__dataclass_fields__ if k in R})
        sd = ck["state"]
    else:
        with open(os.path.join(args.model, "config.json")) as f:
            c = json.load(f)
        cfg = Config(**{k: c[k] for k in Config.__dataclass_fields__ if k in c})
        sd = safetensors_io.load(os.path.join(args.model, "model.safetensors"))
    sd = {k: v.float() for k, v in sd.items()}
    m = Llama(cfg)
    m.load_hf_state_dict(sd)
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


class Hooks:
    """Records hook values and applies activation edits during a forward pass."""

    def __init__(self, record=(), edits=None):
        self.record = set(record)
        self.edits = edits or {}   # name -> fn(tensor) -> tensor
        self.store = {}

    def __call__(self, name, x):
        if name in self.edits:
            x = self.edits[name](x)
        if name in self.record:
            self.store[name] = x.detach()
        return x


def down_weight(m, layer):
    return m.layers[layer].mlp.down_proj.weight


def detect_super_weights(m, ids_list, spike_ratio=50.0, max_iter=10):
    """The SuperLens rule on a list of prompts; zeroes found weights while scanning
    and restores them afterwards. Returns [(layer, row, col, value, down_in, down_out, ratio)]."""
    L = m.cfg.num_hidden_layers
    found, saved = [], []
    with torch.no_grad():
        for _ in range(max_iter):
            best = None
            for ids in ids_list:
                h = Hooks(record=[f"blocks.{i}.mlp.hook_post" for i in range(L)] +
                          [f"blocks.{i}.hook_mlp_out" for i in range(L)])
                m(ids[None], h)
                for i in range(L):
                    out = h.store[f"blocks.{i}.hook_mlp_out"][0].abs()
                    med = out.median().item()
                    mx = out.max().item()
                    ratio = mx / max(med, 1e-30)
                    if ratio >= spike_ratio and (best is None or ratio > best[0]):
                        t, r = divmod(int(out.argmax()), out.shape[1])
                        x = h.store[f"blocks.{i}.mlp.hook_post"][0, t]
                        W = down_weight(m, i)
                        c = int((W[r] * x).abs().argmax())
                        best = (ratio, i, t, r, c, x[c].item(),
                                h.store[f"blocks.{i}.hook_mlp_out"][0, t, r].item())
            if best is None:
                break
            ratio, i, t, r, c, xin, yout = best
            W = down_weight(m, i)
            found.append((i, r, c, W[r, c].item(), xin, yout, ratio))
            saved.append((i, r, c, W[r, c].item()))
            W[r, c] = 0.0
        for i, r, c, v in saved:
            down_weight(m, i)[r, c] = v
    return found


def ppl(m, windows, edits=None):
    nll, n = 0.0, 0
    with torch.no_grad():
        for w in windows:
            logits = m(w[None], Hooks(edits=edits) if edits else None)[0]
            nll += F.cross_entropy(logits[:-1], w[1:], reduction="sum").item()
            n += len(w) - 1
    return math.exp(nll / n)


def stopword_ids(sp, path=STOPWORDS_FILE):
    """Token ids of a stopword list, as SuperLens counts them (core/analysis
    metrics.h stopwordTokenIds): each word with and without a leading space,
    counted when that spelling encodes to exactly one token."""
    words = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.strip()
            if w and not w.startswith("#") and w not in words:
                words.append(w)
    ids = set()
    for w in words:
        for spelling in (w, " " + w):
            enc = sp.encode(spelling)
            if len(enc) == 1:
                ids.add(enc[0])
    ids = sorted(ids)
    return ids, [sp.id_to_piece(i) for i in ids]


def stopword_mass(m, windows, sw_ids, edits=None, content=False):
    """Mean stopword probability over all predicting positions; with content=True
    also over the content positions alone (those whose actual next token is not a
    stopword): returns (all, content)."""
    tot, n, ctot, cn = 0.0, 0, 0.0, 0
    idx = torch.tensor(sw_ids)
    is_sw = torch.zeros(m.cfg.vocab_size, dtype=torch.bool)
    is_sw[idx] = True
    with torch.no_grad():
        for w in windows:
            logits = m(w[None], Hooks(edits=edits) if edits else None)[0]
            p = logits[:-1].softmax(-1)[:, idx].sum(-1)
            tot += p.sum().item()
            n += p.numel()
            keep = ~is_sw[w[1:]]
            ctot += p[keep].sum().item()
            cn += int(keep.sum())
    return (tot / n, ctot / max(cn, 1)) if content else tot / n


def generate(m, sp, prompt, n_new=40):
    ids = [BOS] + sp.encode(prompt)
    with torch.no_grad():
        for _ in range(n_new):
            logits = m(torch.tensor([ids]))[0, -1]
            ids.append(int(logits.argmax()))
    return sp.decode(ids[1 + len(sp.encode(prompt)):]), ids


def distinct_ngrams(ids, n=3):
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / max(1, len(grams))


def layer_stats(m, w):
    """Per layer: massive activation (resid_post) and attention on BOS for one window."""
    L = m.cfg.num_hidden_layers
    rec = []
    for i in range(L):
        rec += [f"blocks.{i}.hook_resid_post", f"blocks.{i}.attn.hook_pattern",
                f"blocks.{i}.hook_mlp_out", f"blocks.{i}.mlp.hook_post"]
    h = Hooks(record=rec)
    with torch.no_grad():
        m(w[None], h)
    out = []
    for i in range(L):
        res = h.store[f"blocks.{i}.hook_resid_post"][0]
        a = res.abs()
        t, ch = divmod(int(a.argmax()), a.shape[1])
        med = a.median().item()
        att = h.store[f"blocks.{i}.attn.hook_pattern"][0]  # H x T x T
        bos = att[:, 1:, 0].mean().item()
        mo = h.store[f"blocks.{i}.hook_mlp_out"][0].abs()
        mi = h.store[f"blocks.{i}.mlp.hook_post"][0].abs()
        out.append({"layer": i, "resid_max": res[t, ch].item(), "token": t, "channel": ch,
                    "resid_median": med, "ratio": a.max().item() / med,
                    "bos_attention": bos,
                    "bos_attention_per_head": att[:, 1:, 0].mean(-1).tolist(),
                    "down_out_ratio": mo.max().item() / mo.median().item(),
                    "down_in_ratio": mi.max().item() / max(mi.median().item(), 1e-30),
                    "down_out_max": mo.max().item(), "down_in_max": mi.max().item()})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(REPO, "resources", "models", "demo"))
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--tokenizer", default=None, help="default: <model>/tokenizer.model")
    ap.add_argument("--text", default=os.path.join(
        REPO, "resources", "texts", "kjv_heldout_ruth_jonah_james.txt"))
    ap.add_argument("--prompts", default=os.path.join(REPO, "resources", "prompts", "default_prompts.txt"))
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--stopwords", default=STOPWORDS_FILE)
    ap.add_argument("--windows", choices=["bos", "hf"], default="bos",
                    help="bos: every window is BOS + ctx-1 text tokens (how the model is trained "
                         "and meant to be evaluated); hf: BOS once, then plain windows of ctx "
                         "tokens (superlens-cli ppl/stopwords/study as of this writing)")
    ap.add_argument("--spike-ratio", type=float, default=50.0)
    ap.add_argument("--gen", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="skip generation")
    ap.add_argument("--json", default=None, help="also write all numbers here")
    args = ap.parse_args()
    torch.set_num_threads(1)

    m = load_model(args)
    sp = load_sp(args.tokenizer or (os.path.join(os.path.dirname(args.checkpoint), "tokenizer.model")
                                    if args.checkpoint else os.path.join(args.model, "tokenizer.model")))
    ids = encode_file(sp, args.text)
    windows = eval_windows(ids, args.ctx) if args.windows == "bos" else hf_windows(ids, args.ctx)
    res = {"text": os.path.relpath(args.text, REPO), "text_tokens": len(ids), "ctx": args.ctx,
           "windows": args.windows}

    prompt_ids = []
    if os.path.exists(args.prompts):
        with open(args.prompts) as f:
            prompt_ids = [torch.tensor([BOS] + sp.encode(p.strip())) for p in f if p.strip()]
    scan_on = prompt_ids or windows[:1]
    sws = detect_super_weights(m, scan_on, args.spike_ratio)
    res["super_weights"] = [dict(zip(("layer", "row", "col", "value", "down_in", "down_out", "ratio"), s))
                            for s in sws]
    print(f"== super weights (detector on {'default prompts' if prompt_ids else 'first window'}, "
          f"spike ratio >= {args.spike_ratio:g})")
    for s in sws:
        print(f"  layer {s[0]}  row {s[1]}  col {s[2]}  weight {s[3]:+.4f}  "
              f"down_in {s[4]:+.2f}  down_out {s[5]:+.2f}  ratio {s[6]:.0f}x")
    if not sws:
        print("  none")
        return

    # per-layer massive activations and BOS attention (first held-out window)
    stats = layer_stats(m, windows[0])
    res["layers"] = stats
    print(f"\n== per layer on the first held-out window ({len(windows[0])} tokens)")
    print("  layer  max|resid| token ch  median|resid|  ratio   attn-on-BOS  down_in ratio  down_out ratio")
    for s in stats:
        print(f"  {s['layer']:5d}  {s['resid_max']:+10.2f} {s['token']:4d} {s['channel']:3d}  "
              f"{s['resid_median']:12.4f}  {s['ratio']:7.0f}x  {s['bos_attention']:10.3f}  "
              f"{s['down_in_ratio']:12.0f}x  {s['down_out_ratio']:12.0f}x")

    l, r, c = sws[0][0], sws[0][1], sws[0][2]
    W = down_weight(m, l)
    w0 = W[r, c].item()
    # original super activation at token 0 (BOS) for restoring
    h = Hooks(record=[f"blocks.{l}.hook_mlp_out"])
    with torch.no_grad():
        m(windows[0][None], h)
    sa = h.store[f"blocks.{l}.hook_mlp_out"][0, 0, r].item()
    res["super_activation"] = {"layer": l, "token": 0, "channel": r, "value": sa}

    sw_ids, sw_words = stopword_ids(sp, args.stopwords)
    res["stopword_pieces"] = sw_words

    def restore_edit(x):
        x = x.clone()
        x[:, 0, r] = sa
        return x

    results = {}
    with torch.no_grad():
        results["original"] = (ppl(m, windows), stopword_mass(m, windows, sw_ids, content=True))
        W[r, c] = 0.0
        results["super weight zeroed"] = (ppl(m, windows), stopword_mass(m, windows, sw_ids, content=True))
        e = {f"blocks.{l}.hook_mlp_out": restore_edit}
        results["zeroed + super act. restored"] = (ppl(m, windows, e), stopword_mass(m, windows, sw_ids, e, content=True))
        W[r, c] = w0
        flat = W.abs().flatten().clone()
        flat[r * W.shape[1] + c] = -1
        top = flat.topk(100).indices
        saved = W.flatten()[top].clone()
        W.view(-1)[top] = 0.0
        results["100 largest others zeroed"] = (ppl(m, windows), stopword_mass(m, windows, sw_ids, content=True))
        W.view(-1)[top] = saved
        res["largest_other_weight"] = saved.abs().max().item()
    base = results["original"][0]
    wdesc = (f"windows of BOS + {args.ctx-1} text tokens" if args.windows == "bos"
             else f"HF-style windows of {args.ctx} tokens, BOS only in the first")
    print(f"\n== held-out text {res['text']}: {len(ids)} tokens, {len(windows)} {wdesc}")
    print(f"  super weight: model.layers.{l}.mlp.down_proj.weight[{r},{c}] = {w0:+.4f} "
          f"(largest other |w| in the matrix {res['largest_other_weight']:.4f}); "
          f"super activation blocks.{l}.hook_mlp_out[0,{r}] = {sa:+.2f}")
    print("  condition                         ppl      x orig   stopword mass (all / content positions)")
    res["conditions"] = {}
    for k, (p, (s, sc)) in results.items():
        print(f"  {k:30s} {p:9.3f}  {p/base:7.2f}x   {s:.4f} / {sc:.4f}")
        res["conditions"][k] = {"ppl": p, "ppl_ratio": p / base, "stopword_mass": s,
                                "stopword_mass_content": sc}

    if not args.quick:
        print("\n== greedy generation (original | super weight zeroed)")
        res["generations"] = []
        for p in GEN_PROMPTS:
            g0, i0 = generate(m, sp, p, args.gen)
            W[r, c] = 0.0
            g1, i1 = generate(m, sp, p, args.gen)
            W[r, c] = w0
            d0, d1 = distinct_ngrams(i0[-args.gen:]), distinct_ngrams(i1[-args.gen:])
            print(f"  prompt: {p!r}\n    original ({d0:.2f} distinct 3-grams): {g0!r}\n"
                  f"    zeroed   ({d1:.2f} distinct 3-grams): {g1!r}")
            res["generations"].append({"prompt": p, "original": g0, "zeroed": g1,
                                       "distinct3_original": d0, "distinct3_zeroed": d1})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
