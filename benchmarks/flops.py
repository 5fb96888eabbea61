"""FLOPs of an ONNX graph, from its shapes (onnx.shape_inference).

The rule: 2 x multiply-accumulates of the dense products only: Conv, ConvTranspose, Gemm,
MatMul (attention's QK^T and PV included, they are MatMuls in these exports), the gate
products of LSTM / GRU / RNN (2 * gates * H * (I + H) per step and direction) and the
ONNX Attention op's two products. Bias adds, activations, normalization, pooling, softmax
and other elementwise work are not counted: they are a few percent of these models' work
and would make the figure depend on how an exporter spells an op.
"""
import numpy as np


def _shapes(model):
    import onnx
    from onnx import shape_inference

    inferred = shape_inference.infer_shapes(model, data_prop=True)
    g = inferred.graph
    shapes = {}
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        t = vi.type.tensor_type
        if t.HasField("shape"):
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    for n in g.node:  # Constant nodes' outputs
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    shapes[n.output[0]] = list(onnx.numpy_helper.to_array(a.t).shape)
    return inferred, shapes


def _known(*shapes):
    return all(s is not None and all(d is not None for d in s) for s in shapes)


def node_flops(node, shp):
    """FLOPs of one node, 0 for ops not counted, None when a needed shape is unknown."""
    op = node.op_type
    get = lambda i: shp.get(node.input[i]) if len(node.input) > i and node.input[i] else None  # noqa: E731
    out = shp.get(node.output[0]) if node.output else None
    attrs = {a.name: a for a in node.attribute}
    if op == "Conv":
        w = get(1)
        if not _known(w, out):
            return None
        # out [N, M, spatial...], w [M, C/group, k...]: each output element is C/group * prod(k) MACs
        return 2 * int(np.prod(out, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
    if op == "ConvTranspose":
        x, w = get(0), get(1)
        if not _known(x, w):
            return None
        # every input element scatters into C_out/group * prod(k) outputs; w [C, M/group, k...]
        return 2 * int(np.prod(x, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64))
    if op == "Gemm":
        a, b = get(0), get(1)
        if not _known(a, b):
            return None
        ta = attrs["transA"].i if "transA" in attrs else 0
        m, k = (a[1], a[0]) if ta else (a[0], a[1])
        tb = attrs["transB"].i if "transB" in attrs else 0
        n = b[0] if tb else b[1]
        return 2 * m * n * k
    if op == "MatMul":
        a = get(0)
        if not _known(a, out):
            return None
        k = a[-1]
        return 2 * int(np.prod(out, dtype=np.int64)) * k
    if op in ("LSTM", "GRU", "RNN"):
        x, w = get(0), get(1)  # x [seq, batch, I] (layout 0), w [dirs, gates*H, I]
        if not _known(x, w):
            return None
        layout = attrs["layout"].i if "layout" in attrs else 0
        seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
        dirs, gh, inp = w
        hidden = attrs["hidden_size"].i
        return 2 * dirs * seq * batch * gh * (inp + hidden)
    if op == "Attention":
        q, k = get(0), get(1)
        if not _known(q, k, out):
            return None
        # Q K^T then P V: 2 * B * Sq * Sk * (qk head dims summed) ~ 2 * 2 * elements
        if len(q) == 4:
            b, h, sq, dh = q
            sk = k[2]
            dv = out[-1] if len(out) == 4 else dh
            return 2 * b * h * sq * sk * (dh + dv)
        return None
    return 0


def _shapes_from_ort(model, names, feed):
    """Shapes of tensors ``names`` by running the model once in onnxruntime with them as
    extra outputs: for graphs whose shapes go through Shape/Gather arithmetic that ONNX's
    shape inference does not follow."""
    import onnx
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    init = {i.name for i in m.graph.initializer}
    extra = [n for n in names if n not in have and n not in init]
    for n in extra:
        m.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    outs = sess.run(extra, feed)
    return {n: list(v.shape) for n, v in zip(extra, outs)}


def count(model, feed=None):
    """{'total': FLOPs, 'by_op': {op: FLOPs}, 'uncounted': [node names with unknown shapes]}.
    With ``feed`` (inputs for the graph), shapes that ONNX shape inference leaves unknown
    are taken from one onnxruntime run."""
    _, shp = _shapes(model)
    if feed is not None:
        missing = set()
        for node in model.graph.node:
            if node_flops(node, shp) is None:
                missing.update(n for n in list(node.input) + list(node.output) if n)
        if missing:
            shp.update(_shapes_from_ort(model, sorted(missing), feed))
    total, by_op, uncounted = 0, {}, []
    for node in model.graph.node:
        f = node_flops(node, shp)
        if f is None:
            uncounted.append(node.name or node.op_type)
            continue
        if f:
            total += int(f)
            by_op[node.op_type] = by_op.get(node.op_type, 0) + int(f)
    return {"total": total, "by_op": by_op, "uncounted": uncounted}
