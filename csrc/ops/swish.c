/*
 * swish.c - Swish (opset 24): y = x * sigmoid(alpha * x) = x / (1 + exp(-alpha * x)) on
 * float32 and float64, elementwise, split across the thread pool for large inputs.
 * For finite x, a large negative alpha * x overflows exp to inf and gives a signed 0, not NaN.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct swish_state {
    float alpha;
} swish_state;

static ei_status swish_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    swish_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_float(node, "alpha", 1.0f, &s->alpha));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status swish_infer(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64", x->name,
                             ei_dtype_name(x->dtype));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, x->dims);
}

typedef struct swish_ctx {
    float alpha;
    ei_dtype t;
    const void *x;
    void *y;
    size_t n, n_tasks;
} swish_ctx;

static void swish_task(void *arg, size_t task, int thread) {
    (void)thread;
    const swish_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (c->t == EI_DTYPE_F32) {
        const float *x = c->x;
        float *y = c->y;
        for (size_t i = b; i < e; i++)
            y[i] = x[i] / (1.0f + expf(-c->alpha * x[i]));
    } else {
        const double *x = c->x;
        double *y = c->y;
        const double a = (double)c->alpha;
        for (size_t i = b; i < e; i++)
            y[i] = x[i] / (1.0 + exp(-a * x[i]));
    }
}

static ei_status swish_run(ei_exec *ex, ei_node *node) {
    const swish_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    swish_ctx c = {s->alpha,          x->dtype, x->data, ei_node_out(ex, node, 0)->data,
                   ei_value_numel(x), 1};
    if (c.n == 0) return EI_STATUS_OK;
    c.n_tasks = ei_elem_tasks(ex, c.n, 16384);
    if (c.n_tasks == 1)
        swish_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, swish_task, &c);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_swish = {swish_prepare, swish_infer, swish_run, free,
                                   .dtypes = "float32 float64"};
