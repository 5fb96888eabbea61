"""Resize (opsets 10-19) and Upsample (7, 9) against onnxruntime, plus their error cases.

Oracle: onnxruntime, except where it departs from the ONNX specification, where we compare
with onnx.reference.ReferenceEvaluator (the spec's own implementation, which also generated
the conformance data) and say why at the case:
  * align_corners / pytorch_half_pixel / tf_crop_and_resize with `scales` whose
    scale * in_dim is fractional: the spec (and the conformance test
    test_resize_downsample_scales_linear_align_corners) uses the fractional output length in
    the coordinate formula, onnxruntime the integer one;
  * linear/cubic resizes of axes other than the last two of 4-D (or 2-D/3-D/5-D) inputs,
    for which onnxruntime has no kernel;
  * tf_crop_and_resize when an axis keeps its length: onnxruntime then ignores that axis' roi.
Also unlike onnxruntime (and like the spec), an axis whose scale is not 1 is resampled even
when floor(scale * in) == in; no case here depends on that.
Coordinates are computed in float32 as onnxruntime does, so nearest-neighbour picks agree
with it where the exact coordinate lands on a .5 tie; the reference computes in float64, so
the few nearest cases that land on such a tie and can only be checked against the reference
are listed in NEAREST_TIES and skipped (linear and cubic cover the same coordinate formulas).

Tolerances: nearest only copies elements, so it is compared exactly (atol=rtol=0). Linear and
cubic outputs are float32 weighted sums whose weights and summation order differ between
engines (onnxruntime precomputes weights in float, we in double then round); 1e-5 relative
to the output's magnitude covers that (observed differences are ~1e-6).
"""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

import edgeinfer
from ortcheck import TensorProto, assert_close, helper, run_ort

