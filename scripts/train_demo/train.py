#!/usr/bin/python3
"""Train the SuperLens demo model: a small Llama with a designed super weight.

The mechanism (see README.md) lives only in the weights: a few entries are
set at initialization and kept fixed during training ("frozen"), everything
else is trained normally with AdamW on the King James Bible, so the network
learns to rely on the super activation through attention sinks.

Frozen structure (d = hidden, l = super-weight layer):
  BOS marker   channel b: embedding row of BOS = v_b * e_b; no other token and
               no layer writes channel b, and layers <= l do not read it except
               the one MLP channel below, so BOS's residual is exactly v_b*e_b
               until layer l's MLP.
  super weight layer l MLP channel c reads only b (gate = G*e_b, up = U*e_b),
               so act(gate)*up is large at BOS and exactly 0 elsewhere; column c
               of down_proj is W_sw * e_r: the single weight down_proj[r, c].
  super act.   channel r: written by nothing else, so it is exactly 0 at every
               other token and carries W_sw * x_c at BOS through all later layers.
  sinks        in every later layer and head, the slowest RoPE pair of the keys
               reads only channel r (k = K * e_r) and the queries read a channel
               a that every non-BOS token carries (embedding column a = c_a):
               BOS gets a large, position-independent attention logit.
Everything else (including v_proj, so what the sink contributes) is learned.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Config, Llama  # noqa: E402
from data import Batcher, encode_file, eval_windows, load_sp, BOS  # noqa: E402

DEFAULT_RECIPE = {
    # architecture
    "vocab_size": 2048, "hidden_size": 128, "intermediate_size": 384,
    "num_hidden_layers": 6, "num_attention_heads": 4, "num_key_value_heads": 4,
    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 256,
    # training
    "seed": 1234, "steps": 1000, "batch": 8, "seq": 256, "lr": 3e-3, "min_lr": 3e-4,
    "warmup": 50, "weight_decay": 0.1, "grad_clip": 1.0,
    # designed mechanism
    "seeded": True, "sw_layer": 1, "ch_b": 41, "ch_r": 87, "ch_a": 12, "ch_c": 233,
    "v_b": 0.5, "G": 1.5, "U": 1.5, "W_sw": 10.0,
    "K": 2.0, "Q": 8.0, "c_a": 1.0,
    "Q_growth": 1.0,           # sink query weight of layer i: Q * (1 + Q_growth * (i - l - 1))
    "sink_ramp": 0,            # steps over which the frozen sink query weights grow from 0 to Q
    "freeze_q": True,          # sink queries fixed (True) or trainable from the seed
    "sink_value": "bias",      # "train": v_proj[:, r] learned; "zero": frozen 0 (no-op sink);
                               # "bias": frozen, one value dim per head reads r (weight V) and
                               # o_proj writes it along a fixed random direction u_h (|u_h| = 1):
                               # the sink hands every token a bias of p_sink * V * sqrt(d) * u_h;
                               # "dark": as "bias", but o_proj writes it into channel ch_d, which
                               # no projection and not lm_head reads: it only enters the RMSNorm
                               # denominators (it sets the scale of every later layer's input);
                               # "mlpbias": as "dark", but the gates of the later MLPs may learn
                               # to read channel ch_d (a learned MLP gate bias, nothing else)
    "V": 8.0,
    "ch_d": 99,                # "dark": the channel the sink's bias value is written to
    "freeze_later_mlp_r": True,   # later MLPs do not read channel r (BOS MLP output ~0)
    "embed_std": 0.02,         # init std of the embedding matrix (other matrices: 0.02)
    "flush_denormal": False,   # flush float32 denormals to zero (speed; saturated sinks make them)
}


class Frozen:
    """Entries of parameters held at fixed values: after every optimizer step
    the masked entries are written back; their gradients are zeroed before it."""

    def __init__(self):
        self.items = []  # (param, mask, values)
        self.ramped = []  # (param, index, final value): scaled by ramp(step) in [0, 1]

    def add(self, p, mask, values):
        self.items.append((p, mask, values.detach().clone()))

    def zero_grads(self):
        for p, m, _ in self.items:
            if p.grad is not None:
                p.grad[m] = 0

    @torch.no_grad()
    def restore(self):
        for p, m, v in self.items:
            p[m] = v[m]

    @torch.no_grad()
    def set_ramp(self, factor):
        """Scale the ramped entries (their frozen value) to factor * final value."""
        for p, idx, v in self.ramped:
            p[idx] = factor * v
            for q, m, vals in self.items:
                if q is p:
                    vals[idx] = factor * v

    def count(self):
        return int(sum(m.sum().item() for _, m, _ in self.items))


def seed_mechanism(model, R):
    cfg = model.cfg
    d, f, L, H, KV, hd = (cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers,
                          cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim)
    l, b, r, a, c = R["sw_layer"], R["ch_b"], R["ch_r"], R["ch_a"], R["ch_c"]
    dark = R["sink_value"] in ("dark", "mlpbias")
    dch = R["ch_d"]
    fr = Frozen()

    def freeze(p, index, value):
        """Set p[index] = value and keep it there."""
        with torch.no_grad():
            p[index] = value
        m = torch.zeros_like(p, dtype=torch.bool)
        m[index] = True
        fr.add(p, m, p.data)

    E = model.embed_tokens.weight
    # BOS row: only the marker channel b
    freeze(E, (BOS, slice(None)), 0.0)
    freeze(E, (BOS, b), R["v_b"])
    # other tokens: nothing in b or r, constant c_a in a
    others = torch.arange(cfg.vocab_size) != BOS
    freeze(E, (others, b), 0.0)
    freeze(E, (others, r), 0.0)
    freeze(E, (others, a), R["c_a"])
    if dark:
        freeze(E, (slice(None), dch), 0.0)
        freeze(model.lm_head.weight, (slice(None), dch), 0.0)

    js = hd // 2 - 1  # slowest RoPE pair (js, js + hd/2): rotation ~0 over the context
    for i, layer in enumerate(model.layers):
        at, mlp = layer.self_attn, layer.mlp
        # nobody writes b, r, a (except the super weight itself)
        for ch in (b, r, a) + ((dch,) if dark else ()):
            freeze(at.o_proj.weight, (ch, slice(None)), 0.0)
            freeze(mlp.down_proj.weight, (ch, slice(None)), 0.0)
        if dark:  # nothing reads the dark channel ("mlpbias": except later MLP gates)
            readers = [at.q_proj.weight, at.k_proj.weight, at.v_proj.weight, mlp.up_proj.weight]
            if not (R["sink_value"] == "mlpbias" and i > l):
                readers.append(mlp.gate_proj.weight)
            for w in readers:
                freeze(w, (slice(None), dch), 0.0)
        if i <= l:
            # BOS stays exactly v_b * e_b up to layer l's MLP: its value and MLP are 0
            freeze(at.v_proj.weight, (slice(None), b), 0.0)
            freeze(mlp.gate_proj.weight, (slice(None), b), 0.0)
            freeze(mlp.up_proj.weight, (slice(None), b), 0.0)
        if i == l:
            freeze(mlp.gate_proj.weight, (c, slice(None)), 0.0)
            freeze(mlp.up_proj.weight, (c, slice(None)), 0.0)
            freeze(mlp.gate_proj.weight, (c, b), R["G"])
            freeze(mlp.up_proj.weight, (c, b), R["U"])
            freeze(layer.post_attention_layernorm.weight, (b,), 1.0)
            freeze(mlp.down_proj.weight, (slice(None), c), 0.0)
            freeze(mlp.down_proj.weight, (r, c), R["W_sw"])
        if i > l:
            freeze(layer.input_layernorm.weight, (r,), 1.0)
            for h in range(KV):
                freeze(at.k_proj.weight, (h * hd + js, slice(None)), 0.0)
                freeze(at.k_proj.weight, (h * hd + js + hd // 2, slice(None)), 0.0)
                freeze(at.k_proj.weight, (h * hd + js, r), R["K"])
            if R["freeze_q"]:
                freeze(layer.input_layernorm.weight, (a,), 1.0)
                Qi = R["Q"] * (1.0 + R["Q_growth"] * (i - l - 1))
                for h in range(H):
                    freeze(at.q_proj.weight, (h * hd + js, slice(None)), 0.0)
                    freeze(at.q_proj.weight, (h * hd + js + hd // 2, slice(None)), 0.0)
                    freeze(at.q_proj.weight, (h * hd + js, a), Qi)
                    fr.ramped.append((at.q_proj.weight, (h * hd + js, a), Qi))
            else:
                with torch.no_grad():
                    for h in range(H):
                        at.q_proj.weight[h * hd + js, :] = 0.0
                        at.q_proj.weight[h * hd + js + hd // 2, :] = 0.0
                        at.q_proj.weight[h * hd + js, a] = R["Q"]
            if R["sink_value"] in ("zero", "bias", "dark", "mlpbias"):
                freeze(at.v_proj.weight, (slice(None), r), 0.0)
            if R["sink_value"] in ("bias", "dark", "mlpbias"):
                jv = hd - 1  # last value dim of each head carries the bias
                g = torch.Generator().manual_seed(R["seed"] + 1000 * i)
                for h in range(H):
                    kvh = h // (H // KV)
                    row = kvh * hd + jv
                    freeze(at.v_proj.weight, (row, slice(None)), 0.0)
                    freeze(at.v_proj.weight, (row, r), R["V"])
                    u = torch.randn(d, generator=g)
                    u[[b, r, a]] = 0.0
                    u = u / u.norm()
                    if dark:
                        u = torch.zeros(d)
                        u[dch] = 1.0
                    freeze(at.o_proj.weight, (slice(None), h * hd + jv), u)
            if R["freeze_later_mlp_r"]:
                freeze(mlp.gate_proj.weight, (slice(None), r), 0.0)
                freeze(mlp.up_proj.weight, (slice(None), r), 0.0)
    return fr


def make_model(R):
    cfg = Config(**{k: R[k] for k in (
        "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta",
        "max_position_embeddings")})
    model = Llama(cfg)
    with torch.no_grad():  # Hugging Face Llama init: N(0, 0.02), norms 1
        for n, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, R["embed_std"] if n == "embed_tokens.weight" else 0.02)
    return model


@torch.no_grad()
def eval_ppl(model, windows, hook=None):
    nll, n = 0.0, 0
    for w in windows:
        logits = model(w[None], hook)[0]
        nll += F.cross_entropy(logits[:-1].float(), w[1:], reduction="sum").item()
        n += len(w) - 1
    return math.exp(nll / n)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--work", default=os.path.join(here, "work"))
    ap.add_argument("--out", default=None, help="checkpoint path (default work/<name>.pt)")
    ap.add_argument("--name", default="demo")
    ap.add_argument("--save-every", type=int, default=0, help="also save every N steps")
    ap.add_argument("--init", default=None,
                    help="start from these weights (a Hugging Face folder with model.safetensors, "
                         "or a train.py checkpoint) instead of the random initialization; the "
                         "recipe's mechanism is then seeded over them")
    ap.add_argument("--set", action="append", default=[],
                    help="override a recipe entry: key=json_value")
    args = ap.parse_args()

    R = dict(DEFAULT_RECIPE)
    for kv in args.set:
        k, v = kv.split("=", 1)
        if k not in R:
            raise SystemExit(f"unknown recipe key {k}")
        R[k] = json.loads(v)

    torch.set_num_threads(1)
    # Saturated sinks drive other attention probabilities into float32 denormals,
    # which make CPU arithmetic 10-20x slower; flush them to zero.
    torch.set_flush_denormal(R["flush_denormal"])
    torch.manual_seed(R["seed"])
    np.random.seed(R["seed"])
    torch.use_deterministic_algorithms(True)

    sp = load_sp(os.path.join(args.work, "tokenizer.model"))
    train_ids = encode_file(sp, os.path.join(args.work, "train.txt"),
                            os.path.join(args.work, "train_ids.npy"))
    held_ids = encode_file(sp, os.path.join(args.work, "heldout.txt"))
    held = eval_windows(held_ids, R["seq"])

    model = make_model(R)
    if args.init:
        if os.path.isdir(args.init):
            import safetensors_io
            sd = safetensors_io.load(os.path.join(args.init, "model.safetensors"))
        else:
            sd = torch.load(args.init)["state"]
        model.load_hf_state_dict({k: v.float() for k, v in sd.items()})
        R["init"] = os.path.relpath(os.path.abspath(args.init), os.path.join(here, "..", ".."))
    fr = seed_mechanism(model, R) if R["seeded"] else Frozen()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params {nparams/1e6:.3f}M, frozen entries {fr.count()}", flush=True)

    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": R["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=R["lr"], betas=(0.9, 0.95), eps=1e-8)
    batcher = Batcher(train_ids, R["seq"], R["batch"], R["seed"])

    def lr_at(s):
        if s < R["warmup"]:
            return R["lr"] * (s + 1) / R["warmup"]
        t = (s - R["warmup"]) / max(1, R["steps"] - R["warmup"])
        return R["min_lr"] + 0.5 * (R["lr"] - R["min_lr"]) * (1 + math.cos(math.pi * t))

    t0 = time.time()
    log = []
    for step in range(R["steps"]):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        if R["sink_ramp"] and step <= R["sink_ramp"]:
            fr.set_ramp(step / R["sink_ramp"])
        x, y = batcher.next()
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        fr.zero_grads()
        torch.nn.utils.clip_grad_norm_(model.parameters(), R["grad_clip"])
        opt.step()
        fr.restore()
        log.append(loss.item())
        if args.save_every and step > 0 and step % args.save_every == 0:
            torch.save({"recipe": R, "state": model.hf_state_dict(), "train_loss": log,
                        "seconds": time.time() - t0, "step": step},
                       args.out or os.path.join(args.work, f"{args.name}.pt"))
        if step % 50 == 0 or step == R["steps"] - 1:
            print(f"step {step:5d} loss {np.mean(log[-50:]):.4f} lr {lr_at(step):.2e} "
                  f"{time.time()-t0:6.0f}s", flush=True)

    model.eval()
    ppl = eval_ppl(model, held)
    print(f"held-out ppl {ppl:.3f} (ctx {R['seq']}, {len(held_ids)} tokens)")
    out = args.out or os.path.join(args.work, f"{args.name}.pt")
    torch.save({"recipe": R, "state": model.hf_state_dict(), "train_loss": log,
                "seconds": time.time() - t0}, out)
    print(f"saved {out} after {time.time()-t0:.0f}s")


if __name__ == "__main__":
    main()
