"""Conv and FusedConv through the direct path for few input channels (ops/conv_direct.c,
kernel slot f32_conv2d_direct: 16 output channels per vector). EI_CONV_DIRECT=1 forces it
on every eligible conv (2-D, one group, dilation 1) whatever the ISA, so the scalar
reference runs here too when the CPU has no AVX2; =0 turns it off. Compared with
onnxruntime on the plain Conv graph: 1-4 input channels, first-layer shapes (3x3 and 7x7,
stride 2), widths around the 8- and 16-pixel blocks, output channels ending inside a
16-channel block, asymmetric pads, batches, every epilogue, 1-3 threads.

Tolerance: ortcheck's default (1e-5 of the output's magnitude): the sums are the same
27..196 float32 products as a direct convolution's, in another order.
"""
import numpy as np
import pytest

from ortcheck import assert_close, run_ei, run_ort
from test_fused_conv import ACTS, models

CASES = [  # (x shape, w shape, attrs)
    ([1, 3, 32, 32], [16, 3, 3, 3], dict(pads=[1, 1, 1, 1], strides=[2, 2])),   # MobileNet stem
    ([1, 3, 45, 47], [64, 3, 7, 7], dict(pads=[3, 3, 3, 3], strides=[2, 2])),   # ResNet stem
    ([2, 3, 19, 33], [32, 3, 3, 3], dict(strides=[2, 2])),                      # no pads, batch 2
    ([1, 1, 9, 17], [35, 1, 3, 5], dict(pads=[2, 0, 1, 3])),                    # 35 channels
    ([1, 4, 11, 16], [8, 4, 1, 1], {}),                                         # 1x1
    ([1, 2, 7, 40], [24, 2, 5, 3], dict(pads=[1, 1, 1, 1], strides=[3, 1])),
    ([1, 3, 1, 1], [16, 3, 3, 3], dict(pads=[1, 1, 1, 1])),                     # 1x1 image
]


@pytest.fixture
def direct(monkeypatch):
    monkeypatch.setenv("EI_CONV_DIRECT", "1")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("xs,ws,attrs", CASES)
def test_direct_conv(direct, xs, ws, attrs, threads):
    _, plain, feed = models(xs, ws, attrs, "", bias=True, residual=False)
    (e,) = run_ort(plain, feed)
    (y,) = run_ei(plain, feed, num_threads=threads)
    assert_close(y, e)


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("bias,residual", [(True, True), (False, False)])
def test_direct_epilogue(direct, act, bias, residual):
    fused, plain, feed = models([1, 3, 21, 37], [20, 3, 3, 3], dict(pads=[1, 1, 1, 1], strides=[2, 2]),
                                act, bias=bias, residual=residual)
    (e,) = run_ort(plain, feed)
    (y,) = run_ei(fused, feed, num_threads=2)
    assert_close(y, e)


def test_direct_is_the_default_for_rgb_stems(monkeypatch):
    """Where the CPU has AVX2 or AVX-512 the default takes the direct path for a 3-channel
    stem (its rounding differs from the GEMM path's); elsewhere the GEMM path."""
    import edgeinfer
    fused, plain, feed = models([1, 3, 64, 64], [32, 3, 3, 3], dict(pads=[1, 1, 1, 1], strides=[2, 2]),
                                "Relu", bias=True, residual=False)
    (e,) = run_ort(plain, feed)
    (auto,) = run_ei(fused, feed)
    monkeypatch.setenv("EI_CONV_DIRECT", "0")
    (gemm,) = run_ei(fused, feed)
    assert_close(auto, e)
    assert_close(gemm, e)
    if edgeinfer.get_isa() in ("avx2", "avx512"):
        assert not np.array_equal(auto, gemm), "the default should be the direct path here"
    else:
        np.testing.assert_array_equal(auto, gemm)


@pytest.mark.parametrize("sizes", [[(64, 64), (8, 8), (64, 64), (1, 30)], [(8, 8), (64, 64)]])
def test_direct_input_size_changes(sizes):
    """Free spatial dims: once W is released after packing for the direct path, narrower
    inputs (which alone would take the GEMM path) stay on it; and the other way round."""
    import edgeinfer
    from onnx import TensorProto, helper
    from ortcheck import make_model
    w = np.random.default_rng(1).standard_normal((16, 3, 3, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    model = make_model([node], [("x", TensorProto.FLOAT, [1, 3, "h", "w"])],
                       [("y", TensorProto.FLOAT, [1, 16, "h", "w"])], [("w", w)])
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = 2
    sess = edgeinfer.InferenceSession(model.SerializeToString(), so)
    for i, hw in enumerate(sizes):
        x = np.random.default_rng(2 + i).standard_normal((1, 3) + hw).astype(np.float32)
        (e,) = run_ort(model, {"x": x})
        assert_close(sess.run(None, {"x": x})[0], e, what=f"{hw}")
