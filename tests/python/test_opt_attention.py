"""The attention fusion (csrc/opt/fuse_attention.c): BERT-style scaled dot-product
attention spelled out as Reshape/Transpose -> MatMul -> Div|Mul -> Add(mask) -> Softmax ->
MatMul -> Transpose -> Reshape becomes one com.edgeinfer FusedAttention node.

Each model is compared with onnxruntime and with edgeinfer unoptimized, at 1 and 2
threads, and the profiler's op list tells whether the fusion happened; the cases that
must keep the unfused graph (shapes it cannot take, intermediates read elsewhere, masks
that widen the scores or broadcast over keys) are checked as well.
Tolerance: rtol/atol 1e-5 relative to the output's magnitude: the fused op scales the
scores in the GEMM (x * (1/c) instead of x / c) and sums products in another order;
softmax outputs are <= 1 and the values are O(1), so differences stay at a few ulps.
"""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeinfer
from ortcheck import assert_close, make_model, run_ort

F = TensorProto.FLOAT
TOL = dict(rtol=1e-5, atol=1e-5)


def run_ops(model, feed, level=1, threads=1):
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = threads
    so.enable_profiling = True
    if level == 0:
        so.graph_optimization_level = edgeinfer.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = edgeinfer.InferenceSession(model.SerializeToString(), so)
    out = sess.run(None, feed)
    core = sess._sess
    if not hasattr(core, "profile_entries"):
        return out, None
    return out, [e[1] for e in core.profile_entries() if e[4] == 0]


def check(model, feed, fused, tol=TOL):
    ref = run_ort(model, feed)
    out0, _ = run_ops(model, feed, level=0)
    for threads in (1, 2):
        out, ops = run_ops(model, feed, threads=threads)
        for i, (a, e, a0) in enumerate(zip(out, ref, out0)):
            assert_close(a, e, what=f"output {i} vs onnxruntime ({threads} threads)", **tol)
            assert_close(a, a0, what=f"output {i} vs unoptimized ({threads} threads)", **tol)
        if ops is not None:
            if fused:
                assert "FusedAttention" in ops and "Softmax" not in ops, ops
                assert "Transpose" not in ops, ops
            else:
                assert "FusedAttention" not in ops and "Softmax" in ops, ops
    return ref


