"""Elementwise and activation ops (Add, Sub, Mul, Div, Relu, Sigmoid, Tanh, Clip, Softmax)
against onnxruntime.

Tolerances: exact arithmetic (+, -, *, relu, clip, integer ops) is compared with the default
1e-5 (it should be bit-exact; the slack only covers engines that fuse or reorder). Division
may go through a reciprocal in vector kernels (1 ulp), so also 1e-5. Sigmoid, Tanh and
Softmax use exp/tanh approximations that differ from onnxruntime's by a few ulp: rtol 1e-5,
atol 2e-6 (absolute, since these outputs are bounded by 1).
"""
import numpy as np
import onnx
import pytest

import edgeinfer
from ortcheck import DEFAULT_OPSET, TensorProto, check_model, helper, make_model, run_ort

RNG = np.random.default_rng(1234)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def run_case(nodes, feed, outputs=("y",), inits=(), opset=DEFAULT_OPSET, rtol=1e-5, atol=1e-5, **kw):
    """Builds a model whose input shapes are those of feed; output shapes are taken from
    onnxruntime's answer on a probe model, so the checker sees fully typed outputs."""
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in feed.items()]
    probe = make_model(nodes, inputs, [onnx.ValueInfoProto(name=o) for o in outputs], inits, opset)
    expected = run_ort(probe, feed)
    outs = [(o, _tt(e.dtype), list(e.shape)) for o, e in zip(outputs, expected)]
    return check_model(make_model(nodes, inputs, outs, inits, opset), feed, rtol=rtol, atol=atol, **kw)


def expect_error(exc, fragments, nodes, inputs, feed=None, outputs=("y",), inits=(), opset=DEFAULT_OPSET):
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


def signs(shape, dtype=np.float32):
    return np.asarray(RNG.choice([-1, 1], size=shape).astype(dtype))


# ------------------------------------------------------------------ binary ops

BCAST_SHAPES = [
    ([2, 3], [2, 3]),
    ([2, 3], [3]),  # b broadcast along rows
    ([3], [2, 3]),  # a broadcast
    ([2, 1, 4], [3, 1]),  # both directions
    ([4, 1, 1], [1, 3, 5]),
    ([2, 3, 4, 5], [3, 1, 5]),
    ([2, 3, 4, 5], [2, 3, 1, 1]),  # per-channel (inner run becomes a scalar)
    ([1, 3, 1, 5], [2, 1, 4, 1]),
    ([], [2, 3]),  # scalar a
    ([2, 3], []),  # scalar b
    ([], []),
    ([1], [5]),
    ([1, 1], [1, 1]),
    ([7, 33], [7, 1]),  # odd sizes
    ([0, 3], [3]),  # zero-size output
    ([2, 0, 3], [1, 1, 3]),
    ([70, 1000], [1000]),  # large enough to split across threads
    ([3, 40000], [3, 1]),
]


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("sa,sb", BCAST_SHAPES)
def test_binary_float32(op, sa, sb):
    a = rand(sa)
    b = np.asarray(rand(sb, lo=0.5, hi=3.0) * signs(sb))  # no zero divisors
    run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, sess_options=threads(2))


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.float64, np.int8, np.uint8, np.int16, np.uint16, np.uint32,
                                   np.uint64])
@pytest.mark.parametrize("sa,sb", [([2, 3], [2, 3]), ([2, 3], [3]), ([], [4]), ([3, 1], [1, 4]), ([5], [])])
def test_binary_other_dtypes(op, dtype, sa, sb):
    unsigned = np.dtype(dtype).kind == "u"
    a = rand(sa, dtype, 0 if unsigned else -50, 50)
    b = rand(sb, dtype, 1, 9) if unsigned else np.asarray(rand(sb, dtype, 1, 9) * signs(sb, dtype))  # nonzero, both signs
    run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b})


def test_integer_div_truncates_toward_zero():
    a = np.array([7, -7, 7, -7, 0, 9], np.int64)
    b = np.array([2, 2, -2, -2, 3, 9], np.int64)
    out = run_case([helper.make_node("Div", ["a", "b"], ["y"])], {"a": a, "b": b})
    np.testing.assert_array_equal(out[0], [3, -3, -3, 3, 0, 1])


def test_integer_overflow_wraps():
    big = np.iinfo(np.int64).max
    a = np.array([big, np.iinfo(np.int64).min], np.int64)
    b = np.array([1, -1], np.int64)
    out = run_case([helper.make_node("Add", ["a", "b"], ["y"])], {"a": a, "b": b})
    assert out[0][0] == np.iinfo(np.int64).min


@pytest.mark.parametrize("opset", [7, 13, 14])
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_opsets(op, opset):
    run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": rand([2, 3, 4]), "b": rand([4], lo=1, hi=2)},
             opset=opset)


def test_binary_with_initializer():
    c = rand([1, 3, 1], lo=1, hi=2)
    run_case([helper.make_node("Mul", ["a", "c"], ["y"])], {"a": rand([2, 3, 4])}, inits=[("c", c)])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int16])
