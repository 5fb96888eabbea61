"""Quantized-model interop ops (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv) against onnxruntime.

Tolerances: integer outputs (quantized tensors, int32 accumulators) must match exactly:
both engines round half to even and saturate, and accumulate in int32. The one place
where float rounding order could in principle move a quantized value by one step is the
requantization of QLinear* outputs (acc * (a_scale * w_scale / y_scale)); we compute the
multiplier in the same order as onnxruntime, so these are compared exactly too.
DequantizeLinear and the scale output of DynamicQuantizeLinear are float32 results of one
multiplication/division and are compared to 1e-6 relative.
"""
import pytest

from ortcheck import TensorProto, assert_close, check_model, helper, make_model, np, run_ei

import edgeinfer

F, U8, I8, I32 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32
NP = {U8: np.uint8, I8: np.int8, I32: np.int32, F: np.float32}


def out(name, rank, elem):
    return helper.make_tensor_value_info(name, elem, [None] * rank)


def qrand(rng, shape, t):
    info = np.iinfo(NP[t])
    return rng.integers(info.min, info.max + 1, size=shape).astype(NP[t])


def check_reference(model, feed):
    """Compares with onnx.reference.ReferenceEvaluator, for cases onnxruntime has no kernel for."""
    from onnx.reference import ReferenceEvaluator
    expected = ReferenceEvaluator(model).run(None, feed)
    actual = run_ei(model, feed)
    for a, e in zip(actual, expected):
        assert_close(a, e, rtol=0, atol=0)


def expect_error(exc, fragment, model, feed):
    with pytest.raises(exc) as info:
        run_ei(model, feed)
    assert fragment in str(info.value), str(info.value)


# ------------------------------------------------------------------ QuantizeLinear

@pytest.mark.parametrize("opset", [10, 13, 19, 21, 23, 25])
@pytest.mark.parametrize("qt", [U8, I8])
@pytest.mark.parametrize("with_zp", [True, False])
def test_quantize_per_tensor(rng, opset, qt, with_zp):
    x = (rng.standard_normal([2, 3, 5]) * 4).astype(np.float32)
    # exact .5 ties in units of the scale exercise round-half-to-even, large values saturate
    x.flat[:6] = np.array([0.25, 0.75, -0.25, -1.25, 1000.0, -1000.0], np.float32)
    inits = [("s", np.array(0.5, np.float32))]
    ins = ["x", "s"]
    if with_zp:
        inits.append(("z", np.array(3 if qt == U8 else -2, NP[qt])))
        ins.append("z")
    node = helper.make_node("QuantizeLinear", ins, ["y"], name="q")
    m = make_model([node], [("x", F, x.shape)], [out("y", 3, qt if with_zp else U8)], inits, opset=opset)
    check_model(m, {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("qt", [U8, I8])
def test_quantize_per_axis(rng, axis, qt):
    x = (rng.standard_normal([3, 4, 5]) * 10).astype(np.float32)
    c = x.shape[axis]
    s = rng.uniform(0.05, 0.3, size=[c]).astype(np.float32)
    z = qrand(rng, [c], qt) // 4
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], name="q", axis=axis)
    m = make_model([node], [("x", F, x.shape)], [out("y", 3, qt)], [("s", s), ("z", z)], opset=13)
    check_model(m, {"x": x}, rtol=0, atol=0)


def test_quantize_blocked(rng):
    x = (rng.standard_normal([4, 6]) * 3).astype(np.float32)
    s = rng.uniform(0.05, 0.3, size=[4, 3]).astype(np.float32)
    z = rng.integers(-5, 5, size=[4, 3]).astype(np.int8)
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], name="q", axis=1, block_size=2)
    m = make_model([node], [("x", F, x.shape)], [out("y", 2, I8)], [("s", s), ("z", z)], opset=21)
    check_model(m, {"x": x}, rtol=0, atol=0)


