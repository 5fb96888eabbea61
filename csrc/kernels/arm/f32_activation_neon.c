/*
 * arm/f32_activation_neon.c - NEON (aarch64) activations: relu and clamp as compare +
 * select (bit-identical to ref, unlike fmax/fmin which turn -0 into +0 and NaN into the
 * default NaN), sigmoid and tanh with the algorithms of x86/f32_activation_avx2.c
 * (Cody-Waite exp, degree-7 Taylor, 2^n in two halves; odd polynomial for |tanh x| small).
 * Measured under qemu-aarch64 (test_kernels, whole float range): sigmoid 2 ulp, tanh 2 ulp
 * vs ref (libm); NaN propagates, saturation exact.
 * Contract: any n, unaligned, in place allowed; tail through a stack buffer (no overread).
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_isa.h"
#include "kernels/arm/simd_neon.h"


/* x < 0 ? 0 : x (NaN and -0 pass through, as onnxruntime). */
static inline float32x4_t ei_relu4(float32x4_t x) {
    return vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), x);
}
EI_MAP(f32_relu, ei_relu4)

static inline float32x4_t ei_clamp4(float32x4_t v, float32x4_t lo, float32x4_t hi) {
    v = vbslq_f32(vcltq_f32(v, lo), lo, v);
    return vbslq_f32(vcgtq_f32(v, hi), hi, v);
}

void ei_f32_clamp__neon(size_t n, const float *x, float lo, float hi, float *y) {
    const float32x4_t vlo = vdupq_n_f32(lo), vhi = vdupq_n_f32(hi);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, ei_clamp4(vld1q_f32(x + i), vlo, vhi));
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, (n - i) * sizeof(float));
        vst1q_f32(t, ei_clamp4(vld1q_f32(t), vlo, vhi));
        memcpy(y + i, t, (n - i) * sizeof(float));
    }
}

/* exp(x) for x clamped to [-104, 88.7]; callers patch NaN lanes. */
static inline float32x4_t ei_exp4(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f)), vdupq_n_f32(88.7f));
    return ei_exp4_core(x);
}

static inline float32x4_t ei_keep_nan(float32x4_t y, float32x4_t x) {
    return vbslq_f32(vmvnq_u32(vceqq_f32(x, x)), x, y);
}

static inline float32x4_t ei_sigmoid4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t e = ei_exp4(vnegq_f32(vabsq_f32(x)));
    float32x4_t num = vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), e, one);
    return ei_keep_nan(vdivq_f32(num, vaddq_f32(one, e)), x);
}
EI_MAP(f32_sigmoid, ei_sigmoid4)

static inline float32x4_t ei_tanh4(float32x4_t x) {
    const float32x4_t one = vdupq_n_f32(1.0f);
    float32x4_t ax = vabsq_f32(x);
    float32x4_t z = vmulq_f32(ax, ax);
    float32x4_t p = vdupq_n_f32(-0.005703725852072239f);
    p = vfmaq_f32(vdupq_n_f32(0.02063782326877117f), p, z);
    p = vfmaq_f32(vdupq_n_f32(-0.0537392720580101f), p, z);
    p = vfmaq_f32(vdupq_n_f32(0.1333143562078476f), p, z);
    p = vfmaq_f32(vdupq_n_f32(-0.3333328068256378f), p, z);
    float32x4_t small = vfmaq_f32(ax, vmulq_f32(ax, z), p);
    float32x4_t c = vminq_f32(ax, vdupq_n_f32(9.5f));
    float32x4_t e = ei_exp4(vaddq_f32(c, c));
    float32x4_t big = vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, one)));
    float32x4_t t = vbslq_f32(vcltq_f32(ax, vdupq_n_f32(0.625f)), small, big);
    t = vbslq_f32(vdupq_n_u32(0x80000000u), x, t); /* sign of x */
    return ei_keep_nan(t, x);
}
EI_MAP(f32_tanh, ei_tanh4)
