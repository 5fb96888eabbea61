"""README.md stays true to the code: its operator table matches csrc/ops/ops.def and the
dtypes each op's ei_op_fns declares (spot-checked by running the ops), its C
quickstart is tests/c/test_example.c (which runs as a ctest), its Python quickstart runs,
its set-up commands are the ones CI runs, and its links point at files that exist.
The one numeric check (the Python quickstart) states its tolerance where it is made.
"""
import importlib.util
import os
import re

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")


def _load_gen():
    path = os.path.join(ROOT, "python", "tools", "gen_op_table.py")
    spec = importlib.util.spec_from_file_location("gen_op_table", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen = _load_gen()


@pytest.fixture(scope="module")
def readme():
    with open(README, encoding="utf-8") as f:
        return f.read()


def test_every_op_declares_its_dtypes():
    """Every op id in ops.def has a non-empty .dtypes in its ei_op_fns (csrc/ops/*.c)."""
    dtypes = gen.parse_op_dtypes()
    ids = sorted({ident for _, _, _, ident in gen.parse_ops_def()})
    lacking = [i for i in ids if not dtypes.get(i)]
    assert not lacking, ("these ops' `const ei_op_fns ei_op_fns_<id>` set no .dtypes = \"...\" "
                         "(list what their infer accepts): " + ", ".join(lacking))


def test_dtypes_parser_reads_definitions_and_macros(tmp_path):
    (tmp_path / "a.c").write_text(
        '/* const ei_op_fns ei_op_fns_gone = {p, i, r, NULL, .dtypes = "int8"}; */\n'
        'const ei_op_fns ei_op_fns_one = {p, i, r, NULL,\n'
        '                                 .dtypes = "float32 "\n'
        '                                 "float64"};\n'
        'const ei_op_fns ei_op_fns_bare = {p, i, r, NULL};\n'
        '#define OP(id, KIND, DTYPES) \\\n'
        '    const ei_op_fns ei_op_fns_##id = {id##_p, i, r, free, .dtypes = DTYPES};\n'
        'OP(two, K2, "bool")\nOP(three, K3, "any")\n'
        '#define FIXED(id, KIND) \\\n'
        '    const ei_op_fns ei_op_fns_##id = {id##_p, i, r, free, .dtypes = "uint8 int8"};\n'
        'FIXED(four, K4)\n')
    assert gen.parse_op_dtypes(str(tmp_path)) == {
        "one": "float32 float64", "bare": "", "two": "bool", "three": "any", "four": "uint8 int8"}
    (tmp_path / "b.c").write_text('const ei_op_fns ei_op_fns_typo = {p, i, r, NULL, .dtypes = "flaot32"};\n')
    with pytest.raises(ValueError, match="flaot32"):
        gen.parse_op_dtypes(str(tmp_path))


def test_op_table_is_up_to_date(readme):
    rows = gen.parse_ops_def()
    assert readme == gen.render_readme(readme, rows), (
        "README.md's operator table is out of date with csrc/ops/ops.def: "
        "run python python/tools/gen_op_table.py")
    assert gen.main(["--check"]) == 0


def test_op_table_lists_every_op(readme):
    rows = gen.parse_ops_def()
    assert rows, "ops.def has no EI_OP rows"
    table = readme.split(gen.BEGIN, 1)[1].split(gen.END, 1)[0]
    for domain, op, version, _ in rows:
        line = next((ln for ln in table.splitlines() if ln.startswith(f"| {op} | {domain or 'ai.onnx'} |")), None)
        assert line is not None, f"{op} missing from the README table"
        assert str(version) in line.split("|")[3].replace(" ", "").split(","), (op, version, line)
    dtypes = gen.parse_op_dtypes()
    for domain, op, _, ident in rows:
        line = next(ln for ln in table.splitlines() if ln.startswith(f"| {op} | {domain or 'ai.onnx'} |"))
        assert dtypes[ident] in line.split("|")[4], (op, dtypes[ident], line)


def test_check_detects_a_stale_table(tmp_path, readme):
    ops_def = tmp_path / "ops.def"
    with open(gen.OPS_DEF, encoding="utf-8") as f:
        ops_def.write_text(f.read() + '\nEI_OP("", ZzNewOp, 21, zz_new_op)\n')
    copy = tmp_path / "README.md"
    copy.write_text(readme)
    assert gen.main(["--check", "--readme", str(copy), "--ops-def", str(ops_def)]) == 1
    assert gen.main(["--readme", str(copy), "--ops-def", str(ops_def)]) == 0
    assert "| ZzNewOp | ai.onnx | 21 |" in copy.read_text()
    assert gen.main(["--check", "--readme", str(copy), "--ops-def", str(ops_def)]) == 0


def test_malformed_ops_def_row_is_an_error(tmp_path):
    bad = tmp_path / "ops.def"
    bad.write_text('/* EI_OP("", Commented, 1, x) */\nEI_OP("", Good, 1, good)\nEI_OP(Bad, 1, bad)\n')
    with pytest.raises(ValueError, match="parse"):
        gen.parse_ops_def(str(bad))


def test_missing_markers_are_an_error():
    with pytest.raises(ValueError, match="markers"):
        gen.render_readme("# no table here\n", [])


def _fenced_blocks(text):
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_two_setup_commands(readme):
    first = _fenced_blocks(readme)[0].strip().splitlines()
    assert first == [
        "pip install . && edgeinfer demo",
        'pip install ".[test]" && python -m pytest tests/python notebooks --nbmake',
    ]
    # Nothing but the title and a paragraph before it.
    before = readme.split("```", 1)[0]
    assert before.count("#") == 1


def test_ci_runs_the_readme_test_command(readme):
    test_cmd = _fenced_blocks(readme)[0].strip().splitlines()[1]
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = f.read()
    assert test_cmd in ci


def test_c_quickstart_is_the_tested_example(readme):
    with open(os.path.join(ROOT, "tests", "c", "test_example.c"), encoding="utf-8") as f:
        src = f.read()
    m = re.search(r"/\* README-BEGIN \*/\n(.*?)/\* README-END \*/", src, flags=re.S)
    assert m, "tests/c/test_example.c lacks the README-BEGIN/END markers"
    excerpt = m.group(1)
    assert "ei_session_run" in excerpt
    assert excerpt in readme, "README's C quickstart differs from tests/c/test_example.c"


def test_relative_links_exist(readme):
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links
    for link in links:
        if "://" in link:
            continue
        assert os.path.exists(os.path.join(ROOT, link)), f"README links to missing {link}"


def test_documented_cli_options_exist():
    """Every option the README shows for the C CLI is in its usage text."""
    with open(os.path.join(ROOT, "csrc", "cli", "main.c"), encoding="utf-8") as f:
        src = f.read()
    with open(README, encoding="utf-8") as f:
        text = f.read()
    for opt in sorted(set(re.findall(r"build/edgeinfer [^\n]*", text))):
        for flag in re.findall(r"\s(--?[a-z][a-z-]*)", opt):
            assert f'"{flag}"' in src, f"README shows {flag} but csrc/cli/main.c has no such option"


def test_python_quickstart_runs(readme, tmp_path, monkeypatch):
    """The README's Python snippet runs as written, on a model.onnx with the input it shows."""
    from ortcheck import TensorProto, helper, make_model

    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "InferenceSession" in b)
    model = make_model([helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
                        helper.make_node("Flatten", ["pooled"], ["output"])],
                       [("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                       [("output", TensorProto.FLOAT, ["batch", 3])])
    (tmp_path / "model.onnx").write_bytes(model.SerializeToString())
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(block, "README.md (Python quickstart)", "exec"), scope)
    x, y = scope["x"], scope["y"]
    assert y.shape == (1, 3)
    # GlobalAveragePool of 224*224 float32 values: summation order differs from NumPy's
    # pairwise sum, so allow 1e-5 relative.
    assert abs(y - x.mean(axis=(2, 3))).max() <= 1e-5 * max(1.0, float(abs(x).max()))


def test_c_example_model_matches_its_generator():
    """tests/c/example_model.h and .onnx hold exactly what gen_example_model.py builds."""
    path = os.path.join(ROOT, "tests", "c", "gen_example_model.py")
    spec = importlib.util.spec_from_file_location("gen_example_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    data = mod.build_model().SerializeToString()
    with open(os.path.join(ROOT, "tests", "c", "example_model.onnx"), "rb") as f:
        assert f.read() == data, "run python tests/c/gen_example_model.py"
    with open(os.path.join(ROOT, "tests", "c", "example_model.h"), encoding="utf-8") as f:
        assert f.read() == mod.to_header(data), "run python tests/c/gen_example_model.py"


# ---- The dtypes column, checked by running the ops --------------------------------------
# For a sample of ops, every dtype their ei_op_fns lists must run, and a few it does not list
# must fail with Unsupported or InvalidArgument (a message naming the dtype). The expected
# lists come from the C sources (gen.parse_op_dtypes), so a .dtypes that claims more (or less)
# than the op's infer accepts fails here.

def _np_dtype(name):
    """NumPy dtype for an engine dtype name (ml_dtypes for the ones NumPy lacks)."""
    ml = {"bfloat16": "bfloat16", "float8e4m3fn": "float8_e4m3fn", "float8e4m3fnuz": "float8_e4m3fnuz",
          "float8e5m2": "float8_e5m2", "float8e5m2fnuz": "float8_e5m2fnuz", "float8e8m0": "float8_e8m0fnu",
          "int4": "int4", "uint4": "uint4", "int2": "int2", "uint2": "uint2", "float4e2m1": "float4_e2m1fn"}
    if name in ml:
        ml_dtypes = pytest.importorskip("ml_dtypes", reason=f"{name} arrays need ml_dtypes")
        if not hasattr(ml_dtypes, ml[name]):
            pytest.skip(f"this ml_dtypes has no {ml[name]}, so NumPy cannot make a {name} array")
        return np.dtype(getattr(ml_dtypes, ml[name]))
    return np.dtype({"float32": "float32", "float64": "float64", "float16": "float16", "bool": "bool",
                      "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
                      "uint8": "uint8", "uint16": "uint16", "uint32": "uint32", "uint64": "uint64"}[name])


def _elem_type(name):
    from onnx import TensorProto
    return getattr(TensorProto, {"float32": "FLOAT", "float64": "DOUBLE", "float16": "FLOAT16"}.get(
        name, name.upper()))


def _ones(name, shape):
    """An array of ones (representable in every dtype, float8e8m0 and uint2 included)."""
    return np.ones(shape, dtype=np.float32).astype(_np_dtype(name))


# What "any" stands for: every fixed-size dtype (gen.render_table's note).
_FIXED = ("float32 float64 float16 bfloat16 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool "
          "float8e4m3fn float8e4m3fnuz float8e5m2 float8e5m2fnuz float8e8m0").split()
_PACKED = ["int4", "uint4", "float4e2m1"]


def _i64(name, values):
    return (name, np.asarray(values, dtype=np.int64))


def _one_input(op, shape=(2, 3), out_type=None, inits=(), extra_inputs=(), opset=21, **attrs):
    """Builder of a one-data-input model: x (dtype t) -> op -> y."""
    def build(t):
        from onnx import helper
        node = helper.make_node(op, ["x", *extra_inputs], ["y"], **attrs)
        return ([node], [("x", _elem_type(t), list(shape))],
                [("y", _elem_type(out_type or t), None)],
                [(n, v(t) if callable(v) else v) for n, v in inits], {"x": _ones(t, shape)}, opset)
    return build


def _two_inputs(op, out_type=None, opset=21, **attrs):
    def build(t):
        from onnx import helper
        node = helper.make_node(op, ["a", "b"], ["y"], **attrs)
        return ([node], [("a", _elem_type(t), [2, 3]), ("b", _elem_type(t), [2, 3])],
                [("y", _elem_type(out_type or t), None)], [],
                {"a": _ones(t, (2, 3)), "b": _ones(t, (2, 3))}, opset)
    return build


def _where(t):
    from onnx import helper
    return ([helper.make_node("Where", ["c", "a", "b"], ["y"])],
            [("c", _elem_type("bool"), [2, 3]), ("a", _elem_type(t), [2, 3]), ("b", _elem_type(t), [2, 3])],
            [("y", _elem_type(t), None)], [],
            {"c": np.array([[True, False, True], [False, True, False]]), "a": _ones(t, (2, 3)),
             "b": _ones(t, (2, 3))}, 21)


def _concat(t):
    from onnx import helper
    return ([helper.make_node("Concat", ["a", "b"], ["y"], axis=0)],
            [("a", _elem_type(t), [2, 3]), ("b", _elem_type(t), [1, 3])], [("y", _elem_type(t), None)], [],
            {"a": _ones(t, (2, 3)), "b": _ones(t, (1, 3))}, 21)


def _conv(t):
    from onnx import helper
    return ([helper.make_node("Conv", ["x", "w"], ["y"])], [("x", _elem_type(t), [1, 1, 3, 3])],
            [("y", _elem_type(t), None)], [("w", np.ones((1, 1, 2, 2), np.float32))],
            {"x": _ones(t, (1, 1, 3, 3))}, 21)


def _dequantize(t):
    from onnx import helper
    return ([helper.make_node("DequantizeLinear", ["x", "s"], ["y"])], [("x", _elem_type(t), [2, 3])],
            [("y", _elem_type("float32"), None)], [("s", np.float32(0.5))], {"x": _ones(t, (2, 3))}, 21)


def _quantize(t):
    from onnx import helper
    return ([helper.make_node("QuantizeLinear", ["x", "s"], ["y"])], [("x", _elem_type(t), [2, 3])],
            [("y", _elem_type("uint8"), None)], [("s", np.float32(0.5))], {"x": _ones(t, (2, 3))}, 21)


def _gather(t):
    return _one_input("Gather", inits=[_i64("i", [1, 0])], extra_inputs=["i"], axis=0)(t)


# op -> (op id in ops.def, builder of (nodes, inputs, outputs, initializers, feed, opset) for a dtype)
SPOT_CHECKS = {
    "Add": ("add", _two_inputs("Add")),
    "Div": ("div", _two_inputs("Div")),
    "Equal": ("equal", _two_inputs("Equal", out_type="bool")),
    "Less": ("less", _two_inputs("Less", out_type="bool")),
    "Pow": ("pow", _two_inputs("Pow")),
    "BitShift": ("bit_shift", _two_inputs("BitShift", direction="LEFT")),
    "BitwiseAnd": ("bitwise_and", _two_inputs("BitwiseAnd")),
    "And": ("and", _two_inputs("And")),
    "Abs": ("abs", _one_input("Abs")),
    "Neg": ("neg", _one_input("Neg")),
    "Sqrt": ("sqrt", _one_input("Sqrt")),
    "Not": ("not", _one_input("Not")),
    "Relu": ("relu", _one_input("Relu")),
    "LeakyRelu": ("leaky_relu", _one_input("LeakyRelu")),
    "IsNaN": ("is_nan", _one_input("IsNaN", out_type="bool")),
    "Max": ("max", _two_inputs("Max")),
    "Sum": ("sum", _two_inputs("Sum")),
    "Clip": ("clip", _one_input("Clip")),
    "Softmax": ("softmax", _one_input("Softmax")),
    "ReduceSum": ("reduce_sum", _one_input("ReduceSum", inits=[_i64("ax", [1])], extra_inputs=["ax"])),
    "ReduceMax": ("reduce_max", _one_input("ReduceMax", inits=[_i64("ax", [1])], extra_inputs=["ax"])),
    "ReduceMean": ("reduce_mean", _one_input("ReduceMean", inits=[_i64("ax", [1])], extra_inputs=["ax"])),
    "ArgMax": ("arg_max", _one_input("ArgMax", out_type="int64")),
    "CumSum": ("cum_sum", _one_input("CumSum", inits=[_i64("ax", 1)], extra_inputs=["ax"])),
    "TopK": ("top_k", _one_input("TopK", inits=[_i64("k", [2])], extra_inputs=["k"])),
    "Identity": ("identity", _one_input("Identity")),
    "Transpose": ("transpose", _one_input("Transpose")),
    "Reshape": ("reshape", _one_input("Reshape", inits=[_i64("s", [3, 2])], extra_inputs=["s"])),
    "Slice": ("slice", _one_input("Slice", inits=[_i64("b", [0]), _i64("e", [2])], extra_inputs=["b", "e"])),
    "Pad": ("pad", _one_input("Pad", inits=[_i64("p", [0, 1, 0, 1])], extra_inputs=["p"])),
    "Gather": ("gather", _gather),
    "Concat": ("concat", _concat),
    "Where": ("where", _where),
    "Conv": ("conv", _conv),
    "MatMul": ("mat_mul", _one_input("MatMul", inits=[("w", lambda t: _ones(t, (3, 2)))],
                                     extra_inputs=["w"])),
    "Tile": ("tile", _one_input("Tile", inits=[_i64("r", [2, 1])], extra_inputs=["r"])),
    "Expand": ("expand", _one_input("Expand", inits=[_i64("s", [2, 2, 3])], extra_inputs=["s"])),
    "EyeLike": ("eye_like", _one_input("EyeLike", shape=(3, 3))),
    "Unique": ("unique", _one_input("Unique")),
    "CumProd": ("cum_prod", _one_input("CumProd", inits=[_i64("ax", 1)], extra_inputs=["ax"], opset=26)),
    "Cast": ("cast", _one_input("Cast", out_type="float32", to=1)),
    "DequantizeLinear": ("dequantize_linear", _dequantize),
    "QuantizeLinear": ("quantize_linear", _quantize),
}


def _spot_cases():
    dtypes = gen.parse_op_dtypes()
    cases = []
    for op, (ident, _) in SPOT_CHECKS.items():
        listed = dtypes.get(ident, "").split()
        accepted = _FIXED if listed == ["any"] else listed
        for t in accepted:
            cases.append(pytest.param(op, t, True, id=f"{op}-{t}-ok"))
        pool = _PACKED if listed == ["any"] else [
            t for t in ["float32", "float64", "int32", "int64", "uint8", "bool", "float16", "int8", "uint64",
                        "float8e4m3fn", "int4"]
            if t not in listed]  # empty for Cast, which lists every dtype name
        for t in pool[:3]:
            cases.append(pytest.param(op, t, False, id=f"{op}-{t}-rejected"))
    return cases


def _run(op, t):
    import edgeinfer
    from onnx import helper
    from ortcheck import make_model

    nodes, inputs, outputs, inits, feed, opset = SPOT_CHECKS[op][1](t)
    outs = [helper.make_tensor_value_info(n, et, s) for n, et, s in outputs]
    model = make_model(nodes, inputs, outs, inits, opset=opset)
    sess = edgeinfer.InferenceSession(model.SerializeToString())
    return sess.run(None, feed)


@pytest.mark.parametrize("op,dtype,listed", _spot_cases())
def test_listed_dtypes_run_and_others_are_refused(op, dtype, listed):
    import edgeinfer

    if listed:
        (y,) = _run(op, dtype)
        assert y.size > 0
    else:
        with pytest.raises((edgeinfer.Unsupported, edgeinfer.InvalidArgument)) as e:
            _run(op, dtype)
        assert "dtype" in str(e.value) or dtype in str(e.value), str(e.value)


def test_spot_checks_cover_the_listed_ops():
    """Every sampled op is in ops.def (a rename must not silently drop its check)."""
    ids = {ident for _, _, _, ident in gen.parse_ops_def()}
    assert {ident for ident, _ in SPOT_CHECKS.values()} <= ids
