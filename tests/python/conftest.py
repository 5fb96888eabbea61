"""pytest setup for the Python tests.

Tests import the *installed* edgeinfer (e.g. `pip install .`, or for development
`pip install --no-build-isolation --no-deps -t /tmp/py-python .` and PYTHONPATH=/tmp/py-python).
The source folder python/edgeinfer has no compiled _core and must not shadow it: if it
does, fail early with an explanation instead of an ImportError in every test.
"""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # for `import ortcheck` whatever pytest's import mode
    sys.path.insert(0, HERE)

try:
    import edgeinfer  # noqa: F401
    from edgeinfer import _core  # noqa: F401
except ImportError as e:  # pragma: no cover - only on a broken setup
    src = os.path.normpath(os.path.join(HERE, "..", "..", "python"))
    hint = ""
    mod = sys.modules.get("edgeinfer")
    if mod is not None and os.path.normpath(os.path.dirname(os.path.dirname(mod.__file__))) == src:
        hint = (" (the source folder python/edgeinfer shadows the installed package: run pytest "
                "from the repository root, without python/ on sys.path)")
    raise pytest.UsageError(f"cannot import the built edgeinfer: {e}{hint}. Install it first: "
                            "pip install --no-build-isolation --no-deps -t /tmp/py-python . and "
                            "PYTHONPATH=/tmp/py-python") from e


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, fresh for each test."""
    return np.random.default_rng(1234)
