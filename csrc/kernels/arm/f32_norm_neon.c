/*
 * arm/f32_norm_neon.c - NEON (aarch64) normalization passes (see ref/f32_norm.c and the
 * AVX2 file): squared deviations summed in 2x4 lanes, the affine step with its last
 * multiply-add fused. Contract: any n, unaligned, scalar tail (no overread), y may equal x.
 */
#include <arm_neon.h>

#include "kernels/kernels_isa.h"

float ei_f32_sumsq_dev__neon(size_t n, const float *x, float c) {
    const float32x4_t vc = vdupq_n_f32(c);
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t d0 = vsubq_f32(vld1q_f32(x + i), vc);
        float32x4_t d1 = vsubq_f32(vld1q_f32(x + i + 4), vc);
        s0 = vfmaq_f32(s0, d0, d0);
        s1 = vfmaq_f32(s1, d1, d1);
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) {
        float d = x[i] - c;
        s += d * d;
    }
    return s;
}

void ei_f32_norm_affine__neon(size_t n, const float *x, float mean, float inv, const float *scale,
                              const float *bias, float *y) {
    const float32x4_t vm = vdupq_n_f32(mean), vi = vdupq_n_f32(inv);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vmulq_f32(vsubq_f32(vld1q_f32(x + i), vm), vi);
        if (bias)
            v = vfmaq_f32(vld1q_f32(bias + i), v, vld1q_f32(scale + i));
        else
            v = vmulq_f32(v, vld1q_f32(scale + i));
        vst1q_f32(y + i, v);
    }
    for (; i < n; i++) {
        float v = (x[i] - mean) * inv * scale[i];
        y[i] = bias ? v + bias[i] : v;
    }
}
