"""Detection and audio ops (NonMaxSuppression, RoiAlign, DFT, STFT, Hann/Hamming/Blackman
windows, MelWeightMatrix) against onnxruntime.

Tolerances: NonMaxSuppression indices and MelWeightMatrix are compared exactly (the same
float comparisons decide them in both engines). Windows are computed in double and rounded
once to float32: 1e-6. DFT/STFT: the FFT and onnxruntime's sum rounding errors of order
eps * log2(n) * max|X|, so rtol 1e-4 with atol 1e-4 scaled by the output's max magnitude.
RoiAlign averages a few bilinear samples: 1e-5.
"""
import pytest

from ortcheck import TensorProto, assert_close, check_model, helper, make_model, np, run_ei

import edgeinfer

F, I64, I32, F64 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.DOUBLE


def out(name, rank, elem=F):
    return helper.make_tensor_value_info(name, elem, [None] * rank)


def expect_error(exc, fragment, model, feed):
    with pytest.raises(exc) as info:
        run_ei(model, feed)
    assert fragment in str(info.value), str(info.value)


def check_reference(model, feed, rtol, atol):
    """Compares with onnx.reference.ReferenceEvaluator, for cases onnxruntime has no kernel for."""
    from onnx.reference import ReferenceEvaluator
    expected = ReferenceEvaluator(model).run(None, feed)
    actual = run_ei(model, feed)
    for a, e in zip(actual, expected):
        assert_close(a, np.asarray(e), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- NonMaxSuppression

def random_boxes(rng, b, n, center):
    xy = rng.uniform(0, 10, size=[b, n, 2])
    wh = rng.uniform(0.5, 4, size=[b, n, 2])
    if center:
        return np.concatenate([xy, wh], axis=2).astype(np.float32)
    # [y1, x1, y2, x2], some with flipped corners
    boxes = np.concatenate([xy, xy + wh], axis=2)
    flip = rng.random([b, n]) < 0.3
    boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    return boxes.astype(np.float32)


def nms_model(opset=11, inputs=("max", "iou", "thr"), consts=None, **attrs):
    names = ["boxes", "scores"] + [n if n else "" for n in inputs]
    node = helper.make_node("NonMaxSuppression", names, ["y"], name="nms", **attrs)
    decl = [("boxes", F, [None] * 3), ("scores", F, [None] * 3)]
    types = {"max": I64, "iou": F, "thr": F}
    decl += [(n, types[n], [1]) for n in inputs if n and not (consts and n in consts)]
    inits = [(n, v) for n, v in (consts or {}).items()]
    return make_model([node], decl, [out("y", 2, I64)], inits, opset=opset)


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("b,c,n", [(1, 1, 6), (2, 3, 20), (1, 4, 50)])
@pytest.mark.parametrize("max_out,iou,thr", [(3, 0.5, 0.0), (100, 0.3, 0.4), (2, 0.0, 0.2), (10, 1.0, 0.0)])
def test_nms(rng, center, b, c, n, max_out, iou, thr):
    boxes = random_boxes(rng, b, n, center)
    scores = rng.random([b, c, n]).astype(np.float32)
    scores[..., 1] = scores[..., 0]  # a tie: the lower box index comes first
    m = nms_model(center_point_box=center)
    feed = {"boxes": boxes, "scores": scores, "max": np.array([max_out], np.int64),
            "iou": np.array([iou], np.float32), "thr": np.array([thr], np.float32)}
    check_model(m, feed, rtol=0, atol=0)


@pytest.mark.parametrize("opset", [10, 11])
def test_nms_optional_inputs(rng, opset):
    boxes = random_boxes(rng, 1, 12, 0)
    scores = rng.random([1, 2, 12]).astype(np.float32)
    feed = {"boxes": boxes, "scores": scores, "max": np.array([4], np.int64)}
    # no score_threshold; iou_threshold omitted (0): any overlap suppresses
    check_model(nms_model(opset, inputs=("max",)), feed, rtol=0, atol=0)
    feed["iou"] = np.array([0.5], np.float32)
    check_model(nms_model(opset, inputs=("max", "iou")), feed, rtol=0, atol=0)
    # no max_output_boxes_per_class: nothing is selected, output [0, 3]
    y = check_model(nms_model(opset, inputs=()), {"boxes": boxes, "scores": scores}, rtol=0, atol=0)
    assert y[0].shape == (0, 3)


def test_nms_constant_params_and_consumer(rng):
    """Constant thresholds, and a node after NMS that reads its data-dependent output."""
    boxes = random_boxes(rng, 1, 30, 1)
    scores = rng.random([1, 3, 30]).astype(np.float32)
    consts = {"max": np.array([5], np.int64), "iou": np.array([0.4], np.float32),
              "thr": np.array([0.2], np.float32)}
    nodes = [helper.make_node("NonMaxSuppression", ["boxes", "scores", "max", "iou", "thr"], ["sel"],
                              name="nms", center_point_box=1),
             helper.make_node("Shape", ["sel"], ["y"], name="shape")]
    m = make_model(nodes, [("boxes", F, [1, 30, 4]), ("scores", F, [1, 3, 30])], [out("y", 1, I64)],
                   list(consts.items()), opset=11)
    check_model(m, {"boxes": boxes, "scores": scores}, rtol=0, atol=0)


def test_nms_errors(rng):
    boxes = random_boxes(rng, 1, 5, 0)
    m = nms_model()
    feed = {"boxes": boxes, "scores": rng.random([1, 2, 6]).astype(np.float32),
            "max": np.array([4], np.int64), "iou": np.array([0.5], np.float32),
            "thr": np.array([0.0], np.float32)}
    expect_error(edgeinfer.InvalidArgument, "node 'nms' (NonMaxSuppression): boxes 'boxes'", m, feed)
    feed["scores"] = rng.random([1, 2, 5]).astype(np.float32)
    feed["iou"] = np.array([1.5], np.float32)
    expect_error(edgeinfer.InvalidArgument, "iou_threshold 'iou'", m, feed)
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["y"], name="nms2", center_point_box=2)
    m = make_model([node], [("boxes", F, [1, 5, 4]), ("scores", F, [1, 2, 5])], [out("y", 2, I64)], opset=11)
    expect_error(edgeinfer.InvalidModel, "center_point_box", m, {"boxes": boxes, "scores": feed["scores"]})


