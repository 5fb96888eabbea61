"""The benchmark models: a registry, deterministic weights, ONNX export and the cache.

Models are built in code (benchmarks/archs.py), given weights from fixed seeds, exported
with PyTorch's TorchScript-based exporter (``dynamo=False``, opset 17: the dynamo exporter
needs onnxscript, which is not installed here) in eval mode with its defaults, so
Conv + BatchNormalization pairs are folded by the exporter, as a user's export would be.
Files are cached outside git in ``$EDGEINFER_BENCH_CACHE`` (default
``~/.cache/edgeinfer-bench``), in a folder named after GENERATOR_VERSION: bump it whenever
anything here or in archs.py changes what is generated, and stale files are rebuilt.
"""
import json
import os
import tempfile

import numpy as np

# Bump when an architecture, the initialization, the inputs or the export settings change.
GENERATOR_VERSION = "2"
OPSET = 17
SEED = 20240

F32, I64 = "float32", "int64"


def _spec(name, shape, dtype=F32, kind="normal", **kw):
    return dict(name=name, shape=list(shape), dtype=dtype, kind=kind, **kw)


_TOKENS = [_spec("input_ids", [1, 128], I64, "ids", high=30522), _spec("attention_mask", [1, 128], I64, "mask")]

# name -> (description, constructor expression, inputs, output names). The constructor is a
# callable taking the archs module, so that importing this file does not import torch.
MODELS = {
    "mobilenet_v2": ("MobileNetV2 1.0, 224", lambda a: a.MobileNetV2(), [_spec("input", [1, 3, 224, 224])], ["logits"]),
    "mobilenet_v3_small": ("MobileNetV3-Small, 224", lambda a: a.MobileNetV3("small"),
                           [_spec("input", [1, 3, 224, 224])], ["logits"]),
    "mobilenet_v3_large": ("MobileNetV3-Large, 224", lambda a: a.MobileNetV3("large"),
                           [_spec("input", [1, 3, 224, 224])], ["logits"]),
    "resnet18": ("ResNet-18, 224", lambda a: a.ResNet(a.BasicBlock, [2, 2, 2, 2]), [_spec("input", [1, 3, 224, 224])],
                 ["logits"]),
    "resnet50": ("ResNet-50 (v1.5), 224", lambda a: a.ResNet(a.Bottleneck, [3, 4, 6, 3]),
                 [_spec("input", [1, 3, 224, 224])], ["logits"]),
    "squeezenet1_1": ("SqueezeNet 1.1, 224", lambda a: a.SqueezeNet11(), [_spec("input", [1, 3, 224, 224])],
                      ["logits"]),
    "efficientnet_lite0": ("EfficientNet-Lite0, 224", lambda a: a.EfficientNetLite0(),
                           [_spec("input", [1, 3, 224, 224])], ["logits"]),
    "yolov8n_320": ("YOLOv8n-style detector, 320", lambda a: a.YOLOv8n(320), [_spec("images", [1, 3, 320, 320])],
                    ["output0"]),
    "yolov8n_640": ("YOLOv8n-style detector, 640", lambda a: a.YOLOv8n(640), [_spec("images", [1, 3, 640, 640])],
                    ["output0"]),
    "minilm_l6": ("MiniLM-L6-style encoder, seq 128", lambda a: a.BertEncoder(6, 384, 12, 1536),
                  _TOKENS, ["last_hidden_state"]),
    "bert_tiny": ("BERT-tiny, seq 128", lambda a: a.BertEncoder(2, 128, 2, 512),
                  _TOKENS, ["last_hidden_state"]),
    "ds_cnn_l": ("DS-CNN-L keyword spotting, 49x10 MFCC", lambda a: a.DSCNN(), [_spec("input", [1, 1, 49, 10])],
                 ["logits"]),
    "lstm": ("2-layer LSTM 256, seq 100 + linear", lambda a: a.LSTMModel(), [_spec("input", [1, 100, 40])], ["logits"]),
}

# Smallest first: what --quick and the smoke test use.
SMALL_MODELS = ["ds_cnn_l", "bert_tiny"]


