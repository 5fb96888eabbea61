/*
 * gather_elements.c - GatherElements: out[i0..] = data[i0.., indices[i0..] at axis, ..]
 * for any fixed-size data dtype with int32/int64 indices. Negative indices count from the
 * end; every index is checked in run before anything is written (INDEX_OUT_OF_RANGE names
 * the value and the allowed range).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/index_util.h"

typedef struct gather_elements_state {
    int64_t axis_attr;
    int axis; /* from the last infer */
} gather_elements_state;

static ei_status gather_elements_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    gather_elements_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
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

static ei_status gather_elements_infer(ei_exec *ex, ei_node *node) {
    gather_elements_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    char b1[160], b2[160];
    if (ei_dtype_size(d->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             d->name, ei_dtype_name(d->dtype));
    if (ind->dtype != EI_DTYPE_I64 && ind->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must be int32 or int64, got %s", ind->name,
                             ei_dtype_name(ind->dtype));
    if (d->rank == 0 || !ei_elem_norm_axis(s->axis_attr, d->rank, &s->axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis_attr, d->name, d->rank);
    bool ok = ind->rank == d->rank;
    for (int i = 0; ok && i < d->rank; i++)
        if (i != s->axis && ind->dims[i] > d->dims[i]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (indices) %s must have the rank of input '%s' %s and no "
                             "larger dims except on axis %d",
                             ind->name, ei_shape_str(ind->rank, ind->dims, b1, sizeof b1), d->name,
                             ei_shape_str(d->rank, d->dims, b2, sizeof b2), s->axis);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), d->dtype, ind->rank, ind->dims);
}

typedef struct gather_elements_ctx {
    const ei_value *d, *ind;
    char *y;
    int axis;
    size_t dstr[EI_MAX_RANK]; /* data bytes per index */
    size_t rows, n_tasks;     /* rows of the indices' last dim */
} gather_elements_ctx;

/* Rows [b, e) of the indices; every index was checked before. */
static void gather_elements_task(void *arg, size_t task, int thread) {
    (void)thread;
    const gather_elements_ctx *c = arg;
    const ei_value *ind = c->ind;
    const int last = ind->rank - 1, axis = c->axis;
    const int64_t n = c->d->dims[axis];
    const size_t es = c->dstr[last], w = (size_t)ind->dims[last];
    size_t per = (c->rows + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->rows ? b + per : c->rows;
    const char *src = c->d->data;
    for (size_t row = b; row < e; row++) {
        size_t base = 0, rem = row, k = row * w;
        char *dst = c->y + k * es;
        for (int i = last - 1; i >= 0; i--) {
            size_t v = rem % (size_t)ind->dims[i];
            rem /= (size_t)ind->dims[i];
            if (i != axis) base += v * c->dstr[i];
        }
        for (size_t j = 0; j < w; j++, k++, dst += es) {
            int64_t v = ei_index_at(ind, k);
            if (v < 0) v += n;
            size_t off = base + (size_t)v * c->dstr[axis] + (axis == last ? 0 : j * c->dstr[last]);
            memcpy(dst, src + off, es);
        }
    }
}

static ei_status gather_elements_run(ei_exec *ex, ei_node *node) {
    const gather_elements_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    const int r = d->rank, axis = s->axis, last = r - 1;
    const size_t es = ei_dtype_size(d->dtype), numel = ei_value_numel(ind);
    EI_CHECK(ei_index_check_axis(node, ind, numel, d, axis));
    if (numel == 0) return EI_STATUS_OK;
    gather_elements_ctx c = {d, ind, y->data, axis, {0}, numel / (size_t)ind->dims[last], 1};
    size_t acc = es;
    for (int i = r - 1; i >= 0; i--) {
        c.dstr[i] = acc;
        acc *= (size_t)d->dims[i];
    }
    size_t t = ei_elem_tasks(ex, numel, 16384);
    c.n_tasks = t < c.rows ? t : c.rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        gather_elements_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, gather_elements_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_gather_elements = {gather_elements_prepare, gather_elements_infer,
                                             gather_elements_run, free, .dtypes = "any"};
