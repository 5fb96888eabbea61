/*
 * matmul_shape.h - NumPy matmul shapes shared by MatMul, MatMulInteger and QLinearMatMul:
 * 1-D operands promoted (and their dim dropped from the output), batch dims broadcast,
 * and the per-batch-entry matrix offsets. Dtype checks and the products stay in the ops.
 */
#ifndef EI_OPS_MATMUL_SHAPE_H
#define EI_OPS_MATMUL_SHAPE_H

#include "core/core.h"

typedef struct ei_matmul_shape {
    size_t m, n, k;
    int br;                                      /* batch rank */
    int64_t bdims[EI_MAX_RANK];                  /* broadcast batch dims */
    size_t astr[EI_MAX_RANK], bstr[EI_MAX_RANK]; /* in matrices; 0 = broadcast */
    size_t batch, a_batch, b_batch;              /* products of bdims / A's / B's batch dims */
    int orank;
    int64_t odims[EI_MAX_RANK]; /* the output's shape */
} ei_matmul_shape;

/* Checks ranks (>= 1), inner dims and batch broadcasting of a and b, named an and bn in
 * messages ("A"/"B" or "a"/"b"), and fills ms. */
ei_status ei_matmul_shape_infer(const ei_node *node, const ei_value *a, const ei_value *b,
                                const char *an, const char *bn, ei_matmul_shape *ms);

/* Offsets, in matrices, of A's and B's operands for batch entry bi. */
static inline void ei_matmul_batch_offsets(const ei_matmul_shape *ms, size_t bi, size_t *ao,
                                           size_t *bo) {
    size_t rem = bi, a_off = 0, b_off = 0;
    for (int d = ms->br - 1; d >= 0; d--) {
        size_t dd = (size_t)ms->bdims[d], idx = rem % dd;
        rem /= dd;
        a_off += idx * ms->astr[d];
        b_off += idx * ms->bstr[d];
    }
    *ao = a_off;
    *bo = b_off;
}

#endif
