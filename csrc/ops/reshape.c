/*
 * reshape.c - Reshape. When the shape input is known at infer (a constant or shape
 * arithmetic) the output shape is planned then; when it is fed at run time the node is
 * dynamic and run resolves the shape and sizes its output with ei_node_alloc_output.
 * A 0 copies the input's dim at that position unless allowzero=1 (opset 14); one -1 is
 * inferred from the element count. run copies the bytes (any dtype).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct reshape_state {
    int64_t allowzero;
} reshape_state;

static ei_status reshape_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    reshape_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset >= 14) EI_TRY(ei_node_attr_int(node, "allowzero", 0, &s->allowzero));
    if (s->allowzero != 0 && s->allowzero != 1) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'allowzero' = %lld must be 0 or 1", (long long)s->allowzero);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* The output shape for input x and the (known) shape tensor sh. */
static ei_status reshape_resolve(const ei_node *node, const reshape_state *s, const ei_value *x,
                                 const ei_value *sh, int *rank_out, int64_t *dims) {
    int64_t req[EI_MAX_RANK];
    size_t rank = 0, in_numel, known = 1;
    int infer_at = -1;
    char b1[160], b2[160];
    EI_CHECK(ei_elem_read_ints(node, sh, "shape", req, EI_MAX_RANK, &rank));
    in_numel = ei_value_numel(x);
    for (size_t i = 0; i < rank; i++) {
        int64_t d = req[i];
        if (d == -1) {
            if (infer_at >= 0)
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "input '%s' (shape) %s has more than one -1", sh->name,
                                     ei_shape_str((int)rank, req, b1, sizeof b1));
            infer_at = (int)i;
            continue;
        }
        if (d < -1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (shape) %s has invalid dim %lld", sh->name,
                                 ei_shape_str((int)rank, req, b1, sizeof b1), (long long)d);
        if (d == 0 && !s->allowzero) {
            if (i >= (size_t)x->rank)
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "input '%s' (shape) %s copies dim %zu with 0, but input '%s' "
                                     "%s has rank %d",
                                     sh->name, ei_shape_str((int)rank, req, b1, sizeof b1), i,
                                     x->name, ei_shape_str(x->rank, x->dims, b2, sizeof b2),
                                     x->rank);
            d = x->dims[i];
        }
        dims[i] = d;
        if (!ei_size_mul(known, (size_t)d, &known))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (shape) %s is too large", sh->name,
                                 ei_shape_str((int)rank, req, b1, sizeof b1));
    }
    if (infer_at >= 0) {
        if (s->allowzero && known == 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (shape) %s has both 0 and -1 with allowzero=1",
                                 sh->name, ei_shape_str((int)rank, req, b1, sizeof b1));
        if (known == 0 || in_numel % known != 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "cannot reshape input '%s' %s (%zu elements) to %s", x->name,
                                 ei_shape_str(x->rank, x->dims, b2, sizeof b2), in_numel,
                                 ei_shape_str((int)rank, req, b1, sizeof b1));
        dims[infer_at] = (int64_t)(in_numel / known);
        known = in_numel;
    }
    if (known != in_numel)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "cannot reshape input '%s' %s (%zu elements) to %s (%zu elements)",
                             x->name, ei_shape_str(x->rank, x->dims, b2, sizeof b2), in_numel,
                             ei_shape_str((int)rank, req, b1, sizeof b1), known);
    *rank_out = (int)rank;
    return EI_STATUS_OK;
}

static ei_status reshape_infer(ei_exec *ex, ei_node *node) {
    const reshape_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *sh = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    int rank = 0;
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (sh->dtype != EI_DTYPE_I64)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (shape) must be int64, got %s", sh->name,
                             ei_dtype_name(sh->dtype));
    if (sh->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (shape) must be 1-D, got rank %d", sh->name, sh->rank);
    if (!ei_value_known(sh) && ei_value_numel(sh) > 0) {
        if (ei_value_numel(sh) > EI_MAX_RANK)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input '%s' (shape) has more than %d elements", sh->name,
                                 EI_MAX_RANK);
        node->dynamic = true; /* the shape is data fed at run time: resolved in run */
        return EI_STATUS_OK;
    }
    EI_CHECK(reshape_resolve(node, s, x, sh, &rank, dims));
    return ei_elem_set_out(node, y, x->dtype, rank, dims);
}

static ei_status reshape_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (node->dynamic) {
        int64_t dims[EI_MAX_RANK];
        int rank = 0;
        EI_CHECK(reshape_resolve(node, node->state, x, ei_node_in(ex, node, 1), &rank, dims));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, rank, dims));
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_reshape = {reshape_prepare, reshape_infer, reshape_run, free,
                                     .dtypes = "any"};
