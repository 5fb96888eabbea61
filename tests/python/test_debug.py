"""edgeinfer.debug.compare: node-by-node comparison with onnxruntime."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import edgeinfer
import edgeinfer.debug
from ortcheck import make_model

F = TensorProto.FLOAT


def small_cnn():
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Identity", ["r"], ["r2"], name="ident"),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["y"], name="flat"),
    ]
    return make_model(nodes, [("x", F, [1, 2, 5, 5])], [("y", F, [1, 4])],
                      initializers=[("w", rng.standard_normal((4, 2, 3, 3)).astype(np.float32))])


def test_compare_reports_match_on_every_tensor():
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    report = edgeinfer.debug.compare(small_cnn(), {"x": x})
    assert report.ok, str(report)
    names = [t.name for t in report.tensors]
    assert names == ["c", "r", "r2", "g", "y"]  # graph order, every intermediate
    assert "matches onnxruntime on all 5 tensors" in str(report)


def test_compare_names_the_first_diverging_node(monkeypatch):
    # Perturb edgeinfer's value of 'r' (the Relu output): the report must blame 'relu',
    # not the later nodes that inherit the error.
    real_run = edgeinfer.InferenceSession.run

    def corrupted_run(self, output_names, feed, run_options=None):
        outs = real_run(self, output_names, feed, run_options)
        if output_names and "r" in output_names:
            i = list(output_names).index("r")
            outs[i] = outs[i] + np.float32(0.5)
        return outs

    monkeypatch.setattr(edgeinfer.InferenceSession, "run", corrupted_run)
    x = np.random.default_rng(2).standard_normal((1, 2, 5, 5)).astype(np.float32)
    report = edgeinfer.debug.compare(small_cnn(), {"x": x})
    first = report.first_divergence
    assert first is not None and first.node == "relu" and first.op_type == "Relu"
    assert first.max_abs_err == pytest.approx(0.5, rel=1e-6)
    assert str(report).startswith("first divergence: DIVERGES node 'relu' (Relu), tensor 'r'")


def test_compare_reports_shape_mismatch():
    diff = edgeinfer.debug._diff("t", None, np.zeros((2, 3), np.float32), np.zeros((3, 2), np.float32), 1e-4, 1e-5)
    assert not diff.ok and "shape/dtype" in diff.note
    diff = edgeinfer.debug._diff("t", None, np.array([1, 2]), np.array([1, 3]), 1e-4, 1e-5)
    assert not diff.ok and "1 elements differ" in diff.note
