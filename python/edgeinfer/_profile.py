"""Per-node profiles: the :class:`Profile` that ``InferenceSession.profile`` returns and the
Chrome-trace file that ``InferenceSession.end_profiling`` writes (onnxruntime's format).

The engine keeps, per executed node, the wall time summed over the profiled runs and the
number of times it ran (``edgeinfer._core.Session.profile_entries``); this module only
turns those records into means, shares, tables and JSON.
"""
import json
import os
import time

__all__ = ["Profile", "NodeProfile"]


class NodeProfile:
    """One node's share of a run.

    Attributes:
        name: the node's name; nodes of If/Loop/Scan subgraphs are prefixed with the
            control-flow node's name (``'loop/body_add'``).
        op_type: ``'Conv'``, ... or an op the optimizer made (``'FusedConv'``).
        domain: ``''`` for ai.onnx, ``'com.edgeinfer'`` for optimizer-made nodes.
        mean_ms: mean time per run. For a control-flow node, its own time without the
            nodes of its subgraphs (listed themselves), so that the nodes add up to a run.
        total_ms: mean time per run, a control-flow node's subgraph included.
        share: mean_ms over the sum of every node's mean_ms (the shares add up to 1).
        calls: executions per run (a Loop body's node runs once per iteration).
        depth: 0 at top level, 1 inside a subgraph, ...
        output_shape: shape of the node's first output at its last run (tuple), or None.
    """

    __slots__ = ("name", "op_type", "domain", "mean_ms", "total_ms", "share", "calls", "depth",
                 "output_shape")

    def __init__(self, name, op_type, domain, mean_ms, total_ms, share, calls, depth, output_shape):
        self.name = name
        self.op_type = op_type
        self.domain = domain
        self.mean_ms = mean_ms
        self.total_ms = total_ms
        self.share = share
        self.calls = calls
        self.depth = depth
        self.output_shape = output_shape

    def __repr__(self):
        return (f"NodeProfile(name={self.name!r}, op_type={self.op_type!r}, "
                f"mean_ms={self.mean_ms:.4f}, share={self.share:.3f})")


def _labels(entries):
    """'parent/child' names for records whose parent precedes them (the engine's order)."""
    labels = []
    for name, _op, _dom, parent, *_ in entries:
        labels.append(f"{labels[parent]}/{name}" if 0 <= parent < len(labels) else name)
    return labels


def _keyed(entries):
    """{(label, op_type, domain): [count, total_ns, self_ns, depth, shape]} of raw records."""
    out = {}
    for label, (_name, op, dom, _parent, depth, count, total, self_ns, shape) in zip(_labels(entries), entries):
        out[(label, op, dom)] = [count, total, self_ns, depth, shape]
    return out


class Profile:
    """Where the time of a run goes, node by node (from :meth:`InferenceSession.profile`).

    Attributes:
        runs: number of runs measured.
        total_ms: mean time per run inside the engine (binding and plan checks included,
            so a little more than the sum of the nodes).
        nodes_ms: mean time per run summed over the nodes.
        nodes: a list of :class:`NodeProfile`, in execution order (top-level nodes first,
            then the nodes of subgraphs). Nodes computed ahead of run (constants, shape
            arithmetic) or removed by the optimizer are absent.
        op_types: ``{op_type: {"ms": mean ms per run, "share": fraction, "count": nodes}}``,
            slowest first.

    ``str(profile)`` (or :meth:`table`) gives a readable table of the slowest nodes and of
    the op types.
    """

    def __init__(self, entries, runs, run_ns):
        self.runs = int(runs)
        div = 1e6 * self.runs if self.runs else 1.0
        self.total_ms = run_ns / div
        keyed = entries if isinstance(entries, dict) else _keyed(entries)
        self_sum = sum(v[2] for v in keyed.values()) or 1
        self.nodes = []
        op_types = {}
        for (label, op, dom), (count, total, self_ns, depth, shape) in keyed.items():
            if count <= 0:
                continue
            node = NodeProfile(label, op, dom, self_ns / div, total / div, self_ns / self_sum,
                               count / self.runs if self.runs else 0.0, depth,
                               None if shape is None else tuple(shape))
            self.nodes.append(node)
            row = op_types.setdefault(op, {"ms": 0.0, "share": 0.0, "count": 0})
            row["ms"] += node.mean_ms
            row["share"] += node.share
            row["count"] += 1
        self.nodes_ms = sum(n.mean_ms for n in self.nodes)
        self.op_types = dict(sorted(op_types.items(), key=lambda kv: -kv[1]["ms"]))

    def top(self, n=10):
        """The n slowest nodes (by mean_ms)."""
        return sorted(self.nodes, key=lambda x: -x.mean_ms)[:n]

    def table(self, top=20):
        """A text table of the `top` slowest nodes (all if None) and of every op type."""
        nodes = self.top(len(self.nodes) if top is None else top)
        lines = [f"{self.runs} runs, {len(self.nodes)} nodes; per run: {self.nodes_ms:.4f} ms in nodes, "
                 f"{self.total_ms:.4f} ms in the engine",
                 f"{'node':<32} {'op':<20} {'output':<18} {'ms':>10} {'share':>7} {'calls':>6}"]
        for n in nodes:
            shape = "?" if n.output_shape is None else "[" + ",".join(map(str, n.output_shape)) + "]"
            lines.append(f"{n.name[:32]:<32} {n.op_type[:20]:<20} {shape[:18]:<18} {n.mean_ms:>10.4f} "
                         f"{100 * n.share:>6.1f}% {n.calls:>6.4g}")
        lines.append("")
        lines.append(f"{'op type':<32} {'nodes':>6} {'ms':>10} {'share':>7}")
        for op, row in self.op_types.items():
            lines.append(f"{op[:32]:<32} {row['count']:>6} {row['ms']:>10.4f} {100 * row['share']:>6.1f}%")
        return "\n".join(lines)

    def __str__(self):
        return self.table()

    def __repr__(self):
        return f"<edgeinfer.Profile runs={self.runs} nodes={len(self.nodes)} total_ms={self.total_ms:.4f}>"