RNG = np.random.default_rng(1357)
TOL = dict(rtol=1e-5, atol=1e-5)
EXACT = dict(rtol=0, atol=0)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def resize_model(x, scales=None, sizes=None, roi=None, opset=19, feed_params=False, op="Resize",
                 **attrs):
    """A one-node model. Parameters are initializers, or graph inputs when feed_params (the
    node is then dynamic: it sizes its output while running). Returns (model, feed)."""
    feed = {"x": x}
    inits, inputs = [], [helper.make_tensor_value_info("x", _tt(x.dtype), list(x.shape))]
    names = ["x"]
    params = []
    if op == "Upsample" or opset < 11:
        params = [("scales", np.asarray(scales, np.float32))]
    else:
        if opset < 13:  # roi and scales are required inputs before opset 13: pass them empty
            roi = [] if roi is None else roi
            scales = [] if scales is None else scales
        params = [("roi", None if roi is None else np.asarray(roi, np.float32)),
                  ("scales", None if scales is None else np.asarray(scales, np.float32)),
                  ("sizes", None if sizes is None else np.asarray(sizes, np.int64))]
    for name, val in params:
        if val is None:
            names.append("")
            continue
        names.append(name)
        if feed_params:
            feed[name] = val
            inputs.append(helper.make_tensor_value_info(name, _tt(val.dtype), list(val.shape)))
        else:
            inits.append(numpy_helper.from_array(val, name))
    while names[-1] == "":
        names.pop()
    node = helper.make_node(op, names, ["y"], **attrs)
    graph = helper.make_graph([node], "resize", inputs, [helper.make_tensor_value_info("y", _tt(x.dtype), None)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 19 else 9
    return model, feed


def run_ei(model, feed, **kw):
    return edgeinfer.InferenceSession(model.SerializeToString(), **kw).run(None, feed)[0]


def check(x, oracle="ort", tol=None, both=True, **kw):
    """Compares edgeinfer with the oracle, with the parameters as initializers and (both)
    as graph inputs fed at run."""
    mode = kw.get("mode", "nearest")
    tol = tol or (EXACT if mode == "nearest" else TOL)
    model, feed = resize_model(x, **kw)
    # (no onnx.checker: the output is declared without a shape, which it rejects)
    if oracle == "ort":
        expected = run_ort(model, feed)[0]
    else:
        expected = ReferenceEvaluator(model).run(None, feed)[0]
    actual = run_ei(model, feed)
    assert_close(actual, expected, what=f"{kw}", **tol)
    if both:
        model2, feed2 = resize_model(x, feed_params=True, **kw)
        np.testing.assert_array_equal(run_ei(model2, feed2), actual)
    return actual


def data(shape, dtype=np.float32):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return RNG.standard_normal(size=shape).astype(dt)
    if dt.kind == "u":
        return RNG.integers(0, 200, size=shape).astype(dt)
    return RNG.integers(-100, 100, size=shape).astype(dt)


COORDS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric",
          "tf_crop_and_resize"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
ROI4 = [0, 0, 0.15, 0.3, 1, 1, 0.8, 1.1]
# (scales, sizes) on a [1, 2, 5, 7] input: up, down, mixed, integral and fractional.
GEOMS = [
    ([1, 1, 2, 3], None),
    ([1, 1, 0.6, 0.8], None),
    ([1, 1, 1.5, 2.3], None),
    ([1, 1, 0.5, 0.25], None),
    (None, [1, 2, 3, 4]),
    (None, [1, 2, 9, 13]),
    (None, [1, 2, 5, 1]),
    (None, [1, 2, 1, 9]),
]


def _fractional_width(scales, shape):
    return scales is not None and any(float(np.float32(s)) * d != int(float(np.float32(s)) * d)
                                      for s, d in zip(scales, shape))


def _cases():
    out = []
    for mode in ["nearest", "linear", "cubic"]:
        for coord in COORDS:
            for nm in (NEAREST if mode == "nearest" else ["round_prefer_floor"]):
                for gi, (scales, sizes) in enumerate(GEOMS):
                    out.append(pytest.param(mode, coord, nm, gi, id=f"{mode}-{coord}-{nm}-g{gi}"))
    return out


# Cases whose exact coordinate is a .5 tie that float32 and float64 break differently, or
# where onnxruntime departs from the spec in a way the module docstring does not cover:
# compared with the reference evaluator only where it is not a tie, else skipped from the
# reference comparison (onnxruntime's answer is still required).
_TIE = ("exact .5 tie / integer source coordinate: onnxruntime (float32 with a float32 output length) and the "
        "reference (float64) break it differently; linear and cubic cover the same coordinate formula")
NEAREST_TIES = {
    ("asymmetric", "round_prefer_ceil", 4): _TIE,     # 5->3 / 7->4: x = 2 * 7/4 = 3.5 exactly
    ("half_pixel_symmetric", "floor", 1): _TIE,
    ("half_pixel_symmetric", "floor", 4): _TIE,
    # Fractional output length (reference oracle): exact ties that float64 breaks the other way.
    ("pytorch_half_pixel", "round_prefer_floor", 2): _TIE,
    ("pytorch_half_pixel", "floor", 1): _TIE,
    ("align_corners", "floor", 1): _TIE,
    ("tf_crop_and_resize", "floor", 2): _TIE,
    ("tf_crop_and_resize", "ceil", 2): _TIE,
}


@pytest.mark.parametrize("mode,coord,nm,gi", _cases())
def test_resize_table_4d(mode, coord, nm, gi):
    scales, sizes = GEOMS[gi]
    shape = (1, 2, 5, 7)
    x = data(shape)
    kw = dict(scales=scales, sizes=sizes, mode=mode, coordinate_transformation_mode=coord, nearest_mode=nm)
    if coord == "tf_crop_and_resize":
        kw.update(roi=ROI4, extrapolation_value=-3.5)
    oracle = "ort"
    if coord in ("align_corners", "pytorch_half_pixel", "tf_crop_and_resize") and _fractional_width(scales, shape):
        oracle = "ref"  # fractional output length in the formula (see module docstring)
    if coord == "tf_crop_and_resize" and sizes is not None and sizes[2] == shape[2]:
        oracle = "ref"  # onnxruntime ignores the roi of an axis whose length does not change
    if mode == "nearest" and (coord, nm, gi) in NEAREST_TIES:
        pytest.skip(NEAREST_TIES[(coord, nm, gi)])
    check(x, oracle=oracle, **kw)


@pytest.mark.parametrize("shape,scales,sizes,mode", [
    ((9,), [2.5], None, "nearest"),
    ((9,), None, [4], "nearest"),
    ((4, 6), [0.5, 2.0], None, "nearest"),
    ((4, 6), None, [7, 3], "linear"),
    ((4, 6), [1.5, 0.5], None, "linear"),
    ((4, 6), None, [9, 11], "cubic"),
    ((2, 3, 4), [1, 2, 2], None, "nearest"),
    ((2, 3, 4, 5, 6), [1, 1, 2, 0.5, 1.5], None, "nearest"),
    ((1, 2, 4, 5, 6), [1, 1, 2, 0.5, 1.5], None, "linear"),
    ((1, 2, 3, 4, 5), None, [1, 2, 5, 3, 9], "linear"),
    ((2, 3, 4, 5), [2, 1, 1, 1], None, "nearest"),
    ((2, 5, 6, 3), [1, 2, 0.5, 1], None, "linear"),   # NHWC
    ((2, 5, 6, 3), [1, 0.5, 2, 1], None, "nearest"),
    ((1, 1, 64, 48), [1, 1, 2, 2], None, "linear"),   # large enough to split over threads
    ((1, 3, 31, 17), None, [1, 3, 64, 40], "cubic"),
])
def test_resize_ranks(shape, scales, sizes, mode):
    check(data(shape), scales=scales, sizes=sizes, mode=mode)


@pytest.mark.parametrize("shape,scales,sizes,mode", [
    ((4, 6, 5), [2, 0.5, 1.5], None, "linear"),       # resizes axis 0: no onnxruntime kernel
    ((3, 4, 5), None, [6, 2, 7], "cubic"),
    ((2, 3, 4, 5), [2, 1, 1.5, 0.5], None, "linear"),
    ((2, 3, 4, 5, 3), [1, 1.5, 2, 0.5, 1], None, "cubic"),
    ((7,), [0.3], None, "cubic"),
])
def test_resize_ranks_reference(shape, scales, sizes, mode):
    # onnxruntime supports linear/cubic only on (up to) the last two or three axes.
    check(data(shape), oracle="ref", scales=scales, sizes=sizes, mode=mode)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("scales,sizes", [([1, 1, 0.6, 0.6], None), ([1, 1, 0.35, 0.45], None),
                                          (None, [1, 2, 3, 2]), ([1, 1, 1.7, 0.3], None)])
@pytest.mark.parametrize("exclude", [0, 1])
def test_resize_antialias(mode, scales, sizes, exclude):
    check(data((1, 2, 9, 11)), scales=scales, sizes=sizes, mode=mode, antialias=1, exclude_outside=exclude)


@pytest.mark.parametrize("a,exclude", [(-0.5, 1), (-0.75, 0), (-0.5, 0), (-0.75, 1)])
@pytest.mark.parametrize("scales", [[1, 1, 0.8, 0.6], [1, 1, 2, 1.5]])
def test_resize_cubic_params(a, exclude, scales):
    check(data((1, 2, 5, 7)), scales=scales, mode="cubic", cubic_coeff_a=a, exclude_outside=exclude)


@pytest.mark.parametrize("axes,scales,sizes,policy,mode", [
    ([2, 3], [2, 0.5], None, "stretch", "nearest"),
    ([3, 2], [0.5, 2], None, "stretch", "linear"),
    ([-1], [2.5], None, "stretch", "nearest"),
    ([2, 3], None, [7, 4], "not_larger", "nearest"),
    ([2, 3], None, [7, 4], "not_smaller", "linear"),
    (None, [1, 1, 2, 3], None, "stretch", "cubic"),
    (None, None, [1, 2, 9, 3], "not_larger", "nearest"),
    (None, None, [1, 2, 9, 3], "not_smaller", "nearest"),
])
def test_resize_axes_and_policy(axes, scales, sizes, policy, mode):
    kw = dict(scales=scales, sizes=sizes, mode=mode, keep_aspect_ratio_policy=policy)
    if axes is not None:
        kw["axes"] = axes
    check(data((1, 2, 5, 7)), **kw)


def test_resize_tf_crop_axes():
    # roi holds [starts..., ends...] for the listed axes only.
    check(data((1, 2, 5, 7)), roi=[0.2, 0.1, 0.9, 0.7], sizes=[3, 4], axes=[3, 2], mode="linear",
          coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=7.0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.int64, np.float64])
def test_resize_nearest_dtypes(dtype):
    # onnxruntime has no Resize kernel for int64/float64: the reference answers those.
    oracle = "ref" if dtype in (np.int64, np.float64) else "ort"
    x = data((1, 2, 5, 7), dtype)
    check(x, oracle=oracle, scales=[1, 1, 2, 0.5], mode="nearest")
    check(x, oracle=oracle, sizes=[2, 2, 3, 9], mode="nearest", coordinate_transformation_mode="align_corners")


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32])
@pytest.mark.parametrize("kw", [dict(scales=[1, 1, 2, 4]),
                                dict(sizes=[1, 2, 9, 13], coordinate_transformation_mode="align_corners"),
                                dict(scales=[1, 1, 0.5, 2], coordinate_transformation_mode="asymmetric")])
