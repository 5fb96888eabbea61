"""ConvTranspose, GlobalMaxPool, LpPool, MaxUnpool and the recurrent ops (LSTM, GRU, RNN)
against onnxruntime, plus their error messages.

Tolerance: rtol 1e-4, atol 1e-5 (scaled by the output's max magnitude, see ortcheck).
ConvTranspose sums up to a few hundred float32 products in another order than
onnxruntime (GEMM + col2im vs MLAS); the recurrent ops chain up to ~10 steps of GEMMs and
float32 sigmoid/tanh whose approximations differ by a few ulps between engines, and the
error compounds mildly over the steps. 1e-4 relative still catches any wrong gate, tap
or index. GlobalMaxPool and MaxUnpool move values without arithmetic and are compared
bit for bit.
"""
import pytest

from ortcheck import (TensorProto, assert_close, check_model, helper, make_model, np, run_ei,
                      run_ort)

import edgeinfer

F = TensorProto.FLOAT
I64 = TensorProto.INT64
RTOL, ATOL = 1e-4, 1e-5


def out(name, rank, elem=F):
    return helper.make_tensor_value_info(name, elem, [None] * rank)


def rand(shape, seed=0, lo=-1.0, hi=1.0):
    rng = np.random.default_rng(seed + 7 * len(shape) + int(np.prod(shape, dtype=np.int64)))
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def check(model, feed, threads=1, exact=False, rtol=RTOL, atol=ATOL):
    if exact:
        return check_model(model, feed, rtol=0, atol=0, num_threads=threads)
    return check_model(model, feed, rtol=rtol, atol=atol, num_threads=threads)


def check_ref(model, feed, threads=1, rtol=RTOL, atol=ATOL):
    """For cases where onnxruntime and the ONNX specification disagree (or onnxruntime has
    no kernel): compare with onnx.reference.ReferenceEvaluator, which follows the spec."""
    from onnx.reference import ReferenceEvaluator
    import onnx
    onnx.checker.check_model(model)
    expected = ReferenceEvaluator(model).run(None, feed)
    actual = run_ei(model, feed, num_threads=threads)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, np.asarray(e), rtol=rtol, atol=atol, what=f"output {i}")
    return actual


def expect_error(exc, fragment, model, feed):
    with pytest.raises(exc) as info:
        run_ei(model, feed)
    assert fragment in str(info.value), str(info.value)
    assert isinstance(info.value, edgeinfer.EdgeInferError)


# -------------------------------------------------------------------- ConvTranspose

def ct_model(xs, ws, group=1, bias=True, opset=17, w_const=True, **attrs):
    names = ["x", "w"] + (["b"] if bias else [])
    inputs = [("x", F, xs)]
    inits = []
    feed = {"x": rand(xs, seed=3)}
    w = rand(ws, seed=1)
    if w_const:
        inits.append(("w", w))
    else:
        inputs.append(("w", F, ws))
        feed["w"] = w
    if bias:
        inits.append(("b", rand([ws[1] * group], seed=2)))
    if group != 1:
        attrs["group"] = group
    node = helper.make_node("ConvTranspose", names, ["y"], name="convt1", **attrs)
    return make_model([node], inputs, [out("y", len(xs))], inits, opset=opset), feed


