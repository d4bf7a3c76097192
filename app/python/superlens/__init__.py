"""SuperLens from Python: exact instrumented forward passes of Hugging Face
checkpoints on the CPU, TransformerLens-style hooks as numpy arrays, the edit
overlay (super weights, LASER, RTN), the analyses of the super-weight and
massive-activation papers, and the HDF5 activation cache.

    import superlens
    m = superlens.open("resources/models/demo")
    logits, cache = m.run_with_cache("In the beginning God created")
    s = m.scan("In the beginning God created")

The guide is docs/PYTHON.md. Every computation runs in core (the C++ library
the GUI and superlens-cli use) with the GIL released; errors are
superlens.Error (a ValueError) or FileNotFoundError with the CLI's messages.
"""
import sys as _sys
import warnings as _warnings

_numpy_loaded_first = "numpy" in _sys.modules

from . import _superlens  # noqa: E402

# Load OpenBLAS now, before numpy does: core chooses its kernels from the
# CPU's features (OpenBLAS's own table falls back to slow SSE3 kernels on
# CPUs newer than it), and OpenBLAS reads that choice once, when it is first
# loaded. numpy then shares the same, correctly configured library.
_blas = _superlens.system_info()
if (_numpy_loaded_first and _blas["blas_requested"]
        and _blas["blas_core"].lower() != _blas["blas_requested"].lower()):
    _warnings.warn(
        "numpy was imported before superlens and loaded OpenBLAS with its '%s' kernels; "
        "SuperLens would have chosen '%s' for this CPU (matrix products may be several times slower). "
        "Import superlens before numpy, or start Python with OPENBLAS_CORETYPE=%s."
        % (_blas["blas_core"], _blas["blas_requested"], _blas["blas_requested"]),
        RuntimeWarning, stacklevel=2)

import numpy as _np  # noqa: E402,F401  (the arrays below are numpy arrays)

from ._superlens import (  # noqa: E402
    CachedRun,
    CacheFile,
    Cancelled,
    CancelToken,
    Error,
    Model,
    RunResult,
    Tokenizer,
    __version__,
    load_tokenizer,
    open,
    system_info,
)
from . import cache  # noqa: E402

__all__ = [
    "open", "Model", "RunResult", "Tokenizer", "load_tokenizer", "Error", "Cancelled", "CancelToken",
    "cache", "CacheFile", "CachedRun", "system_info",
    "study_superweight", "study_laser", "study_quant", "study_experts", "study_massive", "__version__",
]


def _model(model):
    return model if isinstance(model, Model) else open(model)


def study_superweight(model, text, **kwargs):
    """The super-weight paper's Table 1 on a model (a superlens.Model or a path):
    original / super weights zeroed / zeroed + super activation restored /
    as many other outliers zeroed. Same arguments and result as
    Model.study_superweight (superlens-cli study superweight --json)."""
    return _model(model).study_superweight(text, **kwargs)


def study_laser(model, text, **kwargs):
    """LASER rank-reduction sweep (matrix type x layer x rho); see Model.study_laser."""
    return _model(model).study_laser(text, **kwargs)


def study_quant(model, text, **kwargs):
    """RTN quantization sweep, plain vs keeping the super weights; see Model.study_quant."""
    return _model(model).study_quant(text, **kwargs)


def study_experts(model, text, **kwargs):
    """Mixture-of-experts: super experts (or experts=[(layer, expert)]) pruned one by one, all, and a random control;
    joint=True adds the joint ablation. See Model.study_experts (superlens-cli study experts --json)."""
    return _model(model).study_experts(text, **kwargs)


def study_massive(model, text, **kwargs):
    """Massive activations set to zero and to their means, jointly (each site, all but one, all, every pair).
    See Model.study_massive (superlens-cli study massive --json)."""
    return _model(model).study_massive(text, **kwargs)
