"""Reductions and normalization ops against onnxruntime: Reduce*, ArgMax/ArgMin,
LayerNormalization, InstanceNormalization, GroupNormalization, LpNormalization, LRN,
MeanVarianceNormalization, LogSoftmax, Hardmax, CumSum, TopK.

Tolerances: float32 sums over up to a few thousand terms are accumulated in a different
order than onnxruntime's (Eigen/MLAS vectorized sums), so the relative error grows like
n * eps ~ 1e-4 at worst for these sizes: rtol 1e-4, atol 1e-5 (relative to the output's
max magnitude) for sum-like reductions, normalizations and exp/log (a few ulp apart).
float64 reductions: rtol 1e-9, atol 1e-12 (same argument with eps = 2e-16).
Max/Min/ArgMax/ArgMin/Hardmax/TopK and integer reductions select or wrap exactly and are
compared bit-exactly (assert_close compares integers exactly; floats with rtol=atol=0).
Where onnxruntime cannot be the oracle (LRN with an even size, uint64 TopK) the test
says why and compares with the ONNX formula in NumPy.
"""
import numpy as np
import onnx
import pytest

import edgeinfer
from ortcheck import TensorProto, assert_close, check_model, helper, make_model, run_ei, run_ort

RNG = np.random.default_rng(4321)
TOL = dict(rtol=1e-4, atol=1e-5)
EXACT = dict(rtol=0, atol=0)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def run_case(nodes, feed, outputs=("y",), inits=(), opset=18, rtol=1e-4, atol=1e-5, **kw):
    """Builds a model whose input shapes are those of feed; output types/shapes come from
    onnxruntime's answer on a probe model, so the checker sees fully typed outputs."""
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in feed.items()]
    probe = make_model(nodes, inputs, [onnx.ValueInfoProto(name=o) for o in outputs], inits, opset)
    expected = run_ort(probe, feed)
    outs = [(o, _tt(e.dtype), list(e.shape)) for o, e in zip(outputs, expected)]
    return check_model(make_model(nodes, inputs, outs, inits, opset), feed, rtol=rtol, atol=atol, **kw)


def expect_error(exc, fragments, nodes, inputs, feed=None, outputs=("y",), inits=(), opset=18):
    """Creating (and, with feed, running) the model must raise exc with every fragment."""
    model = make_model(nodes, inputs, [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                       inits, opset)
    with pytest.raises(exc) as info:
        sess = edgeinfer.InferenceSession(model.SerializeToString())
        if feed is not None:
            sess.run(None, feed)
    for f in ([fragments] if isinstance(fragments, str) else fragments):
        assert f in str(info.value), f"{f!r} not in {str(info.value)!r}"
    return info.value


def threads(n):
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = n
    return so


def rand(shape, dtype=np.float32, lo=-3.0, hi=3.0):
    if np.dtype(dtype).kind == "f":
        return np.asarray(RNG.uniform(lo, hi, size=shape).astype(dtype))
    return np.asarray(RNG.integers(int(lo), int(hi) + 1, size=shape).astype(dtype))


# ------------------------------------------------------------------ reductions

REDUCE_OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
              "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"]
AXES_INPUT_SINCE = {op: (13 if op == "ReduceSum" else 18) for op in REDUCE_OPS}

# (shape, axes or None for "all")
REDUCE_CASES = [
    ((5,), None),
    ((5,), [0]),
    ((3, 4), [1]),
    ((3, 4), [0]),
    ((3, 4), [-1]),
    ((2, 3, 4), [0, 2]),
    ((2, 3, 4), [1]),
    ((2, 3, 4), [-3, -1]),
    ((2, 1, 5), [1]),
    ((2, 1, 5), [0, 1]),
    ((4, 3, 1, 7), [1, 3]),
    ((3, 5, 2, 3), [0, 2]),
    ((2, 3, 4, 5), [0, 1, 2, 3]),
    ((2, 3, 4, 5), [3, 1]),
    ((1, 1, 1), [1]),
    ((7, 9, 13), [1]),
]


