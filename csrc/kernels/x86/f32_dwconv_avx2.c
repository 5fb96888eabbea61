/*
 * x86/f32_dwconv_avx2.c - AVX2+FMA 2-D depthwise convolution (slot f32_dwconv2d). Four or
 * more planes: 8 channels at a time as the vector lanes, through a channel-last buffer
 * (dw_cb_run, as in the AVX-512 file). Fewer planes, or planes too wide for that buffer:
 * one plane at a time, 8 outputs per vector; the structure of the AVX-512 file (flat padded
 * chunks at stride 1, four even/odd phase planes in the same flat loop at stride 2, else
 * row by row). Full blocks use plain loads (stride 2: two loads,
 * shuffle and permute); border and tail blocks use vmaskmovps loads (no fault on masked
 * lanes) and blend the FMA by lane, so padding taps are skipped exactly as in ref.
 * Accumulation order per output: bias, then taps row by row (FMA), then z, then act.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

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

DW_AI __m256 dw_act8(const ei_act *a, __m256 v) {
    switch (a->kind) {
    case EI_ACT_KIND_RELU: return _mm256_max_ps(_mm256_setzero_ps(), v);
    case EI_ACT_KIND_CLIP:
        return _mm256_min_ps(_mm256_set1_ps(a->beta), _mm256_max_ps(_mm256_set1_ps(a->alpha), v));
    case EI_ACT_KIND_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
        return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(a->alpha)), neg);
    }
    case EI_ACT_KIND_HARD_SIGMOID:
    case EI_ACT_KIND_HARD_SWISH: {
        __m256 t = _mm256_fmadd_ps(v, _mm256_set1_ps(a->alpha), _mm256_set1_ps(a->beta));
        t = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
        return a->kind == EI_ACT_KIND_HARD_SWISH ? _mm256_mul_ps(v, t) : t;
    }
    default: return v;
    }
}

static int dw_act_in_reg(ei_act_kind k) {
    return k == EI_ACT_KIND_NONE || k == EI_ACT_KIND_RELU || k == EI_ACT_KIND_CLIP ||
           k == EI_ACT_KIND_LEAKY_RELU || k == EI_ACT_KIND_HARD_SIGMOID ||
           k == EI_ACT_KIND_HARD_SWISH;
}

/* Lanes [lo, hi) set (all ones), lane i compared as lo <= i < hi. */
DW_AI __m256i dw_mask8(int64_t lo, int64_t hi) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx));
}

/* Even elements of a[0..8) b[0..8): a0 a2 a4 a6 b0 b2 b4 b6. */
DW_AI __m256 dw_even8(__m256 a, __m256 b) {
    __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 a2 b0 b2 a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* 8 inputs at stride SW (0: c->sw) starting at p, all inside the plane. */
DW_AI __m256 dw_load_full(const dw_ctx *c, const float *p, const int SW) {
    if (SW == 1) return _mm256_loadu_ps(p);
    /* element 15 (odd, unused) is inside the row: full blocks end at xhi2 */
    if (SW == 2) return dw_even8(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                     _mm256_set1_epi32((int)c->sw));
    return _mm256_i32gather_ps(p, idx, 4);
}

/* Lanes [lo, hi) of 8 inputs at stride SW whose lane 0 sits at element offset e of row
 * xr (lanes outside may lie outside the plane and are neither read nor used). */
DW_AI __m256 dw_load_masked(const dw_ctx *c, const float *xr, int64_t e, int64_t lo, int64_t hi,
                            const int SW) {
    if (SW == 1) return _mm256_maskload_ps(dw_addr(xr, e), dw_mask8(lo, hi));
    if (SW == 2) {
        /* window elements [2 lo, 2 hi - 1) */
        __m256 a = _mm256_maskload_ps(dw_addr(xr, e), dw_mask8(2 * lo, 2 * hi - 1));
        __m256 b = _mm256_maskload_ps(dw_addr(xr, e + 8), dw_mask8(2 * lo - 8, 2 * hi - 9));
        return dw_even8(a, b);
    }
    __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                     _mm256_set1_epi32((int)c->sw));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), dw_addr(xr, e), idx,
                                    _mm256_castsi256_ps(dw_mask8(lo, hi)), 4);
}

