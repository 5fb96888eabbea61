/*
 * ref/f32_conv_direct.c - reference direct 2-D convolution with 16 output channels per
 * block (slot f32_conv2d_direct, kernels.h): the oracle of the SIMD variants, which
 * compute each output with the same operations in the same order (bias, taps in
 * (c, i, j) order, z, activation). ISAs without a variant (NEON) keep ops/conv.c's GEMM
 * path instead of this loop (ops/conv_direct.h).
 */
#include <stdint.h>

#include "kernels/kernels.h"

void ei_f32_conv2d_direct__ref(const ei_conv2d_direct_params *p, const float *wp, const float *bias,
                               const float *x, const float *z, float *y, size_t ob, size_t oy0,
                               size_t oy1) {
    const size_t oc0 = 16 * ob, noc = p->cout - oc0 < 16 ? p->cout - oc0 : 16;
    const size_t taps = p->cin * p->k_h * p->k_w, in_sp = p->in_h * p->in_w;
    const size_t out_sp = p->out_h * p->out_w;
    const float *wb = wp + ob * taps * 16;
    for (size_t oy = oy0; oy < oy1; oy++)
        for (size_t ox = 0; ox < p->out_w; ox++) {
            float acc[16];
            for (size_t o = 0; o < 16; o++)
                acc[o] = bias && o < noc ? bias[oc0 + o] : 0.0f;
            for (size_t c = 0; c < p->cin; c++)
                for (size_t i = 0; i < p->k_h; i++) {
                    int64_t iy = (int64_t)(oy * p->stride_h + i) - (int64_t)p->pad_t;
                    if (iy < 0 || iy >= (int64_t)p->in_h) continue;
                    for (size_t j = 0; j < p->k_w; j++) {
                        int64_t ix = (int64_t)(ox * p->stride_w + j) - (int64_t)p->pad_l;
                        if (ix < 0 || ix >= (int64_t)p->in_w) continue;
                        float xv = x[c * in_sp + (size_t)iy * p->in_w + (size_t)ix];
                        const float *w = wb + ((c * p->k_h + i) * p->k_w + j) * 16;
                        for (size_t o = 0; o < 16; o++)
                            acc[o] += w[o] * xv;
                    }
                }
            for (size_t o = 0; o < noc; o++) {
                size_t at = (oc0 + o) * out_sp + oy * p->out_w + ox;
                float v = acc[o];
                if (z) v += z[at];
                if (p->act.kind == EI_ACT_KIND_RELU) v = v < 0.0f ? 0.0f : v;
                if (p->act.kind == EI_ACT_KIND_CLIP)
                    v = v < p->act.alpha ? p->act.alpha : v > p->act.beta ? p->act.beta : v;
                y[at] = v;
            }
        }
}