def _reduce_input(op, shape, dtype=np.float32):
    if dtype != np.float32:
        return rand(shape, dtype, -3, 3)
    if op == "ReduceProd":
        return rand(shape, lo=0.6, hi=1.4)
    if op == "ReduceLogSum":
        return rand(shape, lo=0.1, hi=2.0)
    return rand(shape)


def _reduce_node(op, opset, axes, keepdims, noop=None, extra_inputs=()):
    kw = {"keepdims": keepdims}
    if noop is not None:
        kw["noop_with_empty_axes"] = noop
    if opset >= AXES_INPUT_SINCE[op]:
        ins = ["x", "axes"] if axes is not None else ["x"]
        return helper.make_node(op, ins, ["y"], **kw), ([("axes", np.array(axes, np.int64))] if axes is not None else [])
    if axes is not None:
        kw["axes"] = axes
    return helper.make_node(op, ["x"], ["y"], **kw), []


def _tol(op):
    return EXACT if op in ("ReduceMax", "ReduceMin") else TOL


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("opset", [11, 13, 18])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce_table(op, opset, keepdims):
    for shape, axes in REDUCE_CASES:
        x = _reduce_input(op, shape)
        node, inits = _reduce_node(op, opset, axes, keepdims)
        run_case([node], {"x": x}, inits=inits, opset=opset, **_tol(op))


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_opset1_and_20(op):
    x = _reduce_input(op, (3, 4, 5))
    node, inits = _reduce_node(op, 7, [2, 0], 1)
    run_case([node], {"x": x}, inits=inits, opset=7, **_tol(op))
    node, inits = _reduce_node(op, 20, [-2], 0)
    run_case([node], {"x": x}, inits=inits, opset=20, **_tol(op))


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("noop", [0, 1])
def test_reduce_empty_axes(op, noop):
    """Absent axes and an empty axes tensor: reduce all, or (noop) apply f to each element."""
    opset = AXES_INPUT_SINCE[op]
    x = _reduce_input(op, (3, 4))
    node, _ = _reduce_node(op, opset, None, 1, noop=noop)
    run_case([node], {"x": x}, opset=opset, **_tol(op))
    node, inits = _reduce_node(op, opset, [], 0, noop=noop)
    run_case([node], {"x": x}, inits=inits, opset=opset, **_tol(op))


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_reduce_int(op, dtype):
    for shape, axes in REDUCE_CASES:
        x = _reduce_input(op, shape, dtype)
        node, inits = _reduce_node(op, 18, axes, 1)
        run_case([node], {"x": x}, inits=inits, opset=18, **EXACT)


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_float64(op):
    for shape, axes in REDUCE_CASES[::3] + [((64, 96, 40), [0]), ((64, 96, 40), [2])]:
        x = _reduce_input(op, shape).astype(np.float64)
        node, inits = _reduce_node(op, 18, axes, 1)
        run_case([node], {"x": x}, inits=inits, opset=18, sess_options=threads(4), **EXACT if op in (
            "ReduceMax", "ReduceMin") else dict(rtol=1e-9, atol=1e-12))


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_uint8_bool(op):
    for shape, axes in REDUCE_CASES:
        x = rand(shape, np.uint8, 0, 255)
        node, inits = _reduce_node(op, 18, axes, 0)
        run_case([node], {"x": x}, inits=inits, opset=18, **EXACT)
        node, inits = _reduce_node(op, 20, axes, 1)
        run_case([node], {"x": x > 128}, inits=inits, opset=20, **EXACT)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceLogSumExp"])
