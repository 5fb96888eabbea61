"""Whole models built with onnx.helper (random weights, fixed seeds), compared with
onnxruntime at batch 1 and then batch 8 in the SAME session (dynamic batch dimension).

Tolerance: max |edgeinfer - onnxruntime| <= 1e-4 * max |onnxruntime output|. These
networks chain up to ~10 convolutions/GEMMs whose float32 accumulation order differs
between engines (BLAS blocking, Winograd/im2col, fused BN); 1e-4 relative to the output
range leaves room for that while still catching any indexing or semantic error, which
shows up at order 1e-1.
"""
import numpy as np
import pytest
from onnx import TensorProto, helper

import edgeinfer
from ortcheck import make_model, run_ort

REL_TOL = 1e-4


class Builder:
    """Accumulates nodes and initializers with generated names."""

    def __init__(self, seed):
        self.r = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, prefix, value):
        nm = self.name(prefix)
        self.inits.append((nm, np.asarray(value)))
        return nm

    def node(self, op, inputs, **attrs):
        out = self.name(op.lower() + "_")
        self.nodes.append(helper.make_node(op, inputs, [out], name=out + "_node", **attrs))
        return out

    def conv(self, x, c_in, c_out, k, stride=1, group=1, bias=True):
        fan_in = c_in // group * k * k
        w = (self.r.standard_normal((c_out, c_in // group, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        ins = [x, self.const("w", w)]
        if bias:
            ins.append(self.const("b", (self.r.standard_normal(c_out) * 0.1).astype(np.float32)))
        p = k // 2
        return self.node("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=[p, p, p, p],
                         group=group)

    def bn(self, x, c):
        r = self.r
        return self.node("BatchNormalization", [
            x,
            self.const("scale", (1 + 0.2 * r.standard_normal(c)).astype(np.float32)),
            self.const("shift", (0.1 * r.standard_normal(c)).astype(np.float32)),
            self.const("mean", (0.1 * r.standard_normal(c)).astype(np.float32)),
            self.const("var", (0.5 + r.random(c)).astype(np.float32)),
        ], epsilon=1e-5)

    def relu(self, x):
        return self.node("Relu", [x])

    def relu6(self, x):
        # Clip with min/max as inputs (opset 11+)
        return self.node("Clip", [x, self.const("lo", np.float32(0.0)), self.const("hi", np.float32(6.0))])

    def gemm(self, x, n_in, n_out):
        w = (self.r.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        b = (0.1 * self.r.standard_normal(n_out)).astype(np.float32)
        return self.node("Gemm", [x, self.const("fc_w", w), self.const("fc_b", b)], transB=1)

    def model(self, inp, out_name, in_shape, out_shape, opset=13):
        self.nodes.append(helper.make_node("Identity", [inp], [out_name], name="output_identity"))
        return make_model(self.nodes, [("input", TensorProto.FLOAT, in_shape)],
                          [(out_name, TensorProto.FLOAT, out_shape)], self.inits, opset=opset)


def mlp():
    b = Builder(1)
    x = "input"
    for n_in, n_out in [(32, 64), (64, 64)]:
        x = b.relu(b.gemm(x, n_in, n_out))
    x = b.gemm(x, 64, 10)
    x = b.node("Softmax", [x], axis=-1)
    return b.model(x, "probs", ["batch", 32], ["batch", 10]), (32,)


def resnet_like():
    b = Builder(2)
    x = b.relu(b.bn(b.conv("input", 3, 8, 3), 8))
    x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])  # 16 -> 8
    # identity residual block
    y = b.relu(b.bn(b.conv(x, 8, 8, 3, bias=False), 8))
    y = b.bn(b.conv(y, 8, 8, 3, bias=False), 8)
    x = b.relu(b.node("Add", [x, y]))
    # downsampling block with a 1x1 strided projection
    y = b.relu(b.bn(b.conv(x, 8, 16, 3, stride=2, bias=False), 16))
    y = b.bn(b.conv(y, 16, 16, 3, bias=False), 16)
    skip = b.bn(b.conv(x, 8, 16, 1, stride=2, bias=False), 16)
    x = b.relu(b.node("Add", [skip, y]))
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1)
    x = b.gemm(x, 16, 10)
    return b.model(x, "logits", ["N", 3, 16, 16], ["N", 10]), (3, 16, 16)


def mobilenet_like():
    b = Builder(3)
    x = b.relu6(b.bn(b.conv("input", 3, 16, 3, stride=2), 16))  # 16 -> 8
    # inverted residual: expand 1x1, depthwise 3x3, project 1x1 (linear), residual add
    y = b.relu6(b.bn(b.conv(x, 16, 48, 1, bias=False), 48))
    y = b.relu6(b.bn(b.conv(y, 48, 48, 3, group=48, bias=False), 48))
    y = b.bn(b.conv(y, 48, 16, 1, bias=False), 16)
    x = b.node("Add", [x, y])
    # strided depthwise + grouped conv (4 groups)
    x = b.relu6(b.conv(x, 16, 16, 3, stride=2, group=16))  # 8 -> 4
    x = b.relu6(b.bn(b.conv(x, 16, 32, 3, group=4), 32))
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1)
    x = b.gemm(x, 32, 10)
    return b.model(x, "logits", ["batch", 3, 16, 16], ["batch", 10], opset=13), (3, 16, 16)


