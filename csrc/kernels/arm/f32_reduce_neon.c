/*
 * arm/f32_reduce_neon.c - NEON (aarch64) reductions. sum: 4x4 partial sums combined at
 * the end (order differs from ref; |difference| within about n * 2^-24 * sum|x|). max:
 * NaN anywhere returns the first NaN, as ref; +0 vs -0 either. Scalar tails.
 */
#include <arm_neon.h>
#include <math.h>

#include "kernels/kernels_isa.h"

float ei_f32_sum__neon(size_t n, const float *x) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vaddq_f32(s0, vld1q_f32(x + i));
        s1 = vaddq_f32(s1, vld1q_f32(x + i + 4));
        s2 = vaddq_f32(s2, vld1q_f32(x + i + 8));
        s3 = vaddq_f32(s3, vld1q_f32(x + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        s0 = vaddq_f32(s0, vld1q_f32(x + i));
    float tail = 0.0f;
    for (; i < n; i++)
        tail += x[i];
    return vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3))) + tail;
}

float ei_f32_max__neon(size_t n, const float *x) {
    float32x4_t m0 = vdupq_n_f32(-INFINITY), m1 = m0;
    uint32x4_t bad = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
        m0 = vmaxq_f32(m0, v0);
        m1 = vmaxq_f32(m1, v1);
        bad = vorrq_u32(bad, vmvnq_u32(vandq_u32(vceqq_f32(v0, v0), vceqq_f32(v1, v1))));
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        m0 = vmaxq_f32(m0, v);
        bad = vorrq_u32(bad, vmvnq_u32(vceqq_f32(v, v)));
    }
    float m = vmaxvq_f32(vmaxq_f32(m0, m1));
    int any_nan = vmaxvq_u32(bad) != 0;
    for (; i < n; i++) {
        if (x[i] != x[i])
            any_nan = 1;
        else if (x[i] > m)
            m = x[i];
    }
    if (any_nan) {
        for (size_t j = 0; j < n; j++)
            if (x[j] != x[j]) return x[j];
    }
    return m;
}