def attention_model(B=1, S=16, T=None, H=4, D=8, scale="div", mask_shape=None, mask_const=None,
                    softmax_axis=-1, probs_output=False, dynamic=False, proj=False, opset=17,
                    k_perm=(0, 2, 3, 1), out_perm=(0, 2, 1, 3), out_reshape=True):
    """q [B,S,H*D], k/v [B,T,H*D] (graph inputs, or MatMul+bias projections of x when proj)."""
    T = S if T is None else T
    E = H * D
    rng = np.random.default_rng(0)
    nodes, inits, inputs, feed = [], [], [], {}
    if proj:
        inputs.append(("x", F, [B, S, E]))
        feed["x"] = rng.standard_normal((B, S, E)).astype(np.float32)
        for n in "qkv":
            inits.append((f"w{n}", (rng.standard_normal((E, E)) / np.sqrt(E)).astype(np.float32)))
            inits.append((f"b{n}", (0.1 * rng.standard_normal(E)).astype(np.float32)))
            nodes.append(helper.make_node("MatMul", ["x", f"w{n}"], [f"{n}m"]))
            nodes.append(helper.make_node("Add", [f"{n}m", f"b{n}"], [n]))
    else:
        for n, L in (("q", S), ("k", T), ("v", T)):
            dims = ["b", f"s{n}", E] if dynamic else [B, L, E]
            inputs.append((n, F, dims))
            feed[n] = rng.standard_normal((B, L, E)).astype(np.float32)
    inits.append(("shq", np.array([B, S, H, D], np.int64)))
    inits.append(("shk", np.array([B, T, H, D], np.int64)))
    inits.append(("sho", np.array([-1, S, E], np.int64)))
    nodes += [
        helper.make_node("Reshape", ["q", "shq"], ["q4"]),
        helper.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["k", "shk"], ["k4"]),
        helper.make_node("Transpose", ["k4"], ["kt"], perm=list(k_perm)),
        helper.make_node("Reshape", ["v", "shk"], ["v4"]),
        helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
        helper.make_node("MatMul", ["qt", "kt"], ["s0"]),
    ]
    cur = "s0"
    if scale == "div":
        inits.append(("c", np.array(np.sqrt(D), np.float32)))
        nodes.append(helper.make_node("Div", [cur, "c"], ["s1"]))
        cur = "s1"
    elif scale == "mul":
        inits.append(("c", np.array([1 / np.sqrt(D)], np.float32)))
        nodes.append(helper.make_node("Mul", ["c", cur], ["s1"]))
        cur = "s1"
    if mask_shape is not None or mask_const is not None:
        if mask_const is not None:
            inits.append(("mask", mask_const))
        else:
            inputs.append(("mask", F, list(mask_shape)))
            m = (rng.random(mask_shape) < 0.3).astype(np.float32) * np.float32(-10000.0)
            feed["mask"] = m
        nodes.append(helper.make_node("Add", [cur, "mask"], ["s2"]))
        cur = "s2"
    nodes.append(helper.make_node("Softmax", [cur], ["p"], axis=softmax_axis))
    nodes += [helper.make_node("MatMul", ["p", "vt"], ["o4"]),
              helper.make_node("Transpose", ["o4"], ["ot"], perm=list(out_perm))]
    outputs = []
    if out_reshape:
        nodes.append(helper.make_node("Reshape", ["ot", "sho"], ["y"]))
        outputs.append(("y", F, None))
    else:
        outputs.append(("ot", F, None))
    if probs_output:
        outputs.append(("p", F, None))
    return make_model(nodes, inputs, outputs, inits, opset=opset), feed


@pytest.mark.parametrize("kw", [
    dict(mask_shape=[1, 1, 1, 16]),
    dict(B=2, mask_shape=[2, 1, 1, 16]),
    dict(B=2, mask_shape=[2, 4, 16, 16]),
    dict(mask_shape=[16]),
    dict(mask_shape=[1, 16, 16]),
    dict(scale="mul"),
    dict(scale="none", mask_shape=[1, 1, 16, 16]),
    dict(S=5, T=37, H=3, D=7, mask_shape=[1, 1, 1, 37]),
    dict(S=1, T=9, mask_shape=[1, 1, 1, 9]),
    dict(S=128, H=12, D=32, mask_shape=[1, 1, 1, 128], proj=True),
    dict(B=2, S=40, H=2, D=64, mask_shape=[2, 1, 1, 40], proj=True),
    dict(opset=11, softmax_axis=3, mask_shape=[1, 1, 1, 16]),
    dict(opset=13, softmax_axis=3),
    dict(mask_const=np.triu(np.full((16, 16), -1e9, np.float32), 1)),
])
def test_attention_fuses(kw):
    model, feed = attention_model(**kw)
    check(model, feed, fused=True)


@pytest.mark.parametrize("kw", [
    dict(mask_shape=[1, 1, 1, 1]),            # the mask broadcasts over the keys
    dict(mask_shape=[2, 1, 1, 16]),           # the mask widens the scores to batch 2
    dict(softmax_axis=2),                     # not over the keys
    dict(opset=11, softmax_axis=1),           # opset < 13: coerced 2-D, not per key row
    dict(probs_output=True),                  # probabilities read elsewhere
    dict(dynamic=True, mask_shape=[1, 1, 1, 16]),  # shapes not static
    dict(out_perm=(0, 1, 2, 3)),              # output not back in [B,S,H,D]
    dict(out_reshape=False),                  # no final Reshape to [B,S,H*D]
])
def test_attention_does_not_fuse(kw):
    model, feed = attention_model(**kw)
    check(model, feed, fused=False)


