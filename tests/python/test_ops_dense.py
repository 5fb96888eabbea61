"""Dense ops (Conv, Gemm, MatMul, BatchNormalization, MaxPool, AveragePool,
GlobalAveragePool) against onnxruntime, plus their error messages.

Tolerance: rtol 1e-4, atol 1e-5 (scaled by the output's max magnitude, see ortcheck).
Convolutions and matrix products sum up to a few hundred float32 products in a
different order (im2col + BLAS blocking vs onnxruntime's MLAS), which moves results by
a few ulps times sqrt(K); 1e-4 relative leaves a wide margin while still catching any
wrong tap, pad or index. Pooling max and Indices are exact (compared bit for bit).
"""
import pytest

from ortcheck import (TensorProto, assert_close, check_model, helper, make_model, np, run_ei,
                      run_ort)

import edgeinfer

F = TensorProto.FLOAT
RTOL, ATOL = 1e-4, 1e-5


def out(name, rank, elem=F):
    """Output declaration of known rank with dynamic dims (the checker wants a shape)."""
    return helper.make_tensor_value_info(name, elem, [None] * rank)


def rand(shape, seed=0, lo=-1.0, hi=1.0):
    rng = np.random.default_rng(seed + 7 * len(shape) + int(np.prod(shape, dtype=np.int64)))
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def check(model, feed, threads=1, exact=False):
    if exact:
        return check_model(model, feed, rtol=0, atol=0, num_threads=threads)
    return check_model(model, feed, rtol=RTOL, atol=ATOL, num_threads=threads)


def expect_error(exc, fragment, model, feed):
    with pytest.raises(exc) as info:
        run_ei(model, feed)
    assert fragment in str(info.value), str(info.value)
    assert isinstance(info.value, edgeinfer.EdgeInferError)


# --------------------------------------------------------------------------- Conv

def conv_model(xs, ws, bias=True, opset=17, w_const=True, **attrs):
    names = ["x", "w"] + (["b"] if bias else [])
    inputs = [("x", F, xs)]
    inits = []
    feed_extra = {}
    w = rand(ws, seed=1)
    if w_const:
        inits.append(("w", w))
    else:
        inputs.append(("w", F, ws))
        feed_extra["w"] = w
    if bias:
        inits.append(("b", rand([ws[0]], seed=2)))
    node = helper.make_node("Conv", names, ["y"], name="conv1", **attrs)
    return make_model([node], inputs, [out("y", len(xs))], inits, opset=opset), feed_extra


