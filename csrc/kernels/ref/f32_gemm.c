/*
 * ref/f32_gemm.c - reference SGEMM, C = alpha*op(A)*op(B) + beta*C, row-major, all four
 * transpose combinations. Simple loops in an order that keeps the innermost loop
 * contiguous (i-k-j when B is not transposed, dot products when it is). beta == 0 means
 * C is never read, so it may hold NaN. Used when OpenBLAS is not built in.
 */
#include "kernels/kernels.h"

void ei_f32_gemm__ref(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                      const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                      size_t ldc) {
    for (size_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (!trans_b) {
            /* C[i,:] = beta*C[i,:] + sum_p (alpha*A[i,p]) * B[p,:] */
            if (beta == 0.0f) {
                for (size_t j = 0; j < n; j++)
                    ci[j] = 0.0f;
            } else if (beta != 1.0f) {
                for (size_t j = 0; j < n; j++)
                    ci[j] *= beta;
            }
            for (size_t p = 0; p < k; p++) {
                float aip = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
                const float *bp = b + p * ldb;
                for (size_t j = 0; j < n; j++)
                    ci[j] += aip * bp[j];
            }
        } else {
            /* C[i,j] = alpha * dot(A[i,:], B[j,:]) + beta*C[i,j] */
            for (size_t j = 0; j < n; j++) {
                const float *bj = b + j * ldb;
                float s = 0.0f;
                if (!trans_a) {
                    const float *ai = a + i * lda;
                    for (size_t p = 0; p < k; p++)
                        s += ai[p] * bj[p];
                } else {
                    for (size_t p = 0; p < k; p++)
                        s += a[p * lda + i] * bj[p];
                }
                ci[j] = (beta == 0.0f) ? alpha * s : alpha * s + beta * ci[j];
            }
        }
    }
}
