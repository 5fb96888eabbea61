"""MatMul, Gemm and their fused forms with constant weights take the packed-B GEMM kernel
(kernels/gemm.h), packed once at creation. Compared with onnxruntime over shapes that do
not fill the micro-kernel's tiles (M, N, K of 1, tails around 16 and 32 columns), batch-1
GEMV, K-blocked products and both thread counts; and with the OpenBLAS path of the same
session build (EI_GEMM=blas), which must agree to float32 reassociation.

Tolerance: rtol 1e-5 / atol 1e-5 * max|y| (ortcheck's default): both engines sum K
products in float32 in different orders.
"""
import os

import pytest

from ortcheck import TensorProto, check_model, helper, make_model, np, run_ei, assert_close

import edgeinfer

SHAPES = [  # (batch dims of A, M, K, N)
    ((), 1, 1, 1),
    ((), 1, 7, 33),
    ((), 1, 512, 1000),
    ((), 3, 17, 15),
    ((), 13, 31, 47),
    ((), 12, 64, 32),
    ((), 25, 100, 65),
    ((), 64, 1000, 17),
    ((1,), 128, 384, 96),
    ((2,), 5, 9, 31),
    ((1,), 7, 1, 40),
]


def _sess_options(threads):
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = threads
    return so


def _matmul_model(batch, m, k, n, rng, bias=False, act=None):
    w = rng.standard_normal((k, n)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["a", "w"], ["mm"])]
    inits = [("w", w)]
    last = "mm"
    if bias:
        inits.append(("b", rng.standard_normal(n).astype(np.float32)))
        nodes.append(helper.make_node("Add", [last, "b"], ["biased"]))
        last = "biased"
    if act:
        nodes.append(helper.make_node(act, [last], ["acted"]))
        last = "acted"
    nodes.append(helper.make_node("Identity", [last], ["y"]))
    shape = list(batch) + [m, k]
    out = list(batch) + [m, n]
    return make_model(nodes, [("a", TensorProto.FLOAT, shape)], [("y", TensorProto.FLOAT, out)],
                      inits)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch,m,k,n", SHAPES)
def test_matmul_constant_weights(batch, m, k, n, threads):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    model = _matmul_model(batch, m, k, n, rng)
    a = rng.standard_normal(list(batch) + [m, k]).astype(np.float32)
    check_model(model, {"a": a}, sess_options=_sess_options(threads))


@pytest.mark.parametrize("act", [None, "Relu", "Sigmoid", "Tanh"])
@pytest.mark.parametrize("batch,m,k,n", [((), 1, 300, 70), ((1,), 19, 45, 33)])
def test_matmul_bias_activation_fused(batch, m, k, n, act):
    rng = np.random.default_rng(7)
    model = _matmul_model(batch, m, k, n, rng, bias=True, act=act)
    a = rng.standard_normal(list(batch) + [m, k]).astype(np.float32)
    check_model(model, {"a": a}, sess_options=_sess_options(2))


@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (1,), (37,), (1, 37), (5, 37)])
@pytest.mark.parametrize("alpha,beta", [(1.0, 1.0), (0.5, 1.0), (1.0, 0.0), (1.0, 2.0)])
def test_gemm_constant_weights(trans_b, c_shape, alpha, beta):
    rng = np.random.default_rng(3)
    m, k, n = 5, 29, 37
    w = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    inputs = ["a", "w"]
    inits = [("w", w)]
    if c_shape is not None:
        inits.append(("c", rng.standard_normal(c_shape).astype(np.float32)))
        inputs.append("c")
    node = helper.make_node("Gemm", inputs, ["y"], transB=trans_b, alpha=alpha, beta=beta)
    model = make_model([node], [("a", TensorProto.FLOAT, [m, k])], [("y", TensorProto.FLOAT, [m, n])],
                       inits)
    a = rng.standard_normal((m, k)).astype(np.float32)
    for threads in (1, 2):
        check_model(model, {"a": a}, sess_options=_sess_options(threads))


def test_packed_and_blas_paths_agree(monkeypatch):
    rng = np.random.default_rng(11)
    model = _matmul_model((1,), 77, 513, 130, rng, bias=True, act="Relu")
    a = rng.standard_normal((1, 77, 513)).astype(np.float32)
    packed = run_ei(model, {"a": a}, sess_options=_sess_options(2))[0]
    monkeypatch.setenv("EI_GEMM", "blas")
    blas = run_ei(model, {"a": a}, sess_options=_sess_options(2))[0]
    assert_close(packed, blas, what="packed vs OpenBLAS path")


