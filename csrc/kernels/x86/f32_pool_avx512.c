/*
 * x86/f32_pool_avx512.c - AVX-512F pooling passes (see ref/f32_pool.c and the AVX2 file):
 * 16 outputs per vector, stride 2 by loading 32 floats and picking the even or odd lanes
 * (vpermt2ps); masked loads and stores for tails. Bit-identical to ref.
 * Contract: any n, unaligned, no read past the last tap of the last output; t and y must
 * not overlap in the row passes.
 */
#include <float.h>
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"

static inline __mmask16 ei_mask16(size_t r) {
    return (__mmask16)(r >= 16 ? 0xffffu : (1u << r) - 1u);
}

static inline __m512 ei_comb(int is_max, __m512 acc, __m512 v) {
    return is_max ? _mm512_max_ps(v, acc) : _mm512_add_ps(acc, v);
}

static inline void ei_cols(int is_max, size_t n, size_t k, const float *x, size_t ldx, float *t) {
    const __m512 init = _mm512_set1_ps(is_max ? -FLT_MAX : 0.0f);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = init, b = init;
        for (size_t r = 0; r < k; r++) {
            a = ei_comb(is_max, a, _mm512_loadu_ps(x + r * ldx + i));
            b = ei_comb(is_max, b, _mm512_loadu_ps(x + r * ldx + i + 16));
        }
        _mm512_storeu_ps(t + i, a);
        _mm512_storeu_ps(t + i + 16, b);
    }
    for (; i < n; i += 16) {
        __mmask16 m = ei_mask16(n - i);
        __m512 a = init;
        for (size_t r = 0; r < k; r++)
            a = ei_comb(is_max, a, _mm512_maskz_loadu_ps(m, x + r * ldx + i));
        _mm512_mask_storeu_ps(t + i, m, a);
    }
}

void ei_f32_pool_cols_max__avx512(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    ei_cols(1, n, k, x, ldx, t);
}

void ei_f32_pool_cols_sum__avx512(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    ei_cols(0, n, k, x, ldx, t);
}

/* Even or odd lanes of p[0..32), only p[0..avail) read. */
static inline __m512 ei_half(const float *p, int odd, size_t avail) {
    __m512 a = _mm512_maskz_loadu_ps(ei_mask16(avail), p);
    __m512 b = _mm512_maskz_loadu_ps(ei_mask16(avail > 16 ? avail - 16 : 0), p + 16);
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_ps(a, odd ? od : ev, b);
}

static inline void ei_rows(int is_max, size_t n, size_t k, size_t stride, const float *t,
                           float scale, float *y) {
    if ((stride != 1 && stride != 2) || k == 0) {
        for (size_t o = 0; o < n; o++) {
            float a = is_max ? -FLT_MAX : 0.0f;
            for (size_t j = 0; j < k; j++) {
                float v = t[o * stride + j];
                a = is_max ? (v > a ? v : a) : a + v;
            }
            y[o] = is_max ? a : a * scale;
        }
        return;
    }
    const __m512 sc = _mm512_set1_ps(scale);
    for (size_t o = 0; o < n; o += 16) {
        size_t r = n - o < 16 ? n - o : 16;
        __mmask16 m = ei_mask16(r);
        __m512 acc = _mm512_set1_ps(is_max ? -FLT_MAX : 0.0f);
        for (size_t j = 0; j < k; j++) {
            __m512 v;
            if (stride == 1)
                v = _mm512_maskz_loadu_ps(m, t + o + j);
            else if (j == 0)
                v = ei_half(t + 2 * o, 0, 2 * r - 1);
            else
                v = ei_half(t + 2 * o + j - 1, 1, 2 * r);
            acc = ei_comb(is_max, acc, v);
        }
        if (!is_max) acc = _mm512_mul_ps(acc, sc);
        _mm512_mask_storeu_ps(y + o, m, acc);
    }
}

void ei_f32_pool_rows_max__avx512(size_t n, size_t k, size_t stride, const float *t, float *y) {
    ei_rows(1, n, k, stride, t, 1.0f, y);
}

void ei_f32_pool_rows_sum__avx512(size_t n, size_t k, size_t stride, const float *t, float scale,
                                  float *y) {
    ei_rows(0, n, k, stride, t, scale, y);
}
