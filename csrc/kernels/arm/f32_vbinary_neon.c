/*
 * arm/f32_vbinary_neon.c - NEON (aarch64) elementwise binary kernels (vector op vector,
 * vector op scalar, affine). Contract: any n, float alignment only, y may alias an
 * input; the tail (n % 4) is copied through a 4-float stack buffer so the same vector
 * code computes it and nothing past element n-1 is touched. Bit-identical to ref
 * (real fadd/fsub/fmul/fdiv) except vaffine, which fuses x*scale+shift (one rounding).
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_isa.h"

/* ref semantics: NaN in a wins, else a > b ? a : b (so max(0, -0) = -0, as onnxruntime);
 * fmax would return +0 there and the default NaN. */
static inline float32x4_t ei_vmax4(float32x4_t a, float32x4_t b) {
    uint32x4_t take_a = vorrq_u32(vcgtq_f32(a, b), vmvnq_u32(vceqq_f32(a, a)));
    return vbslq_f32(take_a, a, b);
}

#define EI_VV(name, OP)                                                                            \
    void ei_##name##__neon(size_t n, const float *a, const float *b, float *y) {                   \
        size_t i = 0;                                                                              \
        for (; i + 16 <= n; i += 16) {                                                             \
            float32x4_t r0 = OP(vld1q_f32(a + i), vld1q_f32(b + i));                               \
            float32x4_t r1 = OP(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));                       \
            float32x4_t r2 = OP(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));                       \
            float32x4_t r3 = OP(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));                     \
            vst1q_f32(y + i, r0);                                                                  \
            vst1q_f32(y + i + 4, r1);                                                              \
            vst1q_f32(y + i + 8, r2);                                                              \
            vst1q_f32(y + i + 12, r3);                                                             \
        }                                                                                          \
        for (; i + 4 <= n; i += 4)                                                                 \
            vst1q_f32(y + i, OP(vld1q_f32(a + i), vld1q_f32(b + i)));                              \
        if (i < n) {                                                                               \
            float ta[4] = {0}, tb[4] = {0};                                                        \
            memcpy(ta, a + i, (n - i) * sizeof(float));                                            \
            memcpy(tb, b + i, (n - i) * sizeof(float));                                            \
            vst1q_f32(ta, OP(vld1q_f32(ta), vld1q_f32(tb)));                                       \
            memcpy(y + i, ta, (n - i) * sizeof(float));                                            \
        }                                                                                          \
    }

#define EI_VC(name, OP)                                                                            \
    void ei_##name##__neon(size_t n, const float *a, float c, float *y) {                          \
        const float32x4_t vc = vdupq_n_f32(c);                                                     \
        size_t i = 0;                                                                              \
        for (; i + 16 <= n; i += 16) {                                                             \
            float32x4_t r0 = OP(vld1q_f32(a + i), vc);                                             \
            float32x4_t r1 = OP(vld1q_f32(a + i + 4), vc);                                         \
            float32x4_t r2 = OP(vld1q_f32(a + i + 8), vc);                                         \
            float32x4_t r3 = OP(vld1q_f32(a + i + 12), vc);                                        \
            vst1q_f32(y + i, r0);                                                                  \
            vst1q_f32(y + i + 4, r1);                                                              \
            vst1q_f32(y + i + 8, r2);                                                              \
            vst1q_f32(y + i + 12, r3);                                                             \
        }                                                                                          \
        for (; i + 4 <= n; i += 4)                                                                 \
            vst1q_f32(y + i, OP(vld1q_f32(a + i), vc));                                            \
        if (i < n) {                                                                               \
            float t[4] = {0};                                                                      \
            memcpy(t, a + i, (n - i) * sizeof(float));                                             \
            vst1q_f32(t, OP(vld1q_f32(t), vc));                                                    \
            memcpy(y + i, t, (n - i) * sizeof(float));                                             \
        }                                                                                          \
    }

#define EI_RSUB(x, c) vsubq_f32(c, x)
#define EI_RDIV(x, c) vdivq_f32(c, x)

EI_VV(f32_vadd, vaddq_f32)
EI_VV(f32_vsub, vsubq_f32)
EI_VV(f32_vmul, vmulq_f32)
EI_VV(f32_vdiv, vdivq_f32)
EI_VV(f32_vmax, ei_vmax4)
EI_VC(f32_vaddc, vaddq_f32)
EI_VC(f32_vsubc, vsubq_f32)
EI_VC(f32_vrsubc, EI_RSUB)
EI_VC(f32_vmulc, vmulq_f32)
EI_VC(f32_vdivc, vdivq_f32)
EI_VC(f32_vrdivc, EI_RDIV)

/* Fused (one rounding): may differ from ref by about an ulp of max(|x*scale|, |shift|). */
void ei_f32_vaffine__neon(size_t n, const float *x, float scale, float shift, float *y) {
    const float32x4_t vs = vdupq_n_f32(scale), vb = vdupq_n_f32(shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float32x4_t r0 = vfmaq_f32(vb, vld1q_f32(x + i), vs);
        float32x4_t r1 = vfmaq_f32(vb, vld1q_f32(x + i + 4), vs);
        vst1q_f32(y + i, r0);
        vst1q_f32(y + i + 4, r1);
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vfmaq_f32(vb, vld1q_f32(x + i), vs));
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, (n - i) * sizeof(float));
        vst1q_f32(t, vfmaq_f32(vb, vld1q_f32(t), vs));
        memcpy(y + i, t, (n - i) * sizeof(float));
    }
}