def test_weights_as_input_are_not_packed():
    """B fed at run time (not a constant) must be read fresh on every run."""
    rng = np.random.default_rng(5)
    node = helper.make_node("MatMul", ["a", "w"], ["y"])
    model = make_model([node], [("a", TensorProto.FLOAT, [4, 9]), ("w", TensorProto.FLOAT, [9, 6])],
                       [("y", TensorProto.FLOAT, [4, 6])])
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    a = rng.standard_normal((4, 9)).astype(np.float32)
    for _ in range(3):
        w = rng.standard_normal((9, 6)).astype(np.float32)
        assert_close(sess.run(None, {"a": a, "w": w})[0], a @ w, rtol=1e-5, atol=1e-5)


CONV_CASES = [  # (x shape, w shape, attrs)
    ((1, 16, 7, 7), (100, 16, 3, 3), {"pads": [1, 1, 1, 1]}),       # 7x7 output: channel chunks
    ((1, 64, 14, 14), (13, 64, 1, 1), {}),                         # 1x1 direct, M < tile rows
    ((2, 6, 9, 11), (26, 3, 3, 3), {"group": 2, "strides": [2, 1]}),  # groups, batch 2
    ((1, 3, 33, 35), (37, 3, 7, 7), {"strides": [2, 2], "pads": [3, 3, 3, 3]}),  # stem-like
    ((1, 5, 1, 1), (1, 5, 1, 1), {}),
    ((1, 4, 20), (7, 4, 5), {"pads": [2, 2]}),                     # 1-D
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs,ws,attrs", CONV_CASES)
def test_conv_packed_weights(xs, ws, attrs, threads):
    """Conv with constant W runs the packed-A kernel (bias in its stores)."""
    rng = np.random.default_rng(len(xs) * 100 + ws[0])
    w = rng.standard_normal(ws).astype(np.float32) * 0.3
    b = rng.standard_normal(ws[0]).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], **attrs)
    out_dims = ["d%d" % i for i in range(len(xs))]
    model = make_model([node], [("x", TensorProto.FLOAT, list(xs))],
                       [("y", TensorProto.FLOAT, out_dims)], [("w", w), ("b", b)])
    x = rng.standard_normal(xs).astype(np.float32)
    check_model(model, {"x": x}, sess_options=_sess_options(threads))


def test_conv_packed_and_blas_paths_agree(monkeypatch):
    rng = np.random.default_rng(2)
    xs, ws = (1, 24, 15, 15), (50, 24, 3, 3)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c", "x2"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    model = make_model(nodes, [("x", TensorProto.FLOAT, list(xs)), ("x2", TensorProto.FLOAT, [1, 50, 15, 15])],
                       [("y", TensorProto.FLOAT, [1, 50, 15, 15])],
                       [("w", rng.standard_normal(ws).astype(np.float32)),
                        ("b", rng.standard_normal(50).astype(np.float32))])
    feed = {"x": rng.standard_normal(xs).astype(np.float32),
            "x2": rng.standard_normal((1, 50, 15, 15)).astype(np.float32)}
    packed = run_ei(model, feed, sess_options=_sess_options(2))[0]
    monkeypatch.setenv("EI_GEMM", "blas")
    blas = run_ei(model, feed, sess_options=_sess_options(2))[0]
    assert_close(packed, blas, what="packed vs OpenBLAS conv")


def test_conv_weights_as_input_are_read_each_run():
    rng = np.random.default_rng(8)
    node = helper.make_node("Conv", ["x", "w"], ["y"])
    model = make_model([node], [("x", TensorProto.FLOAT, [1, 3, 5, 5]), ("w", TensorProto.FLOAT, [4, 3, 1, 1])],
                       [("y", TensorProto.FLOAT, [1, 4, 5, 5])])
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    for _ in range(3):
        w = rng.standard_normal((4, 3, 1, 1)).astype(np.float32)
        expect = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x)
        assert_close(sess.run(None, {"x": x, "w": w})[0], expect)


def test_packed_weights_survive_reshape():
    """The executor frees weights every reader packed; a new batch size re-plans the graph
    and must keep using the packed copies (Conv, MatMul and Gemm alike)."""
    rng = np.random.default_rng(21)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("MatMul", ["f", "m"], ["h"]),
             helper.make_node("Gemm", ["h", "g", "gb"], ["y"], transB=1)]
    inits = [("w", rng.standard_normal((8, 3, 3, 3)).astype(np.float32)),
             ("b", rng.standard_normal(8).astype(np.float32)),
             ("m", rng.standard_normal((8 * 6 * 6, 20)).astype(np.float32)),
             ("g", rng.standard_normal((5, 20)).astype(np.float32)),
             ("gb", rng.standard_normal(5).astype(np.float32))]
    model = make_model(nodes, [("x", TensorProto.FLOAT, ["n", 3, 6, 6])], [("y", TensorProto.FLOAT, ["n", 5])],
                       inits)
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    import onnxruntime as ort
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for n in (1, 4, 1, 3):
        x = rng.standard_normal((n, 3, 6, 6)).astype(np.float32)
        assert_close(sess.run(None, {"x": x})[0], ref.run(None, {"x": x})[0], what=f"batch {n}")
