"""Attention and transformer-block ops (Attention 23/24, RMSNormalization 23,
RotaryEmbedding 23, CausalConvWithState 27, LinearAttention 27) against onnxruntime, plus
their error messages.

Oracle: onnxruntime (1.32 has CPU kernels for all five ops). Where onnxruntime and onnx's
reference evaluator disagree, the tests follow onnxruntime and the spec text, and say so:
  * qk_matmul_output_mode 0 with softcap: the raw scaled Q.K^T (the reference returns the
    softcapped value there, contradicting the attribute's description);
  * a query row whose every key is masked: zero weights, output 0 (the reference gives NaN).
The one case onnxruntime rejects (opset 24: attn_mask shorter than the total sequence,
padded with -inf, together with nonpad_kv_seqlen) is compared with
onnx.reference.ReferenceEvaluator instead.

Tolerance: rtol 1e-4, atol 1e-5 (scaled by the output's max magnitude, see ortcheck).
Attention sums head_size products per score and total_seq products per output in a
different order from onnxruntime (and scales Q.K^T once instead of Q and K by sqrt(scale)),
which moves results by a few ulps; RMSNormalization sums squares blockwise; LinearAttention
runs a d_k x d_v recurrence over up to 40 tokens (accumulated rounding of the state). Rotary
embedding is two products and a sum per element, compared with the same tolerance.
"""
import pytest

from ortcheck import (TensorProto, assert_close, check_model, helper, make_model, np, run_ei,
                      run_ort)

import edgeinfer

F = TensorProto.FLOAT
RTOL, ATOL = 1e-4, 1e-5


def out(name, rank, elem=F):
    return helper.make_tensor_value_info(name, elem, [None] * rank)


def rand(shape, seed=0, lo=-1.0, hi=1.0):
    rng = np.random.default_rng(seed + 7 * len(shape) + int(np.prod(shape, dtype=np.int64)))
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def model23(nodes, inputs, outputs, inits=(), opset=23):
    m = make_model(nodes, inputs, outputs, inits, opset=opset)
    m.ir_version = 10 if opset < 27 else 13
    return m


def check(model, feed, threads=1, masked_qk=False):
    """masked_qk: qk_matmul_output (mode 2) holds masked scores, which edgeinfer writes as -inf
    (onnx's reference and the conformance data do) and onnxruntime as the lowest float32;
    -inf is mapped to that value before comparing. The other outputs are compared as is."""
    if not masked_qk:
        return check_model(model, feed, rtol=RTOL, atol=ATOL, num_threads=threads)
    expected = run_ort(model, feed)
    actual = run_ei(model, feed, num_threads=threads)
    assert len(actual) == len(expected)
    lowest = np.finfo(np.float32).min
    for i, (a, e) in enumerate(zip(actual, expected)):
        name = model.graph.output[i].name
        if name == "qk":
            assert np.isneginf(a).any(), "expected masked scores in qk"
            a = np.where(np.isneginf(a), lowest, a)
        assert_close(a, e, rtol=RTOL, atol=ATOL, what=f"output {i} ({name})")
    return actual


def with_input_shape(model, name, shape):
    """The model with graph input `name` declared as `shape` (for error tests)."""
    vi = next(i for i in model.graph.input if i.name == name)
    del vi.type.tensor_type.shape.dim[:]
    for d in shape:
        vi.type.tensor_type.shape.dim.add().dim_value = d
    return model


def expect_error(exc, fragment, model, feed):
    with pytest.raises(exc) as info:
        run_ei(model, feed)
    assert fragment in str(info.value), str(info.value)
    assert isinstance(info.value, edgeinfer.EdgeInferError)


# --------------------------------------------------------------------------- RMSNormalization

def rms_model(xs, ss, **attrs):
    node = helper.make_node("RMSNormalization", ["x", "s"], ["y"], name="rms1", **attrs)
    return model23([node], [("x", F, xs), ("s", F, ss)], [out("y", len(xs))])


