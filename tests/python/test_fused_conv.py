"""FusedConv (domain com.edgeinfer), the convolution with a fused epilogue that the fusion
passes create: Y = act(Conv(X, W) + B + Z). Each case builds a model holding one FusedConv
node and compares edgeinfer on it with onnxruntime on the equivalent unfused graph (Conv,
Add, then the activation's ONNX ops) over the same inputs: every activation kind, with and
without B and Z, groups, strides, pads, dilations, 1x1 (direct GEMM), depthwise (the
f32_dwconv2d kernel, 1-D, 2-D and 3-D), im2col, and the error cases.

Tolerance: the default of ortcheck (1e-5 relative to the output's magnitude) as for Conv;
the accumulations are the same few hundred float32 products, and the activations add at
most a few ulp (the SIMD exp/erf kernels against onnxruntime's).
"""
import math

import numpy as np
import pytest
from onnx import TensorProto, helper

import edgeinfer
from ortcheck import assert_close, make_model, run_ei, run_ort

F = TensorProto.FLOAT
OPSET = 17

# (name, activation_params, builder of the unfused ONNX nodes: (input, output) -> nodes, inits)
ACTS = {
    "": ([], lambda i, o: ([helper.make_node("Identity", [i], [o])], [])),
    "Relu": ([], lambda i, o: ([helper.make_node("Relu", [i], [o])], [])),
    "Clip": ([-0.5, 0.75], lambda i, o, p=(-0.5, 0.75): (
        [helper.make_node("Clip", [i, "clip_lo", "clip_hi"], [o])],
        [("clip_lo", np.array(p[0], np.float32)), ("clip_hi", np.array(p[1], np.float32))])),
    "Sigmoid": ([], lambda i, o: ([helper.make_node("Sigmoid", [i], [o])], [])),
    "Tanh": ([], lambda i, o: ([helper.make_node("Tanh", [i], [o])], [])),
    "LeakyRelu": ([0.1], lambda i, o: ([helper.make_node("LeakyRelu", [i], [o], alpha=0.1)], [])),
    "HardSigmoid": ([0.3, 0.4], lambda i, o: (
        [helper.make_node("HardSigmoid", [i], [o], alpha=0.3, beta=0.4)], [])),
    "HardSwish": ([], lambda i, o: ([helper.make_node("HardSwish", [i], [o])], [])),
    "SiLU": ([], lambda i, o: ([helper.make_node("Sigmoid", [i], ["silu_s"]),
                                helper.make_node("Mul", [i, "silu_s"], [o])], [])),
    "Gelu": ([], lambda i, o: (
        [helper.make_node("Mul", [i, "gelu_rsqrt2"], ["gelu_a"]),
         helper.make_node("Erf", ["gelu_a"], ["gelu_e"]),
         helper.make_node("Add", ["gelu_e", "gelu_one"], ["gelu_b"]),
         helper.make_node("Mul", [i, "gelu_b"], ["gelu_c"]),
         helper.make_node("Mul", ["gelu_c", "gelu_half"], [o])],
        [("gelu_rsqrt2", np.array(1 / math.sqrt(2), np.float32)),
         ("gelu_one", np.array(1, np.float32)), ("gelu_half", np.array(0.5, np.float32))])),
}