MODELS = {"mlp": mlp, "resnet": resnet_like, "mobilenet": mobilenet_like}


def assert_rel_close(actual, expected, what):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, what
    scale = float(np.abs(expected).max())
    err = float(np.abs(actual - expected).max())
    assert err <= REL_TOL * scale, f"{what}: max abs error {err:.3g} > {REL_TOL} * {scale:.3g}"


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(MODELS))
def test_model_batch_1_then_8(name, threads):
    model, sample_shape = MODELS[name]()
    sess = edgeinfer.InferenceSession(model, num_threads=threads)
    assert sess.get_inputs()[0].shape[0] in ("batch", "N")
    r = np.random.default_rng(100)
    for batch in (1, 8, 1):
        x = r.standard_normal((batch, *sample_shape)).astype(np.float32)
        (expected,) = run_ort(model, {"input": x})
        (actual,) = sess.run(None, {"input": x})
        assert_rel_close(actual, expected, f"{name} batch {batch}")


@pytest.mark.parametrize("name", list(MODELS))
def test_model_without_graph_optimizations(name):
    model, sample_shape = MODELS[name]()
    so = edgeinfer.SessionOptions()
    so.graph_optimization_level = edgeinfer.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = edgeinfer.InferenceSession(model, so)
    x = np.random.default_rng(5).standard_normal((8, *sample_shape)).astype(np.float32)
    assert_rel_close(sess.run(None, {"input": x})[0], run_ort(model, {"input": x})[0], f"{name} unoptimized")


def test_batch_rows_are_independent():
    """Each row of a batch-8 run equals the batch-1 run of that row (no cross-batch mixing)."""
    model, sample_shape = resnet_like()
    sess = edgeinfer.InferenceSession(model, num_threads=1)
    x = np.random.default_rng(9).standard_normal((8, *sample_shape)).astype(np.float32)
    (full,) = sess.run(None, {"input": x})
    for i in range(8):
        (one,) = sess.run(None, {"input": x[i:i + 1]})
        assert_rel_close(one[0], full[i], f"row {i}")


def test_demo_model_matches_onnxruntime():
    """The CNN shipped for the demo gives onnxruntime's probabilities on the held-out set."""
    import onnx

    from edgeinfer import demo

    x, _ = demo.load_holdout()
    sess = edgeinfer.InferenceSession(demo.MODEL_PATH)
    (actual,) = sess.run(None, {"image": x})
    (expected,) = run_ort(onnx.load(demo.MODEL_PATH), {"image": x})
    assert_rel_close(actual, expected, "digits_cnn")