@pytest.mark.parametrize("xs,ss,attrs", [
    ([2, 8], [8], {}),
    ([3, 5, 16], [16], {"epsilon": 1e-3}),
    ([2, 3, 4, 5], [4, 5], {"axis": 2}),
    ([2, 3, 4, 5], [5], {"axis": -2}),          # Scale broadcast over the normalized rows
    ([2, 3, 4, 5], [1, 5], {"axis": 2}),
    ([2, 3, 4, 5], [3, 1, 1], {"axis": 1}),     # broadcast inner dims: expanded into scratch
    ([2, 3, 4, 5], [2, 3, 4, 5], {"axis": 0}),
    ([4, 600], [600], {}),                       # longer than the 256-element square block
    ([3, 0, 4], [4], {}),
])
def test_rms_normalization(xs, ss, attrs):
    m = rms_model(xs, ss, **attrs)
    check(m, {"x": rand(xs, 1, -3, 3), "s": rand(ss, 2)})


def test_rms_normalization_threads():
    m = rms_model([64, 1024], [1024])
    check(m, {"x": rand([64, 1024], 1, -3, 3), "s": rand([1024], 2)}, threads=4)


def test_rms_normalization_errors():
    x, s = rand([2, 4]), rand([4])
    expect_error(edgeinfer.InvalidModel, "attribute 'axis' = 2 is out of range",
                 rms_model([2, 4], [4], axis=2), {"x": x, "s": s})
    expect_error(edgeinfer.InvalidModel, "input 's' (scale) of shape [3]",
                 rms_model([2, 4], [3]), {"x": x, "s": rand([3])})
    expect_error(edgeinfer.Unsupported, "'stash_type' = 0",
                 rms_model([2, 4], [4], stash_type=0), {"x": x, "s": s})
    expect_error(edgeinfer.InvalidModel, "node 'rms1' (RMSNormalization)",
                 rms_model([2, 4], [4], axis=-3), {"x": x, "s": s})


# --------------------------------------------------------------------------- RotaryEmbedding

def rope_model(xs, cs, pos_shape=None, **attrs):
    names = ["x", "cos", "sin"] + (["pos"] if pos_shape else [])
    inputs = [("x", F, xs), ("cos", F, cs), ("sin", F, cs)]
    if pos_shape:
        inputs.append(("pos", TensorProto.INT64, pos_shape))
    node = helper.make_node("RotaryEmbedding", names, ["y"], name="rope1", **attrs)
    return model23([node], inputs, [out("y", len(xs))])


def rope_feed(xs, cs, pos_shape=None, max_pos=None):
    ang = rand(cs, 3, 0.0, 6.0)
    feed = {"x": rand(xs, 1, -2, 2), "cos": np.cos(ang), "sin": np.sin(ang)}
    if pos_shape:
        rng = np.random.default_rng(5)
        feed["pos"] = rng.integers(0, max_pos, size=pos_shape).astype(np.int64)
    return feed


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("xs,rd,heads,with_pos", [
    ([2, 3, 5, 8], 0, 0, True),      # 4-D [batch, heads, seq, head]
    ([2, 3, 5, 8], 0, 0, False),     # caches [batch, seq, half]
    ([2, 5, 24], 0, 3, True),        # 3-D [batch, seq, heads*head]
    ([2, 5, 24], 0, 3, False),
    ([2, 3, 5, 8], 4, 0, True),      # partial rotation, the rest copied
    ([1, 4, 7, 10], 6, 0, False),
    ([2, 5, 40], 4, 4, True),
])
def test_rotary_embedding(interleaved, xs, rd, heads, with_pos):
    if len(xs) == 4:
        b, s, head = xs[0], xs[2], xs[3]
    else:
        b, s, head = xs[0], xs[1], xs[2] // heads
    half = (rd or head) // 2
    attrs = {"interleaved": interleaved}
    if rd:
        attrs["rotary_embedding_dim"] = rd
    if heads:
        attrs["num_heads"] = heads
    if with_pos:
        cs, ps = [11, half], [b, s]
        m = rope_model(xs, cs, ps, **attrs)
        feed = rope_feed(xs, cs, ps, 11)
    else:
        cs = [b, s, half]
        m = rope_model(xs, cs, **attrs)
        feed = rope_feed(xs, cs)
    check(m, feed)


def test_rotary_embedding_threads():
    xs, cs, ps = [2, 8, 64, 64], [128, 32], [2, 64]
    check(rope_model(xs, cs, ps), rope_feed(xs, cs, ps, 128), threads=4)


