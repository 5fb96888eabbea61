"""Losses, sampling and other ops against onnxruntime: NegativeLogLikelihoodLoss,
SoftmaxCrossEntropyLoss, GridSample, CumProd, BitCast, CenterCropPad, BitwiseAnd/Or/Xor/Not,
EyeLike, Swish, Compress, ReverseSequence, Det, AffineGrid, Col2Im, Unique, TensorScatter,
DeformConv.

Oracle: onnxruntime (1.32 here) wherever it has a kernel.
Where it has none, or where it departs from the ONNX definition, the test says why and
compares with onnx.reference.ReferenceEvaluator or the NumPy function the reference calls
(GridSample cubic on 5-D input and cubic with border padding; AffineGrid with a length-1
aligned dim; Col2Im in N-D with pads/strides/dilations and float64; Unique, EyeLike, Det and
BitCast on dtypes onnxruntime has no kernel for).

Tolerances:
- losses: rtol 1e-5, atol 1e-5 relative to the output's max magnitude. The per-element
  loss is one product (bit-exact); sums/means over at most a few hundred terms are
  accumulated in double here and in float by onnxruntime (error ~ n * eps(float32) < 1e-5);
  log-softmax is exp/log a few ulp apart.
- GridSample float32: rtol 1e-5, atol 1e-5: up to 16 (4-D cubic) taps with weights computed
  in double here and in float by onnxruntime. float64: rtol 1e-12, atol 1e-12.
- CumProd floats: rtol 1e-6 (one rounding per step in both engines, same order); integers
  and BitCast bit-exact.
- Data movement and integer ops (CenterCropPad, Bitwise*, EyeLike, Compress, ReverseSequence,
  Unique, TensorScatter) compare exactly; the float math of the others (Swish, Det, AffineGrid,
  Col2Im, DeformConv) states its tolerance and why in the test.
"""
import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator

import edgeinfer
from ortcheck import TensorProto, assert_close, check_model, helper, make_model, run_ei, run_ort

RNG = np.random.default_rng(2024)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def run_case(nodes, feed, outputs=("y",), inits=(), opset=18, rtol=1e-5, atol=1e-5, **kw):
    """Model with feed's input shapes; output types/shapes from onnxruntime's answer on a
    probe model, so the checker sees fully typed outputs. Compares every output."""
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in feed.items()]
    probe = make_model(nodes, inputs, [onnx.ValueInfoProto(name=o) for o in outputs], inits, opset)
    probe.ir_version = 10
    expected = run_ort(probe, feed)
    outs = [(o, _tt(e.dtype), list(e.shape)) for o, e in zip(outputs, expected)]
    model = make_model(nodes, inputs, outs, inits, opset)
    model.ir_version = 10
    return check_model(model, feed, rtol=rtol, atol=atol, **kw)


def expect_error(exc, fragments, nodes, inputs, feed=None, outputs=("y",), opset=18, out_type=TensorProto.FLOAT):
    """Creating (and, with feed, running) the model must raise exc with every fragment."""
    model = make_model(nodes, inputs, [helper.make_tensor_value_info(o, out_type, None) for o in outputs],
                       (), opset)
    model.ir_version = 10
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


# ------------------------------------------------------------ losses

LOSS_SHAPES = [(4, 5), (3, 4, 6), (2, 3, 4, 5)]


def _targets(shape, c, ii, tdtype=np.int64):
    t = RNG.integers(0, c, size=(shape[0],) + shape[2:]).astype(tdtype)
    if ii is not None:
        t.flat[::3] = ii  # every third target ignored
    return t


