"""Errors: every bad model or bad input becomes the right exception with a useful message,
never a crash. Each test asserts the exception type and a fragment of the message."""
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeinfer
from ortcheck import make_model


def mlp_model():
    r = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
             helper.make_node("Add", ["h", "b"], ["h1"], name="add"),
             helper.make_node("Relu", ["h1"], ["y"], name="relu")]
    return make_model(nodes, [("x", TensorProto.FLOAT, ["batch", 4])], [("y", TensorProto.FLOAT, ["batch", 3])],
                      [("w", r.standard_normal((4, 3)).astype(np.float32)),
                       ("b", r.standard_normal(3).astype(np.float32))])


@pytest.fixture(scope="module")
def model_bytes():
    return mlp_model().SerializeToString()


@pytest.fixture(scope="module")
def sess():
    return edgeinfer.InferenceSession(mlp_model())


# ------------------------------------------------------------------ bad models


@pytest.mark.parametrize("fraction", [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99])
def test_truncated_model(fraction, model_bytes):
    cut = int(len(model_bytes) * fraction)
    with pytest.raises(edgeinfer.InvalidModel, match="invalid model"):
        edgeinfer.InferenceSession(model_bytes[:cut])


def test_every_truncation_is_an_error_not_a_crash(model_bytes):
    """Cutting the model anywhere never crashes; cuts that leave an incomplete field or no
    graph are InvalidModel. (A cut exactly between two top-level fields can leave a
    well-formed prefix, so only the exception type is checked there.)"""
    n_invalid = 0
    for cut in range(len(model_bytes)):
        try:
            edgeinfer.InferenceSession(model_bytes[:cut])
        except edgeinfer.InvalidModel:
            n_invalid += 1
        except edgeinfer.EdgeInferError:
            pass
    # the graph is the bulk of the bytes: nearly every cut falls inside it
    assert n_invalid >= len(model_bytes) - 8


@pytest.mark.parametrize("seed", range(6))
def test_random_bytes(seed):
    data = np.random.default_rng(seed).bytes(64 + 97 * seed)
    with pytest.raises(edgeinfer.InvalidModel, match="invalid model"):
        edgeinfer.InferenceSession(data)


def test_empty_bytes():
    with pytest.raises(edgeinfer.InvalidModel, match="no graph"):
        edgeinfer.InferenceSession(b"")


def test_flipped_bytes_never_crash(model_bytes):
    """Single-byte corruptions anywhere: an EdgeInferError or a working session."""
    r = np.random.default_rng(42)
    for pos in r.integers(0, len(model_bytes), 60):
        data = bytearray(model_bytes)
        data[pos] ^= int(r.integers(1, 256))
        try:
            s = edgeinfer.InferenceSession(bytes(data))
        except edgeinfer.EdgeInferError:
            continue
        try:  # a session that loads must also run or fail cleanly
            s.run(None, {i.name: np.zeros([d if isinstance(d, int) else 2 for d in i.shape],
                                          i.dtype or np.float32) for i in s.get_inputs()})
        except (edgeinfer.EdgeInferError, TypeError):
            pass


def test_raw_data_size_disagrees_with_dims():
    m = mlp_model()
    m.graph.initializer[0].dims[:] = [4, 6]  # 96 bytes declared, 48 present
    with pytest.raises(edgeinfer.InvalidModel, match="'w'"):
        edgeinfer.InferenceSession(m)


def test_float_data_count_disagrees_with_dims():
    m = mlp_model()
    bad = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4, 3])
    bad.float_data.extend([0.5] * 10)  # 12 declared
    m.graph.initializer[0].CopyFrom(bad)
    with pytest.raises(edgeinfer.InvalidModel, match="'w'"):
        edgeinfer.InferenceSession(m)


def test_initializer_shape_wrong_for_op():
    """A well-formed weight whose shape the op cannot use: InvalidModel or InvalidArgument
    naming the node."""
    m = mlp_model()
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((5, 3), np.float32), "w"))
    with pytest.raises((edgeinfer.InvalidModel, edgeinfer.InvalidArgument), match="mm"):
        s = edgeinfer.InferenceSession(m)
        s.run(None, {"x": np.zeros((2, 4), np.float32)})


