"""Graph optimization passes (csrc/opt/): BatchNormalization folding, Conv/MatMul/Gemm
epilogue fusion (bias, residual, activations), the GELU pattern, and the eliminations.

Every model is checked three ways: against onnxruntime, against edgeinfer with the
optimizations off, and for the nodes that actually ran (the profiler's records name the
optimized graph's ops), including the cases where a fusion must not happen.
Tolerance: rtol/atol 1e-4 (relative to the output's magnitude): folding BN into the
weights and fusing epilogues reorders float32 roundings; nothing else changes.
"""
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeinfer
from ortcheck import assert_close, make_model, run_ort

torch = None
if os.environ.get("EDGEINFER_TESTS_NO_TORCH") != "1":
    try:
        import torch  # noqa: F811
    except ImportError:  # pragma: no cover
        torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch not available (or EDGEINFER_TESTS_NO_TORCH=1)")

F = TensorProto.FLOAT
TOL = dict(rtol=1e-4, atol=1e-4)


def run_ops(model, feed, level=1):
    """(outputs, top-level op types that ran) for edgeinfer at optimization level 0 or 1."""
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = 1
    so.enable_profiling = True
    if level == 0:
        so.graph_optimization_level = edgeinfer.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = edgeinfer.InferenceSession(model.SerializeToString(), so)
    out = sess.run(None, feed)
    core = sess._sess
    if not hasattr(core, "profile_entries"):  # profiler not built in: values only
        return out, None
    return out, [e[1] for e in core.profile_entries() if e[4] == 0]


def check(model, feed, want_ops=None, absent=(), present=(), tol=TOL):
    """Compares with onnxruntime and with edgeinfer unoptimized; checks the ops that ran."""
    ref = run_ort(model, feed)
    out, ops = run_ops(model, feed)
    out0, _ = run_ops(model, feed, level=0)
    for i, (a, e, a0) in enumerate(zip(out, ref, out0)):
        assert_close(a, e, what=f"output {i} vs onnxruntime", **tol)
        assert_close(a, a0, what=f"output {i} vs unoptimized", **tol)
    if ops is not None:
        if want_ops is not None:
            assert sorted(ops) == sorted(want_ops), ops
        for op in absent:
            assert op not in ops, ops
        for op in present:
            assert op in ops, ops
    return ops


