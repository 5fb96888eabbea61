/*
 * concat.c - Concat along one axis (negative from opset 11) for any fixed-size dtype.
 * Every input has the same rank and dims except on axis; run copies, for each outer
 * index, one contiguous chunk per input. Zero-size inputs contribute nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct concat_state {
    int64_t axis_attr;
    size_t outer; /* product of dims before axis, from the last infer */
    size_t inner; /* bytes per unit of the axis: product of dims after axis * dtype size */
} concat_state;

static ei_status concat_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    concat_state *s = NULL;
    const ei_attr *a;
    if (node->n_inputs < 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "expected at least 1 input");
    for (int i = 0; i < node->n_inputs; i++)
        if (node->inputs[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input %d is missing", i);
    if (node->n_outputs != 1 || node->outputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "expected 1 output, got %d",
                             node->n_outputs);
    a = ei_node_attr(node, "axis");
    if (!a) return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'axis' is required");
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis_attr));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status concat_infer(ei_exec *ex, ei_node *node) {
    concat_state *s = node->state;
    const ei_value *x0 = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    int axis, r = x0->rank;
    int64_t dims[EI_MAX_RANK];
    char b1[160], b2[160];
    if (ei_dtype_size(x0->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x0->name, ei_dtype_name(x0->dtype));
    if (r == 0 || !ei_elem_norm_axis(s->axis_attr, r, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis_attr, x0->name, r);
    for (int i = 0; i < r; i++)
        dims[i] = x0->dims[i];
    int64_t total = 0;
    for (int k = 0; k < node->n_inputs; k++) {
        const ei_value *x = ei_node_in(ex, node, k);
        if (x->dtype != x0->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' has dtype %s but input '%s' has %s", x->name,
                                 ei_dtype_name(x->dtype), x0->name, ei_dtype_name(x0->dtype));
        bool ok = x->rank == r;
        for (int i = 0; ok && i < r; i++)
            if (i != axis && x->dims[i] != x0->dims[i]) ok = false;
        if (!ok)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' %s does not match input '%s' %s outside axis %d",
                                 x->name, ei_shape_str(x->rank, x->dims, b1, sizeof b1), x0->name,
                                 ei_shape_str(r, x0->dims, b2, sizeof b2), axis);
        if (__builtin_add_overflow(total, x->dims[axis], &total))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "output dim %d overflows", axis);
    }
    dims[axis] = total;
    EI_CHECK(ei_elem_set_out(node, y, x0->dtype, r, dims));
    s->outer = 1;
    s->inner = ei_dtype_size(x0->dtype);
    for (int i = 0; i < axis; i++)
        s->outer *= (size_t)dims[i];
    for (int i = axis + 1; i < r; i++)
        s->inner *= (size_t)dims[i];
    return EI_STATUS_OK;
}

static ei_status concat_run(ei_exec *ex, ei_node *node) {
    const concat_state *s = node->state;
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    int axis = (int)(s->axis_attr < 0 ? s->axis_attr + y->rank : s->axis_attr);
    char *dst = y->data;
    for (size_t o = 0; o < s->outer; o++) {
        for (int k = 0; k < node->n_inputs; k++) {
            const ei_value *x = ei_node_in(ex, node, k);
            size_t chunk = (size_t)x->dims[axis] * s->inner;
            if (chunk == 0) continue;
            memcpy(dst, (const char *)x->data + o * chunk, chunk);
            dst += chunk;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_concat = {concat_prepare, concat_infer, concat_run, free,
                                    .dtypes = "any"};
