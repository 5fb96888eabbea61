#!/usr/bin/env python3
"""Trains the demo model shipped with edgeinfer: a small CNN on scikit-learn's bundled 8x8
digits (sklearn.datasets.load_digits: no download), and writes it as ONNX with onnx.helper.

    python python/tools/train_digits.py            # writes python/edgeinfer/data/

Outputs (committed, so users never run this):
    digits_cnn.onnx       the model: input 'image' float32 [batch,1,8,8] (pixels / 16),
                          output 'probs' float32 [batch,10] (softmax)
    digits_holdout.npz    x float32 [N,1,8,8], y int64 [N]: 20% of the data set, split off
                          (stratified, fixed seed) before training and never trained on

The graph uses only Conv, BatchNormalization, Relu, MaxPool, Flatten, Gemm and Softmax.
Needs torch, scikit-learn, onnx; onnxruntime (optional) checks the export.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "edgeinfer", "data"))
SEED = 0
OPSET = 13


def load_split(holdout_fraction=0.2):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 16.0)[:, None, :, :]  # [N,1,8,8] in [0,1]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=holdout_fraction, random_state=SEED, stratify=y)


def build_torch_model():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 12, 3, padding=1), nn.BatchNorm2d(12), nn.ReLU(),
        nn.Conv2d(12, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(24 * 4 * 4, 32), nn.ReLU(),
        nn.Linear(32, 10),
    )


def train(x_train, y_train, epochs=40, batch=64, lr=3e-3):
    import torch

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    model = build_torch_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            xb = xt[idx]
            # Light augmentation: shift by up to one pixel.
            dx, dy = torch.randint(-1, 2, (2,), generator=gen).tolist()
            xb = torch.roll(xb, shifts=(dy, dx), dims=(2, 3))
            opt.zero_grad()
            loss = loss_fn(model(xb), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}  loss {total / len(xt):.4f}")
    model.eval()
    return model


def to_onnx(model):
    """Writes the trained torch model as an ONNX graph, node by node."""
    conv1, bn1, _, conv2, bn2, _, _, _, fc1, _, fc2 = list(model)

    def arr(t):
        return t.detach().cpu().numpy().astype(np.float32)

    inits = []

    def init(name, value):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    nodes = []
    x = "image"
    for i, (conv, bn) in enumerate([(conv1, bn1), (conv2, bn2)], start=1):
        nodes.append(helper.make_node(
            "Conv", [x, init(f"conv{i}.w", arr(conv.weight)), init(f"conv{i}.b", arr(conv.bias))],
            [f"conv{i}"], name=f"conv{i}", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
        nodes.append(helper.make_node(
            "BatchNormalization",
            [f"conv{i}", init(f"bn{i}.scale", arr(bn.weight)), init(f"bn{i}.bias", arr(bn.bias)),
             init(f"bn{i}.mean", arr(bn.running_mean)), init(f"bn{i}.var", arr(bn.running_var))],
            [f"bn{i}"], name=f"bn{i}", epsilon=float(bn.eps)))
        nodes.append(helper.make_node("Relu", [f"bn{i}"], [f"relu{i}"], name=f"relu{i}"))
        x = f"relu{i}"
    nodes.append(helper.make_node("MaxPool", [x], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", init("fc1.w", arr(fc1.weight)), init("fc1.b", arr(fc1.bias))],
                                  ["fc1"], name="fc1", transB=1))
    nodes.append(helper.make_node("Relu", ["fc1"], ["fc1_relu"], name="fc1_relu"))
    nodes.append(helper.make_node("Gemm", ["fc1_relu", init("fc2.w", arr(fc2.weight)), init("fc2.b", arr(fc2.bias))],
                                  ["logits"], name="fc2", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1))
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 10])],
        inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="edgeinfer/train_digits.py")
    m.ir_version = 7
    m.doc_string = ("Small CNN for scikit-learn's 8x8 digits. Input: pixels/16 as float32 "
                    "[batch,1,8,8]; output: class probabilities [batch,10].")
    onnx.checker.check_model(m)
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: the package's data/)")
    ap.add_argument("--epochs", type=int, default=40)
    args = ap.parse_args(argv)

    import torch

    x_train, x_hold, y_train, y_hold = load_split()
    print(f"train {len(x_train)} samples, held out {len(x_hold)}")
    model = train(x_train, y_train, epochs=args.epochs)
    with torch.no_grad():
        ref = torch.softmax(model(torch.from_numpy(x_hold)), dim=1).numpy()
    acc = float((ref.argmax(1) == y_hold).mean())
    print(f"held-out accuracy (torch): {acc:.4f}")

    m = to_onnx(model)
    os.makedirs(args.out, exist_ok=True)
    model_path = os.path.join(args.out, "digits_cnn.onnx")
    onnx.save(m, model_path)
    np.savez_compressed(os.path.join(args.out, "digits_holdout.npz"),
                        x=x_hold.astype(np.float32), y=y_hold.astype(np.int64))
    print(f"wrote {model_path} ({os.path.getsize(model_path)} bytes)")

    try:
        import onnxruntime as ort
    except ImportError:
        return 0
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"image": x_hold})[0]
    err = float(np.abs(got - ref).max())
    print(f"onnxruntime vs torch: max abs diff {err:.2e}, accuracy {(got.argmax(1) == y_hold).mean():.4f}")
    return 0 if err < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