@pytest.mark.parametrize("opset", [12, 13, 22])
@pytest.mark.parametrize("shape", LOSS_SHAPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ii", [None, 1, -1])
def test_nll_loss(opset, shape, reduction, weighted, ii):
    c = shape[1]
    feed = {"x": RNG.standard_normal(shape).astype(np.float32), "t": _targets(shape, c, ii)}
    ins = ["x", "t"]
    if weighted:
        feed["w"] = RNG.uniform(0.2, 2.0, c).astype(np.float32)
        ins.append("w")
    attrs = {"reduction": reduction}
    if ii is not None:
        attrs["ignore_index"] = ii
    run_case([helper.make_node("NegativeLogLikelihoodLoss", ins, ["y"], **attrs)], feed, opset=opset)


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_nll_loss_int32_target_and_default_reduction(reduction):
    feed = {"x": RNG.standard_normal((3, 4, 2)).astype(np.float32),
            "t": RNG.integers(0, 4, (3, 2)).astype(np.int32)}
    attrs = {} if reduction == "mean" else {"reduction": reduction}
    run_case([helper.make_node("NegativeLogLikelihoodLoss", ["x", "t"], ["y"], **attrs)], feed, opset=13)


@pytest.mark.parametrize("op", ["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_loss_float64(op, reduction):
    # double sums on both sides (12 terms): rtol 1e-12
    feed = {"x": RNG.standard_normal((3, 5, 4)), "t": RNG.integers(0, 5, (3, 4)).astype(np.int64),
            "w": RNG.uniform(0.5, 1.5, 5)}
    node = helper.make_node(op, ["x", "t", "w"], ["y"], reduction=reduction, ignore_index=2)
    run_case([node], feed, opset=13, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("opset", [12, 13])
@pytest.mark.parametrize("shape", LOSS_SHAPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ii", [None, 2])
@pytest.mark.parametrize("log_prob", [False, True])
def test_softmax_cross_entropy_loss(opset, shape, reduction, weighted, ii, log_prob):
    c = shape[1]
    feed = {"x": (3 * RNG.standard_normal(shape)).astype(np.float32), "t": _targets(shape, c, ii)}
    ins = ["x", "t"]
    if weighted:
        feed["w"] = RNG.uniform(0.2, 2.0, c).astype(np.float32)
        ins.append("w")
    attrs = {"reduction": reduction}
    if ii is not None:
        attrs["ignore_index"] = ii
    outs = ["y", "lp"] if log_prob else ["y"]
    run_case([helper.make_node("SoftmaxCrossEntropyLoss", ins, outs, **attrs)], feed, outputs=outs,
             opset=opset)


def test_softmax_cross_entropy_loss_feeds_next_node():
    # The loss from scratch log-probabilities (no second output) goes on through a consumer.
    feed = {"x": RNG.standard_normal((6, 7)).astype(np.float32), "t": RNG.integers(0, 7, 6).astype(np.int64)}
    nodes = [helper.make_node("SoftmaxCrossEntropyLoss", ["x", "t"], ["l"], reduction="none"),
             helper.make_node("Mul", ["l", "l"], ["y"])]
    run_case(nodes, feed, opset=13)


LOSS_OPS = [("NegativeLogLikelihoodLoss", 22), ("SoftmaxCrossEntropyLoss", 13)]


@pytest.mark.parametrize("op,opset", LOSS_OPS)
def test_loss_errors(op, opset):
    x = ("x", TensorProto.FLOAT, [3, 4])
    t = ("t", TensorProto.INT64, [3])
    feed = {"x": np.zeros((3, 4), np.float32), "t": np.array([0, 4, 1], np.int64)}
    node = helper.make_node(op, ["x", "t"], ["y"], reduction="sum", name="loss1")
    e = expect_error(edgeinfer.IndexOutOfRange, ["loss1", "target 4", "'t'"], [node], [x, t], feed, opset=opset)
    assert isinstance(e, IndexError)
    feed["t"] = np.array([0, -3, 1], np.int64)
    expect_error(IndexError, ["loss1", "target -3"], [node], [x, t], feed, opset=opset)
    # ignore_index outside [0, C) is allowed exactly where it is set.
    node_ii = helper.make_node(op, ["x", "t"], ["y"], reduction="sum", ignore_index=-3)
    model = make_model([node_ii], [x, t], [("y", TensorProto.FLOAT, [])], opset=opset)
    assert run_ei(model, feed)[0].shape == ()
    expect_error(edgeinfer.InvalidModel, ["loss1", "reduction", "avg"],
                 [helper.make_node(op, ["x", "t"], ["y"], reduction="avg", name="loss1")], [x, t], opset=opset)
    expect_error(ValueError, ["loss1", "'t'", "[3,2]"], [node],
                 [x, ("t", TensorProto.INT64, [3, 2])], {"x": feed["x"], "t": np.zeros((3, 2), np.int64)},
                 opset=opset)
    expect_error(ValueError, ["loss1", "'w'", "length C = 4"],
                 [helper.make_node(op, ["x", "t", "w"], ["y"], name="loss1")],
                 [x, t, ("w", TensorProto.FLOAT, [3])],
                 {"x": feed["x"], "t": np.zeros(3, np.int64), "w": np.ones(3, np.float32)}, opset=opset)
    expect_error(ValueError, ["loss1", "'t'", "int32 or int64"], [node],
                 [x, ("t", TensorProto.FLOAT, [3])], {"x": feed["x"], "t": np.zeros(3, np.float32)}, opset=opset)
    expect_error(ValueError, ["loss1", "'x'", "rank >= 2"], [node],
                 [("x", TensorProto.FLOAT, [3]), t], {"x": np.zeros(3, np.float32), "t": np.zeros(3, np.int64)},
                 opset=opset)


# ------------------------------------------------------------ GridSample

def _grid(shape, lo=-1.3, hi=1.3, dtype=np.float32):
    g = RNG.uniform(lo, hi, shape)
    # exact half-pixel and corner positions exercise rounding ties and borders
    g.flat[:6] = [-1.0, 1.0, 0.0, 0.5, -0.5, 1.0 / 3.0][: min(6, g.size)]
    return g.astype(dtype)


GS_MODES = {16: ["bilinear", "nearest", "bicubic"], 20: ["linear", "nearest", "cubic"], 22: ["linear", "nearest", "cubic"]}


@pytest.mark.parametrize("opset", [16, 20, 22])
@pytest.mark.parametrize("mode_i", [0, 1, 2])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_2d(opset, mode_i, padding, align):
    mode = GS_MODES[opset][mode_i]
    feed = {"x": RNG.standard_normal((2, 3, 5, 6)).astype(np.float32), "g": _grid((2, 4, 7, 2))}
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding, align_corners=align)
    if mode_i == 2 and padding == "border":
        # onnxruntime follows PyTorch here (cubic taps around the unclamped coordinate, each
        # tap clamped) and differs from ONNX's definition by up to ~0.2 for grid points
        # outside the image; the ONNX reference (which the backend tests encode: clamp the
        # coordinate first, then take clamped taps) is the oracle for this combination.
        io = ([("x", TensorProto.FLOAT, [2, 3, 5, 6]), ("g", TensorProto.FLOAT, [2, 4, 7, 2])],
              [("y", TensorProto.FLOAT, [2, 3, 4, 7])])
        model = make_model([node], *io, opset=opset)
        ref_node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="cubic", padding_mode=padding,
                                    align_corners=align)  # the reference knows only the opset-20 names
        expected = ReferenceEvaluator(make_model([ref_node], *io, opset=20)).run(None, feed)[0]
        assert_close(run_ei(model, feed)[0], expected, rtol=1e-5, atol=1e-5)
        return
    run_case([node], feed, opset=opset)


@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align", [0, 1])
def test_grid_sample_3d(mode, padding, align):
    feed = {"x": RNG.standard_normal((1, 2, 3, 4, 5)).astype(np.float32), "g": _grid((1, 3, 2, 4, 3))}
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode=mode, padding_mode=padding, align_corners=align)
    run_case([node], feed, opset=20)


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_3d_cubic_reference(padding):
    # onnxruntime implements cubic only for 4-D input ("Only support GridSample Cubic mode in
    # 4-D cases"); ONNX defines N-cubic, so the reference evaluator is the oracle here.
    x = RNG.standard_normal((1, 2, 3, 4, 4)).astype(np.float32)
    g = _grid((1, 2, 2, 3, 3))
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="cubic", padding_mode=padding)
    model = make_model([node], [("x", TensorProto.FLOAT, list(x.shape)), ("g", TensorProto.FLOAT, list(g.shape))],
                       [("y", TensorProto.FLOAT, [1, 2, 2, 2, 3])], opset=20)
    expected = ReferenceEvaluator(model).run(None, {"x": x, "g": g})[0]
    assert_close(run_ei(model, {"x": x, "g": g})[0], expected, rtol=1e-5, atol=1e-5)


def test_grid_sample_float64_and_threads():
    feed = {"x": RNG.standard_normal((2, 4, 16, 16)), "g": _grid((2, 24, 24, 2), dtype=np.float64)}
    node = helper.make_node("GridSample", ["x", "g"], ["y"], mode="cubic", padding_mode="reflection")
    run_case([node], feed, opset=20, rtol=1e-12, atol=1e-12)
    feed32 = {"x": feed["x"].astype(np.float32), "g": feed["g"].astype(np.float32)}
    run_case([helper.make_node("GridSample", ["x", "g"], ["y"])], feed32, opset=20, sess_options=threads(4))


def test_grid_sample_far_and_nan_coordinates():
    # Far-out coordinates must not overflow index arithmetic; NaN samples give NaN.
    x = RNG.standard_normal((1, 1, 3, 3)).astype(np.float32)
    g = np.array([[[[1e30, -1e30], [-np.inf, np.inf], [np.nan, 0.0]]]], np.float32)
    for padding in ["zeros", "border", "reflection"]:
        node = helper.make_node("GridSample", ["x", "g"], ["y"], padding_mode=padding)
        model = make_model([node], [("x", TensorProto.FLOAT, [1, 1, 3, 3]), ("g", TensorProto.FLOAT, [1, 1, 3, 2])],
                           [("y", TensorProto.FLOAT, [1, 1, 1, 3])], opset=20)
        y = run_ei(model, {"x": x, "g": g})[0]
        assert np.isnan(y[0, 0, 0, 2])
        if padding == "zeros":
            assert (y[0, 0, 0, :2] == 0).all()
        if padding == "border":  # clamped to corners x[2, 0] and x[0, 2]
            assert y[0, 0, 0, 0] == x[0, 0, 0, 2] and y[0, 0, 0, 1] == x[0, 0, 2, 0]


def test_grid_sample_errors():
    x4 = ("x", TensorProto.FLOAT, [1, 1, 3, 3])
    g4 = ("g", TensorProto.FLOAT, [1, 2, 2, 2])
    expect_error(edgeinfer.InvalidModel, ["gs1", "'mode'", "'linear'", "bilinear"],
                 [helper.make_node("GridSample", ["x", "g"], ["y"], mode="linear", name="gs1")], [x4, g4], opset=16)
    expect_error(edgeinfer.InvalidModel, ["gs1", "'bicubic'"],
                 [helper.make_node("GridSample", ["x", "g"], ["y"], mode="bicubic", name="gs1")], [x4, g4], opset=20)
    expect_error(edgeinfer.InvalidModel, ["gs1", "padding_mode", "wrap"],
                 [helper.make_node("GridSample", ["x", "g"], ["y"], padding_mode="wrap", name="gs1")], [x4, g4],
                 opset=20)
    node = helper.make_node("GridSample", ["x", "g"], ["y"], name="gs1")
    expect_error(ValueError, ["gs1", "'g'", "[1,2,2,3]"], [node], [x4, ("g", TensorProto.FLOAT, [1, 2, 2, 3])],
                 {"x": np.zeros((1, 1, 3, 3), np.float32), "g": np.zeros((1, 2, 2, 3), np.float32)}, opset=20)
    expect_error(ValueError, ["gs1", "'x'", "4-D at opset 16"], [node],
                 [("x", TensorProto.FLOAT, [1, 1, 2, 3, 3]), ("g", TensorProto.FLOAT, [1, 1, 2, 2, 3])],
                 {"x": np.zeros((1, 1, 2, 3, 3), np.float32), "g": np.zeros((1, 1, 2, 2, 3), np.float32)},
                 opset=16)
    expect_error(ValueError, ["gs1", "empty spatial dim"], [node], [("x", TensorProto.FLOAT, [1, 1, 0, 3]), g4],
                 {"x": np.zeros((1, 1, 0, 3), np.float32), "g": np.zeros((1, 2, 2, 2), np.float32)}, opset=20)
    expect_error(NotImplementedError, ["gs1", "'x'", "int32"], [node], [("x", TensorProto.INT32, [1, 1, 3, 3]), g4],
                 {"x": np.zeros((1, 1, 3, 3), np.int32), "g": np.zeros((1, 2, 2, 2), np.float32)}, opset=20,
                 out_type=TensorProto.INT32)


# ------------------------------------------------------------ CumProd

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cum_prod(dtype, exclusive, reverse, axis):
    x = RNG.uniform(0.5, 1.5, (3, 4, 5)) if np.dtype(dtype).kind == "f" else RNG.integers(-3, 4, (3, 4, 5))
    feed = {"x": x.astype(dtype)}
    node = helper.make_node("CumProd", ["x", "a"], ["y"], exclusive=exclusive, reverse=reverse)
    run_case([node], feed, inits=[("a", np.array(axis, np.int64))], opset=26, rtol=1e-6, atol=0)


def test_cum_prod_runtime_axis_and_wrap():
    # axis fed at run time (the node becomes dynamic); int64 products wrap modulo 2^64.
    feed = {"x": np.full((2, 40), 7, np.int64), "a": np.array(1, np.int32)}
    y = run_case([helper.make_node("CumProd", ["x", "a"], ["y"])], feed, opset=26)[0]
    assert (y[:, -1] == np.prod(np.full(40, 7, np.int64))).all()  # numpy wraps too


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64])
def test_cum_prod_unsigned(dtype):
    # products of up to 9 values below 2^16 wrap modulo 2^bits in both engines
    x = RNG.integers(0, 2**16, (3, 9)).astype(dtype)
    node = helper.make_node("CumProd", ["x", "a"], ["y"], reverse=1)
    run_case([node], {"x": x}, inits=[("a", np.array([1], np.int64))], opset=26)


