/*
 * x86/f32_dwconv_avx512.c - AVX-512 2-D depthwise convolution (slot f32_dwconv2d). Eight
 * or more planes: 16 channels at a time as the vector lanes, through a zero-padded
 * channel-last buffer (dw_cb_run, at the end of the file): no masks, no wasted lanes on
 * small planes, no deinterleaving at stride 2. Otherwise one plane at a time (dw_one_plane),
 * 16 outputs per vector. Stride 1: chunks of rows are zero-padded
 * into a stack buffer and computed as one flat, unmasked vector loop (dw_flat). Stride 2
 * (both dims, no dilation): the padded rows are split into four even/odd phase planes and
 * run through the same flat loop (dw_flat2). Other strides and rows too wide for the
 * buffer go row by row: blocks whose taps all lie inside the
 * input use plain loads (stride 2: two loads and a permute; stride 1: two output rows
 * share each input row), border and tail blocks masked loads and masked FMAs, so padding
 * taps are skipped as in ref and nothing outside the plane is read. 3x3 and 5x5 kernels
 * keep their weights in registers; strides above 2 gather.
 * Accumulation order per output: bias, then taps row by row (FMA), then z, then act.
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"

#define DW_AI static inline __attribute__((always_inline))

typedef struct dw_ctx {
    const float *x, *w;
    int64_t ih, iw, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    int64_t xlo, xhi; /* outputs whose taps all lie inside the row (full blocks) */
    int64_t xhi2;     /* stride 2: ... and the element after the last tap too */
    ei_act act;
    int act_in_reg; /* act applied in registers; else per row after the store */
} dw_ctx;

/* Pointer arithmetic that may leave the plane: only ever dereferenced by masked loads
 * whose mask excludes the lanes outside it. */
DW_AI const float *dw_addr(const float *p, int64_t off) {
    return (const float *)(uintptr_t)((uintptr_t)p + (uintptr_t)(off * (int64_t)sizeof(float)));
}

/* Output columns whose tap at offset off = j*dw - pl lands inside [0, iw): [*lo, *hi). */
DW_AI void dw_tap_cols(const dw_ctx *c, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + c->sw - 1) / c->sw;
    int64_t h = c->iw - 1 - off < 0 ? 0 : (c->iw - 1 - off) / c->sw + 1;
    if (h > c->ow) h = c->ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

DW_AI __m512 dw_act16(const ei_act *a, __m512 v) {
    switch (a->kind) {
    case EI_ACT_KIND_RELU: return _mm512_max_ps(_mm512_setzero_ps(), v);
    case EI_ACT_KIND_CLIP:
        return _mm512_min_ps(_mm512_set1_ps(a->beta), _mm512_max_ps(_mm512_set1_ps(a->alpha), v));
    case EI_ACT_KIND_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(a->alpha));
    }
    case EI_ACT_KIND_HARD_SIGMOID:
    case EI_ACT_KIND_HARD_SWISH: {
        __m512 t = _mm512_fmadd_ps(v, _mm512_set1_ps(a->alpha), _mm512_set1_ps(a->beta));
        t = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
        return a->kind == EI_ACT_KIND_HARD_SWISH ? _mm512_mul_ps(v, t) : t;
    }
    default: return v;
    }
}

static int dw_act_in_reg(ei_act_kind k) {
    return k == EI_ACT_KIND_NONE || k == EI_ACT_KIND_RELU || k == EI_ACT_KIND_CLIP ||
           k == EI_ACT_KIND_LEAKY_RELU || k == EI_ACT_KIND_HARD_SIGMOID ||
           k == EI_ACT_KIND_HARD_SWISH;
}

/* Lanes [lo, hi) of a 16-bit mask (0 <= lo <= hi <= 16). */
DW_AI __mmask16 dw_mask16(int64_t lo, int64_t hi) {
    uint32_t m = ((1u << hi) - 1u) & ~((1u << lo) - 1u);
    return (__mmask16)m;
}

/* 16 inputs at stride SW (0: c->sw) starting at p, all inside the plane. */
DW_AI __m512 dw_load_full(const dw_ctx *c, const float *p, const int SW) {
    if (SW == 1) return _mm512_loadu_ps(p);
    if (SW == 2) {
        const __m512i even =
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        /* element 31 (odd, unused) is inside the row: full blocks end at xhi2 */
        __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
        return _mm512_permutex2var_ps(a, even, b);
    }
    __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)c->sw));
    return _mm512_i32gather_ps(idx, p, 4);
}

/* Lanes [lo, hi) of 16 inputs at stride SW whose lane 0 sits at element offset e of row
 * xr (lanes outside may lie outside the plane and are neither read nor used). */
DW_AI __m512 dw_load_masked(const dw_ctx *c, const float *xr, int64_t e, int64_t lo, int64_t hi,
                            const int SW) {
    if (SW == 1) return _mm512_maskz_loadu_ps(dw_mask16(lo, hi), dw_addr(xr, e));
    if (SW == 2) {
        const __m512i even =
            _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        uint64_t m = ((1ull << (2 * hi - 1)) - 1u) & ~((1ull << (2 * lo)) - 1u);
        __m512 a = _mm512_maskz_loadu_ps((__mmask16)(m & 0xffff), dw_addr(xr, e));
        __m512 b = _mm512_maskz_loadu_ps((__mmask16)(m >> 16), dw_addr(xr, e + 16));
        return _mm512_permutex2var_ps(a, even, b);
    }
    __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)c->sw));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), dw_mask16(lo, hi), idx, dw_addr(xr, e), 4);
}

/* Epilogue and store of n (1..16) outputs. */
DW_AI void dw_store(const dw_ctx *c, __m512 acc, const float *zr, float *yr, int64_t n) {
    if (n == 16) {
        if (zr) acc = _mm512_add_ps(acc, _mm512_loadu_ps(zr));
        if (c->act_in_reg) acc = dw_act16(&c->act, acc);
        _mm512_storeu_ps(yr, acc);
    } else {
        __mmask16 m = dw_mask16(0, n);
        if (zr) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, zr));
        if (c->act_in_reg) acc = dw_act16(&c->act, acc);
        _mm512_mask_storeu_ps(yr, m, acc);
    }
}

