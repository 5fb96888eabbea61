"""Whole models of the on-device families, compared with onnxruntime.

Each model is built in code (PyTorch's exporter where a PyTorch module is the natural
source, onnx.helper otherwise) with fixed seeds. On a mismatch the failure message is
edgeinfer.debug.compare's report, naming the first node whose output diverges.
Tolerance: 1e-4 relative to the output's max magnitude (float32 accumulations differ
between engines in order, not in kind).
"""
import io
import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgeinfer
import edgeinfer.debug
from ortcheck import make_model, run_ort

_NO_TORCH_REASON = "PyTorch is not installed (pip install torch==2.13.0)"
if os.environ.get("EDGEINFER_TESTS_NO_TORCH"):  # .ci/run's ASan pass: torch is not loaded under ASan
    torch = None
    _NO_TORCH_REASON = "EDGEINFER_TESTS_NO_TORCH is set (sanitizer run)"
else:
    try:
        import torch
    except ImportError:  # .ci/run installs torch==2.13.0 (CPU); elsewhere these tests say why they skip
        torch = None
needs_torch = pytest.mark.skipif(torch is None, reason=_NO_TORCH_REASON)

F, I64, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL


def check(model, feeds, tol=1e-4):
    """Runs every feed through one edgeinfer session and onnxruntime."""
    data = model.SerializeToString() if hasattr(model, "SerializeToString") else model
    sess = edgeinfer.InferenceSession(data)
    for feed in feeds:
        actual = sess.run(None, feed)
        expected = run_ort(model if hasattr(model, "SerializeToString") else _load(data), feed)
        for a, e in zip(actual, expected):
            ok = a.shape == e.shape and a.dtype == e.dtype
            if ok and a.size:
                scale = max(1.0, float(np.max(np.abs(e)))) if e.dtype.kind == "f" else 1.0
                ok = bool(np.max(np.abs(a.astype(np.float64) - e.astype(np.float64))) <= tol * scale)
            if not ok:
                report = edgeinfer.debug.compare(data, feed, rtol=tol, atol=tol)
                pytest.fail(f"mismatch (shapes {a.shape} vs {e.shape})\n{report}")
    return sess


def _load(data):
    import onnx

    return onnx.load_from_string(data)


def export(module, args, input_names, output_names, dynamic_axes=None, opset=17):
    module.eval()
    f = io.BytesIO()
    torch.onnx.export(module, args, f, dynamo=False, opset_version=opset, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes or {})
    return _load(f.getvalue())


# --------------------------------------------------------------- transformer


