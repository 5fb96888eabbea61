/*
 * unsqueeze.c - Unsqueeze: inserts size-1 dims at the listed axes of the output.
 * Axes come from an attribute before opset 13 and from a required input from 13 on,
 * known at infer (planned) or fed at run time (the node is then dynamic and run
 * sizes its output). run copies the bytes (any dtype).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/squeeze_axes.h"

static ei_status unsqueeze_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_squeeze_state *s = NULL;
    const int64_t *axes = NULL;
    size_t n = 0;
    EI_TRY(ei_elem_check_io(node, node->opset < 13 ? 1 : 2, node->opset < 13 ? 1 : 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset < 13) {
        EI_TRY(ei_node_attr_ints(node, "axes", &axes, &n));
        if (!axes) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'axes' is required");
            goto cleanup;
        }
        if (n > EI_MAX_RANK) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'axes' has %zu entries, more than %d", n, EI_MAX_RANK);
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
static ei_status unsqueeze_resolve(const ei_node *node, const ei_squeeze_state *s,
                                   const ei_value *x, const ei_value *av, int *rank_out,
                                   int64_t *dims) {
    int64_t axes[EI_MAX_RANK];
    bool ins[EI_MAX_RANK] = {false};
    size_t n_axes;
    EI_CHECK(ei_squeeze_read_axes(node, s, x, av, axes, &n_axes));
    int r = x->rank + (int)n_axes;
    if (r > EI_MAX_RANK)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "output would have rank %d > %d", r,
                             EI_MAX_RANK);
    for (size_t i = 0; i < n_axes; i++) {
        int a;
        if (!ei_elem_norm_axis(axes[i], r, &a))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "axis %lld is out of range for output rank %d", (long long)axes[i],
                                 r);
        if (ins[a])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                 (long long)axes[i]);
        ins[a] = true;
    }
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = ins[i] ? 1 : x->dims[k++];
    *rank_out = r;
    return EI_STATUS_OK;
}

static ei_status unsqueeze_infer(ei_exec *ex, ei_node *node) {
    return ei_squeeze_infer(ex, node, unsqueeze_resolve);
}

static ei_status unsqueeze_run(ei_exec *ex, ei_node *node) {
    return ei_squeeze_run(ex, node, unsqueeze_resolve);
}

const ei_op_fns ei_op_fns_unsqueeze = {unsqueeze_prepare, unsqueeze_infer, unsqueeze_run, free,
                                       .dtypes = "any"};
