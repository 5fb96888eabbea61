/*
 * softmax.c - Softmax on float32, numerically stable (the row maximum is subtracted
 * before exp). Opset < 13 coerces the input to 2-D at axis (default 1) and normalizes
 * each flattened row; opset 13+ normalizes along one axis (default -1): contiguous rows
 * through the exp kernels, strided lines (axis not last) in column blocks across rows.
 * Rows and blocks are split across the thread pool when there are many.
 */
#include <stdlib.h>
#include <string.h>

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

/* Columns [j, j + w) of one [len, inner] block (inner > 1, w <= SOFTMAX_COLS): the same
 * three steps done across rows with the vector kernels, the column maxima and sums kept
 * in stack vectors. y may equal x. */
#define SOFTMAX_COLS 256
static void softmax_cols(const ei_kernel_table *k, size_t len, size_t inner, size_t w,
                         const float *x, float *y) {
    float m[SOFTMAX_COLS], sum[SOFTMAX_COLS];
    memcpy(m, x, w * sizeof(float));
    for (size_t i = 1; i < len; i++) k->f32_vmax(w, m, x + i * inner, m);
    memset(sum, 0, w * sizeof(float));
    for (size_t i = 0; i < len; i++) {
        float *yr = y + i * inner;
        k->f32_vsub(w, x + i * inner, m, yr);
        k->f32_exp(w, yr, yr);
        k->f32_vadd(w, sum, yr, sum);
    }
    k->f32_vrdivc(w, sum, 1.0f, sum);
    for (size_t i = 0; i < len; i++) k->f32_vmul(w, y + i * inner, sum, y + i * inner);
}

/* Work units: rows (inner == 1) or SOFTMAX_COLS-wide column blocks of each outer index. */
static size_t softmax_units(const ei_softmax_axis *s) {
    if (s->inner == 1) return s->outer;
    return s->outer * ((s->inner + SOFTMAX_COLS - 1) / SOFTMAX_COLS);
}

static void softmax_task(void *arg, size_t task, int thread) {
    (void)thread;
    const softmax_ctx *c = arg;
    const ei_softmax_axis *s = c->s;
    size_t per = (c->n_rows + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per;
    if (e > c->n_rows) e = c->n_rows;
    size_t blocks = (s->inner + SOFTMAX_COLS - 1) / SOFTMAX_COLS;
    for (size_t r = b; r < e; r++) {
        if (s->inner == 1) {
            softmax_row(c->k, s->len, c->x + r * s->len, c->y + r * s->len);
            continue;
        }
        size_t o = r / blocks, j = (r % blocks) * SOFTMAX_COLS;
        size_t w = s->inner - j < SOFTMAX_COLS ? s->inner - j : SOFTMAX_COLS;
        size_t off = o * s->len * s->inner + j;
        softmax_cols(c->k, s->len, s->inner, w, c->x + off, c->y + off);
    }
}

static ei_status softmax_run(ei_exec *ex, ei_node *node) {
    const ei_softmax_axis *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    softmax_ctx c = {ei_kernels(), s, x->data, y->data, softmax_units(s), 1};
    if (c.n_rows == 0 || s->len == 0 || s->inner == 0) return EI_STATUS_OK;
    size_t total = s->outer * s->inner * s->len;
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