# -------------------------------------------------------------------------- windows

@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
@pytest.mark.parametrize("size", [0, 1, 2, 10, 33])
@pytest.mark.parametrize("dtype", [F, F64])
def test_window(op, periodic, size, dtype):
    # size 1 symmetric is 0/0 by the ONNX formula: NaN in both engines (compared as equal)
    node = helper.make_node(op, ["n"], ["y"], name="win", periodic=periodic, output_datatype=dtype)
    m = make_model([node], [("n", I64, [])], [out("y", 1, dtype)])
    check_model(m, {"n": np.array(size, np.int64)}, rtol=1e-6, atol=1e-6)


def test_window_constant_size_int32():
    node = helper.make_node("HannWindow", ["n"], ["w"], name="win")
    add = helper.make_node("Add", ["w", "x"], ["y"], name="add")
    m = make_model([node, add], [("x", F, [16])], [out("y", 1)], [("n", np.array(16, np.int32))])
    x = np.arange(16, dtype=np.float32)
    check_model(m, {"x": x}, rtol=1e-6, atol=1e-6)


def test_window_errors():
    node = helper.make_node("HannWindow", ["n"], ["y"], name="winbad")
    m = make_model([node], [("n", I64, [])], [out("y", 1)])
    expect_error(edgeinfer.InvalidArgument, "node 'winbad' (HannWindow): input size 'n' = -3", m,
                 {"n": np.array(-3, np.int64)})
    node = helper.make_node("HannWindow", ["n"], ["y"], name="win16", output_datatype=TensorProto.FLOAT16)
    m = make_model([node], [("n", I64, [])], [out("y", 1, TensorProto.FLOAT16)])
    expect_error(edgeinfer.Unsupported, "output_datatype", m, {"n": np.array(3, np.int64)})


# ------------------------------------------------------------------------------ DFT

DFT_RTOL, DFT_ATOL = 1e-4, 1e-4


