/*
 * norm_util.h - the mean/variance step that GroupNormalization, InstanceNormalization and
 * LayerNormalization share: two passes over a contiguous line with the kernel table's
 * sums. Each op applies its own scale and bias.
 */
#ifndef EI_OPS_NORM_UTIL_H
#define EI_OPS_NORM_UTIL_H

#include "kernels/kernels.h"

/* Writes y = x - mean over n floats and returns the (biased) variance; *mean gets the
 * mean. n = 0: mean and variance 0, y untouched. The squares are formed in a stack block;
 * subtracting the mean first keeps precision when |mean| >> std. */
static inline float ei_norm_center(const ei_kernel_table *k, size_t n, const float *x, float *y,
                                   float *mean) {
    *mean = 0.0f;
    if (n == 0) return 0.0f;
    *mean = k->f32_sum(n, x) / (float)n;
    float tmp[256], acc = 0.0f;
    k->f32_vaddc(n, x, -*mean, y);
    for (size_t b = 0; b < n; b += 256) {
        size_t m = n - b < 256 ? n - b : 256;
        k->f32_vmul(m, y + b, y + b, tmp);
        acc += k->f32_sum(m, tmp);
    }
    return acc / (float)n;
}

#endif