def f32(rng, *shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


# ---------------------------------------------------------------- BatchNormalization


def bn_inits(rng, c, prefix="bn"):
    return [(f"{prefix}_s", f32(rng, c, lo=0.5, hi=1.5)), (f"{prefix}_b", f32(rng, c)),
            (f"{prefix}_m", f32(rng, c)), (f"{prefix}_v", f32(rng, c, lo=0.5, hi=2.0))]


def bn_node(x, y, prefix="bn", **kw):
    return helper.make_node("BatchNormalization", [x] + [f"{prefix}_{k}" for k in "sbmv"], [y], **kw)


@pytest.mark.parametrize("bias", [True, False])
def test_conv_bn_folds(rng, bias):
    w = f32(rng, 8, 4, 3, 3)
    conv_in = ["x", "w", "cb"] if bias else ["x", "w"]
    inits = [("w", w)] + ([("cb", f32(rng, 8))] if bias else []) + bn_inits(rng, 8)
    m = make_model([helper.make_node("Conv", conv_in, ["c"], pads=[1, 1, 1, 1]),
                    bn_node("c", "y", epsilon=1e-3)],
                   [("x", F, [2, 4, 6, 6])], [("y", F, [2, 8, 6, 6])], inits)
    check(m, {"x": f32(rng, 2, 4, 6, 6)}, want_ops=["Conv"])


def test_conv_bn_shared_weight_folds_each(rng):
    """Two Convs read one W: each gets its own folded copy; W itself is not changed."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c1"]), bn_node("c1", "y1", "p"),
             helper.make_node("Conv", ["x", "w"], ["c2"]), bn_node("c2", "y2", "q")]
    m = make_model(nodes, [("x", F, [1, 3, 5, 5])], [("y1", F, None), ("y2", F, None)],
                   [("w", f32(rng, 4, 3, 1, 1))] + bn_inits(rng, 4, "p") + bn_inits(rng, 4, "q"))
    check(m, {"x": f32(rng, 1, 3, 5, 5)}, want_ops=["Conv", "Conv"])


def test_conv_bn_not_folded_when_conv_output_is_used(rng):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), bn_node("c", "y")]
    m = make_model(nodes, [("x", F, [1, 3, 5, 5])], [("y", F, None), ("c", F, None)],
                   [("w", f32(rng, 4, 3, 3, 3))] + bn_inits(rng, 4))
    check(m, {"x": f32(rng, 1, 3, 5, 5)}, present=["BatchNormalization"])


def test_bn_with_runtime_stats_not_folded(rng):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["y"])]
    m = make_model(nodes, [("x", F, [1, 3, 5, 5]), ("m", F, [4])], [("y", F, None)],
                   [("w", f32(rng, 4, 3, 3, 3)), ("s", f32(rng, 4)), ("b", f32(rng, 4)),
                    ("v", f32(rng, 4, lo=0.5, hi=1.0))])
    check(m, {"x": f32(rng, 1, 3, 5, 5), "m": f32(rng, 4)}, present=["BatchNormalization"])


# ------------------------------------------------------------- Conv epilogues

ACTS = {
    "Relu": ([helper.make_node("Relu", ["c"], ["y"])], []),
    "Sigmoid": ([helper.make_node("Sigmoid", ["c"], ["y"])], []),
    "Tanh": ([helper.make_node("Tanh", ["c"], ["y"])], []),
    "LeakyRelu": ([helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.2)], []),
    "HardSigmoid": ([helper.make_node("HardSigmoid", ["c"], ["y"], alpha=0.3, beta=0.4)], []),
    "HardSwish": ([helper.make_node("HardSwish", ["c"], ["y"])], []),
    "Clip11": ([helper.make_node("Clip", ["c", "lo", "hi"], ["y"])],
               [("lo", np.array(0.0, np.float32)), ("hi", np.array(6.0, np.float32))]),
    "ClipMinOnly": ([helper.make_node("Clip", ["c", "lo"], ["y"])], [("lo", np.array(-0.5, np.float32))]),
    "SiLU": ([helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])], []),
    "GeluErf": ([helper.make_node("Div", ["c", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
                 helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["c", "e1"], ["p"]),
                 helper.make_node("Mul", ["p", "half"], ["y"])],
                [("sq2", np.array(1.4142135, np.float32)), ("one", np.array(1.0, np.float32)),
                 ("half", np.array(0.5, np.float32))]),
}


def conv_model(rng, act_nodes, act_inits, opset=17, out_shape=(1, 8, 6, 6)):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])] + act_nodes
    return make_model(nodes, [("x", F, [1, 4, 6, 6])], [("y", F, list(out_shape))],
                      [("w", f32(rng, 8, 4, 3, 3)), ("b", f32(rng, 8))] + act_inits, opset=opset)


@pytest.mark.parametrize("act", sorted(ACTS))
def test_conv_activation_fuses(rng, act):
    nodes, inits = ACTS[act]
    check(conv_model(rng, nodes, inits), {"x": f32(rng, 1, 4, 6, 6, lo=-2, hi=2)}, want_ops=["FusedConv"])


def test_conv_clip_attributes_opset6(rng):
    m = conv_model(rng, [helper.make_node("Clip", ["c"], ["y"], min=-0.25, max=0.5)], [], opset=10)
    check(m, {"x": f32(rng, 1, 4, 6, 6)}, want_ops=["FusedConv"])


def test_conv_clip_runtime_bound_not_fused(rng):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Clip", ["c", "lo"], ["y"])]
    m = make_model(nodes, [("x", F, [1, 4, 6, 6]), ("lo", F, [])], [("y", F, None)],
                   [("w", f32(rng, 8, 4, 3, 3))])
    check(m, {"x": f32(rng, 1, 4, 6, 6), "lo": np.array(0.1, np.float32)}, present=["Clip"])


def test_conv_output_used_twice_not_fused(rng):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Add", ["r", "c"], ["y"])]
    m = make_model(nodes, [("x", F, [1, 4, 6, 6])], [("y", F, None)], [("w", f32(rng, 8, 4, 3, 3))])
    check(m, {"x": f32(rng, 1, 4, 6, 6)}, present=["Conv", "Relu"])


def test_conv_output_is_graph_output_not_fused(rng):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    m = make_model(nodes, [("x", F, [1, 4, 6, 6])], [("y", F, None), ("c", F, None)],
                   [("w", f32(rng, 8, 4, 3, 3))])
    check(m, {"x": f32(rng, 1, 4, 6, 6)}, present=["Conv", "Relu"])


@pytest.mark.parametrize("act", [None, "Relu"])
def test_conv_residual_fuses(rng, act):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["x"], ["r"]),  # Z produced after the Conv
             helper.make_node("Add", ["r", "c"], ["a" if act else "y"])]
    if act:
        nodes.append(helper.make_node(act, ["a"], ["y"]))
    m = make_model(nodes, [("x", F, [1, 8, 5, 5])], [("y", F, None)],
                   [("w", f32(rng, 8, 8, 3, 3)), ("b", f32(rng, 8))])
    check(m, {"x": f32(rng, 1, 8, 5, 5)}, want_ops=["Relu", "FusedConv"])


@pytest.mark.parametrize("zshape", [[1, 8, 1, 1], [8, 1, 1], [1, 1, 5, 5], [5]])
def test_conv_broadcasting_add_not_fused_as_residual(rng, zshape):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "z"], ["y"])]
    m = make_model(nodes, [("x", F, [1, 8, 5, 5]), ("z", F, zshape)], [("y", F, None)],
                   [("w", f32(rng, 8, 8, 3, 3))])
    check(m, {"x": f32(rng, 1, 8, 5, 5), "z": f32(rng, *zshape)}, present=["Add"])


def test_conv_residual_dynamic_shapes_not_fused(rng):
    """With a dynamic batch the shapes cannot be proved equal: the Add stays."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "z"], ["y"])]
    m = make_model(nodes, [("x", F, ["n", 8, 5, 5]), ("z", F, ["m", 8, 5, 5])], [("y", F, None)],
                   [("w", f32(rng, 8, 8, 3, 3))])
    check(m, {"x": f32(rng, 2, 8, 5, 5), "z": f32(rng, 1, 8, 5, 5)}, present=["Add"])


def test_conv_bn_residual_relu_one_node(rng):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), bn_node("c", "b"),
             helper.make_node("Add", ["b", "x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    m = make_model(nodes, [("x", F, [2, 6, 7, 7])], [("y", F, None)],
                   [("w", f32(rng, 6, 6, 3, 3))] + bn_inits(rng, 6))
    check(m, {"x": f32(rng, 2, 6, 7, 7)}, want_ops=["FusedConv"])


# ------------------------------------------------------------ MatMul / Gemm


def mm_act(name, y="a", out="y"):
    nodes, inits = ACTS[name]
    ren = {"c": y, "y": out}
    new = []
    for n in nodes:
        n2 = helper.make_node(n.op_type, [ren.get(i, i) for i in n.input], [ren.get(o, o) for o in n.output])
        n2.attribute.extend(n.attribute)
        new.append(n2)
    return new, inits


@pytest.mark.parametrize("act", [None, "Relu", "GeluErf", "SiLU", "Tanh", "Clip11"])
def test_matmul_bias_activation_fuses(rng, act):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a" if act else "y"])]
    inits = [("w", f32(rng, 16, 24)), ("bias", f32(rng, 24))]
    if act:
        an, ai = mm_act(act)
        nodes += an
        inits += ai
    m = make_model(nodes, [("x", F, ["b", 5, 16])], [("y", F, None)], inits)
    check(m, {"x": f32(rng, 3, 5, 16, lo=-2, hi=2)}, want_ops=["FusedMatMul"])


def test_matmul_bias_first_operand(rng):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["bias", "m"], ["y"])]
    m = make_model(nodes, [("x", F, [7, 16])], [("y", F, None)], [("w", f32(rng, 16, 24)), ("bias", f32(rng, 24))])
    check(m, {"x": f32(rng, 7, 16)}, want_ops=["FusedMatMul"])


