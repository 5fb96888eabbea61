"""README.md stays true to the code: its operator table matches csrc/ops/ops.def, its C
quickstart is tests/c/test_example.c (which runs as a ctest), its Python quickstart runs,
its set-up commands are the ones CI runs, and its links point at files that exist.
The one numeric check (the Python quickstart) states its tolerance where it is made.
"""
import importlib.util
import os
import re

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