def test_resize_linear_integers(dtype, kw):
    # onnxruntime interpolates integers in float and truncates toward zero (the reference
    # rounds, so onnxruntime is the oracle). These geometries give weights that are exact
    # binary fractions, so both engines' float sums are exact and truncation agrees exactly.
    check(data((1, 2, 5, 7), dtype), tol=EXACT, mode="linear", **kw)


@pytest.mark.parametrize("opset", [11, 13, 18, 19])
@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_opsets(opset, mode):
    check(data((1, 3, 4, 6)), opset=opset, scales=[1, 1, 1.5, 0.5], mode=mode)
    check(data((1, 3, 4, 6)), opset=opset, sizes=[1, 3, 7, 5], mode=mode,
          coordinate_transformation_mode="pytorch_half_pixel")


def test_resize_opset11_tf_half_pixel_for_nn():
    check(data((1, 2, 5, 7)), opset=11, sizes=[1, 2, 8, 3], mode="nearest",
          coordinate_transformation_mode="tf_half_pixel_for_nn")


@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 0.5, 0.6], [1, 1, 1.7, 0.3], [1, 1, 2.5, 1]])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_opset10(scales, mode):
    # Opset 10: asymmetric coordinates; nearest floors when upsampling, ceils when downsampling.
    check(data((1, 2, 10, 10)), opset=10, scales=scales, mode=mode)