/* Epilogue and store of n (1..8) outputs. */
DW_AI void dw_store(const dw_ctx *c, __m256 acc, const float *zr, float *yr, int64_t n) {
    if (n == 8) {
        if (zr) acc = _mm256_add_ps(acc, _mm256_loadu_ps(zr));
        if (c->act_in_reg) acc = dw_act8(&c->act, acc);
        _mm256_storeu_ps(yr, acc);
    } else {
        __m256i m = dw_mask8(0, n);
        if (zr) acc = _mm256_add_ps(acc, _mm256_maskload_ps(zr, m));
        if (c->act_in_reg) acc = dw_act8(&c->act, acc);
        _mm256_maskstore_ps(yr, m, acc);
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
DW_AI __m256 dw_block_masked(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t ox,
                             int64_t n, __m256 acc, const int KW, const int SW) {
    const int64_t kw = KW ? KW : c->kw, sw = SW ? SW : c->sw;
    const int64_t iy0 = oy * c->sh - c->pt;
    for (int64_t j = 0; j < kw; j++) {
        int64_t off = j * c->dw - c->pl, tl, th;
        dw_tap_cols(c, off, &tl, &th);
        int64_t lo = tl - ox, hi = th - ox;
        if (lo < 0) lo = 0;
        if (hi > n) hi = n;
        if (lo >= hi) continue;
        __m256 m = _mm256_castsi256_ps(dw_mask8(lo, hi));
        for (int64_t i = i0; i < i1; i++) {
            const float *xr = c->x + (iy0 + i * c->dh) * c->iw;
            __m256 v = dw_load_masked(c, xr, ox * sw + off, lo, hi, SW);
            __m256 wv = _mm256_set1_ps(c->w[i * c->kw + j]);
            acc = _mm256_blendv_ps(acc, _mm256_fmadd_ps(wv, v, acc), m);
        }
    }
    return acc;
}

/* Taps of kernel rows [i0, i1) for the full block at column ox of output row oy. */
DW_AI __m256 dw_block_full(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t ox,
                           __m256 acc, const int KW, const int SW) {
    const int64_t kw = KW ? KW : c->kw, sw = SW ? SW : c->sw;
    const int64_t iy0 = oy * c->sh - c->pt, col = ox * sw - c->pl;
    for (int64_t i = i0; i < i1; i++) {
        const float *xr = c->x + (iy0 + i * c->dh) * c->iw + col;
        const float *wr = c->w + i * c->kw;
        for (int64_t j = 0; j < kw; j++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(wr[j]), dw_load_full(c, xr + j * c->dw, SW), acc);
    }
    return acc;
}

/* Stride 1, dilation 1 in height: two output rows oy, oy + 1 whose windows lie inside the
 * input in height, full block at ox. Input row r feeds row oy through kernel row r and
 * row oy + 1 through kernel row r - 1, so it is loaded once for both. */
DW_AI void dw_pair_full_s1(const dw_ctx *c, int64_t oy, int64_t ox, __m256 bias, const float *z,
                           float *y, const int KW) {
    const int64_t kw = KW ? KW : c->kw, kh = c->kh;
    const float *x0 = c->x + (oy - c->pt) * c->iw + ox - c->pl;
    __m256 a0 = bias, a1 = bias;
    for (int64_t r = 0; r <= kh; r++) {
        const float *xr = x0 + r * c->iw;
        for (int64_t j = 0; j < kw; j++) {
            __m256 v = _mm256_loadu_ps(xr + j * c->dw);
            if (r < kh) a0 = _mm256_fmadd_ps(_mm256_set1_ps(c->w[r * c->kw + j]), v, a0);
            if (r > 0) a1 = _mm256_fmadd_ps(_mm256_set1_ps(c->w[(r - 1) * c->kw + j]), v, a1);
        }
    }
    dw_store(c, a0, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 8);
    dw_store(c, a1, z ? z + (oy + 1) * c->ow + ox : NULL, y + (oy + 1) * c->ow + ox, 8);
}

/* Full blocks of output row oy over columns [from, to) (to - from >= 8), kernel rows
 * [i0, i1); the last block is shifted back to end at to (recomputing a few outputs).
 * With the kernel size known at compile time (KH, KW) and every kernel row inside the
 * input, the weights stay in registers for the whole row. */
DW_AI void dw_sweep(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t from, int64_t to,
                    __m256 vb, const float *z, float *y, const int KH, const int KW, const int SW) {
    const int64_t sw = SW ? SW : c->sw;
    if (KH && KW && KH * KW <= 25 && i0 == 0 && i1 == KH) {
        __m256 wv[25];
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = _mm256_set1_ps(c->w[t]);
        const int64_t row = (oy * c->sh - c->pt) * c->iw - c->pl;
        for (int64_t ox = from; ox < to; ox += 8) {
            if (ox + 8 > to) ox = to - 8;
            const float *xb = c->x + row + ox * sw;
            __m256 acc = vb;
#pragma GCC unroll 5
            for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                for (int j = 0; j < KW; j++)
                    acc = _mm256_fmadd_ps(wv[i * KW + j],
                                          dw_load_full(c, xb + i * c->dh * c->iw + j * c->dw, SW),
                                          acc);
            dw_store(c, acc, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 8);
        }
        return;
    }
    for (int64_t ox = from; ox < to; ox += 8) {
        if (ox + 8 > to) ox = to - 8;
        __m256 acc = dw_block_full(c, oy, i0, i1, ox, vb, KW, SW);
        dw_store(c, acc, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 8);
    }
}

/* Stride 1, dilation 1 in height: output rows oy and oy + 1, both with every kernel row
 * inside the input, full blocks over [from, to). Input row r feeds row oy through kernel
 * row r and row oy + 1 through kernel row r - 1, so it is loaded once for both. */
DW_AI void dw_sweep_pair_s1(const dw_ctx *c, int64_t oy, int64_t from, int64_t to, __m256 vb,
                            const float *z, float *y, const int KH, const int KW) {
    if (!(KH && KW && KH * KW <= 25)) {
        for (int64_t ox = from; ox < to; ox += 8) {
            if (ox + 8 > to) ox = to - 8;
            dw_pair_full_s1(c, oy, ox, vb, z, y, KW);
        }
        return;
    }
    __m256 wv[25];
#pragma GCC unroll 25
    for (int t = 0; t < KH * KW; t++)
        wv[t] = _mm256_set1_ps(c->w[t]);
    const int64_t row = (oy - c->pt) * c->iw - c->pl;
    for (int64_t ox = from; ox < to; ox += 8) {
        if (ox + 8 > to) ox = to - 8;
        __m256 a0 = vb, a1 = vb;
#pragma GCC unroll 6
        for (int r = 0; r <= KH; r++)
#pragma GCC unroll 5
            for (int j = 0; j < KW; j++) {
                __m256 v = _mm256_loadu_ps(c->x + (row + r * c->iw + ox + j * c->dw));
                if (r < KH) a0 = _mm256_fmadd_ps(wv[r * KW + j], v, a0);
                if (r > 0) a1 = _mm256_fmadd_ps(wv[(r - 1) * KW + j], v, a1);
            }
        dw_store(c, a0, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 8);
        dw_store(c, a1, z ? z + (oy + 1) * c->ow + ox : NULL, y + (oy + 1) * c->ow + ox, 8);
    }
}

DW_AI void dw_plane(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                    const int KH, const int KW, const int SW) {
    const __m256 vb = _mm256_set1_ps(bias);
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
        const int64_t flo = c->xlo, fend = fhi - flo >= 8 ? fhi : flo;
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
            n = end - ox < 8 ? end - ox : 8;
            for (int r = 0; r <= pair; r++) {
                int64_t o = oy + r, k0 = i0, k1 = i1;
                if (r) dw_rows(c, o, &k0, &k1);
                __m256 acc = dw_block_masked(c, o, k0, k1, ox, n, vb, KW, SW);
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
    const int64_t slack = (c->kw - 1) * c->dw + (c->kh - 1) * c->dh * wp + 8;
    if (wp > DW_FLAT_MAX || slack > DW_FLAT_MAX) return 0;
    if (n >= 1 && n <= DW_FLAT_MAX && n * wp <= DW_FLAT_MAX - 8 &&
        (n + span) * wp <= DW_FLAT_MAX - slack)
        return n; /* the whole range in one chunk: no divisions (small planes) */
    int64_t rows = (DW_FLAT_MAX - slack) / wp - span; /* padded rows = rows + span */
    int64_t rows2 = (DW_FLAT_MAX - 8) / wp;           /* flat outputs + one vector */
    if (rows2 < rows) rows = rows2;
    return rows < 1 ? 0 : rows;
}

DW_AI void dw_flat(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                   int64_t chunk, const int KH, const int KW) {
    float pbuf[DW_FLAT_MAX + 16], obuf[DW_FLAT_MAX + 16];
    float *pad = dw_align(pbuf), *out = dw_align(obuf);
    const int64_t wp = c->ow + (c->kw - 1) * c->dw, span = (c->kh - 1) * c->dh;
    const int64_t ow = c->ow, kh = KH ? KH : c->kh, kw = KW ? KW : c->kw;
    __m256 wv[25];
    if (KH && KW) {
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = _mm256_set1_ps(c->w[t]);
    }
    const __m256 vb = _mm256_set1_ps(bias);
    for (int64_t r0 = oy0; r0 < oy1; r0 += chunk) {
        const int64_t nr = oy1 - r0 < chunk ? oy1 - r0 : chunk, prow = nr + span;
        /* padded input rows r0 - pt .. + prow, columns -pl .. wp - pl, then zero slack */
        const int64_t used = prow * wp, total = used + (c->kw - 1) * c->dw + 8;
        for (int64_t r = 0; r < prow; r++) {
            float *d = pad + r * wp;
            int64_t iy = r0 - c->pt + r;
            if (iy < 0 || iy >= c->ih) {
                memset(d, 0, (size_t)wp * sizeof(float));
                continue;
            }
            int64_t lo = c->pl < wp ? c->pl : wp, n = c->iw < wp - lo ? c->iw : wp - lo;
            memset(d, 0, (size_t)lo * sizeof(float));
            memcpy(d + lo, c->x + iy * c->iw, (size_t)n * sizeof(float));
            memset(d + lo + n, 0, (size_t)(wp - lo - n) * sizeof(float));
        }
        memset(pad + used, 0, (size_t)(total - used) * sizeof(float));
        const int64_t nf = (nr - 1) * wp + ow; /* the last valid flat output + 1 */
        int64_t f = 0;
        if (KH && KW) { /* two vectors per pass: two independent FMA chains */
            for (; f + 8 < nf; f += 16) {
                __m256 a0 = vb, a1 = vb;
                const float *pf = pad + f;
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++) {
                        const float *q = pf + i * c->dh * wp + j * c->dw;
                        a0 = _mm256_fmadd_ps(wv[i * KW + j], _mm256_loadu_ps(q), a0);
                        a1 = _mm256_fmadd_ps(wv[i * KW + j], _mm256_loadu_ps(q + 8), a1);
                    }
                _mm256_storeu_ps(out + f, a0);
                _mm256_storeu_ps(out + f + 8, a1);
            }
        }
        for (; f < nf; f += 8) {
            __m256 acc = vb;
            const float *pf = pad + f;
            if (KH && KW) {
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = _mm256_fmadd_ps(
                            wv[i * KW + j], _mm256_loadu_ps(pf + i * c->dh * wp + j * c->dw), acc);
            } else {
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        acc =
                            _mm256_fmadd_ps(_mm256_set1_ps(c->w[i * kw + j]),
                                            _mm256_loadu_ps(pf + i * c->dh * wp + j * c->dw), acc);
            }
            _mm256_storeu_ps(out + f, acc);
        }
        for (int64_t r = 0; r < nr; r++) {
            const int64_t oy = r0 + r;
            const float *zr = z ? z + oy * ow : NULL;
            float *yr = y + oy * ow;
            for (int64_t ox = 0; ox < ow; ox += 8) {
                int64_t n = ow - ox < 8 ? ow - ox : 8;
                dw_store(c, _mm256_loadu_ps(out + r * wp + ox), zr ? zr + ox : NULL, yr + ox, n);
            }
            if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, yr);
        }
    }
}

/* Stride-2 deinterleave of one row: de[t] = column base + 2t, dodd[t] = base + 2t + 1 for
 * t in [0, n), 0 outside [0, iw) or when xr is NULL. Masked loads (vmaskmovps does not
 * fault on masked lanes): nothing outside the row is read. */
DW_AI void dw_fill_row2(float *de, float *dodd, const float *xr, int64_t base, int64_t n,
                        int64_t iw) {
    for (int64_t t = 0; t < n; t += 8) {
        const int64_t m = n - t < 8 ? n - t : 8, e = base + 2 * t;
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
        if (xr) {
            int64_t lo = -e, hi = iw - e;
            if (lo < 0) lo = 0;
            if (hi > 16) hi = 16;
            if (lo < hi) {
                a = _mm256_maskload_ps(dw_addr(xr, e), dw_mask8(lo, hi));
                b = _mm256_maskload_ps(dw_addr(xr, e + 8), dw_mask8(lo - 8, hi - 8));
            }
        }
        __m256 od = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)); /* a1 a3 b1 b3 .. */
        od = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0)));
        const __m256i st = dw_mask8(0, m);
        _mm256_maskstore_ps(de + t, st, dw_even8(a, b));
        _mm256_maskstore_ps(dodd + t, st, od);
    }
}