def test_node_input_nothing_produces():
    nodes = [helper.make_node("Relu", ["ghost"], ["y"], name="r")]
    m = make_model(nodes, [("x", TensorProto.FLOAT, [2])], [("y", TensorProto.FLOAT, [2])])
    with pytest.raises(edgeinfer.InvalidModel, match="ghost"):
        edgeinfer.InferenceSession(m)


def test_graph_cycle():
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"),
             helper.make_node("Relu", ["a"], ["b"], name="n2"),
             helper.make_node("Identity", ["a"], ["y"], name="n3")]
    m = make_model(nodes, [("x", TensorProto.FLOAT, [2])], [("y", TensorProto.FLOAT, [2])])
    with pytest.raises(edgeinfer.InvalidModel, match="cycle"):
        edgeinfer.InferenceSession(m)


# ------------------------------------------------------------------ unsupported


def test_unsupported_op_names_type_node_and_opset():
    # An op name no ONNX release defines, in the default domain: never implemented.
    nodes = [helper.make_node("Frobnicate", ["x"], ["y"], name="my_frob")]
    m = make_model(nodes, [("x", TensorProto.FLOAT, [2, 2])], [("y", TensorProto.FLOAT, [])], opset=17)
    with pytest.raises(edgeinfer.Unsupported) as ei:
        edgeinfer.InferenceSession(m)
    msg = str(ei.value)
    assert "(op Frobnicate, domain 'ai.onnx', opset 17)" in msg and "'my_frob' (Frobnicate)" in msg, msg
    assert isinstance(ei.value, NotImplementedError)


def test_every_unsupported_node_is_listed_in_one_error():
    nodes = [helper.make_node("Frob", ["x"], ["a"], name="f1", domain="com.example"),
             helper.make_node("Relu", ["a"], ["b"], name="ok_relu"),
             helper.make_node("Frob", ["b"], ["c"], name="f2", domain="com.example"),
             helper.make_node("Zork", ["c"], ["y"], name="z1", domain="com.example")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 3)])
    with pytest.raises(edgeinfer.Unsupported) as ei:
        edgeinfer.InferenceSession(m)
    msg = str(ei.value)
    assert msg.startswith("model has 3 unsupported nodes"), msg
    assert "(op Frob, domain 'com.example', opset 3) x2" in msg, msg
    assert "(op Zork, domain 'com.example', opset 3) x1" in msg, msg
    for name in ("'f1' (Frob)", "'f2' (Frob)", "'z1' (Zork)"):
        assert name in msg, msg
    assert "ok_relu" not in msg