@pytest.mark.parametrize("opset", [7, 9])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [[1, 1, 2, 3], [1, 1, 2.5, 1.5], [1, 1, 1, 1]])
def test_upsample(opset, mode, scales):
    x = data((1, 2, 4, 5))
    if opset == 7:
        model, feed = resize_model(x, scales=scales, op="Upsample", opset=7, mode=mode)
        model.graph.node[0].input.pop()
        model.graph.ClearField("initializer")
        model.graph.node[0].attribute.append(helper.make_attribute("scales", [float(s) for s in scales]))

        assert_close(run_ei(model, feed), run_ort(model, feed)[0], **(EXACT if mode == "nearest" else TOL))
    else:
        check(x, op="Upsample", opset=9, scales=scales, mode=mode)


def test_resize_threads_match_single():
    x = data((2, 3, 40, 50))
    model, feed = resize_model(x, scales=[1, 1, 1.7, 0.6], mode="cubic")
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = 3
    np.testing.assert_array_equal(run_ei(model, feed, sess_options=so), run_ei(model, feed))
    model, feed = resize_model(x, scales=[1, 1.5, 1.7, 0.6], mode="linear")  # generic path
    np.testing.assert_array_equal(run_ei(model, feed, sess_options=so), run_ei(model, feed))


@pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.int16, np.float64])
@pytest.mark.parametrize("scales", [[1, 1, 2, 2], [1, 1, 3, 2], [1, 1, 2, 3], [1, 1, 1, 2],
                                    [1, 1, 2, 1], [1, 1, 1.5, 2]])
