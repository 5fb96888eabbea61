"""float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ, E8M0) tensors: through the binding (ml_dtypes
arrays), in initializers, in data-movement ops, and in Cast/CastLike/QuantizeLinear/
DequantizeLinear.

The oracle is onnx.reference.ReferenceEvaluator (onnxruntime lacks most of these kernels).
Conversions are compared bit for bit: both sides round once to nearest even from the exact
value, so any difference is a bug, not a tolerance question. NaN outputs are compared as "is
NaN" because the types with several NaN codes may differ in which one they produce.
"""
import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import edgeinfer

F8 = {
    TensorProto.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TensorProto.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
    TensorProto.FLOAT8E5M2: ml_dtypes.float8_e5m2,
    TensorProto.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
}
E8M0 = TensorProto.FLOAT8E8M0
ALL8 = {**F8, E8M0: ml_dtypes.float8_e8m0fnu}
NP = {
    TensorProto.FLOAT: np.float32,
    TensorProto.FLOAT16: np.float16,
    TensorProto.DOUBLE: np.float64,
    TensorProto.INT32: np.int32,
    TensorProto.UINT8: np.uint8,
    TensorProto.INT64: np.int64,
    TensorProto.BOOL: np.bool_,
}
NP.update(ALL8)
F8_IDS = [TensorProto.DataType.Name(t) for t in F8]


def model(nodes, inputs, outputs, inits=(), opset=21):
    g = helper.make_graph(nodes, "lowbit", [helper.make_tensor_value_info(*i) for i in inputs],
                          [helper.make_tensor_value_info(*o) for o in outputs], list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 11 if opset >= 23 else 10
    return m


def run_both(m, feed):
    ref = ReferenceEvaluator(m).run(None, feed)
    got = edgeinfer.InferenceSession(m.SerializeToString()).run(None, feed)
    return ref, got


def assert_same_bits(got, ref, what=""):
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.dtype == ref.dtype, f"{what}: dtype {got.dtype}, expected {ref.dtype}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    if ref.dtype == np.bool_ or ref.dtype.kind in "iu":
        np.testing.assert_array_equal(got, ref, err_msg=what)
        return
    gf, rf = got.astype(np.float64), ref.astype(np.float64)
    nan = np.isnan(rf)
    np.testing.assert_array_equal(np.isnan(gf), nan, err_msg=f"{what}: NaN positions")
    bits = np.uint8 if ref.dtype.itemsize == 1 else np.uint16 if ref.dtype.itemsize == 2 else (
        np.uint32 if ref.dtype.itemsize == 4 else np.uint64)
    gb, rb = got.view(bits), ref.view(bits)
    bad = (gb != rb) & ~nan
    assert not bad.any(), (f"{what}: {bad.sum()} elements differ, e.g. input index "
                           f"{np.argwhere(bad)[:5].ravel()}: got {gf[bad][:5]}, expected {rf[bad][:5]}")


def special_and_random(dtype, n=4000, seed=0):
    """Values that hit every rounding path of float8: ties, subnormals, overflow, inf, NaN."""
    r = np.random.default_rng(seed)
    mags = 2.0 ** r.uniform(-24, 18, n)
    vals = mags * r.choice([-1, 1], n)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 448, 449, 464, 465, 480, 500, 240, 247.9, 248,
                256, 57344, 61439, 61440, 65536, 1e6, 2.0 ** -9, 2.0 ** -10, 3 * 2.0 ** -11,
                2.0 ** -16, 2.0 ** -17, 1.5 * 2.0 ** -17, 1.0625, 1.1875, 1.125, 0.1, -0.1]
    # exact ties between neighbouring float8 values of every type
    ties = []
    for t in F8.values():
        codes = np.arange(256, dtype=np.uint8).view(t).astype(np.float64)
        codes = np.unique(codes[np.isfinite(codes)])
        ties.extend(((codes[1:] + codes[:-1]) / 2).tolist())
    out = np.concatenate([np.array(specials), np.array(ties), -np.array(ties), vals])
    with np.errstate(over="ignore"):
        return out.astype(dtype)