CT_CASES = [
    # (x shape, w shape [C, M/group, k...], group, attrs, bias)
    ([1, 2, 4, 4], [2, 3, 3, 3], 1, {}, True),
    ([1, 2, 4, 5], [2, 3, 3, 3], 1, dict(strides=[2, 2]), True),
    ([2, 3, 5, 4], [3, 2, 3, 2], 1, dict(strides=[2, 3], pads=[1, 0, 1, 1]), False),
    ([1, 2, 4, 4], [2, 2, 3, 3], 1, dict(strides=[2, 2], pads=[1, 1, 1, 1],
                                          output_padding=[1, 1]), True),
    ([1, 2, 5, 5], [2, 2, 3, 3], 1, dict(dilations=[2, 2], strides=[1, 2]), True),
    ([1, 4, 3, 3], [4, 3, 3, 3], 2, dict(strides=[2, 2]), True),
    ([2, 6, 4, 3], [6, 1, 3, 3], 6, dict(pads=[1, 1, 1, 1]), True),
    ([1, 2, 3, 3], [2, 2, 3, 3], 1, dict(strides=[3, 2], output_shape=[10, 8]), True),
    ([1, 2, 3, 3], [2, 2, 3, 3], 1, dict(strides=[2, 2], output_shape=[7, 7]), True),
    ([1, 1, 3, 3], [1, 2, 3, 3], 1, dict(strides=[2, 2], auto_pad="SAME_UPPER"), True),
    ([1, 2, 3, 3], [2, 2, 3, 3], 1, dict(strides=[2, 2], auto_pad="SAME_LOWER"), True),
    # odd total padding from output_shape: the extra pad goes first (NOTSET, SAME_LOWER)
    ([1, 2, 3, 3], [2, 2, 3, 3], 1, dict(strides=[2, 2], output_shape=[5, 6]), True),
    ([1, 2, 3, 3], [2, 2, 3, 3], 1, dict(strides=[2, 2], output_shape=[6, 6],
                                          auto_pad="SAME_UPPER"), True),
    ([1, 2, 4, 4], [2, 2, 2, 2], 1, dict(strides=[2, 2], auto_pad="VALID"), True),
    ([1, 2, 6], [2, 3, 3], 1, dict(strides=[2], pads=[1, 2]), True),
    ([2, 4, 7], [4, 2, 5], 2, dict(dilations=[2], output_padding=[1], strides=[2]), True),
    ([1, 2, 3, 4, 3], [2, 2, 3, 2, 3], 1, dict(strides=[2, 1, 2], pads=[1, 0, 1, 0, 1, 1]), True),
    ([1, 4, 2, 3, 2], [4, 1, 2, 2, 2], 2, dict(strides=[2, 2, 2]), False),
    ([1, 3, 1, 1], [3, 4, 4, 4], 1, {}, True),
    ([1, 16, 12, 12], [16, 8, 4, 4], 1, dict(strides=[2, 2], pads=[1, 1, 1, 1]), True),
]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("xs,ws,group,attrs,bias", CT_CASES)
def test_conv_transpose(xs, ws, group, attrs, bias, threads):
    model, feed = ct_model(xs, ws, group, bias, **attrs)
    check(model, feed, threads)


@pytest.mark.parametrize("opset", [1, 11, 22])
def test_conv_transpose_opsets(opset):
    model, feed = ct_model([1, 2, 4, 4], [2, 3, 3, 3], 1, True, opset=max(opset, 7),
                           strides=[2, 2], pads=[1, 1, 0, 0])
    check(model, feed)


def test_conv_transpose_weight_input():
    model, feed = ct_model([1, 2, 4, 4], [2, 3, 3, 3], 1, True, w_const=False, strides=[2, 2])
    check(model, feed)


def test_conv_transpose_output_shape_with_nc():
    # Some exporters write output_shape with the N and C dims in front.
    model, feed = ct_model([1, 2, 3, 3], [2, 2, 3, 3], 1, True, strides=[2, 2],
                           output_shape=[1, 2, 8, 8])
    y = run_ei(model, feed)[0]
    model2, _ = ct_model([1, 2, 3, 3], [2, 2, 3, 3], 1, True, strides=[2, 2],
                         output_shape=[8, 8])
    assert_close(y, run_ort(model2, feed)[0], rtol=RTOL, atol=ATOL)


def test_conv_transpose_errors():
    model, feed = ct_model([1, 3, 4, 4], [2, 3, 3, 3], 1, True)
    expect_error(edgeinfer.InvalidArgument, "convt1", model, feed)
    model, feed = ct_model([1, 4, 4, 4], [4, 3, 3, 3], 3, False)
    expect_error(edgeinfer.InvalidModel, "group=3", model, feed)
    model, feed = ct_model([1, 2, 4, 4], [2, 3, 3, 3], 1, True, strides=[2, 2, 2])
    expect_error(edgeinfer.InvalidModel, "strides", model, feed)
    model, feed = ct_model([1, 2, 2, 2], [2, 3, 2, 2], 1, True, pads=[3, 3, 3, 3])
    expect_error(edgeinfer.InvalidArgument, "output spatial dim", model, feed)
    model, feed = ct_model([1, 2, 4, 4], [2, 3, 3, 3], 1, True, output_padding=[-1, 0])
    expect_error(edgeinfer.InvalidModel, "output_padding", model, feed)