@pytest.mark.parametrize("threads", [1, 3])
def test_resize_nearest_integer_upsample(dtype, scales, threads):
    # The row-repeat path (integer width scale: each element k times, equal rows copied),
    # as torch's nn.Upsample exports it (asymmetric, floor), over task boundaries that fall
    # inside a group of equal rows when threaded. onnxruntime has no int16/float64 Resize.
    x = data((2, 5, 7, 9), dtype)
    oracle = "ref" if dtype in (np.int16, np.float64) else "ort"
    model, feed = resize_model(x, scales=scales, mode="nearest",
                               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    expected = (run_ort(model, feed)[0] if oracle == "ort"
                else ReferenceEvaluator(model).run(None, feed)[0])
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = threads
    np.testing.assert_array_equal(run_ei(model, feed, sess_options=so), expected)


def test_resize_nearest_yolo_upsample_threads():
    # The YOLOv8 neck's 2x upsample, large enough to be split over threads.
    x = data((1, 64, 20, 20))
    model, feed = resize_model(x, scales=[1, 1, 2, 2], mode="nearest",
                               coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = 2
    np.testing.assert_array_equal(run_ei(model, feed, sess_options=so), run_ort(model, feed)[0])


def test_resize_empty_output():
    x = data((1, 2, 3, 4))
    model, feed = resize_model(x, sizes=[1, 2, 0, 4], mode="linear")
    assert run_ei(model, feed).shape == (1, 2, 0, 4)


# ------------------------------------------------------------------ errors

def _expect(exc, fragments, x, feed_params=False, run=True, **kw):
    model, feed = resize_model(x, feed_params=feed_params, **kw)
    with pytest.raises(exc) as info:
        sess = edgeinfer.InferenceSession(model.SerializeToString())
        if run:
            sess.run(None, feed)
    for f in fragments:
        assert f in str(info.value), f"{f!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("feed_params", [False, True])
def test_resize_errors(feed_params):
    x = data((1, 2, 3, 4))
    # Initializers fail at session creation, fed parameters at run (the node is dynamic).
    _expect(edgeinfer.InvalidArgument, ["Resize", "'scales' has 3 values, expected 4"], x, feed_params,
            scales=[1, 2, 2])
    _expect(edgeinfer.InvalidArgument, ["Resize", "'sizes'", "negative"], x, feed_params, sizes=[1, 2, -1, 4])
    _expect(edgeinfer.InvalidArgument, ["Resize", "'scales' value", "> 0"], x, feed_params, scales=[1, 1, 0, 2])
    _expect(edgeinfer.InvalidArgument, ["Resize", "roi", "expected 8"], x, feed_params, roi=[0, 1], sizes=[1, 2, 3, 3],
            coordinate_transformation_mode="tf_crop_and_resize")


def test_resize_model_errors():
    x = data((1, 2, 3, 4))
    _expect(edgeinfer.InvalidModel, ["Resize", "only one of 'scales'"], x, scales=[1, 1, 2, 2], sizes=[1, 2, 6, 8])
    _expect(edgeinfer.InvalidModel, ["Resize", "'scales' and 'sizes' must be given"], x, roi=[0] * 8)
    _expect(edgeinfer.Unsupported, ["Resize", "mode", "bicubic"], x, scales=[1, 1, 2, 2], mode="bicubic")
    _expect(edgeinfer.Unsupported, ["Resize", "nearest_mode", "round"], x, scales=[1, 1, 2, 2], nearest_mode="round")
    _expect(edgeinfer.InvalidModel, ["Resize", "'axes'"], x, scales=[2, 2], axes=[2, 2])
    _expect(edgeinfer.Unsupported, ["Resize", "'x'", "cubic mode float32"], data((1, 2, 3, 4), np.int32),
            scales=[1, 1, 2, 2], mode="cubic")
    _expect(edgeinfer.Unsupported, ["Resize", "'x'", "linear mode supports"], data((1, 2, 3, 4), np.int64),
            scales=[1, 1, 2, 2], mode="linear")
    _expect(edgeinfer.InvalidModel, ["Resize", "half_pixel_symmetric", "opset 19"], x, opset=18,
            scales=[1, 1, 2, 2], coordinate_transformation_mode="half_pixel_symmetric")


def test_upsample_errors():
    x = data((1, 2, 3, 4))
    _expect(edgeinfer.InvalidArgument, ["Upsample", ">= 1"], x, op="Upsample", opset=9, scales=[1, 1, 0.5, 2])
    _expect(edgeinfer.InvalidModel, ["Upsample", "opset 10"], x, op="Upsample", opset=10, scales=[1, 1, 2, 2])


@pytest.mark.parametrize("fold", [True, False])
def test_resize_sizes_from_shape_arithmetic(fold):
    # The exporters' pattern: sizes = Concat(Shape(x)[:2], [h, w]). With optimizations the sizes
    # are known at reshape (shape arithmetic); without, the node may be dynamic. Same answer.
    x = data((2, 3, 5, 7))
    nodes = [
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Slice", ["shp", "st", "en"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear"),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "st"),
             numpy_helper.from_array(np.array([2], np.int64), "en"),
             numpy_helper.from_array(np.array([11, 4], np.int64), "hw")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 5, 7])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    so = edgeinfer.SessionOptions()
    if not fold:
        so.graph_optimization_level = edgeinfer.GraphOptimizationLevel.ORT_DISABLE_ALL
    actual = run_ei(model, {"x": x}, sess_options=so)
    assert_close(actual, run_ort(model, {"x": x})[0], **TOL)