/* Kernel rows [*i0, *i1) that land inside the input for output row oy. */
DW_AI void dw_rows(const dw_ctx *c, int64_t oy, int64_t *i0, int64_t *i1) {
    int64_t s = oy * c->sh - c->pt;
    int64_t l = s >= 0 ? 0 : (-s + c->dh - 1) / c->dh;
    int64_t h = c->ih - s <= 0 ? 0 : (c->ih - s + c->dh - 1) / c->dh;
    if (h > c->kh) h = c->kh;
    if (l > h) l = h;
    *i0 = l;
    *i1 = h;
}

/* A border or tail block: n outputs from column ox of row oy, taps masked per lane. */
DW_AI __m512 dw_block_masked(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t ox,
                             int64_t n, __m512 acc, const int KW, const int SW) {
    const int64_t kw = KW ? KW : c->kw, sw = SW ? SW : c->sw;
    const int64_t iy0 = oy * c->sh - c->pt;
    for (int64_t j = 0; j < kw; j++) {
        int64_t off = j * c->dw - c->pl, tl, th;
        dw_tap_cols(c, off, &tl, &th);
        int64_t lo = tl - ox, hi = th - ox;
        if (lo < 0) lo = 0;
        if (hi > n) hi = n;
        if (lo >= hi) continue;
        __mmask16 m = dw_mask16(lo, hi);
        for (int64_t i = i0; i < i1; i++) {
            const float *xr = c->x + (iy0 + i * c->dh) * c->iw;
            __m512 v = dw_load_masked(c, xr, ox * sw + off, lo, hi, SW);
            __m512 wv = _mm512_set1_ps(c->w[i * c->kw + j]);
            acc = _mm512_mask3_fmadd_ps(wv, v, acc, m);
        }
    }
    return acc;
}

/* Taps of kernel rows [i0, i1) for the full block at column ox of output row oy. */
DW_AI __m512 dw_block_full(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t ox,
                           __m512 acc, const int KW, const int SW) {
    const int64_t kw = KW ? KW : c->kw, sw = SW ? SW : c->sw;
    const int64_t iy0 = oy * c->sh - c->pt, col = ox * sw - c->pl;
    for (int64_t i = i0; i < i1; i++) {
        const float *xr = c->x + (iy0 + i * c->dh) * c->iw + col;
        const float *wr = c->w + i * c->kw;
        for (int64_t j = 0; j < kw; j++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(wr[j]), dw_load_full(c, xr + j * c->dw, SW), acc);
    }
    return acc;
}

/* Stride 1, dilation 1 in height: two output rows oy, oy + 1 whose windows lie inside the
 * input in height, full block at ox. Input row r feeds row oy through kernel row r and
 * row oy + 1 through kernel row r - 1, so it is loaded once for both. */
DW_AI void dw_pair_full_s1(const dw_ctx *c, int64_t oy, int64_t ox, __m512 bias, const float *z,
                           float *y, const int KW) {
    const int64_t kw = KW ? KW : c->kw, kh = c->kh;
    const float *x0 = c->x + (oy - c->pt) * c->iw + ox - c->pl;
    __m512 a0 = bias, a1 = bias;
    for (int64_t r = 0; r <= kh; r++) {
        const float *xr = x0 + r * c->iw;
        for (int64_t j = 0; j < kw; j++) {
            __m512 v = _mm512_loadu_ps(xr + j * c->dw);
            if (r < kh) a0 = _mm512_fmadd_ps(_mm512_set1_ps(c->w[r * c->kw + j]), v, a0);
            if (r > 0) a1 = _mm512_fmadd_ps(_mm512_set1_ps(c->w[(r - 1) * c->kw + j]), v, a1);
        }
    }
    dw_store(c, a0, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 16);
    dw_store(c, a1, z ? z + (oy + 1) * c->ow + ox : NULL, y + (oy + 1) * c->ow + ox, 16);
}

/* Full blocks of output row oy over columns [from, to) (to - from >= 16), kernel rows
 * [i0, i1); the last block is shifted back to end at to (recomputing a few outputs).
 * With the kernel size known at compile time (KH, KW) and every kernel row inside the
 * input, the weights stay in registers for the whole row. */
DW_AI void dw_sweep(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t from, int64_t to,
                    __m512 vb, const float *z, float *y, const int KH, const int KW, const int SW) {
    const int64_t sw = SW ? SW : c->sw;
    if (KH && KW && KH * KW <= 25 && i0 == 0 && i1 == KH) {
        __m512 wv[25];
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = _mm512_set1_ps(c->w[t]);
        const int64_t row = (oy * c->sh - c->pt) * c->iw - c->pl;
        for (int64_t ox = from; ox < to; ox += 16) {
            if (ox + 16 > to) ox = to - 16;
            const float *xb = c->x + row + ox * sw;
            __m512 acc = vb;
#pragma GCC unroll 5
            for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                for (int j = 0; j < KW; j++)
                    acc = _mm512_fmadd_ps(wv[i * KW + j],
                                          dw_load_full(c, xb + i * c->dh * c->iw + j * c->dw, SW),
                                          acc);
            dw_store(c, acc, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 16);
        }
        return;
    }
    for (int64_t ox = from; ox < to; ox += 16) {
        if (ox + 16 > to) ox = to - 16;
        __m512 acc = dw_block_full(c, oy, i0, i1, ox, vb, KW, SW);
        dw_store(c, acc, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 16);
    }
}

/* Stride 1, dilation 1 in height: output rows oy and oy + 1, both with every kernel row
 * inside the input, full blocks over [from, to). Input row r feeds row oy through kernel
 * row r and row oy + 1 through kernel row r - 1, so it is loaded once for both. */
DW_AI void dw_sweep_pair_s1(const dw_ctx *c, int64_t oy, int64_t from, int64_t to, __m512 vb,
                            const float *z, float *y, const int KH, const int KW) {
    if (!(KH && KW && KH * KW <= 25)) {
        for (int64_t ox = from; ox < to; ox += 16) {
            if (ox + 16 > to) ox = to - 16;
            dw_pair_full_s1(c, oy, ox, vb, z, y, KW);
        }
        return;
    }
    __m512 wv[25];
#pragma GCC unroll 25
    for (int t = 0; t < KH * KW; t++)
        wv[t] = _mm512_set1_ps(c->w[t]);
    const int64_t row = (oy - c->pt) * c->iw - c->pl;
    for (int64_t ox = from; ox < to; ox += 16) {
        if (ox + 16 > to) ox = to - 16;
        __m512 a0 = vb, a1 = vb;
#pragma GCC unroll 6
        for (int r = 0; r <= KH; r++)
#pragma GCC unroll 5
            for (int j = 0; j < KW; j++) {
                __m512 v = _mm512_loadu_ps(c->x + (row + r * c->iw + ox + j * c->dw));
                if (r < KH) a0 = _mm512_fmadd_ps(wv[r * KW + j], v, a0);
                if (r > 0) a1 = _mm512_fmadd_ps(wv[(r - 1) * KW + j], v, a1);
            }
        dw_store(c, a0, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 16);
        dw_store(c, a1, z ? z + (oy + 1) * c->ow + ox : NULL, y + (oy + 1) * c->ow + ox, 16);
    }
}

