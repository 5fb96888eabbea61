/*
 * compress.c - Compress (opsets 9, 11): keeps the slices along 'axis' (of the flattened
 * input when axis is absent) whose bool condition entry is true. The output length depends
 * on the condition's data: read at reshape when it is known, else when the node runs.
 * A condition shorter than the axis counts as false past its end; a true entry past the
 * axis is INDEX_OUT_OF_RANGE. Any fixed-size dtype; slices are copied with memcpy.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct compress_state {
    bool has_axis;
    int64_t axis_attr;
    size_t outer, len, inner, kept; /* from the last infer */
} compress_state;

static ei_status compress_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    compress_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->has_axis = ei_node_attr(node, "axis") != NULL;
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis_attr));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status compress_infer(ei_exec *ex, ei_node *node) {
    compress_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *c = ei_node_in(ex, node, 1);
    int64_t dims[EI_MAX_RANK];
    int axis = 0, rank;
    char b[160];
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (c->dtype != EI_DTYPE_BOOL || c->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (condition) must be a 1-D bool tensor, got %s %s", c->name,
                             ei_dtype_name(c->dtype), ei_shape_str(c->rank, c->dims, b, sizeof b));
    if (s->has_axis) {
        if (x->rank == 0 || !ei_elem_norm_axis(s->axis_attr, x->rank, &axis))
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                (long long)s->axis_attr, x->name, x->rank);
        s->outer = s->inner = 1;
        for (int i = 0; i < x->rank; i++) {
            if (i < axis) s->outer *= (size_t)x->dims[i];
            if (i > axis) s->inner *= (size_t)x->dims[i];
        }
        s->len = (size_t)x->dims[axis];
    } else {
        s->outer = s->inner = 1;
        s->len = ei_value_numel(x);
    }
    if (!ei_input_ready(ex, c)) { /* fed at run time: counted when it runs */
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    const uint8_t *cd = c->data;
    size_t n = (size_t)c->dims[0];
    s->kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (!cd[i]) continue;
        if (i >= s->len)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "input '%s' (condition) is true at %zu, past the %zu slices of "
                                 "input '%s'",
                                 c->name, i, s->len, x->name);
        s->kept++;
    }
    if (s->has_axis) {
        rank = x->rank;
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
        dims[axis] = (int64_t)s->kept;
    } else {
        rank = 1;
        dims[0] = (int64_t)s->kept;
    }
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, rank, dims);
}

static ei_status compress_run(ei_exec *ex, ei_node *node) {
    const compress_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *c = ei_node_in(ex, node, 1);
    char *y = ei_node_out(ex, node, 0)->data;
    const size_t es = ei_dtype_size(x->dtype), row = s->inner * es;
    const uint8_t *cd = c->data;
    size_t n = (size_t)c->dims[0];
    if (n > s->len) n = s->len; /* trues past the axis were rejected by infer */
    if (s->kept == 0 || row == 0) return EI_STATUS_OK;
    for (size_t o = 0; o < s->outer; o++) {
        const char *xo = (const char *)x->data + o * s->len * row;
        for (size_t i = 0; i < n; i++)
            if (cd[i]) {
                memcpy(y, xo + i * row, row);
                y += row;
            }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_compress = {compress_prepare, compress_infer, compress_run, free,
                                      .dtypes = "any"};
