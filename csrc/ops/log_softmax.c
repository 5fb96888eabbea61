/*
 * log_softmax.c - LogSoftmax on float32: y = x - max - log(sum(exp(x - max))) along the
 * normalized lines. Opset < 13 coerces the input to 2-D at axis (default 1) and
 * normalizes each flattened row; opset 13+ normalizes along one axis (default -1).
 * Lines are split across the thread pool when there are many.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/softmax_axis.h"

typedef struct lsm_ctx {
    const ei_kernel_table *k;
    const ei_softmax_axis *s;
    const float *x;
    float *y;
    size_t n_rows, n_tasks;
} lsm_ctx;

/* One line of len elements at stride. */
static void lsm_line(size_t len, size_t stride, const float *x, float *y) {
    float m = -INFINITY;
    for (size_t i = 0; i < len; i++)
        if (x[i * stride] > m || x[i * stride] != x[i * stride]) m = x[i * stride];
    float sum = 0.0f;
    for (size_t i = 0; i < len; i++)
        sum += expf(x[i * stride] - m);
    float sub = isinf(m) ? m : m + logf(sum);
    for (size_t i = 0; i < len; i++)
        y[i * stride] = x[i * stride] - sub;
}

/* A contiguous line: max (NaN wins), the sum of exp(x - max) without storing it, then
 * y = x - (max + log sum), all through the kernels. */
static void lsm_row(const ei_kernel_table *k, size_t len, const float *x, float *y) {
    float m = k->f32_max(len, x);
    float sub = m;
    if (!isinf(m)) sub = m + logf(k->f32_exp_sum(len, x, m, NULL));
    k->f32_vsubc(len, x, sub, y);
}

static void lsm_task(void *arg, size_t task, int thread) {
    (void)thread;
    const lsm_ctx *c = arg;
    const ei_softmax_axis *s = c->s;
    size_t per = (c->n_rows + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per;
    if (e > c->n_rows) e = c->n_rows;
    for (size_t r = b; r < e; r++) {
        size_t off = (r / s->inner) * s->len * s->inner + r % s->inner;
        if (s->inner == 1)
            lsm_row(c->k, s->len, c->x + off, c->y + off);
        else
            lsm_line(s->len, s->inner, c->x + off, c->y + off);
    }
}

static ei_status lsm_run(ei_exec *ex, ei_node *node) {
    const ei_softmax_axis *s = node->state;
    lsm_ctx c = {ei_kernels(), s, ei_node_in(ex, node, 0)->data, ei_node_out(ex, node, 0)->data,
                 s->outer * s->inner, 1};
    if (c.n_rows == 0 || s->len == 0) return EI_STATUS_OK;
    size_t t = ei_elem_tasks(ex, c.n_rows * s->len, 16384);
    c.n_tasks = t < c.n_rows ? t : c.n_rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        lsm_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, lsm_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_log_softmax = {ei_softmax_axis_prepare, ei_softmax_axis_infer, lsm_run,
                                         free, .dtypes = "float32"};