def test_rotary_embedding_errors():
    xs, cs, ps = [1, 2, 3, 8], [5, 4], [1, 3]
    feed = rope_feed(xs, cs, ps, 5)
    bad = dict(feed, pos=np.array([[0, 5, 1]], dtype=np.int64))
    expect_error(edgeinfer.IndexOutOfRange, "input 'pos' (position_ids) holds 5",
                 rope_model(xs, cs, ps), bad)
    bad = dict(feed, pos=np.array([[0, -1, 1]], dtype=np.int64))
    expect_error(edgeinfer.IndexOutOfRange, "holds -1", rope_model(xs, cs, ps), bad)
    expect_error(edgeinfer.InvalidModel, "rotary dimension 3 must be even",
                 rope_model(xs, cs, ps, rotary_embedding_dim=3), feed)
    expect_error(edgeinfer.InvalidModel, "input 'cos' (cos_cache) has shape [5,4]",
                 rope_model(xs, cs, ps, rotary_embedding_dim=4), feed)
    x3 = rand([1, 3, 16])
    expect_error(edgeinfer.InvalidModel, "attribute 'num_heads' is required",
                 rope_model([1, 3, 16], cs, ps), dict(feed, x=x3))
    expect_error(edgeinfer.InvalidModel, "node 'rope1' (RotaryEmbedding)",
                 rope_model([1, 3, 16], cs, ps, num_heads=3), dict(feed, x=x3))


# --------------------------------------------------------------------------- Attention

def att_model(qs, ks, vs, mask=None, past=None, outputs=("y",), opset=23, nonpad=False,
              **attrs):
    """mask: (elem_type, shape) or None; past: (past_key shape, past_value shape) or None.
    outputs: names for Y, present_key, present_value, qk ('' leaves one out)."""
    ins = ["q", "k", "v"]
    inputs = [("q", F, qs), ("k", F, ks), ("v", F, vs)]
    if mask or past or nonpad:
        ins.append("m" if mask else "")
        if mask:
            inputs.append(("m", mask[0], mask[1]))
    if past or nonpad:
        ins += ["pk", "pv"] if past else ["", ""]
        if past:
            inputs += [("pk", F, past[0]), ("pv", F, past[1])]
    if nonpad:
        ins.append("np")
        inputs.append(("np", TensorProto.INT64, [qs[0]]))
    node = helper.make_node("Attention", ins, list(outputs), name="att1", **attrs)
    ranks = [len(qs), 4, 4, 4]
    outs = [out(o, ranks[i]) for i, o in enumerate(outputs) if o]
    return model23([node], inputs, outs, opset=opset)


def att_feed(qs, ks, vs, mask=None, past=None, seed=0, bool_density=0.7):
    feed = {"q": rand(qs, seed + 1, -2, 2), "k": rand(ks, seed + 2, -2, 2), "v": rand(vs, seed + 3)}
    if mask:
        if mask[0] == TensorProto.BOOL:
            rng = np.random.default_rng(seed + 4)
            m = rng.uniform(size=mask[1]) < bool_density
            m[..., 0] = True  # keep one key per row: fully masked rows have their own test
            feed["m"] = m
        else:
            feed["m"] = rand(mask[1], seed + 4, -3, 1)
    if past:
        feed["pk"] = rand(past[0], seed + 5, -2, 2)
        feed["pv"] = rand(past[1], seed + 6)
    return feed


B = TensorProto.BOOL
# (name, q, k, v, attrs)
LAYOUTS = [
    ("mha4d", [2, 3, 4, 8], [2, 3, 6, 8], [2, 3, 6, 8], {}),
    ("mha4d_dv", [2, 3, 4, 8], [2, 3, 6, 8], [2, 3, 6, 10], {}),
    ("gqa4d", [2, 6, 5, 8], [2, 2, 7, 8], [2, 2, 7, 8], {}),
    ("mqa4d", [1, 4, 3, 16], [1, 1, 9, 16], [1, 1, 9, 4], {}),
    ("mha3d", [2, 4, 24], [2, 6, 24], [2, 6, 24], {"q_num_heads": 3, "kv_num_heads": 3}),
    ("gqa3d_dv", [2, 5, 48], [2, 7, 16], [2, 7, 20], {"q_num_heads": 6, "kv_num_heads": 2}),
    ("long4d", [1, 2, 70, 8], [1, 2, 70, 8], [1, 2, 70, 8], {}),  # > one 32-row block
]


