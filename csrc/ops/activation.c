/*
 * activation.c - Relu, Sigmoid and Tanh on float32 through the activation kernels,
 * split across the thread pool for large tensors. Other dtypes are UNSUPPORTED;
 * Clip and Softmax live in their own files.
 */
#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef enum act_kind { ACT_RELU, ACT_SIGMOID, ACT_TANH } act_kind;

static ei_status act_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_elem_check_io(node, 1, 1, 1);
}

static ei_status act_infer(ei_exec *ex, ei_node *node) {
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

typedef struct act_ctx {
    const ei_kernel_table *k;
    act_kind kind;
    const float *x;
    float *y;
    size_t n, n_tasks;
} act_ctx;

static void act_task(void *arg, size_t task, int thread) {
    (void)thread;
    const act_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (b >= e) return;
    switch (c->kind) {
    case ACT_RELU: c->k->f32_relu(e - b, c->x + b, c->y + b); break;
    case ACT_SIGMOID: c->k->f32_sigmoid(e - b, c->x + b, c->y + b); break;
    case ACT_TANH: c->k->f32_tanh(e - b, c->x + b, c->y + b); break;
    }
}

static ei_status act_run(ei_exec *ex, ei_node *node, act_kind kind) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    act_ctx c = {ei_kernels(), kind, x->data, y->data, ei_value_numel(x), 1};
    if (c.n == 0) return EI_STATUS_OK;
    c.n_tasks = ei_elem_tasks(ex, c.n, c.kind == ACT_RELU ? 32768 : 8192);
    if (c.n_tasks == 1)
        act_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, act_task, &c);
    return EI_STATUS_OK;
}

static ei_status relu_run(ei_exec *ex, ei_node *node) {
    return act_run(ex, node, ACT_RELU);
}
static ei_status sigmoid_run(ei_exec *ex, ei_node *node) {
    return act_run(ex, node, ACT_SIGMOID);
}
static ei_status tanh_run(ei_exec *ex, ei_node *node) {
    return act_run(ex, node, ACT_TANH);
}

const ei_op_fns ei_op_fns_relu = {act_prepare, act_infer, relu_run, NULL};
const ei_op_fns ei_op_fns_sigmoid = {act_prepare, act_infer, sigmoid_run, NULL};
const ei_op_fns ei_op_fns_tanh = {act_prepare, act_infer, tanh_run, NULL};
