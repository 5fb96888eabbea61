"""Shape and data-movement ops (Flatten, Reshape, Transpose, Concat, Identity, Dropout,
Constant, Shape, Gather, Squeeze, Unsqueeze) against onnxruntime, plus a shape-arithmetic
chain (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) with a dynamic batch dim.

These ops only move bytes, so every comparison is exact (assert_close compares integer and
bool outputs with array_equal; float outputs get the default 1e-5, which exact copies meet
trivially).
"""
import numpy as np
import onnx
import pytest

import edgeinfer
from ortcheck import DEFAULT_OPSET, TensorProto, check_model, helper, make_model, run_ort

RNG = np.random.default_rng(4321)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def run_case(nodes, feed, outputs=("y",), inits=(), opset=DEFAULT_OPSET, input_shapes=None, **kw):
    """Builds a model whose inputs are those of feed (shapes from input_shapes when given,
    e.g. with symbolic dims); output shapes come from onnxruntime's answer on a probe model."""
    input_shapes = input_shapes or {}
    inputs = [(n, _tt(a.dtype), input_shapes.get(n, list(a.shape))) for n, a in feed.items()]
    probe = _ir(make_model(nodes, inputs, [onnx.ValueInfoProto(name=o) for o in outputs], inits, opset), opset)
    expected = run_ort(probe, feed)
    outs = [(o, _tt(e.dtype), list(e.shape)) for o, e in zip(outputs, expected)]
    return check_model(_ir(make_model(nodes, inputs, outs, inits, opset), opset), feed, **kw)


def _ir(model, opset):
    if opset >= 21:  # opset 21 needs IR version 10 (make_model picks 9 from opset 19)
        model.ir_version = 10
    return model


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


def no_opt():
    so = edgeinfer.SessionOptions()
    so.graph_optimization_level = edgeinfer.GraphOptimizationLevel.ORT_DISABLE_ALL
    return so


def threads(n):
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = n
    return so


def data(shape, dtype=np.float32):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return np.asarray(RNG.integers(0, 2, size=shape).astype(bool))
    if dt.kind == "f":
        return np.asarray(RNG.standard_normal(size=shape).astype(dt))
    return np.asarray(RNG.integers(-100, 100, size=shape).astype(dt))


def i64(*v):
    return np.array(v, np.int64)


DTYPES = [np.float32, np.int64, np.int32, np.uint8, np.int16, np.float64, np.bool_]

# --------------------------------------------------------------------- Flatten


@pytest.mark.parametrize("shape,axis", [([2, 3, 4], 1), ([2, 3, 4], 0), ([2, 3, 4], 3), ([2, 3, 4], -1),
                                        ([2, 3, 4], -3), ([5], 1), ([], 0), ([2, 0, 3], 2), ([1, 1, 1, 7], 2)])
def test_flatten(shape, axis):
    run_case([helper.make_node("Flatten", ["x"], ["y"], axis=axis)], {"x": data(shape)})


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_dtypes(dtype):
    run_case([helper.make_node("Flatten", ["x"], ["y"])], {"x": data([2, 3, 2], dtype)})


@pytest.mark.parametrize("opset", [9, 11, 13])
def test_flatten_opsets(opset):
    run_case([helper.make_node("Flatten", ["x"], ["y"], axis=2)], {"x": data([2, 3, 4, 5])}, opset=opset)


def test_flatten_axis_out_of_range():
    expect_error(edgeinfer.InvalidModel, ["'axis' = 3", "rank 2"], [helper.make_node("Flatten", ["x"], ["y"], axis=3)],
                 [("x", TensorProto.FLOAT, [2, 3])])


def test_flatten_negative_axis_before_opset11():
    expect_error(edgeinfer.InvalidModel, ["'axis' = -1", "opset 11"], [helper.make_node("Flatten", ["x"], ["y"], axis=-1)],
                 [("x", TensorProto.FLOAT, [2, 3])], opset=9)


# --------------------------------------------------------------------- Reshape