def diff_entries(before, after):
    """Records accumulated between two ``profile_entries()`` snapshots, keyed as _keyed."""
    old = _keyed(before)
    out = {}
    for key, (count, total, self_ns, depth, shape) in _keyed(after).items():
        c0, t0, s0 = old.get(key, [0, 0, 0])[:3]
        if count > c0:
            out[key] = [count - c0, total - t0, self_ns - s0, depth, shape]
    return out


def write_trace(path, entries, runs, run_ns, creation, pid=None):
    """Writes onnxruntime's profile format: a JSON list of Chrome trace events ("X" phase).

    Session events ("model_loading", "session_initialization") time the creation phases.
    The profiled runs are summarized as one mean run: a "model_run" event and, laid out in
    execution order inside it, one "Node" event per node named "<node>_kernel_time", whose
    ``dur`` is the node's mean time per run in microseconds (a control-flow node's own
    time, without its subgraph's nodes) and whose ``args`` hold ``op_name``, ``provider``,
    ``node_name``, ``domain``, ``output_shape``, ``calls_per_run`` and ``runs``.
    """
    pid = os.getpid() if pid is None else pid
    runs = max(int(runs), 0)
    div = 1e3 * runs if runs else 1.0
    us = lambda ns: round(ns / 1e3, 3)  # noqa: E731
    events = []
    ts = 0.0
    load = creation.get("read", 0) + creation.get("parse", 0)
    init = sum(creation.get(k, 0) for k in ("threads", "prepare", "optimize", "plan"))
    events.append({"cat": "Session", "pid": pid, "tid": 0, "dur": us(load), "ts": ts, "ph": "X",
                   "name": "model_loading", "args": {}})
    ts += us(load)
    events.append({"cat": "Session", "pid": pid, "tid": 0, "dur": us(init), "ts": ts, "ph": "X",
                   "name": "session_initialization",
                   "args": {k + "_us": us(creation.get(k, 0)) for k in ("threads", "prepare", "optimize", "plan")}})
    ts += us(init)
    ts = round(ts, 3)
    events.append({"cat": "Session", "pid": pid, "tid": 0, "dur": round(run_ns / div, 3), "ts": ts, "ph": "X",
                   "name": "model_run", "args": {"runs": runs}})
    for label, (name, op, dom, _parent, _depth, count, _total, self_ns, shape) in zip(_labels(entries), entries):
        if count <= 0:
            continue
        dur = round(self_ns / div, 3)
        events.append({"cat": "Node", "pid": pid, "tid": 0, "dur": dur, "ts": round(ts, 3), "ph": "X",
                       "name": f"{label}_kernel_time",
                       "args": {"op_name": op, "provider": "CPUExecutionProvider", "node_name": name,
                                "domain": dom, "output_shape": None if shape is None else list(shape),
                                "calls_per_run": count / runs if runs else 0, "runs": runs}})
        ts = round(ts + dur, 3)
    with open(path, "w") as f:  # one event per line, as onnxruntime writes them
        f.write("[\n" + ",\n".join(json.dumps(e) for e in events) + "\n]\n")
    return path


def trace_path(prefix):
    """prefix + '_YYYY-MM-DD_HH-MM-SS.json', with a counter if that file exists."""
    base = f"{prefix}_{time.strftime('%Y-%m-%d_%H-%M-%S')}"
    path, k = base + ".json", 1
    while os.path.exists(path):
        path, k = f"{base}_{k}.json", k + 1
    return path