@pytest.mark.parametrize("layout", LAYOUTS, ids=[l[0] for l in LAYOUTS])
@pytest.mark.parametrize("variant", ["plain", "causal", "scaled", "softcap", "bool_mask",
                                     "float_mask", "causal_mask"])
def test_attention(layout, variant):
    _, qs, ks, vs, attrs = layout
    attrs = dict(attrs)
    sq = qs[2] if len(qs) == 4 else qs[1]
    skv = ks[2] if len(ks) == 4 else ks[1]
    mask = None
    if variant == "causal":
        attrs["is_causal"] = 1
    elif variant == "scaled":
        attrs["scale"] = 0.3
    elif variant == "softcap":
        attrs["softcap"] = 2.0
    elif variant == "bool_mask":
        mask = (B, [sq, skv])
    elif variant == "float_mask":
        mask = (F, [qs[0], 1, sq, skv])
    elif variant == "causal_mask":
        attrs["is_causal"] = 1
        mask = (F, [sq, skv])
    m = att_model(qs, ks, vs, mask=mask, **attrs)
    check(m, att_feed(qs, ks, vs, mask))


@pytest.mark.parametrize("mshape", [[4, 6], [3, 4, 6], [2, 3, 4, 6], [1, 3, 4, 6], [2, 1, 4, 6]])
@pytest.mark.parametrize("elem", [B, F])
def test_attention_mask_broadcast(mshape, elem):
    qs, ks = [2, 3, 4, 8], [2, 3, 6, 8]
    m = att_model(qs, ks, ks, mask=(elem, mshape))
    check(m, att_feed(qs, ks, ks, (elem, mshape)))


@pytest.mark.parametrize("layout", ["4d", "3d", "gqa4d", "gqa3d"])
@pytest.mark.parametrize("variant", ["plain", "causal", "mask", "qk"])
def test_attention_past_present(layout, variant):
    attrs = {}
    if layout == "4d":
        qs, ks, vs, hkv = [2, 3, 4, 8], [2, 3, 6, 8], [2, 3, 6, 10], 3
    elif layout == "gqa4d":
        qs, ks, vs, hkv = [2, 4, 1, 8], [2, 2, 1, 8], [2, 2, 1, 8], 2
    elif layout == "3d":
        qs, ks, vs, hkv = [2, 4, 24], [2, 6, 24], [2, 6, 24], 3
        attrs = {"q_num_heads": 3, "kv_num_heads": 3}
    else:
        qs, ks, vs, hkv = [1, 3, 32], [1, 3, 16], [1, 3, 8], 2
        attrs = {"q_num_heads": 4, "kv_num_heads": 2}
    head = ks[3] if len(ks) == 4 else ks[2] // hkv
    vhead = vs[3] if len(vs) == 4 else vs[2] // hkv
    sq = qs[2] if len(qs) == 4 else qs[1]
    skv = ks[2] if len(ks) == 4 else ks[1]
    p = 5
    past = ([qs[0], hkv, p, head], [qs[0], hkv, p, vhead])
    mask = None
    outputs = ("y", "pk_out", "pv_out")
    if variant == "causal":
        attrs["is_causal"] = 1
    elif variant == "mask":
        mask = (F, [sq, p + skv])
    elif variant == "qk":
        mask = (B, [qs[0], 1, sq, p + skv])
        outputs = ("y", "pk_out", "pv_out", "qk")
        attrs["qk_matmul_output_mode"] = 2
        attrs["is_causal"] = 1
    m = att_model(qs, ks, vs, mask=mask, past=past, outputs=outputs, **attrs)
    check(m, att_feed(qs, ks, vs, mask, past), masked_qk=variant == "qk")


@pytest.mark.parametrize("mshape", [[6], [2, 1, 1, 6], [1, 3, 1, 6], [1, 6]])
@pytest.mark.parametrize("elem", [B, F])
def test_attention_mask_broadcast_reference(mshape, elem):
    """Masks broadcast by NumPy's rule (the spec: "broadcastable to (batch, q_heads, q_seq,
    total)"); onnxruntime 1.32 accepts only ranks 2 to 4 with dim -2 equal to q_seq, so the
    oracle here is onnx.reference (no fully masked rows, where the two differ: see above)."""
    from onnx.reference import ReferenceEvaluator
    qs, ks = [2, 3, 4, 8], [2, 3, 6, 8]
    m = att_model(qs, ks, ks, mask=(elem, mshape))
    feed = att_feed(qs, ks, ks, (elem, mshape))
    assert_close(run_ei(m, feed)[0], ReferenceEvaluator(m).run(None, feed)[0], rtol=RTOL,
                 atol=ATOL, what="Y")


