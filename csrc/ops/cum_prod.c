/*
 * cum_prod.c - CumProd (opset 26) along the axis given by input 1 (known at reshape, else
 * read when the node runs); exclusive and reverse as in CumSum, sharing its axis handling
 * and scan (ops/cum_common.h). float32/float64 multiply in their own type;
 * int32/int64/uint32/uint64 wrap modulo 2^bits.
 */
#include "ops/cum_common.h"

static ei_status cp_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_cum_prepare(node);
}

static ei_status cp_infer(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
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
    return ei_cum_infer_axis(ex, node, 2);
}

/* Integer products in unsigned arithmetic: wrap-around is defined there. */
#define CP_FMUL(T, a, b) ((a) * (b))
#define CP_IMUL32(T, a, b) ((T)((uint32_t)(a) * (uint32_t)(b)))
#define CP_IMUL64(T, a, b) ((T)((uint64_t)(a) * (uint64_t)(b)))
EI_CUM_SCAN(cp_f32, float, 1, CP_FMUL)
EI_CUM_SCAN(cp_f64, double, 1, CP_FMUL)
EI_CUM_SCAN(cp_i32, int32_t, 1, CP_IMUL32)
EI_CUM_SCAN(cp_i64, int64_t, 1, CP_IMUL64)
EI_CUM_SCAN(cp_u32, uint32_t, 1, CP_IMUL32)
EI_CUM_SCAN(cp_u64, uint64_t, 1, CP_IMUL64)

static ei_status cp_run(ei_exec *ex, ei_node *node) {
    const ei_cum_state *s = node->state;
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
