"""The install path of docs/PYTHON.md works offline: pip installs the module
of the build directory into a venv (Debian's setuptools and wheel, no
download), and the installed package imports and runs from elsewhere."""
import os
import shutil
import subprocess
import sys

from conftest import REFERENCE


def test_pip_install_into_a_venv(tmp_path):
    built = os.environ["SUPERLENS_PYTHON_BUILD_DIR"]
    pkg = tmp_path / "pkg"
    shutil.copytree(built, pkg, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    p = subprocess.run([python, "-m", "pip", "install", "--no-build-isolation", "--no-index", str(pkg)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = ("import superlens; print(superlens.__file__); "
            f"print(superlens.open({os.path.join(REFERENCE, 'llama-planted')!r}).run([1, 2, 3]).logits.shape)")
    p = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    where, shape = p.stdout.splitlines()
    assert where.startswith(str(venv)) and shape == "(3, 256)"