# -------------------------------------------------------------------- GlobalMaxPool

@pytest.mark.parametrize("opset", [7, 22])
@pytest.mark.parametrize("shape", [[1, 3, 5], [2, 4, 6, 7], [1, 2, 3, 4, 5], [2, 3, 1, 1],
                                   [1, 40, 33, 17]])
def test_global_max_pool(shape, opset):
    node = helper.make_node("GlobalMaxPool", ["x"], ["y"], name="gmp")
    model = make_model([node], [("x", F, shape)], [out("y", len(shape))], opset=opset)
    feed = {"x": rand(shape, seed=5)}
    check(model, feed, threads=2, exact=True)


def test_global_max_pool_errors():
    node = helper.make_node("GlobalMaxPool", ["x"], ["y"], name="gmp")
    model = make_model([node], [("x", F, [3, 4])], [out("y", 2)])
    expect_error(edgeinfer.InvalidArgument, "expected rank >= 3", model, {"x": rand([3, 4])})


# -------------------------------------------------------------------- LSTM, GRU, RNN

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def rnn_model(op, T=5, B=3, I=4, H=6, direction="forward", bias=True, seq_lens=None,
              init_h=False, init_c=False, peep=False, outputs=("Y", "Y_h", "Y_c"), layout=0,
              opset=17, consts=True, **attrs):
    """Builds a one-node recurrent model; returns (model, feed). Missing optional inputs
    are written as empty names, so later ones keep their positions."""
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    feed, inits, inputs = {}, [], []
    xs = [B, T, I] if layout else [T, B, I]
    feed["x"] = rand(xs, seed=11, lo=-2, hi=2)
    inputs.append(("x", F, xs))

    def add(name, arr):
        if consts:
            inits.append((name, arr))
        else:
            inputs.append((name, TensorProto.INT32 if arr.dtype == np.int32 else F, list(arr.shape)))
            feed[name] = arr
        return name

    names = ["x", add("w", rand([D, G * H, I], seed=12)), add("r", rand([D, G * H, H], seed=13))]
    names.append(add("b", rand([D, 2 * G * H], seed=14)) if bias else "")
    if seq_lens is not None:
        arr = np.asarray(seq_lens, dtype=np.int32)
        inputs.append(("sl", TensorProto.INT32, [B]))
        feed["sl"] = arr
        names.append("sl")
    else:
        names.append("")
    hs = [B, D, H] if layout else [D, B, H]
    names.append(add("h0", rand(hs, seed=15)) if init_h else "")
    if op == "LSTM":
        names.append(add("c0", rand(hs, seed=16)) if init_c else "")
        names.append(add("p", rand([D, 3 * H], seed=17)) if peep else "")
    while names and names[-1] == "":
        names.pop()
    n_out = 3 if op == "LSTM" else 2
    out_names = [o if o in outputs else "" for o in ("Y", "Y_h", "Y_c")[:n_out]]
    while out_names and out_names[-1] == "":
        out_names.pop()
    if layout:
        attrs["layout"] = 1
    node = helper.make_node(op, names, out_names, name="rnn1", hidden_size=H, direction=direction,
                            **attrs)
    outs = [out(o, 4 if o == "Y" else 3) for o in out_names if o]
    return make_model([node], inputs, outs, inits, opset=opset), feed


