"""The onnxruntime-shaped Python API: constructors, metadata, run, options, input
handling (zero copy / one copy) and the GIL.

Numerical comparisons use onnxruntime as the oracle with tolerance 1e-5 relative to the
output's magnitude (ortcheck.assert_close): these graphs are a few MatMul/Add/Relu, where
only float32 summation order differs between engines.
"""
import pathlib
import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import edgeinfer
from edgeinfer import _core
from ortcheck import assert_close, make_model, run_ort


def mlp_model(batch="batch", n_in=4, n_hidden=5, n_out=3, seed=0):
    """x[batch, n_in] -> MatMul+Add -> Relu ('hidden') -> MatMul+Add ('y'); outputs y, hidden."""
    r = np.random.default_rng(seed)
    w1 = r.standard_normal((n_in, n_hidden)).astype(np.float32)
    b1 = r.standard_normal(n_hidden).astype(np.float32)
    w2 = r.standard_normal((n_hidden, n_out)).astype(np.float32)
    b2 = r.standard_normal(n_out).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h0"], name="mm1"),
        helper.make_node("Add", ["h0", "b1"], ["h1"], name="add1"),
        helper.make_node("Relu", ["h1"], ["hidden"], name="relu1"),
        helper.make_node("MatMul", ["hidden", "w2"], ["y0"], name="mm2"),
        helper.make_node("Add", ["y0", "b2"], ["y"], name="add2"),
    ]
    return make_model(
        nodes,
        [("x", TensorProto.FLOAT, [batch, n_in])],
        [("y", TensorProto.FLOAT, [batch, n_out]), ("hidden", TensorProto.FLOAT, [batch, n_hidden])],
        [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)],
    )


@pytest.fixture
def mlp():
    return mlp_model()


@pytest.fixture
def x(rng):
    return rng.standard_normal((2, 4)).astype(np.float32)


# ------------------------------------------------------------------ constructors


def test_from_path_str_and_pathlib(tmp_path, mlp, x):
    p = tmp_path / "mlp.onnx"
    onnx.save(mlp, str(p))
    expected = run_ort(mlp, {"x": x})
    for source in (str(p), pathlib.Path(p)):
        sess = edgeinfer.InferenceSession(source)
        out = sess.run(None, {"x": x})
        assert len(out) == 2
        for a, e in zip(out, expected):
            assert_close(a, e)


@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "ModelProto"])
def test_from_bytes_and_modelproto(kind, mlp, x):
    data = mlp.SerializeToString()
    source = {"bytes": data, "bytearray": bytearray(data), "memoryview": memoryview(data),
              "ModelProto": mlp}[kind]
    sess = edgeinfer.InferenceSession(source)
    for a, e in zip(sess.run(None, {"x": x}), run_ort(mlp, {"x": x})):
        assert_close(a, e)


def test_constructor_rejects_other_types():
    with pytest.raises(TypeError, match="path, bytes or an onnx.ModelProto"):
        edgeinfer.InferenceSession(12345)


def test_constructor_rejects_unknown_kwarg(mlp):
    with pytest.raises(TypeError, match="unexpected keyword argument 'nmu_threads'"):
        edgeinfer.InferenceSession(mlp, nmu_threads=2)


