/*
 * det.c - Det (opsets 11, 22): determinants of the trailing [M, M] matrices of a float32 or
 * float64 tensor [..., M, M] -> [...]. Gaussian elimination with partial pivoting in double
 * on a scratch copy of one matrix per thread; M = 0 gives 1 (the empty product).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct det_state {
    size_t batch, m; /* from the last infer */
    size_t n_tasks;  /* scratch holds n_tasks matrices of doubles */
} det_state;

static ei_status det_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    det_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status det_infer(ei_exec *ex, ei_node *node) {
    det_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    char b[160];
    size_t mm, bytes;
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must be [..., M, M] (square trailing matrices)",
                             x->name, ei_shape_str(x->rank, x->dims, b, sizeof b));
    s->m = (size_t)x->dims[x->rank - 1];
    s->batch = 1;
    for (int i = 0; i < x->rank - 2; i++)
        s->batch *= (size_t)x->dims[i];
    /* m * m is bounded by x's element count unless the batch is empty. */
    s->n_tasks = 1;
    node->scratch_bytes = 0;
    if (s->batch != 0 && s->m != 0) {
        size_t work = s->batch * s->m * s->m, cube;
        if (!ei_size_mul(work, s->m + 1, &cube)) cube = SIZE_MAX;
        s->n_tasks = ei_elem_tasks(ex, cube, 1u << 16);
        if (s->n_tasks > s->batch) s->n_tasks = s->batch;
        if (!ei_size_mul(s->m * s->m, sizeof(double), &mm) || !ei_size_mul(mm, s->n_tasks, &bytes))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' is too large",
                                 x->name);
        node->scratch_bytes = bytes;
    }
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank - 2, x->dims);
}

typedef struct det_ctx {
    const det_state *s;
    const ei_value *x;
    void *y;
    double *scratch;
} det_ctx;

static double det_one(double *a, size_t m) {
    double det = 1.0;
    for (size_t k = 0; k < m; k++) {
        size_t p = k;
        double best = fabs(a[k * m + k]);
        for (size_t i = k + 1; i < m; i++)
            if (fabs(a[i * m + k]) > best) {
                best = fabs(a[i * m + k]);
                p = i;
            }
        if (p != k) {
            for (size_t j = 0; j < m; j++) {
                double t = a[k * m + j];
                a[k * m + j] = a[p * m + j];
                a[p * m + j] = t;
            }
            det = -det;
        }
        double piv = a[k * m + k];
        det *= piv;
        if (piv == 0.0) return det; /* singular: 0 (or NaN from NaN inputs) */
        for (size_t i = k + 1; i < m; i++) {
            double f = a[i * m + k] / piv;
            if (f == 0.0) continue;
            for (size_t j = k + 1; j < m; j++)
                a[i * m + j] -= f * a[k * m + j];
        }
    }
    return det;
}

static void det_task(void *arg, size_t task, int thread) {
    (void)thread;
    const det_ctx *c = arg;
    const det_state *s = c->s;
    const size_t mm = s->m * s->m;
    double *a = c->scratch + task * mm;
    size_t per = (s->batch + s->n_tasks - 1) / s->n_tasks;
    size_t b = per * task, e = b + per < s->batch ? b + per : s->batch;
    for (size_t i = b; i < e; i++) {
        if (c->x->dtype == EI_DTYPE_F32) {
            const float *src = (const float *)c->x->data + i * mm;
            for (size_t j = 0; j < mm; j++)
                a[j] = src[j];
            ((float *)c->y)[i] = (float)det_one(a, s->m);
        } else {
            memcpy(a, (const double *)c->x->data + i * mm, mm * sizeof *a);
            ((double *)c->y)[i] = det_one(a, s->m);
        }
    }
}

static ei_status det_run(ei_exec *ex, ei_node *node) {
    const det_state *s = node->state;
    det_ctx c = {s, ei_node_in(ex, node, 0), ei_node_out(ex, node, 0)->data, node->scratch};
    if (s->batch == 0) return EI_STATUS_OK;
    if (s->m == 0) { /* determinants of empty matrices: 1 */
        for (size_t i = 0; i < s->batch; i++) {
            if (c.x->dtype == EI_DTYPE_F32)
                ((float *)c.y)[i] = 1.0f;
            else
                ((double *)c.y)[i] = 1.0;
        }
        return EI_STATUS_OK;
    }
    if (s->n_tasks <= 1)
        det_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, s->n_tasks, det_task, &c);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_det = {det_prepare, det_infer, det_run, free,
                                 .dtypes = "float32 float64"};
