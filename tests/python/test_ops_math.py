"""Elementwise math, activations, comparisons, logic, Where, Cast/CastLike, Min/Max/Mean/Sum,
Pow/Mod/BitShift and IsNaN/IsInf against onnxruntime.

Tolerances: ops that are exact in IEEE arithmetic (Abs, Neg, Sign, Floor, Ceil, Round,
Reciprocal, Sqrt, comparisons, logic, Where, Cast, Min/Max, integer ops) must match bit for
bit: they are compared with rtol=atol=0. Transcendental libm functions (exp, log, sin, erf,
...) differ between libm and onnxruntime's Eigen/MLAS approximations by a few ulp: rtol 1e-5
with atol 1e-6 (scaled by max(1, max|expected|) in ortcheck.assert_close). float64 runs use
libm on both sides at double precision: rtol 1e-12.
"""
import numpy as np
import onnx
import pytest

import edgeinfer
from ortcheck import DEFAULT_OPSET, TensorProto, helper, make_model, run_ort

RNG = np.random.default_rng(4321)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def assert_same(actual, expected, rtol=0.0, atol=0.0, what=""):
    """dtype and shape equal; non-finite values (inf, NaN) identical; finite values within
    |a - e| <= atol * max(1, max finite |e|) + rtol * |e| (bit-exact when both are 0). Unlike
    ortcheck.assert_close, infinities in expected do not turn the tolerance into NaN."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind != "f" or (rtol == 0 and atol == 0):
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    fin = np.isfinite(expected)
    np.testing.assert_array_equal(actual[~fin], expected[~fin], err_msg=what)
    scale = max(1.0, float(np.abs(expected[fin]).max())) if fin.any() else 1.0
    np.testing.assert_allclose(actual[fin], expected[fin], rtol=rtol, atol=atol * scale, err_msg=what)


def oracle(model, feed):
    """onnxruntime's outputs; where onnxruntime has no CPU kernel for the dtype (Where on
    bool/int16, Max/Min on 16-bit integers, ...), onnx.reference.ReferenceEvaluator's."""
    try:
        return run_ort(model, feed)
    except Exception as e:
        if "NOT_IMPLEMENTED" not in str(e):
            raise
    from onnx.reference import ReferenceEvaluator
    return [np.asarray(o) for o in ReferenceEvaluator(model).run(None, feed)]


def run_case(nodes, feed, outputs=("y",), inits=(), opset=DEFAULT_OPSET, rtol=0.0, atol=0.0, **kw):
    """Builds a model whose input shapes are those of feed (output types from onnxruntime's
    answer on a probe model), runs it on both engines and compares with assert_same."""
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in feed.items()]
    probe = make_model(nodes, inputs, [onnx.ValueInfoProto(name=o) for o in outputs], inits, opset)
    expected = oracle(probe, feed)
    outs = [(o, _tt(e.dtype), list(e.shape)) for o, e in zip(outputs, expected)]
    model = make_model(nodes, inputs, outs, inits, opset)
    onnx.checker.check_model(model)
    actual = edgeinfer.InferenceSession(model.SerializeToString(), **kw).run(None, feed)
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_same(a, e, rtol, atol, what=f"output {i}")
    return actual


def run_ei_only(nodes, feed, out_type, outputs=("y",), inits=(), opset=DEFAULT_OPSET):
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in feed.items()]
    model = make_model(nodes, inputs, [helper.make_tensor_value_info(o, out_type, None) for o in outputs],
                       inits, opset)
    return edgeinfer.InferenceSession(model.SerializeToString()).run(None, feed)


def expect_error(exc, fragments, nodes, inputs, feed=None, outputs=("y",), inits=(), opset=DEFAULT_OPSET,
                 out_type=TensorProto.FLOAT):
    """Creating (and, with feed, running) the model must raise exc with every fragment."""
    model = make_model(nodes, inputs, [helper.make_tensor_value_info(o, out_type, None) for o in outputs],
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
    if np.dtype(dtype) == np.bool_:
        return np.asarray(RNG.integers(0, 2, size=shape).astype(bool))
    return np.asarray(RNG.integers(int(lo), int(hi) + 1, size=shape).astype(dtype))


INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]
NUM_DTYPES = [np.float32, np.float64] + INT_DTYPES

# ------------------------------------------------------------------ unary math

