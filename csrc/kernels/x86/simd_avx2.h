/*
 * simd_avx2.h - private to the avx2 kernel files: the EI_MAP loop that applies a vector
 * function to n floats (full vectors, then one masked tail that reads and writes nothing
 * past n), and the exp polynomial shared by the exp and activation families. Callers
 * clamp x into [-104, 89] first, each in the way its NaN and overflow contract needs.
 */
#ifndef EI_KERNELS_SIMD_AVX2_H
#define EI_KERNELS_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>

static const int32_t ei_mask_tbl[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i ei_tail_mask(size_t r) {
    return _mm256_loadu_si256((const __m256i *)(const void *)(ei_mask_tbl + 8 - r));
}

#define EI_MAP(name, BODY)                                                                         \
    void ei_##name##__avx2(size_t n, const float *x, float *y) {                                   \
        size_t i = 0;                                                                              \
        for (; i + 16 <= n; i += 16) {                                                             \
            __m256 r0 = BODY(_mm256_loadu_ps(x + i));                                              \
            __m256 r1 = BODY(_mm256_loadu_ps(x + i + 8));                                          \
            _mm256_storeu_ps(y + i, r0);                                                           \
            _mm256_storeu_ps(y + i + 8, r1);                                                       \
        }                                                                                          \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(y + i, BODY(_mm256_loadu_ps(x + i)));                                 \
        if (i < n) {                                                                               \
            __m256i m = ei_tail_mask(n - i);                                                       \
            _mm256_maskstore_ps(y + i, m, BODY(_mm256_maskload_ps(x + i, m)));                     \
        }                                                                                          \
    }

/* exp(x) for x already clamped to [-104, 89]: x = n ln2 + r with ln2 in two parts, exp(r)
 * by Taylor to r^7, scaled by 2^n without overflow in the intermediate steps. */
static inline __m256 ei_exp8_core(__m256 x) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

#endif /* EI_KERNELS_SIMD_AVX2_H */
