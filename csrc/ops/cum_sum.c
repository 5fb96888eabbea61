/*
 * cum_sum.c - CumSum (opsets 11, 14) along the axis given by input 1 (known at reshape,
 * else read just before the node runs); exclusive and reverse attributes. float32/float64 accumulate in
 * their own type; int32/int64 wrap. Axis handling and the scan are shared with CumProd
 * (ops/cum_common.h); long float32 rows go through the f32_vadd kernel.
 */
#include <string.h>

#include "kernels/kernels.h"
#include "ops/cum_common.h"

static ei_status cs_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_cum_prepare(node);
}

static ei_status cs_infer(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64 && x->dtype != EI_DTYPE_I32 &&
        x->dtype != EI_DTYPE_I64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64, int32, int64",
                             x->name, ei_dtype_name(x->dtype));
    return ei_cum_infer_axis(ex, node, 1);
}

#define CS_FADD(T, a, b) ((a) + (b))
#define CS_IADD32(T, a, b) ((T)((uint32_t)(a) + (uint32_t)(b)))
#define CS_IADD64(T, a, b) ((T)((uint64_t)(a) + (uint64_t)(b)))
EI_CUM_SCAN(cs_f32, float, 0, CS_FADD)
EI_CUM_SCAN(cs_f64, double, 0, CS_FADD)
EI_CUM_SCAN(cs_i32, int32_t, 0, CS_IADD32)
EI_CUM_SCAN(cs_i64, int64_t, 0, CS_IADD64)

/* float32 with long inner rows: the same recurrence, a row at a time through f32_vadd. */
static void cs_f32_rows(const ei_cum_state *s, const ei_kernel_table *k, const float *x, float *y) {
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
    const ei_cum_state *s = node->state;
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