RNN_CASES = [
    dict(),
    dict(direction="reverse"),
    dict(direction="bidirectional"),
    dict(bias=False, init_h=True),
    dict(init_h=True, init_c=True, direction="bidirectional"),
    dict(seq_lens=[5, 2, 3]),
    dict(seq_lens=[1, 5, 4], direction="reverse", init_h=True),
    dict(seq_lens=[3, 5, 2], direction="bidirectional", init_h=True, init_c=True),
    dict(seq_lens=[0, 5, 2], direction="bidirectional", init_h=True, init_c=True),
    dict(outputs=("Y_h",)),
    dict(outputs=("Y",)),
    dict(outputs=("Y_c",)),
    dict(clip=0.5, direction="bidirectional"),
    dict(T=1, B=1, I=1, H=1),
    dict(T=7, B=2, I=10, H=16, consts=False),
    dict(activations=["Relu", "Tanh", "Sigmoid"] * 2, direction="bidirectional"),
    dict(activations=["HardSigmoid", "LeakyRelu", "ScaledTanh"], activation_alpha=[0.3, 0.1, 0.7],
         activation_beta=[0.4, 1.2]),
    dict(activations=["Sigmoid", "Affine", "Softsign"], activation_alpha=[0.5], activation_beta=[0.1]),
    dict(activations=["Sigmoid", "Elu", "Softplus"], activation_alpha=[0.8]),
    dict(activations=["ThresholdedRelu", "Tanh", "Tanh"], activation_alpha=[0.2]),
]


def _fit_acts(op, case):
    """Trims the activations list to the op's count per direction (LSTM 3, GRU 2, RNN 1)."""
    case = dict(case)
    if "activations" in case:
        n = {"LSTM": 3, "GRU": 2, "RNN": 1}[op]
        acts = case["activations"]
        D = 2 if case.get("direction") == "bidirectional" else 1
        per = len(acts) // D
        case["activations"] = [a for d in range(D) for a in acts[d * per:d * per + n]]
        uses_a = {"HardSigmoid", "LeakyRelu", "ScaledTanh", "Affine", "Elu", "ThresholdedRelu"}
        uses_b = {"HardSigmoid", "ScaledTanh", "Affine"}
        na = sum(a in uses_a for a in case["activations"])
        nb = sum(a in uses_b for a in case["activations"])
        if "activation_alpha" in case:
            case["activation_alpha"] = case["activation_alpha"][:na]
            if not case["activation_alpha"]:
                del case["activation_alpha"]
        if "activation_beta" in case:
            case["activation_beta"] = case["activation_beta"][:nb]
            if not case["activation_beta"]:
                del case["activation_beta"]
    return case