@pytest.mark.parametrize("bshape", [[1, 24], [5, 24], [5, 1], [1]])
def test_matmul_broadcasting_add_not_bias(rng, bshape):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["y"])]
    m = make_model(nodes, [("x", F, [5, 16])], [("y", F, None)], [("w", f32(rng, 16, 24)), ("bias", f32(rng, *bshape))])
    check(m, {"x": f32(rng, 5, 16)}, present=["Add"])


def test_matmul_runtime_bias_not_fused(rng):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["y"])]
    m = make_model(nodes, [("x", F, [5, 16]), ("bias", F, [24])], [("y", F, None)], [("w", f32(rng, 16, 24))])
    check(m, {"x": f32(rng, 5, 16), "bias": f32(rng, 24)}, present=["Add"])


def test_matmul_dynamic_b_activation_only(rng):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "bias"], ["a"]),
             helper.make_node("Relu", ["a"], ["y"])]
    m = make_model(nodes, [("x", F, [2, 5, 16]), ("w", F, ["k", "n"])], [("y", F, None)], [("bias", f32(rng, 24))])
    check(m, {"x": f32(rng, 2, 5, 16), "w": f32(rng, 16, 24)}, present=["Add"])


@pytest.mark.parametrize("act", ["Relu", "Sigmoid", "LeakyRelu"])
def test_gemm_activation_fuses(rng, act):
    an, ai = mm_act(act, y="g")
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], transB=1, alpha=0.5, beta=2.0)] + an
    m = make_model(nodes, [("x", F, [4, 16])], [("y", F, None)], [("w", f32(rng, 12, 16)), ("c", f32(rng, 12))] + ai)
    check(m, {"x": f32(rng, 4, 16)}, want_ops=["FusedGemm"])


