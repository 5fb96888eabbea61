/*
 * softmax.c - Softmax on float32, numerically stable (the row maximum is subtracted
 * before exp). Opset < 13 coerces the input to 2-D at axis (default 1) and normalizes
 * each flattened row; opset 13+ normalizes along one axis (default -1). Rows are split
 * across the thread pool when there are many.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/softmax_axis.h"

typedef struct softmax_ctx {
    const ei_kernel_table *k;
    const ei_softmax_axis *s;
    const float *x;
    float *y;
    size_t n_rows, n_tasks; /* rows = outer * inner lines of length len */
} softmax_ctx;

/* One contiguous row: max, exp(x - max) into y with its sum, then scale by 1/sum; three
 * kernel passes over a row that stays in cache. */
static void softmax_row(const ei_kernel_table *k, size_t len, const float *x, float *y) {
    float m = k->f32_max(len, x);
    float sum = k->f32_exp_sum(len, x, m, y);
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
    const ei_softmax_axis *s = c->s;
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
    const ei_softmax_axis *s = node->state;
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

const ei_op_fns ei_op_fns_softmax = {ei_softmax_axis_prepare, ei_softmax_axis_infer, softmax_run,
                                     free, .dtypes = "float32"};