CONV_CASES = [
    # (x shape, w shape, attrs, bias)
    ([1, 3, 7, 7], [4, 3, 3, 3], {}, True),
    ([1, 3, 7, 7], [4, 3, 3, 3], dict(pads=[1, 1, 1, 1]), True),
    ([2, 3, 8, 9], [5, 3, 3, 3], dict(pads=[1, 1, 1, 1], strides=[2, 2]), True),
    ([1, 2, 9, 9], [3, 2, 3, 3], dict(dilations=[2, 2], pads=[2, 2, 2, 2]), False),
    ([1, 2, 10, 7], [3, 2, 3, 2], dict(dilations=[2, 3], strides=[3, 1], pads=[0, 1, 2, 3]), True),
    ([1, 4, 6, 6], [6, 2, 3, 3], dict(group=2, pads=[1, 1, 1, 1]), True),
    ([2, 6, 5, 5], [6, 2, 1, 1], dict(group=3), True),
    # depthwise (channel multiplier 1), with stride/pad/dilation variants
    ([1, 8, 9, 9], [8, 1, 3, 3], dict(group=8, pads=[1, 1, 1, 1]), True),
    ([2, 5, 11, 8], [5, 1, 3, 3], dict(group=5, strides=[2, 2], pads=[1, 0, 1, 2]), True),
    ([1, 4, 12, 12], [4, 1, 5, 3], dict(group=4, strides=[2, 1], auto_pad="SAME_UPPER"), False),
    ([1, 3, 6, 6], [3, 1, 3, 3], dict(group=3, strides=[3, 3], pads=[2, 2, 2, 2]), True),
    # depthwise with channel multiplier 2: im2col path
    ([1, 3, 6, 6], [6, 1, 3, 3], dict(group=3, pads=[1, 1, 1, 1]), True),
    # 1x1: direct GEMM, and 1x1 with stride / pad (im2col)
    ([2, 16, 5, 7], [8, 16, 1, 1], {}, True),
    ([1, 4, 7, 7], [3, 4, 1, 1], dict(strides=[2, 2]), True),
    ([1, 4, 3, 3], [3, 4, 1, 1], dict(pads=[1, 0, 0, 1]), False),
    # auto_pad
    ([1, 2, 7, 8], [3, 2, 3, 3], dict(auto_pad="SAME_UPPER", strides=[2, 2]), True),
    ([1, 2, 7, 8], [3, 2, 4, 4], dict(auto_pad="SAME_LOWER", strides=[2, 3]), True),
    ([1, 2, 7, 8], [3, 2, 4, 2], dict(auto_pad="SAME_UPPER"), True),
    ([1, 2, 7, 8], [3, 2, 3, 3], dict(auto_pad="VALID", strides=[2, 2]), True),
    ([1, 2, 8, 8], [3, 2, 1, 2], dict(auto_pad="SAME_UPPER", strides=[3, 4]), True),  # pad < 0 -> 0
    ([1, 2, 7, 8], [3, 2, 3, 3], dict(auto_pad="NOTSET", kernel_shape=[3, 3]), True),
    # size-1 dims, kernel as big as the input
    ([1, 1, 1, 1], [1, 1, 1, 1], {}, True),
    ([1, 1, 5, 1], [2, 1, 3, 1], dict(pads=[1, 0, 1, 0]), True),
    ([3, 2, 4, 4], [1, 2, 4, 4], {}, True),
    # 1-D
    ([2, 3, 17], [4, 3, 5], dict(pads=[2, 1], strides=[2]), True),
    ([1, 4, 10], [4, 1, 3], dict(group=4, dilations=[3]), True),
    ([1, 3, 9], [2, 3, 1], {}, False),
    ([1, 2, 9], [2, 2, 4], dict(auto_pad="SAME_LOWER"), True),
    # 3-D
    ([1, 2, 5, 6, 7], [3, 2, 3, 3, 3], dict(pads=[1, 1, 1, 1, 1, 1]), True),
    ([2, 4, 5, 5, 5], [4, 2, 2, 3, 2], dict(group=2, strides=[2, 1, 2], dilations=[1, 2, 1]), True),
    ([1, 3, 4, 5, 6], [3, 1, 3, 3, 3], dict(group=3, auto_pad="SAME_UPPER", strides=[1, 2, 2]), True),
    ([1, 4, 3, 4, 5], [2, 4, 1, 1, 1], {}, True),
    # several im2col tiles per image (ck = 576) and a wide 1x1
    ([1, 64, 33, 31], [4, 64, 3, 3], dict(pads=[1, 1, 1, 1]), True),
    ([1, 32, 20, 20], [16, 32, 1, 1], {}, True),
]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("xs,ws,attrs,bias", CONV_CASES)
def test_conv(xs, ws, attrs, bias, threads):
    model, extra = conv_model(xs, ws, bias=bias, **attrs)
    check(model, {"x": rand(xs), **extra}, threads=threads)


