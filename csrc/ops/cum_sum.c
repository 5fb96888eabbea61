/*
 * cum_sum.c - CumSum (opsets 11, 14) along the axis given by input 1, which must be
 * known at reshape; exclusive and reverse attributes. float32/float64 accumulate in
 * their own type; int32/int64 wrap. The input is viewed as [outer, len, inner] and each
 * step adds a contiguous inner row, so the loop stays contiguous for any axis.
 */
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct cs_state {
    int64_t exclusive, reverse;
    size_t outer, len, inner;
} cs_state;

static ei_status cs_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    cs_state *s = calloc(1, sizeof *s);
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

static ei_status cs_infer(ei_exec *ex, ei_node *node) {
    cs_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *av = ei_node_in(ex, node, 1);
    int64_t a;
    size_t n = 0;
    int axis;
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64 && x->dtype != EI_DTYPE_I32 &&
        x->dtype != EI_DTYPE_I64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64, int32, int64",
                             x->name, ei_dtype_name(x->dtype));
    if (!ei_input_ready(ex, av)) { /* fed at run time: known when it runs */
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(ei_elem_read_ints(node, av, "axis", &a, 1, &n));
    if (n != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (axis) must hold exactly one value", av->name);
    if (x->rank == 0 || !ei_elem_norm_axis(a, x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "axis %lld is out of range for input '%s' of rank %d", (long long)a,
                             x->name, x->rank);
    s->outer = s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= (size_t)x->dims[i];
        if (i > axis) s->inner *= (size_t)x->dims[i];
    }
    s->len = (size_t)x->dims[axis];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, x->dims);
}

/* Row r of the output (in scan order) = row r-1 of the output + row r (inclusive) or
 * row r-1 of the input (exclusive); the first row is the input row or zeros. */
#define CS_IMPL(NAME, T, ADD)                                                                      \
    static void NAME(const cs_state *s, const T *x, T *y) {                                        \
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
                        yr[j] = s->exclusive ? (T)0 : xo[r * in + j];                              \
                } else {                                                                           \
                    const T *prev = yo + p * in;                                                   \
                    const T *add = s->exclusive ? xo + p * in : xo + r * in;                       \
                    for (size_t j = 0; j < in; j++)                                                \
                        yr[j] = ADD(T, prev[j], add[j]);                                           \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#define CS_FADD(T, a, b) ((a) + (b))
#define CS_IADD32(T, a, b) ((T)((uint32_t)(a) + (uint32_t)(b)))
#define CS_IADD64(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
CS_IMPL(cs_f32, float, CS_FADD)
CS_IMPL(cs_f64, double, CS_FADD)
CS_IMPL(cs_i32, int32_t, CS_IADD32)
CS_IMPL(cs_i64, int64_t, CS_IADD64)

/* float32 with long inner rows: the same recurrence, a row at a time through f32_vadd. */
static void cs_f32_rows(const cs_state *s, const ei_kernel_table *k, const float *x, float *y) {
    size_t in = s->inner, len = s->len;
    for (size_t o = 0; o < s->outer; o++) {
        const float *xo = x + o * len * in;
        float *yo = y + o * len * in;
        for (size_t step = 0; step < len; step++) {
            size_t r = s->reverse ? len - 1 - step : step;
            size_t p = s->reverse ? r + 1 : r - 1;
            float *yr = yo + r * in;
            if (step == 0) {
                if (s->exclusive)
                    memset(yr, 0, in * sizeof *yr);
                else
                    memcpy(yr, xo + r * in, in * sizeof *yr);
            } else {
                k->f32_vadd(in, yo + p * in, s->exclusive ? xo + p * in : xo + r * in, yr);
            }
        }
    }
}

static ei_status cs_run(ei_exec *ex, ei_node *node) {
    const cs_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    void *y = ei_node_out(ex, node, 0)->data;
    if (s->outer == 0 || s->len == 0 || s->inner == 0) return EI_STATUS_OK;
    switch (x->dtype) {
    case EI_DTYPE_F32:
        if (s->inner >= 16)
            cs_f32_rows(s, ei_kernels(), x->data, y);
        else
            cs_f32(s, x->data, y);
        break;
    case EI_DTYPE_F64: cs_f64(s, x->data, y); break;
    case EI_DTYPE_I32: cs_i32(s, x->data, y); break;
    case EI_DTYPE_I64: cs_i64(s, x->data, y); break;
    default: break;
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_cum_sum = {cs_prepare, cs_infer, cs_run, free,
                                     .dtypes = "float32 float64 int32 int64"};