def test_reduce_every_axis_subset(op):
    """All 16 axis subsets of a 4-D shape with a size-1 dim: every collapsed row/column
    pattern, including several non-adjacent reduced runs."""
    import itertools
    x = _reduce_input(op, (3, 1, 4, 5))
    for r in range(0, 5):
        for axes in itertools.combinations(range(4), r):
            for keepdims in (0, 1):
                node, inits = _reduce_node(op, 18, list(axes), keepdims, noop=0)
                run_case([node], {"x": x}, inits=inits, opset=18, **_tol(op))


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMin", "ReduceL1"])
def test_reduce_random_high_rank(op):
    """Seeded random rank-5/6 shapes (sizes 1-4) and axis sets: many alternating runs."""
    rng = np.random.default_rng(7)
    for _ in range(25):
        rank = int(rng.integers(5, 7))
        shape = tuple(int(d) for d in rng.integers(1, 5, size=rank))
        axes = [int(a) - rank * int(rng.integers(0, 2)) for a in np.flatnonzero(rng.integers(0, 2, size=rank))]
        node, inits = _reduce_node(op, 18, axes, int(rng.integers(0, 2)))
        run_case([node], {"x": _reduce_input(op, shape)}, inits=inits, opset=18, **_tol(op))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_reduce_int_threads(dtype):
    x = rand((48, 64, 33), dtype, -1000, 1000)
    for axes in ([0], [2], [0, 2], [1]):
        node, inits = _reduce_node("ReduceSum", 13, axes, 1)
        run_case([node], {"x": x}, inits=inits, opset=13, sess_options=threads(4), **EXACT)
        node, inits = _reduce_node("ReduceMin", 18, axes, 0)
        run_case([node], {"x": x}, inits=inits, opset=18, sess_options=threads(4), **EXACT)


def test_reduce_scalar_input():
    x = np.array(2.5, np.float32)
    for op in ("ReduceSum", "ReduceMean", "ReduceL2", "ReduceLogSumExp"):
        run_case([helper.make_node(op, ["x"], ["y"], keepdims=1)], {"x": x}, opset=18, **TOL)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceLogSumExp", "ReduceL2"])
@pytest.mark.parametrize("axes", [[0], [1], [0, 2], [2]])
def test_reduce_large_threads(op, axes):
    """Large enough to be split across the thread pool, in both row and column modes."""
    x = rand((64, 96, 40))
    node, inits = _reduce_node(op, 18, axes, 0)
    run_case([node], {"x": x}, inits=inits, opset=18, sess_options=threads(4), **_tol(op))


def test_reduce_logsumexp_large_values():
    """Stable: values near float32's exp overflow must not give inf."""
    x = rand((3, 50), lo=80.0, hi=100.0)
    node, inits = _reduce_node("ReduceLogSumExp", 18, [1], 1)
    run_case([node], {"x": x}, inits=inits, **TOL)


def test_reduce_axes_computed_from_shape():
    """axes computed at reshape (Shape -> Gather-free arithmetic) is accepted."""
    x = rand((2, 3, 4))
    nodes = [helper.make_node("Shape", ["x"], ["s"], start=2),
             helper.make_node("Sub", ["s", "two"], ["axes"]),
             helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)]
    run_case(nodes, {"x": x}, inits=[("two", np.array([2], np.int64))], opset=18, **TOL)


def test_reduce_zero_size():
    """A zero-size kept dim gives an empty output; a zero-size reduced dim gives the
    reduction's identity (0 for sums, 1 for products)."""
    for op in ("ReduceSum", "ReduceMax", "ReduceProd", "ReduceL2"):
        node, inits = _reduce_node(op, 18, [1], 1)
        run_case([node], {"x": rand((0, 3))}, inits=inits, **TOL)
    for op in ("ReduceSum", "ReduceProd", "ReduceSumSquare"):
        node, inits = _reduce_node(op, 18, [0], 0)
        run_case([node], {"x": rand((0, 3))}, inits=inits, **TOL)


def test_reduce_errors():
    x = ("x", TensorProto.FLOAT, [2, 3])
    expect_error(edgeinfer.InvalidModel, "out of range",
                 [helper.make_node("ReduceSum", ["x"], ["y"], axes=[2])], [x], opset=11)
    expect_error(edgeinfer.InvalidModel, "repeated",
                 [helper.make_node("ReduceMax", ["x"], ["y"], axes=[1, -1])], [x], opset=13)
    # axes fed at run time: the node is planned when it runs; a bad value is caught then.
    expect_error(edgeinfer.InvalidModel, "out of range",
                 [helper.make_node("ReduceMean", ["x", "a"], ["y"])], [x, ("a", TensorProto.INT64, [1])],
                 feed={"x": rand((2, 3)), "a": np.array([5], np.int64)}, opset=18)
    expect_error(edgeinfer.Unsupported, "has dtype int32; supported: float32, float64",
                 [helper.make_node("ReduceMean", ["x"], ["y"])], [("x", TensorProto.INT32, [2, 3])], opset=18)
    expect_error(edgeinfer.InvalidModel, "expected 1 to 1 inputs",
                 [helper.make_node("ReduceSum", ["x", "a"], ["y"])], [x], opset=11,
                 inits=[("a", np.array([0], np.int64))])


