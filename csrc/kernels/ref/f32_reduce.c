/*
 * ref/f32_reduce.c - reference reductions: sum (sequential, left to right) and max
 * (NaN anywhere gives NaN; n == 0 gives -inf).
 */
#include <math.h>

#include "kernels/kernels.h"

float ei_f32_sum__ref(size_t n, const float *x) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return s;
}

float ei_f32_max__ref(size_t n, const float *x) {
    float m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != x[i]) return x[i];
        if (x[i] > m) m = x[i];
    }
    return m;
}