def test_providers_accepted_and_reported(mlp):
    sess = edgeinfer.InferenceSession(mlp, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    assert edgeinfer.get_available_providers() == ["CPUExecutionProvider"]
    assert edgeinfer.get_device() == "CPU"


# ---------------------------------------------------------------------- metadata


def test_get_inputs_outputs_symbolic_dims(mlp):
    sess = edgeinfer.InferenceSession(mlp)
    (inp,) = sess.get_inputs()
    assert inp.name == "x"
    assert inp.type == "tensor(float)"
    assert inp.shape == ["batch", 4]
    outs = sess.get_outputs()
    assert [o.name for o in outs] == ["y", "hidden"]
    assert [o.shape for o in outs] == [["batch", 3], ["batch", 5]]
    assert all(o.type == "tensor(float)" for o in outs)
    assert inp.dtype == np.float32
    assert "batch" in repr(inp)


def test_metadata_matches_onnxruntime():
    """Unnamed dynamic dims are None, fixed dims ints, int64 inputs 'tensor(int64)'."""
    import onnxruntime as ort

    nodes = [helper.make_node("Relu", ["x"], ["y"]), helper.make_node("Identity", ["i"], ["j"])]
    model = make_model(nodes,
                       [("x", TensorProto.FLOAT, [None, 3]), ("i", TensorProto.INT64, ["n", 3])],
                       [("y", TensorProto.FLOAT, [None, 3]), ("j", TensorProto.INT64, ["n", 3])])
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    sess = edgeinfer.InferenceSession(model)
    for mine, theirs in [(sess.get_inputs(), ref.get_inputs()), (sess.get_outputs(), ref.get_outputs())]:
        assert [(a.name, a.type, a.shape) for a in mine] == [(a.name, a.type, a.shape) for a in theirs]


def test_version_isa_blas():
    assert edgeinfer.__version__ == "0.1.0"
    assert edgeinfer.get_isa() in ("ref", "avx2", "avx512", "neon")
    assert isinstance(edgeinfer.has_blas(), bool)


def test_exception_hierarchy():
    E = edgeinfer
    assert issubclass(E.InvalidArgument, E.EdgeInferError) and issubclass(E.InvalidArgument, ValueError)
    assert issubclass(E.InvalidModel, E.EdgeInferError) and issubclass(E.InvalidModel, ValueError)
    assert issubclass(E.Unsupported, E.EdgeInferError) and issubclass(E.Unsupported, NotImplementedError)
    assert issubclass(E.IndexOutOfRange, E.EdgeInferError) and issubclass(E.IndexOutOfRange, IndexError)
    assert issubclass(E.OutOfMemory, E.EdgeInferError) and issubclass(E.OutOfMemory, MemoryError)
    assert issubclass(E.EngineIOError, E.EdgeInferError) and issubclass(E.EngineIOError, OSError)
    assert E.InvalidArgument.__module__ == "edgeinfer"


# --------------------------------------------------------------------------- run


def test_run_all_and_selected_outputs(mlp, x):
    sess = edgeinfer.InferenceSession(mlp)
    y_ref, hidden_ref = run_ort(mlp, {"x": x})
    y, hidden = sess.run(None, {"x": x})
    assert_close(y, y_ref)
    assert_close(hidden, hidden_ref)
    assert len(sess.run([], {"x": x})) == 2
    (only,) = sess.run(["hidden"], {"x": x})
    assert_close(only, hidden_ref)
    h2, y2 = sess.run(["hidden", "y"], {"x": x})
    assert_close(h2, hidden_ref)
    assert_close(y2, y_ref)


def test_run_unknown_output_name(mlp, x):
    sess = edgeinfer.InferenceSession(mlp)
    with pytest.raises(edgeinfer.InvalidArgument, match="unknown output name 'nope'"):
        sess.run(["nope"], {"x": x})


def test_run_options_accepted(mlp, x):
    sess = edgeinfer.InferenceSession(mlp)
    (y,) = sess.run(["y"], {"x": x}, edgeinfer.RunOptions())
    assert_close(y, run_ort(mlp, {"x": x})[0])


def test_outputs_are_fresh_arrays(mlp, x):
    sess = edgeinfer.InferenceSession(mlp)
    a = sess.run(["y"], {"x": x})[0]
    b = sess.run(["y"], {"x": x})[0]
    assert a is not b and not np.shares_memory(a, b)
    assert a.flags.c_contiguous and a.flags.writeable and a.flags.owndata


def test_dynamic_batch_in_one_session(mlp, rng):
    sess = edgeinfer.InferenceSession(mlp)
    for batch in (1, 7, 3, 1):
        xb = rng.standard_normal((batch, 4)).astype(np.float32)
        for a, e in zip(sess.run(None, {"x": xb}), run_ort(mlp, {"x": xb})):
            assert_close(a, e)
    assert sess.arena_bytes >= 0


def test_reshape_extra(mlp):
    sess = edgeinfer.InferenceSession(mlp)
    assert sess.reshape({"x": (6, 4)}) == [(6, 3), (6, 5)]


# ----------------------------------------------------------------------- options


def test_thread_option(mlp, x):
    expected = run_ort(mlp, {"x": x})
    for n in (1, 2):
        so = edgeinfer.SessionOptions()
        so.intra_op_num_threads = n
        sess = edgeinfer.InferenceSession(mlp, so)
        assert sess.num_threads == n
        assert sess.get_session_options() is so
        for a, e in zip(sess.run(None, {"x": x}), expected):
            assert_close(a, e)
    assert edgeinfer.InferenceSession(mlp).num_threads >= 1  # 0 = one per core
    assert edgeinfer.InferenceSession(mlp, num_threads=1).num_threads == 1


def test_negative_threads_rejected(mlp):
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = -1
    with pytest.raises(edgeinfer.InvalidArgument, match="intra_op_num_threads"):
        edgeinfer.InferenceSession(mlp, so)


@pytest.mark.parametrize("level", list(edgeinfer.GraphOptimizationLevel))
def test_optimization_levels_give_same_results(level, mlp, x):
    so = edgeinfer.SessionOptions()
    so.graph_optimization_level = level
    so.inter_op_num_threads = 4  # accepted, no effect
    sess = edgeinfer.InferenceSession(mlp, so)
    for a, e in zip(sess.run(None, {"x": x}), run_ort(mlp, {"x": x})):
        assert_close(a, e)


def test_profiling_attributes_match_ort(mlp, x):
    import onnxruntime as ort

    ours, theirs = edgeinfer.SessionOptions(), ort.SessionOptions()
    for attr in ("enable_profiling", "profile_file_prefix"):
        assert hasattr(theirs, attr) and hasattr(ours, attr)
    assert ours.enable_profiling is theirs.enable_profiling is False
    sess = edgeinfer.InferenceSession(mlp)
    assert callable(getattr(ort.InferenceSession, "end_profiling"))
    assert sess.end_profiling() == ""  # not enabled: no file, as onnxruntime


def test_graph_optimization_level_matches_ort():
    import onnxruntime as ort

    for name, member in edgeinfer.GraphOptimizationLevel.__members__.items():
        assert int(getattr(ort.GraphOptimizationLevel, name)) == int(member)


# ------------------------------------------------------------------------ inputs


def test_zero_copy_input(mlp, x):
    sess = edgeinfer.InferenceSession(mlp)
    sess.run(None, {"x": x})
    before = _core._input_copies()
    for _ in range(3):
        sess.run(None, {"x": x})
    ro = x.copy()
    ro.flags.writeable = False  # read-only arrays are read in place too
    sess.run(None, {"x": ro})
    assert _core._input_copies() == before


def _layouts(x):
    """Arrays equal to x whose memory layout the engine cannot read in place."""
    wide = np.zeros((x.shape[0], x.shape[1] * 2), np.float32)
    wide[:, ::2] = x
    strided = wide[:, ::2]
    fortran = np.asfortranarray(x)
    swapped = x.astype(x.dtype.newbyteorder(">"))
    buf = np.zeros(x.nbytes + 1, np.uint8)
    misaligned = np.frombuffer(buf.data, dtype=np.float32, count=x.size, offset=1).reshape(x.shape)
    misaligned[...] = x
    return {"strided": strided, "fortran": fortran, "byteswapped": swapped, "misaligned": misaligned}


@pytest.mark.parametrize("layout", ["strided", "fortran", "byteswapped", "misaligned"])
def test_non_contiguous_input_is_copied_once(layout, rng):
    mlp = mlp_model(n_in=3)
    xc = rng.standard_normal((4, 3)).astype(np.float32)
    xin = _layouts(xc)[layout]
    np.testing.assert_array_equal(xin, xc)
    if layout != "byteswapped":
        assert not (xin.flags.c_contiguous and xin.flags.aligned)
    sess = edgeinfer.InferenceSession(mlp)
    before = _core._input_copies()
    out = sess.run(None, {"x": xin})
    assert _core._input_copies() == before + 1
    for a, e in zip(out, run_ort(mlp, {"x": xc})):
        assert_close(a, e)


def test_python_list_input_follows_the_dtype_rule(mlp):
    """Python lists become float64 arrays: no silent cast, same rule as arrays."""
    sess = edgeinfer.InferenceSession(mlp)
    with pytest.raises(edgeinfer.InvalidArgument, match="input 'x'.*float32.*float64"):
        sess.run(None, {"x": [[0.0, 1.0, 2.0, 3.0]]})


def test_int64_list_input():
    nodes = [helper.make_node("Add", ["a", "b"], ["c"])]
    model = make_model(nodes, [("a", TensorProto.INT64, [3]), ("b", TensorProto.INT64, [3])],
                       [("c", TensorProto.INT64, [3])])
    sess = edgeinfer.InferenceSession(model)
    (c,) = sess.run(None, {"a": [1, 2, 3], "b": np.array([10, 20, 30], np.int64)})
    assert c.dtype == np.int64
    np.testing.assert_array_equal(c, [11, 22, 33])


@pytest.mark.parametrize("np_dtype,onnx_type", [
    (np.float32, TensorProto.FLOAT), (np.float64, TensorProto.DOUBLE), (np.int32, TensorProto.INT32),
    (np.int64, TensorProto.INT64), (np.bool_, TensorProto.BOOL), (np.uint8, TensorProto.UINT8),
    (np.int8, TensorProto.INT8), (np.float16, TensorProto.FLOAT16), (np.uint16, TensorProto.UINT16),
    (np.int16, TensorProto.INT16), (np.uint32, TensorProto.UINT32), (np.uint64, TensorProto.UINT64),
])
def test_dtype_round_trip_identity(np_dtype, onnx_type, rng):
    """Identity passes every NumPy-representable dtype through unchanged."""
    model = make_model([helper.make_node("Identity", ["x"], ["y"])],
                       [("x", onnx_type, [2, 3])], [("y", onnx_type, [2, 3])])
    x = (rng.standard_normal((2, 3)) * 5).astype(np_dtype)
    sess = edgeinfer.InferenceSession(model)
    (y,) = sess.run(None, {"x": x})
    assert y.dtype == np.dtype(np_dtype)
    assert sess.get_outputs()[0].type == run_ort_type(model)
    np.testing.assert_array_equal(y, x)


def run_ort_type(model):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).get_outputs()[0].type


