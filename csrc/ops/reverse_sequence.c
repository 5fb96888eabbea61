/*
 * reverse_sequence.c - ReverseSequence (opset 10): for each batch entry b, reverses the first
 * sequence_lens[b] steps along time_axis and copies the rest; batch_axis and time_axis are
 * 0 and 1 in either order. Lengths outside [0, T] are INDEX_OUT_OF_RANGE in run. Any
 * fixed-size dtype; each (batch, time) step is one contiguous block of the trailing dims.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/index_util.h"

typedef struct rs_state {
    int64_t batch_axis, time_axis;
    size_t batch, time, block; /* from the last infer; block in bytes */
} rs_state;

static ei_status rs_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    rs_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "batch_axis", 1, &s->batch_axis));
    EI_TRY(ei_node_attr_int(node, "time_axis", 0, &s->time_axis));
    if (!((s->batch_axis == 0 && s->time_axis == 1) || (s->batch_axis == 1 && s->time_axis == 0))) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes 'batch_axis' = %lld and 'time_axis' = %lld must be 0 and 1 "
                           "in some order",
                           (long long)s->batch_axis, (long long)s->time_axis);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status rs_infer(ei_exec *ex, ei_node *node) {
    rs_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *l = ei_node_in(ex, node, 1);
    char b1[160], b2[160];
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (x->rank < 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' %s must have rank >= 2",
                             x->name, ei_shape_str(x->rank, x->dims, b1, sizeof b1));
    if ((l->dtype != EI_DTYPE_I64 && l->dtype != EI_DTYPE_I32) || l->rank != 1 ||
        l->dims[0] != x->dims[s->batch_axis])
        return ei_node_error(
            node, EI_STATUS_INVALID_ARGUMENT,
            "input '%s' (sequence_lens) %s %s must be int64 [batch] for input "
            "'%s' %s with batch_axis %lld",
            l->name, ei_dtype_name(l->dtype), ei_shape_str(l->rank, l->dims, b1, sizeof b1),
            x->name, ei_shape_str(x->rank, x->dims, b2, sizeof b2), (long long)s->batch_axis);
    s->batch = (size_t)x->dims[s->batch_axis];
    s->time = (size_t)x->dims[s->time_axis];
    s->block = ei_dtype_size(x->dtype);
    for (int i = 2; i < x->rank; i++)
        s->block *= (size_t)x->dims[i]; /* bounded by x->nbytes */
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, x->dims);
}

static ei_status rs_run(ei_exec *ex, ei_node *node) {
    const rs_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *l = ei_node_in(ex, node, 1);
    char *y = ei_node_out(ex, node, 0)->data;
    const char *xd = x->data;
    for (size_t b = 0; b < s->batch; b++) {
        int64_t v = ei_index_at(l, b);
        if (v < 0 || (uint64_t)v > (uint64_t)s->time)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "input '%s' (sequence_lens) value %lld at batch %zu is outside "
                                 "[0, %zu]",
                                 l->name, (long long)v, b, s->time);
    }
    if (s->block == 0) return EI_STATUS_OK;
    for (size_t b = 0; b < s->batch; b++) {
        size_t len = (size_t)ei_index_at(l, b);
        for (size_t t = 0; t < s->time; t++) {
            size_t src_t = t < len ? len - 1 - t : t;
            size_t dst = s->time_axis == 0 ? t * s->batch + b : b * s->time + t;
            size_t src = s->time_axis == 0 ? src_t * s->batch + b : b * s->time + src_t;
            memcpy(y + dst * s->block, xd + src * s->block, s->block);
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_reverse_sequence = {rs_prepare, rs_infer, rs_run, free, .dtypes = "any"};
