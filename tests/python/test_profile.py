"""Profiling from Python: InferenceSession.profile (edgeinfer's Profile), onnxruntime's
SessionOptions.enable_profiling + end_profiling trace file, and creation_stats.

Times are never compared with a bound (the machines are shared and noisy): the tests check
structure (which nodes appear, how often), non-negativity, that shares add up to 1, and
the one sanity relation that cannot fail on a slow machine (the engine's run time contains
its nodes' times).
"""
import json
import os

import numpy as np
import pytest
from ortcheck import TensorProto, assert_close, helper, make_model, run_ort

import edgeinfer

F = TensorProto.FLOAT
CNN_NODES = ["conv", "relu", "ident", "gap", "shape", "gather", "concat", "reshape", "matmul", "add", "softmax"]
PLAN_FOLDED = {"shape", "gather", "concat"}  # shape arithmetic: computed before run


def cnn_model():
    """Conv -> Relu -> Identity -> GlobalAveragePool -> Reshape(Shape->Gather->Concat) ->
    MatMul -> Add -> Softmax; static shapes."""
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "Wc", "Bc"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Identity", ["r"], ["ri"], name="ident"),
        helper.make_node("GlobalAveragePool", ["ri"], ["g"], name="gap"),
        helper.make_node("Shape", ["g"], ["gs"], name="shape"),
        helper.make_node("Gather", ["gs", "zero"], ["n0"], name="gather", axis=0),
        helper.make_node("Concat", ["n0", "minus1"], ["newshape"], name="concat", axis=0),
        helper.make_node("Reshape", ["g", "newshape"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "W"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "B"], ["logits"], name="add"),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=-1),
    ]
    inits = [("Wc", (rng.standard_normal((16, 8, 3, 3)) * 0.2).astype(np.float32)),
             ("Bc", (rng.standard_normal(16) * 0.1).astype(np.float32)),
             ("W", (rng.standard_normal((16, 10)) * 0.3).astype(np.float32)),
             ("B", (rng.standard_normal(10) * 0.1).astype(np.float32)),
             ("zero", np.array([0], np.int64)), ("minus1", np.array([-1], np.int64))]
    return make_model(nodes, [("x", F, [1, 8, 16, 16])], [("y", F, [1, 10])], inits)


def loop_model():
    """x -> Mul "pre" -> Loop "loop" (3 iterations of Add "body_add") -> Relu "post"."""
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x2"], ["s_out"], name="body_add"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", F, [4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", F, [4])])
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["x2"], name="pre"),
        helper.make_node("Loop", ["trips", "true", "x"], ["s"], name="loop", body=body),
        helper.make_node("Relu", ["s"], ["y"], name="post"),
    ]
    inits = [("trips", np.array(3, np.int64)), ("true", np.array(True)), ("two", np.array(2.0, np.float32))]
    return make_model(nodes, [("x", F, [4])], [("y", F, [4])], inits)


@pytest.fixture(scope="module")
def cnn():
    return cnn_model().SerializeToString()


@pytest.fixture
def feed(rng):
    return {"x": rng.standard_normal((1, 8, 16, 16)).astype(np.float32)}


def check_profile_structure(p, runs):
    assert isinstance(p, edgeinfer.Profile)
    assert p.runs == runs
    names = [n.name for n in p.nodes]
    assert len(names) == len(set(names)), names
    for n in p.nodes:
        assert isinstance(n, edgeinfer.NodeProfile)
        assert n.mean_ms >= 0 and n.total_ms >= n.mean_ms and 0 <= n.share <= 1
        assert n.calls > 0
    assert sum(n.share for n in p.nodes) == pytest.approx(1.0, abs=1e-9)
    assert sum(r["share"] for r in p.op_types.values()) == pytest.approx(1.0, abs=1e-9)
    assert sum(r["count"] for r in p.op_types.values()) == len(p.nodes)
    assert p.nodes_ms > 0
    assert p.total_ms >= p.nodes_ms * 0.999  # the nodes run inside the engine's timed run
    ms = [r["ms"] for r in p.op_types.values()]
    assert ms == sorted(ms, reverse=True)