def test_quantize_output_dtype_attr(rng):
    x = (rng.standard_normal([7]) * 3).astype(np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="q", output_dtype=I8)
    m = make_model([node], [("x", F, x.shape)], [out("y", 1, I8)], [("s", np.array(0.1, np.float32))],
                   opset=21)
    check_model(m, {"x": x}, rtol=0, atol=0)


def test_quantize_threads(rng):
    x = (rng.standard_normal([64, 1000]) * 3).astype(np.float32)
    s = rng.uniform(0.01, 0.1, size=[64]).astype(np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="q", axis=0)
    m = make_model([node], [("x", F, x.shape)], [out("y", 2, U8)], [("s", s)], opset=13)
    check_model(m, {"x": x}, rtol=0, atol=0, num_threads=4)


# ---------------------------------------------------------------- DequantizeLinear

@pytest.mark.parametrize("opset", [10, 13, 19, 21, 23, 25])
@pytest.mark.parametrize("qt", [U8, I8, I32])
def test_dequantize_per_tensor(rng, opset, qt):
    x = qrand(rng, [3, 4], qt) if qt != I32 else rng.integers(-100000, 100000, [3, 4]).astype(np.int32)
    inits = [("s", np.array(0.37, np.float32))]
    ins = ["x", "s"]
    if qt != I32:
        inits.append(("z", np.array(7, NP[qt])))
        ins.append("z")
    node = helper.make_node("DequantizeLinear", ins, ["y"], name="dq")
    m = make_model([node], [("x", qt, x.shape)], [out("y", 2, F)], inits, opset=opset)
    check_model(m, {"x": x}, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("axis", [0, 2, -2])
def test_dequantize_per_axis(rng, axis):
    x = qrand(rng, [2, 3, 4], I8)
    c = x.shape[axis]
    s = rng.uniform(0.05, 0.3, size=[c]).astype(np.float32)
    z = rng.integers(-10, 10, size=[c]).astype(np.int8)
    node = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], name="dq", axis=axis)
    m = make_model([node], [("x", I8, x.shape)], [out("y", 3, F)], [("s", s), ("z", z)], opset=13)
    check_model(m, {"x": x}, rtol=1e-6, atol=1e-7)


def test_dequantize_blocked(rng):
    x = qrand(rng, [6, 4], U8)
    s = rng.uniform(0.05, 0.3, size=[2, 4]).astype(np.float32)
    z = qrand(rng, [2, 4], U8)
    node = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], name="dq", axis=0, block_size=3)
    m = make_model([node], [("x", U8, x.shape)], [out("y", 2, F)], [("s", s), ("z", z)], opset=21)
    check_model(m, {"x": x}, rtol=1e-6, atol=1e-7)


def test_quant_errors(rng):
    x = np.zeros([2, 3], np.float32)
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="qbad", axis=1)
    m = make_model([node], [("x", F, x.shape)], [out("y", 2, U8)], [("s", np.ones([4], np.float32))], opset=13)
    expect_error(edgeinfer.InvalidModel, "qbad", m, {"x": x})
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="qaxis", axis=5)
    m = make_model([node], [("x", F, x.shape)], [out("y", 2, U8)], [("s", np.ones([3], np.float32))], opset=13)
    expect_error(edgeinfer.InvalidModel, "'axis' = 5", m, {"x": x})
    # an output_dtype that is no quantized type (float8e8m0: only Cast handles it)
    nodes = [helper.make_node("QuantizeLinear", ["x", "s"], ["q"], name="q8", output_dtype=24),
             helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq8")]
    m = make_model(nodes, [("x", F, x.shape)], [out("y", 2, F)], [("s", np.array(1, np.float32))], opset=21)
    expect_error(edgeinfer.Unsupported, "node 'q8' (QuantizeLinear): attribute 'output_dtype' = 24 (float8e8m0)",
                 m, {"x": x})
    # arithmetic in another precision than float32
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], name="qp", precision=TensorProto.FLOAT16)
    m = make_model([node], [("x", F, x.shape)], [out("y", 2, U8)], [("s", np.array(1, np.float32))], opset=23)
    expect_error(edgeinfer.Unsupported, "node 'qp' (QuantizeLinear): attribute 'precision' = 10", m, {"x": x})
    # per-axis scale in opset 10
    node = helper.make_node("DequantizeLinear", ["x", "s"], ["y"], name="dq10")
    m = make_model([node], [("x", U8, x.shape)], [out("y", 2, F)], [("s", np.ones([3], np.float32))], opset=10)
    expect_error(edgeinfer.InvalidModel, "dq10", m, {"x": x.astype(np.uint8)})


