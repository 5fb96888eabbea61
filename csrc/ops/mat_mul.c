/*
 * mat_mul.c - ONNX MatMul (float32) with NumPy semantics: 1-D operands are promoted and
 * their dim removed again, batch dims broadcast. A product whose B has no batch is one
 * tall GEMM over all of A's rows; otherwise each batch entry is its own ei_sgemm, with
 * the work spread over the pool by batch entry and row block.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/dense_gemm.h"

typedef struct mat_mul_state {
    size_t m, n, k;
    int batch_rank;
    int64_t batch_dims[EI_MAX_RANK];
    size_t a_stride[EI_MAX_RANK], b_stride[EI_MAX_RANK]; /* in matrices; 0 = broadcast */
    size_t batch;                                        /* product of batch_dims */
    int fold;        /* B has no batch and A is not broadcast: one GEMM of batch*m rows */
    size_t row_blocks, block_rows;
} mat_mul_state;

typedef struct mat_mul_args {
    const mat_mul_state *s;
    const float *a, *b;
    float *y;
} mat_mul_args;

static ei_status mat_mul_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    if (node->n_inputs != 2 || node->n_outputs != 1 || node->inputs[0] < 0 ||
        node->inputs[1] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "expected 2 inputs and 1 output, got %d inputs and %d outputs",
                             node->n_inputs, node->n_outputs);
    mat_mul_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status mat_mul_infer(ei_exec *ex, ei_node *node) {
    mat_mul_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    char buf[128], buf2[128];
    if (a->dtype != EI_DTYPE_F32 || b->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs A '%s' (%s) and B '%s' (%s): only float32 is supported",
                             a->name, ei_dtype_name(a->dtype), b->name,
                             ei_dtype_name(b->dtype));
    if (a->rank < 1 || b->rank < 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs A '%s' %s and B '%s' %s must have rank >= 1", a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    /* Promote 1-D operands: A [K] -> [1,K], B [K] -> [K,1]. */
    int ra = a->rank < 2 ? 2 : a->rank, rb = b->rank < 2 ? 2 : b->rank;
    int64_t ad[EI_MAX_RANK], bd[EI_MAX_RANK];
    if (a->rank == 1) {
        ad[0] = 1;
        ad[1] = a->dims[0];
    } else {
        memcpy(ad, a->dims, (size_t)ra * sizeof(int64_t));
    }
    if (b->rank == 1) {
        bd[0] = b->dims[0];
        bd[1] = 1;
    } else {
        memcpy(bd, b->dims, (size_t)rb * sizeof(int64_t));
    }
    int64_t m = ad[ra - 2], k = ad[ra - 1], kb = bd[rb - 2], n = bd[rb - 1];
    if (k != kb)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inner dimensions differ: A '%s' %s and B '%s' %s", a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    int br = (ra > rb ? ra : rb) - 2;
    size_t a_batch = 1, b_batch = 1, batch = 1;
    size_t as = 1, bs = 1; /* running strides in matrices, from the innermost batch dim */
    for (int i = br - 1; i >= 0; i--) {
        int ia = i - (br - (ra - 2)), ib = i - (br - (rb - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "batch dims of A '%s' %s and B '%s' %s do not broadcast",
                                 a->name, ei_shape_str(a->rank, a->dims, buf, sizeof buf),
                                 b->name, ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
        int64_t d = da > db ? da : db;
        if (da == 0 || db == 0) d = 0;
        s->batch_dims[i] = d;
        s->a_stride[i] = (da == 1) ? 0 : as;
        s->b_stride[i] = (db == 1) ? 0 : bs;
        as *= (size_t)da; /* products bounded by the (validated) input sizes */
        bs *= (size_t)db;
        a_batch *= (size_t)da;
        b_batch *= (size_t)db;
        batch *= (size_t)d;
    }
    int64_t od[EI_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < br; i++) od[orank++] = s->batch_dims[i];
    if (a->rank >= 2) od[orank++] = m;
    if (b->rank >= 2) od[orank++] = n;
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, orank, od));
    s->batch_rank = br;
    s->batch = batch;
    s->m = (size_t)m;
    s->n = (size_t)n;
    s->k = (size_t)k;
    s->fold = b_batch == 1 && a_batch == batch;
    size_t t = 1;
    if (!s->fold && batch < (size_t)ex->num_threads)
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
    size_t a_off = 0, b_off = 0, rem = bi;
    for (int i = s->batch_rank - 1; i >= 0; i--) {
        size_t d = (size_t)s->batch_dims[i], idx = rem % d;
        rem /= d;
        a_off += idx * s->a_stride[i];
        b_off += idx * s->b_stride[i];
    }
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
                       .ldc = s->n};
    size_t r0 = blk * s->block_rows, r1 = r0 + s->block_rows < s->m ? r0 + s->block_rows : s->m;
    ei_dense_gemm_block(&g, r0, r1, 0, s->n);
}

static ei_status mat_mul_run(ei_exec *ex, ei_node *node) {
    const mat_mul_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
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
                           .ldc = s->n};
        ei_dense_gemm_run(ex, &g);
        return EI_STATUS_OK;
    }
    mat_mul_args p = {s, a->data, b->data, y->data};
    size_t n_tasks = s->batch * s->row_blocks;
    if (n_tasks == 1) mat_mul_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, mat_mul_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_mat_mul = {mat_mul_prepare, mat_mul_infer, mat_mul_run, free};
