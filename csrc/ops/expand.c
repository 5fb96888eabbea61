/*
 * expand.c - Expand: broadcasts the input to the shape input (NumPy rules both ways, so a
 * 1 in the shape keeps the input's dim), for any fixed-size dtype. A shape not known at
 * infer makes the node dynamic. The copy (strided_copy.c) drops size-1 dims and merges
 * neighbours, so each inner step copies a contiguous block or repeats one.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/broadcast.h"
#include "ops/elem_util.h"
#include "ops/strided_copy.h"

static ei_status expand_make_plan(const ei_exec *ex, const ei_node *node, ei_strided_op_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0), *sv = ei_node_in(ex, node, 1);
    int64_t shape[EI_MAX_RANK];
    size_t n_shape = 0;
    char b1[160], b2[160];
    EI_CHECK(ei_elem_read_ints(node, sv, "shape", shape, EI_MAX_RANK, &n_shape));
    for (size_t i = 0; i < n_shape; i++)
        if (shape[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' (shape) %s has a negative dim", sv->name,
                                 ei_shape_str((int)n_shape, shape, b1, sizeof b1));
    if (!ei_broadcast_shape(x->rank, x->dims, (int)n_shape, shape, &p->rank, p->dims))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s cannot be broadcast to input '%s' (shape) %s", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1), sv->name,
                             ei_shape_str((int)n_shape, shape, b2, sizeof b2));
    /* Source strides per output dim (0 where the input is broadcast). */
    const int r = p->rank, off = r - x->rank;
    size_t str[EI_MAX_RANK], acc = ei_dtype_size(x->dtype);
    for (int d = r - 1; d >= 0; d--) {
        int xd = d - off;
        if (xd >= 0 && x->dims[xd] != 1) {
            str[d] = acc;
            acc *= (size_t)x->dims[xd];
        } else {
            str[d] = 0;
        }
    }
    size_t od[EI_MAX_RANK];
    for (int d = 0; d < r; d++) od[d] = (size_t)p->dims[d];
    ei_strided_plan_collapse(&p->copy, r, od, str, ei_dtype_size(x->dtype));
    return EI_STATUS_OK;
}

static ei_status expand_infer(ei_exec *ex, ei_node *node) {
    return ei_strided_op_infer(ex, node, "shape", expand_make_plan);
}

static ei_status expand_run(ei_exec *ex, ei_node *node) {
    return ei_strided_op_run(ex, node, node->state, expand_make_plan);
}

const ei_op_fns ei_op_fns_expand = {ei_strided_op_prepare, expand_infer, expand_run, free,
                                    .dtypes = "any"};