# ------------------------------------------------------------------ GELU


@pytest.mark.parametrize("form", ["torch", "half_first", "half_last"])
def test_gelu_pattern_becomes_gelu(rng, form):
    c = [("sq2", np.array(1.4142135, np.float32)), ("one", np.array(1.0, np.float32)),
         ("half", np.array(0.5, np.float32))]
    head = [helper.make_node("Div", ["x", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["one", "e"], ["e1"])]
    tails = {"torch": [helper.make_node("Mul", ["x", "e1"], ["p"]), helper.make_node("Mul", ["p", "half"], ["y"])],
             "half_first": [helper.make_node("Mul", ["x", "half"], ["h"]), helper.make_node("Mul", ["h", "e1"], ["y"])],
             "half_last": [helper.make_node("Mul", ["e1", "half"], ["q"]), helper.make_node("Mul", ["x", "q"], ["y"])]}
    m = make_model(head + tails[form], [("x", F, [3, 40])], [("y", F, None)], c)
    check(m, {"x": f32(rng, 3, 40, lo=-4, hi=4)}, want_ops=["Gelu"])


def test_gelu_wrong_constant_not_fused(rng):
    c = [("sq2", np.array(2.0, np.float32)), ("one", np.array(1.0, np.float32)), ("half", np.array(0.5, np.float32))]
    nodes = [helper.make_node("Div", ["x", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["x", "e1"], ["p"]),
             helper.make_node("Mul", ["p", "half"], ["y"])]
    m = make_model(nodes, [("x", F, [3, 40])], [("y", F, None)], c)
    check(m, {"x": f32(rng, 3, 40)}, present=["Erf"])


def test_gelu_inner_value_is_output_not_fused(rng):
    c = [("sq2", np.array(1.4142135, np.float32)), ("one", np.array(1.0, np.float32)), ("half", np.array(0.5, np.float32))]
    nodes = [helper.make_node("Div", ["x", "sq2"], ["d"]), helper.make_node("Erf", ["d"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["e1"]), helper.make_node("Mul", ["x", "e1"], ["p"]),
             helper.make_node("Mul", ["p", "half"], ["y"])]
    m = make_model(nodes, [("x", F, [3, 40])], [("y", F, None), ("e", F, None)], c)
    check(m, {"x": f32(rng, 3, 40)}, present=["Erf"])


# -------------------------------------------------------------- LayerNorm


def layer_norm_nodes(square="pow", beta=True, axes=(-1,), opset=17, gamma="g"):
    ax = dict(axes=list(axes)) if opset < 18 else {}
    ins = (lambda x: [x]) if opset < 18 else (lambda x: [x, "axes"])
    nodes = [helper.make_node("ReduceMean", ins("x"), ["mu"], **ax), helper.make_node("Sub", ["x", "mu"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["d2"]) if square == "pow" else helper.make_node("Mul", ["d", "d"], ["d2"]),
             helper.make_node("ReduceMean", ins("d2"), ["var"], **ax), helper.make_node("Add", ["var", "eps"], ["ve"]),
             helper.make_node("Sqrt", ["ve"], ["sd"]), helper.make_node("Div", ["d", "sd"], ["n"]),
             helper.make_node("Mul", ["n", gamma], ["y" if not beta else "ng"])]
    if beta:
        nodes.append(helper.make_node("Add", ["ng", "b"], ["y"]))
    return nodes


def ln_inits(rng, d, beta=True):
    inits = [("two", np.array(2.0, np.float32)), ("eps", np.array(1e-5, np.float32)), ("g", f32(rng, d)),
             ("axes", np.array([-1], np.int64))]
    return inits + ([("b", f32(rng, d))] if beta else [])


@pytest.mark.parametrize("square,beta,opset,dims", [("pow", True, 14, [2, 5, 16]), ("mul", False, 13, [3, 16]),
                                                   ("pow", True, 18, ["n", 4, 16])])
def test_layer_norm_pattern_fuses(rng, square, beta, opset, dims):
    m = make_model(layer_norm_nodes(square, beta, opset=opset), [("x", F, dims)], [("y", F, None)],
                   ln_inits(rng, 16, beta), opset=opset)
    shape = [2 if isinstance(d, str) else d for d in dims]
    check(m, {"x": f32(rng, *shape, lo=-3, hi=3)}, want_ops=["LayerNormalization"])


def test_layer_norm_other_axis_not_fused(rng):
    m = make_model(layer_norm_nodes(axes=(1,)), [("x", F, [2, 16, 16])], [("y", F, None)], ln_inits(rng, 16))
    check(m, {"x": f32(rng, 2, 16, 16)}, present=["ReduceMean"])


def test_layer_norm_runtime_gamma_not_fused(rng):
    m = make_model(layer_norm_nodes(gamma="gin"), [("x", F, [2, 16]), ("gin", F, [16])], [("y", F, None)],
                   ln_inits(rng, 16))
    check(m, {"x": f32(rng, 2, 16), "gin": f32(rng, 16)}, present=["ReduceMean"])


@needs_torch
def test_torch_layer_norm_opset14(rng):
    import io
    import warnings

    import onnx
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(torch.nn.LayerNorm(24).eval(), (torch.randn(2, 3, 24),), f, opset_version=14, dynamo=False)
    m = onnx.load_from_string(f.getvalue())
    check(m, {m.graph.input[0].name: f32(rng, 2, 3, 24)}, want_ops=["LayerNormalization"])


# ------------------------------------------------------------- eliminations


def test_transposes_cancel(rng):
    nodes = [helper.make_node("Transpose", ["x"], ["t1"], perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["t1"], ["t2"], perm=[0, 3, 1, 2]),
             helper.make_node("Relu", ["t2"], ["y"])]
    m = make_model(nodes, [("x", F, [2, 3, 4, 5])], [("y", F, None)])
    check(m, {"x": f32(rng, 2, 3, 4, 5)}, want_ops=["Relu"])


def test_transposes_compose(rng):
    nodes = [helper.make_node("Transpose", ["x"], ["t1"], perm=[0, 2, 3, 1]),
             helper.make_node("Transpose", ["t1"], ["y"], perm=[2, 0, 1, 3])]
    m = make_model(nodes, [("x", F, [2, 3, 4, 5])], [("y", F, None)])
    check(m, {"x": f32(rng, 2, 3, 4, 5)}, want_ops=["Transpose"])


def test_transposes_cancel_but_inner_is_output(rng):
    nodes = [helper.make_node("Transpose", ["x"], ["t1"], perm=[1, 0]),
             helper.make_node("Transpose", ["t1"], ["t2"], perm=[1, 0]),
             helper.make_node("Relu", ["t2"], ["y"])]
    m = make_model(nodes, [("x", F, [3, 4])], [("y", F, None), ("t1", F, None)])
    check(m, {"x": f32(rng, 3, 4)}, want_ops=["Transpose", "Relu"])


def test_reshape_chain_collapses(rng):
    shp = lambda n, v: (n, np.array(v, np.int64))  # noqa: E731
    nodes = [helper.make_node("Flatten", ["x"], ["f"], axis=2), helper.make_node("Reshape", ["f", "s1"], ["r1"]),
             helper.make_node("Unsqueeze", ["r1", "ax"], ["u"]), helper.make_node("Reshape", ["u", "s2"], ["r2"]),
             helper.make_node("Relu", ["r2"], ["y"])]
    m = make_model(nodes, [("x", F, ["b", 3, 4, 5])], [("y", F, None)],
                   [shp("s1", [-1, 20]), shp("ax", [0]), shp("s2", [-1, 4, 5])])
    check(m, {"x": f32(rng, 2, 3, 4, 5)}, want_ops=["Reshape", "Relu"])


def test_reshape_with_zero_keeps_chain(rng):
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["r1"]), helper.make_node("Reshape", ["r1", "s2"], ["y"])]
    m = make_model(nodes, [("x", F, [2, 3, 4])], [("y", F, None)],
                   [("s1", np.array([6, 4], np.int64)), ("s2", np.array([0, 2, 2], np.int64))])
    check(m, {"x": f32(rng, 2, 3, 4)}, want_ops=["Reshape", "Reshape"])


def test_noop_reshape_and_cast_removed(rng):
    nodes = [helper.make_node("Reshape", ["x", "s"], ["r"]), helper.make_node("Cast", ["r"], ["c"], to=F),
             helper.make_node("Squeeze", ["c"], ["q"]), helper.make_node("Relu", ["q"], ["y"])]
    m = make_model(nodes, [("x", F, [2, 3, 4])], [("y", F, None)], [("s", np.array([2, -1, 4], np.int64))])
    check(m, {"x": f32(rng, 2, 3, 4)}, want_ops=["Relu"])


def test_noop_reshape_feeding_output_kept(rng):
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Reshape", ["r", "s"], ["y"])]
    m = make_model(nodes, [("x", F, [2, 3])], [("y", F, None)], [("s", np.array([2, 3], np.int64))])
    check(m, {"x": f32(rng, 2, 3)}, want_ops=["Relu", "Reshape"])


def test_subgraph_reads_fused_away_value(rng):
    """An If branch reads the Conv output by name: the Conv+Relu fusion must keep it."""
    then_g = helper.make_graph([helper.make_node("Identity", ["c"], ["o"])], "then", [],
                               [helper.make_tensor_value_info("o", F, None)])
    else_g = helper.make_graph([helper.make_node("Neg", ["c"], ["o"])], "else", [],
                               [helper.make_tensor_value_info("o", F, None)])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("If", ["cond"], ["i"], then_branch=then_g, else_branch=else_g),
             helper.make_node("Add", ["r", "i"], ["y"])]
    m = make_model(nodes, [("x", F, [1, 2, 4, 4]), ("cond", TensorProto.BOOL, [])], [("y", F, None)],
                   [("w", f32(rng, 3, 2, 1, 1))])
    for cond in (True, False):
        check(m, {"x": f32(rng, 1, 2, 4, 4), "cond": np.array(cond)}, present=["Relu", "If"])


# -------------------------------------------------------------- torch models



def torch_export(module, args, **kw):
    import io
    import warnings

    import onnx
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, f, opset_version=17, dynamo=False, **kw)
    return onnx.load_from_string(f.getvalue())


