"""ONNX backend node tests (the conformance suite shipped inside the onnx wheel) on edgeinfer.

One pytest test per directory of onnx/backend/test/data/node: model.onnx goes into
edgeinfer.InferenceSession, every test_data_set_*/input_<i>.pb feeds graph input i, and each
output is compared with output_<i>.pb exactly as onnx.backend.test.runner.Runner does it:
same count, same shape, same dtype, then numpy.testing.assert_allclose with rtol=1e-3,
atol=1e-7 (onnx.backend.test.loader's defaults, overridden per test by a data.json next to
model.onnx when there is one; onnx 1.22 ships none for node tests).

Outcomes (see conformance_skips.py): explicit skips by category; "operator not implemented"
computed from the engine's own Unsupported error, so it shrinks by itself as ops land; KNOWN_FAILURES as xfail(strict=True). The run ends with the figure (passed,
failed, xfailed, skipped per reason, share of the whole suite passing), also written as JSON
to $EI_CONFORMANCE_JSON (default: <tmp>/edgeinfer-conformance.json) and to the pytest cache
(key edgeinfer/conformance), for python/tools/conformance_report.py.

Environment: EI_CONFORMANCE_RUN_SKIPPED=1 runs the explicit skips too (to find stale entries).
"""
import collections
import glob
import json
import os
import re
import sys
import tempfile

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

import edgeinfer

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
import conformance_skips as skips  # noqa: E402

PINNED_ONNX = "1.22.0"  # pyproject.toml's test extra; the last release that ships the node data
NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(onnx.__file__)), "backend", "test", "data", "node")
MIN_NODE_TESTS = 1500  # onnx 1.22.0 ships 1765; far fewer means a stripped or broken install
DEFAULT_RTOL = 1e-3  # onnx.backend.test.loader.load_model_tests
DEFAULT_ATOL = 1e-7
RUN_SKIPPED = os.environ.get("EI_CONFORMANCE_RUN_SKIPPED", "") not in ("", "0")
JSON_PATH = os.environ.get("EI_CONFORMANCE_JSON") or os.path.join(tempfile.gettempdir(),
                                                                    "edgeinfer-conformance.json")
_MISSING_SENTINEL = "node_test_data_missing"

# "model has 2 unsupported nodes: node 'a' (op Abs, domain 'ai.onnx', opset 13); node ...", also
# nested in a subgraph's error: "node 'loop' (Loop): body: model has 1 unsupported node: ..."
_UNSUPPORTED_MODEL = re.compile(r"(^|: )model has \d+ unsupported nodes?:")
_UNSUPPORTED_NODE = re.compile(r"\(op ([^,]+), domain '([^']*)', opset (\d+)")


def _list_node_tests():
    if not os.path.isdir(NODE_DIR):
        return []
    return sorted(d for d in os.listdir(NODE_DIR) if os.path.isfile(os.path.join(NODE_DIR, d, "model.onnx")))


NODE_TESTS = _list_node_tests()

# test name -> (category key, one-line reason, detail) for every skip this run took.
_SKIPPED = {}
# test name -> the model's op types (default domain bare, others as domain.Op), for the report.
_OPS = {}


def _skip(name, key, reason, detail=""):
    _SKIPPED[name] = (key, reason, detail)
    pytest.skip(f"{reason}: {detail}" if detail else reason)


def _params():
    if len(NODE_TESTS) == 0:
        return [_MISSING_SENTINEL]
    out = []
    for name in NODE_TESTS:
        if name in skips.KNOWN_FAILURES:
            out.append(pytest.param(name, id=name, marks=pytest.mark.xfail(
                strict=True, reason=skips.KNOWN_FAILURES[name])))
        else:
            out.append(pytest.param(name, id=name))
    return out


def _data_missing_message():
    return (f"the ONNX node test data is missing or nearly empty: {NODE_DIR} holds {len(NODE_TESTS)} "
            f"test folders, expected >= {MIN_NODE_TESTS}. Install the pinned onnx release, which ships "
            f"it: pip install onnx=={PINNED_ONNX} (installed: onnx {onnx.__version__}; releases after "
            f"1.22 no longer ship the node tests)")


# ------------------------------------------------------------------ loading and comparing

def _tolerances(case_dir):
    """(rtol, atol) as onnx.backend.test.loader computes them: defaults, then data.json."""
    rtol, atol = DEFAULT_RTOL, DEFAULT_ATOL
    path = os.path.join(case_dir, "data.json")
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
        rtol = data.get("rtol", rtol)
        atol = data.get("atol", atol)
    return rtol, atol


def _value_kind(type_proto):
    return type_proto.WhichOneof("value")


