/*
 * hardmax.c - Hardmax on float32: 1 at the first maximum of each line, 0 elsewhere.
 * Opset < 13 coerces the input to 2-D at axis (default 1) and takes each flattened row
 * as a line; opset 13+ uses lines along one axis (default -1). A NaN counts as the
 * maximum (first NaN wins).
 */
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct hm_state {
    int64_t axis_attr;
    size_t outer, len, inner;
} hm_state;

static ei_status hm_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    hm_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", node->opset < 13 ? 1 : -1, &s->axis_attr));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status hm_infer(ei_exec *ex, ei_node *node) {
    hm_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    int axis;
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis_attr, x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis_attr, x->name, x->rank);
    s->outer = s->len = s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        size_t d = (size_t)x->dims[i];
        if (i < axis)
            s->outer *= d;
        else if (i == axis || node->opset < 13)
            s->len *= d;
        else
            s->inner *= d;
    }
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

static ei_status hm_run(ei_exec *ex, ei_node *node) {
    const hm_state *s = node->state;
    const float *x = ei_node_in(ex, node, 0)->data;
    float *y = ei_node_out(ex, node, 0)->data;
    if (s->len == 0) return EI_STATUS_OK;
    for (size_t o = 0; o < s->outer; o++) {
        for (size_t j = 0; j < s->inner; j++) {
            size_t base = o * s->len * s->inner + j, best = 0;
            float m = x[base];
            for (size_t i = 0; i < s->len; i++) {
                float v = x[base + i * s->inner];
                if (m != m) break;
                if (v > m || v != v) {
                    m = v;
                    best = i;
                }
            }
            for (size_t i = 0; i < s->len; i++)
                y[base + i * s->inner] = 0.0f;
            y[base + best * s->inner] = 1.0f;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_hardmax = {hm_prepare, hm_infer, hm_run, free};
