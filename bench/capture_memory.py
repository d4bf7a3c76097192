#!/usr/bin/python3
"""Peak memory of `superlens-cli capture` over the number of hooks recorded.

capture streams each hook to the HDF5 file as the engine produces it (the
engine's HookSink), so its peak RSS should stay flat while the bytes written
grow with the hook selection. This bench runs one capture per selection, each
in its own process, and reports the child's peak RSS (wait4's ru_maxrss)
beside the checkpoint's size and the bytes written; the last column is the
peak over the checkpoint (target: within 2 GB for a 7B bf16 model at 512
tokens with every default hook, attention patterns included).

  /usr/bin/python3 bench/make_checkpoint.py --preset tinyllama --dtype bf16 --out /tmp/tinyllama-bf16
  /usr/bin/python3 bench/capture_memory.py /tmp/tinyllama-bf16 --tokens 512 [--cli build/bin/superlens-cli] [--dir /tmp/x]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

SELECTIONS = [
    ("resid_post", ["blocks.*.hook_resid_post"]),
    ("+ mlp_out, attn_out", ["blocks.*.hook_resid_post", "blocks.*.hook_mlp_out", "blocks.*.hook_attn_out"]),
    ("+ mlp pre/post", ["blocks.*.hook_resid_post", "blocks.*.hook_mlp_out", "blocks.*.hook_attn_out", "blocks.*.mlp.hook_pre",
                        "blocks.*.mlp.hook_post"]),
    ("default (incl. patterns)", []),
    ("every hook", ["*"]),
]


def folder_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path) if f.endswith((".safetensors", ".gguf")))


def run_child(argv):
    """Runs argv; returns (exit code, peak RSS bytes, wall seconds, stderr)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, usage.ru_maxrss * 1024, time.monotonic() - t0, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--cli", default=os.path.join(os.path.dirname(__file__), "..", "build", "bin", "superlens-cli"))
    ap.add_argument("--dir", default=None, help="where the .h5 files go (deleted after each run)")
    a = ap.parse_args()
    ids = ",".join(str(1 + (i * 7919) % 3000) for i in range(a.tokens))
    ckpt = folder_bytes(a.model)
    print(f"model {a.model}: checkpoint {ckpt / 1e9:.2f} GB, {a.tokens} tokens, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print(f"{'hooks':<26} {'count':>5} {'written GB':>10} {'peak RSS GB':>11} {'RSS - ckpt GB':>13} {'seconds':>8}")
    work = tempfile.mkdtemp(dir=a.dir)
    try:
        for label, patterns in SELECTIONS:
            out = os.path.join(work, "acts.h5")
            argv = [a.cli, "capture", a.model, "--ids", ids, "--out", out, "--json"]
            for p in patterns:
                argv += ["--hooks", p]
            code, rss, secs, err = run_child(argv)
            if code != 0:
                print(f"{label:<26} failed: {err.strip()}")
                continue
            import h5py  # Debian's python3-h5py
            with h5py.File(out, "r") as f:
                count = sum(1 for k in f["runs/0"] if k.startswith(("hook_", "blocks.", "ln_final")))
            written = os.path.getsize(out)
            os.remove(out)
            print(f"{label:<26} {count:>5} {written / 1e9:>10.2f} {rss / 1e9:>11.2f} {(rss - ckpt) / 1e9:>13.2f} {secs:>8.1f}")
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
