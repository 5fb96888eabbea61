"""The bundled demo and the `edgeinfer` command line."""
import os
import re
import subprocess
import sys

import numpy as np

import edgeinfer
from edgeinfer import __main__ as cli
from edgeinfer import demo


def _env():
    """The child must import the same edgeinfer as this process (not the source tree)."""
    env = dict(os.environ)
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(edgeinfer.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def test_python_m_edgeinfer_demo(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "edgeinfer", "demo", "--runs", "20"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"accuracy: ([0-9.]+) \((\d+)/(\d+)\)", proc.stdout)
    assert m, proc.stdout
    assert float(m.group(1)) > 0.9
    assert int(m.group(3)) >= 300
    assert re.search(r"latency batch 1: +median +[0-9.]+ us", proc.stdout), proc.stdout
    assert f"ISA {edgeinfer.get_isa()}" in proc.stdout
    assert "BLAS" in proc.stdout and "threads" in proc.stdout


def test_demo_data_shipped():
    x, y = demo.load_holdout()
    assert x.dtype == np.float32 and x.shape[1:] == (1, 8, 8) and len(x) == len(y) >= 300
    assert y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert os.path.getsize(demo.MODEL_PATH) < 100 * 1024


def test_demo_model_uses_only_basic_ops():
    import onnx

    m = onnx.load(demo.MODEL_PATH)
    allowed = {"Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Softmax", "Add", "BatchNormalization", "Reshape"}
    assert {n.op_type for n in m.graph.node} <= allowed


def test_ascii_digit():
    img = np.zeros((8, 8), np.float32)
    img[3, 4] = 1.0
    lines = demo.ascii_digit(img).split("\n")
    assert len(lines) == 8 and all(len(line) == 16 for line in lines)
    assert lines[3][8:10] == "@@" and lines[0].strip() == ""


def test_cli_info(capsys):
    assert cli.main(["info", demo.MODEL_PATH]) == 0
    out = capsys.readouterr().out
    assert "image: tensor(float) [batch, 1, 8, 8]" in out
    assert "probs: tensor(float) [batch, 10]" in out


def test_cli_info_missing_file_reports_error(capsys, tmp_path):
    assert cli.main(["info", str(tmp_path / "nope.onnx")]) == 1
    assert "EngineIOError" in capsys.readouterr().err


def test_cli_version(capsys):
    assert cli.main(["version"]) == 0
    assert edgeinfer.__version__ in capsys.readouterr().out


def test_cli_no_command(capsys):
    assert cli.main([]) == 2
    assert "demo" in capsys.readouterr().out