def test_attention_present_without_past():
    qs, ks = [2, 5, 24], [2, 7, 24]
    m = att_model(qs, ks, ks, outputs=("y", "pk_out", "pv_out"), q_num_heads=3, kv_num_heads=3)
    check(m, att_feed(qs, ks, ks))


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
@pytest.mark.parametrize("softcap", [0.0, 1.5])
def test_attention_qk_output_modes(mode, softcap):
    qs, ks = [2, 3, 4, 8], [2, 3, 6, 8]
    attrs = {"qk_matmul_output_mode": mode}
    if softcap:
        attrs["softcap"] = softcap
    mask = (F, [4, 6])
    m = att_model(qs, ks, ks, mask=mask, outputs=("y", "", "", "qk"), **attrs)
    check(m, att_feed(qs, ks, ks, mask))


def test_attention_fully_masked_row():
    """onnxruntime gives weights 0 (output 0) for a row with every key masked."""
    qs, ks = [1, 2, 3, 4], [1, 2, 3, 4]
    mask = np.array([[True, True, True], [False, False, False], [True, False, False]])
    m = att_model(qs, ks, ks, mask=(B, [3, 3]), outputs=("y", "", "", "qk"),
                  qk_matmul_output_mode=3)
    feed = att_feed(qs, ks, ks)
    feed["m"] = mask
    y, qk = check(m, feed)
    assert np.all(y[:, :, 1] == 0) and np.all(qk[:, :, 1] == 0)


def test_attention_causal_more_queries_than_keys():
    qs, ks = [1, 2, 6, 8], [1, 2, 4, 8]
    check(att_model(qs, ks, ks, is_causal=1), att_feed(qs, ks, ks))


def test_attention_threads():
    qs, ks = [2, 4, 100, 32], [2, 2, 100, 32]
    m = att_model(qs, ks, ks, mask=(F, [100, 100]), is_causal=1, softcap=5.0,
                  outputs=("y", "pk_out", "pv_out", "qk"), qk_matmul_output_mode=3)
    check(m, att_feed(qs, ks, ks, (F, [100, 100])), threads=4)


def test_attention_opset24_nonpad_kv_seqlen():
    qs, ks = [3, 2, 4, 8], [3, 2, 6, 8]
    m = att_model(qs, ks, ks, opset=24, nonpad=True)
    feed = att_feed(qs, ks, ks)
    feed["np"] = np.array([6, 2, 4], dtype=np.int64)
    check(m, feed)


def test_attention_opset24_short_mask_with_nonpad_reference():
    """attn_mask shorter than the total sequence is padded with -inf (opset 24's text).
    onnxruntime 1.32 rejects this shape, so the oracle is onnx.reference."""
    from onnx.reference import ReferenceEvaluator
    qs, ks, vs = [2, 3, 4, 8], [2, 3, 6, 8], [2, 3, 6, 10]
    m = att_model(qs, ks, vs, mask=(F, [2, 3, 4, 4]), opset=24, nonpad=True)
    feed = att_feed(qs, ks, vs, (F, [2, 3, 4, 4]))
    feed["np"] = np.array([3, 4], dtype=np.int64)
    expected = ReferenceEvaluator(m).run(None, feed)
    actual = run_ei(m, feed)
    assert_close(actual[0], expected[0], rtol=RTOL, atol=ATOL, what="Y")