def resnet_block_model(c=16, hw=14, batch_dynamic=False, bn_training_export=False):
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = torch.nn.Conv2d(3, c, 3, padding=1, bias=False)
            self.bn0 = torch.nn.BatchNorm2d(c)
            self.c1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.b1 = torch.nn.BatchNorm2d(c)
            self.c2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.b2 = torch.nn.BatchNorm2d(c)
            self.down = torch.nn.Conv2d(c, 2 * c, 1, stride=2)
            self.c3 = torch.nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
            self.act = torch.nn.Hardswish()
            self.fc = torch.nn.Linear(2 * c, 10)

        def forward(self, x):
            x = torch.relu(self.bn0(self.stem(x)))
            y = torch.relu(self.b1(self.c1(x)))
            x = torch.relu(self.b2(self.c2(y)) + x)
            x = self.act(self.c3(x)) + self.down(x)
            x = torch.nn.functional.silu(x)
            return self.fc(x.mean((2, 3)))

    torch.manual_seed(0)
    m = Block()
    for mod in m.modules():  # non-trivial statistics
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.5, 0.5)
    kw = {}
    if batch_dynamic:
        kw = dict(input_names=["x"], dynamic_axes={"x": {0: "n"}})
    if bn_training_export:  # keep BatchNormalization nodes in the export
        kw["training"] = torch.onnx.TrainingMode.PRESERVE
        kw["do_constant_folding"] = False
    return torch_export(m, (torch.randn(1, 3, hw, hw),), **kw)


