/*
 * flatten.c - Flatten: reshapes the input to 2-D [prod(dims[:axis]), prod(dims[axis:])]
 * and copies the bytes (any fixed-size dtype). axis in [0, rank], negative from opset 11.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct flatten_state {
    int64_t axis;
} flatten_state;

static ei_status flatten_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    flatten_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", 1, &s->axis));
    if (s->axis < 0 && node->opset < 11) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'axis' = %lld must be >= 0 before opset 11",
                           (long long)s->axis);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status flatten_infer(ei_exec *ex, ei_node *node) {
    const flatten_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    int64_t a = s->axis, dims[2] = {1, 1};
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (a < -(int64_t)x->rank || a > (int64_t)x->rank)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)a, x->name, x->rank);
    if (a < 0) a += x->rank;
    /* Both factors divide numel, which the input's shape already bounds. */
    for (int i = 0; i < x->rank; i++)
        dims[i < a ? 0 : 1] *= x->dims[i];
    return ei_elem_set_out(node, y, x->dtype, 2, dims);
}

static ei_status flatten_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_flatten = {flatten_prepare, flatten_infer, flatten_run, free,
                                     .dtypes = "any"};
