/*
 * arm/f32_pool_neon.c - NEON (aarch64) pooling passes (see ref/f32_pool.c): 4 outputs per
 * vector, stride 1 by unaligned loads, stride 2 by vld2q (even/odd split); tails and other
 * strides scalar. Max as compare + select (v > m ? v : m), so NaN never wins and the
 * results are bit-identical to ref; sums add in ref's order.
 * Contract: any n, unaligned, no read past the last tap of the last output; t and y must
 * not overlap in the row passes.
 */
#include <arm_neon.h>
#include <float.h>

#include "kernels/kernels_isa.h"

static inline float32x4_t ei_comb(int is_max, float32x4_t acc, float32x4_t v) {
    return is_max ? vbslq_f32(vcgtq_f32(v, acc), v, acc) : vaddq_f32(acc, v);
}

static inline float ei_comb1(int is_max, float acc, float v) {
    return is_max ? (v > acc ? v : acc) : acc + v;
}

static inline void ei_cols(int is_max, size_t n, size_t k, const float *x, size_t ldx, float *t) {
    const float init = is_max ? -FLT_MAX : 0.0f;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t a = vdupq_n_f32(init), b = a;
        for (size_t r = 0; r < k; r++) {
            a = ei_comb(is_max, a, vld1q_f32(x + r * ldx + i));
            b = ei_comb(is_max, b, vld1q_f32(x + r * ldx + i + 4));
        }
        vst1q_f32(t + i, a);
        vst1q_f32(t + i + 4, b);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t a = vdupq_n_f32(init);
        for (size_t r = 0; r < k; r++)
            a = ei_comb(is_max, a, vld1q_f32(x + r * ldx + i));
        vst1q_f32(t + i, a);
    }
    for (; i < n; i++) {
        float a = init;
        for (size_t r = 0; r < k; r++)
            a = ei_comb1(is_max, a, x[r * ldx + i]);
        t[i] = a;
    }
}

void ei_f32_pool_cols_max__neon(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    ei_cols(1, n, k, x, ldx, t);
}

void ei_f32_pool_cols_sum__neon(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    ei_cols(0, n, k, x, ldx, t);
}

static inline void ei_rows(int is_max, size_t n, size_t k, size_t stride, const float *t,
                           float scale, float *y) {
    const float init = is_max ? -FLT_MAX : 0.0f;
    size_t o = 0;
    if (stride == 1) {
        for (; o + 4 <= n; o += 4) {
            float32x4_t a = vdupq_n_f32(init);
            for (size_t j = 0; j < k; j++)
                a = ei_comb(is_max, a, vld1q_f32(t + o + j));
            vst1q_f32(y + o, is_max ? a : vmulq_f32(a, vdupq_n_f32(scale)));
        }
    } else if (stride == 2 && k >= 2) {
        /* vld2q at 2o + j reads 8 floats, up to t[2o + j + 7]; the last tap needed is
         * t[2(o + 3) + k - 1], so the vector loop runs while j + 7 <= 6 + k - 1. */
        for (; o + 4 <= n; o += 4) {
            float32x4_t a = vdupq_n_f32(init);
            for (size_t j = 0; j < k; j++) {
                /* tap j: even lanes at 2o + j, or for the last tap the odd lanes one earlier */
                float32x4_t v = j + 1 < k ? vld2q_f32(t + 2 * o + j).val[0]
                                          : vld2q_f32(t + 2 * o + j - 1).val[1];
                a = ei_comb(is_max, a, v);
            }
            vst1q_f32(y + o, is_max ? a : vmulq_f32(a, vdupq_n_f32(scale)));
        }
    }
    for (; o < n; o++) {
        float a = init;
        for (size_t j = 0; j < k; j++)
            a = ei_comb1(is_max, a, t[o * stride + j]);
        y[o] = is_max ? a : a * scale;
    }
}

void ei_f32_pool_rows_max__neon(size_t n, size_t k, size_t stride, const float *t, float *y) {
    ei_rows(1, n, k, stride, t, 1.0f, y);
}

void ei_f32_pool_rows_sum__neon(size_t n, size_t k, size_t stride, const float *t, float scale,
                                float *y) {
    ei_rows(0, n, k, stride, t, scale, y);
}
