"""edgeinfer: a small on-device ONNX inference engine with onnxruntime's Python API.

    import edgeinfer
    sess = edgeinfer.InferenceSession("model.onnx")
    outputs = sess.run(None, {"input": x})

The engine is C11 (edgeinfer._core); this package adds the onnxruntime-shaped classes
(InferenceSession, SessionOptions, NodeArg), the exceptions, and the ``edgeinfer``
command (``edgeinfer demo``, ``edgeinfer info MODEL``).

Exceptions all derive from :class:`EdgeInferError` and from the matching built-in:
InvalidArgument and InvalidModel are ValueErrors, Unsupported a NotImplementedError,
IndexOutOfRange an IndexError, OutOfMemory a MemoryError, EngineIOError an OSError.
"""


def _preload_openblas():
    """Loads OpenBLAS from the scipy-openblas32 wheel into the global symbol namespace
    before the extension is imported. The extension's rpath finds it next to us in
    site-packages; this makes installs elsewhere (pip --target, PYTHONPATH, zipapps)
    work as well."""
    import ctypes
    import os

    try:
        import scipy_openblas32
    except ImportError:  # the rpath may still find it; if not, importing _core says so
        return None
    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(fullname=True))
    try:
        return ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return None


_openblas = _preload_openblas()

from . import _core  # noqa: E402
from ._core import (  # noqa: E402
    EdgeInferError,
    EngineIOError,
    IndexOutOfRange,
    InvalidArgument,
    InvalidModel,
    OutOfMemory,
    Unsupported,
)
from ._profile import NodeProfile, Profile  # noqa: E402
from ._session import (  # noqa: E402
    GraphOptimizationLevel,
    InferenceSession,
    NodeArg,
    RunOptions,
    SessionOptions,
    get_available_providers,
    get_device,
)

__version__ = _core.version()


def get_version_string():
    """The version, as ``onnxruntime.get_version_string()``."""
    return __version__


def get_isa():
    """The SIMD level the kernels use: 'ref', 'avx2', 'avx512' or 'neon'.
    The EI_ISA environment variable (set before the first session) caps it."""
    return _core.isa()


def has_blas():
    """Whether matrix products go through OpenBLAS (True for the wheel builds)."""
    return bool(_core.has_blas())


__all__ = [
    "InferenceSession",
    "SessionOptions",
    "RunOptions",
    "GraphOptimizationLevel",
    "NodeArg",
    "Profile",
    "NodeProfile",
    "get_available_providers",
    "get_device",
    "get_version_string",
    "get_isa",
    "has_blas",
    "EdgeInferError",
    "InvalidArgument",
    "InvalidModel",
    "Unsupported",
    "IndexOutOfRange",
    "OutOfMemory",
    "EngineIOError",
    "__version__",
]
