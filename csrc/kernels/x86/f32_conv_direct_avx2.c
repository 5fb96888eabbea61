/*
 * x86/f32_conv_direct_avx2.c - AVX2 direct 2-D convolution (slot f32_conv2d_direct;
 * contract in kernels.h, the order of operations is ref's): the AVX-512 file's scheme at
 * 8 lanes. Each 16-channel block is done as two halves of 8 channels; an output row is
 * cut into blocks of 8 pixels with 8 accumulators, one 8x8 transpose per block turns
 * them into 8-pixel row pieces per channel. Masked moves only for a short last block
 * (they are slow on AMD).
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx2.h"

#define CD_AI static inline __attribute__((always_inline))

/* r[p] (lane o) -> r[o] (lane p), 8 x 8. */
CD_AI void cd_transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    /* u[4i + k], half h: column 4h + k of rows 4i .. 4i + 3 */
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

/* Block of n <= 8 pixels [ox0, ox0 + n) of row oy, output channels [8 h, 8 h + 8) of the
 * 16-channel block (those below noc). inside: every tap of the block's n pixels lies
 * inside the input row (as in the AVX-512 file). */
CD_AI void cd_block(const ei_conv2d_direct_params *p, const float *wb, __m256 vbias, const float *x,
                    const float *z, float *y, size_t noc, size_t h, size_t oy, size_t ox0, size_t n,
                    int inside) {
    const size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w;
    const int64_t sw = (int64_t)p->stride_w, in_w = (int64_t)p->in_w;
    __m256 acc[8];
    for (int q = 0; q < 8; q++)
        acc[q] = vbias;
    const int64_t iy0 = (int64_t)(oy * p->stride_h) - (int64_t)p->pad_t;
    const int64_t ix0 = (int64_t)(ox0 * p->stride_w) - (int64_t)p->pad_l;
    for (size_t c = 0; c < p->cin; c++)
        for (size_t i = 0; i < p->k_h; i++) {
            const int64_t iy = iy0 + (int64_t)i;
            if (iy < 0 || iy >= (int64_t)p->in_h) continue;
            const float *row = x + c * in_sp + (size_t)iy * p->in_w;
            const float *w = wb + (c * p->k_h + i) * p->k_w * 16 + 8 * h;
            for (size_t j = 0; j < p->k_w; j++, w += 16) {
                const __m256 wv = _mm256_loadu_ps(w);
                const int64_t ix = ix0 + (int64_t)j;
                if (inside && n == 8) {
                    const float *xr = row + ix;
                    for (int q = 0; q < 8; q++)
                        acc[q] = _mm256_fmadd_ps(wv, _mm256_broadcast_ss(xr + q * sw), acc[q]);
                } else if (inside) {
                    const float *xr = row + ix;
                    for (int q = 0; q < 8; q++)
                        if ((size_t)q < n)
                            acc[q] = _mm256_fmadd_ps(wv, _mm256_broadcast_ss(xr + q * sw), acc[q]);
                } else {
                    for (int q = 0; q < 8; q++) {
                        const int64_t at = ix + q * sw;
                        if ((size_t)q < n && at >= 0 && at < in_w)
                            acc[q] = _mm256_fmadd_ps(wv, _mm256_broadcast_ss(row + at), acc[q]);
                    }
                }
            }
        }
    cd_transpose8(acc); /* acc[o]: channel 8 h + o, pixels ox0 .. ox0 + 7 */
    const __m256 lo = _mm256_set1_ps(p->act.alpha), hi = _mm256_set1_ps(p->act.beta);
    const __m256i m = ei_tail_mask(n);
    for (size_t o = 0; o < 8 && 8 * h + o < noc; o++) {
        const size_t at = (8 * h + o) * out_sp + oy * p->out_w + ox0;
        __m256 v = acc[o];
        if (z)
            v = _mm256_add_ps(v, n == 8 ? _mm256_loadu_ps(z + at) : _mm256_maskload_ps(z + at, m));
        if (p->act.kind == EI_ACT_KIND_RELU) v = _mm256_max_ps(_mm256_setzero_ps(), v);
        if (p->act.kind == EI_ACT_KIND_CLIP) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
        if (n == 8)
            _mm256_storeu_ps(y + at, v);
        else
            _mm256_maskstore_ps(y + at, m, v);
    }
}

void ei_f32_conv2d_direct__avx2(const ei_conv2d_direct_params *p, const float *wp,
                                const float *bias, const float *x, const float *z, float *y,
                                size_t ob, size_t oy0, size_t oy1) {
    const size_t oc0 = 16 * ob, noc = p->cout - oc0 < 16 ? p->cout - oc0 : 16;
    const size_t taps = p->cin * p->k_h * p->k_w, out_sp = p->out_h * p->out_w;
    const float *wb = wp + ob * taps * 16;
    y += oc0 * out_sp;
    if (z) z += oc0 * out_sp;
    const int64_t sw = (int64_t)p->stride_w, in_w = (int64_t)p->in_w;
    for (size_t h = 0; h < 2 && 8 * h < noc; h++) {
        const size_t nh = noc - 8 * h < 8 ? noc - 8 * h : 8;
        const __m256 vbias =
            bias ? _mm256_maskload_ps(bias + oc0 + 8 * h, ei_tail_mask(nh)) : _mm256_setzero_ps();
        for (size_t oy = oy0; oy < oy1; oy++)
            for (size_t ox0 = 0; ox0 < p->out_w; ox0 += 8) {
                const size_t n = p->out_w - ox0 < 8 ? p->out_w - ox0 : 8;
                const int64_t first = (int64_t)(ox0 * p->stride_w) - (int64_t)p->pad_l;
                const int64_t last = first + ((int64_t)n - 1) * sw + (int64_t)p->k_w - 1;
                if (n == 8 && first >= 0 && last < in_w)
                    cd_block(p, wb, vbias, x, z, y, noc, h, oy, ox0, 8, 1);
                else
                    cd_block(p, wb, vbias, x, z, y, noc, h, oy, ox0, n, first >= 0 && last < in_w);
            }
    }
}