@pytest.mark.parametrize("case", RNN_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent(op, case):
    case = _fit_acts(op, case)
    if op != "LSTM":
        case.pop("init_c", None)
        if case.get("outputs") == ("Y_c",):
            case["outputs"] = ("Y", "Y_h")
    model, feed = rnn_model(op, **case)
    check(model, feed, rtol=RTOL, atol=ATOL)


LAYOUT_CASES = [
    dict(direction="bidirectional", init_h=True, init_c=True),
    dict(seq_lens=[2, 5, 1], direction="reverse", init_h=True),
    dict(direction="forward", outputs=("Y",)),
]


@pytest.mark.parametrize("case", LAYOUT_CASES)
@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_layout1(op, case):
    # onnxruntime's CPU kernels reject layout=1 ("Batchwise recurrent operations are not
    # supported"), so the oracle is onnxruntime on the same weights with layout=0 and
    # transposed inputs and outputs.
    case = dict(case)
    if op != "LSTM":
        case.pop("init_c", None)
    model1, feed1 = rnn_model(op, layout=1, opset=14, consts=False, **case)
    model0, _ = rnn_model(op, layout=0, opset=14, consts=False, **case)
    feed0 = dict(feed1)
    feed0["x"] = feed1["x"].transpose(1, 0, 2).copy()
    for k in ("h0", "c0"):
        if k in feed1:
            feed0[k] = feed1[k].transpose(1, 0, 2).copy()
    expected = run_ort(model0, feed0)
    actual = run_ei(model1, feed1)
    names = [o.name for o in model1.graph.output]
    assert len(actual) == len(expected)
    for name, a, e in zip(names, actual, expected):
        e = e.transpose(2, 0, 1, 3) if name == "Y" else e.transpose(1, 0, 2)
        assert_close(a, np.ascontiguousarray(e), rtol=RTOL, atol=ATOL, what=name)


@pytest.mark.parametrize("lbr", [0, 1])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_gru_linear_before_reset(lbr, direction):
    model, feed = rnn_model("GRU", direction=direction, init_h=True, seq_lens=[4, 5, 2],
                            linear_before_reset=lbr)
    check(model, feed)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_peepholes_input_forget(direction):
    model, feed = rnn_model("LSTM", direction=direction, peep=True, init_h=True, init_c=True)
    check(model, feed)
    model, feed = rnn_model("LSTM", direction=direction, peep=True, input_forget=1)
    check(model, feed)


@pytest.mark.parametrize("op,opset,attrs", [("GRU", 3, dict(linear_before_reset=1)),
                                            ("GRU", 1, {}), ("LSTM", 1, {}), ("RNN", 1, {})])
def test_recurrent_old_opsets(op, opset, attrs):
    # onnxruntime has no kernels below opset 7 for these ops; opsets 1/3 compute the same
    # thing as 7 for these attributes, so the oracle is onnxruntime on the opset-7 model.
    old, feed = rnn_model(op, opset=opset, direction="bidirectional", init_h=True, **attrs)
    new, _ = rnn_model(op, opset=7, direction="bidirectional", init_h=True, **attrs)
    actual, expected = run_ei(old, feed), run_ort(new, feed)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        assert_close(a, e, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("op,opset", [("LSTM", 7), ("LSTM", 14), ("LSTM", 22),
                                      ("GRU", 7), ("GRU", 14), ("GRU", 22), ("RNN", 7),
                                      ("RNN", 14), ("RNN", 22)])
def test_recurrent_opsets(op, opset):
    model, feed = rnn_model(op, opset=opset, direction="bidirectional", init_h=True)
    check(model, feed)


def test_recurrent_errors():
    model, feed = rnn_model("LSTM", activations=["Sigmoid", "Gelu", "Tanh"])
    expect_error(edgeinfer.Unsupported, "activation 'Gelu'", model, feed)
    model, feed = rnn_model("GRU", direction="sideways")
    expect_error(edgeinfer.InvalidModel, "direction", model, feed)
    model, feed = rnn_model("RNN", H=4)
    next(a for a in model.graph.node[0].attribute if a.name == "hidden_size").i = 5
    expect_error(edgeinfer.InvalidModel, "hidden_size", model, feed)
    model, feed = rnn_model("LSTM", seq_lens=[1, 7, 2])
    expect_error(edgeinfer.InvalidArgument, "sequence_lens", model, feed)
    model, feed = rnn_model("GRU", init_h=True)
    from onnx import numpy_helper
    i = next(i for i, t in enumerate(model.graph.initializer) if t.name == "h0")
    model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.zeros([1, 2, 6], np.float32), "h0"))
    expect_error(edgeinfer.InvalidArgument, "initial_h", model, feed)
    model, feed = rnn_model("LSTM", activations=["Sigmoid", "Tanh"])
    expect_error(edgeinfer.InvalidModel, "activations", model, feed)


# -------------------------------------------------------------------- LpPool