# op -> (lo, hi) of a valid input domain, and whether it is exact in IEEE arithmetic
UNARY = {
    "Abs": (-5, 5, True), "Neg": (-5, 5, True), "Sign": (-2, 2, True), "Floor": (-5, 5, True),
    "Ceil": (-5, 5, True), "Sqrt": (0, 9, True), "Reciprocal": (0.5, 4, True),
    "Exp": (-10, 10, False), "Log": (0.01, 100, False), "Erf": (-3, 3, False),
    "Sin": (-6, 6, False), "Cos": (-6, 6, False), "Tan": (-1.4, 1.4, False), "Asin": (-1, 1, False),
    "Acos": (-1, 1, False), "Atan": (-10, 10, False), "Sinh": (-5, 5, False), "Cosh": (-5, 5, False),
    "Asinh": (-10, 10, False), "Acosh": (1, 10, False), "Atanh": (-0.99, 0.99, False),
}


@pytest.mark.parametrize("op", sorted(UNARY))
@pytest.mark.parametrize("shape", [[], [7], [2, 3, 5], [0, 3], [20001]])
def test_unary_float32(op, shape):
    lo, hi, exact = UNARY[op]
    x = rand(shape, lo=lo, hi=hi)
    tol = {} if exact else {"rtol": 1e-5, "atol": 1e-6}
    run_case([helper.make_node(op, ["x"], ["y"])], {"x": x}, sess_options=threads(2), **tol)


NP_UNARY = {
    "Abs": np.abs, "Neg": np.negative, "Sign": np.sign, "Floor": np.floor, "Ceil": np.ceil, "Sqrt": np.sqrt,
    "Reciprocal": np.reciprocal, "Exp": np.exp, "Log": np.log, "Erf": np.vectorize(__import__("math").erf),
    "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Asin": np.arcsin, "Acos": np.arccos, "Atan": np.arctan,
    "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh, "Acosh": np.arccosh, "Atanh": np.arctanh,
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_float64(op):
    """float64: onnxruntime has double kernels for only some of these ops, and
    onnx.reference computes Erf in float32, so the oracle is NumPy (math.erf for Erf) at
    double precision; where onnxruntime has the kernel it is checked as well."""
    lo, hi, exact = UNARY[op]
    x = rand([3, 4], np.float64, lo, hi)
    x[0, 0] = 0.0 if op == "Sign" else x[0, 0]
    m = make_model([helper.make_node(op, ["x"], ["y"])], [("x", TensorProto.DOUBLE, [3, 4])],
                   [("y", TensorProto.DOUBLE, [3, 4])])
    got = edgeinfer.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, NP_UNARY[op](x).astype(np.float64), rtol=0 if exact else 1e-12, atol=0)
    try:
        expected = run_ort(m, {"x": x})[0]
    except Exception as e:
        assert "NOT_IMPLEMENTED" in str(e) or "Could not find an implementation" in str(e), e
        return
    np.testing.assert_allclose(got, expected, rtol=0 if exact else 1e-12, atol=0)


@pytest.mark.parametrize("opset", [6, 13])
@pytest.mark.parametrize("op", ["Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil"])
def test_unary_opsets(op, opset):
    lo, hi, exact = UNARY[op]
    run_case([helper.make_node(op, ["x"], ["y"])], {"x": rand([4, 5], lo=lo, hi=hi)}, opset=opset,
             **({} if exact else {"rtol": 1e-5, "atol": 1e-6}))


def test_round_half_to_even():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 2.4999, -0.0, 1e8 + 0.5, np.inf, -np.inf, np.nan],
                 np.float32)
    out = run_case([helper.make_node("Round", ["x"], ["y"])], {"x": x})
    np.testing.assert_array_equal(out[0][:7], [-2, -2, -0, 0, 2, 2, 4])


def test_unary_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 3e38], np.float32)
    for op in ["Abs", "Neg", "Sign", "Floor", "Ceil", "Sqrt", "Reciprocal", "Exp", "Log"]:
        with np.errstate(all="ignore"):
            run_case([helper.make_node(op, ["x"], ["y"])], {"x": x}, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op,dtype", [(op, t) for op in ["Abs", "Neg", "Sign"] for t in INT_DTYPES
                                      if op != "Neg" or np.dtype(t).kind == "i"])  # Neg: signed only
def test_unary_integers(op, dtype):
    info = np.iinfo(dtype)
    x = rand([17], dtype, max(info.min, -100), min(info.max, 100))
    x[0] = 0
    if op != "Neg":  # onnxruntime's Neg of MIN is undefined C++; ours wraps (tested below)
        x[1] = info.min
        x[2] = info.max
    run_case([helper.make_node(op, ["x"], ["y"])], {"x": x})


def test_neg_abs_min_wraps():
    x = np.array([np.iinfo(np.int32).min, -5, 5], np.int32)
    y = run_ei_only([helper.make_node("Neg", ["x"], ["y"])], {"x": x}, TensorProto.INT32)[0]
    np.testing.assert_array_equal(y, [np.iinfo(np.int32).min, 5, -5])