def test_attention_errors():
    qs, ks = [2, 3, 4, 8], [2, 3, 6, 8]
    feed = att_feed(qs, ks, ks)
    expect_error(edgeinfer.InvalidModel, "3 query heads are not a multiple of 2",
                 att_model(qs, [2, 2, 6, 8], [2, 2, 6, 8]),
                 dict(feed, k=rand([2, 2, 6, 8]), v=rand([2, 2, 6, 8])))
    expect_error(edgeinfer.InvalidModel, "attribute 'q_num_heads' is required",
                 att_model([2, 4, 24], [2, 6, 24], [2, 6, 24]),
                 att_feed([2, 4, 24], [2, 6, 24], [2, 6, 24]))
    expect_error(edgeinfer.InvalidModel, "hidden size 24 is not a multiple of q_num_heads = 5",
                 att_model([2, 4, 24], [2, 6, 24], [2, 6, 24], q_num_heads=5, kv_num_heads=3),
                 att_feed([2, 4, 24], [2, 6, 24], [2, 6, 24]))
    mfeed = att_feed(qs, ks, ks, (F, [4, 7]))
    expect_error(edgeinfer.InvalidModel, "input 'm' (attn_mask) has shape [4,7]",
                 att_model(qs, ks, ks, mask=(F, [4, 7])), mfeed)
    mfeed = att_feed(qs, ks, ks, (F, [3, 6]))
    expect_error(edgeinfer.InvalidModel, "does not broadcast to [2,3,4,6]",
                 att_model(qs, ks, ks, mask=(F, [3, 6])), mfeed)
    expect_error(edgeinfer.InvalidModel, "'qk_matmul_output_mode' = 4",
                 att_model(qs, ks, ks, qk_matmul_output_mode=4), feed)
    ifeed = dict(feed, m=np.ones([4, 6], dtype=np.int32))
    expect_error(edgeinfer.Unsupported, "input 'm' (attn_mask) has dtype int32",
                 att_model(qs, ks, ks, mask=(TensorProto.INT32, [4, 6])), ifeed)
    pfeed = att_feed(qs, ks, ks, past=([2, 3, 2, 8], [2, 3, 3, 8]))
    expect_error(edgeinfer.InvalidModel, "'pk' (past_key) [2,3,2,8]",
                 att_model(qs, ks, ks, past=([2, 3, 2, 8], [2, 3, 3, 8])), pfeed)
    expect_error(edgeinfer.InvalidModel, "node 'att1' (Attention)",
                 att_model(qs, [2, 3, 6, 4], ks), dict(feed, k=rand([2, 3, 6, 4])))


# --------------------------------------------------------------------------- CausalConvWithState

def ccs_model(xs, k, bias=False, past=False, present=True, **attrs):
    b, c, _ = xs
    ins = ["x", "w", "b" if bias else "", "p" if past else ""]
    while ins and not ins[-1]:
        ins.pop()
    inputs = [("x", F, xs), ("w", F, [c, 1, k])]
    if bias:
        inputs.append(("b", F, [c]))
    if past:
        inputs.append(("p", F, [b, c, k - 1]))
    outs = ["y", "state"] if present else ["y", ""]
    node = helper.make_node("CausalConvWithState", ins, outs, name="ccs1", **attrs)
    return model23([node], inputs, [out(o, 3) for o in outs if o], opset=27)


def ccs_feed(xs, k, bias=False, past=False):
    b, c, _ = xs
    feed = {"x": rand(xs, 1, -2, 2), "w": rand([c, 1, k], 2)}
    if bias:
        feed["b"] = rand([c], 3)
    if past:
        feed["p"] = rand([b, c, k - 1], 4, -2, 2)
    return feed


@pytest.mark.parametrize("xs,k", [([2, 4, 8], 4), ([1, 3, 2], 4), ([2, 5, 1], 3), ([1, 1, 6], 1),
                                  ([3, 16, 33], 5)])
