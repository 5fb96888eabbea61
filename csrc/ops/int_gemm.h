/*
 * int_gemm.h - uint8/int8 helpers that the integer matmuls and convolutions
 * (integer_ops.c, qlinear.c, int_conv.h) share: dtype test, widening load, and one output
 * row of a zero-point-corrected product accumulated in uint32 (wrapping like onnxruntime's
 * int32 accumulators, with defined overflow). Requantization stays in the ops.
 */
#ifndef EI_OPS_INT_GEMM_H
#define EI_OPS_INT_GEMM_H

#include <string.h>

#include "core/core.h"

static inline bool ei_q8_is(ei_dtype t) {
    return t == EI_DTYPE_U8 || t == EI_DTYPE_I8;
}

/* Element i of a uint8 (t == U8) or int8 buffer, widened. */
static inline int32_t ei_q8_load(ei_dtype t, const void *p, size_t i) {
    return t == EI_DTYPE_U8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

/* acc[j] = sum over kk < k of (a[arow + kk] - za) * (b[bmat + kk * n + j] - bz[j]) for
 * j < n, in uint32. a has dtype at, b dtype bt (uint8 or int8). */
static inline void ei_q8_gemm_row(ei_dtype at, const void *a, size_t arow, int32_t za, ei_dtype bt,
                                  const void *b, size_t bmat, const int32_t *bz, size_t n, size_t k,
                                  uint32_t *acc) {
    memset(acc, 0, n * sizeof *acc);
    for (size_t kk = 0; kk < k; kk++) {
        int32_t av = ei_q8_load(at, a, arow + kk) - za;
        if (av == 0) continue;
        const size_t boff = bmat + kk * n;
        if (bt == EI_DTYPE_U8) {
            const uint8_t *bp = (const uint8_t *)b + boff;
            for (size_t j = 0; j < n; j++)
                acc[j] += (uint32_t)(av * ((int32_t)bp[j] - bz[j]));
        } else {
            const int8_t *bp = (const int8_t *)b + boff;
            for (size_t j = 0; j < n; j++)
                acc[j] += (uint32_t)(av * ((int32_t)bp[j] - bz[j]));
        }
    }
}

#endif