@pytest.mark.parametrize("to", list(F8), ids=F8_IDS)
@pytest.mark.parametrize("src", [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE])
@pytest.mark.parametrize("saturate", [1, 0])
def test_cast_to_float8(src, to, saturate):
    x = special_and_random(NP[src])
    m = model([helper.make_node("Cast", ["x"], ["y"], to=to, saturate=saturate)],
              [("x", src, [x.size])], [("y", to, [x.size])])
    ref, got = run_both(m, {"x": x})
    assert_same_bits(got[0], ref[0], f"Cast {x.dtype} -> {NP[to].__name__} saturate={saturate}")


@pytest.mark.parametrize("src", list(ALL8), ids=F8_IDS + ["FLOAT8E8M0"])
@pytest.mark.parametrize("to", [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE,
                                TensorProto.BOOL] + list(ALL8))
def test_cast_from_float8_every_code(src, to):
    x = np.arange(256, dtype=np.uint8).view(NP[src])
    m = model([helper.make_node("Cast", ["x"], ["y"], to=to)], [("x", src, [256])],
              [("y", to, [256])], opset=25)
    ref, got = run_both(m, {"x": x})
    assert_same_bits(got[0], ref[0], f"Cast {NP[src].__name__} -> {to}")


@pytest.mark.parametrize("to", list(F8), ids=F8_IDS)
def test_cast_int_to_float8_and_back(to):
    x = np.array([0, 1, -1, 3, 17, -300, 448, 1000, 100000, 2**31 - 1], np.int32)
    m = model([helper.make_node("Cast", ["x"], ["y"], to=to)], [("x", TensorProto.INT32, [10])],
              [("y", to, [10])])
    ref, got = run_both(m, {"x": x})
    assert_same_bits(got[0], ref[0])
    # float8 -> int32 of the finite codes (NaN -> int has no defined value)
    codes = np.arange(256, dtype=np.uint8).view(NP[to])
    codes = codes[np.isfinite(codes.astype(np.float32))]
    m = model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT32)],
              [("x", to, [codes.size])], [("y", TensorProto.INT32, [codes.size])])
    ref, got = run_both(m, {"x": codes})
    assert_same_bits(got[0], ref[0])


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("src", [TensorProto.FLOAT, TensorProto.FLOAT16])
def test_cast_to_e8m0(src, round_mode, saturate):
    r = np.random.default_rng(1)
    x = np.concatenate([[0.0, -0.0, 1.0, 1.5, 1.75, 1.25, 3.0, -4.0, np.inf, -np.inf, np.nan,
                         3.4e38, 2.0 ** 127, 1.5 * 2.0 ** 127, 1e-40, 1e-45, 2.0 ** -126],
                        2.0 ** r.uniform(-130, 128, 500)])
    with np.errstate(over="ignore"):
        x = x.astype(NP[src])
    m = model([helper.make_node("Cast", ["x"], ["y"], to=E8M0, saturate=saturate,
                                round_mode=round_mode)],
              [("x", src, [x.size])], [("y", E8M0, [x.size])], opset=25)
    ref, got = run_both(m, {"x": x})
    assert_same_bits(got[0], ref[0], f"{round_mode} saturate={saturate}")


@pytest.mark.parametrize("to", list(F8), ids=F8_IDS)
def test_castlike(to):
    x = special_and_random(np.float32, 300)
    like = np.zeros(1, NP[to])
    m = model([helper.make_node("CastLike", ["x", "like"], ["y"], saturate=0)],
              [("x", TensorProto.FLOAT, [x.size]), ("like", to, [1])], [("y", to, [x.size])])
    ref, got = run_both(m, {"x": x, "like": like})
    assert_same_bits(got[0], ref[0])


