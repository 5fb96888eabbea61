/*
 * x86/f32_norm_avx2.c - AVX2+FMA normalization passes (see ref/f32_norm.c): the sum of
 * squared deviations in 2x8 lanes added at the end (order differs from ref: within about
 * n * 2^-24 of the sum), and y = (x - mean) * inv * scale + bias with the last step fused
 * (within one rounding of ref). Contract: any n, unaligned, masked tail (no overread),
 * y may equal x.
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx2.h"

float ei_f32_sumsq_dev__avx2(size_t n, const float *x, float c) {
    const __m256 vc = _mm256_set1_ps(c);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), vc);
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vc);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    for (; i < n; i += 8) {
        __m256i m = ei_tail_mask(n - i < 8 ? n - i : 8);
        __m256 d =
            _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), vc), _mm256_castsi256_ps(m));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

void ei_f32_norm_affine__avx2(size_t n, const float *x, float mean, float inv, const float *scale,
                              const float *bias, float *y) {
    const __m256 vm = _mm256_set1_ps(mean), vi = _mm256_set1_ps(inv);
    size_t i = 0;
    for (; i < n; i += 8) {
        size_t r = n - i < 8 ? n - i : 8;
        __m256i m = ei_tail_mask(r);
        __m256 xv = r == 8 ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, m);
        __m256 sv = r == 8 ? _mm256_loadu_ps(scale + i) : _mm256_maskload_ps(scale + i, m);
        __m256 v = _mm256_mul_ps(_mm256_sub_ps(xv, vm), vi);
        if (bias) {
            __m256 bv = r == 8 ? _mm256_loadu_ps(bias + i) : _mm256_maskload_ps(bias + i, m);
            v = _mm256_fmadd_ps(v, sv, bv);
        } else {
            v = _mm256_mul_ps(v, sv);
        }
        if (r == 8)
            _mm256_storeu_ps(y + i, v);
        else
            _mm256_maskstore_ps(y + i, m, v);
    }
}