def test_integer_div_by_zero(dtype):
    expect_error(edgeinfer.InvalidArgument, ["division by zero", "'b'", "flat index 2"],
                 [helper.make_node("Div", ["a", "b"], ["y"], name="div0")],
                 [("a", _tt(dtype), [3]), ("b", _tt(dtype), [3])],
                 feed={"a": np.array([1, 2, 3], dtype), "b": np.array([1, 1, 0], dtype)})


def test_binary_cannot_broadcast():
    e = expect_error(edgeinfer.InvalidArgument, ["node 'add1' (Add)", "'a' [2,3]", "'b' [4]", "cannot be broadcast"],
                     [helper.make_node("Add", ["a", "b"], ["y"], name="add1")],
                     [("a", TensorProto.FLOAT, ["n", "m"]), ("b", TensorProto.FLOAT, ["k"])],
                     feed={"a": rand([2, 3]), "b": rand([4])})
    assert isinstance(e, ValueError)


def test_binary_dtype_mismatch():
    expect_error(edgeinfer.InvalidModel, ["same dtype", "'a'", "'b'"],
                 [helper.make_node("Mul", ["a", "b"], ["y"])],
                 [("a", TensorProto.FLOAT, [2]), ("b", TensorProto.INT64, [2])],
                 feed={"a": rand([2]), "b": np.array([1, 2], np.int64)})


def test_binary_unsupported_dtype():
    expect_error(edgeinfer.Unsupported, ["'a' has dtype bool"], [helper.make_node("Add", ["a", "b"], ["y"])],
                 [("a", TensorProto.BOOL, [2]), ("b", TensorProto.BOOL, [2])],
                 feed={"a": np.array([1, 0], bool), "b": np.array([1, 1], bool)})


def test_binary_reshape_between_runs():
    """One session, several input shapes: the broadcast plan is rebuilt at each reshape."""
    nodes = [helper.make_node("Sub", ["a", "b"], ["y"])]
    model = make_model(nodes, [("a", TensorProto.FLOAT, ["n", 4]), ("b", TensorProto.FLOAT, [4])],
                       [("y", TensorProto.FLOAT, ["n", 4])])
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    b = rand([4])
    for n in [1, 5, 0, 3]:
        a = rand([n, 4])
        np.testing.assert_allclose(sess.run(None, {"a": a, "b": b})[0], a - b, rtol=1e-6)


# ----------------------------------------------------------------- activations

ACT_SHAPES = [[], [1], [7], [2, 3, 5], [0, 4], [3, 1, 17], [100003]]


@pytest.mark.parametrize("op", ["Relu", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("shape", ACT_SHAPES)
def test_activation(op, shape):
    x = rand(shape, lo=-12, hi=12)
    run_case([helper.make_node(op, ["x"], ["y"])], {"x": x}, atol=2e-6, sess_options=threads(2))


@pytest.mark.parametrize("op", ["Relu", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("opset", [6, 13])
def test_activation_opsets(op, opset):
    run_case([helper.make_node(op, ["x"], ["y"])], {"x": rand([4, 9], lo=-5, hi=5)}, opset=opset, atol=2e-6)


def test_activation_extremes():
    x = np.array([-1e30, -100, -20, -1e-30, 0, 1e-30, 20, 100, 1e30], np.float32)
    for op in ["Relu", "Sigmoid", "Tanh"]:
        run_case([helper.make_node(op, ["x"], ["y"])], {"x": x}, atol=2e-6)


def test_activation_unsupported_dtype():
    expect_error(edgeinfer.Unsupported, ["node 's' (Sigmoid)", "int64"], [helper.make_node("Sigmoid", ["x"], ["y"], name="s")],
                 [("x", TensorProto.INT64, [2])], feed={"x": np.array([1, 2], np.int64)})


# ------------------------------------------------------------------------ Clip

# min > max is left out here: onnxruntime's Clip-6 rejects it (opset 11+ cases cover it).
@pytest.mark.parametrize("attrs", [{}, {"min": -1.0}, {"max": 0.5}, {"min": -0.5, "max": 2.0}, {"min": 0.25, "max": 0.25}])
def test_clip_opset6_attributes(attrs):
    run_case([helper.make_node("Clip", ["x"], ["y"], **attrs)], {"x": rand([3, 5])}, opset=6)


CLIP_BOUNDS = [(None, None), (-1.0, None), (None, 1.5), (-0.5, 0.5), (2.0, -2.0), (0.0, 0.0)]


@pytest.mark.parametrize("opset", [11, 12, 13, DEFAULT_OPSET])
@pytest.mark.parametrize("lo,hi", CLIP_BOUNDS)
def test_clip_inputs(opset, lo, hi):
    inits = []
    names = ["x", "", ""]
    if lo is not None:
        inits.append(("lo", np.array(lo, np.float32)))
        names[1] = "lo"
    if hi is not None:
        inits.append(("hi", np.array(hi, np.float32)))
        names[2] = "hi"
    while names[-1] == "":
        names.pop()
    run_case([helper.make_node("Clip", names, ["y"])], {"x": rand([4, 33])}, inits=inits, opset=opset,
             sess_options=threads(2))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.int8, np.uint8, np.float64])
def test_clip_other_dtypes(dtype):
    lo, hi = (np.array(2, dtype), np.array(9, dtype))
    x = rand([5, 6], dtype, 0, 12)
    run_case([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], {"x": x}, inits=[("lo", lo), ("hi", hi)], opset=13)


def test_clip_large_threaded():
    run_case([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])], {"x": rand([300, 400])},
             inits=[("lo", np.array(-1, np.float32)), ("hi", np.array(1, np.float32))], sess_options=threads(2))


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_clip_bounds_fed_at_run(dtype):
    """min/max that are graph inputs (not known at infer) are read in run."""
    nodes = [helper.make_node("Clip", ["x", "lo", "hi"], ["y"])]
    model = make_model(nodes, [("x", _tt(dtype), [4, 5]), ("lo", _tt(dtype), []), ("hi", _tt(dtype), [])],
                       [("y", _tt(dtype), [4, 5])])
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    x = rand([4, 5], dtype, 0, 20)
    for lo, hi in [(3, 9), (0, 20), (12, 2)]:
        feed = {"x": x, "lo": np.array(lo, dtype), "hi": np.array(hi, dtype)}
        np.testing.assert_array_equal(sess.run(None, feed)[0], run_ort(model, feed)[0])