@pytest.mark.parametrize("qt", list(F8), ids=F8_IDS)
@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("layout", ["tensor", "axis", "blocked"])
def test_quantize_dequantize_float8(qt, saturate, layout):
    r = np.random.default_rng(2)
    x = (r.standard_normal((3, 4, 6)) * 300).astype(np.float32)
    x[0, 0, :4] = [np.inf, -np.inf, np.nan, 1e9]
    attrs = {}
    if layout == "tensor":
        scale = np.array(0.5, np.float32)
    elif layout == "axis":
        scale = np.array([0.25, 1.0, 2.0, 0.01], np.float32)
    else:
        scale = r.uniform(0.1, 4, (3, 4, 2)).astype(np.float32)
        attrs = {"block_size": 3, "axis": 2}
    zp = np.zeros(scale.shape, NP[qt])
    q = model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], saturate=saturate,
                                **attrs)],
              [("x", TensorProto.FLOAT, list(x.shape))], [("y", qt, list(x.shape))],
              [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "z")])
    ref, got = run_both(q, {"x": x})
    assert_same_bits(got[0], ref[0], "QuantizeLinear")
    dq = model([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)],
               [("q", qt, list(x.shape))], [("y", TensorProto.FLOAT, list(x.shape))],
               [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "z")])
    ref, got = run_both(dq, {"q": ref[0]})
    assert_same_bits(got[0], ref[0], "DequantizeLinear")


def test_dequantize_float8_float16_scale():
    x = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).reshape(16, 16)
    scale = np.linspace(0.5, 2, 16).astype(np.float16)
    m = model([helper.make_node("DequantizeLinear", ["q", "s"], ["y"], axis=0)],
              [("q", TensorProto.FLOAT8E4M3FN, [16, 16]), ("s", TensorProto.FLOAT16, [16])],
              [("y", TensorProto.FLOAT16, [16, 16])])
    ref, got = run_both(m, {"q": x, "s": scale})
    assert_same_bits(got[0], ref[0])


@pytest.mark.parametrize("t", list(ALL8), ids=F8_IDS + ["FLOAT8E8M0"])
def test_float8_data_movement_and_initializers(t):
    """Identity/Reshape/Transpose/Concat/Gather move float8 bytes; initializers come from both
    int32_data (onnx.helper.make_tensor) and raw_data (numpy_helper.from_array)."""
    x = np.arange(256, dtype=np.uint8).view(NP[t]).reshape(16, 16)
    vals = np.arange(8, dtype=np.uint8).view(NP[t]).astype(np.float32)
    c_typed = helper.make_tensor("c_typed", t, [8], vals.tolist())
    assert len(c_typed.int32_data) == 8 and not c_typed.raw_data
    c_raw = numpy_helper.from_array(np.arange(8, 16, dtype=np.uint8).view(NP[t]), "c_raw")
    nodes = [
        helper.make_node("Identity", ["x"], ["a"]),
        helper.make_node("Transpose", ["a"], ["b"], perm=[1, 0]),
        helper.make_node("Reshape", ["b", "shape"], ["c"]),
        helper.make_node("Concat", ["c_typed", "c_raw", "c"], ["d"], axis=0),
        helper.make_node("Gather", ["d", "idx"], ["e"], axis=0),
    ]
    m = model(nodes, [("x", t, [16, 16])], [("d", t, [272]), ("e", t, [4])],
              [c_typed, c_raw, numpy_helper.from_array(np.array([256], np.int64), "shape"),
               numpy_helper.from_array(np.array([0, 9, 16, 271], np.int64), "idx")])
    sess = edgeinfer.InferenceSession(m.SerializeToString())
    assert sess.get_inputs()[0].type == f"tensor({TensorProto.DataType.Name(t).lower()})"
    d, e = sess.run(None, {"x": x})
    assert d.dtype == NP[t] and e.dtype == NP[t]
    # make_tensor rounds the values itself (E8M0: 2^-127 rounds up to code 1)
    typed = np.array(c_typed.int32_data, np.uint8)
    expect = np.concatenate([typed, np.arange(8, 16, dtype=np.uint8),
                             x.T.reshape(-1).view(np.uint8)])
    np.testing.assert_array_equal(d.view(np.uint8), expect)
    np.testing.assert_array_equal(e.view(np.uint8), expect[[0, 9, 16, 271]])


def test_float8_input_dtype_checked():
    m = model([helper.make_node("Identity", ["x"], ["y"])],
              [("x", TensorProto.FLOAT8E4M3FN, [2])], [("y", TensorProto.FLOAT8E4M3FN, [2])])
    sess = edgeinfer.InferenceSession(m.SerializeToString())
    with pytest.raises(edgeinfer.InvalidArgument, match="expected dtype float8e4m3fn"):
        sess.run(None, {"x": np.zeros(2, ml_dtypes.float8_e4m3fnuz)})
    with pytest.raises(edgeinfer.InvalidArgument, match="expected dtype float8e4m3fn"):
        sess.run(None, {"x": np.zeros(2, np.uint8)})
    # non-contiguous float8 input: one copy, same values
    x = np.arange(8, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn)[::2][:2]
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0].view(np.uint8), [0, 2])


