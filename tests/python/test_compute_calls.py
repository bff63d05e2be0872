"""Compute calls from Python: several threads share the cores, and Ctrl-C interrupts them."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import lrem

TITLES = [f"catalogue item number {i}, a sturdy everyday thing" for i in range(100)]


@pytest.fixture(scope="module")
def model(lrem_model_dir):
    lrem.set_num_threads(2)
    return lrem.Model.load(lrem_model_dir)


def test_concurrent_calls_run_on_one_compute_thread_each(model):
    emb = lrem.Embedder(model, batch_size=2)
    assert lrem.num_threads() == 2
    seen = []
    start = threading.Barrier(5)

    def embed():
        start.wait()
        emb.embed_items(TITLES)

    workers = [threading.Thread(target=embed) for _ in range(4)]
    for w in workers:
        w.start()
    start.wait()
    while any(w.is_alive() for w in workers):
        seen.append(lrem.num_threads())
        time.sleep(0.005)
    for w in workers:
        w.join()
    # With four calls inside, each ran on one compute thread; afterwards the setting is back.
    assert 1 in seen
    assert lrem.num_threads() == 2
    # A call made alone keeps every thread.
    emb.embed_items(TITLES[:8])
    assert lrem.num_threads() == 2


CTRL_C_SCRIPT = """
import signal, sys, lrem
# Started from a background job (`cmd &` in a script), a process inherits SIGINT ignored and
# Python keeps it so; a user's notebook or terminal has Python's own handler, which this restores.
signal.signal(signal.SIGINT, signal.default_int_handler)
lrem.set_num_threads(1)
emb = lrem.Embedder(lrem.Model.load(sys.argv[1]), batch_size=2, show_progress=True)
texts = ["a long catalogue title, number %d, that takes a while" % i for i in range(20000)]
print("ready", flush=True)
try:
    emb.embed_{kind}(texts)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
print("finished", flush=True)
"""


@pytest.mark.parametrize("kind", ["items", "queries"])
def test_ctrl_c_interrupts_a_long_embed_call(lrem_model_dir, kind):
    script = CTRL_C_SCRIPT.replace("{kind}", kind)
    proc = subprocess.Popen([sys.executable, "-c", script, str(lrem_model_dir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)  # inside the call
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=600)
    finally:
        proc.kill()
    assert proc.returncode == 3, err[-2000:]
    assert out.strip() == "interrupted"
    # The call stopped part-way, not at its end with the interrupt delivered afterwards.
    done, total = map(int, re.findall(r"embedded (\d+)/(\d+)", err)[-1])
    assert done < total