def dft_model(shape, opset, axis, inverse=0, onesided=0, length=None, const=True):
    ins, decl, inits = ["x"], [("x", F, shape)], []
    if length is not None or (opset >= 20 and axis is not None):
        ins.append("len" if length is not None else "")
        if length is not None:
            if const:
                inits.append(("len", np.array(length, np.int64)))
            else:
                decl.append(("len", I64, []))
    attrs = dict(inverse=inverse, onesided=onesided)
    if opset >= 20:
        if axis is not None:
            ins.append("axis")
            if const:
                inits.append(("axis", np.array(axis, np.int64)))
            else:
                decl.append(("axis", I64, []))
    elif axis is not None:
        attrs["axis"] = axis
    node = helper.make_node("DFT", ins, ["y"], name="dft", **attrs)
    return make_model([node], decl, [out("y", len(shape))], inits, opset=opset)


DFT_CASES = [
    # (shape, axis, length)
    ([2, 8, 1], 1, None),      # power of two, real
    ([2, 16, 2], 1, None),     # power of two, complex
    ([3, 10, 1], 1, None),     # direct path
    ([2, 7, 2], 1, None),
    ([2, 12, 1], 1, 16),       # zero-padded to a power of two
    ([2, 12, 2], 1, 5),        # truncated
    ([2, 6, 4, 1], 1, None),   # axis with an inner dim after it
    ([2, 6, 4, 2], 2, 8),
    ([1, 256, 1], 1, None),
]


@pytest.mark.parametrize("shape,axis,length", DFT_CASES)
@pytest.mark.parametrize("inverse,onesided", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("opset", [17, 20])
def test_dft(rng, shape, axis, length, inverse, onesided, opset):
    x = rng.standard_normal(shape).astype(np.float32)
    # opset 20 counts axis from the back by default: pass the same axis explicitly
    m = dft_model(shape, opset, axis, inverse, onesided, length)
    if inverse and onesided:
        # irfft (one-sided Hermitian bins in, real samples out): onnxruntime rejects it, ONNX's
        # reference (numpy.fft.irfft in float64, then float32) defines it
        check_reference(m, {"x": x}, rtol=DFT_RTOL, atol=DFT_ATOL)
        return
    if onesided and shape[-1] == 2:
        # onesided output is defined for real input only (ONNX shape inference rejects it)
        expect_error(edgeinfer.InvalidArgument, "onesided DFT needs real input", m, {"x": x})
        return
    check_model(m, {"x": x}, rtol=DFT_RTOL, atol=DFT_ATOL, num_threads=2)


@pytest.mark.parametrize("opset", [17, 20])
def test_dft_runtime_length(rng, opset):
    """dft_length (and axis) as graph inputs: the output shape is known only at run."""
    x = rng.standard_normal([2, 9, 1]).astype(np.float32)
    m = dft_model([2, 9, 1], opset, 1, length=12, const=False)
    feed = {"x": x, "len": np.array(12, np.int64)}
    if opset >= 20:
        feed["axis"] = np.array(-2, np.int64)
    check_model(m, feed, rtol=DFT_RTOL, atol=DFT_ATOL)
    feed["len"] = np.array(8, np.int64)
    check_model(m, feed, rtol=DFT_RTOL, atol=DFT_ATOL)


def test_dft_default_axis(rng):
    """Opset 17's default axis is 1, opset 20's is -2."""
    x = rng.standard_normal([3, 4, 6, 2]).astype(np.float32)
    for opset in (17, 20):
        node = helper.make_node("DFT", ["x"], ["y"], name="dft")
        m = make_model([node], [("x", F, x.shape)], [out("y", 4)], opset=opset)
        check_model(m, {"x": x}, rtol=DFT_RTOL, atol=DFT_ATOL)


def test_dft_errors(rng):
    x = rng.standard_normal([2, 8, 3]).astype(np.float32)
    m = dft_model([2, 8, 3], 17, 1)
    expect_error(edgeinfer.InvalidArgument, "node 'dft' (DFT): input 'x' has shape [2,8,3]", m, {"x": x})
    x = rng.standard_normal([2, 8, 1]).astype(np.float32)
    m = dft_model([2, 8, 1], 17, 2)
    expect_error(edgeinfer.InvalidArgument, "axis 2 is out of range", m, {"x": x})
    m = dft_model([2, 8, 1], 20, 1, length=0, const=False)
    expect_error(edgeinfer.InvalidArgument, "dft_length 0", m,
                 {"x": x, "len": np.array(0, np.int64), "axis": np.array(1, np.int64)})


# ----------------------------------------------------------------------------- STFT

def stft_model(sig_shape, step, win_len=None, frame_length=None, onesided=1, const=True):
    ins, decl, inits = ["x", "step"], [("x", F, sig_shape)], []
    (inits.append(("step", np.array(step, np.int64))) if const else decl.append(("step", I64, [])))
    if win_len is not None:
        ins.append("w")
        decl.append(("w", F, [win_len]))
    else:
        ins.append("")
    if frame_length is not None:
        ins.append("fl")
        (inits.append(("fl", np.array(frame_length, np.int64))) if const else decl.append(("fl", I64, [])))
    node = helper.make_node("STFT", ins, ["y"], name="stft", onesided=onesided)
    return make_model([node], decl, [out("y", 4)], inits, opset=17)


STFT_CASES = [
    # (signal shape, step, window length, frame_length)
    ([1, 64, 1], 8, 16, None),
    ([2, 100, 1], 10, 32, 32),
    ([1, 50, 1], 7, None, 12),    # no window: rectangular
    ([2, 40, 1], 5, 10, None),    # non-power-of-two frames
    ([1, 30, 2], 4, 8, None),     # complex signal (onesided=0 only)
    ([1, 512, 1], 128, 256, None),
]


@pytest.mark.parametrize("shape,step,win_len,flen", STFT_CASES)
@pytest.mark.parametrize("onesided", [0, 1])
@pytest.mark.parametrize("const", [True, False])
def test_stft(rng, shape, step, win_len, flen, onesided, const):
    x = rng.standard_normal(shape).astype(np.float32)
    m = stft_model(shape, step, win_len, flen, onesided, const)
    feed = {"x": x}
    if win_len is not None:
        feed["w"] = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_len) / win_len)).astype(np.float32)
    if not const:
        feed["step"] = np.array(step, np.int64)
        if flen is not None:
            feed["fl"] = np.array(flen, np.int64)
    if onesided and shape[-1] == 2:
        expect_error(edgeinfer.InvalidArgument, "onesided STFT needs a real signal", m, feed)
        return
    check_model(m, feed, rtol=DFT_RTOL, atol=DFT_ATOL, num_threads=2)


