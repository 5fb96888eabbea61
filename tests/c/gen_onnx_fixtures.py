#!/usr/bin/env python3
"""Writes tests/c/data/onnx_fixtures.h: small ONNX models (built with onnx.helper) as C
byte arrays, so tests/c/test_onnx.c needs no Python at run time.

Run from the repository root after changing a model:  python3 tests/c/gen_onnx_fixtures.py
The models are not checked with onnx.checker on purpose: several are invalid by design.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 17)]


def model(graph, opsets=OPSET, ir=8):
    m = helper.make_model(graph, opset_imports=opsets, producer_name="edgeinfer-tests")
    m.ir_version = ir
    return m


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def mlp(reverse=False):
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) / 8, "W")  # raw_data
    b = helper.make_tensor("B", TensorProto.FLOAT, [3], [0.5, -1.0, 2.0])  # float_data
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["H"], name="mm"),
        helper.make_node("Add", ["H", "B"], ["H2"]),  # unnamed: "Add_1"
        helper.make_node("Relu", ["H2"], ["Y"], name="relu"),
    ]
    if reverse:
        nodes = nodes[::-1]
    g = helper.make_graph(
        nodes, "mlp",
        [vi("X", TensorProto.FLOAT, ["batch", 4]), vi("W", TensorProto.FLOAT, [4, 3])],
        [vi("Y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[w, b],
        value_info=[vi("H", TensorProto.FLOAT, ["batch", 3])],
    )
    return model(g, opsets=[helper.make_opsetid("ai.onnx", 17)])


def dtypes():
    T = TensorProto
    inits = [
        helper.make_tensor("i8", T.INT8, [3], [-128, 0, 127]),
        helper.make_tensor("u8", T.UINT8, [3], [0, 1, 255]),
        helper.make_tensor("i16", T.INT16, [2], [-32768, 32767]),
        helper.make_tensor("u16", T.UINT16, [2], [0, 65535]),
        helper.make_tensor("i32", T.INT32, [2], [-2147483648, 2147483647]),
        helper.make_tensor("i64", T.INT64, [2], [-(2**63), 2**63 - 1]),
        helper.make_tensor("bool", T.BOOL, [3], [True, False, True]),
        helper.make_tensor("f16", T.FLOAT16, [2], np.array([1.0, -2.0], dtype=np.float16)),
        helper.make_tensor("bf16", T.BFLOAT16, [1], [1.0]),
        helper.make_tensor("f64", T.DOUBLE, [2], [1.5, -0.25]),
        helper.make_tensor("u32", T.UINT32, [2], [0, 4294967295]),
        helper.make_tensor("u64", T.UINT64, [2], [0, 2**64 - 1]),
        numpy_helper.from_array(np.array([[1, -2], [3, -4]], dtype=np.int64), "raw_i64"),
        numpy_helper.from_array(np.array(7.0, dtype=np.float32), "scalar"),
        numpy_helper.from_array(np.zeros((0, 3), dtype=np.float32), "empty"),
    ]
    node = helper.make_node("Identity", ["i8"], ["out"], name="id")
    outs = [vi("out", T.INT8, [3]), vi("u64", T.UINT64, [2])]
    return model(helper.make_graph([node], "dtypes", [], outs, initializer=inits))


def subgraph(name, outer, out):
    return helper.make_graph(
        [helper.make_node("Neg", [outer], [out], name=name + "_neg")], name, [],
        [vi(out, TensorProto.FLOAT, [2])])


def attrs():
    t = helper.make_tensor("", TensorProto.FLOAT, [2], [1.0, 2.0])
    node = helper.make_node(
        "Foo", ["X"], ["Y"], name="foo", domain="com.example",
        f=1.5, i=-7, s="hello", t=t, g=subgraph("body", "X", "Z"),
        floats=[0.5, 0.25], ints=[1, -2, 3], strings=["a", "bc"],
        tensors=[helper.make_tensor("t0", TensorProto.INT64, [1], [9])],
        graphs=[subgraph("g0", "X", "Z0"), subgraph("g1", "X", "Z1")])
    g = helper.make_graph([node], "attrs", [vi("X", TensorProto.FLOAT, [2])],
                          [vi("Y", TensorProto.FLOAT, [2])])
    return model(g, opsets=OPSET + [helper.make_opsetid("com.example", 3)])


def if_outer():
    """If's branches read C, which a node listed after the If produces; a nested If
    reads the top-level input X through two scopes."""
    inner = helper.make_graph(
        [helper.make_node("Add", ["X", "C"], ["r"], name="inner_add")], "inner", [],
        [vi("r", TensorProto.FLOAT, [2])])
    then_g = helper.make_graph(
        [helper.make_node("If", ["cond"], ["t"], name="nested_if", then_branch=inner,
                          else_branch=subgraph("inner_else", "C", "r2"))],
        "then", [], [vi("t", TensorProto.FLOAT, [2])])
    else_g = subgraph("else", "C", "e")
    nodes = [
        helper.make_node("If", ["cond"], ["Y"], name="if", then_branch=then_g, else_branch=else_g),
        helper.make_node("Relu", ["X"], ["C"], name="make_c"),
    ]
    g = helper.make_graph(nodes, "if_outer",
                          [vi("cond", TensorProto.BOOL, []), vi("X", TensorProto.FLOAT, [2])],
                          [vi("Y", TensorProto.FLOAT, [2])])
    return model(g)


def attr_notype():
    """IR version 1 style: attributes without a type field."""
    n = helper.make_node("LeakyRelu", ["X"], ["Y"], name="lrelu")
    a = onnx.AttributeProto()
    a.name, a.f = "alpha", 0.5
    b = onnx.AttributeProto()
    b.name = "ints"
    b.ints.extend([4, 5])
    n.attribute.extend([a, b])
    g = helper.make_graph([n], "v1", [vi("X", TensorProto.FLOAT, [2])], [vi("Y", TensorProto.FLOAT, [2])])
    return model(g, ir=3)


def one_node(nodes, inputs, outputs, inits=(), opsets=OPSET, name="g", **kw):
    return model(helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits), **kw),
                 opsets=opsets)


def external(location, offset="16", length="24", with_location=True):
    w = helper.make_tensor("W", TensorProto.FLOAT, [2, 3], vals=[0] * 6)
    w.ClearField("float_data")
    w.data_location = TensorProto.EXTERNAL
    entries = []
    if with_location:
        entries.append(("location", location))
    if offset is not None:
        entries.append(("offset", offset))
    if length is not None:
        entries.append(("length", length))
    for k, v in entries:
        e = w.external_data.add()
        e.key, e.value = k, v
    n = helper.make_node("Relu", ["W"], ["Y"], name="r")
    return one_node([n], [], [vi("Y", TensorProto.FLOAT, [2, 3])], [w])


def invalid_models():
    F = TensorProto.FLOAT
    x, y = vi("X", F, [2]), vi("Y", F, [2])
    out = {}
    out["cycle"] = one_node([helper.make_node("Relu", ["b"], ["a"], name="n1"),
                             helper.make_node("Add", ["a", "X"], ["b"], name="n2"),
                             helper.make_node("Relu", ["a"], ["Y"], name="n3")], [x], [y])
    out["dup_producer"] = one_node([helper.make_node("Relu", ["X"], ["Y"], name="p1"),
                                    helper.make_node("Neg", ["X"], ["Y"], name="p2")], [x], [y])
    out["unknown_input"] = one_node([helper.make_node("Add", ["X", "Zzz"], ["Y"], name="adder")],
                                    [x], [y])
    out["bad_output"] = one_node([helper.make_node("Relu", ["X"], ["Y"], name="r")], [x],
                                 [y, vi("Qqq", F, [2])])
    out["no_opset_domain"] = one_node(
        [helper.make_node("Gelu", ["X"], ["Y"], name="gelu", domain="com.microsoft")], [x], [y])
    sp = helper.make_sparse_tensor(helper.make_tensor("S", F, [1], [1.0]),
                                   helper.make_tensor("S_idx", TensorProto.INT64, [1], [0]), [4])
    out["sparse_init"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y],
                                  sparse_initializer=[sp])
    out["string_tensor"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y],
                                    [helper.make_tensor("strs", TensorProto.STRING, [1], [b"a"])])
    bad = numpy_helper.from_array(np.zeros(3, dtype=np.float32), "short")
    bad.raw_data = bad.raw_data[:10]
    out["raw_size"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [bad])
    unk = helper.make_tensor("weird", F, [1], [1.0])
    unk.data_type = 99
    out["unknown_dtype"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [unk])
    c64 = helper.make_tensor("c64", F, [1], [1.0])
    c64.ClearField("float_data")
    c64.data_type = TensorProto.COMPLEX64
    c64.raw_data = b"\x00" * 8
    out["complex64"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [c64])
    seq = helper.make_tensor_sequence_value_info("seq_in", F, [2])
    out["seq_input"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x, seq], [y])
    cnt = helper.make_tensor("cnt", F, [2], [1.0, 2.0])
    cnt.dims[0] = 3  # 2 values for 3 elements
    out["typed_count"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [cnt])
    d1 = helper.make_tensor("dup", F, [1], [1.0])
    out["dup_init"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [d1, d1])
    ref = helper.make_node("Relu", ["X"], ["Y"], name="withref")
    a = onnx.AttributeProto()
    a.name, a.ref_attr_name, a.type = "alpha", "outer_alpha", onnx.AttributeProto.FLOAT
    ref.attribute.append(a)
    out["ref_attr"] = one_node([ref], [x], [y])
    wrong = helper.make_tensor("i64_in_float", TensorProto.INT64, [1], [1])
    wrong.ClearField("int64_data")
    wrong.float_data.append(1.0)
    out["typed_wrong_field"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [wrong])
    out["if_undefined_outer"] = one_node(
        [helper.make_node("If", ["X"], ["Y"], name="if", then_branch=subgraph("t", "Nope", "o1"),
                          else_branch=subgraph("e", "X", "o2"))], [x], [y])
    dup = helper.make_node("LeakyRelu", ["X"], ["Y"], name="dupattr", alpha=0.1)
    dup.attribute.append(helper.make_attribute("alpha", 0.2))
    out["dup_attr"] = one_node([dup], [x], [y])
    out["output_is_input"] = one_node([helper.make_node("Relu", ["Y"], ["X"], name="back")],
                                      [x, y], [y])
    out["output_is_init"] = one_node([helper.make_node("Relu", ["X"], ["K"], name="overwrite"),
                                      helper.make_node("Relu", ["K"], ["Y"])], [x], [y],
                                     [helper.make_tensor("K", F, [2], [1.0, 2.0])])
    out["opset_conflict"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y],
                                     opsets=OPSET + [helper.make_opsetid("ai.onnx", 18)])
    neg = helper.make_tensor("neg", F, [1], [1.0])
    neg.dims[0] = -1
    out["negative_dim"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [neg])
    huge = helper.make_tensor("huge", F, [1], [1.0])
    huge.ClearField("dims")
    huge.dims.extend([2**31, 2**31, 2**31])
    out["huge_shape"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [huge])
    deep = numpy_helper.from_array(np.zeros([1] * 9, dtype=np.float32), "rank9")
    out["rank9"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [deep])
    nodata = helper.make_tensor("nodata", F, [2], [1.0, 2.0])
    nodata.ClearField("float_data")
    out["no_data"] = one_node([helper.make_node("Relu", ["X"], ["Y"])], [x], [y], [nodata])
    return out


def c_array(name, data):
    lines = [f"static const unsigned char {name}[{len(data)}] = {{"]
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i:i + 16]) + ",")
    lines.append("};")
    return "\n".join(lines)


def main():
    fixtures = {
        "mlp": mlp(),
        "mlp_unsorted": mlp(reverse=True),
        "dtypes": dtypes(),
        "attrs": attrs(),
        "if_outer": if_outer(),
        "attr_notype": attr_notype(),
        "ext_ok": external("w.bin"),
        "ext_no_offset": external("sub/w0.bin", offset=None, length=None),
        "ext_abs": external("/etc/passwd", offset=None, length=None),
        "ext_dotdot": external("../w.bin"),
        "ext_dotdot_inner": external("sub/../../w.bin"),
        "ext_symlink": external("link.bin"),
        "ext_past_end": external("w.bin", offset="30"),
        "ext_bad_length": external("w.bin", length="20"),
        "ext_missing_file": external("nothere.bin"),
        "ext_no_location": external("w.bin", with_location=False),
    }
    invalid = invalid_models()
    fixtures.update({"bad_" + k: v for k, v in invalid.items()})
    out = [
        "/* Generated by tests/c/gen_onnx_fixtures.py - do not edit. Small ONNX models as bytes. */",
        "#ifndef EI_ONNX_FIXTURES_H", "#define EI_ONNX_FIXTURES_H", "",
        f"/* onnx {onnx.__version__} */", "",
    ]
    for name, m in fixtures.items():
        out.append(c_array(f"ei_fx_{name}", m.SerializeToString()))
        out.append("")
    out.append("typedef struct ei_fx { const char *name; const unsigned char *data; size_t size; } ei_fx;")
    out.append("static const ei_fx ei_fx_invalid[] = {")
    for name in invalid:
        out.append(f'    {{"{name}", ei_fx_bad_{name}, sizeof ei_fx_bad_{name}}},')
    out.append("};")
    out.append("static const ei_fx ei_fx_valid[] = {")
    for name in ["mlp", "mlp_unsorted", "dtypes", "attrs", "if_outer", "attr_notype"]:
        out.append(f'    {{"{name}", ei_fx_{name}, sizeof ei_fx_{name}}},')
    out.append("};")
    out += ["", "#endif /* EI_ONNX_FIXTURES_H */", ""]
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(os.path.join(here, "data"), exist_ok=True)
    with open(os.path.join(here, "data", "onnx_fixtures.h"), "w") as fh:
        fh.write("\n".join(out))


if __name__ == "__main__":
    main()