# ------------------------------------------------------------------ ArgMax / ArgMin

@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("opset", [11, 12, 13])
def test_arg_table(op, opset):
    cases = [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1), ((2, 1, 5), 1),
             ((4, 3, 1, 7), -3), ((1,), 0)]
    for shape, axis in cases:
        for keepdims in (0, 1):
            for last in ((0, 1) if opset >= 12 else (None,)):
                kw = {"axis": axis, "keepdims": keepdims}
                if last is not None:
                    kw["select_last_index"] = last
                # small integers make ties common, exercising select_last_index
                x = rand(shape, lo=-2, hi=2).round().astype(np.float32)
                run_case([helper.make_node(op, ["x"], ["y"], **kw)], {"x": x}, opset=opset, **EXACT)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64, np.uint8])
def test_arg_dtypes(dtype):
    x = rand((3, 5, 4), dtype, 0, 9)
    for op in ("ArgMax", "ArgMin"):
        run_case([helper.make_node(op, ["x"], ["y"], axis=1)], {"x": x}, opset=13, **EXACT)


def test_arg_default_axis_opset7():
    x = rand((4, 3))
    run_case([helper.make_node("ArgMax", ["x"], ["y"])], {"x": x}, opset=7, **EXACT)


def test_arg_errors():
    x = ("x", TensorProto.FLOAT, [2, 3])
    expect_error(edgeinfer.InvalidModel, "out of range",
                 [helper.make_node("ArgMax", ["x"], ["y"], axis=2)], [x], opset=13)
    expect_error(edgeinfer.InvalidArgument, "size 0 along axis",
                 [helper.make_node("ArgMin", ["x"], ["y"], axis=0)], [("x", TensorProto.FLOAT, [0, 3])],
                 feed={"x": np.zeros((0, 3), np.float32)}, opset=13)


# ------------------------------------------------------------------ LayerNormalization

@pytest.mark.parametrize("shape,axis,pshape", [
    ((2, 5), -1, (5,)),
    ((3, 4, 8), -1, (8,)),
    ((3, 4, 8), 1, (4, 8)),
    ((3, 4, 8), 1, (1, 8)),
    ((3, 4, 8), -2, (4, 1)),
    ((2, 3, 4, 5), 0, (2, 3, 4, 5)),
    ((2, 3, 4, 5), 2, (5,)),
    ((7, 1), -1, (1,)),
])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(shape, axis, pshape, with_bias):
    x = rand(shape)
    scale, bias = rand(pshape), rand(pshape)
    ins = ["x", "scale", "bias"] if with_bias else ["x", "scale"]
    inits = [("scale", scale)] + ([("bias", bias)] if with_bias else [])
    node = helper.make_node("LayerNormalization", ins, ["y", "mean", "inv"], axis=axis, epsilon=1e-3)
    run_case([node], {"x": x}, outputs=("y", "mean", "inv"), inits=inits, opset=17, **TOL)


def test_layer_norm_only_y_threads():
    x = rand((256, 384))
    inits = [("scale", rand((384,))), ("bias", rand((384,)))]
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"])
    run_case([node], {"x": x}, inits=inits, opset=17, sess_options=threads(4), **TOL)


def test_layer_norm_errors():
    x = ("x", TensorProto.FLOAT, [2, 3])
    expect_error(edgeinfer.InvalidModel, "does not broadcast",
                 [helper.make_node("LayerNormalization", ["x", "s"], ["y"])], [x],
                 inits=[("s", np.ones(4, np.float32))], opset=17)
    expect_error(edgeinfer.InvalidModel, "out of range",
                 [helper.make_node("LayerNormalization", ["x", "s"], ["y"], axis=2)], [x],
                 inits=[("s", np.ones(3, np.float32))], opset=17)


