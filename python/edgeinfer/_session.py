"""The onnxruntime-shaped API: InferenceSession, SessionOptions, NodeArg.

Written so that switching from onnxruntime is one line::

    import edgeinfer as ort        # was: import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
    (probs,) = sess.run(None, {"image": x})

All the work happens in the C engine (edgeinfer._core); this module only adapts names
and argument conventions.
"""
import enum
import os

from . import _core, _profile
from ._core import InvalidArgument

__all__ = [
    "GraphOptimizationLevel",
    "SessionOptions",
    "RunOptions",
    "NodeArg",
    "InferenceSession",
    "get_available_providers",
    "get_device",
]

# ONNX TensorProto.DataType numbers (= ei_dtype values) -> onnxruntime's type strings.
_ONNX_TYPE_NAMES = {
    0: "tensor(undefined)",
    1: "tensor(float)",
    2: "tensor(uint8)",
    3: "tensor(int8)",
    4: "tensor(uint16)",
    5: "tensor(int16)",
    6: "tensor(int32)",
    7: "tensor(int64)",
    8: "tensor(string)",
    9: "tensor(bool)",
    10: "tensor(float16)",
    11: "tensor(double)",
    12: "tensor(uint32)",
    13: "tensor(uint64)",
    16: "tensor(bfloat16)",
    17: "tensor(float8e4m3fn)",
    18: "tensor(float8e4m3fnuz)",
    19: "tensor(float8e5m2)",
    20: "tensor(float8e5m2fnuz)",
    21: "tensor(uint4)",
    22: "tensor(int4)",
    23: "tensor(float4e2m1)",
    24: "tensor(float8e8m0)",
    25: "tensor(uint2)",
    26: "tensor(int2)",
}

_PROVIDERS = ["CPUExecutionProvider"]


def get_available_providers():
    """Execution providers this build offers: always ``['CPUExecutionProvider']``."""
    return list(_PROVIDERS)


def get_device():
    """The device edgeinfer computes on: ``'CPU'`` (as ``onnxruntime.get_device()``)."""
    return "CPU"


class GraphOptimizationLevel(enum.IntEnum):
    """Same names and values as ``onnxruntime.GraphOptimizationLevel``.

    edgeinfer has two levels: ``ORT_DISABLE_ALL`` turns graph optimizations off, every
    other level turns all of them on."""

    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class SessionOptions:
    """Options for :class:`InferenceSession`, shaped like ``onnxruntime.SessionOptions``.

    Attributes:
        intra_op_num_threads: threads used by ``run``, the caller's included;
            0 (default) means one per CPU core.
        inter_op_num_threads: accepted for compatibility; edgeinfer runs nodes in order
            and parallelizes inside them, so it has no effect.
        graph_optimization_level: a :class:`GraphOptimizationLevel` (default
            ``ORT_ENABLE_ALL``).
        enable_profiling: time every node of every run (default False), as onnxruntime
            does; :meth:`InferenceSession.end_profiling` writes the trace file. The
            engine's records are sized at creation: runs still allocate nothing, and the
            timing costs two clock reads per node.
        profile_file_prefix: start of the trace file's name (default
            ``'edgeinfer_profile'``; may include a folder).
    Other onnxruntime attributes (``log_severity_level``, ...) may be set and are ignored.
    """

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.enable_profiling = False
        self.profile_file_prefix = "edgeinfer_profile"

    def __repr__(self):
        return (f"SessionOptions(intra_op_num_threads={self.intra_op_num_threads}, "
                f"graph_optimization_level={GraphOptimizationLevel(self.graph_optimization_level).name})")


class RunOptions:
    """Accepted by :meth:`InferenceSession.run` for compatibility with onnxruntime; its
    settings have no effect."""

    def __init__(self):
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.terminate = False


class NodeArg:
    """Name, type and shape of a model input or output (as ``onnxruntime.NodeArg``).

    ``shape`` is a list with an int for a fixed dimension, the dimension's name (str) for a
    symbolic one such as ``'batch'``, and None for an unnamed dynamic one; it is ``[]``
    when the model declares no shape (as onnxruntime reports it). ``type`` is a string
    such as ``'tensor(float)'``."""

    __slots__ = ("name", "type", "shape", "_dtype")

    def __init__(self, name, type, shape, dtype_code=0):
        self.name = name
        self.type = type
        self.shape = shape
        self._dtype = dtype_code

    @property
    def dtype(self):
        """The matching NumPy dtype (an extra over onnxruntime), or None if NumPy has none."""
        import numpy as np

        name = _core.dtype_name(self._dtype)
        try:
            return np.dtype(name)
        except TypeError:
            return None

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"

    def __eq__(self, other):
        return (isinstance(other, NodeArg) and (self.name, self.type, self.shape)
                == (other.name, other.type, other.shape))

    __hash__ = None