def test_cum_prod_errors():
    x = ("x", TensorProto.FLOAT, [2, 3])
    node = helper.make_node("CumProd", ["x", "a"], ["y"], name="cp1")
    feed = {"x": np.ones((2, 3), np.float32), "a": np.array(2, np.int64)}
    expect_error(ValueError, ["cp1", "axis 2", "'x'"], [node], [x, ("a", TensorProto.INT64, [])], feed, opset=26)
    feed["a"] = np.array([0, 1], np.int64)
    expect_error(ValueError, ["cp1", "'a'", "exactly one"], [node], [x, ("a", TensorProto.INT64, [2])], feed,
                 opset=26)
    expect_error(NotImplementedError, ["cp1", "'x'", "int8"], [node],
                 [("x", TensorProto.INT8, [2, 3]), ("a", TensorProto.INT64, [])],
                 {"x": np.ones((2, 3), np.int8), "a": np.array(0, np.int64)}, opset=26, out_type=TensorProto.INT8)


# ------------------------------------------------------------ BitCast

BITCAST_PAIRS = [(np.float32, np.int32), (np.int32, np.float32), (np.float64, np.int64), (np.uint64, np.float64),
                 (np.uint16, np.int16), (np.float16, np.uint16), (np.int8, np.uint8), (np.bool_, np.uint8),
                 (np.uint32, np.int32)]