def test_neg_unsigned_rejected():
    expect_error(edgeinfer.Unsupported, ["node 'n' (Neg)", "uint8"], [helper.make_node("Neg", ["x"], ["y"], name="n")],
                 [("x", TensorProto.UINT8, [2])], feed={"x": np.array([1, 2], np.uint8)})


def test_not():
    x = rand([3, 7], np.bool_)
    run_case([helper.make_node("Not", ["x"], ["y"])], {"x": x})


def test_unary_unsupported_dtype():
    expect_error(edgeinfer.Unsupported, ["node 'e' (Exp)", "int32", "float32 and float64"],
                 [helper.make_node("Exp", ["x"], ["y"], name="e")],
                 [("x", TensorProto.INT32, [2])], feed={"x": np.array([1, 2], np.int32)})


# ----------------------------------------------------------------- activations

# (op, attrs, opset)
ACTS = [
    ("HardSigmoid", {}, 17), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, 6), ("HardSwish", {}, 14),
    ("LeakyRelu", {}, 16), ("LeakyRelu", {"alpha": 0.2}, 6), ("Elu", {}, 17), ("Elu", {"alpha": 0.5}, 6),
    ("Selu", {}, 17), ("Selu", {"alpha": 2.0, "gamma": 3.0}, 6), ("Celu", {}, 12), ("Celu", {"alpha": 2.0}, 12),
    ("Softplus", {}, 17), ("Softsign", {}, 17), ("Mish", {}, 18), ("Gelu", {}, 20),
    ("Gelu", {"approximate": "tanh"}, 20), ("ThresholdedRelu", {}, 10), ("ThresholdedRelu", {"alpha": 0.5}, 17),
    ("Shrink", {}, 9), ("Shrink", {"bias": 1.5, "lambd": 1.0}, 17),
]


@pytest.mark.parametrize("op,attrs,opset", ACTS)
@pytest.mark.parametrize("shape", [[], [2, 3, 5], [0, 2], [20001]])
def test_activation_float32(op, attrs, opset, shape):
    x = rand(shape, lo=-6, hi=6)
    # exp/tanh/erf-based: onnxruntime's vectorized approximations differ by a few ulp
    run_case([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": x}, opset=opset, rtol=1e-5, atol=1e-6,
             sess_options=threads(2))


@pytest.mark.parametrize("op,attrs,opset", [a for a in ACTS if a[0] != "Celu"])  # Celu: float32-only in ONNX
def test_activation_float64(op, attrs, opset):
    x = rand([4, 5], np.float64, -6, 6)
    m = make_model([helper.make_node(op, ["x"], ["y"], **attrs)], [("x", TensorProto.DOUBLE, [4, 5])],
                   [("y", TensorProto.DOUBLE, [4, 5])], opset=opset)
    got = edgeinfer.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]
    try:
        expected = run_ort(m, {"x": x})[0]
    except Exception as e:  # no double kernel in onnxruntime: onnx.reference (NumPy) is the oracle
        assert "NOT_IMPLEMENTED" in str(e) or "Could not find an implementation" in str(e), e
        from onnx.reference import ReferenceEvaluator
        expected = ReferenceEvaluator(m).run(None, {"x": x})[0]
    # attributes are float32 in ONNX; engines widen them to double differently (1e-7 relative)
    assert_same(got, expected, rtol=1e-6, atol=1e-7)