# ------------------------------------------------------------------ InstanceNormalization

@pytest.mark.parametrize("shape", [(1, 3, 5), (2, 3, 4, 5), (2, 1, 3, 3, 2), (3, 4, 1)])
@pytest.mark.parametrize("opset", [7, 17])
def test_instance_norm(shape, opset):
    c = shape[1]
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-4)
    run_case([node], {"x": rand(shape)}, inits=[("s", rand((c,))), ("b", rand((c,)))], opset=opset, **TOL)


def test_instance_norm_threads_and_errors():
    node = helper.make_node("InstanceNormalization", ["x", "s", "b"], ["y"])
    run_case([node], {"x": rand((2, 16, 48, 48))}, inits=[("s", rand((16,))), ("b", rand((16,)))],
             sess_options=threads(4), **TOL)
    expect_error(edgeinfer.InvalidModel, "must be float32 of shape [3]", [node], [("x", TensorProto.FLOAT, [1, 3, 4])],
                 inits=[("s", np.ones(4, np.float32)), ("b", np.ones(3, np.float32))])
    expect_error(edgeinfer.InvalidModel, "rank >= 3", [node], [("x", TensorProto.FLOAT, [1, 3])],
                 inits=[("s", np.ones(3, np.float32)), ("b", np.ones(3, np.float32))])


# ------------------------------------------------------------------ LogSoftmax / Hardmax

AXIS_CASES = [((5,), None), ((3, 4), None), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((2, 3, 4), 0),
              ((2, 1, 5, 3), 2), ((2, 3, 4), -3)]


@pytest.mark.parametrize("op", ["LogSoftmax", "Hardmax"])
@pytest.mark.parametrize("opset", [7, 11, 13])
def test_softmax_family(op, opset):
    for shape, axis in AXIS_CASES:
        if axis is None and opset < 13 and len(shape) == 1:
            continue  # default axis 1 does not exist for rank 1 before opset 13
        kw = {} if axis is None else {"axis": axis}
        if opset < 11 and axis is not None and axis < 0:
            continue  # negative axes came in opset 11
        x = rand(shape)
        if op == "Hardmax":
            x = x.round()  # ties: the first maximum wins
        run_case([helper.make_node(op, ["x"], ["y"], **kw)], {"x": x}, opset=opset,
                 **(EXACT if op == "Hardmax" else TOL))


def test_log_softmax_large_and_threads():
    x = rand((300, 200), lo=-80, hi=80)
    run_case([helper.make_node("LogSoftmax", ["x"], ["y"], axis=1)], {"x": x}, opset=13,
             sess_options=threads(4), **TOL)
    run_case([helper.make_node("LogSoftmax", ["x"], ["y"], axis=0)], {"x": x}, opset=13, **TOL)


def test_softmax_family_errors():
    x = ("x", TensorProto.FLOAT, [2, 3])
    for op in ("LogSoftmax", "Hardmax"):
        expect_error(edgeinfer.InvalidModel, "out of range", [helper.make_node(op, ["x"], ["y"], axis=2)], [x],
                     opset=13)


# ------------------------------------------------------------------ CumSum

@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_cum_sum(exclusive, reverse, dtype):
    # inner >= 16 (axis 0 of (3, 40), axis 1 of (2, 5, 20)) takes the row-at-a-time float32 path
    for shape, axis in [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -2), ((2, 1, 3), 1), ((4, 3, 5), -1),
                        ((3, 40), 0), ((2, 5, 20), 1)]:
        for adt in (np.int64, np.int32):
            node = helper.make_node("CumSum", ["x", "a"], ["y"], exclusive=exclusive, reverse=reverse)
            run_case([node], {"x": rand(shape, dtype, -5, 5)}, inits=[("a", np.array(axis, adt))], opset=14,
                     **TOL)


