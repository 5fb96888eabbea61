/*
 * ref/f32_exp.c - reference exp-family maps in plain C: exp and the softmax step
 * exp(x - shift) with its sum (libm expf, summed left to right), erf (libm erff) and the
 * exact GELU, x/2 * erfc(-x/sqrt 2), evaluated in double so that the negative tail keeps
 * its precision (the float formula 1 + erf(u) cancels to 0 there). The oracles for the
 * SIMD variants in x86/f32_exp_*.c and arm/f32_exp_neon.c.
 */
#include <math.h>

#include "kernels/kernels.h"

void ei_f32_exp__ref(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

float ei_f32_exp_sum__ref(size_t n, const float *x, float shift, float *y) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float e = expf(x[i] - shift);
        if (y) y[i] = e;
        sum += e;
    }
    return sum;
}

void ei_f32_erf__ref(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = erff(x[i]);
}

void ei_f32_gelu__ref(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v * erfc(-v * 0.70710678118654752440));
    }
}
