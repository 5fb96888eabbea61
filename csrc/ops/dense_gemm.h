/*
 * dense_gemm.h - one matrix product split over the session's thread pool by row or
 * column blocks (shared by Gemm and MatMul). ei_sgemm itself is single-threaded; this
 * picks how many tasks are worth it from the problem size, and applies the fused
 * epilogue (bias over N, activation) to each block while it is still in cache.
 * When B is a constant packed once at creation (ei_dense_packed_b), the blocks go to the
 * packed-B micro-kernel (kernels/gemm.h) with the epilogue fused into its stores;
 * otherwise to ei_sgemm.
 */
#ifndef EI_OPS_DENSE_GEMM_H
#define EI_OPS_DENSE_GEMM_H

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* Below this many multiply-adds a product is not worth a second thread. */
#define EI_DENSE_MIN_TASK_FLOPS ((size_t)1 << 17)

typedef struct ei_dense_gemm {
    int trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    size_t lda, ldb;
    float *c;
    size_t ldc;
    /* Epilogue, applied to each block right after its product: C[i][j] += bias[j], then
     * act. NULL: none. */
    const float *bias;
    const ei_act *act;
    /* Optional: B packed by gk->pack_b (then trans_a == 0, alpha == 1, beta == 0). */
    const ei_gemm_kernel *gk;
    const float *packed_b;
    /* split */
    size_t n_tasks, block; /* block rows (split_rows) or columns per task */
    int split_rows;
} ei_dense_gemm;

/* How many tasks a product of m*n*k multiply-adds deserves with num_threads threads. */
static inline size_t ei_dense_task_count(size_t m, size_t n, size_t k, int num_threads) {
    size_t work = 0;
    if (num_threads <= 1 || !ei_size_mul(m, n, &work) || !ei_size_mul(work, k ? k : 1, &work))
        return 1;
    size_t t = work / EI_DENSE_MIN_TASK_FLOPS;
    if (t > (size_t)num_threads) t = (size_t)num_threads;
    return t ? t : 1;
}

/* The epilogue on C block rows [0, m) x columns [c0, c0 + n), c pointing at its start. */
static inline void ei_dense_gemm_epilogue(const ei_dense_gemm *g, float *c, size_t m, size_t c0,
                                          size_t n) {
    if (!g->bias && (!g->act || g->act->kind == EI_ACT_KIND_NONE)) return;
    for (size_t i = 0; i < m; i++) {
        float *row = c + i * g->ldc;
        if (g->bias) ei_kernels()->f32_vadd(n, row, g->bias + c0, row);
        if (g->act) ei_f32_act_apply(g->act, n, row);
    }
}

/* C block [r0, r1) x [c0, c1) of the product, then the epilogue. k == 0 writes beta*C
 * (or zeros). */
static inline void ei_dense_gemm_block(const ei_dense_gemm *g, size_t r0, size_t r1, size_t c0,
                                       size_t c1) {
    if (r1 <= r0 || c1 <= c0) return;
    size_t m = r1 - r0, n = c1 - c0;
    float *c = g->c + r0 * g->ldc + c0;
    if (g->packed_b) {
        ei_gemm_epilogue ep = {g->bias, 1, NULL, 0, {EI_ACT_KIND_NONE, 0.0f, 0.0f}};
        if (g->act) ep.act = *g->act;
        g->gk->gemm_pb(g->k, g->a, g->lda, g->packed_b, g->c, g->ldc, &ep, r0, r1, c0, c1);
        return;
    }
    if (g->k == 0) {
        for (size_t i = 0; i < m; i++) {
            float *row = c + i * g->ldc;
            if (g->beta == 0.0f) memset(row, 0, n * sizeof(float));
            else ei_kernels()->f32_vmulc(n, row, g->beta, row);
        }
    } else {
        const float *a = g->trans_a ? g->a + r0 : g->a + r0 * g->lda;
        const float *b = g->trans_b ? g->b + c0 * g->ldb : g->b + c0;
        ei_sgemm(g->trans_a, g->trans_b, m, n, g->k, g->alpha, a, g->lda, b, g->ldb, g->beta, c,
                 g->ldc);
    }
    ei_dense_gemm_epilogue(g, c, m, c0, n);
}

static inline void ei_dense_gemm_task(void *arg, size_t task, int thread) {
    (void)thread;
    const ei_dense_gemm *g = (const ei_dense_gemm *)arg;
    size_t lo = task * g->block;
    if (g->split_rows) {
        size_t hi = lo + g->block < g->m ? lo + g->block : g->m;
        ei_dense_gemm_block(g, lo, hi, 0, g->n);
    } else {
        size_t hi = lo + g->block < g->n ? lo + g->block : g->n;
        ei_dense_gemm_block(g, 0, g->m, lo, hi);
    }
}