@pytest.mark.parametrize("bias,past", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("act", ["none", "silu", "swish"])
def test_causal_conv_with_state(xs, k, bias, past, act):
    m = ccs_model(xs, k, bias, past, activation=act)
    check(m, ccs_feed(xs, k, bias, past))


def test_causal_conv_with_state_threads_and_no_present():
    xs, k = [4, 64, 256], 4
    feed = ccs_feed(xs, k, True, True)
    expected = check(ccs_model(xs, k, True, True), feed, threads=4)
    # present_state is a required output in the schema (the checker rejects leaving it out),
    # but an engine must not crash on it: y must not change.
    y = run_ei(ccs_model(xs, k, True, True, present=False), feed)
    assert len(y) == 1
    assert_close(y[0], expected[0], rtol=0, atol=0, what="y")


def test_causal_conv_with_state_errors():
    xs, k = [2, 4, 8], 3
    feed = ccs_feed(xs, k, past=True)
    expect_error(edgeinfer.InvalidModel, "attribute 'activation' = 'relu'",
                 ccs_model(xs, k, activation="relu"), ccs_feed(xs, k))
    expect_error(edgeinfer.InvalidModel, "input 'p' (past_state) has shape [2,4,3]",
                 with_input_shape(ccs_model(xs, k, past=True), "p", [2, 4, 3]),
                 dict(feed, p=rand([2, 4, 3])))
    expect_error(edgeinfer.InvalidModel, "input 'w' (weight) has shape [3,1,3]",
                 with_input_shape(ccs_model(xs, k), "w", [3, 1, 3]),
                 dict(ccs_feed(xs, k), w=rand([3, 1, 3])))
    expect_error(edgeinfer.InvalidModel, "node 'ccs1' (CausalConvWithState)",
                 with_input_shape(ccs_model(xs, k), "x", [2, 4, 8, 1]),
                 dict(ccs_feed(xs, k), x=rand([2, 4, 8, 1])))


# --------------------------------------------------------------------------- LinearAttention

def la_model(b, t, hq, hkv, dk, dv, rule, past=False, decay_dim=False, beta_shared=False,
             present=True, **attrs):
    gating = rule in ("gated", "gated_delta")
    delta = rule in ("delta", "gated_delta")
    ins = ["q", "k", "v", "p" if past else "", "g" if gating else "", "bt" if delta else ""]
    while ins and not ins[-1]:
        ins.pop()
    inputs = [("q", F, [b, t, hq * dk]), ("k", F, [b, t, hkv * dk]), ("v", F, [b, t, hkv * dv])]
    if past:
        inputs.append(("p", F, [b, hkv, dk, dv]))
    if gating:
        inputs.append(("g", F, [b, t, hkv * dk if decay_dim else hkv]))
    if delta:
        inputs.append(("bt", F, [b, t, 1 if beta_shared else hkv]))
    outs = ["y", "state"] if present else ["y", ""]
    node = helper.make_node("LinearAttention", ins, outs, name="la1", q_num_heads=hq,
                            kv_num_heads=hkv, update_rule=rule, **attrs)
    return model23([node], inputs, [out("y", 3)] + ([out("state", 4)] if present else []),
                   opset=27)


def la_feed(model):
    feed = {}
    for i, vi in enumerate(model.graph.input):
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        x = rand(shape, 10 + i, -1, 1)
        if vi.name == "g":
            x = rand(shape, 10 + i, -0.5, 0.0)  # log-space decay <= 0
        if vi.name == "bt":
            x = rand(shape, 10 + i, 0.1, 0.9)
        feed[vi.name] = x
    return feed


def la_normalize_keys(feed, hkv):
    """Unit-norm keys per head (the spec asks for them in the delta rules; keeps them stable)."""
    k = feed["k"]
    b, t, hd = k.shape
    k4 = k.reshape(b, t, hkv, hd // hkv)
    feed["k"] = (k4 / np.linalg.norm(k4, axis=-1, keepdims=True)).reshape(b, t, hd).astype(np.float32)
    return feed


@pytest.mark.parametrize("rule", ["linear", "gated", "delta", "gated_delta"])
@pytest.mark.parametrize("b,t,hq,hkv,dk,dv", [(2, 4, 4, 4, 8, 8), (1, 1, 2, 2, 4, 6),
                                              (2, 5, 6, 2, 4, 3), (1, 7, 4, 1, 8, 8),
                                              (1, 40, 2, 2, 16, 16)])
@pytest.mark.parametrize("past", [False, True])
def test_linear_attention(rule, b, t, hq, hkv, dk, dv, past):
    m = la_model(b, t, hq, hkv, dk, dv, rule, past=past)
    check(m, la_normalize_keys(la_feed(m), hkv))


@pytest.mark.parametrize("rule,decay_dim,beta_shared,scale", [
    ("gated", True, False, 0.0), ("gated_delta", True, True, 0.0), ("gated_delta", False, True, 0.5),
    ("delta", False, True, 2.0), ("linear", False, False, 0.25)])
def test_linear_attention_variants(rule, decay_dim, beta_shared, scale):
    attrs = {"scale": scale} if scale else {}
    m = la_model(2, 6, 4, 2, 8, 4, rule, past=True, decay_dim=decay_dim, beta_shared=beta_shared,
                 **attrs)
    check(m, la_normalize_keys(la_feed(m), 2))


def test_linear_attention_threads_and_no_present():
    m = la_model(3, 9, 8, 4, 16, 8, "gated_delta", past=True)
    check(m, la_normalize_keys(la_feed(m), 4), threads=4)
    # present_state left out (schema-invalid, see above): the state lives in scratch instead.
    m = la_model(2, 3, 4, 2, 8, 8, "gated", past=True)
    feed = la_feed(m)
    expected = check(m, feed)
    y = run_ei(la_model(2, 3, 4, 2, 8, 8, "gated", past=True, present=False), feed)
    assert len(y) == 1
    assert_close(y[0], expected[0], rtol=0, atol=0, what="y")


def test_linear_attention_errors():
    m = la_model(1, 2, 4, 2, 8, 8, "linear")
    feed = la_feed(m)
    bad = la_model(1, 2, 4, 2, 8, 8, "gated")
    next(a for a in bad.graph.node[0].attribute if a.name == "update_rule").s = b"linear"
    expect_error(edgeinfer.InvalidModel, "update_rule 'linear' forbids input 'decay'",
                 bad, la_feed(bad))
    expect_error(edgeinfer.InvalidModel, "attribute 'update_rule' = 'mamba'",
                 la_model(1, 2, 4, 2, 8, 8, "mamba"), feed)
    bad = la_model(1, 2, 3, 2, 8, 8, "linear")
    expect_error(edgeinfer.InvalidModel, "'q_num_heads' = 3 and 'kv_num_heads' = 2",
                 bad, la_feed(bad))
    expect_error(edgeinfer.InvalidModel, "input 'p' (past_state) has shape [1,2,8,4]",
                 with_input_shape(la_model(1, 2, 4, 2, 8, 8, "linear", past=True), "p",
                                  [1, 2, 8, 4]),
                 dict(feed, p=rand([1, 2, 8, 4])))
    bad = la_model(1, 2, 4, 2, 8, 8, "gated_delta")
    f = la_feed(bad)
    f["bt"] = rand([1, 2, 3])
    expect_error(edgeinfer.InvalidModel, "input 'bt' (beta) has shape [1,2,3]",
                 with_input_shape(bad, "bt", [1, 2, 3]), f)
    expect_error(edgeinfer.InvalidModel, "node 'la1' (LinearAttention)",
                 with_input_shape(la_model(1, 2, 4, 2, 8, 8, "linear"), "k", [1, 2, 12]),
                 dict(feed, k=rand([1, 2, 12])))


# --------------------------------------------------------------------------- empty extents

def test_empty_extents():
    """Zero-sized dims (onnxruntime rejects most of these, so the expectations are written
    out from the definitions): no keys gives zero outputs; no queries or no batch gives
    empty outputs; no tokens leaves the recurrent/conv state as it was."""
    m = att_model([1, 2, 3, 4], [1, 2, 0, 4], [1, 2, 0, 4])
    (y,) = run_ei(m, att_feed([1, 2, 3, 4], [1, 2, 0, 4], [1, 2, 0, 4]))
    assert y.shape == (1, 2, 3, 4) and not y.any()
    for qs in ([1, 2, 0, 4], [0, 2, 3, 4]):
        ks = [qs[0], 2, 3, 4]
        (y,) = run_ei(att_model(qs, ks, ks), att_feed(qs, ks, ks))
        assert y.shape == tuple(qs)
    # head size 0: every score is 0, so the weights are uniform and Y is the mean of V
    feed = att_feed([1, 2, 3, 0], [1, 2, 5, 0], [1, 2, 5, 4])
    (y,) = run_ei(att_model([1, 2, 3, 0], [1, 2, 5, 0], [1, 2, 5, 4]), feed)
    assert_close(y, np.broadcast_to(feed["v"].mean(axis=2, keepdims=True), y.shape).copy(),
                 rtol=1e-6, atol=1e-6, what="Y")
    m = la_model(1, 0, 2, 2, 4, 4, "gated_delta", past=True)
    feed = la_feed(m)
    y, state = run_ei(m, feed)
    assert y.shape == (1, 0, 8)
    assert_close(state, feed["p"], rtol=0, atol=0, what="present_state")
    feed = ccs_feed([1, 2, 0], 3, past=True)
    y, state = run_ei(ccs_model([1, 2, 0], 3, past=True), feed)
    assert y.shape == (1, 2, 0)
    assert_close(state, feed["p"], rtol=0, atol=0, what="present_state")
