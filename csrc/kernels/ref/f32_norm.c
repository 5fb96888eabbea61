/*
 * ref/f32_norm.c - reference normalization passes in plain C (LayerNormalization,
 * RMSNormalization in ops/): the sum of squared deviations from a given center, and the
 * fused y = (x - mean) * inv * scale + bias. Oracles for x86/f32_norm_*.c, arm/f32_norm_neon.c.
 */
#include "kernels/kernels.h"

float ei_f32_sumsq_dev__ref(size_t n, const float *x, float c) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - c;
        s += d * d;
    }
    return s;
}

void ei_f32_norm_affine__ref(size_t n, const float *x, float mean, float inv, const float *scale,
                             const float *bias, float *y) {
    for (size_t i = 0; i < n; i++) {
        float v = (x[i] - mean) * inv * scale[i];
        y[i] = bias ? v + bias[i] : v;
    }
}
