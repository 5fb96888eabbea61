/*
 * ref/f32_activation.c - reference activations (relu, clamp, sigmoid, tanh) in plain C
 * using libm's expf/tanhf: the oracle for the SIMD variants.
 * NaN semantics follow onnxruntime: relu(NaN) = NaN, relu(-0) = -0 (ORT computes
 * x < 0 ? 0 : x); clip(NaN) = NaN; sigmoid/tanh(NaN) = NaN.
 */
#include <math.h>

#include "kernels/kernels.h"

void ei_f32_relu__ref(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* y = min(max(x, lo), hi) written as comparisons so that NaN x passes through
 * (and a NaN bound is ignored, as in x86 maxps/minps with the bound first). */
void ei_f32_clamp__ref(size_t n, const float *x, float lo, float hi, float *y) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (v < lo) v = lo;
        if (v > hi) v = hi;
        y[i] = v;
    }
}

/* exp of -|x| never overflows, so both halves are accurate to libm's expf: for x < 0,
 * e/(1+e) keeps the tiny (even subnormal) results that 1/(1+exp(-x)) would flush to 0. */
void ei_f32_sigmoid__ref(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (v >= 0.0f) {
            y[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v); /* NaN lands here too and propagates */
            y[i] = e / (1.0f + e);
        }
    }
}

void ei_f32_tanh__ref(size_t n, const float *x, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}