def test_cast_round_mode_invalid():
    m = model([helper.make_node("Cast", ["x"], ["y"], to=E8M0, round_mode="sideways")],
              [("x", TensorProto.FLOAT, [2])], [("y", E8M0, [2])], opset=25)
    with pytest.raises(edgeinfer.InvalidModel, match="round_mode"):
        edgeinfer.InferenceSession(m.SerializeToString())


# ----------------------------------------------------------------- sub-byte (packed) types

SUB = {
    TensorProto.INT4: ml_dtypes.int4,
    TensorProto.UINT4: ml_dtypes.uint4,
    TensorProto.INT2: ml_dtypes.int2,
    TensorProto.UINT2: ml_dtypes.uint2,
    TensorProto.FLOAT4E2M1: ml_dtypes.float4_e2m1fn,
}
SUB_IDS = [TensorProto.DataType.Name(t) for t in SUB]
NP.update(SUB)
NP[TensorProto.INT8] = np.int8


def all_codes(t, n):
    """n elements (odd n exercises the last, half-filled byte) cycling through every code."""
    bits = 2 if t in (TensorProto.INT2, TensorProto.UINT2) else 4
    codes = np.arange(n, dtype=np.uint8) % (1 << bits)
    return codes.view(NP[t])  # ml_dtypes keeps the raw code in the low bits (int4 -1 = 0x0f)


@pytest.mark.parametrize("to", list(SUB), ids=SUB_IDS)
@pytest.mark.parametrize("src", [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT32,
                                 TensorProto.INT8, TensorProto.UINT8])
@pytest.mark.parametrize("n", [1, 7, 33])
def test_cast_to_subbyte(src, to, n):
    r = np.random.default_rng(n)
    if np.issubdtype(NP[src], np.floating):
        x = np.concatenate([[0.0, -0.0, 0.25, 0.75, 1.25, 2.5, -3.5, 5.0, 7.0, 100.0, -9.0],
                            r.uniform(-10, 10, 40)])[:n].astype(NP[src])
    else:
        info = np.iinfo(NP[src])
        x = r.integers(max(info.min, -300), min(info.max, 300), n).astype(NP[src])
    m = model([helper.make_node("Cast", ["x"], ["y"], to=to)], [("x", src, [n])], [("y", to, [n])])
    ref, got = run_both(m, {"x": x})
    assert_same_bits(got[0], ref[0], f"Cast {x.dtype} -> {NP[to].__name__}")


@pytest.mark.parametrize("src", list(SUB), ids=SUB_IDS)
@pytest.mark.parametrize("to", [TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT8,
                                TensorProto.INT32, TensorProto.BOOL] + list(SUB))
@pytest.mark.parametrize("shape", [[1], [3, 5], [2, 3, 7]])
def test_cast_from_subbyte(src, to, shape):
    n = int(np.prod(shape))
    x = all_codes(src, n).reshape(shape)
    m = model([helper.make_node("Cast", ["x"], ["y"], to=to)], [("x", src, shape)],
              [("y", to, shape)])
    ints = (TensorProto.INT4, TensorProto.UINT4, TensorProto.INT2, TensorProto.UINT2)
    if src in ints and to in ints and src != to:
        # ml_dtypes (so the reference) has no direct cast between two of these: through int32,
        # which is the same integer wrap-around
        ref = [x.astype(np.int32).astype(NP[to])]
        got = edgeinfer.InferenceSession(m.SerializeToString()).run(None, {"x": x})
    else:
        ref, got = run_both(m, {"x": x})
    assert_same_bits(got[0], ref[0], f"Cast {NP[src].__name__} -> {to}")