def test_cum_sum_opset11_and_errors():
    node = helper.make_node("CumSum", ["x", "a"], ["y"])
    run_case([node], {"x": rand((3, 4))}, inits=[("a", np.array(1, np.int64))], opset=11, **TOL)
    x = ("x", TensorProto.FLOAT, [2, 3])
    expect_error(edgeinfer.InvalidModel, "out of range", [node], [x, ("a", TensorProto.INT64, [])],
                 feed={"x": rand((2, 3)), "a": np.array(3, np.int64)}, opset=14)
    expect_error(edgeinfer.InvalidModel, "out of range", [node], [x], inits=[("a", np.array(2, np.int64))], opset=14)


# ------------------------------------------------------------------ TopK

def _topk_model(opset, k, **kw):
    if opset < 10:
        return [helper.make_node("TopK", ["x"], ["v", "i"], k=k, **kw)], []
    return [helper.make_node("TopK", ["x", "k"], ["v", "i"], **kw)], [("k", np.array([k], np.int64))]


# Integer TopK exists only from opset 11 (earlier versions are float-only).
@pytest.mark.parametrize("opset,dtype", [(o, d) for o in (7, 10, 11) for d in (np.float32, np.float64)]
                         + [(11, np.int32), (11, np.int64)])
def test_top_k(opset, dtype):
    cases = [((6,), -1, 3), ((3, 8), 1, 8), ((3, 8), 0, 2), ((2, 5, 4), 1, 1), ((2, 5, 4), -1, 0),
             ((4, 1, 9), 2, 4), ((1, 17), 1, 16)]
    for shape, axis, k in cases:
        if (opset < 11 and axis < 0 and axis != -1) or (opset < 10 and k == 0):
            continue  # negative axes other than -1 came at 11; attribute k must be >= 1
        for largest in ((1, 0) if opset >= 11 else (None,)):
            kw = {"axis": axis}
            if largest is not None:
                kw["largest"] = largest
            x = rand(shape, dtype, -4, 4)  # few distinct values: ties, lower index first
            if dtype in (np.float32, np.float64):
                x = x.round()
            nodes, inits = _topk_model(opset, k, **kw)
            run_case(nodes, {"x": x}, outputs=("v", "i"), inits=inits, opset=opset, **EXACT)


def test_top_k_uint64():
    """onnxruntime has no uint64 TopK: NumPy's stable sort is the oracle (values above
    2^63 check that the comparison is unsigned)."""
    x = (RNG.integers(0, 6, size=(3, 10)).astype(np.uint64) * np.uint64(2 ** 61))
    for largest in (1, 0):
        nodes, inits = _topk_model(11, 4, axis=1, largest=largest)
        model = make_model(nodes, [("x", TensorProto.UINT64, [3, 10])],
                           [("v", TensorProto.UINT64, [3, 4]), ("i", TensorProto.INT64, [3, 4])], inits, 11)
        v, i = run_ei(model, {"x": x})
        order = np.argsort(-x.astype(np.float64) if largest else x, axis=1, kind="stable")[:, :4]
        np.testing.assert_array_equal(i, order)
        np.testing.assert_array_equal(v, np.take_along_axis(x, order, axis=1))


def test_top_k_nan_and_threads():
    x = rand((64, 500))
    x[3, 7] = np.nan
    x[5, [1, 9]] = np.nan
    for largest in (1, 0):
        nodes, inits = _topk_model(11, 5, axis=1, largest=largest)
        run_case(nodes, {"x": x}, outputs=("v", "i"), inits=inits, opset=11, sess_options=threads(4), **EXACT)
    nodes, inits = _topk_model(11, 7, axis=0)
    run_case(nodes, {"x": x}, outputs=("v", "i"), inits=inits, opset=11, **EXACT)


