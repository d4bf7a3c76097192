"""superlens.cache: SuperLens HDF5 activation caches (docs/CACHE.md), read
through core, without h5py.

    with superlens.cache.open("acts.h5") as f:
        run = f[0]
        mlp_out = run["blocks.1.hook_mlp_out"]     # numpy float32 [T, d]
        logits = run.logits
"""
from ._superlens import CachedRun, CacheFile, _cache_open

__all__ = ["open", "CacheFile", "CachedRun"]


def open(file):
    """Opens a cache file for reading (str or os.PathLike). FileNotFoundError
    when it is missing, superlens.Error when it is damaged or not a cache."""
    return _cache_open(file)