def test_resize_pytorch_half_pixel_length_one():
    # Output length 1: the spec's formula and onnxruntime use source coordinate 0; the reference
    # evaluator uses -0.5 (which only matters for cubic), so onnxruntime is the oracle.
    check(data((1, 2, 6, 5)), sizes=[1, 2, 1, 3], mode="cubic", coordinate_transformation_mode="pytorch_half_pixel")


def _random_cases(n=120, seed=11):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        r = int(rng.integers(1, 5))
        shape = tuple(int(v) for v in rng.integers(1, 7, size=r))
        kw = dict(mode=str(rng.choice(["linear", "cubic"])),
                  coordinate_transformation_mode=str(rng.choice(["half_pixel", "align_corners", "asymmetric",
                                                                 "tf_crop_and_resize"])))
        if rng.random() < 0.5:
            kw["scales"] = [float(rng.choice([0.3, 0.5, 0.6, 1, 1.5, 2, 2.5])) for _ in shape]
        else:
            kw["sizes"] = [int(rng.integers(1, 9)) for _ in shape]
        if kw["coordinate_transformation_mode"] == "tf_crop_and_resize":
            kw["roi"] = [float(v) for v in rng.uniform(-0.2, 0.4, size=r)] + [float(v) for v in rng.uniform(0.6, 1.2, size=r)]
            kw["extrapolation_value"] = 2.0
        kw["antialias"] = int(rng.random() < 0.3)
        kw["exclude_outside"] = int(rng.random() < 0.3)
        out.append((shape, kw))
    return out


@pytest.mark.parametrize("case", range(120))
def test_resize_random_vs_reference(case):
    # Random ranks (1-4), geometries, coordinate modes, antialias and exclude_outside for linear
    # and cubic, most of which onnxruntime has no kernel for: the reference evaluator is the
    # oracle (float64 there, float32 coordinates here: 1e-4 covers it on unit-scale data).
    shape, kw = _random_cases()[case]
    check(RNG.standard_normal(shape).astype(np.float32), oracle="ref", tol=dict(rtol=1e-4, atol=1e-4), **kw)


# ------------------------------------------- Split (YOLOv8 neck/head data movement)
# Kept here with the neck's Resize; Split's general cases are in test_ops_movement.py.

@pytest.mark.parametrize("shape,axis,split", [
    ([1, 256, 40, 40], 1, [128, 128]),   # C2f halves
    ([1, 144, 80, 80], 1, [64, 80]),     # detect head: box / class channels
    ([2, 3, 70, 90], 2, [1, 68, 1]),     # several runs per outer index, ragged ranges
    ([4, 9000, 3], 0, [1, 0, 3]),        # an empty output, rows split inside a run
    ([3, 50000], 1, [49999, 1]),
])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_split_large_threads(shape, axis, split, threads):
    x = data(tuple(shape))
    outs = [f"y{i}" for i in range(len(split))]
    node = helper.make_node("Split", ["x", "s"], outs, axis=axis)
    graph = helper.make_graph([node], "split", [helper.make_tensor_value_info("x", _tt(x.dtype), shape)],
                              [helper.make_tensor_value_info(o, _tt(x.dtype), None) for o in outs],
                              [numpy_helper.from_array(np.asarray(split, np.int64), "s")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = threads
    actual = edgeinfer.InferenceSession(model.SerializeToString(), sess_options=so).run(None, {"x": x})
    expected = np.split(x, np.cumsum(split)[:-1], axis=axis)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_array_equal(a, e)