@needs_torch
@pytest.mark.parametrize("keep_bn", [False, True])
def test_torch_resnet_block(rng, keep_bn):
    m = resnet_block_model(bn_training_export=keep_bn)
    x = f32(rng, 1, 3, 14, 14)
    ops = check(m, {m.graph.input[0].name: x}, absent=["BatchNormalization"])
    if ops is not None:
        assert "Conv" not in ops and ops.count("FusedConv") == 5, ops
        assert "Relu" not in ops and "HardSwish" not in ops, ops


@needs_torch
def test_torch_resnet_block_dynamic_batch(rng):
    m = resnet_block_model(batch_dynamic=True)
    ops = check(m, {"x": f32(rng, 2, 3, 14, 14)})
    if ops is not None:
        # BN folded and Conv+Relu fused, but the residual Adds (and the Relu after one)
        # stay: with a dynamic batch their operands' shapes are not proved equal.
        assert "BatchNormalization" not in ops and ops.count("FusedConv") >= 3, ops
        assert ops.count("Add") == 2, ops


def encoder_model(batch_dynamic=False):
    class Encoder(torch.nn.Module):
        def __init__(self, d=32, heads=4):
            super().__init__()
            self.layer = torch.nn.TransformerEncoderLayer(d, heads, dim_feedforward=64, dropout=0.0,
                                                          activation="gelu", batch_first=True)
            self.qkv = torch.nn.Linear(d, 3 * d)
            self.heads = heads

        def forward(self, x):
            return self.layer(x)

    torch.manual_seed(0)
    kw = dict(input_names=["x"])
    if batch_dynamic:
        kw["dynamic_axes"] = {"x": {0: "n", 1: "s"}}
    return torch_export(Encoder(), (torch.randn(1, 6, 32),), **kw)


