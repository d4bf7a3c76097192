#!/usr/bin/python3
"""Model folders stay untouched (issue 15): every command runs against a
read-only copy of the demo model and leaves its bytes, mtimes and listing as
they were; outputs aimed into the model folder (figure, CSV, cache, study
table) are refused in one line and create nothing there.

Run by CTest with SUPERLENS_BIN_DIR and SUPERLENS_SOURCE_DIR set."""
import hashlib
import os
import shutil
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import check, expect_error, failures, run  # noqa: E402

SRC = os.environ["SUPERLENS_SOURCE_DIR"]
DEMO = os.path.join(SRC, "resources", "models", "demo")
TEXT = os.path.join(SRC, "resources", "texts", "kjv_heldout_ruth_jonah_james.txt")


def snapshot(folder):
    """name -> (size, mtime_ns, sha256) of everything under folder."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            digest = ""
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            out[os.path.relpath(p, folder)] = (st.st_size, st.st_mtime_ns, digest)
    return out


def make_read_only(folder):
    for root, dirs, files in os.walk(folder):
        for n in files:
            os.chmod(os.path.join(root, n), 0o444)
    os.chmod(folder, 0o555)


def main():
    work = tempfile.mkdtemp(prefix="superlens-readonly-")
    model = os.path.join(work, "demo")
    out = os.path.join(work, "out")
    os.mkdir(out)
    shutil.copytree(DEMO, model)
    make_read_only(model)
    before = snapshot(model)
    prompt = "In the beginning God created the heaven and the earth."
    edit = "model.layers.1.mlp.down_proj.weight[87,233]=0"
    commands = [
        ["info", model],
        ["tokenize", model, "--prompt", prompt],
        ["logits", model, "--prompt", prompt, "--edit", edit],
        ["scan", model, "--prompt", prompt],
        ["generate", model, "--prompt", prompt, "--max-new", "4"],
        ["ppl", model, "--text", TEXT, "--ctx", "64"],
        ["stopwords", model, "--text", TEXT, "--ctx", "64", "--edit", edit],
        ["zeroshot", model],
        ["capture", model, "--prompt", prompt, "--out", os.path.join(out, "acts.h5")],
        ["figure", "spikes", model, "--prompt", prompt, "--out", os.path.join(out, "spikes.pdf")],
    ]
    for cmd in commands:
        code, _, err = run(*cmd)
        check(code == 0, f"{cmd[0]} on a read-only model: exit {code}: {err.strip()}")
        check(snapshot(model) == before, f"{cmd[0]} changed the model folder")
    # Outputs aimed into the model folder are refused, and nothing appears there.
    for cmd in (["figure", "spikes", model, "--prompt", prompt, "--out", os.path.join(model, "spikes.pdf")],
                ["figure", "spikes", model, "--prompt", prompt, "--out", os.path.join(model, "spikes.png")],
                ["capture", model, "--prompt", prompt, "--out", os.path.join(model, "acts.h5")],
                ["study", "superweight", model, "--text", TEXT, "--ctx", "64", "--no-tasks", "--no-stopwords",
                 "--markdown", os.path.join(model, "table.md")]):
        expect_error(1, *cmd, mention="refusing to write into the model folder")
        check(snapshot(model) == before, f"{cmd[0]} into the model folder left something there")
    # The same outputs elsewhere are written whole, with no temporaries left.
    code, _, err = run("study", "superweight", model, "--text", TEXT, "--ctx", "64", "--no-tasks", "--no-stopwords",
                       "--markdown", os.path.join(out, "table.md"))
    check(code == 0, f"study --markdown elsewhere: exit {code}: {err.strip()}")
    check(os.path.getsize(os.path.join(out, "table.md")) > 0, "study wrote its table")
    check(os.path.isfile(os.path.join(out, "spikes.csv")), "figure wrote its CSV")
    check(not [n for n in os.listdir(out) if ".tmp-" in n], f"temporaries left: {os.listdir(out)}")
    os.chmod(model, 0o755)
    shutil.rmtree(work)
    if failures:
        print(f"{len(failures)} read-only checks failed")
        return 1
    print("read-only model checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
