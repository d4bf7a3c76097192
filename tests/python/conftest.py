"""Shared fixtures of the Python module tests (pytest, Debian's python3-pytest).

Environment (set by CTest, tests/python/python.cmake): PYTHONPATH=<build>/python,
SUPERLENS_TEST_DATA, SUPERLENS_SOURCE_DIR, SUPERLENS_BIN_DIR (superlens-cli, to
compare messages and numbers with the command line).
"""
import json
import os
import subprocess

import superlens  # first: superlens loads OpenBLAS before numpy does
import numpy as np
import pytest

DATA = os.environ["SUPERLENS_TEST_DATA"]
SOURCE = os.environ["SUPERLENS_SOURCE_DIR"]
BIN = os.environ["SUPERLENS_BIN_DIR"]
CLI = os.path.join(BIN, "superlens-cli")
REFERENCE = os.path.join(DATA, "reference")
FAMILIES = os.path.join(DATA, "families")
STORIES = os.path.join(DATA, "stories260K")
MOE = os.path.join(DATA, "moe")
ENCODERS = os.path.join(DATA, "encoders")
VISION = os.path.join(DATA, "vision")
DEMO = os.path.join(SOURCE, "resources", "models", "demo")


def _answers(folder, name="refs.json"):
    with open(os.path.join(folder, name)) as f:
        return json.load(f)


REFERENCE_REFS = _answers(REFERENCE)
FAMILY_REFS = _answers(FAMILIES)
STORIES_REF = _answers(STORIES, "reference.json")
MOE_REFS = _answers(MOE)
ENCODER_REFS = _answers(ENCODERS)
VISION_REFS = _answers(VISION)

# Every checkpoint with float64 answers: (name, folder, refs entry).
GOLDEN = [(n, os.path.join(REFERENCE, n), r) for n, r in REFERENCE_REFS.items()] + \
         [(n, os.path.join(FAMILIES, n), r) for n, r in FAMILY_REFS.items()]


def rel_err(got, want):
    """max |got - want| / max |want|: the README's tolerance measure."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))


def cli(*args):
    """Runs superlens-cli; returns (exit code, stdout, stderr)."""
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=600)
    return p.returncode, p.stdout, p.stderr


def cli_json(*args):
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def cli_error(*args):
    """The one-line message superlens-cli prints for a refused input."""
    code, out, err = cli(*args)
    assert code == 1, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    prefix = "superlens-cli: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix):]


@pytest.fixture(scope="session")
def planted():
    """llama-planted: F32 Llama, planted super weight (1, 13, 57), no tokenizer."""
    return superlens.open(os.path.join(REFERENCE, "llama-planted"))


@pytest.fixture(scope="session")
def demo():
    """The bundled demo model (Llama with a SentencePiece tokenizer)."""
    return superlens.open(DEMO)