@needs_torch
@pytest.mark.parametrize("dyn", [False, True])
def test_torch_transformer_encoder(rng, dyn):
    m = encoder_model(dyn)
    ops = check(m, {"x": f32(rng, 1, 6, 32)})
    if ops is not None:
        assert "FusedMatMul" in ops and "Erf" not in ops, ops


# ---------------------------------------------------------------- Pad -> Conv


def _pad_conv_model(pads, opset=17, value=None, mode=None, conv_pads=(1, 0, 0, 1), value_attr=False,
                    pad_used_twice=False, strides=(2, 2)):
    rng = np.random.default_rng(len(pads) + opset)
    inits = [("w", f32(rng, 6, 3, 3, 3)), ("b", f32(rng, 6))]
    kw = {"mode": mode} if mode else {}
    if opset < 11:
        kw["pads"] = list(pads)
        if value is not None:
            kw["value"] = value
        pad = helper.make_node("Pad", ["x"], ["p"], **kw)
    else:
        inits.append(("pads", np.array(pads, dtype=np.int64)))
        ins = ["x", "pads"]
        if value is not None:
            inits.append(("v", np.array(value, dtype=np.float32)))
            ins.append("v")
        pad = helper.make_node("Pad", ins, ["p"], **kw)
    conv = helper.make_node("Conv", ["p", "w", "b"], ["y"], pads=list(conv_pads), strides=list(strides))
    nodes = [pad, conv]
    outs = [("y", F, None)]
    if pad_used_twice:
        nodes.append(helper.make_node("Relu", ["p"], ["r"]))
        outs.append(("r", F, None))
    return make_model(nodes, [("x", F, [1, 3, 11, 10])], outs, inits, opset=opset)


