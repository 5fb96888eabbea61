/*
 * lp_normalization.c - LpNormalization on float32: x / ||x||_p along one axis, p = 1 or
 * 2 (default axis -1, p 2). A line whose norm is 0 gives zeros, as onnxruntime does.
 * The input is viewed as [outer, len, inner]; the norm is accumulated per inner column.
 */
#include <math.h>
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct lp_state {
    int64_t axis, p;
    size_t outer, len, inner;
} lp_state;

static ei_status lp_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    lp_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    EI_TRY(ei_node_attr_int(node, "axis", -1, &s->axis));
    EI_TRY(ei_node_attr_int(node, "p", 2, &s->p));
    if (s->p != 1 && s->p != 2) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'p' = %lld must be 1 or 2",
                           (long long)s->p);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status lp_infer(ei_exec *ex, ei_node *node) {
    lp_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0);
    int axis;
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis, x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis, x->name, x->rank);
    s->outer = s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= (size_t)x->dims[i];
        if (i > axis) s->inner *= (size_t)x->dims[i];
    }
    s->len = (size_t)x->dims[axis];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims);
}

static ei_status lp_run(ei_exec *ex, ei_node *node) {
    const lp_state *s = node->state;
    const float *x = ei_node_in(ex, node, 0)->data;
    float *y = ei_node_out(ex, node, 0)->data;
    size_t in = s->inner;
    for (size_t o = 0; o < s->outer; o++) {
        for (size_t j = 0; j < in; j++) {
            const float *xl = x + o * s->len * in + j;
            float *yl = y + o * s->len * in + j;
            float acc = 0.0f;
            for (size_t i = 0; i < s->len; i++)
                acc += s->p == 1 ? fabsf(xl[i * in]) : xl[i * in] * xl[i * in];
            float norm = s->p == 1 ? acc : sqrtf(acc);
            for (size_t i = 0; i < s->len; i++)
                yl[i * in] = norm != 0.0f ? xl[i * in] / norm : 0.0f;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_lp_normalization = {lp_prepare, lp_infer, lp_run, free,
                                              .dtypes = "float32"};
