/*
 * x86/f32_conv_direct_avx512.c - AVX-512 direct 2-D convolution, 16 output channels in
 * the lanes of one register (slot f32_conv2d_direct; contract in kernels.h, the order of
 * operations is ref's). An output row is cut into blocks of 16 pixels: 16 accumulators
 * (one per pixel) take, per tap, one load of the tap's 16 weights and 16 broadcast input
 * values; then a 16x16 transpose in registers turns them into one vector of 16 pixels
 * per output channel, stored straight into the NCHW rows. Blocks whose taps all lie
 * inside the input row read it unchecked; the others (borders, a short last block) skip
 * out-of-range taps per pixel.
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx512.h"

#define CD_AI static inline __attribute__((always_inline))

/* r[p] (lane o) -> r[o] (lane p), 16 x 16. */
CD_AI void cd_transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    /* 128-bit lane L of u[4i + k]: column 4L + k of rows 4i .. 4i + 3 */
    for (int k = 0; k < 4; k++) {
        __m512 a0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44);
        __m512 a1 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
        __m512 a2 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
        __m512 a3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
        r[k] = _mm512_shuffle_f32x4(a0, a1, 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(a0, a1, 0xDD);
        r[8 + k] = _mm512_shuffle_f32x4(a2, a3, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(a2, a3, 0xDD);
    }
}

/* One block of n <= 16 output pixels [ox0, ox0 + n) of row oy. inside: every tap of
 * the block's n pixels lies inside the input row: no bounds checks (pixels past n are
 * skipped: n is the same for every tap, so that branch predicts). */
CD_AI void cd_block(const ei_conv2d_direct_params *p, const float *wb, __m512 vbias, const float *x,
                    const float *z, float *y, size_t noc, size_t oy, size_t ox0, size_t n,
                    int inside) {
    const size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w;
    const int64_t sw = (int64_t)p->stride_w, in_w = (int64_t)p->in_w;
    __m512 acc[16];
    for (int q = 0; q < 16; q++)
        acc[q] = vbias;
    const int64_t iy0 = (int64_t)(oy * p->stride_h) - (int64_t)p->pad_t;
    const int64_t ix0 = (int64_t)(ox0 * p->stride_w) - (int64_t)p->pad_l;
    for (size_t c = 0; c < p->cin; c++)
        for (size_t i = 0; i < p->k_h; i++) {
            const int64_t iy = iy0 + (int64_t)i;
            if (iy < 0 || iy >= (int64_t)p->in_h) continue;
            const float *row = x + c * in_sp + (size_t)iy * p->in_w;
            const float *w = wb + (c * p->k_h + i) * p->k_w * 16;
            for (size_t j = 0; j < p->k_w; j++, w += 16) {
                const __m512 wv = _mm512_loadu_ps(w);
                const int64_t ix = ix0 + (int64_t)j;
                if (inside && n == 16) {
                    const float *xr = row + ix;
                    for (int q = 0; q < 16; q++)
                        acc[q] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[q * sw]), acc[q]);
                } else if (inside) {
                    const float *xr = row + ix;
                    for (int q = 0; q < 16; q++)
                        if ((size_t)q < n)
                            acc[q] = _mm512_fmadd_ps(wv, _mm512_set1_ps(xr[q * sw]), acc[q]);
                } else {
                    for (int q = 0; q < 16; q++) {
                        const int64_t at = ix + q * sw;
                        if ((size_t)q < n && at >= 0 && at < in_w)
                            acc[q] = _mm512_fmadd_ps(wv, _mm512_set1_ps(row[at]), acc[q]);
                    }
                }
            }
        }
    cd_transpose16(acc); /* acc[o]: channel o, pixels ox0 .. ox0 + 15 */
    const __mmask16 m = ei_tail_mask16(n);
    const __m512 lo = _mm512_set1_ps(p->act.alpha), hi = _mm512_set1_ps(p->act.beta);
    for (size_t o = 0; o < noc; o++) {
        const size_t at = o * out_sp + oy * p->out_w + ox0;
        __m512 v = acc[o];
        if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, z + at));
        if (p->act.kind == EI_ACT_KIND_RELU) v = _mm512_max_ps(_mm512_setzero_ps(), v);
        if (p->act.kind == EI_ACT_KIND_CLIP) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
        _mm512_mask_storeu_ps(y + at, m, v);
    }
}

void ei_f32_conv2d_direct__avx512(const ei_conv2d_direct_params *p, const float *wp,
                                  const float *bias, const float *x, const float *z, float *y,
                                  size_t ob, size_t oy0, size_t oy1) {
    const size_t oc0 = 16 * ob, noc = p->cout - oc0 < 16 ? p->cout - oc0 : 16;
    const size_t taps = p->cin * p->k_h * p->k_w, out_sp = p->out_h * p->out_w;
    const float *wb = wp + ob * taps * 16;
    const __m512 vbias =
        bias ? _mm512_maskz_loadu_ps(ei_tail_mask16(noc), bias + oc0) : _mm512_setzero_ps();
    y += oc0 * out_sp;
    if (z) z += oc0 * out_sp;
    const int64_t sw = (int64_t)p->stride_w, in_w = (int64_t)p->in_w;
    for (size_t oy = oy0; oy < oy1; oy++)
        for (size_t ox0 = 0; ox0 < p->out_w; ox0 += 16) {
            const size_t n = p->out_w - ox0 < 16 ? p->out_w - ox0 : 16;
            const int64_t first = (int64_t)(ox0 * p->stride_w) - (int64_t)p->pad_l;
            const int64_t last = first + ((int64_t)n - 1) * sw + (int64_t)p->k_w - 1;
            if (n == 16 && first >= 0 && last < in_w)
                cd_block(p, wb, vbias, x, z, y, noc, oy, ox0, 16, 1);
            else
                cd_block(p, wb, vbias, x, z, y, noc, oy, ox0, n, first >= 0 && last < in_w);
        }
}