def test_stft_errors(rng):
    x = rng.standard_normal([1, 20, 1]).astype(np.float32)
    m = stft_model([1, 20, 1], 4, 8, 6)
    expect_error(edgeinfer.InvalidArgument, "node 'stft' (STFT): window 'w' has 8 samples but frame_length 'fl' is 6",
                 m, {"x": x, "w": np.ones(8, np.float32)})
    m = stft_model([1, 20, 1], 0, 8)
    expect_error(edgeinfer.InvalidArgument, "frame_step 'step' = 0", m, {"x": x, "w": np.ones(8, np.float32)})
    m = stft_model([1, 20, 1], 4, 32)
    expect_error(edgeinfer.InvalidArgument, "frame length 32 is out of range", m, {"x": x, "w": np.ones(32, np.float32)})


# ------------------------------------------------------------------ MelWeightMatrix

MEL_CASES = [
    # (num_mel_bins, dft_length, sample_rate, lower_hz, upper_hz)
    (8, 16, 8192, 0.0, 4096.0),
    (10, 64, 16000, 20.0, 8000.0),
    (40, 512, 16000, 0.0, 8000.0),
    (80, 400, 16000, 125.0, 7600.0),
    (20, 7, 1000, 100.0, 400.0),   # odd dft_length, several filters collapse onto one bin
]


@pytest.mark.parametrize("nmel,dft,sr,lo,hi", MEL_CASES)
@pytest.mark.parametrize("dtype", [F, F64])
@pytest.mark.parametrize("const", [True, False])
def test_mel_weight_matrix(nmel, dft, sr, lo, hi, dtype, const):
    vals = {"nmel": np.array(nmel, np.int64), "dft": np.array(dft, np.int64), "sr": np.array(sr, np.int64),
            "lo": np.array(lo, np.float32), "hi": np.array(hi, np.float32)}
    types = {"nmel": I64, "dft": I64, "sr": I64, "lo": F, "hi": F}
    node = helper.make_node("MelWeightMatrix", list(vals), ["y"], name="mel", output_datatype=dtype)
    if const:
        m = make_model([node], [], [out("y", 2, dtype)], list(vals.items()))
        feed = {}
    else:
        m = make_model([node], [(n, types[n], []) for n in vals], [out("y", 2, dtype)])
        feed = vals
    check_model(m, feed, rtol=1e-6, atol=1e-7)