def cache_dir(override=None):
    root = override or os.environ.get("EDGEINFER_BENCH_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "edgeinfer-bench")
    return os.path.join(root, f"gen-{GENERATOR_VERSION}")


def make_feed(inputs, seed=0):
    """Deterministic inputs for a model's input specs: normal floats; token ids in
    [1000, high) after a [CLS]=101; an attention mask of 96 ones then 32 zeros (padding)."""
    rng = np.random.default_rng(seed)
    feed = {}
    for spec in inputs:
        shape = spec["shape"]
        if spec["kind"] == "ids":
            x = rng.integers(1000, spec.get("high", 30522), size=shape, dtype=np.int64)
            x[..., 0] = 101
        elif spec["kind"] == "mask":
            x = np.ones(shape, dtype=np.int64)
            x[..., shape[-1] * 3 // 4:] = 0
        else:
            x = rng.standard_normal(shape, dtype=np.float32)
        feed[spec["name"]] = np.ascontiguousarray(x.astype(spec["dtype"]))
    return feed


def torch_available():
    """(True, '') or (False, reason)."""
    if os.environ.get("EDGEINFER_TESTS_NO_TORCH"):
        return False, "EDGEINFER_TESTS_NO_TORCH is set"
    try:
        import torch  # noqa: F401
    except ImportError:
        return False, "PyTorch is not installed (pip install torch)"
    return True, ""


def build_module(name):
    """The model as an eval-mode torch.nn.Module with its deterministic weights: default
    init from SEED, Kaiming-normal convs (so BN-free nets neither vanish nor blow up),
    BERT-style N(0, 0.02) linears and embeddings, BN/LN affine drawn from U(0.5, 1.5) and
    U(-0.2, 0.2), and BN running statistics calibrated on one random batch, so every
    BatchNorm folds to a non-trivial scale and shift."""
    import torch

    from . import archs

    _, ctor, inputs, _ = MODELS[name]
    torch.manual_seed(SEED)
    model = ctor(archs)
    g = torch.Generator().manual_seed(SEED + 1)
    bert = isinstance(model, archs.BertEncoder)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d) and m.weight.requires_grad:
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1, generator=g)
            elif isinstance(m, (torch.nn.Linear, torch.nn.Embedding)) and bert:
                m.weight.normal_(0.0, 0.02, generator=g)
                if getattr(m, "bias", None) is not None:
                    m.bias.uniform_(-0.02, 0.02, generator=g)
            elif isinstance(m, (torch.nn.BatchNorm2d, torch.nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.uniform_(-0.2, 0.2, generator=g)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        if bns:  # running stats = statistics of one random batch of 2
            for m in bns:
                m.reset_running_stats()
                m.momentum = None
            model.train()
            calib = [spec | {"shape": [2] + spec["shape"][1:]} for spec in inputs]
            model(*[torch.from_numpy(v) for v in make_feed(calib, seed=SEED).values()])
    return model.eval()


def export(model, inputs, outputs, path):
    import warnings

    import torch

    args = tuple(torch.from_numpy(v) for v in make_feed(inputs).values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, path, dynamo=False, opset_version=OPSET,
                          input_names=[s["name"] for s in inputs], output_names=list(outputs))


def _check_outputs(name, path, inputs, ref):
    """The exported graph, run by onnxruntime, is finite, not constant, and matches torch."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    out = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, make_feed(inputs))[0]
    if not np.all(np.isfinite(out)) or float(np.std(out)) == 0.0:
        raise RuntimeError(f"{name}: the generated model's output is not finite or constant")
    scale = max(1.0, float(np.max(np.abs(ref))))
    err = float(np.max(np.abs(out - ref))) / scale
    if err > 1e-3:
        raise RuntimeError(f"{name}: onnxruntime differs from torch by {err:.2e} (relative to max |y|)")
    return err


def get(name, cache=None, log=None):
    """Path to ``name``'s ONNX file and its metadata, generating both if not cached.
    Metadata: description, inputs (specs), outputs, FLOPs (see flops.py), generator info."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    d = cache_dir(cache)
    onnx_path, meta_path = os.path.join(d, name + ".onnx"), os.path.join(d, name + ".json")
    if os.path.exists(meta_path) and os.path.exists(onnx_path):
        with open(meta_path) as f:
            return onnx_path, json.load(f)
    ok, why = torch_available()
    if not ok:
        raise RuntimeError(f"{name} is not cached and cannot be generated: {why}")
    import onnx
    import torch

    from . import flops

    if log:
        log(f"generating {name} into {d}")
    os.makedirs(d, exist_ok=True)
    desc, _, inputs, outputs = MODELS[name]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a few small forwards: extra threads only spin on a busy machine
    # write under a temporary name, then rename: concurrent runs never see half a file
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=d)
    os.close(fd)
    try:
        model = build_module(name)
        with torch.inference_mode():
            ref = model(*[torch.from_numpy(v) for v in make_feed(inputs).values()]).numpy()
        export(model, inputs, outputs, tmp)
        torch.set_num_threads(threads)
        err = _check_outputs(name, tmp, inputs, ref)
        proto = onnx.load(tmp)
        onnx.checker.check_model(proto)
        fl = flops.count(proto, make_feed(inputs))
        os.replace(tmp, onnx_path)
    finally:
        torch.set_num_threads(threads)
        if os.path.exists(tmp):
            os.remove(tmp)
    meta = dict(name=name, description=desc, inputs=inputs, outputs=outputs, flops=fl["total"],
                flops_by_op=fl["by_op"], flops_uncounted=fl["uncounted"], generator_version=GENERATOR_VERSION,
                opset=OPSET, exporter="torch.onnx.export(dynamo=False)", torch=torch.__version__,
                onnx_size_bytes=os.path.getsize(onnx_path), export_check_rel_err=err,
                ops=sorted({n.op_type for n in proto.graph.node}))
    fd, tmp = tempfile.mkstemp(suffix=".json", dir=d)
    with os.fdopen(fd, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, meta_path)
    return onnx_path, meta
