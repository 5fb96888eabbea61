/*
 * ref/f32_dwconv.c - reference 2-D depthwise convolution (slot f32_dwconv2d), one channel
 * plane after another: the oracle for the SIMD variants and the fallback everywhere else.
 * Each output row is accumulated tap by tap over the run of outputs where that tap lands
 * inside the input, so padding needs no special case and stride-1 runs vectorize.
 */
#include <stdint.h>

#include "kernels/kernels.h"

/* Outputs o in [0, n_out) whose input position o*s + off lies in [0, n_in): [*lo, *hi). */
static void dw_out_range(int64_t off, int64_t s, int64_t n_in, int64_t n_out, int64_t *lo,
                         int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / s + 1;
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* Accumulation order per output: bias, then taps in (i, j) order, then z, then act. */
static void dw_plane_ref(const ei_dwconv2d_params *p, const float *x, const float *w, float bias,
                         const float *z, float *y, size_t oy0, size_t oy1) {
    const int64_t ih = (int64_t)p->in_h, iw = (int64_t)p->in_w, ow = (int64_t)p->out_w;
    const int64_t sh = (int64_t)p->stride_h, sw = (int64_t)p->stride_w;
    const int64_t dh = (int64_t)p->dil_h, dw = (int64_t)p->dil_w;
    for (size_t oy = oy0; oy < oy1; oy++) {
        float *yr = y + oy * p->out_w;
        for (int64_t ox = 0; ox < ow; ox++)
            yr[ox] = bias;
        int64_t iy0 = (int64_t)oy * sh - (int64_t)p->pad_t;
        for (int64_t i = 0; i < (int64_t)p->k_h; i++) {
            int64_t iy = iy0 + i * dh;
            if (iy < 0 || iy >= ih) continue;
            const float *xr = x + (size_t)iy * p->in_w;
            for (int64_t j = 0; j < (int64_t)p->k_w; j++) {
                int64_t off = j * dw - (int64_t)p->pad_l, lo, hi;
                float wv = w[(size_t)i * p->k_w + (size_t)j];
                dw_out_range(off, sw, iw, ow, &lo, &hi);
                if (sw == 1) {
                    for (int64_t ox = lo; ox < hi; ox++)
                        yr[ox] += wv * xr[ox + off];
                } else {
                    for (int64_t ox = lo; ox < hi; ox++)
                        yr[ox] += wv * xr[ox * sw + off];
                }
            }
        }
        if (z) {
            const float *zr = z + oy * p->out_w;
            for (int64_t ox = 0; ox < ow; ox++)
                yr[ox] += zr[ox];
        }
        ei_f32_act_apply(&p->act, p->out_w, yr);
    }
}

void ei_f32_dwconv2d__ref(const ei_dwconv2d_params *p, size_t n_planes, const float *x,
                          const float *w, const float *bias, const float *z, float *y, size_t oy0,
                          size_t oy1) {
    const size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w, k_sp = p->k_h * p->k_w;
    for (size_t c = 0; c < n_planes; c++)
        dw_plane_ref(p, x + c * in_sp, w + c * k_sp, bias ? bias[c] : 0.0f,
                     z ? z + c * out_sp : NULL, y + c * out_sp, oy0, oy1);
}
