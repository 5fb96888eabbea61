"""Smoke test of the benchmark suite (benchmarks/): not a benchmark, no timing assertions.

- Every model builder (all 13: generating them all takes ~15 s on 2 cores, so all fit in
  the time budget) gives a valid ONNX graph whose output edgeinfer reproduces: compared
  with onnxruntime on the same input, tolerance 1e-4 x max(1, max |y|), the same as
  test_whole_models.py (float32 sums in another order, through up to ~70 layers).
- ``python -m benchmarks --quick --profile`` on DS-CNN and BERT-tiny, at 1 thread, writes a
  JSON with the documented fields, its ratio is median_ei / median_ort, and both engines'
  per-op-type profiles are there.
- Torch-free parts (run under EDGEINFER_TESTS_NO_TORCH too): the FLOP counter on
  onnx.helper graphs against hand counts, the interleaving and statistics, the peak probe.
"""
import json
import os
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks import flops, models, peak, runner  # noqa: E402

import edgeinfer  # noqa: E402

TORCH_OK, TORCH_WHY = models.torch_available()
needs_torch = pytest.mark.skipif(not TORCH_OK, reason=TORCH_WHY)
TOL = 1e-4


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh model cache for this module: the generator itself is under test."""
    return str(tmp_path_factory.mktemp("bench-cache"))


@needs_torch
@pytest.mark.parametrize("name", list(models.MODELS))
def test_model_builder_matches_onnxruntime(name, cache):
    import onnx
    import onnxruntime as ort

    path, meta = models.get(name, cache=cache)
    onnx.checker.check_model(onnx.load(path))
    assert meta["flops"] > 0 and not meta["flops_uncounted"], meta["flops_uncounted"]
    assert meta["generator_version"] == models.GENERATOR_VERSION
    feed = models.make_feed(meta["inputs"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    expected = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, feed)
    actual = edgeinfer.InferenceSession(path, num_threads=1).run(None, feed)
    for a, e in zip(actual, expected):
        assert a.shape == e.shape and a.dtype == e.dtype
        assert np.all(np.isfinite(e)) and float(np.std(e)) > 0  # weights give non-trivial outputs
        err = float(np.max(np.abs(a.astype(np.float64) - e))) / max(1.0, float(np.max(np.abs(e))))
        assert err <= TOL, f"{name}: edgeinfer differs from onnxruntime by {err:.2e} (relative)"


@needs_torch
def test_cache_is_reused_and_keyed_on_version(cache):
    path, meta = models.get("ds_cnn_l", cache=cache)
    mtime = os.path.getmtime(path)
    path2, _ = models.get("ds_cnn_l", cache=cache)
    assert path2 == path and os.path.getmtime(path2) == mtime
    assert os.path.basename(os.path.dirname(path)) == f"gen-{models.GENERATOR_VERSION}"


@needs_torch
def test_quick_run_writes_json(cache, tmp_path, capsys):
    from benchmarks.__main__ import main

    out = tmp_path / "out"
    rc = main(["--quick", "--threads", "1", "--min-time", "0.05", "--out", str(out), "--cache-dir", cache,
               "--engines", "edgeinfer,onnxruntime", "--no-progress", "--profile", "--profile-runs", "2"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| ds_cnn_l | 1 |" in printed and "| bert_tiny | 1 |" in printed
    res = json.loads((out / "results.json").read_text())
    for key in ("cpu_model", "cores", "flags", "peak_gflops_1t", "peak_method"):
        assert key in res["machine"]
    assert res["engines"]["edgeinfer"]["isa"] == edgeinfer.get_isa()
    assert "version" in res["engines"]["onnxruntime"]
    assert [(r["model"], r["threads"]) for r in res["results"]] == [("ds_cnn_l", 1), ("bert_tiny", 1)]
    for r in res["results"]:
        assert "error" not in r, r["error"]
        ei, ort = r["engines"]["edgeinfer"], r["engines"]["onnxruntime"]
        for d in (ei, ort):
            for key in ("median_ms", "p90_ms", "runs", "create_ms", "peak_mem_mb", "gflops", "peak_share"):
                assert d.get(key) is not None, key
            assert d["p90_ms"] >= d["median_ms"] > 0 and d["runs"] >= 3
        assert r["ratio_ei_ort"] == pytest.approx(ei["median_ms"] / ort["median_ms"], rel=1e-12)
        assert ei["max_rel_diff_vs_ort"] <= TOL
        assert r["gflop"] > 0
    # --profile: both engines' per-op-type times for each model, and their table
    assert [p["model"] for p in res["profiles"]] == ["ds_cnn_l", "bert_tiny"]
    for p in res["profiles"]:
        assert p["onnxruntime"] and all(v >= 0 for v in p["onnxruntime"].values())
        if hasattr(edgeinfer.InferenceSession, "profile"):
            assert p["edgeinfer"] and all(v >= 0 for v in p["edgeinfer"].values())
    assert "### bert_tiny, 1 thread(s): top op types" in printed
    if (out / "ratio.png").exists():
        assert (out / "ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ torch-free parts

F = TensorProto.FLOAT


def _init(name, shape):
    return numpy_helper.from_array(np.zeros(shape, np.float32), name)


def test_flops_counting_rule():
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),  # 8x3x3x3 on 1x3x16x16
        helper.make_node("Conv", ["c1", "w2"], ["c2"], group=8, pads=[1, 1, 1, 1]),  # depthwise 3x3
        helper.make_node("Relu", ["c2"], ["r"]),  # not counted
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "wg"], ["g"], transB=1),  # 1x2048 @ (10x2048)^T
        helper.make_node("Reshape", ["g", "shp"], ["g3"]),
        helper.make_node("MatMul", ["g3", "wm"], ["m"]),  # [1,2,5] @ [5,7]
        helper.make_node("LSTM", ["seq", "wl", "rl"], ["ly"], hidden_size=4),  # seq 6, batch 1, I 3
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", F, [1, 3, 16, 16]),
                     helper.make_tensor_value_info("seq", F, [6, 1, 3])],
        [helper.make_tensor_value_info("m", F, None), helper.make_tensor_value_info("ly", F, None)],
        [_init("w1", [8, 3, 3, 3]), _init("w2", [8, 1, 3, 3]), _init("wg", [10, 2048]),
         numpy_helper.from_array(np.array([1, 2, 5], np.int64), "shp"), _init("wm", [5, 7]),
         _init("wl", [1, 16, 3]), _init("rl", [1, 16, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    got = flops.count(model)
    want = {"Conv": 2 * 8 * 256 * 27 + 2 * 8 * 256 * 9, "Gemm": 2 * 10 * 2048, "MatMul": 2 * 2 * 7 * 5,
            "LSTM": 2 * 6 * 16 * (3 + 4)}
    assert got["by_op"] == want and got["total"] == sum(want.values()) and not got["uncounted"]


def test_interleave_and_stats():
    calls = []

    def make(name, sleep_s):
        import time

        def run(feed):
            calls.append(name)
            time.sleep(sleep_s)

        return run

    res = runner.interleave({"a": make("a", 0.001), "b": make("b", 0.002)}, {}, min_time=0.02, min_runs=5,
                            max_runs=50, warmup=1, block_time=0.005)
    for n in ("a", "b"):
        assert len(res[n]["samples_ns"]) >= 5 and res[n]["switch_ns"]
    # strictly alternating blocks after the warm-up: several switches, both engines in turn
    switches = sum(1 for x, y in zip(calls, calls[1:]) if x != y)
    assert switches >= 4
    s = runner.stats_ms([1e6, 2e6, 3e6, 4e6, 10e6])
    assert s["median_ms"] == 3.0 and s["p90_ms"] == pytest.approx(7.6) and s["runs"] == 5
    assert runner.rel_diff(np.ones(3), np.ones(3) * 1.5) == pytest.approx(0.5 / 1.5)
    assert runner.rel_diff(np.ones(3), np.ones(4)) is None


def test_peak_probe():
    info = peak.cpu_info()
    assert info["cores"] >= 1 and info["model"]
    p = peak.peak_from_c(iters=200_000, reps=2) or peak.peak_from_numpy()
    assert p is not None and p["gflops"] > 0 and p["method"]