DW_AI void dw_plane(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                    const int KH, const int KW, const int SW) {
    const __m512 vb = _mm512_set1_ps(bias);
    const int64_t ow = c->ow;
    for (int64_t oy = oy0; oy < oy1; oy++) {
        int64_t i0, i1;
        dw_rows(c, oy, &i0, &i1);
        /* Two rows at once at stride 1 when both use every kernel row. */
        int pair = 0;
        if (SW == 1 && c->sh == 1 && c->dh == 1 && oy + 1 < oy1 && i0 == 0 && i1 == c->kh) {
            int64_t j0, j1;
            dw_rows(c, oy + 1, &j0, &j1);
            pair = j0 == 0 && j1 == c->kh;
        }
        /* Full blocks tile [xlo, fend), the last one shifted back to end there (it
         * recomputes a few outputs); the border columns outside take masked blocks. */
        const int64_t fhi = SW == 2 ? c->xhi2 : c->xhi;
        const int64_t flo = c->xlo, fend = fhi - flo >= 16 ? fhi : flo;
        for (int64_t ox = 0, n; ox < ow; ox += n) {
            if (ox >= flo && ox < fend) {
                if (pair) {
                    dw_sweep_pair_s1(c, oy, ox, fend, vb, z, y, KH, KW);
                } else {
                    dw_sweep(c, oy, i0, i1, ox, fend, vb, z, y, KH, KW, SW);
                }
                n = fend - ox;
                continue;
            }
            int64_t end = ox < flo && fend > flo ? flo : ow;
            n = end - ox < 16 ? end - ox : 16;
            for (int r = 0; r <= pair; r++) {
                int64_t o = oy + r, k0 = i0, k1 = i1;
                if (r) dw_rows(c, o, &k0, &k1);
                __m512 acc = dw_block_masked(c, o, k0, k1, ox, n, vb, KW, SW);
                dw_store(c, acc, z ? z + o * ow + ox : NULL, y + o * ow + ox, n);
            }
        }
        if (!c->act_in_reg) {
            for (int r = 0; r <= pair; r++)
                ei_f32_act_apply(&c->act, (size_t)ow, y + (oy + r) * ow);
        }
        oy += pair;
    }
}

/* Stride 1, small or medium planes: output rows [oy0, oy1) in chunks whose input rows,
 * zero-padded to width wp = out_w + (k_w - 1) dil_w, fit a stack buffer. In the padded
 * chunk every tap of flat output f = r * wp + ox sits at the fixed offset i dil_h wp +
 * j dil_w, so the whole chunk is one unmasked vector loop (the wp - out_w columns past
 * each row are computed and dropped) and the borders cost only the copy. */
#define DW_FLAT_MAX 4096 /* floats per buffer: 16 KiB */
static float *dw_align(float *p) {
    return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63);
}

/* Rows per chunk for a range of n rows, 0 when not even one fits. */
static int64_t dw_flat_rows(const dw_ctx *c, int64_t n) {
    const int64_t wp = c->ow + (c->kw - 1) * c->dw, span = (c->kh - 1) * c->dh;
    const int64_t slack = (c->kw - 1) * c->dw + (c->kh - 1) * c->dh * wp + 16;
    if (wp > DW_FLAT_MAX || slack > DW_FLAT_MAX) return 0;
    if (n >= 1 && n <= DW_FLAT_MAX && n * wp <= DW_FLAT_MAX - 16 &&
        (n + span) * wp <= DW_FLAT_MAX - slack)
        return n; /* the whole range in one chunk: no divisions (small planes) */
    int64_t rows = (DW_FLAT_MAX - slack) / wp - span; /* padded rows = rows + span */
    int64_t rows2 = (DW_FLAT_MAX - 16) / wp;          /* flat outputs + one vector */
    if (rows2 < rows) rows = rows2;
    return rows < 1 ? 0 : rows;
}

/* dst[t] = row xr at column base + t for t in [0, n), 0 where that column lies outside
 * [0, iw) or xr is NULL. Masked loads: nothing outside the row is read. */
DW_AI void dw_fill_row(float *dst, const float *xr, int64_t base, int64_t n, int64_t iw) {
    for (int64_t t = 0; t < n; t += 16) {
        const int64_t m = n - t < 16 ? n - t : 16;
        __m512 v = _mm512_setzero_ps();
        if (xr) {
            int64_t lo = -(base + t), hi = iw - (base + t);
            if (lo < 0) lo = 0;
            if (hi > m) hi = m;
            if (lo < hi) v = _mm512_maskz_loadu_ps(dw_mask16(lo, hi), dw_addr(xr, base + t));
        }
        _mm512_mask_storeu_ps(dst + t, dw_mask16(0, m), v);
    }
}

/* Stride-2 deinterleave of one row: de[t] = column base + 2t, dodd[t] = base + 2t + 1 for
 * t in [0, n), 0 outside [0, iw) or when xr is NULL (masked loads as above). */
DW_AI void dw_fill_row2(float *de, float *dodd, const float *xr, int64_t base, int64_t n,
                        int64_t iw) {
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t t = 0; t < n; t += 16) {
        const int64_t m = n - t < 16 ? n - t : 16, e = base + 2 * t;
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        if (xr) {
            int64_t lo = -e, hi = iw - e;
            if (lo < 0) lo = 0;
            if (hi > 32) hi = 32;
            if (lo < hi) {
                uint64_t mm = ((1ull << hi) - 1u) & ~((1ull << lo) - 1u);
                a = _mm512_maskz_loadu_ps((__mmask16)(mm & 0xffff), dw_addr(xr, e));
                b = _mm512_maskz_loadu_ps((__mmask16)(mm >> 16), dw_addr(xr, e + 16));
            }
        }
        const __mmask16 st = dw_mask16(0, m);
        _mm512_mask_storeu_ps(de + t, st, _mm512_permutex2var_ps(a, even, b));
        _mm512_mask_storeu_ps(dodd + t, st, _mm512_permutex2var_ps(a, odd, b));
    }
}