def _load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def _assert_similar(expected, actual, names, rtol, atol, where):
    """onnx.backend.test.runner.Runner.assert_similar_outputs, with the output named."""
    assert len(actual) == len(expected), f"{where}: {len(actual)} outputs, expected {len(expected)}"
    for i, (e, a) in enumerate(zip(expected, actual)):
        what = f"{where}: output {i} '{names[i]}'"
        a = np.asarray(a)
        assert a.shape == e.shape, f"{what}: shape {a.shape}, expected {e.shape}"
        if e.dtype == object:
            np.testing.assert_array_equal(a, e, err_msg=what)
        else:
            assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, expected {e.dtype}"
            np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def _run_node_test(name):
    case_dir = os.path.join(NODE_DIR, name)
    explicit = skips.skip_reason(name)
    if explicit is not None and not RUN_SKIPPED:
        _skip(name, explicit[0], explicit[1])

    with open(os.path.join(case_dir, "model.onnx"), "rb") as f:
        model_bytes = f.read()
    model = onnx.load_model_from_string(model_bytes)
    graph_inputs = list(model.graph.input)
    graph_outputs = list(model.graph.output)
    _OPS[name] = sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                         for n in model.graph.node})
    for v in graph_inputs + graph_outputs:
        kind = _value_kind(v.type)
        if kind != "tensor_type":
            key, reason = "sequence_optional", skips.SKIP_GROUPS["sequence_optional"][0]
            _skip(name, key, reason, f"'{v.name}' is a {kind} (add the test to SKIP_GROUPS)")

    try:
        sess = edgeinfer.InferenceSession(model_bytes)
    except edgeinfer.Unsupported as e:
        msg = str(e)
        if _UNSUPPORTED_MODEL.search(msg):
            ops = sorted({op if dom in ("", "ai.onnx") else f"{dom}.{op}"
                          for op, dom, _ in _UNSUPPORTED_NODE.findall(msg)})
            _skip(name, skips.NOT_IMPLEMENTED, skips.NOT_IMPLEMENTED_REASON, " ".join(ops) or msg)
        raise

    rtol, atol = _tolerances(case_dir)
    out_names = [v.name for v in graph_outputs]
    data_sets = sorted(glob.glob(os.path.join(case_dir, "test_data_set*")))
    assert data_sets, f"{case_dir} has no test_data_set_* folder"
    for ds in data_sets:
        n_in = len(glob.glob(os.path.join(ds, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(ds, "output_*.pb")))
        feed = {graph_inputs[i].name: _load_tensor(os.path.join(ds, f"input_{i}.pb")) for i in range(n_in)}
        expected = [_load_tensor(os.path.join(ds, f"output_{i}.pb")) for i in range(n_out)]
        actual = sess.run(None, feed)
        _assert_similar(expected, actual, out_names, rtol, atol, os.path.basename(ds))


# ------------------------------------------------------------------ the tests

def test_node_data_ships():
    """The pinned onnx wheel ships the node tests; fail loudly (not pass vacuously) if not."""
    assert len(NODE_TESTS) >= MIN_NODE_TESTS, _data_missing_message()


def test_onnx_is_pinned_release():
    """The skip list names tests of onnx PINNED_ONNX; another release has other tests."""
    assert onnx.__version__ == PINNED_ONNX, (
        f"onnx {onnx.__version__} is installed, the conformance suite is pinned to onnx=={PINNED_ONNX}: "
        f"pip install onnx=={PINNED_ONNX}")


def test_skip_list_names_exist():
    """Every explicit skip and known failure names a test of the suite, once."""
    if not NODE_TESTS:
        pytest.fail(_data_missing_message())
    known = set(NODE_TESTS)
    stale = sorted(n for n in list(skips._BY_NAME) + list(skips.KNOWN_FAILURES) if n not in known)
    assert not stale, f"conformance_skips.py names tests that the suite does not have: {stale}"
    both = sorted(set(skips._BY_NAME) & set(skips.KNOWN_FAILURES))
    assert not both, f"tests both skipped and known failures (keep one): {both}"
    empty = sorted(n for n, r in skips.KNOWN_FAILURES.items() if not r.strip())
    assert not empty, f"KNOWN_FAILURES entries without an observed reason: {empty}"


@pytest.mark.parametrize("name", _params())
def test_node(name):
    if name == _MISSING_SENTINEL:
        pytest.fail(_data_missing_message())
    _run_node_test(name)


# ------------------------------------------------------------------ the figure

_PLUGIN_NAME = "edgeinfer-conformance-summary"


def _failure_message(report):
    """The exception of a failed (or xfailed) report on one line, shortened."""
    lr = report.longrepr
    crash = getattr(lr, "reprcrash", None)
    msg = crash.message if crash is not None else (str(lr) if lr else "")
    lines = [ln.strip() for ln in msg.splitlines() if ln.strip()]
    keep = [ln for ln in lines if ln.startswith(("Mismatched", "Max absolute", "Max relative"))]
    head = lines[0] if lines else ""
    if head.startswith("AssertionError") and len(lines) > 1 and head.rstrip(":") == "AssertionError":
        head = lines[1]
    text = "; ".join([head] + [ln for ln in lines[1:] if "output" in ln and ":" in ln][:1] + keep)
    return text[:400]
_NODE_ID = re.compile(r"test_onnx_conformance\.py::test_node\[(.+)\]$")


class _Summary:
    """Registered as a plugin by the fixture below: collects the outcome of every test_node
    item from pytest's own reports and prints the figure in the terminal summary."""

    def __init__(self, config):
        self.config = config
        self.outcome = {}  # test name -> passed | failed | skipped | xfailed
        self.message = {}  # test name -> the failure seen (failed and xfailed tests)

    def pytest_runtest_logreport(self, report):
        m = _NODE_ID.search(report.nodeid)
        if not m:
            return
        name = m.group(1)
        if self.outcome.get(name) == "failed":
            return
        if report.failed:
            self.outcome[name] = "failed"
            self.message[name] = _failure_message(report)
        elif report.skipped:
            self.outcome[name] = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            if hasattr(report, "wasxfail"):
                self.message[name] = _failure_message(report)
        elif report.when == "call":
            self.outcome[name] = "passed"

    def figures(self):
        counts = collections.Counter(self.outcome.values())
        by_key = collections.Counter()
        reasons = {skips.NOT_IMPLEMENTED: skips.NOT_IMPLEMENTED_REASON}
        reasons.update({k: r for k, (r, _) in skips.SKIP_GROUPS.items()})
        missing_ops = collections.Counter()
        sole_missing = collections.Counter()  # tests whose only missing op is this one
        tests = {}
        for name, o in sorted(self.outcome.items()):
            entry = {"outcome": o}
            if name in _OPS:
                entry["ops"] = _OPS[name]
            if name in self.message:
                entry["message"] = self.message[name]
            if o == "skipped":
                key, reason, detail = _SKIPPED.get(name, ("other", "skipped by a marker or option", ""))
                reasons.setdefault(key, reason)
                by_key[key] += 1
                entry["category"] = key
                if key == skips.NOT_IMPLEMENTED:
                    entry["missing_ops"] = detail.split()
                    missing_ops.update(detail.split())
                    if len(detail.split()) == 1:
                        sole_missing[detail] += 1
            elif o == "xfailed":
                entry["reason"] = skips.KNOWN_FAILURES.get(name, "")
            tests[name] = entry
        total = len(NODE_TESTS)
        passed = counts.get("passed", 0)
        stale = sorted(n for n, e in tests.items() if e["outcome"] == "passed" and n in skips._BY_NAME)
        return {
            "onnx": onnx.__version__,
            "edgeinfer": getattr(edgeinfer, "__version__", "?"),
            "isa": edgeinfer.get_isa() if hasattr(edgeinfer, "get_isa") else "?",
            "suite_total": total,
            "ran": len(self.outcome),
            "complete": len(self.outcome) == total and total > 0 and not RUN_SKIPPED,
            "run_skipped": RUN_SKIPPED,
            "passed": passed,
            "failed": counts.get("failed", 0),
            "xfailed": counts.get("xfailed", 0),
            "skipped": counts.get("skipped", 0),
            "percent_passing": round(100.0 * passed / total, 2) if total else 0.0,
            "skipped_by_reason": [{"key": k, "reason": reasons[k], "count": c} for k, c in by_key.most_common()],
            "missing_ops": dict(missing_ops.most_common()),
            "sole_missing_ops": dict(sole_missing.most_common()),
            "known_failures": dict(skips.KNOWN_FAILURES),
            "stale_skips": stale,
            "tests": tests,
        }

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if not self.outcome:
            return
        fig = self.figures()
        tr = terminalreporter
        tr.write_sep("=", f"ONNX node conformance (onnx {fig['onnx']}, {fig['suite_total']} node tests)")
        if not fig["complete"]:
            tr.write_line(f"partial run: {fig['ran']} of {fig['suite_total']} node tests ran")
        tr.write_line(f"passed {fig['passed']} / {fig['suite_total']} ({fig['percent_passing']:.1f}% of the whole "
                      f"suite), failed {fig['failed']}, xfailed {fig['xfailed']} (KNOWN_FAILURES), "
                      f"skipped {fig['skipped']}")
        for r in fig["skipped_by_reason"]:
            tr.write_line(f"  skipped {r['count']:5d}  [{r['key']}] {r['reason']}")
        if fig["missing_ops"]:
            top = ", ".join(f"{op} {n}" for op, n in list(fig["missing_ops"].items())[:25])
            tr.write_line(f"  missing ops by tests they block ({len(fig['missing_ops'])} ops): {top}"
                          + (", ..." if len(fig["missing_ops"]) > 25 else ""))
        if fig["stale_skips"]:
            tr.write_line(f"  explicit skips that pass now (delete them from conformance_skips.py): "
                          f"{' '.join(fig['stale_skips'])}")
        try:
            with open(JSON_PATH, "w") as f:
                json.dump(fig, f, indent=1, sort_keys=True)
            tr.write_line(f"  figures written to {JSON_PATH}")
        except OSError as e:  # a read-only tmp must not fail the run
            tr.write_line(f"  could not write {JSON_PATH}: {e}")
        cache = getattr(config, "cache", None)
        if cache is not None:
            cache.set("edgeinfer/conformance", fig)


@pytest.fixture(scope="session", autouse=True)
def _conformance_summary(request):
    """Autouse for this module's tests only: registers the summary plugin once."""
    pm = request.config.pluginmanager
    if pm.get_plugin(_PLUGIN_NAME) is None:
        pm.register(_Summary(request.config), _PLUGIN_NAME)
    yield
