"""``edgeinfer demo``: runs the small digits CNN shipped in the package.

The model (data/digits_cnn.onnx) was trained once by python/tools/train_digits.py on
scikit-learn's bundled 8x8 digits; data/digits_holdout.npz holds samples that training
never saw. The demo prints a few predictions, the held-out accuracy and latencies.
"""
import os
import statistics
import sys
import time

import numpy as np

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
MODEL_PATH = os.path.join(DATA_DIR, "digits_cnn.onnx")
HOLDOUT_PATH = os.path.join(DATA_DIR, "digits_holdout.npz")

_SHADES = " .:-=+*#%@"


def load_holdout():
    """(x float32 [N,1,8,8], y int64 [N]) of the held-out digits."""
    with np.load(HOLDOUT_PATH) as f:
        return f["x"], f["y"]


def ascii_digit(img):
    """An 8x8 image in [0, 1] as 8 lines of text (two characters per pixel)."""
    img = np.asarray(img, dtype=np.float32).reshape(8, 8)
    idx = np.clip((img * (len(_SHADES) - 1)).round().astype(int), 0, len(_SHADES) - 1)
    return "\n".join("".join(_SHADES[v] * 2 for v in row) for row in idx)


def _median_ms(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run_demo(runs=200, threads=0, out=None):
    """Runs the demo; returns the held-out accuracy. runs: timed runs at batch 1."""
    import edgeinfer

    out = out or sys.stdout

    def say(*a):
        print(*a, file=out)

    opts = edgeinfer.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = edgeinfer.InferenceSession(MODEL_PATH, opts)
    x, y = load_holdout()
    inp = sess.get_inputs()[0]
    outp = sess.get_outputs()[0]

    say(f"edgeinfer {edgeinfer.__version__} | ISA {edgeinfer.get_isa()} | "
        f"BLAS {'yes' if edgeinfer.has_blas() else 'no'} | threads {sess.num_threads}")
    say(f"model: {os.path.basename(MODEL_PATH)} ({os.path.getsize(MODEL_PATH) // 1024} KiB), "
        f"input {inp.name} {inp.type} {inp.shape}, output {outp.name} {outp.type} {outp.shape}")
    say(f"held-out set: {len(y)} digits never seen in training")
    say("")

    (probs,) = sess.run(None, {inp.name: x[:1]})
    say(f"sample 0 (label {int(y[0])}), predicted {int(probs[0].argmax())} "
        f"with p={float(probs[0].max()):.3f}:")
    say(ascii_digit(x[0]))
    say("")

    (probs,) = sess.run(None, {inp.name: x})
    pred = probs.argmax(axis=1)
    shown = min(12, len(y))
    say("label:     " + " ".join(str(int(v)) for v in y[:shown]))
    say("predicted: " + " ".join(str(int(v)) for v in pred[:shown]))
    correct = int((pred == y).sum())
    acc = correct / len(y)
    say(f"accuracy: {acc:.4f} ({correct}/{len(y)})")
    wrong = np.flatnonzero(pred != y)[:5]
    if len(wrong):
        say("misclassified (index: label -> predicted): "
            + ", ".join(f"{i}: {int(y[i])} -> {int(pred[i])}" for i in wrong))
    say("")

    one = {inp.name: np.ascontiguousarray(x[:1])}
    full = {inp.name: x}
    for _ in range(5):  # warm-up: plan both shapes, fault pages in
        sess.run(None, one)
    runs = max(1, int(runs))
    lat1 = _median_ms(lambda: sess.run(None, one), runs)
    sess.run(None, full)
    lat_full = _median_ms(lambda: sess.run(None, full), max(3, runs // 20))
    say(f"latency batch 1:   median {lat1 * 1e3:8.1f} us over {runs} runs")
    say(f"latency batch {len(y)}: median {lat_full:8.3f} ms over {max(3, runs // 20)} runs "
        f"({lat_full * 1e3 / len(y):.1f} us per image)")
    say(f"activation arena: {sess.arena_bytes} bytes")
    return acc