/* Fills the split fields of g for a product run with max_tasks tasks at most. */
static inline void ei_dense_gemm_plan(ei_dense_gemm *g, size_t max_tasks) {
    size_t t = max_tasks ? max_tasks : 1;
    /* Rows when there are enough of them, else columns in multiples of 16. */
    g->split_rows = g->m >= t * 4 || g->m >= g->n;
    size_t extent = g->split_rows ? g->m : g->n;
    if (extent == 0) {
        g->n_tasks = 0;
        g->block = 1;
        return;
    }
    if (t > extent) t = extent;
    size_t block = (extent + t - 1) / t;
    if (!g->split_rows && block < extent) {
        /* Column blocks start on a packed panel boundary. */
        size_t q = g->packed_b && g->gk->nr > 16 ? g->gk->nr : 16;
        block = (block + q - 1) / q * q;
    }
    g->block = block;
    g->n_tasks = (extent + block - 1) / block;
}

/* A constant B[K,N] (trans_b: stored [N][K]) packed once for the packed-B kernel, kept
 * with the op's state. ei_dense_packed_b_update packs on the first call and again only
 * when the data pointer or shape changes (the optimizer may rewrite weights after
 * prepare, so ops pack at infer). */
typedef struct ei_dense_packed_b {
    const ei_gemm_kernel *gk;
    float *data;
    const void *src;
    size_t k, n;
    int trans_b;
} ei_dense_packed_b;

static inline void ei_dense_packed_b_free(ei_dense_packed_b *p) {
    ei_aligned_free(p->data);
    memset(p, 0, sizeof *p);
}

/* Drops the packed copy and tells the executor the op reads input 1 (B) again. */
static inline void ei_dense_packed_b_drop(ei_node *node, ei_dense_packed_b *p) {
    ei_dense_packed_b_free(p);
    node->packed_inputs &= ~2u;
}

/* Whether the packed kernel should take a product with constant B: tests/c/bench_gemm.c
 * measured it at or above cblas_sgemm on every constant-weight shape of the benchmark
 * models (1.1x on MiniLM's products, 4x on a batch-1 1280x1000 GEMV). EI_GEMM=blas
 * turns it off (ei_gemm_packed_enabled). */
static inline bool ei_dense_packed_wanted(size_t m, size_t n, size_t k) {
    (void)m;
    return ei_gemm_packed_enabled() && n > 0 && k > 0;
}

static inline ei_status ei_dense_packed_b_update(ei_node *node, ei_dense_packed_b *p,
                                                 const ei_value *b, size_t k, size_t n,
                                                 int trans_b) {
    /* Same data, or data the executor freed after we packed it (node->packed_inputs). */
    if (p->data && (p->src == b->data || !b->data) && p->k == k && p->n == n &&
        p->trans_b == trans_b) {
        node->packed_inputs |= 2u;
        return EI_STATUS_OK;
    }
    if (!b->data)
        return ei_node_error(node, EI_STATUS_INTERNAL,
                             "weights '%s' were released after packing for another shape",
                             b->name);
    ei_dense_packed_b_free(p);
    const ei_gemm_kernel *gk = ei_gemm_kernel_get();
    size_t bytes = gk->pack_b_size(k, n);
    if (!bytes) return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "weights '%s' are too large to pack", b->name);
    p->data = ei_aligned_alloc(bytes);
    if (!p->data)
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory packing '%s'",
                             b->name);
    gk->pack_b(k, n, b->data, trans_b ? k : n, trans_b, p->data);
    p->gk = gk;
    p->src = b->data;
    p->k = k;
    p->n = n;
    p->trans_b = trans_b;
    node->packed_inputs |= 2u;
    return EI_STATUS_OK;
}

/* Runs the product over ex's pool. */
static inline void ei_dense_gemm_run(const ei_exec *ex, ei_dense_gemm *g) {
    ei_dense_gemm_plan(g, ei_dense_task_count(g->m, g->n, g->k, ex->num_threads));
    if (g->n_tasks == 1) ei_dense_gemm_task(g, 0, 0);
    else if (g->n_tasks > 1) ei_threadpool_run(ex->pool, g->n_tasks, ei_dense_gemm_task, g);
}

#endif /* EI_OPS_DENSE_GEMM_H */
