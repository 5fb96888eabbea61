"""Node-by-node comparison of edgeinfer with onnxruntime, to find where a model goes wrong.

    >>> import edgeinfer.debug
    >>> report = edgeinfer.debug.compare("model.onnx", {"input": x})
    >>> print(report)                 # first diverging node, its op and error
    >>> report.ok, report.first_divergence

Both engines run the model with every intermediate tensor exposed as an output; tensors
are compared in graph order and the first one whose difference exceeds the tolerance
names the node that produced it. Requires onnx and onnxruntime.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional

import numpy as np

from ._session import InferenceSession

__all__ = ["compare", "Comparison", "TensorDiff"]


@dataclasses.dataclass
class TensorDiff:
    """How one tensor differs between the engines."""

    name: str
    node: str  # producing node's name ("" for graph inputs)
    op_type: str
    max_abs_err: float
    max_rel_err: float  # max |a - e| / max(|e|, 1e-12) over elements, for floats
    shape: tuple
    expected_shape: tuple
    ok: bool
    note: str = ""

    def __str__(self) -> str:
        where = f"node '{self.node}' ({self.op_type})" if self.node else "graph input"
        status = "ok" if self.ok else "DIVERGES"
        extra = f" [{self.note}]" if self.note else ""
        return (f"{status:8} {where}, tensor '{self.name}': max abs err {self.max_abs_err:.3g}, "
                f"max rel err {self.max_rel_err:.3g}, shape {self.shape}{extra}")


@dataclasses.dataclass
class Comparison:
    """Result of compare(): every compared tensor in graph order."""

    tensors: List[TensorDiff]
    rtol: float
    atol: float

    @property
    def first_divergence(self) -> Optional[TensorDiff]:
        return next((t for t in self.tensors if not t.ok), None)

    @property
    def ok(self) -> bool:
        return self.first_divergence is None

    def __str__(self) -> str:
        first = self.first_divergence
        head = (f"edgeinfer matches onnxruntime on all {len(self.tensors)} tensors (rtol {self.rtol}, atol {self.atol})"
                if first is None else f"first divergence: {first}")
        return head + "\n" + "\n".join("  " + str(t) for t in self.tensors)


def _load(model):
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        return onnx.load_from_string(bytes(model))
    return onnx.load(str(model))


def _with_all_outputs(model):
    """A copy of model whose graph outputs are every node output (graph order)."""
    import onnx
    from onnx import shape_inference

    m = onnx.ModelProto()
    m.CopyFrom(model)
    try:
        inferred = shape_inference.infer_shapes(m)
    except Exception:  # shape inference is best effort: untyped outputs still work
        inferred = m
    types = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
    existing = {o.name for o in m.graph.output}
    order = []
    for node in m.graph.node:
        for out in node.output:
            if out and out not in existing:
                vi = onnx.ValueInfoProto()
                if out in types:
                    vi.CopyFrom(types[out])
                else:
                    vi.name = out
                m.graph.output.append(vi)
                existing.add(out)
            if out:
                order.append((out, node))
    return m, order


def _diff(name, node, a, e, rtol, atol) -> TensorDiff:
    node_name = node.name if node is not None else ""
    op = node.op_type if node is not None else ""
    a = np.asarray(a)
    e = np.asarray(e)
    if a.shape != e.shape or a.dtype != e.dtype:
        return TensorDiff(name, node_name, op, float("inf"), float("inf"), a.shape, e.shape, False,
                          f"shape/dtype {a.shape} {a.dtype} vs onnxruntime {e.shape} {e.dtype}")
    if a.size == 0:
        return TensorDiff(name, node_name, op, 0.0, 0.0, a.shape, e.shape, True)
    if a.dtype.kind in "fc":
        a64, e64 = a.astype(np.float64), e.astype(np.float64)
        both_nan = np.isnan(a64) & np.isnan(e64)
        err = np.where(both_nan, 0.0, np.abs(a64 - e64))
        err = np.where(np.isnan(err), np.inf, err)
        scale = max(1.0, float(np.nanmax(np.abs(e64)))) if np.isfinite(e64).any() else 1.0
        rel = err / np.maximum(np.abs(e64), 1e-12)
        ok = bool(np.all(err <= atol * scale + rtol * np.abs(np.nan_to_num(e64))))
        return TensorDiff(name, node_name, op, float(err.max()), float(np.nanmax(rel)), a.shape, e.shape, ok)
    mism = a != e
    return TensorDiff(name, node_name, op, float(mism.sum()), 0.0, a.shape, e.shape, not bool(mism.any()),
                      "" if not mism.any() else f"{int(mism.sum())} elements differ")


def compare(model, feed: Mapping[str, np.ndarray], rtol: float = 1e-4, atol: float = 1e-5,
            **session_kwargs) -> Comparison:
    """Runs model (path, bytes or ModelProto) on edgeinfer and onnxruntime with feed and
    compares every intermediate tensor. Tolerance per element:
    |a - e| <= atol * max(1, max|e|) + rtol * |e|. Returns a Comparison; str() of it is a
    readable report whose first line names the first diverging node."""
    import onnxruntime as ort

    full, order = _with_all_outputs(_load(model))
    data = full.SerializeToString()
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    ref = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in full.graph.output]
    expected: Dict[str, np.ndarray] = dict(zip(names, ref.run(names, dict(feed))))
    ours = InferenceSession(data, **session_kwargs)
    actual: Dict[str, np.ndarray] = dict(zip(names, ours.run(names, dict(feed))))
    diffs = [_diff(name, node, actual[name], expected[name], rtol, atol) for name, node in order]
    producers = {name for name, _ in order}
    for name in names:  # graph outputs that no node produces (inputs, initializers)
        if name not in producers:
            diffs.append(_diff(name, None, actual[name], expected[name], rtol, atol))
    return Comparison(diffs, rtol, atol)