def test_unsupported_custom_domain():
    nodes = [helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.example")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    with pytest.raises(edgeinfer.Unsupported, match="Frobnicate"):
        edgeinfer.InferenceSession(m)


# ------------------------------------------------------------------ files


def test_nonexistent_file(tmp_path):
    path = tmp_path / "missing.onnx"
    with pytest.raises(edgeinfer.EngineIOError, match="missing.onnx") as ei:
        edgeinfer.InferenceSession(str(path))
    assert isinstance(ei.value, OSError)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(OSError):
        edgeinfer.InferenceSession(str(tmp_path))


def test_garbage_file(tmp_path):
    p = tmp_path / "garbage.onnx"
    p.write_bytes(b"this is not an onnx model at all" * 4)
    with pytest.raises(edgeinfer.InvalidModel):
        edgeinfer.InferenceSession(str(p))


def test_missing_external_data(tmp_path):
    m = mlp_model()
    big = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    m.graph.initializer[0].CopyFrom(big)
    onnx.save_model(m, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.bin", size_threshold=0)
    os.remove(tmp_path / "ext.bin")
    with pytest.raises((edgeinfer.EngineIOError, edgeinfer.InvalidModel), match="ext.bin"):
        edgeinfer.InferenceSession(str(tmp_path / "ext.onnx"))


def test_external_data_from_bytes_needs_a_path(tmp_path):
    m = mlp_model()
    onnx.save_model(m, str(tmp_path / "ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="ext.bin", size_threshold=0)
    data = (tmp_path / "ext.onnx").read_bytes()
    with pytest.raises(edgeinfer.EdgeInferError, match="external"):
        edgeinfer.InferenceSession(data)
    # by path, the data file next to the model is found
    s = edgeinfer.InferenceSession(str(tmp_path / "ext.onnx"))
    assert s.run(None, {"x": np.zeros((1, 4), np.float32)})[0].shape == (1, 3)


# ------------------------------------------------------------------ bad inputs


def test_unknown_input_name(sess):
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(edgeinfer.InvalidArgument, match="unknown input 'q'"):
        sess.run(None, {"x": x, "q": x})


def test_missing_input(sess):
    with pytest.raises(edgeinfer.InvalidArgument, match="missing input 'x'"):
        sess.run(None, {})


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.float16, np.int32, np.bool_])
def test_wrong_dtype(sess, dtype):
    x = np.zeros((2, 4), dtype)
    with pytest.raises(edgeinfer.InvalidArgument,
                       match=f"input 'x'.*expected dtype float32, got {np.dtype(dtype).name}"):
        sess.run(None, {"x": x})


def test_complex_and_object_dtypes_rejected(sess):
    with pytest.raises(edgeinfer.InvalidArgument, match="input 'x'.*complex64"):
        sess.run(None, {"x": np.zeros((2, 4), np.complex64)})
    with pytest.raises(edgeinfer.InvalidArgument, match="input 'x'"):
        sess.run(None, {"x": np.array([[object()] * 4] * 2)})


@pytest.mark.parametrize("shape", [(4,), (1, 2, 4), ()])
def test_wrong_rank(sess, shape):
    with pytest.raises(edgeinfer.InvalidArgument, match="'x'.*rank"):
        sess.run(None, {"x": np.zeros(shape, np.float32)})


def test_wrong_fixed_dim(sess):
    with pytest.raises(edgeinfer.InvalidArgument, match=r"'x'.*\[2,5\]"):
        sess.run(None, {"x": np.zeros((2, 5), np.float32)})


def test_rank_above_engine_limit(sess):
    with pytest.raises(edgeinfer.InvalidArgument, match="'x'.*rank 9"):
        sess.run(None, {"x": np.zeros((1,) * 9, np.float32)})


def test_non_str_input_name(sess):
    with pytest.raises(edgeinfer.InvalidArgument, match="input names must be str"):
        sess.run(None, {1: np.zeros((2, 4), np.float32)})


def test_feed_not_a_dict(sess):
    with pytest.raises(edgeinfer.InvalidArgument, match="must be a dict"):
        sess.run(None, [np.zeros((2, 4), np.float32)])


def test_session_usable_after_errors(sess):
    """Errors leave the session intact: the next good run works."""
    with pytest.raises(edgeinfer.InvalidArgument):
        sess.run(None, {"x": np.zeros((2, 5), np.float32)})
    (y,) = sess.run(None, {"x": np.ones((3, 4), np.float32)})
    assert y.shape == (3, 3)


def test_gather_index_out_of_range():
    nodes = [helper.make_node("Gather", ["data", "idx"], ["y"], name="g", axis=0)]
    m = make_model(nodes, [("idx", TensorProto.INT64, [2])], [("y", TensorProto.FLOAT, [2, 2])],
                   [("data", np.arange(6, dtype=np.float32).reshape(3, 2))])
    s = edgeinfer.InferenceSession(m)
    np.testing.assert_array_equal(s.run(None, {"idx": np.array([2, -3], np.int64)})[0], [[4, 5], [0, 1]])
    with pytest.raises(edgeinfer.IndexOutOfRange, match="g") as ei:
        s.run(None, {"idx": np.array([0, 3], np.int64)})
    assert isinstance(ei.value, IndexError)