def _node_args(infos):
    out = []
    for name, code, shape in infos:
        out.append(NodeArg(name, _ONNX_TYPE_NAMES.get(code, f"tensor(unknown:{code})"),
                           [] if shape is None else list(shape), code))
    return out


# Keyword arguments of onnxruntime's InferenceSession that have no meaning here.
_IGNORED_KWARGS = {"disabled_optimizers"}


class InferenceSession:
    """Loads an ONNX model and runs it, with the interface of ``onnxruntime.InferenceSession``.

    Args:
        path_or_bytes: a file path (str or os.PathLike), the serialized model (bytes,
            bytearray, memoryview) or an ``onnx.ModelProto`` (anything with
            ``SerializeToString()``). Models with external data must be given by path:
            the data files are found next to the model.
        sess_options: a :class:`SessionOptions`, or None for defaults.
        providers, provider_options: accepted for compatibility and ignored: edgeinfer is
            a CPU engine and :meth:`get_providers` always answers ``['CPUExecutionProvider']``.
        **kwargs: onnxruntime's ``disabled_optimizers`` is accepted and ignored. edgeinfer extras: ``num_threads`` (overrides
            ``sess_options.intra_op_num_threads``) and ``optimization_level`` (0 or 1).

    Raises:
        InvalidModel: the bytes are not a valid ONNX model.
        Unsupported: the model uses an operator (or opset) edgeinfer does not implement.
        EngineIOError: the file (or its external data) cannot be read.
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        del providers, provider_options  # CPU only: see the class docstring
        self._options = sess_options if sess_options is not None else SessionOptions()
        self._providers = list(_PROVIDERS)
        num_threads = getattr(self._options, "intra_op_num_threads", 0)
        level = getattr(self._options, "graph_optimization_level", GraphOptimizationLevel.ORT_ENABLE_ALL)
        for key, value in kwargs.items():
            if key == "num_threads":
                num_threads = value
            elif key == "optimization_level":
                level = value
            elif key not in _IGNORED_KWARGS:
                raise TypeError(f"InferenceSession() got an unexpected keyword argument {key!r}")
        num_threads = _as_int(num_threads, "intra_op_num_threads")
        if num_threads < 0:
            raise InvalidArgument(f"intra_op_num_threads must be >= 0 (0 = one per core), got {num_threads}")
        opt_level = 0 if int(level) == GraphOptimizationLevel.ORT_DISABLE_ALL else 1
        self._profiling = bool(getattr(self._options, "enable_profiling", False))

        model = path_or_bytes
        if isinstance(model, (str, os.PathLike)):
            self._model_path = os.fspath(model)
            self._sess = _core.Session(model, is_path=True, num_threads=num_threads,
                                       optimization_level=opt_level, enable_profiling=self._profiling)
        else:
            self._model_path = None
            if not isinstance(model, (bytes, bytearray, memoryview)):
                serialize = getattr(model, "SerializeToString", None)
                if serialize is None:
                    raise TypeError("path_or_bytes must be a path, bytes or an onnx.ModelProto, "
                                    f"not {type(model).__name__}")
                model = serialize()
            self._sess = _core.Session(model, num_threads=num_threads, optimization_level=opt_level,
                                       enable_profiling=self._profiling)
        self._inputs = _node_args(self._sess.input_info())
        self._outputs = _node_args(self._sess.output_info())
        self._output_index = {o.name: i for i, o in enumerate(self._outputs)}

    # -- onnxruntime's interface ---------------------------------------------------

    def run(self, output_names, input_feed, run_options=None):
        """Computes the outputs.

        Args:
            output_names: names of the outputs to return, in the order wanted; None (or an
                empty list) returns all outputs in the model's order.
            input_feed: ``{input name: numpy array}``. Every model input must be given,
                with exactly the declared dtype (there is no implicit conversion). Arrays
                that are C-contiguous, aligned and in native byte order are read in place;
                others are copied once.
            run_options: accepted for compatibility, ignored.

        Returns:
            A list of numpy arrays, newly allocated and filled by the engine.

        Raises:
            InvalidArgument: unknown or missing input, wrong dtype, rank or dimension,
                unknown output name.
            IndexOutOfRange: data-dependent index out of range (Gather, ...).

        The GIL is released while the engine computes, so other Python threads keep
        running (and several threads may share one session).
        """
        del run_options
        if output_names:
            idx = []
            for name in output_names:
                i = self._output_index.get(name)
                if i is None:
                    known = ", ".join(repr(o.name) for o in self._outputs)
                    raise InvalidArgument(f"unknown output name {name!r}: the model's outputs are {known}")
                idx.append(i)
        else:
            idx = None
        results = self._sess.run(input_feed)
        return results if idx is None else [results[i] for i in idx]

    def get_inputs(self):
        """The model's inputs (initializers excluded), as :class:`NodeArg` objects."""
        return list(self._inputs)

    def get_outputs(self):
        """The model's outputs, as :class:`NodeArg` objects."""
        return list(self._outputs)

    def get_overridable_initializers(self):
        """Always empty: edgeinfer treats initializers as constants."""
        return []

    def get_providers(self):
        """``['CPUExecutionProvider']``: edgeinfer computes on the CPU."""
        return list(self._providers)

    def get_provider_options(self):
        return {p: {} for p in self._providers}

    def get_session_options(self):
        """The :class:`SessionOptions` the session was created with."""
        return self._options

    def set_providers(self, providers=None, provider_options=None):
        """Accepted for compatibility; the CPU is the only provider."""
        del providers, provider_options

    def end_profiling(self):
        """Ends profiling (``SessionOptions.enable_profiling``) and writes its trace.

        Returns:
            The path of a JSON file in onnxruntime's profile format (Chrome trace events,
            open it in chrome://tracing or Perfetto): ``<profile_file_prefix>_<date>_<time>.json``
            in the current folder. ``''`` when profiling was not enabled.

        The trace summarizes the runs since profiling began as one mean run: a
        "model_run" event and one event per node ("cat": "Node", "name":
        "<node>_kernel_time", "dur" in microseconds, "args": {"op_name": ..., ...}); see
        ``edgeinfer._profile.write_trace``. Later runs are not profiled.
        """
        if not self._profiling:
            return ""
        self._profiling = False
        self._sess.set_profiling(False)
        entries = self._sess.profile_entries()
        runs, run_ns = self._sess.profile_runs()
        prefix = getattr(self._options, "profile_file_prefix", None) or "edgeinfer_profile"
        path = _profile.write_trace(_profile.trace_path(os.fspath(prefix)), entries, runs, run_ns,
                                    self._sess.creation_stats())
        self._sess.profile_reset()
        return path

    # -- edgeinfer extras ------------------------------------------------------------

    def profile(self, input_feed, runs=10, warmup=2):
        """Times every node over `runs` runs (after `warmup` untimed ones) and returns an
        :class:`edgeinfer.Profile`: per-node mean times and shares, per-op-type totals, and
        a readable table (``print(sess.profile(feed))``).

        Works whether or not ``SessionOptions.enable_profiling`` is set; with it set, these
        runs also appear in the :meth:`end_profiling` trace.

        Raises:
            InvalidArgument: runs < 1 or warmup < 0, or a bad feed (as :meth:`run`).
        """
        runs = _as_int(runs, "runs")
        warmup = _as_int(warmup, "warmup")
        if runs < 1 or warmup < 0:
            raise InvalidArgument(f"profile needs runs >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
        for _ in range(warmup):
            self._sess.run(input_feed)
        before = self._sess.profile_entries()
        runs0, ns0 = self._sess.profile_runs()
        self._sess.set_profiling(True)
        try:
            for _ in range(runs):
                self._sess.run(input_feed)
        finally:
            if not self._profiling:
                self._sess.set_profiling(False)
        after = self._sess.profile_entries()
        runs1, ns1 = self._sess.profile_runs()
        if not self._profiling:
            self._sess.profile_reset()
        return _profile.Profile(_profile.diff_entries(before, after), runs1 - runs0, ns1 - ns0)

    @property
    def creation_stats(self):
        """Where session creation went, in ms: ``{"read", "parse", "threads", "prepare",
        "optimize", "plan", "total"}``. "read" is 0 for a model given as bytes; "prepare"
        covers resolving ops and preparing nodes (weight prepacking); "plan" is the first
        shape inference + memory plan (at creation when every input shape is static, else
        0 until the first run). The first run itself is the caller's to time."""
        return {k: v / 1e6 for k, v in self._sess.creation_stats().items()}

    @property
    def arena_bytes(self):
        """Bytes of the activation arena planned for the last input shapes (0 before a run)."""
        return self._sess.arena_bytes

    @property
    def num_threads(self):
        """Threads the session runs with, the caller's included."""
        return self._sess.num_threads

    def reshape(self, input_shapes):
        """Binds input shapes ``{name: shape}`` ahead of ``run`` (planning memory) and
        returns the output shapes as a list of tuples, in the model's output order."""
        return self._sess.reshape(input_shapes)

    def __repr__(self):
        src = getattr(self, "_model_path", None) or "<bytes>"
        names = [i.name for i in getattr(self, "_inputs", [])]
        return f"<edgeinfer.InferenceSession {src!s} inputs={names}>"


def _as_int(value, what):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} must be an int, got {value!r}") from None
