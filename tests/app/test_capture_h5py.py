#!/usr/bin/python3
"""superlens-cli capture, checked from Python the way users read the files.

Runs with Debian's /usr/bin/python3, python3-h5py and numpy. Checks:
  * layout: root attributes, /runs/<n> attributes, token ids, one float32
    dataset per hook named by the hook (dots included), chunk shapes;
  * values against the float64 reference dumps in refs.json (three hooks per
    layer, logits) within 1e-4 of the largest |reference| value;
  * reuse (stderr note, "reused" in JSON, file untouched), appends with edits,
    --all-positions, gzip1 (bit-identical values), --prompts with a tokenizer
    (token strings, vocabulary);
  * damaged, truncated and foreign files: exit 1, one stderr line naming the
    file, file unchanged;
  * SIGKILL of an appending capture: the old file is byte-identical and the
    next capture sweeps the leftover temporary;
  * a real full disk (tmpfs, when we may mount one): exit 1, old file intact.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

BIN = os.environ["SUPERLENS_BIN_DIR"]
MODELS = os.environ["SUPERLENS_TEST_DATA"]
CLI = os.path.join(BIN, "superlens-cli")
REF = os.path.join(MODELS, "reference")
STORIES = os.path.join(MODELS, "stories260K")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


def run(*args, expect=0):
    p = subprocess.run([CLI, *args], capture_output=True, text=True)
    check(p.returncode == expect, f"exit {p.returncode} (wanted {expect}) for {' '.join(args)}: {p.stderr.strip()}")
    return p


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def temps(path):
    d, n = os.path.split(path)
    return [x for x in os.listdir(d) if x.startswith("." + n + ".tmp-")]


def largest_temp_size(path):
    """Size of the biggest temporary beside path; 0 when none. A temporary can
    vanish between the listing and the stat (the capture renames it when it
    finishes, or sweeps a stale one from an earlier killed run): that is not
    an error, it simply does not count."""
    d = os.path.dirname(path)
    best = 0
    for t in temps(path):
        try:
            best = max(best, os.path.getsize(os.path.join(d, t)))
        except FileNotFoundError:
            pass
    return best


def rel_error(got, want):
    want = np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(np.asarray(got, dtype=np.float64) - want)) / max(np.max(np.abs(want)), 1e-30))


def check_reference_model(name, ref, work):
    out = os.path.join(work, name + ".h5")
    ids = ref["ids"]
    T = len(ids)
    p = run("capture", os.path.join(REF, name), "--ids", ",".join(map(str, ids)), "--out", out, "--json")
    doc = json.loads(p.stdout)
    check(doc["new_runs"] == 1 and doc["reused_runs"] == 0 and doc["runs"][0]["reused"] is False, f"{name}: first capture is new")
    with open(os.path.join(REF, name, "config.json"), encoding="utf-8") as f:
        config_text = f.read()
    config = json.loads(config_text)
    with h5py.File(out, "r") as f:
        a = f.attrs
        check(a["format"].decode() == "superlens-activations", f"{name}: format attribute")
        check(int(a["version"]) == 1, f"{name}: version attribute")
        check(a["model_config"].decode() == config_text, f"{name}: model_config is config.json verbatim")
        fp = a["model_fingerprint"].decode()
        check(len(fp) == 16 and all(c in "0123456789abcdef" for c in fp), f"{name}: fingerprint {fp!r}")
        check(list(f["runs"].keys()) == ["0"], f"{name}: one run")
        r = f["runs/0"]
        check(r.attrs["prompt"].decode() == "", f"{name}: prompt empty for --ids")
        check(json.loads(r.attrs["edits"]) == [], f"{name}: no edits")
        check(r["token_ids"].dtype == np.int32 and r["token_ids"][:].tolist() == ids, f"{name}: token_ids")
        check("token_strings" not in r, f"{name}: no token strings without a tokenizer")
        d, ff, L = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
        H = config["num_attention_heads"]
        for hook, rows in ref["hooks"].items():
            ds = r[hook]  # the hook name, dots included, is one dataset name
            width = ff if hook.endswith("mlp.hook_post") else d
            check(ds.dtype == np.float32, f"{name}: {hook} dtype {ds.dtype}")
            check(ds.shape == (T, width), f"{name}: {hook} shape {ds.shape}")
            check(ds.chunks is not None and ds.chunks[1] == width and 1 <= ds.chunks[0] <= T, f"{name}: {hook} chunks {ds.chunks}")
            err = rel_error(ds[:], rows)
            check(err < 1e-4, f"{name}: {hook} relative error {err:.3g}")
        # The rest of the default set, shapes only (values are engine-tested).
        for l in range(L):
            pat = r[f"blocks.{l}.attn.hook_pattern"]
            check(pat.shape == (H, T, T), f"{name}: pattern shape {pat.shape}")
            check(pat.chunks[0] == 1 and pat.chunks[2] == T, f"{name}: pattern chunks {pat.chunks}")
            check(np.allclose(pat[:].sum(axis=2), 1.0, atol=1e-4), f"{name}: attention rows sum to 1")
            for hook in ("hook_resid_pre", "hook_attn_out", "hook_resid_mid"):
                check(r[f"blocks.{l}.{hook}"].shape == (T, d), f"{name}: blocks.{l}.{hook} shape")
        check(r["hook_embed"].shape == (T, d) and r["ln_final.hook_normalized"].shape == (T, d), f"{name}: embed/ln_final")
        check(r["logits"].shape == (1, config["vocab_size"]), f"{name}: logits shape {r['logits'].shape}")
        check(rel_error(r["logits"][0], ref["logits_last"]) < 1e-4, f"{name}: last-position logits")
    return out


def main():
    refs = json.load(open(os.path.join(REF, "refs.json")))
    work = tempfile.mkdtemp(prefix="superlens-capture-test-")
    try:
        files = {name: check_reference_model(name, ref, work) for name, ref in refs.items()}
        name = "llama-planted"
        ref = refs[name]
        model = os.path.join(REF, name)
        out = files[name]
        ids = ",".join(map(str, ref["ids"]))

        # Reuse: same model, tokens, edits, hooks -> no recompute, file untouched.
        before = sha(out)
        p = run("capture", model, "--ids", ids, "--out", out, "--json")
        doc = json.loads(p.stdout)
        check(doc["runs"][0]["reused"] is True and doc["runs"][0]["run"] == 0, "reuse reported in JSON")
        check("reused" in p.stderr and out in p.stderr, f"reuse note on stderr: {p.stderr!r}")
        check(sha(out) == before, "reuse leaves the file byte-identical")
        p = run("capture", model, "--ids", ids, "--out", out, "--hooks", "blocks.*.hook_mlp_out")
        check("reused" in p.stderr, "a subset of the recorded hooks is reused too")

        # Append a run with an edit; run 0 stays as it was.
        edit = ref["edited"]["edit"]
        run0 = {k: v[:] for k, v in h5py.File(out, "r")["runs/0"].items()}
        p = run("capture", model, "--ids", ids, "--edit", edit, "--out", out, "--all-positions", "--json")
        doc = json.loads(p.stdout)
        check(doc["runs"][0]["run"] == 1 and not doc["runs"][0]["reused"], "edited run appended as run 1")
        with h5py.File(out, "r") as f:
            check(sorted(f["runs"].keys()) == ["0", "1"], "two runs after the append")
            for k, v in run0.items():
                check(np.array_equal(f["runs/0"][k][:], v, equal_nan=v.dtype.kind == "f"), f"run 0 {k} unchanged by the append")
            r1 = f["runs/1"]
            check(json.loads(r1.attrs["edits"]) == [edit], f"edits attribute {r1.attrs['edits']!r}")
            check(r1.attrs["logits_positions"].decode() == "all", "logits_positions=all")
            check(r1["logits"].shape == (len(ref["ids"]), ref["vocab"]), "all-position logits shape")
            check(rel_error(r1["logits"][-1], ref["edited"]["logits"]) < 1e-4, "edited logits match the reference")

        # gzip1: the same values, bit for bit.
        gz = os.path.join(work, "gzip.h5")
        run("capture", model, "--ids", ids, "--out", gz, "--compress", "gzip1")
        with h5py.File(gz, "r") as g, h5py.File(out, "r") as f:
            ds = g["runs/0/blocks.1.hook_mlp_out"]
            check(ds.compression == "gzip" and ds.compression_opts == 1, f"gzip1 dataset filter {ds.compression}")
            for k in f["runs/0"]:
                if f["runs/0"][k].dtype == np.float32:
                    check(f["runs/0"][k][:].tobytes() == g["runs/0"][k][:].tobytes(), f"gzip1 {k} bit-identical")

        # A tokenizer model: --prompts (one run per line), strings and vocabulary.
        prompts = os.path.join(work, "prompts.txt")
        with open(prompts, "w", encoding="utf-8") as f:
            f.write("Once upon a time\n\nThe cat sat on the mat.\nOnce upon a time\n")
        st = os.path.join(work, "stories.h5")
        p = run("capture", STORIES, "--prompts", prompts, "--out", st, "--json")
        doc = json.loads(p.stdout)
        check([r["reused"] for r in doc["runs"]] == [False, False, True], f"duplicate prompt reused: {doc['runs']}")
        tok = run("tokenize", STORIES, "--prompt", "The cat sat on the mat.", "--json")
        tokdoc = json.loads(tok.stdout)
        with h5py.File(st, "r") as f:
            r = f["runs/1"]
            check(r.attrs["prompt"].decode() == "The cat sat on the mat.", "prompt attribute")
            check(r["token_ids"][:].tolist() == tokdoc["ids"], "token ids as the tokenizer gives them")
            check(r["token_strings"].asstr()[:].tolist() == tokdoc["tokens"], "token strings")
            check(len(r["token_texts"]) == len(tokdoc["ids"]), "token texts")
            check(f["vocab/pieces"].shape == (512,) and f["vocab/pieces"].asstr()[1] == "<s>", "vocabulary pieces")

        # Damaged, truncated and foreign files: exit 1, one line naming the file, untouched.
        good = open(out, "rb").read()
        cases = {
            "truncated.h5": good[: len(good) // 2],
            "truncated-tiny.h5": good[:100],
            "random.h5": os.urandom(200000),
            "empty.h5": b"",
        }
        for fname, data in cases.items():
            with open(os.path.join(work, fname), "wb") as f:
                f.write(data)
        with h5py.File(os.path.join(work, "foreign.h5"), "w") as f:
            f["weights"] = np.arange(10.0)
            f.attrs["format"] = "someone-elses"
        with h5py.File(os.path.join(work, "plain.h5"), "w") as f:
            f["x"] = np.zeros(3)
        for fname in list(cases) + ["foreign.h5", "plain.h5"]:
            path = os.path.join(work, fname)
            before = sha(path)
            p = run("capture", model, "--ids", ids, "--out", path, expect=1)
            lines = p.stderr.strip().splitlines()
            check(len(lines) == 1 and path in lines[0], f"{fname}: one error line naming the file: {p.stderr!r}")
            check(p.stdout == "", f"{fname}: nothing on stdout")
            check(sha(path) == before, f"{fname}: not modified")
            check(temps(path) == [], f"{fname}: no temporary left")
            print(f"{fname}: {lines[0] if lines else ''}")

        # Refuses model folders and caches of another model.
        p = run("capture", model, "--ids", ids, "--out", os.path.join(model, "acts.h5"), expect=1)
        check("model folder" in p.stderr and not os.path.exists(os.path.join(model, "acts.h5")), "model folder refused")
        before = sha(out)
        p = run("capture", os.path.join(REF, "olmo-f32"), "--ids", "1,2,3", "--out", out, expect=1)
        check("another model" in p.stderr and sha(out) == before, f"another model's cache refused: {p.stderr!r}")

        kill_while_appending(work)
        disk_full(work, model, ids)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all capture checks passed")
    return 0


def kill_while_appending(work):
    target = os.path.join(work, "kill.h5")
    prompts = os.path.join(work, "many.txt")
    with open(prompts, "w", encoding="utf-8") as f:
        for i in range(400):
            f.write(f"Once upon a time there was a girl number {i} who liked {i * 7 % 13} cats.\n")
    run("capture", STORIES, "--prompt", "Once upon a time", "--out", target)
    original = sha(target)
    killed_mid_write = 0
    for attempt in range(3):
        proc = subprocess.Popen([CLI, "capture", STORIES, "--prompts", prompts, "--out", target],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if largest_temp_size(target) > (attempt + 1) * 300000:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            killed_mid_write += 1
            check(sha(target) == original, "killed capture left the old file byte-identical")
            check(len(temps(target)) == 1, "the killed capture left its temporary")
            with h5py.File(target, "r") as f:
                check(list(f["runs"].keys()) == ["0"], "old runs intact after the kill")
        else:
            print(f"capture finished before the kill (exit {proc.returncode})")
    check(killed_mid_write >= 1, "at least one capture was killed mid-write")
    # The next capture sweeps the killed one's temporary and appends normally.
    p = run("capture", STORIES, "--prompt", "The end.", "--out", target, "--json")
    check(json.loads(p.stdout)["runs"][0]["run"] == 1, "next capture appends run 1")
    check(temps(target) == [], "stale temporary swept")


def disk_full(work, model, ids):
    if os.geteuid() != 0:
        print("SKIP disk-full check: needs root to mount a tmpfs")
        return
    mnt = os.path.join(work, "tiny")
    os.mkdir(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt], capture_output=True).returncode != 0:
        print("SKIP disk-full check: cannot mount a tmpfs here")
        return
    try:
        target = os.path.join(mnt, "full.h5")
        run("capture", model, "--ids", ids, "--out", target)
        before = sha(target)
        prompts = os.path.join(work, "big.txt")
        with open(prompts, "w", encoding="utf-8") as f:
            for i in range(300):
                f.write(f"Prompt {i}: once upon a time, a long story about the number {i}.\n")
        p = run("capture", STORIES, "--prompts", prompts, "--out", os.path.join(mnt, "stories.h5"), expect=1)
        check("no space left on device" in p.stderr or "not enough disk space" in p.stderr, f"disk full reported: {p.stderr!r}")
        check(len(p.stderr.strip().splitlines()) == 1, "one error line")
        check(not os.path.exists(os.path.join(mnt, "stories.h5")), "no partial file")
        # Appending to an existing file on the full disk.
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"x" * (1024 * 1024 - 3 * os.path.getsize(target) // 2))
        p = run("capture", model, "--ids", "1,2,3,4,5,6,7,8", "--out", target, expect=1)
        check(("no space left" in p.stderr or "not enough disk space" in p.stderr) and target in p.stderr, f"append on a full disk: {p.stderr!r}")
        check(sha(target) == before, "old file intact after disk full")
        check(temps(target) == [], "no temporary after disk full")
        print("disk full:", p.stderr.strip())
    finally:
        subprocess.run(["umount", "-l", mnt])


if __name__ == "__main__":
    sys.exit(main())
