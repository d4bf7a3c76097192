"""The project's fixed-seed bootstrap, written for the tests from its
description (core/analysis/bootstrap.h, DESIGN.md "Intervals"), independently
of core: splitmix64 (SeededRng), a resample's index = high 64 bits of x * n,
one count vector per replicate, numpy's type-7 percentiles. Shared by the
CLI tests that recompute intervals by brute force. Standard library only."""
import math

SEED = 0x5EED2023
M64 = (1 << 64) - 1


class SplitMix:
    """bootstrap.h's SeededRng: splitmix64; below(n) = high 64 bits of x * n."""

    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, n):
        return (self.next() * n) >> 64


def resamples(n, count, seed=SEED):
    """`count` replicates of n units: how often each unit is drawn."""
    rng = SplitMix(seed)
    for _ in range(count):
        counts = [0] * n
        for _ in range(n):
            counts[rng.below(n)] += 1
        yield counts


def percentile(sorted_values, q):
    """numpy's default (type-7) percentile of sorted values, q in [0, 1]."""
    h = q * (len(sorted_values) - 1)
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


def interval(n, statistic, count, level, seed=SEED):
    """The percentile interval at `level` of statistic(counts) over `count` replicates."""
    reps = sorted(statistic(c) for c in resamples(n, count, seed))
    tail = (1 - level) / 2
    return [percentile(reps, tail), percentile(reps, 1 - tail)]