# ----------------------------------------------------------- DynamicQuantizeLinear

@pytest.mark.parametrize("case", ["mixed", "positive", "negative", "zeros"])
def test_dynamic_quantize(rng, case):
    x = (rng.standard_normal([3, 17]) * 5).astype(np.float32)
    if case == "positive":
        x = np.abs(x) + 1
    elif case == "negative":
        x = -np.abs(x) - 1
    elif case == "zeros":
        x = np.zeros_like(x)
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "ys", "yz"], name="dq")
    m = make_model([node], [("x", F, x.shape)],
                   [out("y", 2, U8), out("ys", 0, F), out("yz", 0, U8)], opset=11)
    check_model(m, {"x": x}, rtol=1e-6, atol=0)


# ------------------------------------------------------------------ MatMulInteger

MM_SHAPES = [([3, 5], [5, 4]), ([2, 3, 5], [5, 4]), ([2, 1, 3, 5], [3, 5, 2]), ([5], [5, 3]),
             ([4, 5], [5]), ([1, 2, 7], [2, 7, 1])]


@pytest.mark.parametrize("sa,sb", MM_SHAPES)
@pytest.mark.parametrize("at,bt", [(U8, U8), (U8, I8), (I8, I8)])
def test_matmul_integer(rng, sa, sb, at, bt):
    a, b = qrand(rng, sa, at), qrand(rng, sb, bt)
    feed = {"a": a, "b": b}
    node = helper.make_node("MatMulInteger", ["a", "b", "az", "bz"], ["y"], name="mmi")
    inits = [("az", np.array(3, NP[at])), ("bz", np.array(-2 if bt == I8 else 5, NP[bt]))]
    rank = len(np.matmul(np.zeros(sa), np.zeros(sb)).shape)
    m = make_model([node], [("a", at, sa), ("b", bt, sb)], [out("y", rank, I32)], inits, opset=10)
    check_model(m, feed, rtol=0, atol=0)


def test_matmul_integer_no_zp_and_per_column(rng):
    a, b = qrand(rng, [6, 40], U8), qrand(rng, [40, 5], U8)
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmi")
    m = make_model([node], [("a", U8, a.shape), ("b", U8, b.shape)], [out("y", 2, I32)], opset=10)
    check_model(m, {"a": a, "b": b}, rtol=0, atol=0)
    bz = qrand(rng, [5], U8)
    node = helper.make_node("MatMulInteger", ["a", "b", "", "bz"], ["y"], name="mmi")
    m = make_model([node], [("a", U8, a.shape), ("b", U8, b.shape)], [out("y", 2, I32)], [("bz", bz)], opset=10)
    check_model(m, {"a": a, "b": b}, rtol=0, atol=0)


def test_matmul_integer_per_row_a_zero_point(rng):
    # per-row a_zero_point ([M], the spec's "one per row of A") is valid ONNX that onnxruntime
    # rejects and ONNX's reference mis-broadcasts (against A's last dim): exact NumPy instead
    a, b, az = qrand(rng, [2, 4, 6], U8), qrand(rng, [6, 3], U8), qrand(rng, [4], U8)
    node = helper.make_node("MatMulInteger", ["a", "b", "az"], ["y"], name="mmi")
    m = make_model([node], [("a", U8, a.shape), ("b", U8, b.shape)], [out("y", 3, I32)], [("az", az)], opset=10)
    expected = ((a.astype(np.int64) - az[:, None]) @ b.astype(np.int64)).astype(np.int32)
    assert_close(run_ei(m, {"a": a, "b": b})[0], expected, rtol=0, atol=0)