# --------------------------------------------------------------------------- GIL


def _heavy_model(w, depth):
    """A chain of depth MatMuls by one orthogonal matrix w (values keep their scale)."""
    nodes, cur = [], "x"
    for i in range(depth):
        nodes.append(helper.make_node("MatMul", [cur, "w"], [f"h{i}"]))
        cur = f"h{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    n = w.shape[0]
    return make_model(nodes, [("x", TensorProto.FLOAT, [n, n])], [("y", TensorProto.FLOAT, [n, n])], [("w", w)])


def test_gil_released_during_run():
    """While a worker thread is inside run(), the main thread keeps executing Python.

    The worker notes the time just before and after one long run(); the main thread notes
    a timestamp per loop iteration. With the GIL held during the run, no main-thread
    timestamp could fall inside the run; we require several in its middle 60%."""
    r = np.random.default_rng(0)
    n = 256
    w = np.linalg.qr(r.standard_normal((n, n)))[0].astype(np.float32)
    x = r.standard_normal((n, n)).astype(np.float32)
    depth = 16
    while True:  # grow the chain until one run takes >= 150 ms
        model = _heavy_model(w, depth)
        sess = edgeinfer.InferenceSession(model, num_threads=1)
        sess.run(None, {"x": x})  # plan
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        one_run = time.perf_counter() - t0
        if one_run >= 0.15 or depth >= 4096:
            break
        depth = min(4096, int(depth * max(2.0, 0.2 / max(one_run, 1e-4))))
    assert one_run >= 0.15, f"the test model runs too fast to observe the GIL ({one_run * 1e3:.1f} ms)"

    marks = {}

    def work():
        marks["start"] = time.perf_counter()
        marks["out"] = sess.run(None, {"x": x})[0]
        marks["end"] = time.perf_counter()

    ticks = []
    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():
        sum(range(100))  # some Python bytecode
        ticks.append(time.perf_counter())
    worker.join()
    start, end = marks["start"], marks["end"]
    lo, hi = start + 0.2 * (end - start), end - 0.2 * (end - start)
    inside = sum(1 for t in ticks if lo <= t <= hi)
    assert inside >= 3, f"main thread ran {inside} times during the middle of a {(end - start) * 1e3:.0f} ms run"
    assert_close(marks["out"], run_ort(model, {"x": x})[0], rtol=1e-4, atol=1e-4)