@pytest.mark.parametrize("opset", [7, 11, 17])
def test_conv_opsets_and_runtime_weights(opset):
    model, extra = conv_model([2, 4, 6, 6], [6, 2, 3, 3], opset=opset, w_const=False, group=2,
                              pads=[1, 1, 0, 0], strides=[1, 2])
    check(model, {"x": rand([2, 4, 6, 6]), **extra})


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("group", [1, 4])
def test_conv_same_with_dilations(auto_pad, group):
    # onnxruntime refuses dilations with SAME_* ("Dilation not supported"), so the oracle
    # here is onnx's reference implementation, which follows the spec's formula
    # (total pad = (out - 1) * stride + dilated kernel - in).
    from onnx.reference import ReferenceEvaluator

    model, _ = conv_model([1, 4, 11, 12], [4, 4 // group, 3, 2], bias=True, group=group,
                          dilations=[2, 3], strides=[2, 1], auto_pad=auto_pad)
    x = rand([1, 4, 11, 12])
    (expected,) = ReferenceEvaluator(model).run(None, {"x": x})
    (actual,) = run_ei(model, {"x": x})
    assert expected.shape == (1, 4, 6, 12)
    assert_close(actual, expected.astype(np.float32), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("op,xs,attrs,y_shape", [
    ("Conv", [0, 3, 5, 5], dict(pads=[1, 1, 1, 1]), (0, 4, 5, 5)),
    ("Conv", [0, 3, 5, 5], dict(group=3), (0, 3, 3, 3)),
    ("MaxPool", [0, 3, 5, 5], dict(kernel_shape=[2, 2]), (0, 3, 4, 4)),
    ("AveragePool", [0, 2, 5], dict(kernel_shape=[2]), (0, 2, 4)),
    ("GlobalAveragePool", [0, 3, 5, 5], {}, (0, 3, 1, 1)),
    ("BatchNormalization", [0, 3, 5, 5], {}, (0, 3, 5, 5)),
])
def test_zero_size_batch(op, xs, attrs, y_shape):
    # Declared with a symbolic batch so the model is valid; edgeinfer must produce an
    # empty output of the right shape without touching memory.
    inits, names = [], ["x"]
    if op == "Conv":
        g = attrs.get("group", 1)
        inits = [("w", rand([4 if g == 1 else 3, 3 // g, 3, 3])), ("b", rand([4 if g == 1 else 3]))]
        names += ["w", "b"]
    elif op == "BatchNormalization":
        inits = [(k, rand([3], i, 0.5, 1.5)) for i, k in enumerate(["s", "bb", "m", "v"])]
        names += ["s", "bb", "m", "v"]
    node = helper.make_node(op, names, ["y"], **attrs)
    decl = ["n"] + list(xs[1:])
    model = make_model([node], [("x", F, decl)], [out("y", len(xs))], inits)
    x = np.zeros(xs, np.float32)
    (y,) = run_ei(model, {"x": x})
    assert y.shape == y_shape
    (e,) = run_ort(model, {"x": x})
    assert e.shape == y_shape


CONV_ERRORS = [
    # (x shape, w shape, attrs, exception, fragment)
    ([1, 3, 5, 5], [4, 2, 3, 3], {}, edgeinfer.InvalidArgument, "expects 2"),
    ([1, 4, 5, 5], [4, 2, 3, 3], dict(group=3), edgeinfer.InvalidModel, "group=3 does not divide"),
    ([1, 3, 5, 5], [4, 3, 3], {}, edgeinfer.InvalidArgument, "expected rank 3"),
    ([1, 3, 5, 5], [4, 3], {}, edgeinfer.InvalidModel, "expected rank >= 3"),
    ([1, 3, 2, 2], [4, 3, 3, 3], {}, edgeinfer.InvalidArgument, "too small for the window"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(dilations=[3, 3]), edgeinfer.InvalidArgument, "too small"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(pads=[1, 1]), edgeinfer.InvalidModel, "pads needs 4"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(pads=[1, 1, 1]), edgeinfer.InvalidModel, "even count"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(pads=[-1, 0, 0, 0]), edgeinfer.InvalidModel, "'pads'[0] = -1"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(strides=[0, 1]), edgeinfer.InvalidModel, "'strides'[0] = 0"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(dilations=[1, -2]), edgeinfer.InvalidModel, "'dilations'[1]"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(kernel_shape=[3, 2]), edgeinfer.InvalidModel, "kernel_shape"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(auto_pad="SAME"), edgeinfer.InvalidModel, "auto_pad"),
    ([1, 3, 5, 5], [4, 3, 3, 3], dict(group=0), edgeinfer.InvalidModel, "'group' = 0"),
    ([1, 1, 2, 2, 2, 2], [1, 1, 1, 1, 1, 1], {}, edgeinfer.Unsupported, "3-D"),
]


@pytest.mark.parametrize("xs,ws,attrs,exc,fragment", CONV_ERRORS)
def test_conv_errors(xs, ws, attrs, exc, fragment):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1", **attrs)
    model = make_model([node], [("x", F, xs)], [out("y", len(xs))], [("w", rand(ws))])
    expect_error(exc, fragment, model, {"x": rand(xs)})
    # the message names the node and the op
    with pytest.raises(exc) as info:
        run_ei(model, {"x": rand(xs)})
    assert "conv1" in str(info.value) and "Conv" in str(info.value)


def test_conv_bias_wrong_length():
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv1")
    model = make_model([node], [("x", F, [1, 2, 4, 4])], [out("y", 4)],
                       [("w", rand([3, 2, 3, 3])), ("b", rand([2]))])
    expect_error(edgeinfer.InvalidModel, "input B 'b'", model, {"x": rand([1, 2, 4, 4])})


# --------------------------------------------------------------------------- Gemm

GEMM_CASES = [
    # (M, K, N, transA, transB, alpha, beta, C shape or None)
    (3, 4, 5, 0, 0, 1.0, 1.0, [3, 5]),
    (3, 4, 5, 1, 0, 0.5, 2.0, [5]),
    (3, 4, 5, 0, 1, 1.0, -1.0, [1, 5]),
    (3, 4, 5, 1, 1, 2.0, 0.5, [3, 1]),
    (3, 4, 5, 0, 0, 1.0, 1.0, [1]),
    (3, 4, 5, 0, 0, 1.0, 1.0, []),
    (3, 4, 5, 0, 0, 1.0, 0.0, [3, 5]),
    (1, 1, 1, 0, 0, 1.0, 1.0, [1, 1]),
    (1, 7, 1, 1, 1, 1.0, 1.0, [1]),
    (6, 3, 1, 0, 0, 1.0, 1.0, [6, 1]),
    (3, 4, 5, 0, 0, 1.5, 1.0, None),
    (130, 70, 90, 0, 1, 1.0, 1.0, [90]),
    (2, 300, 200, 1, 0, 1.0, 1.0, [2, 200]),
    (200, 64, 3, 1, 1, 1.0, 1.0, None),
]


def gemm_model(m, k, n, ta, tb, alpha, beta, cshape, opset=17, c_const=True):
    ashape = [k, m] if ta else [m, k]
    bshape = [n, k] if tb else [k, n]
    inputs = [("a", F, ashape), ("b", F, bshape)]
    feed = {"a": rand(ashape, 1), "b": rand(bshape, 2)}
    names = ["a", "b"]
    inits = []
    if cshape is not None:
        names.append("c")
        c = rand(cshape, 3)
        if c_const:
            inits.append(("c", c))
        else:
            inputs.append(("c", F, cshape))
            feed["c"] = c
    node = helper.make_node("Gemm", names, ["y"], name="gemm1", alpha=alpha, beta=beta,
                            transA=ta, transB=tb)
    return make_model([node], inputs, [out("y", 2)], inits, opset=opset), feed


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,k,n,ta,tb,alpha,beta,cshape", GEMM_CASES)
def test_gemm(m, k, n, ta, tb, alpha, beta, cshape, threads):
    model, feed = gemm_model(m, k, n, ta, tb, alpha, beta, cshape)
    check(model, feed, threads=threads)


@pytest.mark.parametrize("opset", [7, 9, 11, 13])
def test_gemm_opsets(opset):
    model, feed = gemm_model(4, 3, 5, 1, 0, 0.5, 1.5, [5], opset=opset, c_const=False)
    check(model, feed)


@pytest.mark.parametrize("m,k,n", [(3, 0, 4), (0, 3, 4), (3, 4, 0)])
def test_gemm_zero_size(m, k, n):
    model, feed = gemm_model(m, k, n, 0, 0, 1.0, 1.0, [n])
    check(model, feed)


GEMM_ERRORS = [
    (dict(a=[3, 4], b=[5, 6]), {}, edgeinfer.InvalidArgument, "inner dimensions differ"),
    (dict(a=[3, 4], b=[4, 6], c=[4, 6]), {}, edgeinfer.InvalidArgument, "does not broadcast"),
    (dict(a=[3, 4], b=[4, 6], c=[6, 1]), {}, edgeinfer.InvalidArgument, "does not broadcast"),
    (dict(a=[2, 3, 4], b=[4, 6]), {}, edgeinfer.InvalidArgument, "must both have rank 2"),
    (dict(a=[3, 4], b=[4, 6]), dict(transA=2), edgeinfer.InvalidModel, "transA"),
]


@pytest.mark.parametrize("shapes,attrs,exc,fragment", GEMM_ERRORS)
def test_gemm_errors(shapes, attrs, exc, fragment):
    names = [k for k in ("a", "b", "c") if k in shapes]
    node = helper.make_node("Gemm", names, ["y"], name="gemm1", **attrs)
    model = make_model([node], [(k, F, shapes[k]) for k in names], [out("y", 2)])
    expect_error(exc, fragment, model, {k: rand(shapes[k]) for k in names})


def test_gemm_c_required_before_opset_11():
    node = helper.make_node("Gemm", ["a", "b"], ["y"], name="gemm1")
    model = make_model([node], [("a", F, [2, 3]), ("b", F, [3, 4])], [out("y", 2)], opset=9)
    expect_error(edgeinfer.InvalidModel, "A and B and C are required", model,
                 {"a": rand([2, 3]), "b": rand([3, 4])})


# --------------------------------------------------------------------------- MatMul

MATMUL_CASES = [
    ([4], [4]),
    ([4], [4, 3]),
    ([3, 4], [4]),
    ([1, 1], [1, 1]),
    ([3, 4], [4, 5]),
    ([2, 3, 4], [4, 5]),         # B without batch: one tall GEMM
    ([3, 4], [2, 4, 5]),         # A broadcast over B's batch
    ([2, 3, 4], [2, 4, 5]),
    ([2, 1, 3, 4], [3, 4, 5]),   # batch broadcasting both ways
    ([1, 3, 4], [2, 4, 5]),
    ([2, 3, 3, 4], [4]),
    ([5], [2, 5, 3]),
    ([2, 2, 1, 3, 4], [2, 1, 4, 2]),
    ([3, 0], [0, 4]),            # K = 0: zeros
    ([0, 3], [3, 4]),
    ([2, 0, 3], [3, 4]),
    ([0, 2, 3], [0, 3, 4]),      # empty batch
    ([2, 0, 2, 3], [3, 4]),
    ([150, 80], [80, 70]),       # split over threads by rows
    ([1, 300], [300, 500]),      # split over threads by columns
    ([3, 40, 64], [3, 64, 40]),
]


def mm_rank(a, b):
    return max(len(a), len(b), 2) - (len(a) == 1) - (len(b) == 1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("ashape,bshape", MATMUL_CASES)
def test_matmul(ashape, bshape, threads):
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    model = make_model([node], [("a", F, ashape), ("b", F, bshape)], [out("y", mm_rank(ashape, bshape))])
    check(model, {"a": rand(ashape, 1), "b": rand(bshape, 2)}, threads=threads)


@pytest.mark.parametrize("opset", [1, 9, 13])
def test_matmul_opsets_const_b(opset):
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    model = make_model([node], [("a", F, [2, 3, 4])], [out("y", 3)],
                       [("b", rand([4, 6], 2))], opset=opset)
    check(model, {"a": rand([2, 3, 4], 1)})


@pytest.mark.parametrize("ashape,bshape,fragment", [
    ([3, 4], [5, 6], "inner dimensions differ"),
    ([4], [5], "inner dimensions differ"),
    ([2, 3, 4], [3, 4, 5], "do not broadcast"),
])
def test_matmul_errors(ashape, bshape, fragment):
    node = helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")
    model = make_model([node], [("a", F, ashape), ("b", F, bshape)], [out("y", 2)])
    expect_error(edgeinfer.InvalidArgument, fragment, model,
                 {"a": rand(ashape), "b": rand(bshape)})


# ---------------------------------------------------------------- BatchNormalization

def bn_model(xs, opset=17, params_const=True, **attrs):
    c = xs[1]
    params = {"scale": rand([c], 1), "bias": rand([c], 2), "mean": rand([c], 3),
              "var": rand([c], 4, 0.1, 2.0)}
    inputs = [("x", F, xs)]
    feed = {"x": rand(xs)}
    inits = []
    for k, v in params.items():
        if params_const:
            inits.append((k, v))
        else:
            inputs.append((k, F, [c]))
            feed[k] = v
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"],
                            name="bn", **attrs)
    return make_model([node], inputs, [out("y", 2)], inits, opset=opset), feed


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs,attrs", [
    ([2, 3], {}),
    ([1, 1, 1, 1], {}),
    ([2, 3, 4, 5], {}),
    ([2, 3, 4, 5], dict(epsilon=0.1)),
    ([1, 5, 7], {}),
    ([2, 3, 2, 3, 4], dict(epsilon=1e-3, momentum=0.8)),
    ([4, 16, 40, 40], {}),
])
def test_batchnorm(xs, attrs, threads):
    model, feed = bn_model(xs, **attrs)
    check(model, feed, threads=threads)


@pytest.mark.parametrize("opset", [7, 9, 14, 15])
@pytest.mark.parametrize("params_const", [True, False])
def test_batchnorm_opsets(opset, params_const):
    model, feed = bn_model([2, 3, 4, 4], opset=opset, params_const=params_const, epsilon=1e-4)
    check(model, feed)


def test_batchnorm_errors():
    model, feed = bn_model([2, 3, 4], training_mode=1)
    expect_error(edgeinfer.Unsupported, "training_mode=1", model, feed)
    model, feed = bn_model([2, 3, 4], opset=7, spatial=0)
    expect_error(edgeinfer.Unsupported, "spatial=0", model, feed)
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")
    model = make_model([node], [("x", F, [2, 3, 4]), ("m", F, [4])], [out("y", 3)],
                       [("s", rand([3])), ("b", rand([3])), ("v", rand([3]))])
    expect_error(edgeinfer.InvalidArgument, "input input_mean 'm' has shape [4], expected [3]",
                 model, {"x": rand([2, 3, 4]), "m": rand([4])})
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn")
    model = make_model([node], [("x", F, [2, 3, 4])], [out("y", 3)],
                       [("s", rand([3])), ("b", rand([3])), ("m", rand([4])), ("v", rand([3]))])
    expect_error(edgeinfer.InvalidModel, "different lengths", model, {"x": rand([2, 3, 4])})


# ------------------------------------------------------------------------ pooling

def pool_model(op, xs, opset=17, indices=False, **attrs):
    outs = ["y", "i"] if indices else ["y"]
    node = helper.make_node(op, ["x"], outs, name="pool1", **attrs)
    out_vi = [out("y", len(xs))] + ([out("i", len(xs), TensorProto.INT64)] if indices else [])
    return make_model([node], [("x", F, xs)], out_vi, opset=opset)


MAXPOOL_CASES = [
    ([1, 2, 6, 6], dict(kernel_shape=[2, 2], strides=[2, 2])),
    ([2, 3, 7, 7], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    ([1, 2, 7, 8], dict(kernel_shape=[3, 2], strides=[2, 3], pads=[1, 0, 1, 1])),
    ([1, 2, 7, 7], dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    ([1, 2, 8, 7], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
    ([1, 2, 9, 9], dict(kernel_shape=[3, 3], dilations=[2, 2])),
    ([1, 2, 9, 8], dict(kernel_shape=[2, 3], dilations=[3, 2], strides=[2, 1], pads=[1, 2, 0, 1])),
    ([1, 2, 7, 8], dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ([1, 2, 7, 8], dict(kernel_shape=[4, 4], strides=[2, 2], auto_pad="SAME_LOWER")),
    ([1, 2, 7, 8], dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID")),
    ([1, 1, 1, 1], dict(kernel_shape=[1, 1])),
    ([1, 3, 5, 5], dict(kernel_shape=[5, 5])),
    ([2, 3, 11], dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    ([1, 2, 10], dict(kernel_shape=[2], dilations=[3], ceil_mode=1, strides=[2])),
    ([1, 2, 5, 6, 7], dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[0, 1, 1, 1, 1, 0])),
    ([1, 2, 5, 6, 7], dict(kernel_shape=[3, 3, 3], auto_pad="SAME_UPPER")),
    ([4, 8, 30, 30], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("xs,attrs", MAXPOOL_CASES)
def test_maxpool(xs, attrs, storage_order, threads):
    model = pool_model("MaxPool", xs, indices=True, storage_order=storage_order, **attrs)
    check(model, {"x": rand(xs)}, threads=threads, exact=True)


# Without Indices, 2-D windows with dilation 1 take the row-kernel path (pool_plane_2d):
# widths around the vector tiles (8, 16), strides 1, 2 and 3, pads on both sides,
# ceil_mode windows past the end, -inf in the data. (NaN is left to test_kernels.c: here
# onnxruntime's 2-D MaxPool lets a NaN win or not depending on its position.)
POOL2D_CASES = MAXPOOL_CASES + [
    ([1, 3, 5, 17], dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])),
    ([1, 3, 9, 33], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ([1, 2, 8, 31], dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    ([1, 4, 20, 20], dict(kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])),
    ([1, 2, 10, 10], dict(kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])),
    ([1, 2, 11, 16], dict(kernel_shape=[1, 4], strides=[3, 3], pads=[0, 2, 0, 1])),
    ([1, 2, 12, 40], dict(kernel_shape=[3, 1], strides=[1, 2])),
    ([1, 8, 112, 112], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs,attrs", POOL2D_CASES)
def test_maxpool_row_kernels(xs, attrs, threads):
    model = pool_model("MaxPool", xs, **attrs)
    x = rand(xs)
    flat = x.reshape(-1)
    flat[3::11] = -np.inf
    check(model, {"x": x}, threads=threads, exact=True)


@pytest.mark.parametrize("cip", [0, 1])
@pytest.mark.parametrize("xs,attrs", POOL2D_CASES[-8:])
def test_averagepool_row_kernels(xs, attrs, cip):
    model = pool_model("AveragePool", xs, count_include_pad=cip, **attrs)
    check(model, {"x": rand(xs)})


def test_maxpool_without_indices_and_ties():
    model = pool_model("MaxPool", [1, 1, 4, 4], kernel_shape=[2, 2], pads=[1, 1, 1, 1])
    x = np.zeros([1, 1, 4, 4], np.float32)
    x[0, 0, 1:3, 1:3] = -5.0
    check(model, {"x": x}, exact=True)


@pytest.mark.parametrize("opset", [1, 8, 10, 11, 12])
def test_maxpool_opsets(opset):
    indices = opset >= 8
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    if opset >= 10:
        attrs["ceil_mode"] = 1
    model = pool_model("MaxPool", [1, 3, 8, 8], opset=opset, indices=indices, **attrs)
    check(model, {"x": rand([1, 3, 8, 8])}, exact=True)


AVGPOOL_CASES = [
    ([1, 2, 6, 6], dict(kernel_shape=[2, 2], strides=[2, 2])),
    ([2, 3, 7, 7], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])),
    ([2, 3, 7, 7], dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)),
    ([1, 2, 7, 8], dict(kernel_shape=[3, 2], strides=[2, 3], pads=[2, 0, 1, 1], count_include_pad=1)),
    ([1, 2, 7, 7], dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)),
    ([1, 2, 8, 7], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
    ([1, 2, 8, 7], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1,
                        count_include_pad=1)),
    ([1, 2, 7, 8], dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ([1, 2, 7, 8], dict(kernel_shape=[4, 4], strides=[2, 2], auto_pad="SAME_LOWER",
                        count_include_pad=1)),
    ([1, 2, 7, 8], dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID")),
    ([1, 1, 1, 1], dict(kernel_shape=[1, 1])),
    ([2, 3, 11], dict(kernel_shape=[3], strides=[2], pads=[1, 1])),
    ([2, 3, 11], dict(kernel_shape=[4], pads=[2, 1], count_include_pad=1)),
    ([1, 2, 5, 6, 7], dict(kernel_shape=[2, 3, 2], strides=[2, 1, 2], pads=[0, 1, 1, 1, 1, 0])),
    ([1, 2, 5, 6, 7], dict(kernel_shape=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1], count_include_pad=1)),
    ([4, 8, 30, 30], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs,attrs", AVGPOOL_CASES)
def test_averagepool(xs, attrs, threads):
    model = pool_model("AveragePool", xs, **attrs)
    check(model, {"x": rand(xs)}, threads=threads)


@pytest.mark.parametrize("attrs", [
    dict(kernel_shape=[3, 3], dilations=[2, 2]),
    dict(kernel_shape=[2, 3], dilations=[3, 2], pads=[1, 1, 1, 0], count_include_pad=1),
    dict(kernel_shape=[2, 2], dilations=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1]),
])
def test_averagepool_dilations_opset19(attrs):
    model = pool_model("AveragePool", [1, 2, 9, 9], opset=19, **attrs)
    check(model, {"x": rand([1, 2, 9, 9])})


@pytest.mark.filterwarnings("ignore:.*:RuntimeWarning")  # the reference's own 0/0
def test_averagepool_window_of_padding_only_is_nan():
    # Taps at -3, -1, 1, 3 around a single element: no tap lands on data. The ONNX
    # reference divides 0 by 0 (NaN); onnxruntime writes 0. edgeinfer follows the spec's
    # reference implementation, which is the oracle here.
    from onnx.reference import ReferenceEvaluator

    model = pool_model("AveragePool", [1, 1, 1], opset=19, kernel_shape=[4], strides=[2],
                       pads=[3, 3], dilations=[2])
    x = np.full([1, 1, 1], 5.0, np.float32)
    (expected,) = ReferenceEvaluator(model).run(None, {"x": x})
    (actual,) = run_ei(model, {"x": x})
    assert np.isnan(expected).all() and np.isnan(actual).all() and actual.shape == (1, 1, 1)


@pytest.mark.parametrize("opset", [7, 10, 11, 19])  # onnxruntime has no AveragePool-1
def test_averagepool_opsets(opset):
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    if opset >= 7:
        attrs["count_include_pad"] = 1
    if opset >= 10:
        attrs["ceil_mode"] = 1
    model = pool_model("AveragePool", [1, 3, 8, 8], opset=opset, **attrs)
    check(model, {"x": rand([1, 3, 8, 8])})


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs", [[1, 1, 1], [2, 3, 7], [2, 3, 4, 5], [1, 4, 2, 3, 4], [3, 64, 17, 17]])
def test_global_average_pool(xs, threads):
    model = pool_model("GlobalAveragePool", xs)
    check(model, {"x": rand(xs)}, threads=threads)


POOL_ERRORS = [
    ("MaxPool", [1, 2, 5, 5], dict(strides=[1, 1]), edgeinfer.InvalidModel, "'kernel_shape' is required"),
    ("MaxPool", [1, 2, 5], dict(kernel_shape=[2, 2]), edgeinfer.InvalidArgument, "expected rank 4"),
    ("MaxPool", [1, 2, 2, 2], dict(kernel_shape=[3, 3]), edgeinfer.InvalidArgument, "too small for the window"),
    ("MaxPool", [1, 2, 5, 5], dict(kernel_shape=[2, 2], strides=[1]), edgeinfer.InvalidModel, "disagree"),
    ("MaxPool", [1, 2, 5, 5], dict(kernel_shape=[2, 2], storage_order=2), edgeinfer.InvalidModel, "storage_order"),
    ("AveragePool", [1, 2, 5, 5], dict(kernel_shape=[2, 2], pads=[1, 1, 1]), edgeinfer.InvalidModel, "even count"),
    ("AveragePool", [1, 2, 5, 5], dict(kernel_shape=[0, 2]), edgeinfer.InvalidModel, "'kernel_shape'[0] = 0"),
    ("AveragePool", [1, 2, 5, 5], dict(kernel_shape=[2, 2], ceil_mode=3), edgeinfer.InvalidModel, "ceil_mode"),
    ("GlobalAveragePool", [2, 3], {}, edgeinfer.InvalidArgument, "expected rank >= 3"),
]


@pytest.mark.parametrize("op,xs,attrs,exc,fragment", POOL_ERRORS)
def test_pool_errors(op, xs, attrs, exc, fragment):
    model = pool_model(op, xs, **attrs)
    expect_error(exc, fragment, model, {"x": rand(xs)})


# ------------------------------------------------------------------ a small network

def test_conv_bn_pool_gemm_chain():
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "s", "bb", "m", "v"], ["n1"]),
        helper.make_node("MaxPool", ["n1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], group=8, pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["c2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    inits = [("w1", rand([8, 3, 3, 3], 1)), ("b1", rand([8], 2)), ("s", rand([8], 3)),
             ("bb", rand([8], 4)), ("m", rand([8], 5)), ("v", rand([8], 6, 0.5, 1.5)),
             ("w2", rand([8, 1, 3, 3], 7)), ("wf", rand([10, 8], 8)), ("bf", rand([10], 9))]
    model = make_model(nodes, [("x", F, [2, 3, 16, 16])], [out("y", 2)], inits)
    check(model, {"x": rand([2, 3, 16, 16])}, threads=2)