/* Rows r in [0, rows) of a padded chunk: dst + r n = input row iy0 + r ys at columns
 * -pl .. n - pl (0 outside the plane), as dw_fill_row; narrow rows (small planes) compute
 * their masks once for all rows. */
DW_AI void dw_fill_rows(const dw_ctx *c, float *dst, int64_t n, int64_t iy0, int64_t ys,
                        int64_t rows) {
    if (n > 64) {
        for (int64_t r = 0, iy = iy0; r < rows; r++, iy += ys)
            dw_fill_row(dst + r * n, iy >= 0 && iy < c->ih ? c->x + iy * c->iw : NULL, -c->pl, n,
                        c->iw);
        return;
    }
    __mmask16 lm[4], sm[4];
    const int64_t nb = (n + 15) / 16;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t t = 16 * b, m = n - t < 16 ? n - t : 16;
        int64_t lo = c->pl - t, hi = c->iw + c->pl - t;
        if (lo < 0) lo = 0;
        if (hi > m) hi = m;
        lm[b] = lo < hi ? dw_mask16(lo, hi) : 0;
        sm[b] = dw_mask16(0, m);
    }
    for (int64_t r = 0, iy = iy0; r < rows; r++, iy += ys) {
        float *d = dst + r * n;
        if (iy < 0 || iy >= c->ih) {
            for (int64_t b = 0; b < nb; b++)
                _mm512_mask_storeu_ps(d + 16 * b, sm[b], _mm512_setzero_ps());
            continue;
        }
        const float *xr = c->x + iy * c->iw;
        for (int64_t b = 0; b < nb; b++)
            _mm512_mask_storeu_ps(d + 16 * b, sm[b],
                                  _mm512_maskz_loadu_ps(lm[b], dw_addr(xr, 16 * b - c->pl)));
    }
}

/* The same for the stride-2 deinterleave (dw_fill_row2) into de and dodd. */
DW_AI void dw_fill_rows2(const dw_ctx *c, float *de, float *dodd, int64_t n, int64_t iy0,
                         int64_t ys, int64_t rows) {
    if (n > 64) {
        for (int64_t r = 0, iy = iy0; r < rows; r++, iy += ys)
            dw_fill_row2(de + r * n, dodd + r * n, iy >= 0 && iy < c->ih ? c->x + iy * c->iw : NULL,
                         -c->pl, n, c->iw);
        return;
    }
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __mmask16 la[4], lb[4], sm[4];
    const int64_t nb = (n + 15) / 16;
    for (int64_t b = 0; b < nb; b++) {
        const int64_t t = 16 * b, m = n - t < 16 ? n - t : 16;
        int64_t lo = c->pl - 2 * t, hi = c->iw + c->pl - 2 * t;
        if (lo < 0) lo = 0;
        if (hi > 32) hi = 32;
        uint64_t mm = lo < hi ? ((1ull << hi) - 1u) & ~((1ull << lo) - 1u) : 0;
        la[b] = (__mmask16)(mm & 0xffff);
        lb[b] = (__mmask16)(mm >> 16);
        sm[b] = dw_mask16(0, m);
    }
    for (int64_t r = 0, iy = iy0; r < rows; r++, iy += ys) {
        float *e = de + r * n, *o = dodd + r * n;
        if (iy < 0 || iy >= c->ih) {
            for (int64_t b = 0; b < nb; b++) {
                _mm512_mask_storeu_ps(e + 16 * b, sm[b], _mm512_setzero_ps());
                _mm512_mask_storeu_ps(o + 16 * b, sm[b], _mm512_setzero_ps());
            }
            continue;
        }
        const float *xr = c->x + iy * c->iw;
        for (int64_t b = 0; b < nb; b++) {
            const int64_t col = 32 * b - c->pl;
            __m512 va = _mm512_maskz_loadu_ps(la[b], dw_addr(xr, col));
            __m512 vb = _mm512_maskz_loadu_ps(lb[b], dw_addr(xr, col + 16));
            _mm512_mask_storeu_ps(e + 16 * b, sm[b], _mm512_permutex2var_ps(va, even, vb));
            _mm512_mask_storeu_ps(o + 16 * b, sm[b], _mm512_permutex2var_ps(va, odd, vb));
        }
    }
}

