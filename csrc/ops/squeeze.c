/*
 * squeeze.c - Squeeze: removes size-1 dims, the listed axes or (no axes) all of them.
 * Axes come from an attribute before opset 13 and from an optional input from 13 on,
 * known at infer (planned) or fed at run time (the node is then dynamic and run
 * sizes its output). run copies the bytes (any dtype).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/squeeze_axes.h"

static ei_status squeeze_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_squeeze_state *s = NULL;
    const int64_t *axes = NULL;
    size_t n = 0;
    EI_TRY(ei_elem_check_io(node, 1, node->opset < 13 ? 1 : 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset < 13) {
        EI_TRY(ei_node_attr_ints(node, "axes", &axes, &n));
        if (n > EI_MAX_RANK) {
            st =
                ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'axes' has %zu entries", n);
            goto cleanup;
        }
        if (n) memcpy(s->axes, axes, n * sizeof *axes);
        s->n_axes = n;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* The output shape for input x and the axes (attribute, or input av: absent or known). */
static ei_status squeeze_resolve(const ei_node *node, const ei_squeeze_state *s,
                                 const ei_value *x, const ei_value *av, int *rank_out,
                                 int64_t *dims) {
    int64_t axes[EI_MAX_RANK];
    bool drop[EI_MAX_RANK] = {false};
    char buf[160];
    size_t n_axes;
    EI_CHECK(ei_squeeze_read_axes(node, s, x, av, axes, &n_axes));
    for (size_t i = 0; i < n_axes; i++) {
        int a;
        if (!ei_elem_norm_axis(axes[i], x->rank, &a))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "axis %lld is out of range for input '%s' of rank %d",
                                 (long long)axes[i], x->name, x->rank);
        if (drop[a])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                 (long long)axes[i]);
        if (x->dims[a] != 1)
            return ei_node_error(
                node, EI_STATUS_INVALID_ARGUMENT,
                "cannot squeeze axis %lld of input '%s' %s: its size is %lld, not 1",
                (long long)axes[i], x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                (long long)x->dims[a]);
        drop[a] = true;
    }
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (n_axes == 0 ? x->dims[i] == 1 : drop[i]) continue;
        dims[r++] = x->dims[i];
    }
    *rank_out = r;
    return EI_STATUS_OK;
}

static ei_status squeeze_infer(ei_exec *ex, ei_node *node) {
    return ei_squeeze_infer(ex, node, squeeze_resolve);
}

static ei_status squeeze_run(ei_exec *ex, ei_node *node) {
    return ei_squeeze_run(ex, node, squeeze_resolve);
}

const ei_op_fns ei_op_fns_squeeze = {squeeze_prepare, squeeze_infer, squeeze_run, free,
                                     .dtypes = "any"};
