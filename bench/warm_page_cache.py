#!/usr/bin/env python3
"""Puts model files into the page cache in one known state before a benchmark:
each file is dropped from the cache (posix_fadvise DONTNEED) and read once
from start to end.

Why: decode streams every weight once per token, and its speed depends on how
the kernel holds the file. On Linux 6.18 (ext4, this VM) a plain sequential
read leaves a file in 2 MiB folios, which a mapping then reads through 2 MiB
pages; a file written on the machine, or first read through a mapping's page
faults, stays largely in small folios and its decode ran 5 % slower
(docs/PERFORMANCE.md). Without this step the programs compared in one run
(SuperLens, llama.cpp) each find their files in whatever state earlier runs
left, and the comparison measures the page cache's history.

  python3 bench/warm_page_cache.py FILE_OR_FOLDER...

A folder stands for its *.safetensors and *.gguf files. One line per file:
its size, the seconds the read took. Standard library only; needs no root
(DONTNEED drops only clean pages nobody maps; a file mapped by a running
process keeps those pages).
"""
import os
import sys
import time


def files_of(arg):
    if os.path.isdir(arg):
        names = sorted(n for n in os.listdir(arg) if n.endswith((".safetensors", ".gguf")))
        return [os.path.join(arg, n) for n in names]
    return [arg]


def warm(path, chunk=16 << 20):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        t0 = time.time()
        done = 0
        while True:
            b = os.read(fd, chunk)
            if not b:
                break
            done += len(b)
        return done, time.time() - t0
    finally:
        os.close(fd)


def warm_all(args, prefix=""):
    """Every file of every argument dropped and read, one line each (after
    `prefix`); a file that cannot be read ends the program in one line."""
    for arg in args:
        paths = files_of(arg)
        if not paths:
            sys.exit(f"{arg}: no .safetensors or .gguf files in this folder")
        for p in paths:
            try:
                n, s = warm(p)
            except OSError as e:
                sys.exit(f"{p}: {e.strerror}")
            print(f"{prefix}{p}: {n / 1e9:.2f} GB dropped and read in {s:.1f} s", flush=True)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: warm_page_cache.py FILE_OR_FOLDER...")
    warm_all(sys.argv[1:])


if __name__ == "__main__":
    main()