@pytest.mark.parametrize("src,dst", BITCAST_PAIRS)
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
def test_bit_cast(src, dst, shape):
    raw = RNG.integers(0, 256, int(np.prod(shape, dtype=np.int64)) * np.dtype(src).itemsize, dtype=np.uint8)
    x = raw.view(src).reshape(shape) if np.dtype(src) != np.bool_ else (raw % 2).astype(np.bool_).reshape(shape)
    node = helper.make_node("BitCast", ["x"], ["y"], to=_tt(dst))
    if src is np.bool_:
        # onnxruntime 1.32 has no bool BitCast kernel; NumPy's view is the same reinterpretation.
        model = make_model([node], [("x", TensorProto.BOOL, list(shape))], [("y", _tt(dst), list(shape))], opset=26)
        model.ir_version = 10
        y = run_ei(model, {"x": x})[0]
        assert_close(y, x.view(dst))
    else:
        y = run_case([node], {"x": x}, opset=26)[0]
    assert y.tobytes() == x.tobytes()  # and bit-exact against the input itself


def test_bit_cast_errors():
    x = ("x", TensorProto.FLOAT, [3])
    expect_error(edgeinfer.InvalidModel, ["bc1", "'x'", "float32", "int64", "equal widths"],
                 [helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.INT64, name="bc1")], [x],
                 {"x": np.zeros(3, np.float32)}, opset=26, out_type=TensorProto.INT64)
    expect_error(NotImplementedError, ["bc1", "'to' = 14"],
                 [helper.make_node("BitCast", ["x"], ["y"], to=TensorProto.COMPLEX64, name="bc1")], [x], opset=26)
    expect_error(edgeinfer.InvalidModel, ["bc1", "'to' is required"],
                 [helper.make_node("BitCast", ["x"], ["y"], name="bc1")], [x], opset=26)


# ------------------------------------------------------------ CenterCropPad

@pytest.mark.parametrize("shape,target,axes", [
    ((5, 7), [3, 10], None), ((4, 6, 3), [6, 3], [0, 1]), ((2, 5, 8), [4, 4], [-2, -1]),
    ((3, 3), [3, 3], None), ((6, 1, 5), [7, 2, 2], None), ((4, 5), [0, 5], None)])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_center_crop_pad(shape, target, axes, dtype):
    feed = {"x": RNG.integers(0, 100, shape).astype(dtype)}
    attrs = {} if axes is None else {"axes": axes}
    node = helper.make_node("CenterCropPad", ["x", "s"], ["y"], **attrs)
    run_case([node], feed, inits=[("s", np.array(target, np.int64))], opset=18, rtol=0, atol=0)


def test_center_crop_pad_runtime_shape():
    # The target sizes fed at run time: the node becomes dynamic and sizes itself when it runs.
    feed = {"x": RNG.standard_normal((5, 6)).astype(np.float32), "s": np.array([8, 3], np.int64)}
    run_case([helper.make_node("CenterCropPad", ["x", "s"], ["y"])], feed, opset=18, rtol=0, atol=0)


def test_center_crop_pad_errors():
    x = ("x", TensorProto.FLOAT, [4, 4])
    feed = {"x": np.zeros((4, 4), np.float32), "s": np.array([2], np.int64)}
    node = helper.make_node("CenterCropPad", ["x", "s"], ["y"], name="ccp1")
    expect_error(ValueError, ["ccp1", "'s'", "1 values, expected 2"], [node], [x, ("s", TensorProto.INT64, [1])],
                 feed, opset=18)
    feed["s"] = np.array([2, -1], np.int64)
    expect_error(ValueError, ["ccp1", "'s'", "-1"], [node], [x, ("s", TensorProto.INT64, [2])], feed, opset=18)
    expect_error(ValueError, ["ccp1", "'axes'", "2"],
                 [helper.make_node("CenterCropPad", ["x", "s"], ["y"], axes=[0, 2], name="ccp1")],
                 [x, ("s", TensorProto.INT64, [2])], feed, opset=18)
    expect_error(ValueError, ["ccp1", "'axes'", "repeated"],
                 [helper.make_node("CenterCropPad", ["x", "s"], ["y"], axes=[0, -2], name="ccp1")],
                 [x, ("s", TensorProto.INT64, [2])], feed, opset=18)


# ------------------------------------------------------------ Bitwise

INT_TYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


def _ints(shape, dtype):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", INT_TYPES)
@pytest.mark.parametrize("sa,sb", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 5), (3, 1)), ((), (6,))])
def test_bitwise_binary(op, dtype, sa, sb):
    feed = {"a": _ints(sa, dtype), "b": _ints(sb, dtype)}
    run_case([helper.make_node(op, ["a", "b"], ["y"])], feed, opset=18)


@pytest.mark.parametrize("dtype", INT_TYPES)
def test_bitwise_not(dtype):
    run_case([helper.make_node("BitwiseNot", ["x"], ["y"])], {"x": _ints((3, 5, 2), dtype)}, opset=18)


def test_bitwise_large_threads():
    # Big enough to be split across the pool (tasks of >= 32768 elements).
    feed = {"a": _ints((300, 400), np.int32), "b": _ints((400,), np.int32)}
    run_case([helper.make_node("BitwiseXor", ["a", "b"], ["y"])], feed, opset=18, sess_options=threads(4))
    run_case([helper.make_node("BitwiseNot", ["a"], ["y"])], {"a": feed["a"]}, opset=18, sess_options=threads(4))


def test_bitwise_errors():
    node = helper.make_node("BitwiseAnd", ["a", "b"], ["y"], name="bw1")
    expect_error(ValueError, ["bw1", "'a'", "'b'", "broadcast"], [node],
                 [("a", TensorProto.INT32, [3]), ("b", TensorProto.INT32, [4])],
                 {"a": np.zeros(3, np.int32), "b": np.zeros(4, np.int32)}, opset=18, out_type=TensorProto.INT32)
    expect_error(ValueError, ["bw1", "same dtype"], [node],
                 [("a", TensorProto.INT32, [3]), ("b", TensorProto.INT64, [3])],
                 {"a": np.zeros(3, np.int32), "b": np.zeros(3, np.int64)}, opset=18, out_type=TensorProto.INT32)
    expect_error(NotImplementedError, ["bw1", "'a'", "float32"], [node],
                 [("a", TensorProto.FLOAT, [3]), ("b", TensorProto.FLOAT, [3])],
                 {"a": np.zeros(3, np.float32), "b": np.zeros(3, np.float32)}, opset=18)


# ------------------------------------------------------------ EyeLike, Swish

