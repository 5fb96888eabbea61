/*
 * tile.c - Tile (opset 6+): repeats the input repeats[d] times along each dim, for any
 * fixed-size dtype. Repeats not known at infer make the node dynamic. The output is viewed
 * as [rep0, d0, rep1, d1, ...] read with strides [0, s0, 0, s1, ...]; the copy
 * (strided_copy.c) drops size-1 dims and merges neighbours, so inner steps copy
 * contiguous blocks.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/strided_copy.h"

static ei_status tile_make_plan(const ei_exec *ex, const ei_node *node, ei_strided_op_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0), *rv = ei_node_in(ex, node, 1);
    const int r = x->rank;
    int64_t rep[EI_MAX_RANK];
    size_t n_rep = 0;
    char b1[160], b2[160];
    EI_CHECK(ei_elem_read_ints(node, rv, "repeats", rep, EI_MAX_RANK, &n_rep));
    if (n_rep != (size_t)r)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (repeats) has %zu entries but input '%s' %s has rank %d",
                             rv->name, n_rep, x->name, ei_shape_str(r, x->dims, b1, sizeof b1), r);
    p->rank = r;
    for (int d = 0; d < r; d++) {
        if (rep[d] < 0 || __builtin_mul_overflow(x->dims[d], rep[d], &p->dims[d]))
            return ei_node_error(
                node, EI_STATUS_INVALID_ARGUMENT,
                "input '%s' (repeats) %s is negative or too large for input '%s' %s", rv->name,
                ei_shape_str(r, rep, b1, sizeof b1), x->name,
                ei_shape_str(r, x->dims, b2, sizeof b2));
    }
    /* Loop dims [rep0, d0, rep1, d1, ...] read with strides [0, s0, 0, s1, ...]. */
    size_t ld[EI_STRIDED_MAX_LOOP], ls[EI_STRIDED_MAX_LOOP], acc = ei_dtype_size(x->dtype);
    for (int d = r - 1; d >= 0; d--) {
        ld[2 * d] = (size_t)rep[d];
        ls[2 * d] = 0;
        ld[2 * d + 1] = (size_t)x->dims[d];
        ls[2 * d + 1] = acc;
        acc *= (size_t)x->dims[d];
    }
    ei_strided_plan_collapse(&p->copy, 2 * r, ld, ls, ei_dtype_size(x->dtype));
    return EI_STATUS_OK;
}

static ei_status tile_infer(ei_exec *ex, ei_node *node) {
    return ei_strided_op_infer(ex, node, "repeats", tile_make_plan);
}

static ei_status tile_run(ei_exec *ex, ei_node *node) {
    return ei_strided_op_run(ex, node, node->state, tile_make_plan);
}

const ei_op_fns ei_op_fns_tile = {ei_strided_op_prepare, tile_infer, tile_run, free,
                                  .dtypes = "any"};
