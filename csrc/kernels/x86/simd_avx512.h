/*
 * simd_avx512.h - private to the avx512 kernel files: the EI_MAP loop that applies a vector
 * function to n floats (full vectors, then one masked tail that reads and writes nothing
 * past n), and the exp polynomial shared by the exp and activation families. Callers
 * clamp x into [-104, 89] first, each in the way its NaN and overflow contract needs.
 */
#ifndef EI_KERNELS_SIMD_AVX512_H
#define EI_KERNELS_SIMD_AVX512_H

#include <immintrin.h>

static inline __mmask16 ei_tail_mask16(size_t r) {
    return (__mmask16)((1u << r) - 1u);
}

#define EI_MAP(name, BODY)                                                                         \
    void ei_##name##__avx512(size_t n, const float *x, float *y) {                                 \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m512 r0 = BODY(_mm512_loadu_ps(x + i));                                              \
            __m512 r1 = BODY(_mm512_loadu_ps(x + i + 16));                                         \
            _mm512_storeu_ps(y + i, r0);                                                           \
            _mm512_storeu_ps(y + i + 16, r1);                                                      \
        }                                                                                          \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, BODY(_mm512_loadu_ps(x + i)));                                 \
        if (i < n) {                                                                               \
            __mmask16 m = ei_tail_mask16(n - i);                                                   \
            _mm512_mask_storeu_ps(y + i, m, BODY(_mm512_maskz_loadu_ps(m, x + i)));                \
        }                                                                                          \
    }

/* exp(x) for x already clamped to [-104, 89]: x = n ln2 + r with ln2 in two parts, exp(r)
 * by Taylor to r^7, scaled by 2^n without overflow in the intermediate steps. */
static inline __m512 ei_exp16_core(__m512 x) {
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

#endif /* EI_KERNELS_SIMD_AVX512_H */