@pytest.mark.parametrize("opset", [9, 22])
@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 2), (0, 3)])
@pytest.mark.parametrize("k", [0, 1, -2, 7, -9])
@pytest.mark.parametrize("dtype", [None, TensorProto.INT32, TensorProto.DOUBLE, TensorProto.BOOL, TensorProto.UINT8])
def test_eye_like(opset, shape, k, dtype):
    attrs = {"k": k}
    if dtype is not None:
        attrs["dtype"] = dtype
    feed = {"x": RNG.standard_normal(shape).astype(np.float32)}
    node = helper.make_node("EyeLike", ["x"], ["y"], **attrs)
    if dtype in (TensorProto.BOOL, TensorProto.UINT8):
        # onnxruntime registers EyeLike for float/double/int32/int64/uint64 only; np.eye is the
        # ONNX reference's own definition.
        model = make_model([node], [("x", TensorProto.FLOAT, list(shape))], [("y", dtype, list(shape))], opset=opset)
        expected = np.eye(*shape, k=k, dtype=helper.tensor_dtype_to_np_dtype(dtype))
        assert_close(run_ei(model, feed)[0], expected)
        return
    run_case([node], feed, opset=opset)


def test_eye_like_extreme_k_and_errors():
    # k far beyond int32: the diagonal misses the matrix, no overflow.
    for k in [2**62, -(2**63)]:
        node = helper.make_node("EyeLike", ["x"], ["y"], k=k)
        model = make_model([node], [("x", TensorProto.FLOAT, [3, 3])], [("y", TensorProto.FLOAT, [3, 3])], opset=22)
        assert (run_ei(model, {"x": np.zeros((3, 3), np.float32)})[0] == 0).all()
    node = helper.make_node("EyeLike", ["x"], ["y"], name="eye1")
    expect_error(ValueError, ["eye1", "'x'", "2-D"], [node], [("x", TensorProto.FLOAT, [3])],
                 {"x": np.zeros(3, np.float32)}, opset=22)
    expect_error(NotImplementedError, ["eye1", "'dtype' = 8"],
                 [helper.make_node("EyeLike", ["x"], ["y"], dtype=TensorProto.STRING, name="eye1")],
                 [("x", TensorProto.FLOAT, [3, 3])], opset=22)


@pytest.mark.parametrize("alpha", [None, 1.7, -0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_swish(alpha, dtype):
    x = np.concatenate([RNG.standard_normal(200) * 5, [0.0, -100.0, 100.0, -1e4]]).astype(dtype)
    attrs = {} if alpha is None else {"alpha": alpha}
    rtol = 1e-6 if dtype == np.float32 else 1e-12  # one exp and one division: a few ulp
    run_case([helper.make_node("Swish", ["x"], ["y"], **attrs)], {"x": x}, opset=24, rtol=rtol, atol=rtol)


def test_swish_errors():
    expect_error(NotImplementedError, ["sw1", "'x'", "int32"],
                 [helper.make_node("Swish", ["x"], ["y"], name="sw1")], [("x", TensorProto.INT32, [3])],
                 {"x": np.zeros(3, np.int32)}, opset=24, out_type=TensorProto.INT32)


# ------------------------------------------------------------ Compress, ReverseSequence, Det

# negative axes exist from opset 11 only
@pytest.mark.parametrize("opset,axis", [(9, None), (9, 0), (9, 1), (11, None), (11, 2), (11, -1)])
@pytest.mark.parametrize("cond", [[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1]])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.bool_])
def test_compress(opset, axis, cond, dtype):
    feed = {"x": RNG.integers(0, 2, (3, 4, 3)).astype(dtype), "c": np.array(cond, np.bool_)}
    attrs = {} if axis is None else {"axis": axis}
    run_case([helper.make_node("Compress", ["x", "c"], ["y"], **attrs)], feed, opset=opset)


def test_compress_constant_condition_static_shape():
    # A constant condition: the output shape is known at reshape and feeds a consumer.
    feed = {"x": RNG.standard_normal((5, 2)).astype(np.float32)}
    nodes = [helper.make_node("Compress", ["x", "c"], ["t"], axis=0), helper.make_node("Neg", ["t"], ["y"])]
    run_case(nodes, feed, inits=[("c", np.array([1, 0, 0, 1, 1], np.bool_))], opset=11)


def test_compress_errors():
    node = helper.make_node("Compress", ["x", "c"], ["y"], axis=0, name="cmp1")
    expect_error(IndexError, ["cmp1", "'c'", "true at 3"], [node],
                 [("x", TensorProto.FLOAT, [3, 2]), ("c", TensorProto.BOOL, [4])],
                 {"x": np.zeros((3, 2), np.float32), "c": np.array([0, 1, 0, 1], np.bool_)}, opset=11)
    expect_error(ValueError, ["cmp1", "'c'", "1-D bool"], [node],
                 [("x", TensorProto.FLOAT, [3, 2]), ("c", TensorProto.INT64, [3])],
                 {"x": np.zeros((3, 2), np.float32), "c": np.zeros(3, np.int64)}, opset=11)
    expect_error(ValueError, ["cmp1", "'axis' = 2"],
                 [helper.make_node("Compress", ["x", "c"], ["y"], axis=2, name="cmp1")],
                 [("x", TensorProto.FLOAT, [3, 2]), ("c", TensorProto.BOOL, [3])],
                 {"x": np.zeros((3, 2), np.float32), "c": np.ones(3, np.bool_)}, opset=11)


