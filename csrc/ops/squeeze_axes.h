/*
 * squeeze_axes.h - what Squeeze and Unsqueeze share: the axes attribute (opset < 13) or
 * input (13+), reading them, and infer/run around an op-specific shape function (the node
 * is dynamic when the axes input is fed at run). Both copy the bytes unchanged.
 */
#ifndef EI_OPS_SQUEEZE_AXES_H
#define EI_OPS_SQUEEZE_AXES_H

#include <string.h>

#include "ops/elem_util.h"

typedef struct ei_squeeze_state {
    int64_t axes[EI_MAX_RANK];
    size_t n_axes; /* attribute (opset < 13) */
} ei_squeeze_state;

/* Output shape of input x given the axes input av (absent or known). */
typedef ei_status (*ei_squeeze_shape_fn)(const ei_node *node, const ei_squeeze_state *s,
                                         const ei_value *x, const ei_value *av, int *rank_out,
                                         int64_t *dims);

/* Checks x's dtype and reads the axes: the attribute before opset 13, else input av when
 * present (else leaves *n_axes = s->n_axes, 0). */
static inline ei_status ei_squeeze_read_axes(const ei_node *node, const ei_squeeze_state *s,
                                             const ei_value *x, const ei_value *av, int64_t *axes,
                                             size_t *n_axes) {
    *n_axes = s->n_axes;
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (node->opset < 13) {
        memcpy(axes, s->axes, sizeof s->axes);
    } else if (av) {
        if (av->dtype != EI_DTYPE_I64)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (axes) must be int64, got %s", av->name,
                                 ei_dtype_name(av->dtype));
        EI_CHECK(ei_elem_read_ints(node, av, "axes", axes, EI_MAX_RANK, n_axes));
    }
    return EI_STATUS_OK;
}

static inline ei_status ei_squeeze_infer(ei_exec *ex, ei_node *node, ei_squeeze_shape_fn shape) {
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
    EI_CHECK(shape(node, node->state, x, av, &r, dims));
    return ei_elem_set_out(node, y, x->dtype, r, dims);
}

static inline ei_status ei_squeeze_run(ei_exec *ex, ei_node *node, ei_squeeze_shape_fn shape) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (node->dynamic) {
        int64_t dims[EI_MAX_RANK];
        int r = 0;
        EI_CHECK(shape(node, node->state, x, ei_node_in(ex, node, 1), &r, dims));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, r, dims));
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return EI_STATUS_OK;
}

#endif