def test_top_k_unsorted():
    """sorted=0 leaves the order unspecified: compare the selected sets."""
    x = rand((4, 30))
    nodes, inits = _topk_model(11, 6, axis=1, sorted=0)
    model = make_model(nodes, [("x", TensorProto.FLOAT, [4, 30])],
                       [("v", TensorProto.FLOAT, [4, 6]), ("i", TensorProto.INT64, [4, 6])], inits, 11)
    ev, ei = run_ort(model, {"x": x})
    av, ai = edgeinfer.InferenceSession(model.SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(np.sort(ai, axis=1), np.sort(ei, axis=1))
    np.testing.assert_array_equal(np.take_along_axis(x, ai, axis=1), av)


def test_top_k_errors():
    x = ("x", TensorProto.FLOAT, [2, 3])
    nodes, inits = _topk_model(11, 4, axis=1)
    expect_error(edgeinfer.InvalidArgument, "k = 4 is out of range", nodes, [x], inits=inits,
                 outputs=("v", "i"), opset=11)
    nodes, inits = _topk_model(11, 1, axis=2)
    expect_error(edgeinfer.InvalidModel, "out of range", nodes, [x], inits=inits, outputs=("v", "i"), opset=11)
    expect_error(edgeinfer.InvalidArgument, "is out of range",
                 [helper.make_node("TopK", ["x", "k"], ["v", "i"])], [x, ("k", TensorProto.INT64, [1])],
                 feed={"x": rand((2, 3)), "k": np.array([7], np.int64)}, outputs=("v", "i"), opset=11)


def test_inputs_fed_at_run_time():
    """axes / axis / K as graph inputs: shapes are decided when the node runs, and change
    between runs of one session."""
    x = rand((3, 4, 5))
    cases = [
        (helper.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=0), "a", [[1], [0, 2], [], [2]], 13),
        (helper.make_node("ReduceMax", ["x", "a"], ["y"]), "a", [[0], [1, 2]], 18),
        (helper.make_node("CumSum", ["x", "a"], ["y"]), "a", [1, 2, 0], 14),
        (helper.make_node("TopK", ["x", "a"], ["y", "i"], axis=-1), "a", [[1], [4], [2]], 11),
    ]
    for node, name, values, opset in cases:
        outs = node.output
        model = make_model([node], [("x", TensorProto.FLOAT, [3, 4, 5]), (name, TensorProto.INT64, None)],
                           [onnx.ValueInfoProto(name=o) for o in outs], opset=opset)
        sess = edgeinfer.InferenceSession(model.SerializeToString())
        for v in values:
            feed = {"x": x, name: np.array(v, np.int64)}
            for a, e in zip(sess.run(None, feed), run_ort(model, feed)):
                assert_close(a, e, **TOL, what=f"{node.op_type} {name}={v}")


# ------------------------------------------------------------------ GroupNormalization

@pytest.mark.parametrize("opset", [18, 21])
@pytest.mark.parametrize("shape,groups", [((2, 4, 3, 3), 2), ((1, 6, 5), 3), ((2, 6, 2, 2), 6), ((3, 4, 7), 1),
                                          ((2, 3, 1, 1), 3)])
def test_group_norm(opset, shape, groups):
    n = groups if opset < 21 else shape[1]  # opset 18: per group; 21: per channel
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=groups, epsilon=1e-3)
    inits = [("s", rand((n,))), ("b", rand((n,)))]
    feed = {"x": rand(shape)}
    if opset >= 21:
        run_case([node], feed, inits=inits, opset=opset, **TOL)
        return
    # onnx.checker rejects the deprecated opset-18 definition, but onnxruntime still runs it
    # (through its function body): compare without the checker.
    model = make_model([node], [("x", TensorProto.FLOAT, list(shape))], [("y", TensorProto.FLOAT, list(shape))],
                       inits, opset)
    assert_close(run_ei(model, feed)[0], run_ort(model, feed)[0], what="y", **TOL)


def test_group_norm_threads_and_errors():
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=4)
    run_case([node], {"x": rand((2, 16, 40, 40))}, inits=[("s", rand((16,))), ("b", rand((16,)))], opset=21,
             sess_options=threads(4), **TOL)
    x = ("x", TensorProto.FLOAT, [1, 6, 4])
    expect_error(edgeinfer.InvalidModel, "one per group", [node], [("x", TensorProto.FLOAT, [1, 8, 4])],
                 inits=[("s", np.ones(8, np.float32)), ("b", np.ones(8, np.float32))], opset=18)
    expect_error(edgeinfer.InvalidArgument, "not divisible by num_groups", [node], [x],
                 inits=[("s", np.ones(6, np.float32)), ("b", np.ones(6, np.float32))], opset=21)
    bad = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], num_groups=0)
    expect_error(edgeinfer.InvalidModel, "must be >= 1", [bad], [x],
                 inits=[("s", np.ones(6, np.float32)), ("b", np.ones(6, np.float32))], opset=21)