@pytest.mark.parametrize("batch_axis,time_axis", [(1, 0), (0, 1)])
@pytest.mark.parametrize("shape_tail", [(), (3,), (2, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float64])
def test_reverse_sequence(batch_axis, time_axis, shape_tail, dtype):
    b, t = 4, 5
    shape = ((t, b) if time_axis == 0 else (b, t)) + shape_tail
    feed = {"x": RNG.integers(-50, 50, shape).astype(dtype), "l": np.array([5, 1, 3, 2], np.int64)}
    node = helper.make_node("ReverseSequence", ["x", "l"], ["y"], batch_axis=batch_axis, time_axis=time_axis)
    run_case([node], feed, opset=10, rtol=0, atol=0)


def test_reverse_sequence_errors():
    node = helper.make_node("ReverseSequence", ["x", "l"], ["y"], name="rs1")
    x = ("x", TensorProto.FLOAT, [3, 2])
    expect_error(IndexError, ["rs1", "'l'", "value 4", "[0, 3]"], [node], [x, ("l", TensorProto.INT64, [2])],
                 {"x": np.zeros((3, 2), np.float32), "l": np.array([1, 4], np.int64)}, opset=10)
    expect_error(ValueError, ["rs1", "'l'", "[batch]"], [node], [x, ("l", TensorProto.INT64, [3])],
                 {"x": np.zeros((3, 2), np.float32), "l": np.array([1, 1, 1], np.int64)}, opset=10)
    expect_error(edgeinfer.InvalidModel, ["rs1", "batch_axis", "time_axis"],
                 [helper.make_node("ReverseSequence", ["x", "l"], ["y"], batch_axis=1, time_axis=1, name="rs1")],
                 [x, ("l", TensorProto.INT64, [2])], opset=10)


@pytest.mark.parametrize("opset", [11, 22])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 2, 1, 1), (5, 6, 6)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_det(opset, shape, dtype):
    # Partial-pivot elimination in double here, onnxruntime's (Eigen) LU in the input type:
    # agreement to a few ulp of the input type times the condition of the matrices.
    x = RNG.standard_normal(shape).astype(dtype)
    if dtype == np.float64:
        # onnxruntime's Det kernel is float-only; np.linalg.det (LAPACK LU, what the ONNX
        # reference calls) is the oracle, agreeing to ~1e-13 for these well-conditioned inputs.
        model = make_model([helper.make_node("Det", ["x"], ["y"])], [("x", TensorProto.DOUBLE, list(shape))],
                           [("y", TensorProto.DOUBLE, list(shape[:-2]))], opset=opset)
        assert_close(run_ei(model, {"x": x})[0], np.linalg.det(x), rtol=1e-10, atol=1e-10)
        return
    run_case([helper.make_node("Det", ["x"], ["y"])], {"x": x}, opset=opset, rtol=1e-4, atol=1e-4)


def test_det_singular_empty_and_threads():
    x = RNG.standard_normal((64, 5, 5)).astype(np.float32)
    x[3, 2] = x[3, 0]  # exactly singular
    y = run_case([helper.make_node("Det", ["x"], ["y"])], {"x": x}, opset=22, rtol=1e-4, atol=1e-4,
                 sess_options=threads(4))[0]
    assert y[3] == 0
    node = helper.make_node("Det", ["x"], ["y"])
    model = make_model([node], [("x", TensorProto.FLOAT, [2, 0, 0])], [("y", TensorProto.FLOAT, [2])], opset=22)
    assert_close(run_ei(model, {"x": np.zeros((2, 0, 0), np.float32)})[0], np.ones(2, np.float32))  # np.linalg.det too


def test_det_errors():
    expect_error(ValueError, ["det1", "'x'", "square"], [helper.make_node("Det", ["x"], ["y"], name="det1")],
                 [("x", TensorProto.FLOAT, [2, 3])], {"x": np.zeros((2, 3), np.float32)}, opset=22)


# ------------------------------------------------------------ AffineGrid

