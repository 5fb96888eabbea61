/*
 * cum_prod.c - CumProd (opset 26) along the axis given by input 1 (known at reshape, else
 * read when the node runs); exclusive and reverse as in CumSum (ops/cum_sum.c, whose
 * [outer, len, inner] scan this mirrors). float32/float64 multiply in their own type;
 * int32/int64/uint32/uint64 wrap modulo 2^bits.
 */
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct cp_state {
    int64_t exclusive, reverse;
    size_t outer, len, inner;
} cp_state;

static ei_status cp_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    cp_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    EI_TRY(ei_node_attr_int(node, "exclusive", 0, &s->exclusive));
    EI_TRY(ei_node_attr_int(node, "reverse", 0, &s->reverse));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status cp_infer(ei_exec *ex, ei_node *node) {
    cp_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *av = ei_node_in(ex, node, 1);
    int64_t a[2];
    size_t n = 0;
    int axis;
    switch (x->dtype) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U32:
    case EI_DTYPE_U64: break;
    default:
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64, int32, int64, "
                             "uint32, uint64",
                             x->name, ei_dtype_name(x->dtype));
    }
    if (!ei_input_ready(ex, av)) { /* fed at run time: known when it runs */
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(ei_elem_read_ints(node, av, "axis", a, 2, &n));
    if (n != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (axis) must hold exactly one value", av->name);
    if (x->rank == 0 || !ei_elem_norm_axis(a[0], x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "axis %lld is out of range for input '%s' of rank %d", (long long)a[0],
                             x->name, x->rank);
    s->outer = s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= (size_t)x->dims[i];
        if (i > axis) s->inner *= (size_t)x->dims[i];
    }
    s->len = (size_t)x->dims[axis];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, x->dims);
}

/* Row r of the output (in scan order) = row r-1 of the output times row r (inclusive) or
 * row r-1 of the input (exclusive); the first row is the input row or ones. */
#define CP_IMPL(NAME, T, MUL)                                                                      \
    static void NAME(const cp_state *s, const T *x, T *y) {                                        \
        size_t in = s->inner, len = s->len;                                                        \
        for (size_t o = 0; o < s->outer; o++) {                                                    \
            const T *xo = x + o * len * in;                                                        \
            T *yo = y + o * len * in;                                                              \
            for (size_t k = 0; k < len; k++) {                                                     \
                size_t r = s->reverse ? len - 1 - k : k;                                           \
                size_t p = s->reverse ? r + 1 : r - 1; /* previous row in scan order */            \
                T *yr = yo + r * in;                                                               \
                if (k == 0) {                                                                      \
                    for (size_t j = 0; j < in; j++)                                                \
                        yr[j] = s->exclusive ? (T)1 : xo[r * in + j];                              \
                } else {                                                                           \
                    const T *prev = yo + p * in;                                                   \
                    const T *mul = s->exclusive ? xo + p * in : xo + r * in;                       \
                    for (size_t j = 0; j < in; j++)                                                \
                        yr[j] = MUL(T, prev[j], mul[j]);                                           \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

/* Integer products in unsigned arithmetic: wrap-around is defined there. */
#define CP_FMUL(T, a, b) ((a) * (b))
#define CP_IMUL32(T, a, b) ((T)((uint32_t)(a) * (uint32_t)(b)))
#define CP_IMUL64(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
CP_IMPL(cp_f32, float, CP_FMUL)
CP_IMPL(cp_f64, double, CP_FMUL)
CP_IMPL(cp_i32, int32_t, CP_IMUL32)
CP_IMPL(cp_i64, int64_t, CP_IMUL64)
CP_IMPL(cp_u32, uint32_t, CP_IMUL32)
CP_IMPL(cp_u64, uint64_t, CP_IMUL64)

static ei_status cp_run(ei_exec *ex, ei_node *node) {
    const cp_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    void *y = ei_node_out(ex, node, 0)->data;
    if (s->outer == 0 || s->len == 0 || s->inner == 0) return EI_STATUS_OK;
    switch (x->dtype) {
    case EI_DTYPE_F32: cp_f32(s, x->data, y); break;
    case EI_DTYPE_F64: cp_f64(s, x->data, y); break;
    case EI_DTYPE_I32: cp_i32(s, x->data, y); break;
    case EI_DTYPE_I64: cp_i64(s, x->data, y); break;
    case EI_DTYPE_U32: cp_u32(s, x->data, y); break;
    case EI_DTYPE_U64: cp_u64(s, x->data, y); break;
    default: break;
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_cum_prod = {cp_prepare, cp_infer, cp_run, free,
                                      .dtypes = "float32 float64 int32 int64 uint32 uint64"};
