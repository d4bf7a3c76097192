"""docs/PYTHON.md's walk-through runs as written: every ```python block, in
order, in one namespace, from a folder that looks like the repository root
(resources/ and tests/ linked in, so the figures and the cache it writes land in a
temporary folder). Each print must print what the "# " comment lines right
under it show. ```py blocks (the TransformerLens comparison) are not run."""
import contextlib
import io
import os
import re

import numpy as np
import pytest

from conftest import SOURCE

DOC = os.path.join(SOURCE, "docs", "PYTHON.md")


def python_blocks():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


def expected_output(block):
    """The '# ' lines that directly follow a line containing print(."""
    out, collecting = [], False
    for line in block.splitlines():
        if collecting and line.startswith("# "):
            out.append(line[2:])
        else:
            collecting = "print(" in line
    return out


def test_walkthrough_runs_as_written(tmp_path, monkeypatch):
    blocks = python_blocks()
    assert len(blocks) >= 8
    os.symlink(os.path.join(SOURCE, "resources"), tmp_path / "resources")
    os.symlink(os.path.join(SOURCE, "tests"), tmp_path / "tests")  # the MoE / encoder / vision fixtures
    monkeypatch.chdir(tmp_path)
    import matplotlib
    matplotlib.use("Agg")
    namespace = {"__name__": "__walkthrough__"}
    for i, block in enumerate(blocks):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(block, f"{DOC}:python block {i + 1}", "exec"), namespace)
        got = buf.getvalue().splitlines()
        want = expected_output(block)
        assert got == want, f"block {i + 1}:\n{block}"
    # what the walk-through is about, beyond its printed lines
    sw = namespace["sw"]
    assert sw["edit"] == "model.layers.1.mlp.down_proj.weight[87,233]=0"
    assert namespace["ppl_zeroed"]["ppl"] / namespace["ppl"]["ppl"] > 5
    for figure in ("spikes.png", "propagation.png"):
        with open(figure, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize("acts.h5") > 0
    np.testing.assert_array_equal(namespace["restored"].logits, namespace["base"].logits)