RESHAPES = [
    ([2, 3, 4], [4, 6]), ([2, 3, 4], [-1]), ([2, 3, 4], [0, -1]), ([2, 3, 4], [0, 0, 4]), ([2, 3, 4], [-1, 2, 2]),
    ([2, 3, 4], [2, 3, 4, 1, 1]), ([6], [1, 6, 1]), ([1], []), ([], [1, 1]), ([0, 3], [-1, 3]),
    ([4, 0], [0, -1]), ([3, 5], [5, -1]),
]


@pytest.mark.parametrize("opset", [5, 13, 14])
@pytest.mark.parametrize("shape,target", RESHAPES)
def test_reshape(opset, shape, target):
    run_case([helper.make_node("Reshape", ["x", "s"], ["y"])], {"x": data(shape)},
             inits=[("s", np.array(target, np.int64))], opset=opset)


@pytest.mark.parametrize("shape,target", [([0, 3], [3, 0]), ([2, 0], [0, 5, 0]), ([2, 3], [3, 2])])
def test_reshape_allowzero(shape, target):
    run_case([helper.make_node("Reshape", ["x", "s"], ["y"], allowzero=1)], {"x": data(shape)},
             inits=[("s", np.array(target, np.int64))], opset=14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_dtypes(dtype):
    run_case([helper.make_node("Reshape", ["x", "s"], ["y"])], {"x": data([2, 6], dtype)}, inits=[("s", i64(3, -1))])


def test_reshape_count_mismatch_message():
    expect_error(edgeinfer.InvalidArgument, ["node 'r' (Reshape)", "cannot reshape", "'x' [2,3]", "[4,2]"],
                 [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")], [("x", TensorProto.FLOAT, ["a", "b"])],
                 feed={"x": data([2, 3])}, inits=[("s", i64(4, 2))])


def test_reshape_minus_one_indivisible():
    expect_error(edgeinfer.InvalidArgument, ["cannot reshape", "[2,3]", "[4,-1]"],
                 [helper.make_node("Reshape", ["x", "s"], ["y"])], [("x", TensorProto.FLOAT, ["a", "b"])],
                 feed={"x": data([2, 3])}, inits=[("s", i64(4, -1))])


def test_reshape_two_minus_ones():
    expect_error(edgeinfer.InvalidModel, "more than one -1", [helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [("x", TensorProto.FLOAT, [2, 3])], inits=[("s", i64(-1, -1))])


def test_reshape_allowzero_with_minus_one():
    expect_error(edgeinfer.InvalidModel, ["both 0 and -1", "allowzero"],
                 [helper.make_node("Reshape", ["x", "s"], ["y"], allowzero=1)], [("x", TensorProto.FLOAT, [0, 3])],
                 inits=[("s", i64(0, -1))], opset=14)


def test_reshape_rank_too_large():
    expect_error(edgeinfer.Unsupported, ["'s' (shape)", "more than 8"],
                 [helper.make_node("Reshape", ["x", "s"], ["y"])], [("x", TensorProto.FLOAT, [1])],
                 inits=[("s", np.ones(9, np.int64))])


@pytest.mark.parametrize("xs,shape", [([2, 3], [3, 2]), ([2, 3, 4], [-1, 4]), ([2, 3, 4], [0, -1]), ([6], [1, 2, 3]),
                                      ([0, 3], [3, -1]), ([2, 3], [6])])
def test_reshape_shape_fed_at_run(xs, shape):
    """The shape input is a graph input: the node is dynamic and sizes its output in run;
    an Add after it is planned once the shape is known."""
    x = data(xs)
    run_case([helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Add", ["r", "r"], ["y"])],
             {"x": x, "s": np.array(shape, np.int64)})


def test_reshape_shape_fed_at_run_changes_between_runs():
    model = make_model([helper.make_node("Reshape", ["x", "s"], ["y"])],
                       [("x", TensorProto.FLOAT, [2, 3, 4]), ("s", TensorProto.INT64, ["k"])],
                       [("y", TensorProto.FLOAT, None)])
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    x = data([2, 3, 4])
    for shape in ([24], [4, -1], [2, 3, 2, 2], [-1], [1, 24]):
        y = sess.run(None, {"x": x, "s": np.array(shape, np.int64)})[0]
        np.testing.assert_array_equal(y, x.reshape(shape))


def test_reshape_shape_fed_at_run_errors():
    expect_error(edgeinfer.InvalidArgument, ["node 'Reshape_0' (Reshape)", "cannot reshape input 'x' [2,3]", "to [4,2]"],
                 [helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [("x", TensorProto.FLOAT, [2, 3]), ("s", TensorProto.INT64, [2])],
                 feed={"x": data([2, 3]), "s": i64(4, 2)})
    expect_error(edgeinfer.InvalidModel, ["'s' (shape)", "more than one -1"],
                 [helper.make_node("Reshape", ["x", "s"], ["y"])],
                 [("x", TensorProto.FLOAT, [2, 3]), ("s", TensorProto.INT64, [2])],
                 feed={"x": data([2, 3]), "s": i64(-1, -1)})


# ------------------------------------------------------------------- Transpose

TRANSPOSES = [
    ([5], None), ([2, 3], None), ([2, 3], [1, 0]), ([2, 3, 4], [0, 2, 1]), ([2, 3, 4], [2, 0, 1]),
    ([2, 3, 4], [1, 2, 0]), ([2, 3, 4], [0, 1, 2]), ([2, 3, 4, 5], [0, 2, 3, 1]), ([2, 3, 4, 5], [0, 3, 1, 2]),
    ([2, 1, 4, 1, 3], [4, 2, 0, 1, 3]), ([1, 1, 5], [2, 1, 0]), ([3, 0, 2], [2, 0, 1]), ([], None),
    ([37, 45], [1, 0]), ([3, 70, 33], [2, 1, 0]), ([400, 300], [1, 0]), ([2, 3, 4, 5, 6, 2], [5, 3, 1, 0, 2, 4]),
]


@pytest.mark.parametrize("shape,perm", TRANSPOSES)
def test_transpose(shape, perm):
    attrs = {} if perm is None else {"perm": perm}
    run_case([helper.make_node("Transpose", ["x"], ["y"], **attrs)], {"x": data(shape)}, sess_options=threads(2))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("perm", [[1, 0, 2], [2, 1, 0], [0, 2, 1]])
def test_transpose_dtypes(dtype, perm):
    run_case([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], {"x": data([3, 4, 5], dtype)})


@pytest.mark.parametrize("opset", [1, 13])
def test_transpose_opsets(opset):
    run_case([helper.make_node("Transpose", ["x"], ["y"], perm=[1, 2, 0])], {"x": data([2, 3, 4])}, opset=opset)


def test_transpose_bad_perm():
    expect_error(edgeinfer.InvalidModel, ["'perm' is not a permutation"],
                 [helper.make_node("Transpose", ["x"], ["y"], perm=[0, 0, 1])], [("x", TensorProto.FLOAT, [2, 3, 4])])


def test_transpose_perm_rank_mismatch():
    expect_error(edgeinfer.InvalidArgument, ["'perm' has 2 entries", "rank 3"],
                 [helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0])], [("x", TensorProto.FLOAT, ["a", "b", "c"])],
                 feed={"x": data([2, 3, 4])})


# ---------------------------------------------------------------------- Concat

CONCATS = [
    ([[2, 3], [4, 3]], 0), ([[2, 3], [2, 5]], 1), ([[2, 3], [2, 1], [2, 2]], -1), ([[2, 3, 4], [2, 3, 4]], 1),
    ([[1, 2], [0, 2], [3, 2]], 0), ([[2, 0], [2, 3]], -1), ([[3]], 0), ([[2, 3, 4], [2, 3, 1], [2, 3, 7]], 2),
    ([[1], [1], [1], [1]], 0),
]


@pytest.mark.parametrize("shapes,axis", CONCATS)
def test_concat(shapes, axis):
    feed = {f"x{i}": data(s) for i, s in enumerate(shapes)}
    run_case([helper.make_node("Concat", list(feed), ["y"], axis=axis)], feed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_concat_dtypes(dtype):
    feed = {"a": data([2, 3], dtype), "b": data([2, 2], dtype)}
    run_case([helper.make_node("Concat", ["a", "b"], ["y"], axis=1)], feed)


@pytest.mark.parametrize("opset", [4, 11, 13])
def test_concat_opsets(opset):
    axis = 1 if opset < 11 else -2
    feed = {"a": data([2, 3, 4]), "b": data([2, 1, 4])}
    run_case([helper.make_node("Concat", ["a", "b"], ["y"], axis=axis)], feed, opset=opset)


def test_concat_with_initializer():
    run_case([helper.make_node("Concat", ["a", "c"], ["y"], axis=0)], {"a": data([2, 3])},
             inits=[("c", data([1, 3]))])


def test_concat_shape_mismatch():
    expect_error(edgeinfer.InvalidArgument, ["node 'cat' (Concat)", "'b' [2,4]", "does not match", "'a' [3,3]"],
                 [helper.make_node("Concat", ["a", "b"], ["y"], axis=1, name="cat")],
                 [("a", TensorProto.FLOAT, ["n", 3]), ("b", TensorProto.FLOAT, ["m", 4])],
                 feed={"a": data([3, 3]), "b": data([2, 4])})


def test_concat_dtype_mismatch():
    expect_error(edgeinfer.InvalidModel, ["'b' has dtype int64", "'a' has float32"],
                 [helper.make_node("Concat", ["a", "b"], ["y"], axis=0)],
                 [("a", TensorProto.FLOAT, [2]), ("b", TensorProto.INT64, [2])],
                 feed={"a": data([2]), "b": i64(1, 2)})


def test_concat_axis_out_of_range():
    expect_error(edgeinfer.InvalidModel, ["'axis' = 2", "rank 2"],
                 [helper.make_node("Concat", ["a", "b"], ["y"], axis=2)],
                 [("a", TensorProto.FLOAT, [2, 3]), ("b", TensorProto.FLOAT, [2, 3])])


# ------------------------------------------------------------ Identity, Dropout


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [[], [3], [2, 0], [2, 3, 4]])
def test_identity(dtype, shape):
    # Optimizations off so the Identity node itself runs (the optimizer may remove it).
    run_case([helper.make_node("Identity", ["x"], ["y"])], {"x": data(shape, dtype)}, sess_options=no_opt())


def test_identity_inside_graph():
    nodes = [helper.make_node("Identity", ["x"], ["t"]), helper.make_node("Relu", ["t"], ["y"])]
    for so in (None, no_opt()):
        run_case(nodes, {"x": data([4, 5])}, sess_options=so)


@pytest.mark.parametrize("opset", [7, 10, 12, 13])
def test_dropout_output(opset):
    run_case([helper.make_node("Dropout", ["x"], ["y"])], {"x": data([3, 4])}, opset=opset, sess_options=no_opt())


@pytest.mark.parametrize("opset", [12, 13, DEFAULT_OPSET])
def test_dropout_mask_and_inputs(opset):
    nodes = [helper.make_node("Dropout", ["x", "r", "t"], ["y", "m"])]
    inits = [("r", np.array(0.3, np.float32)), ("t", np.array(False))]
    out = run_case(nodes, {"x": data([2, 5])}, outputs=("y", "m"), inits=inits, opset=opset, sess_options=no_opt())
    assert out[1].dtype == np.bool_ and out[1].all()


@pytest.mark.parametrize("opset", [7, 10])
def test_dropout_mask_old_opsets(opset):
    """onnxruntime returns an all-zero mask for Dropout-7/10 in inference; ONNX's reference
    (onnx.reference) and the spec's meaning ("kept") give all ones, which edgeinfer follows:
    y is compared with the input, the mask with ones of the spec's dtype."""
    x = data([2, 3])
    model = make_model([helper.make_node("Dropout", ["x"], ["y", "m"])], [("x", TensorProto.FLOAT, [2, 3])],
                       [("y", TensorProto.FLOAT, [2, 3]), ("m", TensorProto.FLOAT if opset < 10 else TensorProto.BOOL, [2, 3])],
                       opset=opset)
    y, m = edgeinfer.InferenceSession(model.SerializeToString()).run(None, {"x": x})
    np.testing.assert_array_equal(y, x)
    assert m.dtype == (np.float32 if opset < 10 else np.bool_)
    np.testing.assert_array_equal(m, np.ones([2, 3], m.dtype))


def test_dropout_training_mode_unsupported():
    expect_error(edgeinfer.Unsupported, ["node 'd' (Dropout)", "training_mode", "only inference"],
                 [helper.make_node("Dropout", ["x", "", "t"], ["y"], name="d")], [("x", TensorProto.FLOAT, [2])],
                 inits=[("t", np.array(True))], opset=13)


def test_dropout_training_mode_runtime_input():
    nodes = [helper.make_node("Dropout", ["x", "", "t"], ["y"], name="d")]
    model = make_model(nodes, [("x", TensorProto.FLOAT, [2]), ("t", TensorProto.BOOL, [])],
                       [("y", TensorProto.FLOAT, [2])], opset=13)
    sess = edgeinfer.InferenceSession(model.SerializeToString(), sess_options=no_opt())
    x = data([2])
    np.testing.assert_array_equal(sess.run(None, {"x": x, "t": np.array(False)})[0], x)
    with pytest.raises(edgeinfer.Unsupported, match="training_mode"):
        sess.run(None, {"x": x, "t": np.array(True)})


# -------------------------------------------------------------------- Constant

CONSTANTS = [
    {"value": onnx.numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3))},
    {"value": onnx.numpy_helper.from_array(np.array([3, -4, 5], np.int64))},
    {"value": onnx.numpy_helper.from_array(np.array(2.5, np.float32))},
    {"value_float": 1.5},
    {"value_floats": [1.0, 2.0, 3.0]},
    {"value_int": 7},
    {"value_ints": [1, 2, 3]},
]


@pytest.mark.parametrize("opset", [13, DEFAULT_OPSET])
@pytest.mark.parametrize("attrs", CONSTANTS, ids=lambda a: next(iter(a)))
def test_constant(attrs, opset):
    for so in (None, no_opt()):
        run_case([helper.make_node("Constant", [], ["c"], **attrs), helper.make_node("Identity", ["c"], ["y"])],
                 {}, opset=opset, sess_options=so)


def test_constant_feeds_add():
    nodes = [helper.make_node("Constant", [], ["c"], value=onnx.numpy_helper.from_array(np.array([1, 2, 3], np.float32))),
             helper.make_node("Add", ["x", "c"], ["y"])]
    run_case(nodes, {"x": data([2, 3])}, sess_options=no_opt())


def test_constant_opset9_value():
    t = onnx.numpy_helper.from_array(np.arange(4, dtype=np.int32))
    run_case([helper.make_node("Constant", [], ["y"], value=t)], {}, opset=9, sess_options=no_opt())


def test_constant_two_values():
    expect_error(edgeinfer.InvalidModel, ["'value_float'", "'value_int'", "exactly one"],
                 [helper.make_node("Constant", [], ["y"], value_float=1.0, value_int=2)], [])


def test_constant_string_unsupported():
    expect_error(edgeinfer.Unsupported, "value_string", [helper.make_node("Constant", [], ["y"], value_string="hi")],
                 [])


def test_constant_sparse_unsupported():
    sp = helper.make_sparse_tensor(helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
                                   helper.make_tensor("i", TensorProto.INT64, [1], [0]), [3])
    expect_error(edgeinfer.Unsupported, "sparse_value", [helper.make_node("Constant", [], ["y"], sparse_value=sp)], [])


# ----------------------------------------------------------------------- Shape


@pytest.mark.parametrize("shape", [[], [3], [2, 0], [2, 3, 4, 5]])
@pytest.mark.parametrize("opset", [1, 13, 15])
def test_shape(shape, opset):
    run_case([helper.make_node("Shape", ["x"], ["y"])], {"x": data(shape)}, opset=opset)


@pytest.mark.parametrize("start,end", [(0, None), (1, None), (-1, None), (0, 2), (1, -1), (-10, 10), (3, 1),
                                       (5, None), (None, -3), (-2, -1)])
def test_shape_start_end(start, end):
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    run_case([helper.make_node("Shape", ["x"], ["y"], **attrs)], {"x": data([2, 3, 4, 5])}, opset=15)


# ---------------------------------------------------------------------- Gather

GATHERS = [
    ([5, 3], [0, 4, -1, 2], 0), ([5, 3], [[0, 1], [2, -3]], 1), ([5, 3], 2, 0), ([5, 3], -1, -1),
    ([2, 3, 4], [3, 0, 0], 2), ([2, 3, 4], [[1]], -2), ([4], [3, 2, 1, 0, -4], 0), ([4], [], 0), ([0, 3], [1], 1),
]


@pytest.mark.parametrize("idt", [np.int64, np.int32])
@pytest.mark.parametrize("shape,indices,axis", GATHERS)
def test_gather(shape, indices, axis, idt):
    feed = {"x": data(shape), "i": np.array(indices, idt)}
    run_case([helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)], feed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_dtypes(dtype):
    feed = {"x": data([4, 3], dtype), "i": i64(3, 0, -1)}
    run_case([helper.make_node("Gather", ["x", "i"], ["y"], axis=0)], feed)


@pytest.mark.parametrize("opset", [1, 11, 13])
def test_gather_opsets(opset):
    feed = {"x": data([4, 3]), "i": i64(2, 0)}
    run_case([helper.make_node("Gather", ["x", "i"], ["y"], axis=1)], feed, opset=opset)


@pytest.mark.parametrize("idt", [np.int64, np.int32])
@pytest.mark.parametrize("bad", [3, -4, 100])
def test_gather_index_out_of_range(bad, idt):
    e = expect_error(edgeinfer.IndexOutOfRange, ["node 'g' (Gather)", f"index {bad}", "[-3, 2]", "'x'"],
                     [helper.make_node("Gather", ["x", "i"], ["y"], axis=1, name="g")],
                     [("x", TensorProto.FLOAT, [2, 3]), ("i", _tt(idt), [2])],
                     feed={"x": data([2, 3]), "i": np.array([0, bad], idt)})
    assert isinstance(e, IndexError)


def test_gather_from_empty_axis():
    expect_error(edgeinfer.IndexOutOfRange, ["index 0", "[0, -1]"],
                 [helper.make_node("Gather", ["x", "i"], ["y"], axis=0)],
                 [("x", TensorProto.FLOAT, ["n", 3]), ("i", TensorProto.INT64, [1])],
                 feed={"x": data([0, 3]), "i": i64(0)})


def test_gather_axis_out_of_range():
    expect_error(edgeinfer.InvalidModel, ["'axis' = -3", "rank 2"],
                 [helper.make_node("Gather", ["x", "i"], ["y"], axis=-3)],
                 [("x", TensorProto.FLOAT, [2, 3]), ("i", TensorProto.INT64, [1])],
                 feed={"x": data([2, 3]), "i": i64(0)})


def test_gather_float_indices():
    expect_error(edgeinfer.InvalidModel, ["'i' (indices)", "int32 or int64"],
                 [helper.make_node("Gather", ["x", "i"], ["y"])],
                 [("x", TensorProto.FLOAT, [2, 3]), ("i", TensorProto.FLOAT, [1])],
                 feed={"x": data([2, 3]), "i": np.zeros(1, np.float32)})


# -------------------------------------------------------------- Squeeze/Unsqueeze


@pytest.mark.parametrize("shape,axes", [([1, 3, 1, 2], None), ([1, 3, 1, 2], [0]), ([1, 3, 1, 2], [-2, 0]),
                                        ([1], [0]), ([1, 1], None), ([3, 2], None), ([2, 1, 0], [1])])
@pytest.mark.parametrize("opset", [7, 11, 13, 21])
def test_squeeze(shape, axes, opset):
    if opset < 11 and axes is not None and min(axes) < 0:
        axes = [a + len(shape) if a < 0 else a for a in axes]  # negative axes arrived in opset 11
    if axes is None:
        node = helper.make_node("Squeeze", ["x"], ["y"])
        inits = []
    elif opset < 13:
        node = helper.make_node("Squeeze", ["x"], ["y"], axes=axes)
        inits = []
    else:
        node = helper.make_node("Squeeze", ["x", "a"], ["y"])
        inits = [("a", np.array(axes, np.int64))]
    run_case([node], {"x": data(shape, np.int64)}, inits=inits, opset=opset)


def test_squeeze_non_one_dim():
    expect_error(edgeinfer.InvalidArgument, ["node 'sq' (Squeeze)", "cannot squeeze axis 1", "[1,3]", "size is 3"],
                 [helper.make_node("Squeeze", ["x", "a"], ["y"], name="sq")], [("x", TensorProto.FLOAT, [1, "n"])],
                 feed={"x": data([1, 3])}, inits=[("a", i64(1))])


def test_squeeze_axis_out_of_range():
    expect_error(edgeinfer.InvalidModel, ["axis 2", "rank 2"],
                 [helper.make_node("Squeeze", ["x"], ["y"], axes=[2])], [("x", TensorProto.FLOAT, [1, 1])], opset=11)


@pytest.mark.parametrize("xs,axes", [([1, 3], [0]), ([1, 3, 1], [-1, 0]), ([2, 1, 1], [1])])
def test_squeeze_axes_fed_at_run(xs, axes):
    run_case([helper.make_node("Squeeze", ["x", "a"], ["y"])], {"x": data(xs), "a": np.array(axes, np.int64)})


def test_squeeze_axes_fed_at_run_errors():
    expect_error(edgeinfer.InvalidArgument, ["cannot squeeze axis 1", "its size is 3"],
                 [helper.make_node("Squeeze", ["x", "a"], ["y"])],
                 [("x", TensorProto.FLOAT, [1, 3]), ("a", TensorProto.INT64, [1])],
                 feed={"x": data([1, 3]), "a": i64(1)})


@pytest.mark.parametrize("xs,axes", [([3], [0]), ([2, 3], [-1, 1]), ([], [0, 1]), ([2, 3], [3, 0])])
def test_unsqueeze_axes_fed_at_run(xs, axes):
    run_case([helper.make_node("Unsqueeze", ["x", "a"], ["y"])], {"x": data(xs), "a": np.array(axes, np.int64)})


def test_unsqueeze_axes_fed_at_run_errors():
    expect_error(edgeinfer.InvalidModel, ["axis 5 is out of range for output rank 3"],
                 [helper.make_node("Unsqueeze", ["x", "a"], ["y"])],
                 [("x", TensorProto.FLOAT, [2, 3]), ("a", TensorProto.INT64, [1])],
                 feed={"x": data([2, 3]), "a": i64(5)})


@pytest.mark.parametrize("shape,axes", [([3], [0]), ([3], [1]), ([3], [-1]), ([2, 3], [0, 3]), ([2, 3], [-1, 1]),
                                        ([], [0]), ([], [0, 1]), ([2, 0], [1])])
@pytest.mark.parametrize("opset", [7, 11, 13, 21])
def test_unsqueeze(shape, axes, opset):
    if opset < 11 and min(axes) < 0:
        axes = [a + len(shape) + len(axes) if a < 0 else a for a in axes]  # negative axes arrived in opset 11
    if opset < 13:
        node, inits = helper.make_node("Unsqueeze", ["x"], ["y"], axes=axes), []
    else:
        node, inits = helper.make_node("Unsqueeze", ["x", "a"], ["y"]), [("a", np.array(axes, np.int64))]
    run_case([node], {"x": data(shape, np.int64)}, inits=inits, opset=opset)


def test_unsqueeze_repeated_axis():
    expect_error(edgeinfer.InvalidModel, ["node 'u' (Unsqueeze)", "repeated"],
                 [helper.make_node("Unsqueeze", ["x", "a"], ["y"], name="u")], [("x", TensorProto.FLOAT, [3])],
                 inits=[("a", i64(0, -3))])


def test_unsqueeze_axis_out_of_range():
    expect_error(edgeinfer.InvalidModel, ["axis 3", "output rank 2"],
                 [helper.make_node("Unsqueeze", ["x"], ["y"], axes=[3])], [("x", TensorProto.FLOAT, [3])], opset=11)


@pytest.mark.parametrize("op", ["Reshape", "Shape", "Squeeze", "Unsqueeze", "Transpose", "Flatten", "Identity",
                                "Constant", "Concat", "Gather"])
def test_newest_registered_opset(op):
    """Opset 21 rows (only new dtypes there) on plain float32/int64 data."""
    x = data([1, 3, 4])
    nodes, inits, feed = [], [], {"x": x}
    if op == "Reshape":
        nodes, inits = [helper.make_node(op, ["x", "s"], ["y"])], [("s", i64(4, -1))]
    elif op in ("Squeeze", "Unsqueeze"):
        nodes, inits = [helper.make_node(op, ["x", "a"], ["y"])], [("a", i64(0))]
    elif op == "Constant":
        nodes, feed = [helper.make_node(op, [], ["y"], value_ints=[5, 6])], {}
    elif op == "Concat":
        nodes = [helper.make_node(op, ["x", "x"], ["y"], axis=-1)]
    elif op == "Gather":
        nodes, inits = [helper.make_node(op, ["x", "i"], ["y"], axis=1)], [("i", i64(2, 0))]
    else:
        nodes = [helper.make_node(op, ["x"], ["y"])]
    run_case(nodes, feed, inits=inits, opset=21, sess_options=no_opt())


# ------------------------------------------------------- shape arithmetic chain


def chain_nodes(opset):
    """y = Reshape(x, concat([shape(x)[0]], [prod(shape(x)[1:3])])) for x [N, 3, 4]."""
    if opset >= 13:
        unsq = [helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
                helper.make_node("Unsqueeze", ["hw", "ax0"], ["hw1"])]
        inits = [("ax0", i64(0))]
    else:
        unsq = [helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
                helper.make_node("Unsqueeze", ["hw"], ["hw1"], axes=[0])]
        inits = []
    inits += [("i0", np.array(0, np.int64)), ("i1", np.array(1, np.int64)), ("i2", np.array(2, np.int64))]
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),  # scalar
        helper.make_node("Gather", ["s", "i1"], ["h"], axis=0),
        helper.make_node("Gather", ["s", "i2"], ["w"], axis=0),
        helper.make_node("Mul", ["h", "w"], ["hw"]),  # scalar int64 arithmetic
        *unsq,
        helper.make_node("Concat", ["n1", "hw1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    return nodes, inits


@pytest.mark.parametrize("opset", [11, 13, DEFAULT_OPSET])
def test_shape_chain_dynamic_batch(opset):
    nodes, inits = chain_nodes(opset)
    model = make_model(nodes, [("x", TensorProto.FLOAT, ["N", 3, 4])], [("y", TensorProto.FLOAT, ["N", 12])],
                       inits, opset)
    onnx.checker.check_model(model)
    for so in (None, no_opt()):
        sess = edgeinfer.InferenceSession(model.SerializeToString(), sess_options=so)
        for n in [1, 5, 2, 0]:
            x = data([n, 3, 4])
            (y,) = sess.run(None, {"x": x})
            assert y.shape == (n, 12)
            if n == 0:  # onnxruntime's Reshape rejects this batch of 0 ({0,-1} after its own folding)
                continue
            (ref,) = run_ort(model, {"x": x})
            np.testing.assert_array_equal(y, ref)


def test_shape_chain_div_and_sub():
    """Shape arithmetic with Div/Sub on int64 scalars: reshape [N, 6] -> [N*2, 3]."""
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "i1"], ["c"], axis=0),
        helper.make_node("Div", ["c", "two"], ["c2"]),
        helper.make_node("Sub", ["c2", "zero"], ["c3"]),
        helper.make_node("Unsqueeze", ["c3", "ax0"], ["c4"]),
        helper.make_node("Concat", ["m1", "c4"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    inits = [("i1", np.array(1, np.int64)), ("two", np.array(2, np.int64)), ("zero", np.array(0, np.int64)),
             ("ax0", i64(0)), ("m1", i64(-1))]
    for n in [1, 4]:
        run_case(nodes, {"x": data([n, 6])}, inits=inits, input_shapes={"x": ["N", 6]})