@needs_torch
def test_transformer_encoder_with_attention_mask():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True,
                                             dropout=0.0, activation="gelu")
    enc = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(50, 32)
            self.enc = enc

        def forward(self, ids, pad_mask):
            return self.enc(self.embed(ids), src_key_padding_mask=pad_mask)

    ids = torch.randint(0, 50, (2, 12))
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[1, 8:] = True
    model = export(Model(), (ids, mask), ["ids", "mask"], ["y"],
                   dynamic_axes={"ids": {0: "batch", 1: "seq"}, "mask": {0: "batch", 1: "seq"}})
    rng = np.random.default_rng(0)
    feeds = []
    # The exporter bakes the sequence length into the attention reshapes, so only the batch
    # varies between runs (onnxruntime rejects other lengths too).
    for batch, seq in [(2, 12), (1, 12), (3, 12)]:
        m = np.zeros((batch, seq), dtype=bool)
        m[-1, seq // 2:] = True
        feeds.append({"ids": rng.integers(0, 50, (batch, seq)).astype(np.int64), "mask": m})
    check(model, feeds)


# ---------------------------------------------------------------------- LSTM


@needs_torch
def test_lstm_keyword_spotting():
    torch.manual_seed(1)

    class KWS(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(input_size=40, hidden_size=32, num_layers=2, batch_first=True)
            self.fc = torch.nn.Linear(32, 12)

        def forward(self, mfcc):
            out, _ = self.lstm(mfcc)
            return torch.softmax(self.fc(out[:, -1, :]), dim=-1)

    x = torch.randn(1, 49, 40)
    model = export(KWS(), (x,), ["mfcc"], ["probs"], dynamic_axes={"mfcc": {0: "batch", 1: "frames"}})
    rng = np.random.default_rng(1)
    check(model, [{"mfcc": rng.standard_normal((b, t, 40)).astype(np.float32)} for b, t in [(1, 49), (2, 30)]])


# ---------------------------------------------------------------- YOLO head


def yolo_head():
    rng = np.random.default_rng(2)
    w = lambda *s: (rng.standard_normal(s) * 0.2).astype(np.float32)  # noqa: E731
    n_cls = 3
    inits = [("w_stem", w(8, 3, 3, 3)), ("w_p4", w(8, 8, 3, 3)), ("w_head", w(4 + 1 + n_cls, 16, 1, 1)),
             ("scales", np.array([1, 1, 2, 2], dtype=np.float32)),
             ("max_out", np.array([5], dtype=np.int64)), ("iou", np.array([0.5], dtype=np.float32)),
             ("score_th", np.array([0.2], dtype=np.float32)),
             ("starts", np.array([0], dtype=np.int64)), ("mid", np.array([4], dtype=np.int64)),
             ("obj_end", np.array([5], dtype=np.int64)), ("end", np.array([4 + 1 + n_cls], dtype=np.int64))]
    nodes = [
        helper.make_node("Conv", ["img", "w_stem"], ["p3"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Sigmoid", ["p3"], ["p3s"]),
        helper.make_node("Mul", ["p3", "p3s"], ["p3a"]),  # SiLU
        helper.make_node("Conv", ["p3a", "w_p4"], ["p4"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Resize", ["p4", "", "up_scales"], ["p4up"], mode="nearest"),
        helper.make_node("Concat", ["p3a", "p4up"], ["fused"], axis=1),
        helper.make_node("Conv", ["fused", "w_head"], ["raw"]),
        helper.make_node("Sigmoid", ["raw"], ["pred"]),
        # pred [N, 4+1+C, H, W] -> boxes [N, HW, 4] and scores [N, C, HW]
        helper.make_node("Flatten", ["pred"], ["flat"], axis=2),  # [N*(5+C), HW] for N=1
        helper.make_node("Slice", ["flat", "starts", "mid"], ["box_t"]),
        helper.make_node("Slice", ["flat", "obj_end", "end"], ["cls"]),
        helper.make_node("Transpose", ["box_t"], ["box_hw"], perm=[1, 0]),
        helper.make_node("Mul", ["box_hw", "scales"], ["box_scaled"]),
        helper.make_node("Unsqueeze", ["box_scaled", "starts"], ["boxes"]),
        helper.make_node("Unsqueeze", ["cls", "starts"], ["scores"]),
        helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score_th"], ["selected"],
                         center_point_box=1),
    ]
    inits.append(("up_scales", np.array([1, 1, 2, 2], dtype=np.float32)))
    return make_model(nodes, [("img", F, [1, 3, 32, 32])], [("pred", F, None), ("selected", I64, None)],
                      initializers=inits, opset=13)


def test_yolo_style_detector_head():
    rng = np.random.default_rng(3)
    check(yolo_head(), [{"img": rng.standard_normal((1, 3, 32, 32)).astype(np.float32)} for _ in range(3)])


# ---------------------------------------------------------------------- UNet


@needs_torch
def test_unet_style_segmentation():
    torch.manual_seed(4)

    class UNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            c = torch.nn.Conv2d
            self.e1 = torch.nn.Sequential(c(3, 8, 3, padding=1), torch.nn.ReLU(), c(8, 8, 3, padding=1), torch.nn.ReLU())
            self.e2 = torch.nn.Sequential(c(8, 16, 3, padding=1), torch.nn.ReLU())
            self.up = torch.nn.ConvTranspose2d(16, 8, 2, stride=2)
            self.d1 = torch.nn.Sequential(c(16, 8, 3, padding=1), torch.nn.ReLU())
            self.out = c(8, 2, 1)

        def forward(self, x):
            a = self.e1(x)
            b = self.e2(torch.nn.functional.max_pool2d(a, 2))
            u = self.up(b)
            return self.out(self.d1(torch.cat([a, u], dim=1)))

    model = export(UNet(), (torch.randn(1, 3, 32, 32),), ["image"], ["mask"],
                   dynamic_axes={"image": {0: "batch"}})
    rng = np.random.default_rng(4)
    check(model, [{"image": rng.standard_normal((b, 3, 32, 32)).astype(np.float32)} for b in (1, 2)])


# ------------------------------------------------------------- If and Loop


def test_model_with_if_and_loop():
    # Loop: y = y * 0.5 + x for n steps (n from the input), then If(sum(y) > 0) relu(y) else -y.
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Mul", ["y_in", "half"], ["y_half"]),
         helper.make_node("Add", ["y_half", "x"], ["y_out"])],
        "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("c_in", B, []),
         helper.make_tensor_value_info("y_in", F, [2, 3])],
        [helper.make_tensor_value_info("c_out", B, []), helper.make_tensor_value_info("y_out", F, [2, 3])])
    then_g = helper.make_graph([helper.make_node("Relu", ["y"], ["t"])], "then", [],
                               [helper.make_tensor_value_info("t", F, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["y"], ["e"])], "else", [],
                               [helper.make_tensor_value_info("e", F, [2, 3])])
    nodes = [
        helper.make_node("Loop", ["n", "", "y0"], ["y"], body=body),
        helper.make_node("ReduceSum", ["y"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["positive"]),
        helper.make_node("If", ["positive"], ["out"], then_branch=then_g, else_branch=else_g),
    ]
    model = make_model(nodes, [("n", I64, []), ("y0", F, [2, 3]), ("x", F, [2, 3])], [("out", F, [2, 3])],
                       initializers=[("half", np.array(0.5, dtype=np.float32)),
                                     ("zero", np.array(0.0, dtype=np.float32))], opset=13)
    rng = np.random.default_rng(5)
    feeds = []
    for n, sign in [(3, 1), (0, -1), (5, -1), (1, 1)]:
        feeds.append({"n": np.array(n, dtype=np.int64), "y0": rng.standard_normal((2, 3)).astype(np.float32),
                      "x": (sign * np.abs(rng.standard_normal((2, 3)))).astype(np.float32)})
    check(model, feeds)