@pytest.mark.parametrize("size", [[2, 3, 4, 5], [1, 1, 1, 3], [2, 1, 3, 4, 2]])
@pytest.mark.parametrize("align", [0, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_grid(size, align, dtype):
    k = len(size) - 2
    theta = RNG.standard_normal((size[0], k, k + 1)).astype(dtype)
    node = helper.make_node("AffineGrid", ["t", "s"], ["y"], align_corners=align)
    rtol = 1e-6 if dtype == np.float32 else 1e-12  # a k+1 term dot product
    if align and 1 in size[2:]:
        # A length-1 dim with align_corners: onnxruntime puts its one step at +1, PyTorch at 0,
        # the ONNX reference at -1; ONNX's definition (the reference) is the oracle.
        model = make_model([node], [("t", _tt(dtype), list(theta.shape))], [("y", _tt(dtype), None)],
                           [("s", np.array(size, np.int64))], opset=20)
        with np.errstate(divide="ignore"):  # the reference's step 2 / (1 - 1)
            expected = ReferenceEvaluator(model).run(None, {"t": theta})[0].astype(dtype)
        assert_close(run_ei(model, {"t": theta})[0], expected, rtol=1e-6, atol=1e-6)
        return
    run_case([node], {"t": theta}, inits=[("s", np.array(size, np.int64))], opset=20, rtol=rtol, atol=rtol)


def test_affine_grid_runtime_size_into_grid_sample():
    # size fed at run time (dynamic node), the grid feeding GridSample: a spatial transformer.
    x = RNG.standard_normal((2, 3, 6, 7)).astype(np.float32)
    theta = np.array([[[0.9, 0.1, 0.05], [-0.1, 1.1, 0.0]], [[1.0, 0.0, 0.3], [0.0, 0.8, -0.2]]], np.float32)
    nodes = [helper.make_node("AffineGrid", ["t", "s"], ["g"]), helper.make_node("GridSample", ["x", "g"], ["y"])]
    run_case(nodes, {"x": x, "t": theta, "s": np.array([2, 3, 5, 4], np.int64)}, opset=20)


def test_affine_grid_errors():
    node = helper.make_node("AffineGrid", ["t", "s"], ["y"], name="ag1")
    t = ("t", TensorProto.FLOAT, [2, 2, 3])
    expect_error(ValueError, ["ag1", "'t'", "[N, 3, 4]"], [node], [t, ("s", TensorProto.INT64, [5])],
                 {"t": np.zeros((2, 2, 3), np.float32), "s": np.array([2, 1, 3, 3, 3], np.int64)}, opset=20)
    expect_error(ValueError, ["ag1", "'s'", "3 values"], [node], [t, ("s", TensorProto.INT64, [3])],
                 {"t": np.zeros((2, 2, 3), np.float32), "s": np.array([2, 1, 3], np.int64)}, opset=20)
    expect_error(ValueError, ["ag1", "'s'", "-3"], [node], [t, ("s", TensorProto.INT64, [4])],
                 {"t": np.zeros((2, 2, 3), np.float32), "s": np.array([2, 1, -3, 3], np.int64)}, opset=20)


# ------------------------------------------------------------ Col2Im

def _col2im_case(image, block, dil=None, pads=None, strides=None, n=2, c=3, dtype=np.float32):
    k = len(image)
    dil_, pads_, str_ = dil or [1] * k, pads or [0] * (2 * k), strides or [1] * k
    nb = [(image[i] + pads_[i] + pads_[i + k] - dil_[i] * (block[i] - 1) - 1) // str_[i] + 1 for i in range(k)]
    x = RNG.standard_normal((n, c * int(np.prod(block)), int(np.prod(nb)))).astype(dtype)
    attrs = {a: v for a, v in (("dilations", dil), ("pads", pads), ("strides", strides)) if v is not None}
    node = helper.make_node("Col2Im", ["x", "i", "b"], ["y"], **attrs)
    inits = [("i", np.array(image, np.int64)), ("b", np.array(block, np.int64))]
    return node, x, inits


@pytest.mark.parametrize("image,block,dil,pads,strides", [
    ([5, 5], [2, 2], None, None, None), ([6, 7], [3, 2], [2, 1], None, None), ([5, 6], [2, 3], None, [1, 0, 2, 1], None),
    ([7, 8], [3, 3], None, None, [2, 3]), ([9, 7], [2, 3], [2, 2], [1, 1, 0, 2], [2, 1]), ([4, 1], [2, 1], None, None, None)])
def test_col2im_2d(image, block, dil, pads, strides):
    node, x, inits = _col2im_case(image, block, dil, pads, strides)
    run_case([node], {"x": x}, inits=inits, opset=18)


@pytest.mark.parametrize("image,block,dil,pads,strides", [
    ([3, 4, 5], [2, 2, 2], None, None, None), ([5, 4, 6], [2, 1, 3], [2, 1, 1], [1, 0, 0, 0, 1, 1], [1, 2, 2]),
    ([7], [3], [2], [1, 1], [2])])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_col2im_nd(image, block, dil, pads, strides, dtype):
    # Sums of at most prod(block) terms: rtol 1e-6 (float32) / 1e-12 (float64).
    # Oracle: the ONNX reference. onnxruntime 1.32 agrees with it (and with edgeinfer) in 2-D
    # and for plain N-D blocks, but for N-D images with pads/strides/dilations it differs from
    # the reference by up to ~6.6 on these cases, and it has no float64 kernel.
    node, x, inits = _col2im_case(image, block, dil, pads, strides, dtype=dtype)
    model = make_model([node], [("x", _tt(dtype), list(x.shape))], [("y", _tt(dtype), None)], inits, opset=18)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert_close(run_ei(model, {"x": x})[0], expected, rtol=tol, atol=tol)


def test_col2im_3d_plain():
    # N-D without pads/strides/dilations: onnxruntime agrees with the reference here (oracle).
    node, x, inits = _col2im_case([3, 4, 5], [2, 2, 2])
    run_case([node], {"x": x}, inits=inits, opset=18, rtol=1e-6, atol=1e-6)


def test_col2im_errors():
    node = helper.make_node("Col2Im", ["x", "i", "b"], ["y"], name="c2i")
    ins = [("x", TensorProto.FLOAT, [1, 4, 10]), ("i", TensorProto.INT64, [2]), ("b", TensorProto.INT64, [2])]
    feed = {"x": np.zeros((1, 4, 10), np.float32), "i": np.array([5, 5], np.int64), "b": np.array([2, 2], np.int64)}
    expect_error(ValueError, ["c2i", "'x'", "[N, C * 4, 16]"], [node], ins, feed, opset=18)
    feed["b"] = np.array([7, 2], np.int64)
    expect_error(ValueError, ["c2i", "does not fit"], [node], ins, feed, opset=18)
    feed["b"] = np.array([0, 2], np.int64)
    expect_error(ValueError, ["c2i", "block 0"], [node], ins, feed, opset=18)
    bad = helper.make_node("Col2Im", ["x", "i", "b"], ["y"], strides=[1], name="c2i")
    feed["b"] = np.array([2, 2], np.int64)
    expect_error(ValueError, ["c2i", "'strides'"], [bad], ins, feed, opset=18)


# ------------------------------------------------------------ Unique

def _unique_feed(shape, dtype):
    return RNG.integers(0, 4, shape).astype(dtype)  # few distinct values: many repeats


@pytest.mark.parametrize("shape,axis", [((12,), None), ((3, 4), None), ((6, 3), 0), ((2, 5, 2), 1), ((4, 3), -1),
                                        ((1,), None), ((0, 3), 0)])
@pytest.mark.parametrize("sorted_", [0, 1])
@pytest.mark.parametrize("n_out", [1, 4])
def test_unique(shape, axis, sorted_, n_out):
    x = _unique_feed(shape, np.float32)
    if axis is not None and len(shape) > 1 and shape[axis] > 0:  # make some slices repeat exactly
        x = np.repeat(np.take(x, [0], axis=axis), shape[axis], axis=axis) if shape[axis] == 1 else x
        x = np.concatenate([x, np.take(x, [0], axis=axis)], axis=axis)
    attrs = {"sorted": sorted_}
    if axis is not None:
        attrs["axis"] = axis
    outs = ["y", "idx", "inv", "cnt"][:n_out]
    run_case([helper.make_node("Unique", ["x"], outs, **attrs)], {"x": x}, outputs=outs, opset=11)


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.float64])
def test_unique_dtypes(dtype):
    x = RNG.integers(0, 5, (4, 6)).astype(dtype)
    for attrs in ({}, {"axis": 1}, {"sorted": 0}, {"axis": 0, "sorted": 0}):
        outs = ["y", "idx", "inv", "cnt"]
        run_case([helper.make_node("Unique", ["x"], outs, **attrs)], {"x": x}, outputs=outs, opset=11, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.uint64])
def test_unique_dtypes_reference(dtype):
    # onnxruntime 1.32 has no Unique kernel for these dtypes; the ONNX reference (np.unique)
    # is the oracle, exact comparison.
    # (The reference's sorted=0 path takes along axis 0 of the unflattened input, so it is
    # right only for axis 0 or 1-D input: those are the sorted=0 cases used.)
    x2 = RNG.integers(0, 5, (4, 6)).astype(dtype)
    for x, attrs in ((x2, {}), (x2, {"axis": 1}), (x2.ravel(), {"sorted": 0}), (x2[:, :2], {"axis": 0, "sorted": 0})):
        node = helper.make_node("Unique", ["x"], ["y", "idx", "inv", "cnt"], **attrs)
        model = make_model([node], [("x", _tt(dtype), list(x.shape))],
                           [(o, t, None) for o, t in [("y", _tt(dtype)), ("idx", 7), ("inv", 7), ("cnt", 7)]],
                           opset=11)
        expected = ReferenceEvaluator(model).run(None, {"x": x})
        actual = run_ei(model, {"x": x})
        for a, e in zip(actual, expected):
            assert_close(a, np.asarray(e), rtol=0, atol=0, what=str(attrs))


def test_unique_feeds_consumer_and_reruns():
    # Output sizes change from run to run; a consumer follows the dynamic node.
    nodes = [helper.make_node("Unique", ["x"], ["u"]), helper.make_node("Neg", ["u"], ["y"])]
    model = make_model(nodes, [("x", TensorProto.FLOAT, ["n"])], [("y", TensorProto.FLOAT, None)], opset=11)
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    for x in [np.array([3, 1, 3, 2], np.float32), np.array([5, 5], np.float32), np.zeros(0, np.float32)]:
        assert_close(sess.run(None, {"x": x})[0], -np.unique(x))


