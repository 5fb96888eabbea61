/*
 * x86/f32_pool_avx2.c - AVX2 pooling passes (see ref/f32_pool.c): column max/sum over k
 * rows, and row max/sum along a window of k taps, vectorized along the output for stride
 * 1 (unaligned loads) and stride 2 (16 floats loaded and split into even and odd lanes);
 * other strides use the scalar loop. Bit-identical to ref: max_ps(v, m) keeps m when v is
 * NaN, as ref's v > m ? v : m, and the sums add in ref's order.
 * Contract: any n, unaligned; masked loads (no read past the last tap of the last output);
 * t and y must not overlap in the row passes.
 */
#include <float.h>
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"

static const int32_t ei_mask_tbl[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [0, r) set, r in [0, 8]. */
static inline __m256i ei_mask(size_t r) {
    return _mm256_loadu_si256((const __m256i *)(const void *)(ei_mask_tbl + 8 - r));
}

static inline __m256 ei_comb(int is_max, __m256 acc, __m256 v) {
    return is_max ? _mm256_max_ps(v, acc) : _mm256_add_ps(acc, v);
}

static inline void ei_cols(int is_max, size_t n, size_t k, const float *x, size_t ldx, float *t) {
    const __m256 init = _mm256_set1_ps(is_max ? -FLT_MAX : 0.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = init, b = init;
        for (size_t r = 0; r < k; r++) {
            a = ei_comb(is_max, a, _mm256_loadu_ps(x + r * ldx + i));
            b = ei_comb(is_max, b, _mm256_loadu_ps(x + r * ldx + i + 8));
        }
        _mm256_storeu_ps(t + i, a);
        _mm256_storeu_ps(t + i + 8, b);
    }
    for (; i < n; i += 8) {
        __m256i m = ei_mask(n - i < 8 ? n - i : 8);
        __m256 a = init;
        for (size_t r = 0; r < k; r++)
            a = ei_comb(is_max, a, _mm256_maskload_ps(x + r * ldx + i, m));
        _mm256_maskstore_ps(t + i, m, a);
    }
}

void ei_f32_pool_cols_max__avx2(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    ei_cols(1, n, k, x, ldx, t);
}

void ei_f32_pool_cols_sum__avx2(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    ei_cols(0, n, k, x, ldx, t);
}

/* Even (odd = 0) or odd (odd = 1) lanes of p[0..16), only p[0..avail) read. */
static inline __m256 ei_half(const float *p, int odd, size_t avail) {
    __m256 a, b;
    if (avail >= 16) {
        a = _mm256_loadu_ps(p);
        b = _mm256_loadu_ps(p + 8);
    } else {
        a = _mm256_maskload_ps(p, ei_mask(avail < 8 ? avail : 8));
        b = _mm256_maskload_ps(p + 8, ei_mask(avail > 8 ? avail - 8 : 0));
    }
    __m256 s = odd ? _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))
                   : _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* r <= 8 outputs starting at output o: y[o + j] = comb over taps of t[(o + j) s + tap]. */
static inline __m256 ei_rows_block(int is_max, size_t o, size_t r, size_t k, size_t stride,
                                   const float *t) {
    __m256 acc = _mm256_set1_ps(is_max ? -FLT_MAX : 0.0f);
    if (stride == 1) {
        __m256i m = ei_mask(r);
        for (size_t j = 0; j < k; j++) {
            __m256 v = r == 8 ? _mm256_loadu_ps(t + o + j) : _mm256_maskload_ps(t + o + j, m);
            acc = ei_comb(is_max, acc, v);
        }
    } else { /* stride 2: tap 0 from the even lanes at 2o, tap j >= 1 from the odd lanes at
              * 2o + j - 1, so the last lane read is the last tap needed */
        for (size_t j = 0; j < k; j++) {
            __m256 v =
                j == 0 ? ei_half(t + 2 * o, 0, 2 * r - 1) : ei_half(t + 2 * o + j - 1, 1, 2 * r);
            acc = ei_comb(is_max, acc, v);
        }
    }
    return acc;
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
    const __m256 sc = _mm256_set1_ps(scale);
    size_t o = 0;
    for (; o < n; o += 8) {
        size_t r = n - o < 8 ? n - o : 8;
        __m256 acc = ei_rows_block(is_max, o, r, k, stride, t);
        if (!is_max) acc = _mm256_mul_ps(acc, sc);
        if (r == 8)
            _mm256_storeu_ps(y + o, acc);
        else
            _mm256_maskstore_ps(y + o, ei_mask(r), acc);
    }
}

void ei_f32_pool_rows_max__avx2(size_t n, size_t k, size_t stride, const float *t, float *y) {
    ei_rows(1, n, k, stride, t, 1.0f, y);
}

void ei_f32_pool_rows_sum__avx2(size_t n, size_t k, size_t stride, const float *t, float scale,
                                float *y) {
    ei_rows(0, n, k, stride, t, scale, y);
}
