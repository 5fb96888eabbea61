/*
 * is_nan.c - IsNaN and IsInf (detect_positive / detect_negative attributes) on float32 and
 * float64 (C comparisons, exact) and float16 (on the bits), bool output. bfloat16 inputs
 * are UNSUPPORTED.
 */
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct isx_state {
    bool inf;         /* IsInf (else IsNaN) */
    int64_t pos, neg; /* IsInf's detect_positive / detect_negative */
} isx_state;

static ei_status isx_prepare_kind(ei_node *node, bool inf) {
    ei_status st = EI_STATUS_OK;
    isx_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->inf = inf;
    if (inf) {
        EI_TRY(ei_node_attr_int(node, "detect_positive", 1, &s->pos));
        EI_TRY(ei_node_attr_int(node, "detect_negative", 1, &s->neg));
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status is_nan_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return isx_prepare_kind(node, false);
}
static ei_status is_inf_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return isx_prepare_kind(node, true);
}

static ei_status isx_infer(ei_exec *ex, ei_node *node) {
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64 && x->dtype != EI_DTYPE_F16)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64 and float16",
                             x->name, ei_dtype_name(x->dtype));
    return ei_elem_set_out(node, y, EI_DTYPE_BOOL, x->rank, x->dims);
}

#define ISX_LOOP(T, BIG)                                                                           \
    do {                                                                                           \
        const T *p = x->data;                                                                      \
        for (size_t i = 0; i < n; i++) {                                                           \
            T v = p[i];                                                                            \
            y[i] = s->inf ? ((s->pos && v > BIG) || (s->neg && v < -BIG)) : v != v;                \
        }                                                                                          \
    } while (0)

static ei_status isx_run(ei_exec *ex, ei_node *node) {
    const isx_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    uint8_t *y = ei_node_out(ex, node, 0)->data;
    size_t n = ei_value_numel(x);
    if (x->dtype == EI_DTYPE_F16) {
        const uint16_t *p = x->data;
        for (size_t i = 0; i < n; i++) {
            unsigned mag = p[i] & 0x7fffu;
            bool neg = (p[i] & 0x8000u) != 0;
            y[i] = s->inf ? mag == 0x7c00u && (neg ? s->neg : s->pos) : mag > 0x7c00u;
        }
    } else if (x->dtype == EI_DTYPE_F32)
        ISX_LOOP(float, 3.40282346638528859812e+38F);
    else
        ISX_LOOP(double, 1.79769313486231570815e+308);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_is_nan = {is_nan_prepare, isx_infer, isx_run, free,
                                    .dtypes = "float32 float64 float16"};
const ei_op_fns ei_op_fns_is_inf = {is_inf_prepare, isx_infer, isx_run, free,
                                    .dtypes = "float32 float64 float16"};
