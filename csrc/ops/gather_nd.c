/*
 * gather_nd.c - GatherND (batch_dims from opset 12) for any fixed-size data dtype with
 * int64 (or int32) indices: each index tuple of length k picks a slice data[b.., i0..ik-1]
 * of the data. Negative components count from the end; all are checked in run first.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/index_util.h"

typedef struct gather_nd_state {
    int64_t batch_dims;
    /* From the last infer. */
    size_t batches, tuples, k;  /* batch count, tuples per batch, tuple length */
    size_t slice;               /* bytes per gathered slice */
    size_t batch_bytes;         /* bytes of data per batch */
    size_t stride[EI_MAX_RANK]; /* bytes per index of data dims b .. b+k-1 */
} gather_nd_state;

static ei_status gather_nd_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    gather_nd_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset >= 12) EI_TRY(ei_node_attr_int(node, "batch_dims", 0, &s->batch_dims));
    if (s->batch_dims < 0 || s->batch_dims >= EI_MAX_RANK) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'batch_dims' = %lld is invalid", (long long)s->batch_dims);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status gather_nd_infer(ei_exec *ex, ei_node *node) {
    gather_nd_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    const int r = d->rank, q = ind->rank, b = (int)s->batch_dims;
    int64_t dims[EI_MAX_RANK];
    char b1[160], b2[160];
    if (ei_dtype_size(d->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             d->name, ei_dtype_name(d->dtype));
    if (ind->dtype != EI_DTYPE_I64 && ind->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must be int64, got %s", ind->name,
                             ei_dtype_name(ind->dtype));
    if (r < 1 || q < 1 || b >= r || b >= q)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s and input '%s' (indices) %s need rank >= 1 and more "
                             "than batch_dims = %d dims",
                             d->name, ei_shape_str(r, d->dims, b1, sizeof b1), ind->name,
                             ei_shape_str(q, ind->dims, b2, sizeof b2), b);
    const int64_t k = ind->dims[q - 1];
    bool ok = k <= r - b;
    for (int i = 0; ok && i < b; i++)
        if (ind->dims[i] != d->dims[i]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (indices) %s does not fit input '%s' %s with batch_dims "
                             "= %d (tuples of at most %d, equal batch dims)",
                             ind->name, ei_shape_str(q, ind->dims, b1, sizeof b1), d->name,
                             ei_shape_str(r, d->dims, b2, sizeof b2), b, r - b);
    int out_rank = q - 1 + r - b - (int)k;
    if (out_rank > EI_MAX_RANK)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "output would have rank %d > %d",
                             out_rank, EI_MAX_RANK);
    int o = 0;
    for (int i = 0; i < q - 1; i++)
        dims[o++] = ind->dims[i];
    for (int i = b + (int)k; i < r; i++)
        dims[o++] = d->dims[i];
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), d->dtype, out_rank, dims));
    const size_t es = ei_dtype_size(d->dtype);
    s->k = (size_t)k;
    s->batches = 1;
    for (int i = 0; i < b; i++)
        s->batches *= (size_t)d->dims[i];
    s->tuples = 1;
    for (int i = b; i < q - 1; i++)
        s->tuples *= (size_t)ind->dims[i];
    s->slice = es;
    for (int i = b + (int)k; i < r; i++)
        s->slice *= (size_t)d->dims[i];
    size_t acc = s->slice;
    for (int i = b + (int)k - 1; i >= b; i--) {
        s->stride[i - b] = acc;
        acc *= (size_t)d->dims[i];
    }
    s->batch_bytes = acc;
    return EI_STATUS_OK;
}

typedef struct gather_nd_ctx {
    const gather_nd_state *s;
    const ei_value *d, *ind;
    char *y;
    size_t total, n_tasks;
} gather_nd_ctx;

/* Copies the slices of tuples [b, e) of this task; indices were checked before. */
static void gather_nd_task(void *arg, size_t task, int thread) {
    (void)thread;
    const gather_nd_ctx *c = arg;
    const gather_nd_state *s = c->s;
    const int b0 = (int)s->batch_dims;
    size_t per = (c->total + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->total ? b + per : c->total;
    const char *src = c->d->data;
    for (size_t t = b; t < e; t++) {
        size_t off = (t / s->tuples) * s->batch_bytes;
        for (size_t j = 0; j < s->k; j++) {
            int64_t v = ei_index_at(c->ind, t * s->k + j);
            if (v < 0) v += c->d->dims[b0 + (int)j];
            off += (size_t)v * s->stride[j];
        }
        memcpy(c->y + t * s->slice, src + off, s->slice);
    }
}

static ei_status gather_nd_run(ei_exec *ex, ei_node *node) {
    const gather_nd_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    const int b = (int)s->batch_dims;
    const size_t total = s->batches * s->tuples;
    char buf[160];
    for (size_t t = 0; t < total; t++)
        for (size_t j = 0; j < s->k; j++) {
            int64_t v = ei_index_at(ind, t * s->k + j), n = d->dims[b + (int)j];
            if (v < -n || v >= n)
                return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                     "index %lld in input '%s' is out of range [%lld, %lld] for "
                                     "axis %d of input '%s' %s",
                                     (long long)v, ind->name, (long long)-n, (long long)(n - 1),
                                     b + (int)j, d->name,
                                     ei_shape_str(d->rank, d->dims, buf, sizeof buf));
        }
    if (y->nbytes == 0) return EI_STATUS_OK;
    gather_nd_ctx c = {s, d, ind, y->data, total, 1};
    size_t t = ei_elem_tasks(ex, y->nbytes / 4, 32768);
    c.n_tasks = t < total ? t : total;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        gather_nd_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, gather_nd_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_gather_nd = {gather_nd_prepare, gather_nd_infer, gather_nd_run, free,
                                       .dtypes = "any"};