def test_activation_extremes():
    x = np.array([-1e30, -100, -20, -1e-30, 0, 1e-30, 20, 100, 1e30, np.inf, -np.inf], np.float32)
    for op, attrs, opset in ACTS:
        if op in ("Mish", "Gelu") and attrs.get("approximate") == "tanh":
            continue  # tanh-Gelu computes x^3, which overflows to inf*0 differently at 1e30 (NaN vs 0)
        run_case([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": x}, opset=opset, rtol=1e-5, atol=1e-6)


def test_gelu_bad_approximate():
    expect_error(edgeinfer.InvalidModel, ["node 'g' (Gelu)", "approximate", "'fast'"],
                 [helper.make_node("Gelu", ["x"], ["y"], name="g", approximate="fast")],
                 [("x", TensorProto.FLOAT, [2])], opset=20)


@pytest.mark.parametrize("xs,ss", [([2, 3, 4], [4]), ([2, 3, 4], [3, 1]), ([2, 3, 4], []), ([2, 3, 4], [2, 3, 4]),
                                   ([1, 3, 2, 2], [3, 1, 1]), ([5], [1])])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prelu(xs, ss, dtype):
    run_case([helper.make_node("PRelu", ["x", "s"], ["y"])], {"x": rand(xs, dtype), "s": rand(ss, dtype)})


@pytest.mark.parametrize("opset", [7, 9, 16])
def test_prelu_opsets(opset):
    run_case([helper.make_node("PRelu", ["x", "s"], ["y"])], {"x": rand([2, 3]), "s": rand([3])}, opset=opset)


def test_prelu_slope_not_unidirectional():
    expect_error(edgeinfer.InvalidArgument, ["node 'p' (PRelu)", "'s' (slope) [2,3]", "cannot be broadcast to input 'x' [3]"],
                 [helper.make_node("PRelu", ["x", "s"], ["y"], name="p")],
                 [("x", TensorProto.FLOAT, ["n"]), ("s", TensorProto.FLOAT, ["a", "b"])],
                 feed={"x": rand([3]), "s": rand([2, 3])})


# ----------------------------------------------------- comparisons, logic

CMP_SHAPES = [([2, 3], [2, 3]), ([2, 3], [3]), ([], [4]), ([3, 1], [1, 4]), ([0, 2], [2])]


@pytest.mark.parametrize("op", ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", NUM_DTYPES)
@pytest.mark.parametrize("sa,sb", CMP_SHAPES)
def test_compare(op, dtype, sa, sb):
    lo = 0 if np.dtype(dtype).kind == "u" else -3
    a, b = rand(sa, dtype, lo, 3), rand(sb, dtype, lo, 3)
    if np.dtype(dtype).kind == "f":  # exact ties and NaN
        a, b = np.asarray(np.round(a)), np.asarray(np.round(b))
        if a.size:
            a.flat[0] = np.nan
    run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b})


def test_compare_extremes_int64():
    a = np.array([2**63 - 1, -2**63, 2**53 + 1, 0], np.int64)
    b = np.array([2**63 - 2, -2**63 + 1, 2**53, 0], np.int64)
    for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]:
        run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b})


@pytest.mark.parametrize("op,opsets", [("Equal", [7, 11, 13, 19]), ("Less", [7, 9, 13]), ("Greater", [7, 9, 13]),
                                       ("LessOrEqual", [12, 16]), ("GreaterOrEqual", [12, 16])])
def test_compare_opsets(op, opsets):
    dtype = np.int64 if op == "Equal" else np.float32  # Equal-7 has no float; Less-7 only float
    for opset in opsets:
        run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": rand([3, 4], dtype), "b": rand([4], dtype)},
                 opset=opset)


def test_equal_bool():
    run_case([helper.make_node("Equal", ["a", "b"], ["y"])], {"a": rand([4, 5], np.bool_), "b": rand([5], np.bool_)})


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
@pytest.mark.parametrize("sa,sb", CMP_SHAPES)
def test_logic(op, sa, sb):
    run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": rand(sa, np.bool_), "b": rand(sb, np.bool_)})


def test_logic_rejects_float():
    expect_error(edgeinfer.Unsupported, ["node 'l' (And)", "float32", "supported: bool"],
                 [helper.make_node("And", ["a", "b"], ["y"], name="l")],
                 [("a", TensorProto.FLOAT, [2]), ("b", TensorProto.FLOAT, [2])], out_type=TensorProto.BOOL)


def test_compare_dtype_mismatch():
    expect_error(edgeinfer.InvalidModel, ["node 'c' (Less)", "same dtype"],
                 [helper.make_node("Less", ["a", "b"], ["y"], name="c")],
                 [("a", TensorProto.FLOAT, [2]), ("b", TensorProto.INT64, [2])], out_type=TensorProto.BOOL)


def test_compare_cannot_broadcast():
    expect_error(edgeinfer.InvalidArgument, ["node 'c' (Greater)", "cannot be broadcast"],
                 [helper.make_node("Greater", ["a", "b"], ["y"], name="c")],
                 [("a", TensorProto.FLOAT, ["n"]), ("b", TensorProto.FLOAT, ["m"])],
                 feed={"a": rand([2]), "b": rand([3])}, out_type=TensorProto.BOOL)


# ------------------------------------------------------------------------ Where

@pytest.mark.parametrize("sc,sx,sy", [([2, 3], [2, 3], [2, 3]), ([3], [2, 3], [2, 1]), ([2, 1, 4], [3, 1], []),
                                      ([], [2], [2]), ([0, 3], [3], [1]), ([1, 5, 1], [4, 1, 6], [6])])