DW_AI void dw_flat(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                   int64_t chunk, const int KH, const int KW) {
    float pbuf[DW_FLAT_MAX + 16], obuf[DW_FLAT_MAX + 16];
    float *pad = dw_align(pbuf), *out = dw_align(obuf);
    const int64_t wp = c->ow + (c->kw - 1) * c->dw, span = (c->kh - 1) * c->dh;
    const int64_t ow = c->ow, kh = KH ? KH : c->kh, kw = KW ? KW : c->kw;
    __m512 wv[25];
    if (KH && KW) {
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = _mm512_set1_ps(c->w[t]);
    }
    const __m512 vb = _mm512_set1_ps(bias);
    for (int64_t r0 = oy0; r0 < oy1; r0 += chunk) {
        const int64_t nr = oy1 - r0 < chunk ? oy1 - r0 : chunk, prow = nr + span;
        /* padded input rows r0 - pt .. + prow, columns -pl .. wp - pl, then zero slack */
        const int64_t used = prow * wp, total = used + (c->kw - 1) * c->dw + 16;
        dw_fill_rows(c, pad, wp, r0 - c->pt, 1, prow);
        dw_fill_row(pad + used, NULL, 0, total - used, 0);
        /* Rows of at most one vector, when that takes no more vectors than the flat loop:
         * one vector per output row, stored straight to y (no trip through out). */
        if (KH && KW && ow <= 16 && nr * 16 <= (nr - 1) * wp + ow + 15) {
            for (int64_t r = 0; r < nr; r++) {
                const float *pf = pad + r * wp;
                __m512 acc = vb;
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = _mm512_fmadd_ps(
                            wv[i * KW + j], _mm512_loadu_ps(pf + i * c->dh * wp + j * c->dw), acc);
                const int64_t oy = r0 + r;
                dw_store(c, acc, z ? z + oy * ow : NULL, y + oy * ow, ow);
                if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, y + oy * ow);
            }
            continue;
        }
        const int64_t nf = (nr - 1) * wp + ow; /* the last valid flat output + 1 */
        int64_t f = 0;
        if (KH && KW) { /* two vectors per pass: two independent FMA chains */
            for (; f + 16 < nf; f += 32) {
                __m512 a0 = vb, a1 = vb;
                const float *pf = pad + f;
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++) {
                        const float *q = pf + i * c->dh * wp + j * c->dw;
                        a0 = _mm512_fmadd_ps(wv[i * KW + j], _mm512_loadu_ps(q), a0);
                        a1 = _mm512_fmadd_ps(wv[i * KW + j], _mm512_loadu_ps(q + 16), a1);
                    }
                _mm512_storeu_ps(out + f, a0);
                _mm512_storeu_ps(out + f + 16, a1);
            }
        }
        for (; f < nf; f += 16) {
            __m512 acc = vb;
            const float *pf = pad + f;
            if (KH && KW) {
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = _mm512_fmadd_ps(
                            wv[i * KW + j], _mm512_loadu_ps(pf + i * c->dh * wp + j * c->dw), acc);
            } else {
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        acc =
                            _mm512_fmadd_ps(_mm512_set1_ps(c->w[i * kw + j]),
                                            _mm512_loadu_ps(pf + i * c->dh * wp + j * c->dw), acc);
            }
            _mm512_storeu_ps(out + f, acc);
        }
        for (int64_t r = 0; r < nr; r++) {
            const int64_t oy = r0 + r;
            const float *zr = z ? z + oy * ow : NULL;
            float *yr = y + oy * ow;
            for (int64_t ox = 0; ox < ow; ox += 16) {
                int64_t n = ow - ox < 16 ? ow - ox : 16;
                dw_store(c, _mm512_loadu_ps(out + r * wp + ox), zr ? zr + ox : NULL, yr + ox, n);
            }
            if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, yr);
        }
    }
}

/* Stride 2 in both dims, dilation 1: the same flat loop on a polyphase split. A chunk's
 * padded input rows are deinterleaved into four planes P[a][b][r][q] = xpad(2r + a,
 * 2q + b) of width wq = out_w + (k_w - 1) / 2, so tap (i, j) of flat output f = r * wq + ox
 * is plane (i & 1, j & 1) at f + (i >> 1) wq + (j >> 1): unit-stride loads, no masks, and
 * each input element is copied once. */
#define DW_FLAT2_SLACK 16 /* floats after each plane: the last vector's overrun */
static int64_t dw_flat2_rows(const dw_ctx *c, int64_t n) {
    const int64_t wq = c->ow + (c->kw - 1) / 2, hk = (c->kh - 1) / 2;
    const int64_t cap = DW_FLAT_MAX / 4 - DW_FLAT2_SLACK; /* floats per plane */
    if (wq > cap) return 0;
    if (n >= 1 && n <= DW_FLAT_MAX && (n + hk) * wq <= cap && n * wq <= DW_FLAT_MAX - 16)
        return n;                 /* the whole range in one chunk: no divisions (small planes) */
    int64_t rows = cap / wq - hk; /* plane rows = rows + hk */
    int64_t rows2 = (DW_FLAT_MAX - 16) / wq; /* flat outputs + one vector */
    if (rows2 < rows) rows = rows2;
    return rows < 1 ? 0 : rows;
}

DW_AI void dw_flat2(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                    int64_t chunk, const int KH, const int KW) {
    float pbuf[DW_FLAT_MAX + 16], obuf[DW_FLAT_MAX + 16];
    float *pad = dw_align(pbuf), *out = dw_align(obuf);
    const int64_t wq = c->ow + (c->kw - 1) / 2, hk = (c->kh - 1) / 2;
    const int64_t ps = (chunk + hk) * wq + DW_FLAT2_SLACK; /* plane stride */
    const int64_t ow = c->ow, kh = KH ? KH : c->kh, kw = KW ? KW : c->kw;
    float *pl[4] = {pad, pad + ps, pad + 2 * ps, pad + 3 * ps}; /* index 2a + b */
    __m512 wv[25];
    if (KH && KW) {
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = _mm512_set1_ps(c->w[t]);
    }
    const __m512 vb = _mm512_set1_ps(bias);
    for (int64_t r0 = oy0; r0 < oy1; r0 += chunk) {
        const int64_t nr = oy1 - r0 < chunk ? oy1 - r0 : chunk, hq = nr + hk;
        for (int64_t a = 0; a < 2; a++) {
            dw_fill_rows2(c, pl[2 * a], pl[2 * a + 1], wq, 2 * r0 + a - c->pt, 2, hq);
            dw_fill_row(pl[2 * a] + hq * wq, NULL, 0, DW_FLAT2_SLACK, 0);
            dw_fill_row(pl[2 * a + 1] + hq * wq, NULL, 0, DW_FLAT2_SLACK, 0);
        }
        /* as in dw_flat: one vector per output row when that is no more vectors */
        if (KH && KW && ow <= 16 && nr * 16 <= (nr - 1) * wq + ow + 15) {
            for (int64_t r = 0; r < nr; r++) {
                __m512 acc = vb;
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = _mm512_fmadd_ps(wv[i * KW + j],
                                              _mm512_loadu_ps(pl[(i & 1) * 2 + (j & 1)] +
                                                              (r + (i >> 1)) * wq + (j >> 1)),
                                              acc);
                const int64_t oy = r0 + r;
                dw_store(c, acc, z ? z + oy * ow : NULL, y + oy * ow, ow);
                if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, y + oy * ow);
            }
            continue;
        }
        const int64_t nf = (nr - 1) * wq + ow; /* the last valid flat output + 1 */
        int64_t f = 0;
        if (KH && KW) { /* two vectors per pass: two independent FMA chains */
            for (; f + 16 < nf; f += 32) {
                __m512 a0 = vb, a1 = vb;
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++) {
                        const float *q = pl[(i & 1) * 2 + (j & 1)] + f + (i >> 1) * wq + (j >> 1);
                        a0 = _mm512_fmadd_ps(wv[i * KW + j], _mm512_loadu_ps(q), a0);
                        a1 = _mm512_fmadd_ps(wv[i * KW + j], _mm512_loadu_ps(q + 16), a1);
                    }
                _mm512_storeu_ps(out + f, a0);
                _mm512_storeu_ps(out + f + 16, a1);
            }
        }
        for (; f < nf; f += 16) {
            __m512 acc = vb;
            if (KH && KW) {
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = _mm512_fmadd_ps(wv[i * KW + j],
                                              _mm512_loadu_ps(pl[(i & 1) * 2 + (j & 1)] + f +
                                                              (i >> 1) * wq + (j >> 1)),
                                              acc);
            } else {
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(c->w[i * kw + j]),
                                              _mm512_loadu_ps(pl[(i & 1) * 2 + (j & 1)] + f +
                                                              (i >> 1) * wq + (j >> 1)),
                                              acc);
            }
            _mm512_storeu_ps(out + f, acc);
        }
        for (int64_t r = 0; r < nr; r++) {
            const int64_t oy = r0 + r;
            const float *zr = z ? z + oy * ow : NULL;
            float *yr = y + oy * ow;
            for (int64_t ox = 0; ox < ow; ox += 16) {
                int64_t n = ow - ox < 16 ? ow - ox : 16;
                dw_store(c, _mm512_loadu_ps(out + r * wq + ox), zr ? zr + ox : NULL, yr + ox, n);
            }
            if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, yr);
        }
    }
}

