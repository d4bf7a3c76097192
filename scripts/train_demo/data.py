"""Token-id data for training and evaluation (SentencePiece, BOS-prefixed windows)."""
import os

import numpy as np
import sentencepiece as spm
import torch

BOS = 1


def load_sp(path):
    return spm.SentencePieceProcessor(model_file=path)


def encode_file(sp, path, cache=None):
    """Encode a whole text file as one string (as a tokenizer reading the file
    would), without BOS. Cached as .npy next to `cache` when given."""
    if cache and os.path.exists(cache) and os.path.getmtime(cache) > os.path.getmtime(path):
        return np.load(cache)
    with open(path, encoding="utf-8") as f:
        ids = np.array(sp.encode(f.read()), dtype=np.int32)
    if cache:
        np.save(cache, ids)
    return ids


def eval_windows(ids, ctx):
    """Split a token stream into consecutive windows of ctx-1 text tokens,
    each prefixed with BOS: [n, <=ctx] tensors (the last one may be shorter).
    Every text token is predicted exactly once (the first of each window from BOS)."""
    n = ctx - 1
    out = []
    for s in range(0, len(ids), n):
        chunk = ids[s:s + n]
        if len(chunk) < 2:
            break
        out.append(torch.tensor(np.concatenate([[BOS], chunk]), dtype=torch.long))
    return out


def hf_windows(ids, ctx):
    """Hugging Face / superlens-cli style sliding windows (stride = ctx): BOS once
    at the start of the text, then consecutive windows of ctx tokens; only the
    first window starts with BOS. Returns [(window, first_scored_index)]: each
    window predicts its tokens from index 1 on (its first token is context only)."""
    toks = np.concatenate([[BOS], ids])
    out = []
    for s in range(0, len(toks), ctx):
        w = toks[s:s + ctx]
        if len(w) < 2:
            break
        out.append(torch.tensor(w, dtype=torch.long))
    return out


class Batcher:
    """Random BOS-prefixed windows from the training stream, deterministic."""

    def __init__(self, ids, T, B, seed):
        self.ids = torch.from_numpy(ids.astype(np.int64))
        self.T, self.B = T, B
        self.g = torch.Generator().manual_seed(seed)

    def next(self):
        T, B = self.T, self.B
        starts = torch.randint(0, len(self.ids) - T, (B,), generator=self.g)
        x = torch.stack([self.ids[s:s + T] for s in starts.tolist()])  # T text tokens
        x = torch.cat([torch.full((B, 1), BOS, dtype=torch.long), x], dim=1)  # BOS + T
        return x[:, :-1], x[:, 1:]
