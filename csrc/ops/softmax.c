/*
 * softmax.c - Softmax on float32, numerically stable (the row maximum is subtracted
 * before exp). Opset < 13 coerces the input to 2-D at axis (default 1) and normalizes
 * each flattened row; opset 13+ normalizes along one axis (default -1). Rows are split
 * across the thread pool when there are many.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct softmax_state {
    int64_t axis_attr;
    size_t outer, len, inner; /* from the last infer: [outer, len, inner], reduce over len */
} softmax_state;

static ei_status softmax_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    softmax_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", node->opset < 13 ? 1 : -1, &s->axis_attr));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status softmax_infer(ei_exec *ex, ei_node *node) {
    softmax_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    int axis;
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (node->opset < 13) {
        int64_t a = s->axis_attr;
        if (x->rank == 0 || a < -(int64_t)x->rank || a >= (int64_t)x->rank)
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "attribute 'axis' = %lld is out of range for input '%s' of rank %d", (long long)a,
                x->name, x->rank);
        axis = (int)(a < 0 ? a + x->rank : a);
        s->outer = 1;
        s->len = 1;
        for (int i = 0; i < x->rank; i++) {
            if (i < axis)
                s->outer *= (size_t)x->dims[i];
            else
                s->len *= (size_t)x->dims[i];
        }
        s->inner = 1;
    } else {
        if (x->rank == 0 || !ei_elem_norm_axis(s->axis_attr, x->rank, &axis))
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                (long long)s->axis_attr, x->name, x->rank);
        s->outer = 1;
        s->inner = 1;
        for (int i = 0; i < axis; i++)
            s->outer *= (size_t)x->dims[i];
        s->len = (size_t)x->dims[axis];
        for (int i = axis + 1; i < x->rank; i++)
            s->inner *= (size_t)x->dims[i];
    }
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

typedef struct softmax_ctx {
    const ei_kernel_table *k;
    const softmax_state *s;
    const float *x;
    float *y;
    size_t n_rows, n_tasks; /* rows = outer * inner lines of length len */
} softmax_ctx;

/* One contiguous row: max by kernel, exp into y, then scale by 1/sum. */
static void softmax_row(const ei_kernel_table *k, size_t len, const float *x, float *y) {
    float m = k->f32_max(len, x);
    float sum = 0.0f;
    for (size_t i = 0; i < len; i++) {
        float e = expf(x[i] - m);
        y[i] = e;
        sum += e;
    }
    k->f32_vmulc(len, y, 1.0f / sum, y);
}

/* A strided line (inner > 1). */
static void softmax_line(size_t len, size_t stride, const float *x, float *y) {
    float m = -INFINITY;
    for (size_t i = 0; i < len; i++)
        if (x[i * stride] > m) m = x[i * stride];
    float sum = 0.0f;
    for (size_t i = 0; i < len; i++) {
        float e = expf(x[i * stride] - m);
        y[i * stride] = e;
        sum += e;
    }
    float r = 1.0f / sum;
    for (size_t i = 0; i < len; i++)
        y[i * stride] *= r;
}

static void softmax_task(void *arg, size_t task, int thread) {
    (void)thread;
    const softmax_ctx *c = arg;
    const softmax_state *s = c->s;
    size_t per = (c->n_rows + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per;
    if (e > c->n_rows) e = c->n_rows;
    for (size_t r = b; r < e; r++) {
        size_t o = r / s->inner, j = r % s->inner;
        size_t off = o * s->len * s->inner + j;
        if (s->inner == 1)
            softmax_row(c->k, s->len, c->x + off, c->y + off);
        else
            softmax_line(s->len, s->inner, c->x + off, c->y + off);
    }
}

static ei_status softmax_run(ei_exec *ex, ei_node *node) {
    const softmax_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    softmax_ctx c = {ei_kernels(), s, x->data, y->data, s->outer * s->inner, 1};
    if (c.n_rows == 0 || s->len == 0) return EI_STATUS_OK;
    size_t total = c.n_rows * s->len;
    size_t t = ei_elem_tasks(ex, total, 16384);
    c.n_tasks = t < c.n_rows ? t : c.n_rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        softmax_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, softmax_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_softmax = {softmax_prepare, softmax_infer, softmax_run, free};
