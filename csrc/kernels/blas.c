/*
 * blas.c - ei_sgemm, the one GEMM entry point: cblas_sgemm (row-major) when built with
 * OpenBLAS (EI_HAVE_BLAS; EI_BLAS_SCIPY_PREFIX=1 for the scipy-openblas32 wheel, whose
 * symbols are scipy_cblas_sgemm etc.), else the f32_gemm kernel slot. OpenBLAS is made
 * single-threaded once, because the engine's thread pool owns parallelism.
 */
#include <limits.h>

#include "edgeinfer/edgeinfer.h"
#include "kernels/kernels.h"

#if defined(EI_HAVE_BLAS)
#include <pthread.h>

#include <cblas.h>

#if defined(EI_BLAS_SCIPY_PREFIX) && EI_BLAS_SCIPY_PREFIX
#define EI_CBLAS_SGEMM scipy_cblas_sgemm
#define EI_OPENBLAS_SET_NUM_THREADS scipy_openblas_set_num_threads
#else
#define EI_CBLAS_SGEMM cblas_sgemm
#define EI_OPENBLAS_SET_NUM_THREADS openblas_set_num_threads
#endif

static pthread_once_t ei_blas_once = PTHREAD_ONCE_INIT;
static void ei_blas_init(void) {
    EI_OPENBLAS_SET_NUM_THREADS(1);
}

/* cblas takes int sizes and insists on lda >= max(1, row length); anything else
 * (huge sizes, a caller's lda of 0 for an empty operand) goes to the built-in kernel. */
static int ei_blas_ok(size_t rows_cols, size_t ld) {
    return ld <= INT_MAX && rows_cols <= INT_MAX && ld >= (rows_cols ? rows_cols : 1);
}
#endif

void ei_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
              size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc) {
    if (m == 0 || n == 0) return;
#if defined(EI_HAVE_BLAS)
    if (k > 0 && m <= INT_MAX && n <= INT_MAX && k <= INT_MAX && ei_blas_ok(trans_a ? m : k, lda) &&
        ei_blas_ok(trans_b ? k : n, ldb) && ei_blas_ok(n, ldc)) {
        pthread_once(&ei_blas_once, ei_blas_init);
        EI_CBLAS_SGEMM(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                       trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a,
                       (int)lda, b, (int)ldb, beta, c, (int)ldc);
        return;
    }
#endif
    ei_kernels()->f32_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

int ei_has_blas(void) {
#if defined(EI_HAVE_BLAS)
    return 1;
#else
    return 0;
#endif
}