def test_mel_weight_matrix_errors():
    vals = {"nmel": np.array(0, np.int64), "dft": np.array(16, np.int64), "sr": np.array(8000, np.int64),
            "lo": np.array(0, np.float32), "hi": np.array(4000, np.float32)}
    types = {"nmel": I64, "dft": I64, "sr": I64, "lo": F, "hi": F}
    node = helper.make_node("MelWeightMatrix", list(vals), ["y"], name="melbad")
    m = make_model([node], [(n, types[n], []) for n in vals], [out("y", 2)])
    expect_error(edgeinfer.InvalidArgument, "node 'melbad' (MelWeightMatrix): num_mel_bins = 0", m, vals)


# ------------------------------------------------------------------------- RoiAlign

def roi_model(xs, n_rois, opset=16, **attrs):
    node = helper.make_node("RoiAlign", ["x", "rois", "bi"], ["y"], name="roi", **attrs)
    return make_model([node], [("x", F, xs), ("rois", F, [n_rois, 4]), ("bi", I64, [n_rois])],
                      [out("y", 4)], opset=opset)


def random_rois(rng, n, h, w, scale):
    p = rng.uniform(-2, 1, size=[n, 2]) * 1.0
    p[:, 0] = rng.uniform(-1, w / scale, size=n)
    p[:, 1] = rng.uniform(-1, h / scale, size=n)
    size = rng.uniform(0.2, 6, size=[n, 2]) / scale
    rois = np.concatenate([p, p + size], axis=1).astype(np.float32)
    rois[0] = [0, 0, w / scale, h / scale]  # the whole image
    return rois


ROI_CASES = [
    # (x shape, rois, attrs)
    ([1, 2, 8, 8], 5, dict(output_height=2, output_width=2)),
    ([2, 3, 10, 7], 6, dict(output_height=3, output_width=4, sampling_ratio=2)),
    ([2, 3, 10, 7], 6, dict(output_height=3, output_width=2, spatial_scale=0.5)),
    ([1, 4, 16, 16], 4, dict(output_height=5, output_width=5, sampling_ratio=0, spatial_scale=0.25)),
    ([1, 1, 5, 6], 3, dict()),
]


@pytest.mark.parametrize("xs,n,attrs", ROI_CASES)
@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("ctm,opset", [("half_pixel", 16), ("output_half_pixel", 16), (None, 10), (None, 16)])
def test_roi_align(rng, xs, n, attrs, mode, ctm, opset):
    attrs = dict(attrs, mode=mode)
    if ctm:
        attrs["coordinate_transformation_mode"] = ctm
    x = rng.standard_normal(xs).astype(np.float32)
    rois = random_rois(rng, n, xs[2], xs[3], attrs.get("spatial_scale", 1.0))
    bi = rng.integers(0, xs[0], size=[n]).astype(np.int64)
    check_model(roi_model(xs, n, opset, **attrs), {"x": x, "rois": rois, "bi": bi}, rtol=1e-5, atol=1e-5,
                num_threads=2)


def test_roi_align_errors(rng):
    x = rng.standard_normal([2, 1, 4, 4]).astype(np.float32)
    rois = np.array([[0, 0, 2, 2], [1, 1, 3, 3]], np.float32)
    m = roi_model([2, 1, 4, 4], 2)
    expect_error(edgeinfer.IndexOutOfRange, "node 'roi' (RoiAlign): batch_indices 'bi'[1] = 2", m,
                 {"x": x, "rois": rois, "bi": np.array([0, 2], np.int64)})
    rois[0, 2] = np.nan
    expect_error(edgeinfer.InvalidArgument, "rois 'rois'[0]", m,
                 {"x": x, "rois": rois, "bi": np.array([0, 1], np.int64)})
    node = helper.make_node("RoiAlign", ["x", "rois", "bi"], ["y"], name="roim", mode="min")
    m = make_model([node], [("x", F, [2, 1, 4, 4]), ("rois", F, [2, 4]), ("bi", I64, [2])], [out("y", 4)], opset=16)
    expect_error(edgeinfer.InvalidModel, "attribute 'mode' = 'min'", m,
                 {"x": x, "rois": rois, "bi": np.array([0, 1], np.int64)})
