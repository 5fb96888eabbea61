/*
 * squeeze.c - Squeeze: removes size-1 dims, the listed axes or (no axes) all of them.
 * Axes come from an attribute before opset 13 and from an optional input from 13 on,
 * known at infer (planned) or fed at run time (the node is then dynamic and run
 * sizes its output). run copies the bytes (any dtype).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct squeeze_state {
    int64_t axes[EI_MAX_RANK];
    size_t n_axes; /* attribute (opset < 13) */
} squeeze_state;

static ei_status squeeze_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    squeeze_state *s = NULL;
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
static ei_status squeeze_resolve(const ei_node *node, const squeeze_state *s, const ei_value *x,
                                 const ei_value *av, int *rank_out, int64_t *dims) {
    int64_t axes[EI_MAX_RANK];
    size_t n_axes = s->n_axes;
    bool drop[EI_MAX_RANK] = {false};
    char buf[160];
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (node->opset < 13) {
        memcpy(axes, s->axes, sizeof axes);
    } else if (av) {
        if (av->dtype != EI_DTYPE_I64)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (axes) must be int64, got %s", av->name,
                                 ei_dtype_name(av->dtype));
        EI_CHECK(ei_elem_read_ints(node, av, "axes", axes, EI_MAX_RANK, &n_axes));
    }
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
    const ei_value *x = ei_node_in(ex, node, 0), *av = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    int r = 0;
    if (node->opset >= 13 && av && !ei_value_known(av) && ei_value_numel(av) > 0) {
        if (ei_dtype_size(x->dtype) == 0)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                                 x->name, ei_dtype_name(x->dtype));
        if (av->dtype != EI_DTYPE_I64 || av->rank > 1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (axes) must be a 1-D int64 tensor, got %s of rank %d",
                                 av->name, ei_dtype_name(av->dtype), av->rank);
        node->dynamic = true; /* axes are data fed at run time: resolved in run */
        return EI_STATUS_OK;
    }
    EI_CHECK(squeeze_resolve(node, node->state, x, av, &r, dims));
    return ei_elem_set_out(node, y, x->dtype, r, dims);
}

static ei_status squeeze_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (node->dynamic) {
        int64_t dims[EI_MAX_RANK];
        int r = 0;
        EI_CHECK(squeeze_resolve(node, node->state, x, ei_node_in(ex, node, 1), &r, dims));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, r, dims));
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_squeeze = {squeeze_prepare, squeeze_infer, squeeze_run, free};
