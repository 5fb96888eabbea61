/*
 * ref/f32_vbinary.c - reference elementwise binary kernels (vector op vector, vector op
 * scalar, affine): plain C, no ISA flags, the oracle for the SIMD variants.
 * Contract (all): any n, float alignment only, y may alias an input, nothing read or
 * written past element n-1.
 */
#include "kernels/kernels.h"

void ei_f32_vadd__ref(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void ei_f32_vsub__ref(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] - b[i];
}

void ei_f32_vmul__ref(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}

void ei_f32_vdiv__ref(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] / b[i];
}

/* Matches onnxruntime's Max: NaN in either input gives NaN; when a == b (e.g. 0 and -0)
 * the result is b. This is exactly x86 maxps(a, b) plus "NaN in a wins". */
void ei_f32_vmax__ref(size_t n, const float *a, const float *b, float *y) {
    for (size_t i = 0; i < n; i++) {
        float x = a[i], z = b[i];
        y[i] = (x != x) ? x : (x > z ? x : z);
    }
}

void ei_f32_vaddc__ref(size_t n, const float *a, float c, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + c;
}

void ei_f32_vsubc__ref(size_t n, const float *a, float c, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] - c;
}

void ei_f32_vrsubc__ref(size_t n, const float *a, float c, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = c - a[i];
}

void ei_f32_vmulc__ref(size_t n, const float *a, float c, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] * c;
}

void ei_f32_vdivc__ref(size_t n, const float *a, float c, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] / c;
}

void ei_f32_vrdivc__ref(size_t n, const float *a, float c, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = c / a[i];
}

/* Two roundings (x*scale, then + shift): ISO C mode builds with -ffp-contract=off and this
 * file gets no FMA flags. SIMD variants fuse them (one rounding), so they may differ from
 * this by about one ulp of the larger of |x*scale| and |shift|. */
void ei_f32_vaffine__ref(size_t n, const float *x, float scale, float shift, float *y) {
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * scale + shift;
}