def test_attention_fully_masked_row_is_nan_like_softmax():
    """A key row masked with -inf everywhere: Softmax gives NaN, and so must the fusion."""
    mask = np.zeros((1, 1, 16, 16), np.float32)
    mask[0, 0, 3, :] = -np.inf
    model, feed = attention_model(mask_const=mask)
    ref = check(model, feed, fused=True)
    assert np.isnan(ref[0][0, 3]).all() and np.isfinite(ref[0][0, 4]).all()


def test_attention_fusion_can_be_disabled(monkeypatch):
    monkeypatch.setenv("EI_OPT_DISABLE", "fuse_attention")
    model, feed = attention_model(mask_shape=[1, 1, 1, 16])
    check(model, feed, fused=False)


# ---------------------------------------------------------------- creation memory
# Sessions created from a file parse a read-only mapping whose pages are dropped as each
# tensor is copied, and weights are packed once, at plan time, each original freed as
# soon as every reader has its packed copy. These check the answers stay the same.

def test_attention_model_from_file_matches_bytes(tmp_path):
    model, feed = attention_model(S=128, H=12, D=32, mask_shape=[1, 1, 1, 128], proj=True)
    p = tmp_path / "att.onnx"
    p.write_bytes(model.SerializeToString())
    ref = run_ort(model, feed)
    for threads in (1, 2):
        so = edgeinfer.SessionOptions()
        so.intra_op_num_threads = threads
        a = edgeinfer.InferenceSession(str(p), so).run(None, feed)
        b = edgeinfer.InferenceSession(model.SerializeToString(), so).run(None, feed)
        np.testing.assert_array_equal(a[0], b[0])
        assert_close(a[0], ref[0], **TOL)


def test_weight_shared_by_packed_and_plain_readers(tmp_path):
    """W read by two MatMuls (packed) and an Add (reads W itself), in that order and
    with the Add between them: W must outlive every reader that does not pack it."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["a"]),
             helper.make_node("Add", ["a", "w"], ["b"]),
             helper.make_node("MatMul", ["b", "w"], ["c"]),
             helper.make_node("MatMul", ["c", "w2"], ["y"])]
    model = make_model(nodes, [("x", F, [1, 64, 64])], [("y", F, None)],
                       [("w", w), ("w2", rng.standard_normal((64, 64)).astype(np.float32))])
    feed = {"x": rng.standard_normal((1, 64, 64)).astype(np.float32)}
    p = tmp_path / "shared.onnx"
    p.write_bytes(model.SerializeToString())
    ref = run_ort(model, feed)
    sess = edgeinfer.InferenceSession(str(p))
    for _ in range(2):
        assert_close(sess.run(None, feed)[0], ref[0], rtol=1e-4, atol=1e-4)


def test_dynamic_batch_replans_with_released_weights(tmp_path):
    """A symbolic batch: each new batch size re-plans with the originals already freed."""
    model, _ = attention_model(S=8, H=2, D=4, proj=True, mask_shape=[1, 1, 1, 8])
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "b"
    for t in model.graph.initializer:
        if t.name in ("shq", "shk"):  # batch dim copied from the input (Reshape's 0)
            t.CopyFrom(numpy_helper.from_array(np.array([0, 8, 2, 4], np.int64), t.name))
    p = tmp_path / "dyn.onnx"
    p.write_bytes(model.SerializeToString())
    sess = edgeinfer.InferenceSession(str(p))
    rng = np.random.default_rng(2)
    for b in (1, 3, 1):
        feed = {"x": rng.standard_normal((b, 8, 8)).astype(np.float32),
                "mask": np.zeros((1, 1, 1, 8), np.float32)}
        assert_close(sess.run(None, feed)[0], run_ort(model, feed)[0], **TOL)