@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8, np.bool_, np.float64, np.int16, np.int32])
def test_where(sc, sx, sy, dtype):
    run_case([helper.make_node("Where", ["c", "x", "y0"], ["y"])],
             {"c": rand(sc, np.bool_), "x": rand(sx, dtype, 0, 9), "y0": rand(sy, dtype, 0, 9)})


@pytest.mark.parametrize("opset", [9, 16])
def test_where_opsets(opset):
    run_case([helper.make_node("Where", ["c", "x", "y0"], ["y"])],
             {"c": rand([3, 4], np.bool_), "x": rand([3, 4]), "y0": rand([4])}, opset=opset)


def test_where_errors():
    expect_error(edgeinfer.InvalidModel, ["node 'w' (Where)", "condition", "must be bool"],
                 [helper.make_node("Where", ["c", "x", "y0"], ["y"], name="w")],
                 [("c", TensorProto.FLOAT, [2]), ("x", TensorProto.FLOAT, [2]), ("y0", TensorProto.FLOAT, [2])])
    expect_error(edgeinfer.InvalidArgument, ["node 'w' (Where)", "cannot be broadcast"],
                 [helper.make_node("Where", ["c", "x", "y0"], ["y"], name="w")],
                 [("c", TensorProto.BOOL, ["a"]), ("x", TensorProto.FLOAT, ["b"]), ("y0", TensorProto.FLOAT, ["c"])],
                 feed={"c": rand([2], np.bool_), "x": rand([3]), "y0": rand([3])})


# ------------------------------------------------------------------ Cast / CastLike

CAST_TYPES = [np.float32, np.float64, np.float16, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
              np.int64, np.uint64, np.bool_]


def _cast_input(src, dst):
    """Values representable in both types' common range, plus fractions for float sources."""
    if np.dtype(src) == np.bool_:
        return rand([4, 6], np.bool_)
    if np.dtype(src).kind == "f":
        lo = 0 if np.dtype(dst).kind in "ub" else -100
        x = RNG.uniform(lo, 100, size=[4, 6]).astype(src)
        x.flat[:4] = [0, 0.5, 1.5, 2.5] if lo == 0 else [-0.0, -2.5, 1.5, -1.75]
        return np.asarray(x)
    info = np.iinfo(src)
    lo = 0 if np.dtype(dst).kind in "ub" else max(info.min, -100)
    return rand([4, 6], src, lo, min(info.max, 120))


@pytest.mark.parametrize("src", CAST_TYPES)
@pytest.mark.parametrize("dst", CAST_TYPES)
def test_cast_pairs(src, dst):
    x = _cast_input(src, dst)
    run_case([helper.make_node("Cast", ["x"], ["y"], to=_tt(dst))], {"x": x})


@pytest.mark.parametrize("src", [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("dst", [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_, np.float16])
def test_castlike(src, dst):
    x = _cast_input(src, dst)
    run_case([helper.make_node("CastLike", ["x", "t"], ["y"])], {"x": x, "t": np.zeros([2], dst)}, opset=19)


@pytest.mark.parametrize("opset", [6, 9, 13, 19, 21])
def test_cast_opsets(opset):
    run_case([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32)], {"x": rand([3, 4], lo=-9, hi=9)},
             opset=opset)


def test_cast_float16_rounding():
    """Round to nearest even at the float16 grid, subnormals, overflow to inf, NaN, -0."""
    vals = [1.0 + 2**-11, 1.0 + 3 * 2**-11, 65504, 65519.9, 65520, 1e6, -1e6, 2**-24, 2**-25, 3 * 2**-26,
            2**-14 - 2**-25, 6e-8, -0.0, np.inf, -np.inf, np.nan, 1 / 3, -2.7182817]
    x = np.array(vals, np.float32)
    out = run_case([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT16)], {"x": x})
    with np.errstate(over="ignore"):  # 65520 and 1e6 overflow to inf, as intended
        np.testing.assert_array_equal(out[0][~np.isnan(x)], x[~np.isnan(x)].astype(np.float16))
    # every float16 bit pattern back to float32 exactly
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    run_case([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)], {"x": h})


def test_cast_bfloat16_round_trip():
    """onnxruntime's CPU Cast has no bfloat16<->float32 pairs in every build, so this checks the
    documented rule directly: float32 -> bfloat16 rounds to nearest even (upper 16 bits)."""
    x = np.array([1.0, 1.00390625, 1.005859375, 1.01171875, -3.14159, 1e30, 65504.0, np.inf, 0.0], np.float32)
    m = make_model([helper.make_node("Cast", ["x"], ["b"], to=TensorProto.BFLOAT16),
                    helper.make_node("Cast", ["b"], ["y"], to=TensorProto.FLOAT)],
                   [("x", TensorProto.FLOAT, [9])], [("y", TensorProto.FLOAT, [9])])
    got = edgeinfer.InferenceSession(m.SerializeToString()).run(None, {"x": x})[0]
    bits = x.view(np.uint32).astype(np.uint64)
    rne = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    np.testing.assert_array_equal(got, rne)
    np.testing.assert_array_equal(got, run_ort(m, {"x": x})[0])


