/*
 * instance_normalization.c - InstanceNormalization on float32: every (n, c) plane of
 * X [N, C, D1, ...] is normalized by its own mean and variance (two passes), then
 * scaled by scale[c] and shifted by B[c]. Planes are spread over the thread pool.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/norm_util.h"

typedef struct in_state {
    float epsilon;
    size_t n, c, plane;
} in_state;

static ei_status in_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    in_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    EI_TRY(ei_node_attr_float(node, "epsilon", 1e-5f, &s->epsilon));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status in_infer(ei_exec *ex, ei_node *node) {
    in_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0);
    char buf[160];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank < 3)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' has rank %d; expected [N, C, D1, ...] (rank >= 3)",
                             x->name, x->rank);
    for (int i = 1; i < 3; i++) {
        const ei_value *p = ei_node_in(ex, node, i);
        if (p->dtype != EI_DTYPE_F32 || p->rank != 1 || p->dims[0] != x->dims[1])
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL, "input '%s' (%s %s) must be float32 of shape [%lld]",
                p->name, ei_dtype_name(p->dtype), ei_shape_str(p->rank, p->dims, buf, sizeof buf),
                (long long)x->dims[1]);
    }
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->plane = 1;
    for (int i = 2; i < x->rank; i++)
        s->plane *= (size_t)x->dims[i];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims);
}

typedef struct in_ctx {
    const in_state *s;
    const float *x, *scale, *bias;
    float *y;
    size_t n_tasks;
} in_ctx;

static void in_task(void *arg, size_t task, int thread) {
    (void)thread;
    const in_ctx *c = arg;
    const in_state *s = c->s;
    const ei_kernel_table *k = ei_kernels();
    size_t rows = s->n * s->c, per = (rows + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per, n = s->plane;
    if (e > rows) e = rows;
    for (size_t r = b; r < e; r++) {
        const float *x = c->x + r * n;
        float *y = c->y + r * n;
        size_t ch = r % s->c;
        float mean;
        float var = ei_norm_center(k, n, x, y, &mean);
        float a = c->scale[ch] / sqrtf(var + s->epsilon);
        k->f32_vaffine(n, y, a, c->bias[ch], y);
    }
}

static ei_status in_run(ei_exec *ex, ei_node *node) {
    const in_state *s = node->state;
    in_ctx c = {s,
                ei_node_in(ex, node, 0)->data,
                ei_node_in(ex, node, 1)->data,
                ei_node_in(ex, node, 2)->data,
                ei_node_out(ex, node, 0)->data,
                1};
    size_t rows = s->n * s->c, total;
    if (rows == 0 || s->plane == 0) return EI_STATUS_OK;
    if (!ei_size_mul(rows, s->plane, &total)) total = SIZE_MAX;
    size_t t = ei_elem_tasks(ex, total, 16384);
    c.n_tasks = t < rows ? t : rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        in_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, in_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_instance_normalization = {in_prepare, in_infer, in_run, free,
                                                    .dtypes = "float32"};
