"""Conv and FusedConv through the Winograd F(4x4, 3x3) path (ops/conv_winograd.c): 2-D,
3x3, stride 1, dilation 1, one group, constant W. EI_CONV_WINOGRAD=1 forces it on every
eligible conv (=0 turns it off), so the cases below run on it whatever the planner's
heuristic would pick: outputs that do not fill the 4x4 tiles, asymmetric and zero pads,
SAME padding, batches, every epilogue (bias, residual, activations), 1-3 threads, tile
rows longer than the kernels' 64-tile chunks, and input sizes that change between runs.
Each is compared with onnxruntime on the plain Conv graph.

Tolerance: 5e-5 of the output's magnitude (ortcheck's default is 1e-5). The transforms
multiply inputs by up to 5x5 and weights by 1/24..1, so the rounding of the 36-term sums
grows to a few 1e-6 of the magnitude at 64 channels and ~1e-5 at 512 (measured against
onnxruntime's direct convolution); the test that the heuristic picks Winograd on a
ResNet layer checks its error stays below 2e-5 there.
"""
import numpy as np
import pytest
from onnx import TensorProto, helper

from ortcheck import assert_close, make_model, run_ei, run_ort
from test_fused_conv import ACTS, models, rand

F = TensorProto.FLOAT
TOL = 5e-5

CASES = [  # (x shape, w shape, pads)
    ([1, 8, 16, 16], [8, 8, 3, 3], [1, 1, 1, 1]),
    ([2, 16, 13, 11], [24, 16, 3, 3], [0, 1, 2, 1]),   # batch 2, asymmetric pads
    ([1, 16, 5, 5], [16, 16, 3, 3], [0, 0, 0, 0]),     # 3x3 output: one partial tile
    ([1, 8, 1, 1], [8, 8, 3, 3], [1, 1, 1, 1]),        # 1x1 input and output
    ([1, 3, 9, 70], [5, 3, 3, 3], [1, 1, 1, 1]),       # few channels, wide rows
    ([1, 12, 6, 270], [16, 12, 3, 3], [2, 1, 0, 2]),   # > 64 tiles per tile row
    ([1, 40, 21, 23], [36, 40, 3, 3], [1, 2, 1, 0]),   # channels not a multiple of the panel
]


@pytest.fixture
def winograd(monkeypatch):
    monkeypatch.setenv("EI_CONV_WINOGRAD", "1")


def check(fused, plain, feed, threads=1):
    (e,) = run_ort(plain, feed)
    (y,) = run_ei(fused, feed, num_threads=threads)
    assert_close(y, e, rtol=TOL, atol=TOL)
    return y


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("xs,ws,pads", CASES)
def test_winograd_conv(winograd, xs, ws, pads, threads):
    _, plain, feed = models(xs, ws, dict(pads=pads), "", bias=True, residual=False)
    check(plain, plain, feed, threads)  # the ONNX Conv itself


@pytest.mark.parametrize("act", list(ACTS))
def test_winograd_epilogue(winograd, act):
    """Every activation with bias and residual Z, at 2 threads (blocks split in two)."""
    fused, plain, feed = models([1, 16, 18, 19], [24, 16, 3, 3], dict(pads=[1, 1, 1, 1]), act,
                                bias=True, residual=True)
    check(fused, plain, feed, threads=2)


@pytest.mark.parametrize("bias,residual", [(False, False), (False, True), (True, True)])
def test_winograd_inputs(winograd, bias, residual):
    fused, plain, feed = models([2, 8, 9, 14], [16, 8, 3, 3], dict(pads=[1, 0, 1, 1]), "Relu",
                                bias=bias, residual=residual)
    check(fused, plain, feed, threads=3)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID"])
def test_winograd_auto_pad(winograd, auto_pad):
    x = rand([1, 8, 10, 13], seed=3)
    w = rand([8, 8, 3, 3], seed=1, scale=0.3)
    node = helper.make_node("Conv", ["x", "w"], ["y"], auto_pad=auto_pad)
    out = [1, 8, 8, 11] if auto_pad == "VALID" else [1, 8, 10, 13]
    model = make_model([node], [("x", F, x.shape)], [("y", F, out)], [("w", w)])
    (e,) = run_ort(model, {"x": x})
    (y,) = run_ei(model, {"x": x}, num_threads=2)
    assert_close(y, e, rtol=TOL, atol=TOL)


def test_winograd_chosen_on_resnet_layer(monkeypatch):
    """The default heuristic takes Winograd on a ResNet 64-channel 56x56 layer (the result
    differs in its last bits from the im2col path's) within 2e-5 of onnxruntime."""
    fused, plain, feed = models([1, 64, 56, 56], [64, 64, 3, 3], dict(pads=[1, 1, 1, 1]), "Relu",
                                bias=True, residual=True)
    (e,) = run_ort(plain, feed)
    (auto,) = run_ei(fused, feed, num_threads=2)
    assert_close(auto, e, rtol=2e-5, atol=2e-5)
    monkeypatch.setenv("EI_CONV_WINOGRAD", "0")
    (direct,) = run_ei(fused, feed, num_threads=2)
    assert_close(direct, e)
    assert not np.array_equal(auto, direct), "the default path should be Winograd here"


def test_winograd_not_chosen_on_small_planes(monkeypatch):
    """7x7 outputs (4 tiles) stay on the im2col GEMM by default: bitwise the same as with
    Winograd turned off."""
    fused, plain, feed = models([1, 64, 7, 7], [64, 64, 3, 3], dict(pads=[1, 1, 1, 1]), "Relu",
                                bias=True, residual=False)
    (auto,) = run_ei(fused, feed)
    monkeypatch.setenv("EI_CONV_WINOGRAD", "0")
    (direct,) = run_ei(fused, feed)
    np.testing.assert_array_equal(auto, direct)


def test_winograd_input_size_changes():
    """A model with free spatial dims: the plan (and after the first run, with W possibly
    released once packed, the packing) must follow each new size; sizes alternate between
    ones the heuristic sends to Winograd and ones it does not."""
    import edgeinfer
    w = rand([32, 16, 3, 3], seed=1, scale=0.3)
    b = rand([32], seed=2)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])
    model = make_model([node], [("x", F, [1, 16, "h", "w"])], [("y", F, [1, 32, "h", "w"])],
                       [("w", w), ("b", b)])
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = 2
    sess = edgeinfer.InferenceSession(model.SerializeToString(), so)
    for i, (h, wd) in enumerate([(40, 40), (6, 7), (33, 65), (40, 40), (2, 3)]):
        x = rand([1, 16, h, wd], seed=10 + i)
        (e,) = run_ort(model, {"x": x})
        assert_close(sess.run(None, {"x": x})[0], e, rtol=TOL, atol=TOL, what=f"{h}x{wd}")