/* ------------------------------------------------------- channel-blocked small planes */

/* Small planes, many channels: 16 channels at a time, the channels as the vector lanes.
 * The block's input planes are transposed (16 x 16 tiles of flat positions) into a
 * zero-padded channel-last buffer xb[py][px][16]; every output is then k_h k_w full-width
 * FMAs with no masks, shifts or wasted lanes at any stride, and the outputs go back through
 * the same transpose, 16 flat positions at a time, with z and the activation applied on
 * the way out. Output rows go in bands whose input rows fit the buffer, so any plane
 * width up to about DW_CB_IN_MAX / k_h takes it; it measured faster than the per-plane
 * paths on every MobileNet / EfficientNet shape (most on 7x7, 14x14 and stride 2).
 * Padding taps multiply zeros (as dw_flat does): the same sums for finite weights.
 * Stack: about 100 KiB (the buffers below). */
#define DW_CB_IN_MAX 1024  /* padded input positions (16 floats each): 64 KiB of stack */
#define DW_CB_OUT_MAX 1024 /* output positions per band */
#define DW_CB_OB 256       /* output positions per pass through the transposes: 16 KiB */
#define DW_CB_KK_MAX 49    /* taps */

/* In-register transpose of 16 vectors: r[i] lane j <- r[j] lane i. */
DW_AI void dw_tr16(__m512 r[16]) {
    __m512 t[16], u[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + k], 128-bit lane L: column 4L + k of rows 4g .. 4g + 3 */
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512 a = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88); /* L0 L2 | L0 L2 */
        __m512 b = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
        __m512 c = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xdd); /* L1 L3 | L1 L3 */
        __m512 d = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xdd);
        r[k] = _mm512_shuffle_f32x4(a, b, 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(a, b, 0xdd);
        r[4 + k] = _mm512_shuffle_f32x4(c, d, 0x88);
        r[12 + k] = _mm512_shuffle_f32x4(c, d, 0xdd);
    }
}

