"""The GIL is released while core computes, two Python threads compute at
once, progress callbacks report, and long calls cancel (token, exception in
the callback) without leaving the model unusable."""
import os
import threading
import time

import numpy as np
import pytest
import superlens

from conftest import DEMO, FAMILIES, REFERENCE

TEXT = os.path.join(os.environ["SUPERLENS_SOURCE_DIR"], "resources", "texts", "kjv_heldout_ruth_jonah_james.txt")


def long_ids(m, n=250):
    return [1] + [(7 * i + 3) % (m.d_vocab - 3) + 3 for i in range(n - 1)]


def test_gil_is_released_during_a_forward_pass(demo):
    ids = long_ids(demo)
    demo.run(ids)  # warm up
    t0 = time.perf_counter()
    for _ in range(5):
        demo.run(ids, hooks="*")
    alone = (time.perf_counter() - t0) / 5

    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    # Python bytecode in another thread keeps running while run() computes:
    # with the GIL held it would get (almost) no ticks during the pass.
    ticks_alone = 0
    t = threading.Thread(target=spin)
    t.start()
    time.sleep(alone)
    ticks_alone = ticks
    ticks = 0
    demo.run(ids, hooks="*")
    during = ticks
    stop.set()
    t.join()
    assert during > 0.05 * ticks_alone, (during, ticks_alone)


def test_two_threads_compute_at_once_with_the_same_results():
    a = superlens.open(os.path.join(REFERENCE, "llama-planted"))
    b = superlens.open(os.path.join(FAMILIES, "gpt2-f32"))
    ids_a, ids_b = long_ids(a, 64), long_ids(b, 32)
    want_a = a.run(ids_a, hooks="blocks.*.hook_resid_post")
    want_b = b.run(ids_b, hooks="blocks.*.hook_resid_post")
    results = {}
    errors = []

    def work(key, model, ids):
        try:
            for i in range(20):
                r = model.run(ids, hooks="blocks.*.hook_resid_post")
                results[(key, i)] = r
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=work, args=("a", a, ids_a)), threading.Thread(target=work, args=("b", b, ids_b)),
               threading.Thread(target=work, args=("a2", a, ids_a))]  # same model from two threads: serialised, still exact
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (key, i), r in results.items():
        want = want_b if key == "b" else want_a
        np.testing.assert_array_equal(r.logits, want.logits)  # bit-identical: fixed reduction order
        for k, v in want.cache.items():
            np.testing.assert_array_equal(r.cache[k], v)


def test_progress_reports_every_layer(planted):
    calls = []
    planted.run([1, 2, 3], progress=lambda done, total, stage: calls.append((done, total, stage)))
    L = planted.n_layers
    assert calls[-1] == (L + 1, L + 1, "forward")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls) and all(c[1] == L + 1 for c in calls)
    steps = []
    planted.perplexity(long_ids(planted, 100), ctx=32, progress=lambda d, t, s: steps.append(s))
    assert steps, "perplexity reports progress"


def test_cancel_token_and_callback_exceptions(demo):
    ids = long_ids(demo)
    token = superlens.CancelToken()

    def cancel_at_layer_2(done, total, stage):
        if done == 2:
            token.cancel()

    with pytest.raises(superlens.Cancelled):
        demo.run(ids, progress=cancel_at_layer_2, cancel=token)
    assert token.cancelled
    with pytest.raises(superlens.Cancelled):  # a cancelled token stops the next call at once
        demo.run(ids, cancel=token)
    token.reset()
    demo.run(ids, cancel=token)

    class Stop(Exception):
        pass

    def raise_in_callback(done, total, stage):
        raise Stop("from the callback")

    with pytest.raises(Stop, match="from the callback"):
        demo.perplexity(TEXT_SAMPLE, ctx=64, progress=raise_in_callback)

    with pytest.raises(superlens.Error, match="progress callback"):
        demo.run(ids, progress=lambda d, t, s: demo.run([1, 2]))
    with pytest.raises(TypeError):
        demo.run(ids, progress=42)
    with pytest.raises(TypeError):
        demo.run(ids, cancel=True)
    np.testing.assert_array_equal(demo.run(ids).logits, demo.run(ids).logits)  # still usable


def test_cancel_from_another_thread(demo):
    token = superlens.CancelToken()
    text = open(TEXT, encoding="utf-8").read()
    started = threading.Event()

    def progress(done, total, stage):
        started.set()
        time.sleep(0.01)  # keep the study long enough to be cancelled

    def canceller():
        started.wait(60)
        token.cancel()

    t = threading.Thread(target=canceller)
    t.start()
    t0 = time.perf_counter()
    with pytest.raises(superlens.Cancelled):
        demo.study_laser(text, types=["down", "up"], rhos=[0.1, 0.5], max_tokens=2048, ctx=128, tasks=False,
                         progress=progress, cancel=token)
    t.join()
    assert time.perf_counter() - t0 < 60


TEXT_SAMPLE = "In the beginning God created the heaven and the earth. " * 20


@pytest.mark.parametrize("with_progress", [False, True])
def test_ctrl_c_interrupts_a_long_call(with_progress):
    """SIGINT during a core call: checked between units of work on the main
    thread (no callback), or raised inside the progress callback."""
    import signal
    import subprocess
    import sys
    code = f"""
import sys, superlens
m = superlens.open({DEMO!r})
text = open({TEXT!r}, encoding="utf-8").read()
def progress(done, total, stage):
    pass
print("ready", flush=True)
try:
    m.study_laser(text, types=["down", "up", "gate"], rhos=[0.1, 0.5], tasks=False, ctx=128,
                  progress=progress if {with_progress} else None)
    print("finished")
except KeyboardInterrupt:
    print("interrupted", flush=True)
    m.run([1, 2, 3])  # still usable
    print("usable")
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    t0 = time.perf_counter()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "interrupted" in out and "usable" in out and "finished" not in out
    assert time.perf_counter() - t0 < 30
