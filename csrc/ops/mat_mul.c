/*
 * mat_mul.c - ONNX MatMul (float32) with NumPy semantics: 1-D operands are promoted and
 * their dim removed again, batch dims broadcast. A product whose B has no batch is one
 * tall GEMM over all of A's rows; otherwise each batch entry is its own ei_sgemm, with
 * the work spread over the pool by batch entry and row block.
 * Also com.edgeinfer FusedMatMul (made by opt/fuse_matmul.c): inputs A, B and an optional
 * bias over N, attributes activation/activation_params; Y = act(A @ B + bias), the
 * epilogue applied to each block right after its GEMM.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/dense_gemm.h"
#include "ops/fused_act.h"
#include "ops/matmul_shape.h"

typedef struct mat_mul_state {
    ei_matmul_shape ms;
    size_t m, n, k, batch; /* copies of ms's */
    int fold;        /* B has no batch and A is not broadcast: one GEMM of batch*m rows */
    size_t row_blocks, block_rows;
    ei_act act; /* FusedMatMul */
    ei_dense_packed_b packed; /* constant 2-D B, packed at infer (fold case only) */
} mat_mul_state;

static void mat_mul_destroy(void *p) {
    mat_mul_state *s = p;
    if (!s) return;
    ei_dense_packed_b_free(&s->packed);
    free(s);
}

typedef struct mat_mul_args {
    const mat_mul_state *s;
    const float *a, *b, *bias;
    float *y;
} mat_mul_args;

static ei_status mat_mul_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    bool fused = strcmp(node->domain, EI_DOMAIN_EDGEINFER) == 0;
    ei_act act;
    if (node->n_inputs < 2 || node->n_inputs > (fused ? 3 : 2) || node->n_outputs != 1 ||
        node->inputs[0] < 0 || node->inputs[1] < 0 || node->outputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "expected inputs A, B%s and 1 output, got %d inputs and %d outputs",
                             fused ? " (and optional bias)" : "", node->n_inputs, node->n_outputs);
    memset(&act, 0, sizeof act);
    if (fused) EI_CHECK(ei_fused_act_parse(node, &act));
    mat_mul_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->act = act;
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status mat_mul_infer(ei_exec *ex, ei_node *node) {
    mat_mul_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    if (a->dtype != EI_DTYPE_F32 || b->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs A '%s' (%s) and B '%s' (%s): only float32 is supported",
                             a->name, ei_dtype_name(a->dtype), b->name,
                             ei_dtype_name(b->dtype));
    ei_matmul_shape *ms = &s->ms;
    EI_CHECK(ei_matmul_shape_infer(node, a, b, "A", "B", ms));
    const ei_value *bias = ei_node_in(ex, node, 2);
    if (bias && (bias->dtype != EI_DTYPE_F32 || bias->rank != 1 || b->rank < 2 ||
                 bias->dims[0] != (int64_t)ms->n)) {
        char buf[128], buf2[128];
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "bias '%s' (%s) %s must be float32 of shape [N] with B '%s' %s of "
                             "rank >= 2",
                             bias->name, ei_dtype_name(bias->dtype),
                             ei_shape_str(bias->rank, bias->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    }
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, ms->orank, ms->odims));
    s->batch = ms->batch;
    s->m = ms->m;
    s->n = ms->n;
    s->k = ms->k;
    s->fold = ms->b_batch == 1 && ms->a_batch == ms->batch;
    if (ex->shapes_only) {
        /* opt/shapes.c: the packed copy (if any) is made or dropped by the real plan */
    } else if (s->fold && b->rank >= 2 && (b->flags & EI_VALUE_FLAG_CONST) &&
        (b->data || s->packed.data) && ei_dense_packed_wanted(s->batch * s->m, s->n, s->k))
        EI_CHECK(ei_dense_packed_b_update(node, &s->packed, b, s->k, s->n, 0));
    else
        ei_dense_packed_b_drop(node, &s->packed);
    size_t t = 1;
    if (!s->fold && s->batch < (size_t)ex->num_threads)
        t = ei_dense_task_count(s->m, s->n, s->k, ex->num_threads);
    if (t > s->m) t = s->m ? s->m : 1;
    s->block_rows = s->m ? (s->m + t - 1) / t : 1;
    s->row_blocks = s->m ? (s->m + s->block_rows - 1) / s->block_rows : 1;
    node->scratch_bytes = 0;
    return EI_STATUS_OK;
}

static void mat_mul_task(void *arg, size_t task, int thread) {
    (void)thread;
    const mat_mul_args *p = arg;
    const mat_mul_state *s = p->s;
    size_t bi = task / s->row_blocks, blk = task % s->row_blocks;
    size_t a_off, b_off;
    ei_matmul_batch_offsets(&s->ms, bi, &a_off, &b_off);
    ei_dense_gemm g = {.m = s->m,
                       .n = s->n,
                       .k = s->k,
                       .alpha = 1.0f,
                       .beta = 0.0f,
                       .a = p->a + a_off * s->m * s->k,
                       .b = p->b + b_off * s->k * s->n,
                       .lda = s->k,
                       .ldb = s->n,
                       .c = p->y + bi * s->m * s->n,
                       .ldc = s->n,
                       .bias = p->bias,
                       .act = &s->act};
    size_t r0 = blk * s->block_rows, r1 = r0 + s->block_rows < s->m ? r0 + s->block_rows : s->m;
    ei_dense_gemm_block(&g, r0, r1, 0, s->n);
}

static ei_status mat_mul_run(ei_exec *ex, ei_node *node) {
    const mat_mul_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    const ei_value *bias = ei_node_in(ex, node, 2);
    const float *bd = bias ? bias->data : NULL;
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->batch == 0 || s->m == 0 || s->n == 0) return EI_STATUS_OK;
    if (s->fold) {
        ei_dense_gemm g = {.m = s->batch * s->m,
                           .n = s->n,
                           .k = s->k,
                           .alpha = 1.0f,
                           .beta = 0.0f,
                           .a = a->data,
                           .b = b->data,
                           .lda = s->k,
                           .ldb = s->n,
                           .c = y->data,
                           .ldc = s->n,
                           .bias = bd,
                           .act = &s->act,
                           .gk = s->packed.gk,
                           .packed_b = s->packed.data};
        ei_dense_gemm_run(ex, &g);
        return EI_STATUS_OK;
    }
    mat_mul_args p = {s, a->data, b->data, bd, y->data};
    size_t n_tasks = s->batch * s->row_blocks;
    if (n_tasks == 1) mat_mul_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, mat_mul_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_mat_mul = {mat_mul_prepare, mat_mul_infer, mat_mul_run,
                                     mat_mul_destroy,
                                     .dtypes = "float32"};