def rand(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def out_shape(xs, ws, attrs):
    """Conv's output shape for explicit pads (no auto_pad in these cases)."""
    nsp = len(xs) - 2
    pads = attrs.get("pads", [0] * 2 * nsp)
    strides = attrs.get("strides", [1] * nsp)
    dil = attrs.get("dilations", [1] * nsp)
    sp = [(xs[2 + i] + pads[i] + pads[nsp + i] - (ws[2 + i] - 1) * dil[i] - 1) // strides[i] + 1
          for i in range(nsp)]
    return [xs[0], ws[0]] + sp


def models(xs, ws, attrs, act, bias, residual, name="fc1", params=None):
    """(fused model, unfused model, feed). params: Clip's [min, max] instead of the table's."""
    table_params, build = ACTS[act]
    if params is None:
        params = table_params
    else:
        build = lambda i, o, b=build: b(i, o, params)  # noqa: E731
    ys = out_shape(xs, ws, attrs)
    inits = [("w", rand(ws, seed=1, scale=0.3))]
    if bias:
        inits.append(("b", rand([ws[0]], seed=2)))
    feed = {"x": rand(xs, seed=3)}
    inputs = [("x", F, xs)]
    if residual:
        inputs.append(("z", F, ys))
        feed["z"] = rand(ys, seed=4)
    names = ["x", "w", "b" if bias else ""] + (["z"] if residual else [])
    while names and names[-1] == "":
        names.pop()
    fattrs = dict(attrs)
    if act:
        fattrs["activation"] = act
    if params:
        fattrs["activation_params"] = params
    fnode = helper.make_node("FusedConv", names, ["y"], name=name, domain="com.edgeinfer", **fattrs)
    outputs = [("y", F, ys)]
    fused = make_model([fnode], inputs, outputs, inits, opset=OPSET)
    fused.opset_import.append(helper.make_opsetid("com.edgeinfer", 1))

    nodes = [helper.make_node("Conv", ["x", "w"] + (["b"] if bias else []), ["c"], **attrs)]
    src = "c"
    if residual:
        nodes.append(helper.make_node("Add", ["c", "z"], ["s"]))
        src = "s"
    act_nodes, act_inits = build(src, "y")
    plain = make_model(nodes + act_nodes, inputs, outputs, inits + act_inits, opset=OPSET)
    return fused, plain, feed


CASES = [
    # (x shape, w shape, attrs): one per conv path
    ([1, 3, 7, 7], [4, 3, 3, 3], dict(pads=[1, 1, 1, 1])),                       # im2col
    ([2, 3, 8, 9], [5, 3, 3, 3], dict(pads=[1, 0, 1, 2], strides=[2, 2])),       # strides
    ([1, 2, 9, 9], [3, 2, 3, 3], dict(dilations=[2, 2], pads=[2, 2, 2, 2])),     # dilations
    ([1, 4, 6, 6], [6, 2, 3, 3], dict(group=2, pads=[1, 1, 1, 1])),              # groups
    ([2, 16, 5, 7], [8, 16, 1, 1], {}),                                          # 1x1 direct
    ([1, 4, 7, 7], [3, 4, 1, 1], dict(strides=[2, 2])),                          # 1x1 strided
    ([1, 8, 9, 9], [8, 1, 3, 3], dict(group=8, pads=[1, 1, 1, 1])),              # depthwise 3x3
    ([2, 5, 19, 21], [5, 1, 3, 3], dict(group=5, strides=[2, 2], pads=[1, 0, 1, 2])),
    ([1, 4, 12, 40], [4, 1, 5, 5], dict(group=4, pads=[2, 2, 2, 2])),            # depthwise 5x5
    ([1, 3, 11, 23], [3, 1, 5, 5], dict(group=3, strides=[2, 2], pads=[2, 2, 2, 2])),
    ([1, 3, 9, 9], [3, 1, 3, 3], dict(group=3, strides=[3, 3], dilations=[2, 1], pads=[2, 2, 2, 2])),
    ([2, 3, 17], [4, 3, 5], dict(pads=[2, 1], strides=[2])),                     # 1-D
    ([1, 4, 30], [4, 1, 3], dict(group=4, dilations=[3], pads=[3, 3])),          # 1-D depthwise
    ([1, 2, 5, 6, 7], [3, 2, 3, 3, 3], dict(pads=[1, 1, 1, 1, 1, 1])),           # 3-D
    ([1, 3, 4, 5, 6], [3, 1, 3, 3, 3], dict(group=3, pads=[1, 1, 1, 1, 1, 1])),  # 3-D depthwise
    ([1, 64, 33, 31], [4, 64, 3, 3], dict(pads=[1, 1, 1, 1])),                   # several tiles
    ([1, 2, 64, 64], [2, 1, 3, 3], dict(group=2, pads=[1, 1, 1, 1])),            # row split
    ([1, 32, 7, 7], [64, 32, 3, 3], dict(pads=[1, 1, 1, 1])),      # few pixels: channel split
    ([1, 16, 14, 14], [48, 16, 1, 1], {}),                         # ... on the direct path
    ([1, 6, 70, 70], [6, 1, 3, 3], dict(group=6, pads=[1, 1, 1, 1])),  # chunks of padded rows
]


def check(fused, plain, feed, threads=1):
    (e,) = run_ort(plain, feed)
    (y,) = run_ei(fused, feed, num_threads=threads)
    assert_close(y, e)


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("xs,ws,attrs", CASES)
def test_fused_conv_activations(xs, ws, attrs, act):
    fused, plain, feed = models(xs, ws, attrs, act, bias=True, residual=True)
    check(fused, plain, feed)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("bias,residual", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("xs,ws,attrs", CASES)
def test_fused_conv_inputs(xs, ws, attrs, bias, residual, threads):
    act = "Relu" if residual else "HardSwish"
    fused, plain, feed = models(xs, ws, attrs, act, bias=bias, residual=residual)
    check(fused, plain, feed, threads=threads)


def test_fused_conv_without_activation_is_conv():
    """No activation attribute at all: FusedConv(X, W, B) == Conv."""
    fused, plain, feed = models([1, 8, 10, 10], [8, 1, 3, 3], dict(group=8, pads=[1, 1, 1, 1]),
                                "", bias=True, residual=False)
    check(fused, plain, feed, threads=2)


def test_fused_conv_mobilenet_block():
    """MobileNetV2-like layers at 56x56: depthwise 3x3 (strides 1, 2) + Clip(0, 6), and a
    1x1 projection with the residual."""
    xs = [1, 32, 56, 56]
    for ws, attrs, act, res in [([32, 1, 3, 3], dict(group=32, pads=[1, 1, 1, 1]), "Clip", False),
                                ([32, 1, 3, 3], dict(group=32, strides=[2, 2], pads=[1, 1, 1, 1]),
                                 "Clip", False),
                                ([32, 32, 1, 1], {}, "", True)]:
        fused, plain, feed = models(xs, ws, attrs, act, bias=True, residual=res,
                                    params=[0.0, 6.0] if act else None)
        check(fused, plain, feed, threads=2)


def _fused_node_model(attrs, z_shape=None, z_dtype=F, n_inputs=None):
    xs, ws = [1, 2, 5, 5], [3, 2, 3, 3]
    names = ["x", "w", "b"] + (["z"] if z_shape is not None else [])
    if n_inputs is not None:
        names = (names + ["z", "extra"])[:n_inputs]
    node = helper.make_node("FusedConv", names, ["y"], name="fc1", domain="com.edgeinfer", **attrs)
    inputs = [("x", F, xs)] + ([("z", z_dtype, z_shape)] if "z" in names else [])
    if "extra" in names:
        inputs.append(("extra", F, [1]))
    model = make_model([node], inputs, [("y", F, None)],
                       [("w", rand(ws)), ("b", rand([3]))], opset=OPSET)
    model.opset_import.append(helper.make_opsetid("com.edgeinfer", 1))
    feed = {"x": rand(xs)}
    if "z" in names:
        feed["z"] = np.zeros(z_shape, np.float32 if z_dtype == F else np.float64)
    if "extra" in names:
        feed["extra"] = np.zeros([1], np.float32)
    return model, feed


ERRORS = [
    # (attrs, z shape, z dtype, n inputs, exception, fragment)
    (dict(activation="Swish"), None, F, None, edgeinfer.InvalidModel, "unknown fused activation 'Swish'"),
    (dict(activation="Clip", activation_params=[0.0]), None, F, None, edgeinfer.InvalidModel,
     "takes 2 activation_params, got 1"),
    (dict(activation="Relu", activation_params=[1.0]), None, F, None, edgeinfer.InvalidModel,
     "takes 0 activation_params"),
    (dict(activation_params=[1.0]), None, F, None, edgeinfer.InvalidModel, "without an activation"),
    ({}, [1, 3, 3, 2], F, None, edgeinfer.InvalidArgument, "input Z 'z' has shape [1,3,3,2]"),
    ({}, [3, 3, 3], F, None, edgeinfer.InvalidArgument, "expected the output's shape [1,3,3,3]"),
    ({}, [1, 1, 3, 3], F, None, edgeinfer.InvalidArgument, "input Z 'z'"),  # no broadcasting
    ({}, [1, 3, 3, 3], TensorProto.DOUBLE, None, edgeinfer.InvalidArgument, "dtype float64"),
    ({}, [1, 3, 3, 3], F, 5, edgeinfer.InvalidModel, "optional B and Z"),
    (dict(pads=[1, 1]), None, F, None, edgeinfer.InvalidModel, "pads needs 4"),
]


@pytest.mark.parametrize("attrs,zs,zt,n_inputs,exc,fragment", ERRORS)
def test_fused_conv_errors(attrs, zs, zt, n_inputs, exc, fragment):
    model, feed = _fused_node_model(attrs, zs, zt, n_inputs)
    with pytest.raises(exc) as info:
        run_ei(model, feed)
    msg = str(info.value)
    assert fragment in msg, msg
    assert "fc1" in msg and "FusedConv" in msg, msg


def test_fused_conv_reshape_checks_z():
    """Z is checked again when the input shape changes (symbolic batch)."""
    node = helper.make_node("FusedConv", ["x", "w", "", "z"], ["y"], name="fc1",
                            domain="com.edgeinfer", activation="Relu", pads=[1, 1, 1, 1])
    model = make_model([node], [("x", F, ["n", 2, 5, 5]), ("z", F, ["m", 3, 5, 5])],
                       [("y", F, None)], [("w", rand([3, 2, 3, 3]))], opset=OPSET)
    model.opset_import.append(helper.make_opsetid("com.edgeinfer", 1))
    x, z = rand([2, 2, 5, 5]), rand([2, 3, 5, 5], seed=5)
    (y,) = run_ei(model, {"x": x, "z": z})
    assert y.shape == (2, 3, 5, 5)
    with pytest.raises(edgeinfer.InvalidArgument) as info:
        run_ei(model, {"x": x, "z": rand([3, 3, 5, 5])})
    assert "input Z 'z'" in str(info.value)