def test_unique_errors():
    expect_error(ValueError, ["un1", "'axis' = 2", "'x'"],
                 [helper.make_node("Unique", ["x"], ["y"], axis=2, name="un1")], [("x", TensorProto.FLOAT, [2, 2])],
                 {"x": np.zeros((2, 2), np.float32)}, opset=11)
    expect_error(NotImplementedError, ["un1", "'x'", "bool"],
                 [helper.make_node("Unique", ["x"], ["y"], name="un1")], [("x", TensorProto.BOOL, [2])],
                 {"x": np.zeros(2, np.bool_)}, opset=11, out_type=TensorProto.BOOL)


# ------------------------------------------------------------ TensorScatter

@pytest.mark.parametrize("mode", ["linear", "circular"])
@pytest.mark.parametrize("shape,upd_len,axis", [((2, 3, 8, 4), 3, -2), ((3, 6, 5), 2, 1), ((2, 2, 5, 3), 5, 2),
                                                ((2, 7), 4, 1)])
@pytest.mark.parametrize("with_indices", [False, True])
def test_tensor_scatter(mode, shape, upd_len, axis, with_indices):
    ax = axis % len(shape)
    ushape = list(shape)
    ushape[ax] = upd_len
    feed = {"p": RNG.standard_normal(shape).astype(np.float32), "u": RNG.standard_normal(ushape).astype(np.float32)}
    ins = ["p", "u"]
    if with_indices:
        hi = shape[ax] - upd_len + 1 if mode == "linear" else 2 * shape[ax]
        feed["w"] = RNG.integers(0, hi, shape[0]).astype(np.int64)
        ins.append("w")
    node = helper.make_node("TensorScatter", ins, ["y"], mode=mode, axis=axis)
    run_case([node], feed, opset=24, rtol=0, atol=0)


def test_tensor_scatter_errors():
    node = helper.make_node("TensorScatter", ["p", "u", "w"], ["y"], name="ts1")
    ins = [("p", TensorProto.FLOAT, [2, 5, 3]), ("u", TensorProto.FLOAT, [2, 2, 3]), ("w", TensorProto.INT64, [2])]
    feed = {"p": np.zeros((2, 5, 3), np.float32), "u": np.ones((2, 2, 3), np.float32), "w": np.array([1, 4], np.int64)}
    expect_error(IndexError, ["ts1", "'w'", "value 4", "batch 1"],
                 [helper.make_node("TensorScatter", ["p", "u", "w"], ["y"], axis=1, name="ts1")], ins, feed, opset=24)
    bad_u = [ins[0], ("u", TensorProto.FLOAT, [2, 2, 4]), ins[2]]
    expect_error(ValueError, ["ts1", "'u'", "[2,2,4]"], [node], bad_u,
                 {"p": feed["p"], "u": np.ones((2, 2, 4), np.float32), "w": np.array([0, 0], np.int64)}, opset=24)
    expect_error(edgeinfer.InvalidModel, ["ts1", "'axis' = 0"],
                 [helper.make_node("TensorScatter", ["p", "u"], ["y"], axis=0, name="ts1")], ins[:2], opset=24)
    expect_error(edgeinfer.InvalidModel, ["ts1", "'mode'", "ring"],
                 [helper.make_node("TensorScatter", ["p", "u"], ["y"], mode="ring", name="ts1")], ins[:2], opset=24)


# ------------------------------------------------------------ DeformConv

def _deform_case(n=2, c=4, h=6, w=7, oc=6, k=(3, 2), group=2, og=2, pads=(1, 0, 1, 1), strides=(1, 2),
                 dil=(1, 2), mask=True, bias=True, scale=1.5):
    oh = (h + pads[0] + pads[2] - (dil[0] * (k[0] - 1) + 1)) // strides[0] + 1
    ow = (w + pads[1] + pads[3] - (dil[1] * (k[1] - 1) + 1)) // strides[1] + 1
    feed = {"x": RNG.standard_normal((n, c, h, w)).astype(np.float32),
            "w": RNG.standard_normal((oc, c // group, *k)).astype(np.float32),
            "off": (scale * RNG.standard_normal((n, og * k[0] * k[1] * 2, oh, ow))).astype(np.float32)}
    ins = ["x", "w", "off"]
    if bias:
        feed["b"] = RNG.standard_normal(oc).astype(np.float32)
    ins.append("b" if bias else "")
    if mask:
        feed["m"] = RNG.uniform(0, 1, (n, og * k[0] * k[1], oh, ow)).astype(np.float32)
        ins.append("m")
    while ins[-1] == "":
        ins.pop()
    node = helper.make_node("DeformConv", ins, ["y"], kernel_shape=list(k), group=group, offset_group=og,
                            pads=list(pads), strides=list(strides), dilations=list(dil))
    return node, feed


@pytest.mark.parametrize("kw", [dict(), dict(mask=False, bias=False), dict(group=1, og=1), dict(group=1, og=4),
                                dict(pads=(0, 0, 0, 0), strides=(1, 1), dil=(1, 1)), dict(scale=6.0),
                                dict(c=2, oc=2, group=2, og=1, k=(1, 1))])
@pytest.mark.parametrize("opset", [19, 22])
def test_deform_conv(kw, opset):
    # Bilinear taps (weights in double here, float in onnxruntime) then a GEMM over
    # icg*kH*kW < 30 terms: rtol/atol 1e-5 of the output scale.
    node, feed = _deform_case(**kw)
    run_case([node], feed, opset=opset, rtol=1e-5, atol=1e-5)


def test_deform_conv_errors():
    node, feed = _deform_case()
    node.name = "dc1"
    ins = [(k, TensorProto.FLOAT, list(v.shape)) for k, v in feed.items()]
    bad = dict(feed)
    bad["off"] = feed["off"][:, :, :-1]
    expect_error(ValueError, ["dc1", "'off'", "offset"], [node],
                 [(k, TensorProto.FLOAT, list(v.shape)) for k, v in bad.items()], bad, opset=22)
    bad = dict(feed)
    bad["w"] = feed["w"][:, :1]
    expect_error(ValueError, ["dc1", "'w'", "group 2"], [node],
                 [(k, TensorProto.FLOAT, list(v.shape)) for k, v in bad.items()], bad, opset=22)
    x1d = helper.make_node("DeformConv", ["x", "w", "off"], ["y"], kernel_shape=[3], name="dc1")
    expect_error(NotImplementedError, ["dc1", "kernel_shape", "2-D"], [x1d], ins[:3], opset=22)
