/*
 * softmax_axis.h - the axis handling that Softmax, LogSoftmax and Hardmax share: the
 * `axis` attribute (default 1 before opset 13, -1 from 13), float32 input only, and the
 * view of the input as [outer, len, inner] lines: before opset 13 coerced to 2-D at axis
 * (inner = 1), from 13 along the one axis. Each op computes its own lines.
 */
#ifndef EI_OPS_SOFTMAX_AXIS_H
#define EI_OPS_SOFTMAX_AXIS_H

#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct ei_softmax_axis {
    int64_t axis_attr;
    size_t outer, len, inner; /* from the last infer: [outer, len, inner], lines along len */
} ei_softmax_axis;

/* Prepare: one input, one output; reads `axis` into an ei_softmax_axis state. */
static inline ei_status ei_softmax_axis_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_softmax_axis *s = NULL;
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

/* Infer: checks dtype and axis, sets outer/len/inner and the output (x's shape). */
static inline ei_status ei_softmax_axis_infer(ei_exec *ex, ei_node *node) {
    ei_softmax_axis *s = node->state;
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

#endif