def test_cast_float_to_int_out_of_range():
    """NaN and out-of-range values are undefined in C; edgeinfer defines them as x86-64
    onnxruntime computes them, and this machine's onnxruntime is the oracle."""
    x = np.array([np.nan, np.inf, -np.inf, 3e9, -3e9, 1e20, -1e20, 300.7, -129.5, 70000.2, 2**63, 2**64], np.float32)
    for dst in [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]:
        with np.errstate(all="ignore"):
            run_case([helper.make_node("Cast", ["x"], ["y"], to=_tt(dst))], {"x": x})


def test_cast_integer_wraps():
    x = np.array([-1, 255, 256, -129, 2**40 + 7, -2**63], np.int64)
    for dst in [np.int8, np.uint8, np.int16, np.uint32, np.uint64, np.float32, np.float16, np.bool_]:
        run_case([helper.make_node("Cast", ["x"], ["y"], to=_tt(dst))], {"x": x})


def test_cast_int64_to_float_rounds_once():
    x = np.array([2**53 + 1, 2**24 + 1, -(2**24 + 3), 2**63 - 1], np.int64)
    for dst in [np.float32, np.float64]:
        run_case([helper.make_node("Cast", ["x"], ["y"], to=_tt(dst))], {"x": x})


def test_cast_string_unsupported():
    expect_error(edgeinfer.Unsupported, ["node 'c' (Cast)", "'to' = 8 (string)"],
                 [helper.make_node("Cast", ["x"], ["s"], name="c", to=TensorProto.STRING),
                  helper.make_node("Cast", ["s"], ["y"], name="back", to=TensorProto.FLOAT)],
                 [("x", TensorProto.FLOAT, [2])])


def test_cast_missing_to():
    expect_error(edgeinfer.InvalidModel, ["node 'c' (Cast)", "'to' is required"],
                 [helper.make_node("Cast", ["x"], ["y"], name="c")], [("x", TensorProto.FLOAT, [2])])


# ------------------------------------------------------------ Min Max Mean Sum

VAR_SHAPES = [[[2, 3]], [[2, 3], [2, 3]], [[2, 3], [3], []], [[2, 1, 4], [3, 1], [1, 1, 1], [4]], [[0, 2], [2]],
              [[5], [1, 5], [3, 1, 1]]]


@pytest.mark.parametrize("op", ["Min", "Max", "Mean", "Sum"])
@pytest.mark.parametrize("shapes", VAR_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_variadic_float(op, shapes, dtype):
    feed = {f"x{i}": rand(s, dtype) for i, s in enumerate(shapes)}
    if op == "Mean" and dtype == np.float64:
        # onnxruntime has no double Mean and onnx.reference's Mean does not broadcast: NumPy
        m = make_model([helper.make_node(op, list(feed), ["y"])],
                       [(n, TensorProto.DOUBLE, list(a.shape)) for n, a in feed.items()],
                       [("y", TensorProto.DOUBLE, None)])
        got = edgeinfer.InferenceSession(m.SerializeToString()).run(None, feed)[0]
        xs = np.broadcast_arrays(*feed.values())
        assert_same(got, sum(xs[1:], xs[0].copy()) / len(xs), rtol=1e-15)
        return
    # Mean divides by N after summing: one rounding more than ORT's (sum/N) may differ by 1 ulp
    run_case([helper.make_node(op, list(feed), ["y"])], feed, rtol=1e-6 if op == "Mean" else 0)


@pytest.mark.parametrize("op", ["Min", "Max"])
@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_variadic_int(op, dtype):
    lo = 0 if np.dtype(dtype).kind == "u" else -50
    feed = {"a": rand([3, 4], dtype, lo, 50), "b": rand([4], dtype, lo, 50), "c": rand([3, 1], dtype, lo, 50)}
    run_case([helper.make_node(op, list(feed), ["y"])], feed)


@pytest.mark.parametrize("op", ["Min", "Max", "Mean", "Sum"])
def test_variadic_nan(op):
    a = np.array([np.nan, 1.0, np.nan, -np.inf, 2.0], np.float32)
    b = np.array([1.0, np.nan, np.nan, 3.0, np.inf], np.float32)
    run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b})


