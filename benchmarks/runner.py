"""Timing: engines side by side in one process, interleaved in short blocks, same inputs.

After a warm-up, the engines take turns: a block of runs of one, then a block of the
next, round after round, until each has run for ``min_time`` seconds and ``min_runs``
times (or ``max_runs``). Machine noise (other processes, frequency changes) so falls on
all engines alike. The runs of the first ``settle`` seconds of each block (at least one),
right after the switch from another engine, are timed but kept apart
(``discard_switch``): onnxruntime's worker threads spin for tens of milliseconds after
its run returns, and on a machine with few cores that spinning slows whatever runs next
(measured on 2 cores, edgeinfer at 2 threads, MobileNetV3-Small: median / p90 2.01 / 5.98
ms with 20 ms discarded, 1.29 / 1.35 ms with 100 ms, 1.29 / 1.54 ms timed alone). Both
figures are in the JSON, so the effect is visible.
"""
import gc
import json
import os
import subprocess
import sys
import time

import numpy as np


def stats_ms(samples_ns):
    a = np.asarray(samples_ns, dtype=np.float64) / 1e6
    if a.size == 0:
        return {}
    return {"median_ms": float(np.median(a)), "p90_ms": float(np.percentile(a, 90)), "min_ms": float(a.min()),
            "mean_ms": float(a.mean()), "runs": int(a.size)}


def _time_runs(run, feed, n, out):
    for _ in range(n):
        t = time.perf_counter_ns()
        run(feed)
        out.append(time.perf_counter_ns() - t)


def interleave(runners, feed, min_time=3.0, min_runs=10, max_runs=300, warmup=3, block_time=0.15,
               discard_switch=True, max_total=None, settle=0.1):
    """Times ``runners`` ({engine: run(feed)}) interleaved. Returns {engine: {'samples_ns',
    'switch_ns'}}: the kept runs and the runs of the settling time after each switch."""
    names = list(runners)
    est = {}
    for n in names:  # warm-up, and a first estimate of each engine's run time
        w = []
        _time_runs(runners[n], feed, max(1, warmup), w)
        est[n] = float(np.median(w[1:] if len(w) > 1 else w)) / 1e9
    kept = {n: [] for n in names}
    switch = {n: [] for n in names}
    block = {n: int(min(20, max(1, round(block_time / max(est[n], 1e-6))))) for n in names}
    start = time.perf_counter()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        while True:
            done = True
            for n in names:
                k = kept[n]
                if len(k) >= max_runs or (len(k) >= min_runs and sum(k) / 1e9 >= min_time):
                    continue
                done = False
                if len(names) > 1 and discard_switch:
                    t0 = time.perf_counter()
                    for _ in range(1000):  # until settle seconds have passed, >= 1 run
                        _time_runs(runners[n], feed, 1, switch[n])
                        if time.perf_counter() - t0 >= settle:
                            break
                _time_runs(runners[n], feed, block[n], k)
            if done or (max_total and time.perf_counter() - start > max_total):
                break
    finally:
        if gc_was:
            gc.enable()
    return {n: {"samples_ns": kept[n], "switch_ns": switch[n]} for n in names}


def create_timed(engine, path, meta, threads):
    t = time.perf_counter()
    run = engine.create(path, meta, threads)
    return run, (time.perf_counter() - t) * 1e3


def rel_diff(a, b):
    """max |a - b| / max(1, max |b|) over the first output; None if shapes differ."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return None
    if a.size == 0:
        return 0.0
    scale = max(1.0, float(np.max(np.abs(b.astype(np.float64)))))
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / scale


def memory_probe(engine_name, path, meta, threads, runs=3, timeout=600):
    """Peak memory (MB) of one engine in a fresh subprocess; see memprobe.py."""
    meta_path = os.path.splitext(path)[0] + ".json"
    if not os.path.exists(meta_path):
        import tempfile

        fd, meta_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [env.get("PYTHONPATH", ""), root] if p)
    try:
        r = subprocess.run([sys.executable, "-m", "benchmarks.memprobe", engine_name, path, meta_path, str(threads),
                            str(runs)], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": "timed out"}
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "no result"}


# ------------------------------------------------------------------------------ profiles


def profile_edgeinfer(run, feed, runs):
    """Per-op-type ms per run from the engine's own profiler, ``InferenceSession.profile``
    (its ``op_types``: {op: {"ms", "share", "count"}}), or None when this edgeinfer has none."""
    sess = getattr(run, "session", None)
    prof = getattr(sess, "profile", None)
    if prof is None:
        return None
    res = prof(feed, runs=runs, warmup=1)
    return {op: float(row["ms"]) for op, row in res.op_types.items()}


def profile_onnxruntime(path, meta, threads, feed, runs, tmpdir):
    """Per-op-type ms per run from onnxruntime's profiler (SessionOptions.enable_profiling):
    the 'Node' events' durations summed by op_name, divided by the runs (the warm-up run
    and session setup events are excluded)."""
    from .engines import OnnxRuntime

    so = OnnxRuntime.options(threads)
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(tmpdir, "ort_profile")
    eng = OnnxRuntime()
    run = eng.create(path, meta, threads, so=so)
    run(feed)  # warm-up, excluded below by counting only the last `runs` model_run events
    for _ in range(runs):
        run(feed)
    fname = run.session.end_profiling()
    with open(fname) as f:
        events = json.load(f)
    os.remove(fname)
    runs_ts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    t0 = runs_ts[-runs] if len(runs_ts) >= runs else 0
    out = {}
    for e in events:
        if e.get("cat") != "Node" or e.get("ts", 0) < t0 or not e.get("name", "").endswith("_kernel_time"):
            continue
        op = e.get("args", {}).get("op_name", "?")
        out[op] = out.get(op, 0.0) + e.get("dur", 0) / 1e3 / runs
    return out
