"""The C command-line tool (csrc/cli): info, run, bench and its error handling.

The CLI under test is $EI_CLI when set (a path, or a command line such as
"qemu-aarch64 -L /usr/aarch64-linux-gnu build-aarch64/edgeinfer", which is how CI checks the
cross-built binary); otherwise a fresh CMake build in a temporary folder (session fixture).

Tolerances: `run` is compared with the Python module on the same model and inputs. Both are
the same engine, but the CLI may be built with another GEMM (built-in vs OpenBLAS) or ISA
(NEON under qemu), which reassociates float32 sums of at most 64 products: rtol 1e-5 and
atol 1e-5 (scaled by the output's magnitude, see ortcheck.assert_close) cover that.
Identity models must round-trip bit for bit.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess

import numpy as np
import pytest
from ortcheck import TensorProto, assert_close, helper, make_model, numpy_helper, run_ort

import edgeinfer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 300  # generous: under qemu every command is slower


def _newest_source_mtime():
    files = glob.glob(os.path.join(ROOT, "csrc", "**", "*.[ch]"), recursive=True)
    files += glob.glob(os.path.join(ROOT, "csrc", "**", "*.def"), recursive=True)
    return max(os.path.getmtime(f) for f in files)


@pytest.fixture(scope="session")
def cli(tmp_path_factory):
    """The CLI as an argv prefix."""
    env = os.environ.get("EI_CLI")
    if env:
        argv = shlex.split(env)
        assert argv and (shutil.which(argv[0]) or os.access(argv[0], os.X_OK)), (
            f"EI_CLI={env!r}: {argv[0] if argv else ''} is not an executable")
        return argv
    # A build in the conventional folder, if it is newer than every source file.
    existing = os.path.join(ROOT, "build", "edgeinfer")
    if os.access(existing, os.X_OK) and os.path.getmtime(existing) >= _newest_source_mtime():
        return [existing]
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("neither EI_CLI is set nor cmake found to build the CLI "
                    "(apt-get install cmake, or set EI_CLI=path/to/edgeinfer)")
    build = tmp_path_factory.mktemp("cli-build")
    subprocess.run([cmake, "-S", ROOT, "-B", str(build), "-DEI_BUILD_TESTS=OFF",
                    "-DEI_WITH_BLAS=OFF", "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, capture_output=True, timeout=TIMEOUT)
    res = subprocess.run([cmake, "--build", str(build), "--target", "edgeinfer_cli", "-j2"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, f"building the CLI failed:\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}"
    return [str(build / "edgeinfer")]


def run_cli(cli, *args, expect=0):
    res = subprocess.run(cli + [str(a) for a in args], capture_output=True, text=True, errors="replace",
                         timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    if expect is not None:
        assert res.returncode == expect, (
            f"exit {res.returncode} (expected {expect}) for {args}\n"
            f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
    return res


# ------------------------------------------------------------------ models

def small_cnn():
    """image [N,3,8,8] -> Conv 3x3 (4 ch) + Relu -> MaxPool 2 -> Flatten -> Gemm 64x5 -> Softmax.
    The Relu output is a second graph output with a name that is not a safe file name."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.3
    b = rng.standard_normal(4).astype(np.float32) * 0.1
    fc = rng.standard_normal((64, 5)).astype(np.float32) * 0.2
    fcb = rng.standard_normal(5).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("Conv", ["image", "w", "b"], ["conv"], name="conv1", pads=[1, 1, 1, 1],
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["conv"], ["feat/map:0"], name="relu1"),
        helper.make_node("MaxPool", ["feat/map:0"], ["pool"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc", "fcb"], ["logits"], name="fc"),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=1),
    ]
    return make_model(nodes, [("image", TensorProto.FLOAT, ["N", 3, 8, 8])],
                      [("probs", TensorProto.FLOAT, ["N", 5]),
                       ("feat/map:0", TensorProto.FLOAT, ["N", 4, 8, 8])],
                      [("w", w), ("b", b), ("fc", fc), ("fcb", fcb)], name="small_cnn")


DTYPES = [np.float32, np.float64, np.int64, np.int32, np.int8, np.uint8, np.bool_]


def identity_model():
    """One Identity per dtype: in_<dtype> -> out_<dtype>, static shapes."""
    nodes, ins, outs = [], [], []
    for i, dt in enumerate(DTYPES):
        name = np.dtype(dt).name
        elem = helper.np_dtype_to_tensor_dtype(np.dtype(dt))
        shape = [[2, 3], [4], [], [1, 2, 2], [5], [3, 1], [2, 2]][i]
        nodes.append(helper.make_node("Identity", [f"in_{name}"], [f"out_{name}"]))
        ins.append((f"in_{name}", elem, shape))
        outs.append((f"out_{name}", elem, shape))
    return make_model(nodes, ins, outs, name="identities")


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    d = tmp_path_factory.mktemp("cnn")
    path = d / "small_cnn.onnx"
    path.write_bytes(small_cnn().SerializeToString())
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.save(d / "image.npy", x)
    return path, x


# ------------------------------------------------------------------- tests

def test_version_and_help(cli):
    res = run_cli(cli, "--version")
    assert res.stdout.startswith(f"edgeinfer {edgeinfer.__version__}")
    assert re.search(r"isa (ref|avx2|avx512|neon)", res.stdout)
    res = run_cli(cli, "--help")
    assert "usage: edgeinfer" in res.stdout and "bench" in res.stdout
    res = run_cli(cli, expect=2)
    assert "usage" in res.stderr


def test_info_shows_symbolic_dims_and_engine(cli, cnn):
    path, _ = cnn
    out = run_cli(cli, "info", path, "--threads", "2").stdout
    assert re.search(r"^\s+image\s+float32\s+\[N,3,8,8\]$", out, re.M), out
    assert re.search(r"^\s+probs\s+float32\s+\[N,5\]$", out, re.M), out
    assert re.search(r"^\s+feat/map:0\s+float32\s+\[N,4,8,8\]$", out, re.M), out
    assert re.search(r"isa: (ref|avx2|avx512|neon)\s+blas: (openblas|builtin)\s+threads: 2", out), out
    assert "arena: unknown" in out
    out = run_cli(cli, "info", path, "--shape", "image=3x3x8x8").stdout
    assert re.search(r"^\s+probs\s+float32\s+\[3,5\]$", out, re.M), out
    m = re.search(r"^arena: (\d+) bytes$", out, re.M)
    assert m and int(m.group(1)) > 0, out


def test_info_static_model_plans_arena(cli, tmp_path):
    path = tmp_path / "static.onnx"
    model = make_model([helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Sigmoid", ["r"], ["y"])],
                       [("x", TensorProto.FLOAT, [16, 16])], [("y", TensorProto.FLOAT, [16, 16])])
    path.write_bytes(model.SerializeToString())
    out = run_cli(cli, "info", path).stdout
    assert re.search(r"^\s+x\s+float32\s+\[16,16\]$", out, re.M), out
    assert re.search(r"^arena: \d+ bytes$", out, re.M), out


@pytest.mark.parametrize("threads", ["1", "2"])
def test_run_matches_python_and_onnxruntime(cli, cnn, tmp_path, threads):
    path, x = cnn
    outdir = tmp_path / "out" / "nested"
    res = run_cli(cli, "run", path, "-i", f"image={path.parent / 'image.npy'}", "-o", outdir,
                  "--threads", threads)
    assert "probs ->" in res.stdout
    files = sorted(os.listdir(outdir))
    assert files == ["feat_map_0.npy", "probs.npy"], files
    got = [np.load(outdir / "probs.npy"), np.load(outdir / "feat_map_0.npy")]
    model = small_cnn()
    ours = edgeinfer.InferenceSession(model.SerializeToString()).run(None, {"image": x})
    ref = run_ort(model, {"image": x})
    for g, o, r, name in zip(got, ours, ref, ["probs", "feat/map:0"]):
        assert_close(g, o, rtol=1e-5, atol=1e-5, what=f"CLI vs Python: {name}")
        assert_close(g, r, rtol=1e-5, atol=1e-5, what=f"CLI vs onnxruntime: {name}")
    assert np.allclose(got[0].sum(axis=1), 1.0, atol=1e-5)


def test_run_round_trips_every_npy_dtype(cli, tmp_path):
    model = identity_model()
    path = tmp_path / "ids.onnx"
    path.write_bytes(model.SerializeToString())
    rng = np.random.default_rng(2)
    args, feed = [], {}
    for inp in model.graph.input:
        dt = helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type)
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        if dt == np.bool_:
            a = rng.integers(0, 2, shape).astype(np.bool_)
        elif np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            a = rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        else:
            a = rng.standard_normal(shape).astype(dt)
        a = np.asarray(a, dtype=dt)
        np.save(tmp_path / f"{inp.name}.npy", a)
        args += ["-i", f"{inp.name}={tmp_path / (inp.name + '.npy')}"]
        feed[inp.name] = a
    run_cli(cli, "run", path, *args, "-o", tmp_path / "o")
    for inp in model.graph.input:
        name = inp.name.replace("in_", "out_")
        got = np.load(tmp_path / "o" / f"{name}.npy")
        assert got.dtype == feed[inp.name].dtype and got.shape == feed[inp.name].shape, name
        np.testing.assert_array_equal(got, feed[inp.name], err_msg=name)


def test_output_names_that_sanitize_alike_get_distinct_files(cli, tmp_path):
    names = ["a/b", "a_b", "a:b", "../x"]
    nodes = [helper.make_node("Identity", ["x"], [n]) for n in names]
    model = make_model(nodes, [("x", TensorProto.FLOAT, [2])],
                       [(n, TensorProto.FLOAT, [2]) for n in names])
    path = tmp_path / "names.onnx"
    path.write_bytes(model.SerializeToString())
    np.save(tmp_path / "x.npy", np.array([1.5, -2], np.float32))
    out = tmp_path / "o"
    run_cli(cli, "run", path, "-i", f"x={tmp_path / 'x.npy'}", "-o", out)
    # Never a hidden file, never outside the output folder.
    assert sorted(os.listdir(out)) == ["_.._x.npy", "a_b.npy", "a_b_1.npy", "a_b_2.npy"]
    assert sorted(os.listdir(tmp_path)) == ["names.onnx", "o", "x.npy"]
    for f in os.listdir(out):
        np.testing.assert_array_equal(np.load(out / f), [1.5, -2])


def test_run_positional_input_and_summary(cli, cnn):
    path, _ = cnn
    res = run_cli(cli, "run", path, "-i", path.parent / "image.npy")
    assert re.search(r"^probs: float32 \[2,5\]$", res.stdout, re.M), res.stdout


def test_bench(cli, cnn):
    path, _ = cnn
    res = run_cli(cli, "bench", path, "--shape", "image=1x3x8x8", "--runs", "5", "--warmup", "1",
                  "--threads", "1")
    out = res.stdout
    assert re.search(r"^create: \d+\.\d+ ms$", out, re.M), out
    # The cold start in phases (plan: at the first reshape, the input being dynamic).
    m = re.search(r"^create phases ms: read ([\d.]+)  parse ([\d.]+)  threads ([\d.]+)  prepare ([\d.]+)  "
                  r"optimize ([\d.]+)  plan ([\d.]+)$", out, re.M)
    assert m, out
    assert float(m.group(2)) > 0 and float(m.group(6)) > 0
    m = re.search(r"latency ms: min ([\d.]+)\s+median ([\d.]+)\s+p90 ([\d.]+)\s+mean ([\d.]+)", out)
    assert m, out
    mn, med, p90, _ = map(float, m.groups())
    assert mn <= med <= p90
    assert "runs: 5 (warmup 1)\n" in out
    assert "profile:" not in out
    # From a file instead of random data.
    run_cli(cli, "bench", path, "-i", f"image={path.parent / 'image.npy'}", "--runs", "2")


def test_bench_profile(cli, cnn):
    path, _ = cnn
    res = run_cli(cli, "bench", path, "--shape", "image=2x3x8x8", "--runs", "4", "--warmup", "1",
                  "--threads", "1", "--profile", "--top", "3")
    out = res.stdout
    assert "runs: 4 (warmup 1), profiling on" in out
    assert re.search(r"^create phases ms: read ", out, re.M), out
    m = re.search(r"^profile: 4 runs, (\d+) nodes; per run: ([\d.]+) ms in nodes, ([\d.]+) ms in the engine$",
                  out, re.M)
    assert m, out
    n_nodes = int(m.group(1))
    assert n_nodes >= 4  # conv (maybe fused with relu), pool, flatten, gemm, softmax
    assert float(m.group(3)) >= float(m.group(2)) * 0.999
    # Per-node table: top 3, slowest first, shares in percent.
    rows = re.findall(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(\[[\d,]*\]|\?)\s+([\d.]+)\s+([\d.]+)%\s+([\d.]+)$",
                      out, re.M)
    assert [int(r[0]) for r in rows] == [1, 2, 3], out
    ms = [float(r[4]) for r in rows]
    assert ms == sorted(ms, reverse=True)
    # Per-op-type table: every node counted once, shares add up to ~100%.
    ops = out.split("by op type:\n", 1)[1]
    op_rows = re.findall(r"^  (.+?)\s+(\d+)\s+([\d.]+)\s+([\d.]+)%$", ops, re.M)
    assert op_rows, out
    assert sum(int(r[1]) for r in op_rows) == n_nodes
    assert abs(sum(float(r[3]) for r in op_rows) - 100) < 0.5 * len(op_rows)
    assert any(r[0].startswith("Softmax") for r in op_rows), out
    assert any("Conv" in r[0] for r in op_rows), out
    # All nodes with --top 0.
    out = run_cli(cli, "bench", path, "--shape", "image=1x3x8x8", "--runs", "1", "--warmup", "0",
                  "--profile", "--top", "0").stdout
    assert re.search(rf"^top {n_nodes} nodes", out, re.M), out


def test_profile_option_errors(cli, cnn):
    path, _ = cnn
    res = run_cli(cli, "run", path, "--profile", expect=2)
    assert "--profile is an option of bench" in res.stderr
    res = run_cli(cli, "bench", path, "--shape", "image=1x3x8x8", "--profile", "--top", "x", expect=2)
    assert "--top expects" in res.stderr


def test_bench_dynamic_dims_need_a_shape(cli, cnn):
    path, _ = cnn
    res = run_cli(cli, "bench", path, expect=1)
    assert "--shape image=" in res.stderr


# ------------------------------------------------------------------ errors

def _error(res):
    assert res.stderr.startswith("edgeinfer: "), res.stderr
    assert res.stdout == "" or "error" not in res.stdout
    return res.stderr


def test_missing_model_file(cli, tmp_path):
    err = _error(run_cli(cli, "info", tmp_path / "nope.onnx", expect=1))
    assert "IO" in err and "nope.onnx" in err


def test_corrupt_model_file(cli, tmp_path):
    bad = tmp_path / "bad.onnx"
    data = small_cnn().SerializeToString()
    bad.write_bytes(data[: len(data) // 2])
    err = _error(run_cli(cli, "run", bad, expect=1))
    assert "INVALID_MODEL" in err


@pytest.mark.parametrize("content, fragment", [
    (b"", "bad magic"),
    (b"\x93NUMPY\x01\x00\xff\x7f{'descr'", "truncated"),
    (b"not a numpy file at all", "bad magic"),
    (None, "truncated data"),  # a valid header with half the data
])
def test_corrupt_npy(cli, cnn, tmp_path, content, fragment):
    path, x = cnn
    npy = tmp_path / "bad.npy"
    if content is None:
        np.save(npy, x)
        data = npy.read_bytes()
        content = data[: len(data) - x.nbytes // 2]
    npy.write_bytes(content)
    err = _error(run_cli(cli, "run", path, "-i", f"image={npy}", expect=1))
    assert fragment in err and "bad.npy" in err, err


@pytest.mark.parametrize("make, fragment", [
    (lambda x: np.asfortranarray(x), "Fortran"),
    (lambda x: x.astype(">f4"), "big-endian"),
    (lambda x: np.array([None, 1], dtype=object), "object"),
    (lambda x: np.zeros(3, dtype=[("a", "<f4")]), "structured"),
    (lambda x: x.astype(np.complex64), "unsupported dtype"),
])
def test_unsupported_npy_layouts(cli, cnn, tmp_path, make, fragment):
    path, x = cnn
    npy = tmp_path / "in.npy"
    np.save(npy, make(x), allow_pickle=True)
    err = _error(run_cli(cli, "run", path, "-i", f"image={npy}", expect=1))
    assert fragment in err, err


def test_wrong_input_name_dtype_shape(cli, cnn, tmp_path):
    path, x = cnn
    npy = tmp_path / "x.npy"
    np.save(npy, x)
    err = _error(run_cli(cli, "run", path, "-i", f"img={npy}", expect=1))
    assert "no input named 'img'" in err and "'image'" in err
    np.save(npy, x.astype(np.float64))
    err = _error(run_cli(cli, "run", path, "-i", f"image={npy}", expect=1))
    assert "INVALID_ARGUMENT" in err and "image" in err
    np.save(npy, x[:, :2])
    err = _error(run_cli(cli, "run", path, "-i", f"image={npy}", expect=1))
    assert "image" in err or "conv1" in err, err
    err = _error(run_cli(cli, "run", path, expect=1))
    assert "missing input 'image'" in err
    err = _error(run_cli(cli, "run", path, "-i", f"image={tmp_path / 'absent.npy'}", expect=1))
    assert "absent.npy" in err and "cannot open" in err


def test_bad_command_lines(cli, cnn):
    path, _ = cnn
    assert "unknown command" in run_cli(cli, "frobnicate", path, expect=2).stderr
    assert "unknown option" in run_cli(cli, "info", path, "--bogus", "1", expect=2).stderr
    assert "--threads" in run_cli(cli, "info", path, "--threads", "-3", expect=2).stderr
    assert "--runs" in run_cli(cli, "bench", path, "--runs", "0", expect=2).stderr
    assert "needs a value" in run_cli(cli, "run", path, "-i", expect=2).stderr
    assert "missing the model" in run_cli(cli, "info", expect=2).stderr
    err = run_cli(cli, "info", path, "--shape", "image=1xZ", expect=1).stderr
    assert "expected dims" in err