/* R outputs whose windows start at xb positions pos[0 .. R): taps in order, bias first. */
DW_AI void dw_cb_out(const float *xb, const int32_t *pos, const int32_t *toff, const __m512 *wv,
                     int64_t kk, __m512 vb, float *dst, const int R, const int KK) {
    __m512 acc[8];
    const float *b[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc[r] = vb;
        b[r] = xb + (int64_t)pos[r] * 16;
    }
    const int64_t n = KK ? KK : kk;
#pragma GCC unroll 25
    for (int64_t t = 0; t < n; t++) {
        const int64_t o = (int64_t)toff[t] * 16;
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm512_fmadd_ps(wv[t], _mm512_load_ps(b[r] + o), acc[r]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        _mm512_store_ps(dst + 16 * r, acc[r]);
}

typedef struct dw_cb_geom {
    int64_t pw;       /* buffer row width: left pad, input, right overhang */
    int64_t band, bh; /* output rows per band, buffer rows per band */
    int64_t in_sp, out_sp, kk;
} dw_cb_geom;

/* Whether the channel-blocked path takes this call; fills *g. Output rows go in bands
 * whose input rows (with the window's overlap) fit the buffer. */
static int dw_cb_fits(const ei_dwconv2d_params *p, size_t n_planes, size_t rows, dw_cb_geom *g) {
    if (n_planes < 8 || rows == 0 || p->k_h * p->k_w > DW_CB_KK_MAX) return 0;
    if (p->in_h > 4096 || p->in_w > 4096 || p->out_h > 4096 || p->out_w > 4096) return 0;
    if (p->stride_h > 64 || p->stride_w > 64 || p->dil_h > 64 || p->dil_w > 64) return 0;
    if (p->pad_t > 64 || p->pad_l > 64) return 0;
    int64_t pw = (int64_t)(p->in_w + p->pad_l);
    int64_t ew = (int64_t)((p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1);
    if (ew > pw) pw = ew;
    const int64_t sh = (int64_t)p->stride_h, span = (int64_t)((p->k_h - 1) * p->dil_h + 1);
    int64_t band = (DW_CB_IN_MAX / pw - span) / sh + 1; /* (band - 1) sh + span rows */
    if (DW_CB_IN_MAX / pw < span || band < 1) return 0;
    if (band * (int64_t)p->out_w > DW_CB_OUT_MAX) band = DW_CB_OUT_MAX / (int64_t)p->out_w;
    if (band < 1) return 0;
    if (band >= (int64_t)rows) {
        band = (int64_t)rows;
    } else { /* even bands */
        int64_t nb = ((int64_t)rows + band - 1) / band;
        band = ((int64_t)rows + nb - 1) / nb;
    }
    g->pw = pw;
    g->band = band;
    g->bh = (band - 1) * sh + span;
    g->in_sp = (int64_t)(p->in_h * p->in_w);
    g->out_sp = (int64_t)(p->out_h * p->out_w);
    g->kk = (int64_t)(p->k_h * p->k_w);
    return 1;
}

DW_AI void dw_cb_run(const ei_dwconv2d_params *p, const dw_cb_geom *g, size_t n_planes,
                     const float *x, const float *w, const float *bias, const float *z, float *y,
                     int64_t oy0, int64_t oy1, const int KK) {
    float xbuf[DW_CB_IN_MAX * 16 + 16], obuf[DW_CB_OB * 16 + 16];
    float *xb = dw_align(xbuf), *ob = dw_align(obuf);
    int32_t ipos[DW_CB_IN_MAX], opos[DW_CB_OUT_MAX], toff[DW_CB_KK_MAX];
    const int64_t in_sp = g->in_sp, out_sp = g->out_sp, kk = KK ? KK : g->kk;
    const int64_t ih = (int64_t)p->in_h, iw = (int64_t)p->in_w, ow = (int64_t)p->out_w;
    const int64_t pw = g->pw, bh = g->bh, band = g->band, pt = (int64_t)p->pad_t;
    const int64_t sh = (int64_t)p->stride_h;
    const ei_act act = p->act;
    const int act_reg = dw_act_in_reg(act.kind);
    /* buffer positions, relative to a band's first buffer row: input flat f of the band's
     * first input row, the window of the band's output flat o, tap t */
    for (int64_t f = 0; f < bh * iw; f++)
        ipos[f] = (int32_t)(f / iw * pw + f % iw + (int64_t)p->pad_l);
    for (int64_t o = 0; o < band * ow; o++)
        opos[o] = (int32_t)(o / ow * sh * pw + o % ow * (int64_t)p->stride_w);
    for (int64_t t = 0; t < kk; t++)
        toff[t] = (int32_t)(t / (int64_t)p->k_w * (int64_t)p->dil_h * pw +
                            t % (int64_t)p->k_w * (int64_t)p->dil_w);
    for (int64_t i = 0; i < bh * pw; i++)
        _mm512_store_ps(xb + 16 * i, _mm512_setzero_ps());
    for (int64_t i = 0; i < DW_CB_OB; i++) /* the last transpose reads past the outputs */
        _mm512_store_ps(ob + 16 * i, _mm512_setzero_ps());
    const __m512i widx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)kk));
    __m512 wv[DW_CB_KK_MAX];
    int64_t dirty_lo = 0, dirty_hi = 0; /* buffer rows [lo, hi) may hold input values */
    for (size_t c0 = 0; c0 < n_planes; c0 += 16) {
        const int64_t nc = n_planes - c0 < 16 ? (int64_t)(n_planes - c0) : 16;
        const __mmask16 mc = dw_mask16(0, nc);
        const float *wc = w + c0 * (size_t)kk;
        if (kk <= 9) { /* weights [c][t] -> [t][c]: gathers for a few taps, */
#pragma GCC unroll 9
            for (int64_t t = 0; t < kk; t++)
                wv[t] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mc, widx, wc + t, 4);
        } else { /* transposes of 16 taps for more (measured faster for 5x5) */
            for (int64_t t0 = 0; t0 < kk; t0 += 16) {
                const int64_t nt = kk - t0 < 16 ? kk - t0 : 16;
                const __mmask16 mt = dw_mask16(0, nt);
                __m512 r[16];
#pragma GCC unroll 16
                for (int c = 0; c < 16; c++)
                    r[c] =
                        c < nc ? _mm512_maskz_loadu_ps(mt, wc + c * kk + t0) : _mm512_setzero_ps();
                dw_tr16(r);
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++)
                    if (i < nt) wv[t0 + i] = r[i];
            }
        }
        const __m512 vb = bias ? _mm512_maskz_loadu_ps(mc, bias + c0) : _mm512_setzero_ps();
        const float *xc = x + c0 * (size_t)in_sp;
        const float *zc = z ? z + c0 * (size_t)out_sp : NULL;
        float *yc = y + c0 * (size_t)out_sp;
        for (int64_t a = oy0; a < oy1; a += band) {
            const int64_t nb = oy1 - a < band ? oy1 - a : band;
            /* input rows [r0, r1) land in buffer rows from r0 - top; the others are zero */
            const int64_t top = a * sh - pt;
            int64_t r0 = top < 0 ? 0 : top, r1 = top + bh < ih ? top + bh : ih;
            if (r1 < r0) r1 = r0;
            for (int64_t r = dirty_lo; r < dirty_hi; r++)
                if (r < r0 - top || r >= r1 - top)
                    for (int64_t i = 0; i < pw; i++)
                        _mm512_store_ps(xb + 16 * (r * pw + i), _mm512_setzero_ps());
            dirty_lo = r0 - top;
            dirty_hi = r1 - top;
            /* input: 16 flat positions of the 16 planes per transpose */
            const int64_t fb = r0 * iw, fe = r1 * iw;
            float *xbb = xb + 16 * (r0 - top) * pw;
            for (int64_t f0 = fb; f0 < fe; f0 += 16) {
                const int64_t nf = fe - f0 < 16 ? fe - f0 : 16;
                const __mmask16 mf = dw_mask16(0, nf);
                const int32_t *ip = ipos + (f0 - fb);
                __m512 r[16];
#pragma GCC unroll 16
                for (int c = 0; c < 16; c++)
                    r[c] = c < nc ? _mm512_maskz_loadu_ps(mf, xc + c * in_sp + f0)
                                  : _mm512_setzero_ps();
                dw_tr16(r);
                /* constant indices only: r stays in registers */
#pragma GCC unroll 16
                for (int k = 0; k < 16; k++)
                    if (k < nf) _mm512_store_ps(xbb + (int64_t)ip[k] * 16, r[k]);
            }
            /* outputs: DW_CB_OB positions of the band at a time computed into ob, then
             * transposed back 16 flat positions at a time, epilogue, stored */
            const int64_t ob0 = a * ow, nout = nb * ow;
            for (int64_t q = 0; q < nout; q += DW_CB_OB) {
                const int64_t nq = nout - q < DW_CB_OB ? nout - q : DW_CB_OB;
                int64_t k = 0;
                if (KK == 25) { /* 25 weights + 5 sums fit the registers: 5 measured best */
                    for (; k + 5 <= nq; k += 5)
                        dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 16 * k, 5, KK);
                }
                for (; KK != 25 && k + 8 <= nq; k += 8)
                    dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 16 * k, 8, KK);
                for (; k + 4 <= nq; k += 4)
                    dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 16 * k, 4, KK);
                for (; k < nq; k++)
                    dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 16 * k, 1, KK);
                for (int64_t q0 = 0; q0 < nq; q0 += 16) {
                    const int64_t nf = nq - q0 < 16 ? nq - q0 : 16;
                    const __mmask16 mf = dw_mask16(0, nf);
                    __m512 r[16];
#pragma GCC unroll 16
                    for (int i = 0; i < 16; i++)
                        r[i] = _mm512_load_ps(ob + 16 * (q0 + i));
                    dw_tr16(r);
                    const int64_t f0 = ob0 + q + q0;
#pragma GCC unroll 16
                    for (int c = 0; c < 16; c++) {
                        if (c >= nc) break;
                        __m512 v = r[c];
                        if (zc)
                            v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mf, zc + c * out_sp + f0));
                        if (act_reg) v = dw_act16(&act, v);
                        _mm512_mask_storeu_ps(yc + c * out_sp + f0, mf, v);
                    }
                }
            }
            if (!act_reg)
                for (int64_t c = 0; c < nc; c++)
                    ei_f32_act_apply(&act, (size_t)nout, yc + c * out_sp + ob0);
        }
    }
}

