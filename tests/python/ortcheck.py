"""Shared helpers for tests: build small ONNX models and compare edgeinfer with onnxruntime.

onnxruntime is the oracle for every operator. Tolerances are chosen per test; the default
(rtol 1e-5, atol 1e-5 relative to the output's max magnitude) covers float32 reassociation
in GEMM/convolution accumulations, which differ between engines.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import edgeinfer

DEFAULT_OPSET = 17


def make_model(nodes, inputs, outputs, initializers=(), opset=DEFAULT_OPSET, name="test"):
    """inputs/outputs: lists of (name, elem_type, shape) or ValueInfoProto.
    initializers: list of (name, ndarray) or TensorProto."""
    def vi(x):
        if isinstance(x, onnx.ValueInfoProto):
            return x
        n, t, s = x
        return helper.make_tensor_value_info(n, t, s)

    inits = [i if isinstance(i, onnx.TensorProto) else numpy_helper.from_array(np.asarray(i[1]), i[0])
             for i in initializers]
    graph = helper.make_graph(list(nodes), name, [vi(i) for i in inputs], [vi(o) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 19 else 9
    return model


def run_ort(model, feed):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def run_ei(model, feed, **kw):
    sess = edgeinfer.InferenceSession(model.SerializeToString(), **kw)
    return sess.run(None, feed)


def assert_close(actual, expected, rtol=1e-5, atol=1e-5, what=""):
    """Elementwise |a - e| <= atol * max(1, max|e|) + rtol * |e|; dtypes and shapes must match."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.dtype.kind in "fc":
        scale = max(1.0, float(np.nanmax(np.abs(expected)))) if expected.size and np.isfinite(expected).any() else 1.0
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def check_model(model, feed, rtol=1e-5, atol=1e-5, **kw):
    """Runs model on both engines and compares every output. Returns edgeinfer's outputs."""
    onnx.checker.check_model(model)
    expected = run_ort(model, feed)
    actual = run_ei(model, feed, **kw)
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, rtol=rtol, atol=atol, what=f"output {i} ({model.graph.output[i].name})")
    return actual


__all__ = ["make_model", "run_ort", "run_ei", "assert_close", "check_model", "TensorProto", "helper",
           "numpy_helper", "np", "onnx", "DEFAULT_OPSET"]