/* Stride 2 in both dims, dilation 1: the same flat loop on a polyphase split. A chunk's
 * padded input rows are deinterleaved into four planes P[a][b][r][q] = xpad(2r + a,
 * 2q + b) of width wq = out_w + (k_w - 1) / 2, so tap (i, j) of flat output f = r * wq + ox
 * is plane (i & 1, j & 1) at f + (i >> 1) wq + (j >> 1): unit-stride loads, no masks, and
 * each input element is copied once. */
#define DW_FLAT2_SLACK 8 /* floats after each plane: the last vector's overrun */
static int64_t dw_flat2_rows(const dw_ctx *c, int64_t n) {
    const int64_t wq = c->ow + (c->kw - 1) / 2, hk = (c->kh - 1) / 2;
    const int64_t cap = DW_FLAT_MAX / 4 - DW_FLAT2_SLACK; /* floats per plane */
    if (wq > cap) return 0;
    if (n >= 1 && n <= DW_FLAT_MAX && (n + hk) * wq <= cap && n * wq <= DW_FLAT_MAX - 8)
        return n;                 /* the whole range in one chunk: no divisions (small planes) */
    int64_t rows = cap / wq - hk; /* plane rows = rows + hk */
    int64_t rows2 = (DW_FLAT_MAX - 8) / wq; /* flat outputs + one vector */
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
    __m256 wv[25];
    if (KH && KW) {
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = _mm256_set1_ps(c->w[t]);
    }
    const __m256 vb = _mm256_set1_ps(bias);
    for (int64_t r0 = oy0; r0 < oy1; r0 += chunk) {
        const int64_t nr = oy1 - r0 < chunk ? oy1 - r0 : chunk, hq = nr + hk;
        for (int64_t a = 0; a < 2; a++) {
            for (int64_t r = 0; r < hq; r++) {
                int64_t iy = 2 * (r0 + r) + a - c->pt;
                dw_fill_row2(pl[2 * a] + r * wq, pl[2 * a + 1] + r * wq,
                             iy >= 0 && iy < c->ih ? c->x + iy * c->iw : NULL, -c->pl, wq, c->iw);
            }
            memset(pl[2 * a] + hq * wq, 0, DW_FLAT2_SLACK * sizeof(float));
            memset(pl[2 * a + 1] + hq * wq, 0, DW_FLAT2_SLACK * sizeof(float));
        }
        const int64_t nf = (nr - 1) * wq + ow; /* the last valid flat output + 1 */
        int64_t f = 0;
        if (KH && KW) { /* two vectors per pass: two independent FMA chains */
            for (; f + 8 < nf; f += 16) {
                __m256 a0 = vb, a1 = vb;
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++) {
                        const float *q = pl[(i & 1) * 2 + (j & 1)] + f + (i >> 1) * wq + (j >> 1);
                        a0 = _mm256_fmadd_ps(wv[i * KW + j], _mm256_loadu_ps(q), a0);
                        a1 = _mm256_fmadd_ps(wv[i * KW + j], _mm256_loadu_ps(q + 8), a1);
                    }
                _mm256_storeu_ps(out + f, a0);
                _mm256_storeu_ps(out + f + 8, a1);
            }
        }
        for (; f < nf; f += 8) {
            __m256 acc = vb;
            if (KH && KW) {
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = _mm256_fmadd_ps(wv[i * KW + j],
                                              _mm256_loadu_ps(pl[(i & 1) * 2 + (j & 1)] + f +
                                                              (i >> 1) * wq + (j >> 1)),
                                              acc);
            } else {
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(c->w[i * kw + j]),
                                              _mm256_loadu_ps(pl[(i & 1) * 2 + (j & 1)] + f +
                                                              (i >> 1) * wq + (j >> 1)),
                                              acc);
            }
            _mm256_storeu_ps(out + f, acc);
        }
        for (int64_t r = 0; r < nr; r++) {
            const int64_t oy = r0 + r;
            const float *zr = z ? z + oy * ow : NULL;
            float *yr = y + oy * ow;
            for (int64_t ox = 0; ox < ow; ox += 8) {
                int64_t n = ow - ox < 8 ? ow - ox : 8;
                dw_store(c, _mm256_loadu_ps(out + r * wq + ox), zr ? zr + ox : NULL, yr + ox, n);
            }
            if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, yr);
        }
    }
}