@pytest.mark.parametrize("qt", list(SUB), ids=SUB_IDS)
@pytest.mark.parametrize("layout", ["tensor", "axis", "blocked"])
def test_quantize_dequantize_subbyte(qt, layout):
    r = np.random.default_rng(3)
    shape = (3, 5, 7)  # odd sizes: packed rows share bytes
    x = (r.standard_normal(shape) * 6).astype(np.float32)
    attrs = {}
    if layout == "tensor":
        scale = np.array(0.75, np.float32)
    elif layout == "axis":
        scale = r.uniform(0.2, 3, 5).astype(np.float32)
    else:
        scale = r.uniform(0.2, 3, (3, 5, 3)).astype(np.float32)
        attrs = {"block_size": 3, "axis": 2}
    zp = all_codes(qt, scale.size).reshape(scale.shape)
    inits = [numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zp, "z")]
    q = model([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs)],
              [("x", TensorProto.FLOAT, list(shape))], [("y", qt, list(shape))], inits)
    ref, got = run_both(q, {"x": x})
    assert_same_bits(got[0], ref[0], "QuantizeLinear")
    dq = model([helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)],
               [("q", qt, list(shape))], [("y", TensorProto.FLOAT, list(shape))], inits)
    ref, got = run_both(dq, {"q": ref[0]})
    assert_same_bits(got[0], ref[0], "DequantizeLinear")


@pytest.mark.parametrize("t", list(SUB), ids=SUB_IDS)
def test_subbyte_initializers(t):
    """Packed initializers from int32_data (onnx.helper.make_tensor: one packed byte per entry)
    and raw_data (numpy_helper.from_array), odd element counts."""
    vals = all_codes(t, 5)
    c_typed = helper.make_tensor("c_typed", t, [5], vals.astype(np.float32).tolist())
    assert len(c_typed.int32_data) == (5 * (2 if t in (TensorProto.INT2, TensorProto.UINT2) else 4) + 7) // 8
    c_raw = numpy_helper.from_array(all_codes(t, 7)[::-1].copy(), "c_raw")
    nodes = [helper.make_node("Cast", ["c_typed"], ["a"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["c_raw"], ["b"], to=TensorProto.FLOAT)]
    m = model(nodes, [], [("a", TensorProto.FLOAT, [5]), ("b", TensorProto.FLOAT, [7])],
              [c_typed, c_raw])
    ref, got = run_both(m, {})
    for g, e in zip(got, ref):
        assert_same_bits(g, e)


def test_subbyte_binding():
    """Sub-byte arrays (one value per byte in ml_dtypes) are packed on the way in, from any
    layout, and unpacked on the way out; dtypes are checked; byte-copying ops reject them."""
    m = model([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.INT4)],
              [("x", TensorProto.INT4, [2, 3])], [("y", TensorProto.INT4, [2, 3])])
    sess = edgeinfer.InferenceSession(m.SerializeToString())
    assert sess.get_inputs()[0].type == "tensor(int4)"
    base = np.array([[-8, 1, 7, 0], [-1, 2, 3, -5], [4, 5, 6, -2]], ml_dtypes.int4)
    x = base[::2, 1:].copy()
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0].astype(np.int8), x.astype(np.int8))
    strided = base[::2, 1:][:, ::-1]  # non-contiguous view, shape (2, 3)
    assert strided.shape == (2, 3) and not strided.flags.c_contiguous
    y = sess.run(None, {"x": strided})[0]
    np.testing.assert_array_equal(y.astype(np.int8), strided.astype(np.int8))
    with pytest.raises(edgeinfer.InvalidArgument, match="expected dtype int4"):
        sess.run(None, {"x": np.zeros((2, 3), ml_dtypes.uint4)})
    with pytest.raises(edgeinfer.InvalidArgument, match="expected dtype int4"):
        sess.run(None, {"x": np.zeros((2, 3), np.int8)})
    # Transpose copies by element size: a packed type is refused cleanly, not mis-copied
    m = model([helper.make_node("Transpose", ["x"], ["y"])], [("x", TensorProto.UINT4, [2, 3])],
              [("y", TensorProto.UINT4, [3, 2])])
    with pytest.raises(edgeinfer.EdgeInferError):
        s = edgeinfer.InferenceSession(m.SerializeToString())
        s.run(None, {"x": np.zeros((2, 3), ml_dtypes.uint4)})