@pytest.mark.parametrize("op,opsets", [("Min", [8, 12, 13]), ("Max", [8, 12, 13]), ("Mean", [8, 13]), ("Sum", [8, 13])])
def test_variadic_opsets(op, opsets):
    for opset in opsets:
        run_case([helper.make_node(op, ["a", "b"], ["y"])], {"a": rand([2, 3]), "b": rand([3])}, opset=opset)


def test_variadic_errors():
    expect_error(edgeinfer.InvalidArgument, ["node 'm' (Max)", "'c' [4]", "cannot be broadcast"],
                 [helper.make_node("Max", ["a", "b", "c"], ["y"], name="m")],
                 [("a", TensorProto.FLOAT, ["n"]), ("b", TensorProto.FLOAT, ["n"]), ("c", TensorProto.FLOAT, ["k"])],
                 feed={"a": rand([3]), "b": rand([3]), "c": rand([4])})
    expect_error(edgeinfer.Unsupported, ["node 's' (Sum)", "int32"], [helper.make_node("Sum", ["a", "b"], ["y"], name="s")],
                 [("a", TensorProto.INT32, [2]), ("b", TensorProto.INT32, [2])], out_type=TensorProto.INT32)


# --------------------------------------------------------------- Pow Mod BitShift

@pytest.mark.parametrize("ta", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("tb", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.int8, np.uint16, np.int16,
                                np.uint32, np.uint64])
def test_pow(ta, tb):
    if np.dtype(ta).kind == "f":
        a = rand([3, 4], ta, 0.1, 3)
    else:
        a = rand([3, 4], ta, -5, 5)
    b = rand([4], tb, 0, 4) if np.dtype(tb).kind in "iu" else rand([4], tb, -2, 3)
    if np.dtype(ta).kind == "i" and np.dtype(tb).kind == "f":
        b = np.asarray(np.round(b))
    # float results go through pow(); onnxruntime special-cases some exponents (x*x): 1 ulp
    run_case([helper.make_node("Pow", ["a", "b"], ["y"])], {"a": a, "b": b}, opset=15, rtol=1e-6 if ta != np.float64 else 1e-15)


@pytest.mark.parametrize("opset", [7, 12, 13, 15])
def test_pow_opsets(opset):
    run_case([helper.make_node("Pow", ["a", "b"], ["y"])], {"a": rand([2, 3], lo=0.5, hi=2), "b": rand([3])},
             opset=opset, rtol=1e-6)


def test_pow_special():
    a = np.array([-2.0, -8.0, 0.0, 0.0, np.inf, np.nan, 1.0, -1.0], np.float32)
    b = np.array([0.5, 1 / 3, -1.0, 0.0, -1.0, 0.0, np.nan, np.inf], np.float32)
    run_case([helper.make_node("Pow", ["a", "b"], ["y"])], {"a": a, "b": b})


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("fmod", [0, 1])
def test_mod_int(dtype, fmod):
    lo = 0 if np.dtype(dtype).kind == "u" else -20
    a = rand([3, 5], dtype, lo, 20)
    b = rand([5], dtype, 1, 7)
    if lo < 0:
        b = np.asarray(b * np.array([1, -1, 1, -1, -1], dtype))
    run_case([helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)], {"a": a, "b": b})