@pytest.mark.parametrize("opset", [2, 11, 17])
@pytest.mark.parametrize("pads", [(0, 0, 1, 1, 0, 0, 1, 1), (0, 0, 0, 1, 0, 0, 2, 0), (0, 0, 0, 0, 0, 0, 0, 0)])
def test_pad_folds_into_conv(opset, pads):
    rng = np.random.default_rng(1)
    model = _pad_conv_model(pads, opset=opset, value=0.0 if opset >= 11 else None)
    check(model, {"x": f32(rng, 1, 3, 11, 10)}, want_ops=["Conv"])


@pytest.mark.parametrize("case", ["value", "reflect", "channel", "negative", "used_twice"])
def test_pad_not_folded(case):
    rng = np.random.default_rng(2)
    pads = (0, 0, 1, 1, 0, 0, 1, 1)
    kw = {}
    if case == "value":
        kw["value"] = 0.5
    elif case == "reflect":
        kw["mode"] = "reflect"
    elif case == "channel":
        pads = (0, 1, 1, 1, 0, 0, 1, 1)
    elif case == "negative":
        pads = (0, 0, -1, 1, 0, 0, 1, 1)
    elif case == "used_twice":
        kw["pad_used_twice"] = True
    model = _pad_conv_model(pads, **kw)
    if case == "channel":  # the Conv then sees 4 channels: W must match
        model.graph.initializer[0].CopyFrom(numpy_helper.from_array(f32(rng, 6, 4, 3, 3), "w"))
    check(model, {"x": f32(rng, 1, 3, 11, 10)}, present=["Pad"])
