/*
 * arm/f32_exp_neon.c - NEON (aarch64) exp-family maps: exp, exp(x - shift) with its
 * sum, erf and the exact GELU, the algorithms and coefficients of x86/f32_exp_avx2.c
 * (2^n in two halves so subnormal results round once). Error as measured there
 * (tests/c/test_kernels.c under qemu-aarch64 prints it).
 * Contract: any n, unaligned, in place allowed; tail through a stack buffer (no overread).
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_isa.h"
#include "kernels/arm/simd_neon.h"


/* exp(x), x clamped to [-104, 89]: NEON's vmaxq/vminq return NaN when either operand is
 * NaN, so NaN passes through; e^89 overflows to +inf and e^-104 rounds to 0. */
static inline float32x4_t ei_exp4(float32x4_t x) {
    x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f)), vdupq_n_f32(89.0f));
    return ei_exp4_core(x);
}
EI_MAP(f32_exp, ei_exp4)

float ei_f32_exp_sum__neon(size_t n, const float *x, float shift, float *y) {
    const float32x4_t sh = vdupq_n_f32(shift);
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t e0 = ei_exp4(vsubq_f32(vld1q_f32(x + i), sh));
        float32x4_t e1 = ei_exp4(vsubq_f32(vld1q_f32(x + i + 4), sh));
        if (y) {
            vst1q_f32(y + i, e0);
            vst1q_f32(y + i + 4, e1);
        }
        s0 = vaddq_f32(s0, e0);
        s1 = vaddq_f32(s1, e1);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = ei_exp4(vsubq_f32(vld1q_f32(x + i), sh));
        if (y) vst1q_f32(y + i, e);
        s0 = vaddq_f32(s0, e);
    }
    float sum = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) {
        float t[4] = {x[i] - shift, 0, 0, 0};
        float e = vgetq_lane_f32(ei_exp4(vld1q_f32(t)), 0);
        if (y) y[i] = e;
        sum += e;
    }
    return sum;
}

static inline float32x4_t ei_erf_small4(float32x4_t x) {
    float32x4_t s = vmulq_f32(x, x);
    float32x4_t p = vdupq_n_f32(-5.990877398e-04f);
    p = vfmaq_f32(vdupq_n_f32(4.993185867e-03f), p, s);
    p = vfmaq_f32(vdupq_n_f32(-2.676662058e-02f), p, s);
    p = vfmaq_f32(vdupq_n_f32(1.128181666e-01f), p, s);
    p = vfmaq_f32(vdupq_n_f32(-3.761249483e-01f), p, s);
    p = vfmaq_f32(vdupq_n_f32(1.283791512e-01f), p, s);
    return vfmaq_f32(x, x, p);
}

static inline float32x4_t ei_erfc_big4(float32x4_t t) {
    t = vminq_f32(t, vdupq_n_f32(3.925f)); /* NaN passes */
    float32x4_t q = vdupq_n_f32(1.630656584e-06f);
    q = vfmaq_f32(vdupq_n_f32(-4.589370292e-05f), q, t);
    q = vfmaq_f32(vdupq_n_f32(5.951123894e-04f), q, t);
    q = vfmaq_f32(vdupq_n_f32(-4.750201479e-03f), q, t);
    q = vfmaq_f32(vdupq_n_f32(2.639024518e-02f), q, t);
    q = vfmaq_f32(vdupq_n_f32(-1.100182608e-01f), q, t);
    q = vfmaq_f32(vdupq_n_f32(-6.318997145e-01f), q, t);
    q = vfmaq_f32(vdupq_n_f32(-1.130185723e+00f), q, t);
    q = vfmaq_f32(vdupq_n_f32(3.072105756e-04f), q, t);
    return ei_exp4(q);
}

static inline float32x4_t ei_erf4(float32x4_t x) {
    float32x4_t ax = vabsq_f32(x);
    float32x4_t big = vsubq_f32(vdupq_n_f32(1.0f), ei_erfc_big4(ax));
    big = vbslq_f32(vdupq_n_u32(0x80000000u), x, big); /* sign of x */
    return vbslq_f32(vcleq_f32(ax, vdupq_n_f32(0.921875f)), ei_erf_small4(x), big);
}
EI_MAP(f32_erf, ei_erf4)

static inline float32x4_t ei_gelu4(float32x4_t x) {
    float32x4_t u = vmulq_f32(x, vdupq_n_f32(0.70710678118654752f));
    float32x4_t au = vabsq_f32(u);
    float32x4_t small = vaddq_f32(vdupq_n_f32(1.0f), ei_erf_small4(u));
    float32x4_t ec = ei_erfc_big4(au);
    ec = vbslq_f32(vcgtq_f32(au, vdupq_n_f32(3.925f)), vdupq_n_f32(0.0f), ec);
    float32x4_t big =
        vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), ec, vsubq_f32(vdupq_n_f32(2.0f), ec));
    float32x4_t f = vbslq_f32(vcleq_f32(au, vdupq_n_f32(0.921875f)), small, big);
    return vmulq_f32(vmulq_f32(x, vdupq_n_f32(0.5f)), f);
}
EI_MAP(f32_gelu, ei_gelu4)
