"""Einsum (opset 12) against onnxruntime, plus malformed equations.

Tolerance: float32 contractions are sums of products whose order differs between engines
(onnxruntime transposes and calls its GEMM, we use ours or a plain loop), so 1e-5 relative
to the output's magnitude (default of ortcheck) plus rtol 1e-5; the longest sums here have
a few dozen terms. int32/int64 results are exact; float64 (accumulated in double) meets
the same bound easily.
"""
import numpy as np
import pytest

import edgeinfer
from ortcheck import assert_close, helper, make_model, run_ort

RNG = np.random.default_rng(97531)


def _tt(dtype):
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def data(shape, dtype=np.float32):
    if np.dtype(dtype).kind == "f":
        return RNG.standard_normal(size=shape).astype(dtype)
    return RNG.integers(-5, 6, size=shape).astype(dtype)


def einsum_model(eq, arrays):
    names = [f"x{i}" for i in range(len(arrays))]
    node = helper.make_node("Einsum", names, ["y"], equation=eq)
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in zip(names, arrays)]
    expected = np.einsum(eq, *arrays)
    out = [("y", _tt(arrays[0].dtype), list(np.shape(expected)))]
    return make_model([node], inputs, out, opset=12), dict(zip(names, arrays))


def check(eq, *arrays, **kw):
    model, feed = einsum_model(eq, list(arrays))
    expected = run_ort(model, feed)[0]
    actual = edgeinfer.InferenceSession(model.SerializeToString(), **kw).run(None, feed)[0]
    assert_close(actual, expected, rtol=1e-5, atol=1e-5, what=eq)
    return actual