def test_matmul_integer_threads(rng):
    a, b = qrand(rng, [64, 96], U8), qrand(rng, [96, 80], I8)
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmi")
    m = make_model([node], [("a", U8, a.shape), ("b", I8, b.shape)], [out("y", 2, I32)], opset=10)
    check_model(m, {"a": a, "b": b}, rtol=0, atol=0, num_threads=4)


def test_matmul_integer_errors(rng):
    a, b = qrand(rng, [3, 4], U8), qrand(rng, [5, 2], U8)
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"], name="mmibad")
    m = make_model([node], [("a", U8, a.shape), ("b", U8, b.shape)], [out("y", 2, I32)], opset=10)
    expect_error(edgeinfer.InvalidArgument, "mmibad", m, {"a": a, "b": b})


# ------------------------------------------------------------------ QLinearMatMul

@pytest.mark.parametrize("sa,sb", MM_SHAPES[:4])
@pytest.mark.parametrize("at,bt,yt", [(U8, U8, U8), (U8, I8, I8), (I8, I8, I8), (I8, U8, U8)])
@pytest.mark.parametrize("opset", [10, 21])
def test_qlinear_matmul(rng, sa, sb, at, bt, yt, opset):
    a, b = qrand(rng, sa, at), qrand(rng, sb, bt)
    k = sa[-1]
    inits = [("as", np.array(0.02, np.float32)), ("az", np.array(10, NP[at])),
             ("bs", np.array(0.03, np.float32)), ("bz", np.array(-3 if bt == I8 else 120, NP[bt])),
             # y's scale spreads the accumulator over the output range
             ("ys", np.array(0.02 * 0.03 * 60 * np.sqrt(k), np.float32)), ("yz", np.array(5, NP[yt]))]
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"], name="qmm")
    rank = len(np.matmul(np.zeros(sa), np.zeros(sb)).shape)
    m = make_model([node], [("a", at, sa), ("b", bt, sb)], [out("y", rank, yt)], inits, opset=opset)
    if yt == at:
        check_model(m, {"a": a, "b": b}, rtol=0, atol=0)
    else:
        # onnxruntime has no kernel with y's type different from a's: ONNX's reference instead
        check_reference(m, {"a": a, "b": b})


def test_qlinear_matmul_per_column(rng):
    a, b = qrand(rng, [5, 16], U8), qrand(rng, [16, 6], I8)
    bs = rng.uniform(0.01, 0.05, size=[6]).astype(np.float32)
    bz = np.zeros([6], np.int8)
    inits = [("as", np.array(0.02, np.float32)), ("az", np.array(128, np.uint8)), ("bs", bs), ("bz", bz),
             ("ys", np.array(0.1, np.float32)), ("yz", np.array(128, np.uint8))]
    node = helper.make_node("QLinearMatMul", ["a", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"], name="qmm")
    m = make_model([node], [("a", U8, a.shape), ("b", I8, b.shape)], [out("y", 2, U8)], inits, opset=10)
    check_model(m, {"a": a, "b": b}, rtol=0, atol=0)


# ------------------------------------------------------- ConvInteger and QLinearConv

CONV_CASES = [
    # (x shape, w shape, attrs)
    ([1, 3, 7, 7], [4, 3, 3, 3], {}),
    ([2, 3, 8, 9], [5, 3, 3, 3], dict(pads=[1, 1, 1, 1], strides=[2, 2])),
    ([1, 2, 9, 9], [3, 2, 3, 3], dict(dilations=[2, 2], pads=[2, 1, 0, 2])),
    ([1, 4, 6, 6], [6, 2, 3, 3], dict(group=2, pads=[1, 1, 1, 1])),
    ([1, 4, 6, 6], [4, 1, 3, 3], dict(group=4, auto_pad="SAME_UPPER")),
    ([2, 3, 10], [4, 3, 3], dict(strides=[2])),                     # 1-D
    ([1, 2, 4, 5, 5], [3, 2, 2, 3, 3], dict(pads=[0, 1, 1, 1, 1, 0])),  # 3-D
    ([1, 8, 5, 5], [16, 8, 1, 1], {}),
]


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
@pytest.mark.parametrize("xt,wt", [(U8, U8), (U8, I8), (I8, I8)])
def test_conv_integer(rng, xs, ws, attrs, xt, wt):
    x, w = qrand(rng, xs, xt), qrand(rng, ws, wt)
    node = helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], name="convi", **attrs)
    inits = [("w", w), ("xz", np.array(12, NP[xt])), ("wz", np.array(3, NP[wt]))]
    m = make_model([node], [("x", xt, xs)], [out("y", len(xs), I32)], inits, opset=10)
    if (xt, wt) == (I8, I8):
        # onnxruntime's ConvInteger has no int8 x int8 kernel: ONNX's reference instead
        check_reference(m, {"x": x})
    else:
        check_model(m, {"x": x}, rtol=0, atol=0, num_threads=2)


