/*
 * x86/f32_reduce_avx512.c - AVX-512F reductions. sum: 4x16 partial sums, combined at the
 * end (order differs from ref; |difference| within about n * 2^-24 * sum|x|). max: NaN
 * anywhere returns the first NaN, as ref; +0 vs -0 either. Masked tails, no overread.
 */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels_isa.h"

static inline __mmask16 ei_tail_mask16(size_t r) {
    return (__mmask16)((1u << r) - 1u);
}

float ei_f32_sum__avx512(size_t n, const float *x) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
        s1 = _mm512_add_ps(s1, _mm512_loadu_ps(x + i + 16));
        s2 = _mm512_add_ps(s2, _mm512_loadu_ps(x + i + 32));
        s3 = _mm512_add_ps(s3, _mm512_loadu_ps(x + i + 48));
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_add_ps(s0, _mm512_loadu_ps(x + i));
    if (i < n) s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(ei_tail_mask16(n - i), x + i));
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float ei_f32_max__avx512(size_t n, const float *x) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    __mmask16 bad = 0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
        m0 = _mm512_max_ps(m0, v0);
        m1 = _mm512_max_ps(m1, v1);
        bad |= _mm512_cmp_ps_mask(v0, v1, _CMP_UNORD_Q);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        m0 = _mm512_max_ps(m0, v);
        bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (i < n) {
        __m512 v = _mm512_mask_loadu_ps(ninf, ei_tail_mask16(n - i), x + i);
        m1 = _mm512_max_ps(m1, v);
        bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (bad) {
        for (size_t j = 0; j < n; j++)
            if (x[j] != x[j]) return x[j];
    }
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}