# ------------------------------------------------------------------ LpNormalization

@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("shape,axis", [((5,), 0), ((3, 4), -1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 1, 3), 1)])
def test_lp_norm(p, shape, axis):
    x = rand(shape)
    x.reshape(-1)[:2] = 0.0
    run_case([helper.make_node("LpNormalization", ["x"], ["y"], p=p, axis=axis)], {"x": x}, opset=13, **TOL)


def test_lp_norm_zero_line_and_errors():
    x = np.array([[0, 0, 0], [1, -2, 3]], np.float32)
    run_case([helper.make_node("LpNormalization", ["x"], ["y"])], {"x": x}, opset=13, **TOL)
    expect_error(edgeinfer.InvalidModel, "must be 1 or 2", [helper.make_node("LpNormalization", ["x"], ["y"], p=3)],
                 [("x", TensorProto.FLOAT, [2, 3])], opset=13)


# ------------------------------------------------------------------ LRN

@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("opset", [7, 13])
def test_lrn(size, opset):
    node = helper.make_node("LRN", ["x"], ["y"], size=size, alpha=0.01, beta=0.6, bias=1.5)
    x = rand((2, 6, 4, 5))
    if size % 2:
        run_case([node], {"x": x}, opset=opset, **TOL)
        run_case([helper.make_node("LRN", ["x"], ["y"], size=size)], {"x": rand((1, 3, 2, 2))}, opset=opset, **TOL)
        return
    # onnxruntime accepts only odd sizes; ONNX allows even ones (window [c - (size-1)//2,
    # c + ceil((size-1)/2)]): compare with that formula in NumPy.
    sq = np.zeros_like(x)
    for c in range(x.shape[1]):
        lo, hi = max(0, c - (size - 1) // 2), min(x.shape[1] - 1, c + size // 2)
        sq[:, c] = (x[:, lo:hi + 1] ** 2).sum(axis=1)
    expected = (x / (1.5 + 0.01 / size * sq) ** 0.6).astype(np.float32)
    model = make_model([node], [("x", TensorProto.FLOAT, list(x.shape))], [("y", TensorProto.FLOAT, list(x.shape))],
                       opset=opset)
    assert_close(run_ei(model, {"x": x})[0], expected, what="y", **TOL)


def test_lrn_errors():
    expect_error(edgeinfer.InvalidModel, "'size' is required", [helper.make_node("LRN", ["x"], ["y"])],
                 [("x", TensorProto.FLOAT, [1, 3, 2, 2])], opset=13)
    expect_error(edgeinfer.InvalidModel, "rank >= 3", [helper.make_node("LRN", ["x"], ["y"], size=3)],
                 [("x", TensorProto.FLOAT, [3, 2])], opset=13)


# ------------------------------------------------------------------ MeanVarianceNormalization

@pytest.mark.parametrize("shape,axes", [
    ((2, 3, 4, 5), None),
    ((2, 3, 4, 5), [1]),
    ((2, 3, 4, 5), [0, 1, 2, 3]),
    ((2, 3, 4, 5), [2, 3]),
    ((2, 3, 4, 5), [0, 2]),
    ((3, 1, 4, 2), [-1]),
    ((4, 6), [0]),
])
def test_mvn(shape, axes):
    kw = {} if axes is None else {"axes": axes}
    run_case([helper.make_node("MeanVarianceNormalization", ["x"], ["y"], **kw)], {"x": rand(shape)}, opset=13,
             **TOL)
    if axes is None or min(axes) >= 0:
        run_case([helper.make_node("MeanVarianceNormalization", ["x"], ["y"], **kw)], {"x": rand(shape)}, opset=9,
                 **TOL)


def test_mvn_errors():
    expect_error(edgeinfer.InvalidModel, "out of range", [helper.make_node("MeanVarianceNormalization", ["x"], ["y"])],
                 [("x", TensorProto.FLOAT, [2, 3])], opset=13)