/* ------------------------------------------------------- channel-blocked small planes */

/* Many channels: 8 at a time, the channels as the vector lanes (as in the AVX-512 file).
 * The block's input rows are transposed (8 x 8 tiles of flat positions) into a
 * zero-padded channel-last buffer xb[row][col][8]; every output is then k_h k_w full FMAs
 * with no masks, shifts or wasted lanes at any stride, and the outputs go back through the
 * same transpose with z and the activation applied on the way out. Output rows go in
 * bands whose input rows fit the buffer. Plane tails use masked loads and stores, so
 * nothing outside the planes is touched. Padding taps multiply zeros (as dw_flat does).
 * Stack: about 55 KiB. */
#define DW_CB_IN_MAX 1024  /* buffer positions (8 floats each): 32 KiB of stack */
#define DW_CB_OUT_MAX 1024 /* output positions per band */
#define DW_CB_OB 256       /* output positions per pass through the transposes: 8 KiB */
#define DW_CB_KK_MAX 49    /* taps */

/* In-register transpose of 8 vectors: r[i] lane j <- r[j] lane i. */
DW_AI void dw_tr8(__m256 r[8]) {
    __m256 t[8], u[8];
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* u[4g + k], 128-bit lane L: column 4L + k of rows 4g .. 4g + 3 */
#pragma GCC unroll 2
    for (int g = 0; g < 2; g++) {
        u[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
        u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
    }
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

/* R outputs whose windows start at xb positions pos[0 .. R): taps in order, bias first. */
DW_AI void dw_cb_out(const float *xb, const int32_t *pos, const int32_t *toff, const __m256 *wv,
                     int64_t kk, __m256 vb, float *dst, const int R, const int KK) {
    __m256 acc[8];
    const float *b[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc[r] = vb;
        b[r] = xb + (int64_t)pos[r] * 8;
    }
    const int64_t n = KK ? KK : kk;
#pragma GCC unroll 25
    for (int64_t t = 0; t < n; t++) {
        const int64_t o = (int64_t)toff[t] * 8;
        const __m256 wt = wv[t];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
            acc[r] = _mm256_fmadd_ps(wt, _mm256_load_ps(b[r] + o), acc[r]);
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
        _mm256_store_ps(dst + 8 * r, acc[r]);
}

typedef struct dw_cb_geom {
    int64_t pw;       /* buffer row width: left pad, input, right overhang */
    int64_t band, bh; /* output rows per band, buffer rows per band */
    int64_t in_sp, out_sp, kk;
} dw_cb_geom;

/* Whether the channel-blocked path takes this call; fills *g. */
static int dw_cb_fits(const ei_dwconv2d_params *p, size_t n_planes, size_t rows, dw_cb_geom *g) {
    if (n_planes < 4 || rows == 0 || p->k_h * p->k_w > DW_CB_KK_MAX) return 0;
    if (p->in_h > 4096 || p->in_w > 4096 || p->out_h > 4096 || p->out_w > 4096) return 0;
    if (p->stride_h > 64 || p->stride_w > 64 || p->dil_h > 64 || p->dil_w > 64) return 0;
    if (p->pad_t > 64 || p->pad_l > 64) return 0;
    int64_t pw = (int64_t)(p->in_w + p->pad_l);
    int64_t ew = (int64_t)((p->out_w - 1) * p->stride_w + (p->k_w - 1) * p->dil_w + 1);
    if (ew > pw) pw = ew;
    const int64_t sh = (int64_t)p->stride_h, span = (int64_t)((p->k_h - 1) * p->dil_h + 1);
    if (DW_CB_IN_MAX / pw < span) return 0;
    int64_t band = (DW_CB_IN_MAX / pw - span) / sh + 1; /* (band - 1) sh + span rows */
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
    float xbuf[DW_CB_IN_MAX * 8 + 16], obuf[DW_CB_OB * 8 + 16], wbuf[DW_CB_KK_MAX * 8 + 16];
    float *xb = dw_align(xbuf), *ob = dw_align(obuf), *wt = dw_align(wbuf);
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
        _mm256_store_ps(xb + 8 * i, _mm256_setzero_ps());
    for (int64_t i = 0; i < DW_CB_OB; i++) /* the last transpose reads past the outputs */
        _mm256_store_ps(ob + 8 * i, _mm256_setzero_ps());
    __m256 wv[DW_CB_KK_MAX];
    int64_t dirty_lo = 0, dirty_hi = 0; /* buffer rows [lo, hi) may hold input values */
    for (size_t c0 = 0; c0 < n_planes; c0 += 8) {
        const int64_t nc = n_planes - c0 < 8 ? (int64_t)(n_planes - c0) : 8;
        const float *wc = w + c0 * (size_t)kk;
        for (int64_t t0 = 0; t0 < kk; t0 += 8) { /* weights [c][t] -> [t][c] */
            const int64_t nt = kk - t0 < 8 ? kk - t0 : 8;
            const __m256i mt = dw_mask8(0, nt);
            __m256 r[8];
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++)
                r[c] = c < nc ? _mm256_maskload_ps(wc + c * kk + t0, mt) : _mm256_setzero_ps();
            dw_tr8(r);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++)
                if (i < nt) wv[t0 + i] = r[i];
        }
        __m256 vb = _mm256_setzero_ps();
        if (bias) {
            for (int64_t c = 0; c < 8; c++)
                wt[c] = c < nc ? bias[c0 + c] : 0.0f;
            vb = _mm256_load_ps(wt);
        }
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
                        _mm256_store_ps(xb + 8 * (r * pw + i), _mm256_setzero_ps());
            dirty_lo = r0 - top;
            dirty_hi = r1 - top;
            /* input: 8 flat positions of the 8 planes per transpose */
            const int64_t fb = r0 * iw, fe = r1 * iw;
            float *xbb = xb + 8 * (r0 - top) * pw;
            for (int64_t f0 = fb; f0 < fe; f0 += 8) {
                const int64_t nf = fe - f0 < 8 ? fe - f0 : 8;
                const int32_t *ip = ipos + (f0 - fb);
                __m256 r[8];
                if (nf == 8) {
#pragma GCC unroll 8
                    for (int c = 0; c < 8; c++)
                        r[c] = c < nc ? _mm256_loadu_ps(xc + c * in_sp + f0) : _mm256_setzero_ps();
                } else {
                    const __m256i mf = dw_mask8(0, nf);
#pragma GCC unroll 8
                    for (int c = 0; c < 8; c++)
                        r[c] = c < nc ? _mm256_maskload_ps(xc + c * in_sp + f0, mf)
                                      : _mm256_setzero_ps();
                }
                dw_tr8(r);
                /* constant indices only: r stays in registers */
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++)
                    if (k < nf) _mm256_store_ps(xbb + (int64_t)ip[k] * 8, r[k]);
            }
            /* outputs: DW_CB_OB positions of the band at a time computed into ob, then
             * transposed back 8 flat positions at a time, epilogue, stored */
            const int64_t ob0 = a * ow, nout = nb * ow;
            for (int64_t q = 0; q < nout; q += DW_CB_OB) {
                const int64_t nq = nout - q < DW_CB_OB ? nout - q : DW_CB_OB;
                int64_t k = 0;
                /* sums per pass, measured: 5 for 3x3 (9 weights + 5 sums in 16 registers),
                 * 6 for 5x5 (the weights come from memory), 4 otherwise */
                if (KK == 9 || KK == 25) {
                    const int rb = KK == 9 ? 5 : 6;
                    for (; k + rb <= nq; k += rb)
                        dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 8 * k, KK == 9 ? 5 : 6,
                                  KK);
                }
                for (; k + 4 <= nq; k += 4)
                    dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 8 * k, 4, KK);
                for (; k < nq; k++)
                    dw_cb_out(xb, opos + q + k, toff, wv, kk, vb, ob + 8 * k, 1, KK);
                for (int64_t q0 = 0; q0 < nq; q0 += 8) {
                    const int64_t nf = nq - q0 < 8 ? nq - q0 : 8;
                    __m256 r[8];
#pragma GCC unroll 8
                    for (int i = 0; i < 8; i++)
                        r[i] = _mm256_load_ps(ob + 8 * (q0 + i));
                    dw_tr8(r);
                    const int64_t f0 = ob0 + q + q0;
                    const __m256i mf = dw_mask8(0, nf);
#pragma GCC unroll 8
                    for (int c = 0; c < 8; c++) {
                        if (c >= nc) break;
                        __m256 v = r[c];
                        const float *zr = zc ? zc + c * out_sp + f0 : NULL;
                        float *yr = yc + c * out_sp + f0;
                        if (nf == 8) {
                            if (zr) v = _mm256_add_ps(v, _mm256_loadu_ps(zr));
                            if (act_reg) v = dw_act8(&act, v);
                            _mm256_storeu_ps(yr, v);
                        } else {
                            if (zr) v = _mm256_add_ps(v, _mm256_maskload_ps(zr, mf));
                            if (act_reg) v = dw_act8(&act, v);
                            _mm256_maskstore_ps(yr, mf, v);
                        }
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
    if (p->stride_w > 2 && p->stride_w > (size_t)INT32_MAX / 8) {
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

void ei_f32_dwconv2d__avx2(const ei_dwconv2d_params *p, size_t n_planes, const float *x,
                           const float *w, const float *bias, const float *z, float *y, size_t oy0,
                           size_t oy1) {
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