LP_CASES = [
    # (x shape, attrs)
    ([1, 2, 6, 6], dict(kernel_shape=[2, 2])),
    ([2, 3, 7, 5], dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ([1, 2, 7, 7], dict(kernel_shape=[3, 2], p=1)),
    ([1, 2, 7, 7], dict(kernel_shape=[3, 3], p=3, strides=[2, 1])),
    ([1, 3, 9], dict(kernel_shape=[4], strides=[2], pads=[2, 1])),
    ([1, 2, 4, 5, 6], dict(kernel_shape=[2, 2, 3], strides=[1, 2, 2])),
    ([1, 2, 6, 6], dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER")),
    ([1, 2, 7, 6], dict(kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_LOWER")),
    ([1, 2, 5, 5], dict(kernel_shape=[3, 3], auto_pad="VALID", p=4)),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs,attrs", LP_CASES)
def test_lp_pool(xs, attrs, threads):
    node = helper.make_node("LpPool", ["x"], ["y"], name="lp", **attrs)
    model = make_model([node], [("x", F, xs)], [out("y", len(xs))])
    check(model, {"x": rand(xs, seed=9)}, threads)


@pytest.mark.parametrize("attrs", [dict(dilations=[2, 2]), dict(ceil_mode=1, strides=[2, 2]),
                                   dict(dilations=[1, 2], strides=[2, 1], pads=[1, 0, 1, 1])])
def test_lp_pool_opset18(attrs):
    node = helper.make_node("LpPool", ["x"], ["y"], name="lp", kernel_shape=[2, 2], p=2, **attrs)
    model = make_model([node], [("x", F, [1, 2, 7, 8])], [out("y", 4)], opset=18)
    check(model, {"x": rand([1, 2, 7, 8], seed=9)})


@pytest.mark.parametrize("opset,p", [(1, 2.0), (1, 3.0), (2, 3), (11, 2), (22, 2)])
def test_lp_pool_opsets(opset, p):
    node = helper.make_node("LpPool", ["x"], ["y"], name="lp", kernel_shape=[3, 3], p=p,
                            strides=[2, 2])
    model = make_model([node], [("x", F, [1, 2, 7, 7])], [out("y", 4)], opset=max(opset, 7))
    if opset == 1:
        # onnxruntime has no LpPool-1 kernel (p was a float then); LpPool-2 with the same
        # integral p computes the same thing, so it is the oracle.
        model.opset_import[0].version = 1
        node2 = helper.make_node("LpPool", ["x"], ["y"], name="lp", kernel_shape=[3, 3],
                                 p=int(p), strides=[2, 2])
        model2 = make_model([node2], [("x", F, [1, 2, 7, 7])], [out("y", 4)], opset=7)
        feed = {"x": rand([1, 2, 7, 7], seed=9)}
        assert_close(run_ei(model, feed)[0], run_ort(model2, feed)[0], rtol=RTOL, atol=ATOL)
    else:
        check(model, {"x": rand([1, 2, 7, 7], seed=9)})


def test_lp_pool_errors():
    node = helper.make_node("LpPool", ["x"], ["y"], name="lp", kernel_shape=[2, 2], p=0)
    model = make_model([node], [("x", F, [1, 2, 4, 4])], [out("y", 4)])
    expect_error(edgeinfer.InvalidModel, "attribute 'p'", model, {"x": rand([1, 2, 4, 4])})
    node = helper.make_node("LpPool", ["x"], ["y"], name="lp", kernel_shape=[2, 2])
    model = make_model([node], [("x", F, [1, 2, 4])], [out("y", 3)])
    expect_error(edgeinfer.InvalidArgument, "expected rank 4", model, {"x": rand([1, 2, 4])})


# -------------------------------------------------------------------- MaxUnpool

def pool_then_unpool(xs, kernel, strides=None, pads=None, output_shape=None, os_const=True,
                     opset=17):
    """MaxPool (with Indices) feeding MaxUnpool, the way models use it."""
    attrs = dict(kernel_shape=kernel)
    if strides:
        attrs["strides"] = strides
    if pads:
        attrs["pads"] = pads
    nodes = [helper.make_node("MaxPool", ["x"], ["p", "i"], name="mp", **attrs)]
    names = ["p", "i"]
    inputs = [("x", F, xs)]
    inits = []
    feed = {"x": rand(xs, seed=21)}
    if output_shape is not None:
        names.append("os")
        arr = np.asarray(output_shape, np.int64)
        if os_const:
            inits.append(("os", arr))
        else:
            inputs.append(("os", I64, [len(output_shape)]))
            feed["os"] = arr
    nodes.append(helper.make_node("MaxUnpool", names, ["y"], name="unpool", **attrs))
    return make_model(nodes, inputs, [out("y", len(xs))], inits, opset=opset), feed


# Shapes where unpooling gives back the pooled input's shape: there onnxruntime and the ONNX
# specification agree. (When output_shape is larger than the shape the window implies,
# onnxruntime scatters the flat indices straight into output_shape, while the spec and its
# conformance test test_maxunpool_export_with_output_shape index the implied shape and pad
# at the end; edgeinfer follows the spec, checked against the ONNX reference below.)
UNPOOL_CASES = [
    ([1, 2, 4, 4], [2, 2], [2, 2], None, None),
    ([2, 3, 4, 6], [2, 2], [2, 2], None, None),
    ([1, 2, 5, 5], [3, 3], [2, 2], [1, 1, 1, 1], None),
    ([1, 2, 9], [3], [3], None, None),
    ([1, 2, 4, 4, 4], [2, 2, 2], [2, 2, 2], None, None),
    ([1, 2, 4, 4], [2, 2], [2, 2], None, [1, 2, 4, 4]),
    ([2, 2, 6, 4], [3, 2], [3, 2], None, None),
]


@pytest.mark.parametrize("xs,kernel,strides,pads,os", UNPOOL_CASES)
def test_max_unpool(xs, kernel, strides, pads, os):
    model, feed = pool_then_unpool(xs, kernel, strides, pads, os)
    check(model, feed, exact=True)


@pytest.mark.parametrize("opset", [9, 11, 22])
def test_max_unpool_opsets(opset):
    model, feed = pool_then_unpool([1, 2, 4, 6], [2, 2], [2, 2], opset=max(opset, 12))
    model.opset_import[0].version = opset if opset >= 12 else 12
    check(model, feed, exact=True)


def test_max_unpool_runtime_output_shape():
    # output_shape as a graph input: the output shape is only known at run. Equal to the
    # implied shape, compared with onnxruntime; larger, compared with the ONNX reference
    # (see UNPOOL_CASES for why onnxruntime differs there).
    model, feed = pool_then_unpool([1, 2, 4, 4], [2, 2], [2, 2], output_shape=[1, 2, 4, 4],
                                   os_const=False)
    check(model, feed, exact=True)
    x = rand([1, 2, 2, 2], seed=4)
    i = np.array([[[[0, 3], [9, 14]], [[17, 18], [24, 31]]]], np.int64)
    node = helper.make_node("MaxUnpool", ["x", "i", "os"], ["y"], name="unpool",
                            kernel_shape=[2, 2], strides=[2, 2])
    model = make_model([node], [("x", F, [1, 2, 2, 2]), ("i", I64, [1, 2, 2, 2]),
                                ("os", I64, [4])], [out("y", 4)])
    for shape in ([1, 2, 5, 6], [1, 2, 4, 4], [1, 2, 4, 7]):
        check_ref(model, {"x": x, "i": i, "os": np.array(shape, np.int64)}, rtol=0, atol=0)


def test_max_unpool_direct():
    # Hand-written indices, as in the ONNX spec's example (output_shape pads at the end).
    x = np.array([[[[5, 6], [7, 8]]]], np.float32)
    i = np.array([[[[5, 7], [13, 15]]]], np.int64)
    node = helper.make_node("MaxUnpool", ["x", "i", "os"], ["y"], name="unpool",
                            kernel_shape=[2, 2], strides=[2, 2])
    model = make_model([node], [("x", F, [1, 1, 2, 2]), ("i", I64, [1, 1, 2, 2])],
                       [out("y", 4)], [("os", np.array([1, 1, 5, 5], np.int64))])
    check_ref(model, {"x": x, "i": i}, rtol=0, atol=0)


def test_max_unpool_errors():
    x = np.ones([1, 1, 2, 2], np.float32)
    node = helper.make_node("MaxUnpool", ["x", "i"], ["y"], name="unpool", kernel_shape=[2, 2],
                            strides=[2, 2])
    model = make_model([node], [("x", F, [1, 1, 2, 2]), ("i", I64, [1, 1, 2, 2])], [out("y", 4)])
    bad = np.array([[[[0, 1], [2, 16]]]], np.int64)
    expect_error(edgeinfer.IndexOutOfRange,
                 "input I 'i'", model, {"x": x, "i": bad})
    model = make_model([node], [("x", F, [1, 1, 2, 2]), ("i", I64, [1, 1, 2, 3])], [out("y", 4)])
    expect_error(edgeinfer.InvalidArgument, "int64 indices", model,
                 {"x": x, "i": np.zeros([1, 1, 2, 3], np.int64)})
    node = helper.make_node("MaxUnpool", ["x", "i", "os"], ["y"], name="unpool",
                            kernel_shape=[2, 2], strides=[2, 2])
    model = make_model([node], [("x", F, [1, 1, 2, 2]), ("i", I64, [1, 1, 2, 2])], [out("y", 4)],
                       [("os", np.array([1, 1, 3, 3], np.int64))])
    expect_error(edgeinfer.InvalidArgument, "output_shape", model,
                 {"x": x, "i": np.zeros([1, 1, 2, 2], np.int64)})


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_threads(op):
    # Large enough that X*W is split over 3 threads; the two directions run on two threads.
    model, feed = rnn_model(op, T=6, B=4, I=48, H=96, direction="bidirectional", init_h=True,
                            seq_lens=[6, 3, 5, 1])
    check(model, feed, threads=3)


# (B, H) per op making every step's H*R products split over threads by columns and with
# batches of several rows.
STEP_SPLIT = {"LSTM": (32, 128), "GRU": (32, 192), "RNN": (64, 192)}


@pytest.mark.parametrize("case", [dict(), dict(seq_lens="mixed", direction="reverse"),
                                  dict(consts=False, linear_before_reset=1),
                                  dict(seq_lens="full", init_h=True)],
                         ids=["uniform", "lens", "inputs_lbr", "full_lens"])
@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_step_threads(op, case):
    case = dict(case)
    B, H = STEP_SPLIT[op]
    T = 3
    if case.get("seq_lens") == "mixed":
        case["seq_lens"] = [(b % T) + 1 for b in range(B)]
    elif case.get("seq_lens") == "full":
        case["seq_lens"] = [T] * B
    if op != "GRU":
        case.pop("linear_before_reset", None)
    model, feed = rnn_model(op, T=T, B=B, I=8, H=H, **case)
    check(model, feed, threads=2)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("threads", [1, 2])
def test_recurrent_bidirectional_uniform_lens(op, threads):
    # sequence_lens all equal to T take the fused (uniform) path; weights as inputs are
    # packed at every run.
    for consts in (True, False):
        model, feed = rnn_model(op, T=5, B=3, I=7, H=33, direction="bidirectional",
                                seq_lens=[5, 5, 5], init_h=True, consts=consts)
        check(model, feed, threads=threads)


def test_lstm_stacked_torch_like():
    # Two LSTM layers as torch.nn.LSTM(64, 256, num_layers=2) exports them at batch 1
    # (LSTM -> Squeeze -> LSTM), the benchmark's sequence model, at 1 and 2 threads.
    T, I, H = 20, 64, 256
    rng = np.random.default_rng(5)
    k = 1.0 / np.sqrt(H)
    inits = []
    for l, inp in enumerate((I, H)):
        inits += [(f"w{l}", rng.uniform(-k, k, (1, 4 * H, inp)).astype(np.float32)),
                  (f"r{l}", rng.uniform(-k, k, (1, 4 * H, H)).astype(np.float32)),
                  (f"b{l}", rng.uniform(-k, k, (1, 8 * H)).astype(np.float32))]
    inits.append(("ax", np.array([1], np.int64)))
    nodes = [helper.make_node("LSTM", ["x", "w0", "r0", "b0"], ["y0"], hidden_size=H),
             helper.make_node("Squeeze", ["y0", "ax"], ["x1"]),
             helper.make_node("LSTM", ["x1", "w1", "r1", "b1"], ["y1"], hidden_size=H),
             helper.make_node("Squeeze", ["y1", "ax"], ["y"])]
    model = make_model(nodes, [("x", F, [T, 1, I])], [out("y", 3)], inits)
    feed = {"x": rand([T, 1, I], seed=3)}
    for threads in (1, 2):
        check(model, feed, threads=threads)