CASES = [
    ("ij,jk->ik", [(5, 6), (6, 7)]),                 # matmul (GEMM path: m*n*k >= 64)
    ("ij,jk->ik", [(3, 4), (4, 5)]),                 # small: loop path
    ("ij,jk", [(3, 4), (4, 5)]),                     # implicit output
    ("bij,bjk->bik", [(2, 5, 6), (2, 6, 7)]),        # batched matmul
    ("bij,bkj->bik", [(2, 5, 6), (2, 7, 6)]),        # B read transposed by the GEMM
    ("bji,bjk->bik", [(2, 6, 5), (2, 6, 7)]),        # A read transposed
    ("bjk,bij->bki", [(2, 6, 7), (2, 5, 6)]),        # both transposed, output permuted
    ("bhqd,bhkd->bhqk", [(2, 3, 5, 8), (2, 3, 6, 8)]),  # attention scores
    ("bhqk,bhkd->bqhd", [(2, 3, 5, 6), (2, 3, 6, 8)]),  # attention output, heads moved
    ("ijb,jkb->bki", [(5, 6, 2), (6, 7, 2)]),        # batch last, output permuted
    ("ij->ji", [(3, 4)]),                            # transpose
    ("ijk->kij", [(2, 3, 4)]),
    ("ii->", [(4, 4)]),                              # trace
    ("ii", [(5, 5)]),
    ("ii->i", [(4, 4)]),                             # diagonal
    ("bii->bi", [(3, 4, 4)]),                        # batch diagonal
    ("...ii->...i", [(2, 3, 4, 4)]),
    ("i,j->ij", [(3,), (4,)]),                       # outer product
    ("i,j->ji", [(10,), (12,)]),                     # outer product through GEMM (k = 1)
    ("i,i->", [(6,), (6,)]),                         # inner product
    ("i,i", [(6,), (6,)]),
    ("ij->i", [(3, 4)]),                             # sum over an axis
    ("ijk->", [(2, 3, 4)]),
    ("ijk->j", [(2, 3, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (2, 3, 5, 6)]),   # ellipsis batch
    ("...ij,...jk->...ik", [(2, 1, 4, 5), (1, 3, 5, 2)]),   # ellipsis broadcasting
    ("...ij,jk", [(2, 3, 4), (4, 5)]),
    ("i...->...", [(3, 2, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),          # bilinear form (3 operands)
    ("i,ij,j->", [(3,), (3, 4), (4,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),                          # Hadamard
    ("ij,kj->ikj", [(3, 4), (2, 4)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("abcd,dcef->abef", [(2, 3, 4, 5), (5, 4, 2, 3)]),       # two contracted labels
    ("ab,bc->ca", [(33, 17), (17, 29)]),
    ("ij,jk->ik", [(0, 4), (4, 5)]),                          # empty
    ("ij,jk->ik", [(3, 0), (0, 5)]),                          # empty contraction: zeros
    ("Ab,bC->AC", [(3, 4), (4, 2)]),                          # upper-case labels
    ("bA,Ab", [(3, 4), (4, 3)]),
    ("ij,jk->ki", [(64, 48), (48, 40)]),                      # big enough for threads
    ("i j , j k -> i k", [(2, 3), (3, 4)]),                   # spaces
    (",->", [(), ()]),                                        # scalars
]


@pytest.mark.parametrize("eq,shapes", CASES, ids=[c[0] for c in CASES])
def test_einsum_float(eq, shapes):
    check(eq, *[data(s) for s in shapes])


INT_CASES = ["ij,jk->ik", "bij,bjk->bik", "ii->", "ii->i", "i,j->ij", "ij->i", "...ij,...jk->...ik",
             "bn,anm,bm->ba"]


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float64])
@pytest.mark.parametrize("eq", INT_CASES)
def test_einsum_int(eq, dtype):
    shapes = dict(CASES)[eq] if eq in dict(CASES) else None
    check(eq, *[data(s, dtype) for s in shapes])


def test_einsum_threads():
    so = edgeinfer.SessionOptions()
    so.intra_op_num_threads = 3
    check("bij,bjk->bik", data((4, 40, 30)), data((4, 30, 50)), sess_options=so)
    check("ii->i", data((300, 300)), sess_options=so)


@pytest.mark.parametrize("eq,shapes,exc,frag", [
    ("ij,jk->ik", [(3, 4), (5, 6)], edgeinfer.InvalidArgument, "does not match"),
    ("ij->ij", [(3, 4, 5)], edgeinfer.InvalidArgument, "rank 3"),
    ("ij,jk", [(3, 4)], edgeinfer.InvalidModel, "more terms than"),
    ("ij", [(3, 4), (4, 5)], edgeinfer.InvalidModel, "fewer terms than"),
    ("ij->iz", [(3, 4)], edgeinfer.InvalidModel, "'z' is not in any input"),
    ("ij->ii", [(3, 4)], edgeinfer.InvalidModel, "'i' is repeated"),
    ("i1->i", [(3, 4)], edgeinfer.InvalidModel, "invalid character '1'"),
    ("i..j->ij", [(3, 4)], edgeinfer.InvalidModel, "'...'"),
    ("...i...->i", [(3, 4)], edgeinfer.InvalidModel, "'...'"),
    ("ij->i->j", [(3, 4)], edgeinfer.InvalidModel, "more than one '->'"),
    ("...ij,...jk->...ik", [(2, 3, 4), (5, 4, 2)], edgeinfer.InvalidArgument, "does not match"),
])
def test_einsum_errors(eq, shapes, exc, frag):
    arrays = [data(s) for s in shapes]
    names = [f"x{i}" for i in range(len(arrays))]
    node = helper.make_node("Einsum", names, ["y"], equation=eq, name="es")
    inputs = [(n, _tt(a.dtype), list(a.shape)) for n, a in zip(names, arrays)]
    model = make_model([node], inputs, [helper.make_tensor_value_info("y", 1, None)], opset=12)
    with pytest.raises(exc) as info:
        sess = edgeinfer.InferenceSession(model.SerializeToString())
        sess.run(None, dict(zip(names, arrays)))
    assert frag in str(info.value) and "es" in str(info.value), str(info.value)


def test_einsum_unsupported_dtype():
    x = data((2, 3), np.float16)
    node = helper.make_node("Einsum", ["x0"], ["y"], equation="ij->ji", name="es")
    model = make_model([node], [("x0", _tt(np.float16), [2, 3])], [("y", _tt(np.float16), [3, 2])], opset=12)
    with pytest.raises(edgeinfer.Unsupported, match="'x0' has dtype"):
        edgeinfer.InferenceSession(model.SerializeToString()).run(None, {"x0": x})


def _random_equations(n=60, seed=5):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        sizes = {c: int(rng.integers(1, 12)) for c in "abcde"}
        terms = ["".join(rng.choice(list("abcde"), size=int(rng.integers(1, 5)))) for _ in range(int(rng.integers(1, 4)))]
        used = sorted(set("".join(terms)))
        if rng.random() < 0.3:
            eq = ",".join(terms)
        else:
            outl = [c for c in used if rng.random() < 0.5]
            rng.shuffle(outl)
            eq = ",".join(terms) + "->" + "".join(outl)
        out.append((eq, [tuple(sizes[c] for c in t) for t in terms]))
    return out


@pytest.mark.parametrize("case", range(60))
def test_einsum_random(case):
    # Seeded random equations with 1-3 operands, repeated labels, sums and permutations; both the
    # GEMM and the loop paths get chosen by the sizes drawn.
    eq, shapes = _random_equations()[case]
    check(eq, *[data(s) for s in shapes])
