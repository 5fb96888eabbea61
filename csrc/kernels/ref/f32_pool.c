/*
 * ref/f32_pool.c - reference pooling passes in plain C, the oracles for x86/f32_pool_*.c
 * and arm/f32_pool_neon.c. A 2-D window is reduced in two passes (ops/pool.c): down the
 * columns of the k in-bounds input rows into a row t, then along t with the window's
 * stride. Max skips NaN (it never wins, as in onnxruntime) and starts from -FLT_MAX.
 */
#include <float.h>

#include "kernels/kernels.h"

void ei_f32_pool_cols_max__ref(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    for (size_t i = 0; i < n; i++) {
        float m = -FLT_MAX;
        for (size_t r = 0; r < k; r++) {
            float v = x[r * ldx + i];
            m = v > m ? v : m;
        }
        t[i] = m;
    }
}

void ei_f32_pool_cols_sum__ref(size_t n, size_t k, const float *x, size_t ldx, float *t) {
    for (size_t i = 0; i < n; i++) {
        float s = 0.0f;
        for (size_t r = 0; r < k; r++)
            s += x[r * ldx + i];
        t[i] = s;
    }
}

void ei_f32_pool_rows_max__ref(size_t n, size_t k, size_t stride, const float *t, float *y) {
    for (size_t o = 0; o < n; o++) {
        float m = -FLT_MAX;
        for (size_t j = 0; j < k; j++) {
            float v = t[o * stride + j];
            m = v > m ? v : m;
        }
        y[o] = m;
    }
}

void ei_f32_pool_rows_sum__ref(size_t n, size_t k, size_t stride, const float *t, float scale,
                               float *y) {
    for (size_t o = 0; o < n; o++) {
        float s = 0.0f;
        for (size_t j = 0; j < k; j++)
            s += t[o * stride + j];
        y[o] = s * scale;
    }
}
