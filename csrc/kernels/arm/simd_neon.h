/*
 * simd_neon.h - private to the neon kernel files: the EI_MAP loop that applies a vector
 * function to n floats (full vectors, then one stack-buffered tail that reads and writes nothing
 * past n), and the exp polynomial shared by the exp and activation families. Callers
 * clamp x into [-104, 89] first, each in the way its NaN and overflow contract needs.
 */
#ifndef EI_KERNELS_SIMD_NEON_H
#define EI_KERNELS_SIMD_NEON_H

#include <arm_neon.h>
#include <string.h>


#define EI_MAP(name, BODY)                                                                         \
    void ei_##name##__neon(size_t n, const float *x, float *y) {                                   \
        size_t i = 0;                                                                              \
        for (; i + 8 <= n; i += 8) {                                                               \
            float32x4_t r0 = BODY(vld1q_f32(x + i));                                               \
            float32x4_t r1 = BODY(vld1q_f32(x + i + 4));                                           \
            vst1q_f32(y + i, r0);                                                                  \
            vst1q_f32(y + i + 4, r1);                                                              \
        }                                                                                          \
        for (; i + 4 <= n; i += 4)                                                                 \
            vst1q_f32(y + i, BODY(vld1q_f32(x + i)));                                              \
        if (i < n) {                                                                               \
            float t[4] = {0};                                                                      \
            memcpy(t, x + i, (n - i) * sizeof(float));                                             \
            vst1q_f32(t, BODY(vld1q_f32(t)));                                                      \
            memcpy(y + i, t, (n - i) * sizeof(float));                                             \
        }                                                                                          \
    }

/* exp(x) for x already clamped to [-104, 89]: x = n ln2 + r with ln2 in two parts, exp(r)
 * by Taylor to r^7, scaled by 2^n without overflow in the intermediate steps. */
static inline float32x4_t ei_exp4_core(float32x4_t x) {
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t n1 = vshrq_n_s32(ni, 1);
    int32x4_t n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

#endif /* EI_KERNELS_SIMD_NEON_H */