# ----------------------------------------------------------------- profile()


def test_profile_unoptimized_has_every_run_node_once(cnn, feed):
    sess = edgeinfer.InferenceSession(cnn, optimization_level=0)
    p = sess.profile(feed, runs=3, warmup=1)
    check_profile_structure(p, 3)
    # No graph passes: every node but the shape arithmetic computed at plan runs, once.
    assert [n.name for n in p.nodes] == [n for n in CNN_NODES if n not in PLAN_FOLDED]
    assert all(n.calls == 1 and n.depth == 0 for n in p.nodes)
    by_name = {n.name: n for n in p.nodes}
    assert by_name["softmax"].op_type == "Softmax" and by_name["softmax"].domain == ""
    assert by_name["softmax"].output_shape == (1, 10)
    assert by_name["conv"].output_shape == (1, 16, 16, 16)
    assert p.op_types["Conv"]["count"] == 1


def test_profile_optimized_graph(cnn, feed):
    sess = edgeinfer.InferenceSession(cnn)
    p = sess.profile(feed, runs=4)
    check_profile_structure(p, 4)
    names = {n.name for n in p.nodes}
    assert not names & (PLAN_FOLDED | {"ident"})  # computed before run / removed
    for n in p.nodes:  # original nodes, or nodes the optimizer made under their own op type
        assert n.name in CNN_NODES or n.domain == "com.edgeinfer", (n.name, n.op_type, n.domain)
        if n.domain == "com.edgeinfer":
            assert n.op_type in p.op_types
    assert any("Conv" in n.op_type for n in p.nodes)
    top = p.top(2)
    assert len(top) == 2 and top[0].mean_ms >= top[1].mean_ms
    text = str(p)
    assert "op type" in text and "share" in text and top[0].name[:32] in text
    assert "runs=4" in repr(p)


def test_profile_leaves_results_and_state_unchanged(cnn, feed):
    sess = edgeinfer.InferenceSession(cnn)
    (before,) = sess.run(None, feed)
    sess.profile(feed, runs=2, warmup=0)
    (after,) = sess.run(None, feed)
    np.testing.assert_array_equal(before, after)
    assert_close(after, run_ort(cnn_model(), feed)[0])
    # Profiling is off again and its records are gone.
    assert sess._sess.profile_entries() == []
    assert sess._sess.profile_runs() == (0, 0)
    assert sess.end_profiling() == ""


def test_profile_loop_body_nodes():
    sess = edgeinfer.InferenceSession(loop_model().SerializeToString())
    p = sess.profile({"x": np.arange(4, dtype=np.float32)}, runs=2, warmup=1)
    check_profile_structure(p, 2)
    by_name = {n.name: n for n in p.nodes}
    assert {"pre", "loop", "post", "loop/body_add"} <= set(by_name), list(by_name)
    body = by_name["loop/body_add"]
    assert body.calls == 3 and body.depth == 1 and body.op_type == "Add"
    loop = by_name["loop"]
    assert loop.depth == 0 and loop.calls == 1
    assert loop.total_ms >= loop.mean_ms  # total includes the body, mean (self) does not


def test_profile_bad_arguments(cnn, feed):
    sess = edgeinfer.InferenceSession(cnn)
    with pytest.raises(edgeinfer.InvalidArgument, match="runs"):
        sess.profile(feed, runs=0)
    with pytest.raises(edgeinfer.InvalidArgument, match="warmup"):
        sess.profile(feed, warmup=-1)
    with pytest.raises(edgeinfer.InvalidArgument, match="missing input"):
        sess.profile({}, runs=1)
    assert sess._sess.profile_entries() == []  # a failed profile() leaves profiling off


# ------------------------------------------------------ enable_profiling / trace