def test_two_threads_share_a_session(mlp, rng):
    sess = edgeinfer.InferenceSession(mlp)
    feeds = [rng.standard_normal((b, 4)).astype(np.float32) for b in (1, 5, 2, 9)]
    expected = [run_ort(mlp, {"x": f})[0] for f in feeds]
    errors = []

    def work():
        try:
            for _ in range(20):
                for f, e in zip(feeds, expected):
                    assert_close(sess.run(["y"], {"x": f})[0], e)
        except Exception as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_no_reference_leaks(mlp):
    """run() keeps no reference to inputs or outputs, on success and on error paths."""
    import sys

    sess = edgeinfer.InferenceSession(mlp)
    x = np.ones((2, 4), np.float32)
    strided = np.ones((2, 8), np.float32)[:, ::2]
    bad = np.ones((2, 4), np.float64)
    feeds = [{"x": x}, {"x": strided}]
    before = [sys.getrefcount(a) for a in (x, strided, bad)]
    for _ in range(50):
        for f in feeds:
            out = sess.run(None, f)
            first = out[0]
            n_refs = sys.getrefcount(first) - 1  # minus the call's argument
            assert n_refs == 2, n_refs  # the list and `first`
            del first
        with pytest.raises(edgeinfer.InvalidArgument):
            sess.run(None, {"x": bad})
        with pytest.raises(edgeinfer.InvalidArgument):
            sess.run(None, {"x": x, "extra": x})
    del out
    assert [sys.getrefcount(a) for a in (x, strided, bad)] == before


