/*
 * tensor_scatter.c - TensorScatter (opset 24), the KV-cache update: present = past_cache with
 * update [B, ..., S, ...] written along 'axis' (not 0) at write_indices[b] + s (0 when the
 * input is absent), modulo the cache length in mode "circular". In mode "linear" a write
 * outside the cache is INDEX_OUT_OF_RANGE, checked before anything is written. Any
 * fixed-size dtype; each (prefix, step) is one contiguous block.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/index_util.h"

typedef struct ts_state {
    int64_t axis_attr;
    bool circular;
    /* from the last infer */
    size_t outer, per_batch, max_len, seq, block; /* block in bytes */
} ts_state;

static ei_status ts_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ts_state *s = NULL;
    const char *mode = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", -2, &s->axis_attr));
    EI_TRY(ei_node_attr_string(node, "mode", "linear", &mode));
    if (strcmp(mode, "linear") != 0 && strcmp(mode, "circular") != 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'mode' = '%s' is not one of linear, circular", mode);
        goto cleanup;
    }
    s->circular = mode[0] == 'c';
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status ts_infer(ei_exec *ex, ei_node *node) {
    ts_state *s = node->state;
    const ei_value *p = ei_node_in(ex, node, 0), *u = ei_node_in(ex, node, 1),
                   *w = ei_node_in(ex, node, 2);
    char b1[160], b2[160];
    int axis;
    if (ei_dtype_size(p->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             p->name, ei_dtype_name(p->dtype));
    if (u->dtype != p->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (update) has dtype %s, expected %s like '%s'", u->name,
                             ei_dtype_name(u->dtype), ei_dtype_name(p->dtype), p->name);
    if (p->rank < 2 || !ei_elem_norm_axis(s->axis_attr, p->rank, &axis) || axis == 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld must name a non-batch dim of input '%s' of "
                             "rank %d",
                             (long long)s->axis_attr, p->name, p->rank);
    bool ok = u->rank == p->rank && u->dims[axis] <= p->dims[axis];
    for (int i = 0; ok && i < p->rank; i++)
        if (i != axis && u->dims[i] != p->dims[i]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (update) %s must match input '%s' %s except for a shorter "
                             "dim %d",
                             u->name, ei_shape_str(u->rank, u->dims, b1, sizeof b1), p->name,
                             ei_shape_str(p->rank, p->dims, b2, sizeof b2), axis);
    if (w && ((w->dtype != EI_DTYPE_I64 && w->dtype != EI_DTYPE_I32) || w->rank != 1 ||
              w->dims[0] != p->dims[0]))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (write_indices) %s %s must be int64 [batch = %lld]",
                             w->name, ei_dtype_name(w->dtype),
                             ei_shape_str(w->rank, w->dims, b1, sizeof b1), (long long)p->dims[0]);
    s->outer = 1;
    s->per_batch = 1;
    s->block = ei_dtype_size(p->dtype);
    for (int i = 0; i < p->rank; i++) {
        if (i < axis) s->outer *= (size_t)p->dims[i];
        if (i > 0 && i < axis) s->per_batch *= (size_t)p->dims[i];
        if (i > axis) s->block *= (size_t)p->dims[i];
    }
    s->max_len = (size_t)p->dims[axis];
    s->seq = (size_t)u->dims[axis];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), p->dtype, p->rank, p->dims);
}

static ei_status ts_run(ei_exec *ex, ei_node *node) {
    const ts_state *s = node->state;
    const ei_value *p = ei_node_in(ex, node, 0), *u = ei_node_in(ex, node, 1),
                   *w = ei_node_in(ex, node, 2);
    ei_value *y = ei_node_out(ex, node, 0);
    const size_t batch = (size_t)p->dims[0];
    if (y->data != p->data && p->nbytes) memcpy(y->data, p->data, p->nbytes);
    if (s->seq == 0 || s->outer == 0 || s->block == 0) return EI_STATUS_OK;
    if (w && !s->circular)
        for (size_t b = 0; b < batch; b++) {
            int64_t v = ei_index_at(w, b);
            if (v < 0 || (uint64_t)v > (uint64_t)(s->max_len - s->seq))
                return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                     "input '%s' (write_indices) value %lld at batch %zu: %zu "
                                     "steps do not fit a cache of %zu (mode linear)",
                                     w->name, (long long)v, b, s->seq, s->max_len);
        }
    for (size_t o = 0; o < s->outer; o++) {
        size_t b = o / s->per_batch;
        int64_t start = w ? ei_index_at(w, b) : 0;
        size_t pos = 0;
        if (s->circular) { /* start mod max_len, in [0, max_len) */
            int64_t m = (int64_t)s->max_len, r = start % m;
            pos = (size_t)(r < 0 ? r + m : r);
        } else {
            pos = (size_t)start;
        }
        for (size_t q = 0; q < s->seq; q++) {
            size_t dst = (o * s->max_len + pos) * s->block, src = (o * s->seq + q) * s->block;
            memcpy((char *)y->data + dst, (const char *)u->data + src, s->block);
            if (++pos == s->max_len) pos = 0; /* linear never wraps: checked above */
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_tensor_scatter = {ts_prepare, ts_infer, ts_run, free, .dtypes = "any"};