def test_mod_min_by_minus_one():
    a = np.array([np.iinfo(np.int64).min, 7, -7], np.int64)
    b = np.array([-1, -1, -1], np.int64)
    for fmod in (0, 1):
        y = run_ei_only([helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)], {"a": a, "b": b}, TensorProto.INT64)[0]
        np.testing.assert_array_equal(y, [0, 0, 0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mod_float(dtype):
    a = rand([4, 5], dtype, -10, 10)
    b = np.asarray(rand([5], dtype, 0.5, 3) * np.array([1, -1, 1, -1, 1], dtype))
    run_case([helper.make_node("Mod", ["a", "b"], ["y"], fmod=1)], {"a": a, "b": b})


def test_mod_errors():
    expect_error(edgeinfer.InvalidModel, ["node 'm' (Mod)", "fmod must be 1"],
                 [helper.make_node("Mod", ["a", "b"], ["y"], name="m")],
                 [("a", TensorProto.FLOAT, [2]), ("b", TensorProto.FLOAT, [2])])
    expect_error(edgeinfer.InvalidArgument, ["node 'm' (Mod)", "modulo by zero", "'b'", "flat index 1"],
                 [helper.make_node("Mod", ["a", "b"], ["y"], name="m")],
                 [("a", TensorProto.INT32, [2]), ("b", TensorProto.INT32, [2])],
                 feed={"a": np.array([1, 2], np.int32), "b": np.array([3, 0], np.int32)}, out_type=TensorProto.INT32)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bitshift(dtype, direction):
    bits = np.dtype(dtype).itemsize * 8
    a = rand([3, 4], dtype, 0, 255)
    b = rand([4], dtype, 0, bits - 1)
    run_case([helper.make_node("BitShift", ["a", "b"], ["y"], direction=direction)], {"a": a, "b": b})


def test_bitshift_wide_amount_is_zero():
    a = np.array([1, 255, 7], np.uint8)
    b = np.array([8, 200, 9], np.uint8)
    y = run_ei_only([helper.make_node("BitShift", ["a", "b"], ["y"], direction="LEFT")], {"a": a, "b": b},
                    TensorProto.UINT8)[0]
    np.testing.assert_array_equal(y, [0, 0, 0])


def test_bitshift_bad_direction():
    expect_error(edgeinfer.InvalidModel, ["node 'b' (BitShift)", "'UP'"],
                 [helper.make_node("BitShift", ["a", "c"], ["y"], name="b", direction="UP")],
                 [("a", TensorProto.UINT8, [2]), ("c", TensorProto.UINT8, [2])], out_type=TensorProto.UINT8)


# ------------------------------------------------------------------- IsNaN IsInf

SPECIALS = [0.0, -0.0, 1.0, np.inf, -np.inf, np.nan, -np.nan, 3.4e38, -1e-45]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opset", [13, 20])
def test_isnan(dtype, opset):
    run_case([helper.make_node("IsNaN", ["x"], ["y"])], {"x": np.array(SPECIALS, dtype).reshape(3, 3)}, opset=opset)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pos,neg", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_isinf(dtype, pos, neg):
    run_case([helper.make_node("IsInf", ["x"], ["y"], detect_positive=pos, detect_negative=neg)],
             {"x": np.array(SPECIALS, dtype)}, opset=20)


def test_isnan_int_rejected():
    expect_error(edgeinfer.Unsupported, ["node 'i' (IsNaN)", "int64"], [helper.make_node("IsNaN", ["x"], ["y"], name="i")],
                 [("x", TensorProto.INT64, [2])], out_type=TensorProto.BOOL)


# ----------------------------------------------------------------- float16 paths

F16_SPECIALS = np.array([0.0, -0.0, 1.5, -2.25, 65504, -65504, np.inf, -np.inf, np.nan, 6e-8], np.float16)


def test_isnan_isinf_float16():
    run_case([helper.make_node("IsNaN", ["x"], ["y"])], {"x": F16_SPECIALS}, opset=20)
    for pos, neg in [(1, 1), (1, 0), (0, 1)]:
        run_case([helper.make_node("IsInf", ["x"], ["y"], detect_positive=pos, detect_negative=neg)],
                 {"x": F16_SPECIALS}, opset=20)


@pytest.mark.parametrize("op", ["Min", "Max"])
def test_min_max_float16(op):
    a = np.asarray(rand([3, 4], np.float16, -5, 5))
    b = np.asarray(rand([4], np.float16, -5, 5))
    a[0, :] = F16_SPECIALS[[6, 7, 8, 1]]
    b[:] = F16_SPECIALS[[8, 0, 2, 0]]
    run_case([helper.make_node(op, ["a", "b", "c"], ["y"])], {"a": a, "b": b, "c": np.asarray(rand([3, 1], np.float16))})


def test_mod_float16():
    a = np.asarray(rand([4, 5], np.float16, -10, 10))
    b = np.asarray(np.array([1.5, -2.0, 0.75, -3.25, 4.0], np.float16))
    run_case([helper.make_node("Mod", ["a", "b"], ["y"], fmod=1)], {"a": a, "b": b})


# ------------------------------------------------------ large inputs, thread pool split

@pytest.mark.parametrize("op", ["Less", "Equal", "Pow", "Mod"])
def test_binary_ext_large_threaded(op):
    a = np.asarray(np.round(rand([70, 1000], lo=0.5, hi=4), 1))
    b = np.asarray(np.round(rand([1000], lo=0.5, hi=4), 1))
    attrs = {"fmod": 1} if op == "Mod" else {}
    run_case([helper.make_node(op, ["a", "b"], ["y"], **attrs)], {"a": a, "b": b}, rtol=1e-6,
             sess_options=threads(2))


@pytest.mark.parametrize("dst", [np.float16, np.int32, np.uint8, np.float64])
def test_cast_large_threaded(dst):
    x = rand([300, 401], lo=0, hi=200)
    run_case([helper.make_node("Cast", ["x"], ["y"], to=_tt(dst))], {"x": x}, sess_options=threads(2))