def test_bfloat16_inputs_and_outputs_use_ml_dtypes():
    """NumPy has no bfloat16; arrays of ml_dtypes.bfloat16 (what onnx uses) pass in and out."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes ships with onnx; without it bf16 is Unsupported")
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BFLOAT16),
             helper.make_node("Identity", ["b"], ["b_out"]),
             helper.make_node("Cast", ["bin"], ["f"], to=TensorProto.FLOAT)]
    g = helper.make_graph(nodes, "bf16", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4]),
                                          helper.make_tensor_value_info("bin", TensorProto.BFLOAT16, [2, 2])],
                          [helper.make_tensor_value_info("b_out", TensorProto.BFLOAT16, [4]),
                           helper.make_tensor_value_info("f", TensorProto.FLOAT, [2, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = edgeinfer.InferenceSession(m.SerializeToString())
    x = np.array([1.0, -2.5, 3.140625, 1e-3], dtype=np.float32)
    bin_ = np.array([[1.5, -0.25], [8.0, 0.0]], dtype=ml_dtypes.bfloat16)
    b_out, f = sess.run(None, {"x": x, "bin": bin_})
    assert b_out.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(b_out.astype(np.float32), x.astype(ml_dtypes.bfloat16).astype(np.float32))
    np.testing.assert_array_equal(f, bin_.astype(np.float32))
    # a non-contiguous bfloat16 input is converted once, like other dtypes
    wide = np.zeros((2, 4), dtype=ml_dtypes.bfloat16)
    wide[:, ::2] = bin_
    _, f2 = sess.run(None, {"x": x, "bin": wide[:, ::2]})
    np.testing.assert_array_equal(f2, f)