def test_conv_integer_no_zero_points(rng):
    x, w = qrand(rng, [1, 3, 6, 6], U8), qrand(rng, [2, 3, 3, 3], U8)
    node = helper.make_node("ConvInteger", ["x", "w"], ["y"], name="convi", pads=[1, 1, 1, 1])
    m = make_model([node], [("x", U8, x.shape)], [out("y", 4, I32)], [("w", w)], opset=10)
    check_model(m, {"x": x}, rtol=0, atol=0)


@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
@pytest.mark.parametrize("xt,wt", [(U8, U8), (U8, I8), (I8, I8)])
@pytest.mark.parametrize("per_channel", [False, True])
def test_qlinear_conv(rng, xs, ws, attrs, xt, wt, per_channel):
    x, w = qrand(rng, xs, xt), qrand(rng, ws, wt)
    m_out = ws[0]
    k = int(np.prod(ws[1:]))
    ws_ = (rng.uniform(0.002, 0.01, size=[m_out]) if per_channel else np.array(0.005)).astype(np.float32)
    # onnxruntime wants symmetric (zero) int8 weight zero points when per channel
    wz = np.zeros([m_out] if per_channel else [], NP[wt]) if wt == I8 else \
        (np.full([m_out] if per_channel else [], 128, np.uint8))
    inits = [("xs", np.array(0.02, np.float32)), ("xz", np.array(5, NP[xt])), ("w", w), ("ws", ws_), ("wz", wz),
             ("ys", np.array(0.02 * 0.005 * 80 * np.sqrt(k), np.float32)), ("yz", np.array(3, NP[xt])),
             ("b", rng.integers(-2000, 2000, size=[m_out]).astype(np.int32))]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"], ["y"],
                            name="qconv", **attrs)
    m = make_model([node], [("x", xt, xs)], [out("y", len(xs), xt)], inits, opset=10)
    check_model(m, {"x": x}, rtol=0, atol=0, num_threads=2)


def test_qlinear_conv_errors(rng):
    x, w = qrand(rng, [1, 3, 6, 6], U8), qrand(rng, [2, 3, 3, 3], U8)
    inits = [("xs", np.array(0.02, np.float32)), ("xz", np.array(5, np.uint8)), ("w", w),
             ("ws", np.ones([3], np.float32)), ("wz", np.array(0, np.uint8)),
             ("ys", np.array(0.1, np.float32)), ("yz", np.array(3, np.uint8))]
    node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], name="qcbad")
    m = make_model([node], [("x", U8, x.shape)], [out("y", 4, U8)], inits, opset=10)
    expect_error(edgeinfer.Unsupported, "node 'qcbad' (QLinearConv): input w_scale 'ws'", m, {"x": x})
    node = helper.make_node("ConvInteger", ["x", "w"], ["y"], name="cibad", group=2)
    m = make_model([node], [("x", U8, x.shape)], [out("y", 4, I32)], [("w", w)], opset=10)
    expect_error(edgeinfer.InvalidArgument, "group=2", m, {"x": x})