def test_clip_fed_bound_not_scalar():
    expect_error(edgeinfer.InvalidArgument, ["node 'c' (Clip)", "'lo' (min)", "must be a scalar", "2 elements"],
                 [helper.make_node("Clip", ["x", "lo"], ["y"], name="c")],
                 [("x", TensorProto.FLOAT, [3]), ("lo", TensorProto.FLOAT, ["n"])],
                 feed={"x": rand([3]), "lo": np.zeros(2, np.float32)})


def test_clip_bound_not_scalar():
    expect_error(edgeinfer.InvalidModel, ["'lo'", "must be a scalar"],
                 [helper.make_node("Clip", ["x", "lo"], ["y"])], [("x", TensorProto.FLOAT, [3])],
                 feed={"x": rand([3])}, inits=[("lo", np.array([0, 1], np.float32))])


def test_clip_int_before_opset12():
    expect_error(edgeinfer.Unsupported, ["int32", "Clip-11"], [helper.make_node("Clip", ["x"], ["y"])],
                 [("x", TensorProto.INT32, [3])], feed={"x": np.array([1, 2, 3], np.int32)}, opset=11)


# --------------------------------------------------------------------- Softmax

SOFTMAX_CASES = [
    ([2, 3, 4], None), ([2, 3, 4], 0), ([2, 3, 4], 1), ([2, 3, 4], 2), ([2, 3, 4], -1), ([2, 3, 4], -2),
    ([5], 0), ([5], -1), ([1, 1], None), ([6, 1], -1), ([3, 1000], -1), ([4, 7, 5, 3], 1), ([200, 1000], 1),
    # strided axis in column blocks of 256: a tail of 1, a YOLO DFL-like [1, 4, 16, anchors]
    ([3, 16, 257], 1), ([7, 513], 0), ([1, 4, 16, 300], 2),
]


@pytest.mark.parametrize("opset", [11, 13])
@pytest.mark.parametrize("shape,axis", SOFTMAX_CASES)
def test_softmax(opset, shape, axis):
    attrs = {} if axis is None else {"axis": axis}
    run_case([helper.make_node("Softmax", ["x"], ["y"], **attrs)], {"x": rand(shape, lo=-8, hi=8)}, opset=opset,
             atol=2e-6, sess_options=threads(2))


@pytest.mark.parametrize("opset", [7, 13])
def test_softmax_opset_semantics_differ(opset):
    """Opset < 13 normalizes over the flattened trailing dims, 13+ over one axis."""
    x = rand([2, 3, 4])
    out = run_case([helper.make_node("Softmax", ["x"], ["y"], axis=1)], {"x": x}, opset=opset, atol=2e-6)[0]
    if opset < 13:
        np.testing.assert_allclose(out.reshape(2, 12).sum(axis=1), 1, rtol=1e-5)
    else:
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_numerically_stable(axis):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0], [88.0, 89.0, -3e38]], np.float32)
    out = run_case([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], {"x": x}, atol=2e-6)[0]
    assert np.isfinite(out).all()


def test_softmax_axis_out_of_range():
    expect_error(edgeinfer.InvalidModel, ["node 'sm' (Softmax)", "'axis' = 3", "rank 3"],
                 [helper.make_node("Softmax", ["x"], ["y"], axis=3, name="sm")], [("x", TensorProto.FLOAT, [2, 3, 4])],
                 feed={"x": rand([2, 3, 4])})


def test_softmax_unsupported_dtype():
    expect_error(edgeinfer.Unsupported, ["float64"], [helper.make_node("Softmax", ["x"], ["y"])],
                 [("x", TensorProto.DOUBLE, [2, 3])], feed={"x": rand([2, 3], np.float64)})