static void dw_one_plane(const ei_dwconv2d_params *p, const float *x, const float *w, float bias,
                         const float *z, float *y, size_t oy0, size_t oy1) {
    /* Gather indices are int32: very large strides take the reference loop. */
    if (p->stride_w > 2 && p->stride_w > (size_t)INT32_MAX / 16) {
        ei_f32_dwconv2d__ref(p, 1, x, w, &bias, z, y, oy0, oy1);
        return;
    }
    dw_ctx c = {x,
                w,
                (int64_t)p->in_h,
                (int64_t)p->in_w,
                (int64_t)p->out_w,
                (int64_t)p->k_h,
                (int64_t)p->k_w,
                (int64_t)p->stride_h,
                (int64_t)p->stride_w,
                (int64_t)p->dil_h,
                (int64_t)p->dil_w,
                (int64_t)p->pad_t,
                (int64_t)p->pad_l,
                0,
                0,
                0,
                p->act,
                dw_act_in_reg(p->act.kind)};
    int64_t a = (int64_t)oy0, b = (int64_t)oy1;
    int64_t chunk = c.sw == 1 && c.sh == 1 ? dw_flat_rows(&c, b - a) : 0;
    if (chunk) {
        if (c.kh == 3 && c.kw == 3)
            dw_flat(&c, bias, z, y, a, b, chunk, 3, 3);
        else if (c.kh == 5 && c.kw == 5)
            dw_flat(&c, bias, z, y, a, b, chunk, 5, 5);
        else
            dw_flat(&c, bias, z, y, a, b, chunk, 0, 0);
        return;
    }
    chunk = c.sw == 2 && c.sh == 2 && c.dw == 1 && c.dh == 1 ? dw_flat2_rows(&c, b - a) : 0;
    if (chunk) {
        if (c.kh == 3 && c.kw == 3)
            dw_flat2(&c, bias, z, y, a, b, chunk, 3, 3);
        else if (c.kh == 5 && c.kw == 5)
            dw_flat2(&c, bias, z, y, a, b, chunk, 5, 5);
        else
            dw_flat2(&c, bias, z, y, a, b, chunk, 0, 0);
        return;
    }
    /* the row-by-row paths: full blocks between xlo and xhi (xhi2) */
    int64_t tl, th;
    dw_tap_cols(&c, -c.pl, &c.xlo, &th);                    /* tap 0: the last to enter */
    dw_tap_cols(&c, (c.kw - 1) * c.dw - c.pl, &tl, &c.xhi); /* last tap: the first to leave */
    dw_tap_cols(&c, (c.kw - 1) * c.dw + 1 - c.pl, &tl, &c.xhi2);
    if (c.xhi2 > c.xhi) c.xhi2 = c.xhi;
    if (c.sw == 1) {
        if (c.kw == 3 && c.kh == 3)
            dw_plane(&c, bias, z, y, a, b, 3, 3, 1);
        else if (c.kw == 3)
            dw_plane(&c, bias, z, y, a, b, 0, 3, 1);
        else if (c.kw == 5 && c.kh == 5)
            dw_plane(&c, bias, z, y, a, b, 5, 5, 1);
        else if (c.kw == 5)
            dw_plane(&c, bias, z, y, a, b, 0, 5, 1);
        else
            dw_plane(&c, bias, z, y, a, b, 0, 0, 1);
    } else if (c.sw == 2) {
        if (c.kw == 3 && c.kh == 3)
            dw_plane(&c, bias, z, y, a, b, 3, 3, 2);
        else if (c.kw == 3)
            dw_plane(&c, bias, z, y, a, b, 0, 3, 2);
        else if (c.kw == 5 && c.kh == 5)
            dw_plane(&c, bias, z, y, a, b, 5, 5, 2);
        else if (c.kw == 5)
            dw_plane(&c, bias, z, y, a, b, 0, 5, 2);
        else
            dw_plane(&c, bias, z, y, a, b, 0, 0, 2);
    } else {
        dw_plane(&c, bias, z, y, a, b, 0, 0, 0);
    }
}

void ei_f32_dwconv2d__avx512(const ei_dwconv2d_params *p, size_t n_planes, const float *x,
                             const float *w, const float *bias, const float *z, float *y,
                             size_t oy0, size_t oy1) {
    dw_cb_geom g;
    if (oy0 < oy1 && dw_cb_fits(p, n_planes, oy1 - oy0, &g)) {
        const int64_t a = (int64_t)oy0, b = (int64_t)oy1;
        if (g.kk == 9)
            dw_cb_run(p, &g, n_planes, x, w, bias, z, y, a, b, 9);
        else if (g.kk == 25)
            dw_cb_run(p, &g, n_planes, x, w, bias, z, y, a, b, 25);
        else
            dw_cb_run(p, &g, n_planes, x, w, bias, z, y, a, b, 0);
        return;
    }
    const size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w, k_sp = p->k_h * p->k_w;
    for (size_t c = 0; c < n_planes; c++)
        dw_one_plane(p, x + c * in_sp, w + c * k_sp, bias ? bias[c] : 0.0f,
                     z ? z + c * out_sp : NULL, y + c * out_sp, oy0, oy1);
}