def test_profiling_off_by_default(cnn, feed):
    assert edgeinfer.SessionOptions().enable_profiling is False
    sess = edgeinfer.InferenceSession(cnn)
    for _ in range(2):
        sess.run(None, feed)
    assert sess._sess.profile_entries() == []
    assert sess._sess.profile_runs() == (0, 0)
    assert sess.end_profiling() == ""


def test_end_profiling_writes_trace(cnn, feed, tmp_path):
    so = edgeinfer.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp_path / "trace")
    so.graph_optimization_level = edgeinfer.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = edgeinfer.InferenceSession(cnn, so)
    for _ in range(3):
        sess.run(None, feed)
    path = sess.end_profiling()
    assert os.path.basename(path).startswith("trace_") and path.endswith(".json")
    with open(path) as f:
        events = json.load(f)
    assert isinstance(events, list)
    for e in events:
        assert {"cat", "name", "ph", "ts", "dur", "pid", "tid", "args"} <= set(e), e
        assert e["dur"] >= 0 and e["ts"] >= 0
    nodes = [e for e in events if e["cat"] == "Node"]
    assert [e["args"]["node_name"] for e in nodes] == [n for n in CNN_NODES if n not in PLAN_FOLDED]
    assert all(e["name"] == e["args"]["node_name"] + "_kernel_time" for e in nodes)
    assert {e["args"]["op_name"] for e in nodes} >= {"Conv", "Relu", "MatMul", "Softmax"}
    assert all(e["args"]["runs"] == 3 and e["args"]["calls_per_run"] == 1 for e in nodes)
    session = {e["name"]: e for e in events if e["cat"] == "Session"}
    assert {"model_loading", "session_initialization", "model_run"} <= set(session)
    assert session["model_run"]["args"]["runs"] == 3
    # Ended: a second call writes nothing, later runs record nothing.
    assert sess.end_profiling() == ""
    sess.run(None, feed)
    assert sess._sess.profile_entries() == []


def test_trace_default_prefix_and_profile_alongside(cnn, feed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    so = edgeinfer.SessionOptions()
    so.enable_profiling = True
    sess = edgeinfer.InferenceSession(cnn, so)
    sess.run(None, feed)
    p = sess.profile(feed, runs=2, warmup=0)  # counts its own runs only
    assert p.runs == 2
    path = sess.end_profiling()
    assert os.path.dirname(path) == "" and path.startswith("edgeinfer_profile_")
    with open(tmp_path / path) as f:
        events = json.load(f)
    run = [e for e in events if e["name"] == "model_run"][0]
    assert run["args"]["runs"] == 3  # the run before profile() and profile()'s two


# ------------------------------------------------------------- creation stats

PHASES = {"read", "parse", "threads", "prepare", "optimize", "plan", "total"}


def test_creation_stats(cnn, tmp_path):
    sess = edgeinfer.InferenceSession(cnn)
    st = sess.creation_stats
    assert set(st) == PHASES
    assert all(isinstance(v, float) and v >= 0 for v in st.values())
    assert st["read"] == 0  # from bytes
    assert st["parse"] > 0 and st["plan"] > 0  # static shapes: planned at creation
    parts = sum(v for k, v in st.items() if k != "total")
    assert st["total"] >= parts * 0.999

    path = tmp_path / "m.onnx"
    path.write_bytes(cnn)
    st = edgeinfer.InferenceSession(str(path)).creation_stats
    assert st["read"] > 0


def test_creation_stats_plan_at_first_run():
    x = np.ones((2, 4), np.float32)
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       [("x", F, ["batch", 4])], [("y", F, ["batch", 4])])
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    assert sess.creation_stats["plan"] == 0  # dynamic batch: nothing to plan yet
    sess.run(None, {"x": x})
    first = sess.creation_stats["plan"]
    assert first > 0
    sess.run(None, {"x": np.ones((3, 4), np.float32)})  # a re-plan is not the cold start
    assert sess.creation_stats["plan"] == first
