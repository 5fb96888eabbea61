/*
 * arm/f32_dwconv_neon.c - NEON (aarch64) 2-D depthwise convolution (slot f32_dwconv2d),
 * one channel plane at a time (no channel-blocked path yet: the x86 ones won where a row
 * fills a wide vector poorly, and it is unmeasured on ARM), 4 outputs per vector; the
 * per-plane structure of the x86 files: flat padded
 * chunks at stride 1 (dw_flat), four even/odd phase planes in the same flat loop at
 * stride 2 (dw_flat2), else row by row with plain loads for full blocks (stride
 * 2: vld2q deinterleaves) and scalar lanes for border and tail blocks (NEON has no masked
 * loads), stored through a stack buffer. Strides above 2 take the reference loop.
 * Accumulation order per output: bias, then taps row by row, then z, then act.
 */
#include <arm_neon.h>
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

/* Output columns whose tap at offset off = j*dw - pl lands inside [0, iw): [*lo, *hi). */
DW_AI void dw_tap_cols(const dw_ctx *c, int64_t off, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + c->sw - 1) / c->sw;
    int64_t h = c->iw - 1 - off < 0 ? 0 : (c->iw - 1 - off) / c->sw + 1;
    if (h > c->ow) h = c->ow;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

DW_AI float32x4_t dw_act4(const ei_act *a, float32x4_t v) {
    const float32x4_t zero = vdupq_n_f32(0.0f);
    switch (a->kind) {
    case EI_ACT_KIND_RELU: return vbslq_f32(vcltq_f32(v, zero), zero, v);
    case EI_ACT_KIND_CLIP: {
        float32x4_t lo = vdupq_n_f32(a->alpha), hi = vdupq_n_f32(a->beta);
        v = vbslq_f32(vcltq_f32(v, lo), lo, v);
        return vbslq_f32(vcgtq_f32(v, hi), hi, v);
    }
    case EI_ACT_KIND_LEAKY_RELU: return vbslq_f32(vcltq_f32(v, zero), vmulq_n_f32(v, a->alpha), v);
    case EI_ACT_KIND_HARD_SIGMOID:
    case EI_ACT_KIND_HARD_SWISH: {
        const float32x4_t one = vdupq_n_f32(1.0f);
        float32x4_t t = vfmaq_n_f32(vdupq_n_f32(a->beta), v, a->alpha);
        t = vbslq_f32(vcltq_f32(t, zero), zero, t);
        t = vbslq_f32(vcgtq_f32(t, one), one, t);
        return a->kind == EI_ACT_KIND_HARD_SWISH ? vmulq_f32(v, t) : t;
    }
    default: return v;
    }
}

static int dw_act_in_reg(ei_act_kind k) {
    return k == EI_ACT_KIND_NONE || k == EI_ACT_KIND_RELU || k == EI_ACT_KIND_CLIP ||
           k == EI_ACT_KIND_LEAKY_RELU || k == EI_ACT_KIND_HARD_SIGMOID ||
           k == EI_ACT_KIND_HARD_SWISH;
}

/* 4 inputs at stride SW (1 or 2) starting at p, all inside the plane. */
DW_AI float32x4_t dw_load_full(const float *p, const int SW) {
    /* stride 2: element 7 (odd, unused) is inside the row: full blocks end at xhi2 */
    return SW == 1 ? vld1q_f32(p) : vld2q_f32(p).val[0];
}

/* Epilogue and store of n (1..4) outputs. */
DW_AI void dw_store(const dw_ctx *c, float32x4_t acc, const float *zr, float *yr, int64_t n) {
    if (n == 4) {
        if (zr) acc = vaddq_f32(acc, vld1q_f32(zr));
        if (c->act_in_reg) acc = dw_act4(&c->act, acc);
        vst1q_f32(yr, acc);
    } else {
        float t[4] = {0};
        if (zr) {
            memcpy(t, zr, (size_t)n * sizeof(float));
            acc = vaddq_f32(acc, vld1q_f32(t));
        }
        if (c->act_in_reg) acc = dw_act4(&c->act, acc);
        vst1q_f32(t, acc);
        memcpy(yr, t, (size_t)n * sizeof(float));
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

/* A border or tail block: n outputs from column ox of row oy, lane by lane. */
DW_AI float32x4_t dw_block_masked(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t ox,
                                  int64_t n, float bias) {
    const int64_t iy0 = oy * c->sh - c->pt;
    float t[4] = {0};
    for (int64_t l = 0; l < n; l++) {
        int64_t c0 = (ox + l) * c->sw - c->pl;
        float acc = bias;
        for (int64_t i = i0; i < i1; i++) {
            const float *xr = c->x + (iy0 + i * c->dh) * c->iw;
            const float *wr = c->w + i * c->kw;
            for (int64_t j = 0; j < c->kw; j++) {
                int64_t col = c0 + j * c->dw;
                if (col >= 0 && col < c->iw) acc += wr[j] * xr[col];
            }
        }
        t[l] = acc;
    }
    return vld1q_f32(t);
}

/* Taps of kernel rows [i0, i1) for the full block at column ox of output row oy. */
DW_AI float32x4_t dw_block_full(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t ox,
                                float32x4_t acc, const int KW, const int SW) {
    const int64_t kw = KW ? KW : c->kw, sw = SW ? SW : c->sw;
    const int64_t iy0 = oy * c->sh - c->pt, col = ox * sw - c->pl;
    for (int64_t i = i0; i < i1; i++) {
        const float *xr = c->x + (iy0 + i * c->dh) * c->iw + col;
        const float *wr = c->w + i * c->kw;
        for (int64_t j = 0; j < kw; j++)
            acc = vfmaq_n_f32(acc, dw_load_full(xr + j * c->dw, SW), wr[j]);
    }
    return acc;
}

/* Stride 1, dilation 1 in height: two output rows oy, oy + 1 whose windows lie inside the
 * input in height, full block at ox. Input row r feeds row oy through kernel row r and
 * row oy + 1 through kernel row r - 1, so it is loaded once for both. */
DW_AI void dw_pair_full_s1(const dw_ctx *c, int64_t oy, int64_t ox, float32x4_t bias,
                           const float *z, float *y, const int KW) {
    const int64_t kw = KW ? KW : c->kw, kh = c->kh;
    const float *x0 = c->x + (oy - c->pt) * c->iw + ox - c->pl;
    float32x4_t a0 = bias, a1 = bias;
    for (int64_t r = 0; r <= kh; r++) {
        const float *xr = x0 + r * c->iw;
        for (int64_t j = 0; j < kw; j++) {
            float32x4_t v = vld1q_f32(xr + j * c->dw);
            if (r < kh) a0 = vfmaq_n_f32(a0, v, c->w[r * c->kw + j]);
            if (r > 0) a1 = vfmaq_n_f32(a1, v, c->w[(r - 1) * c->kw + j]);
        }
    }
    dw_store(c, a0, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 4);
    dw_store(c, a1, z ? z + (oy + 1) * c->ow + ox : NULL, y + (oy + 1) * c->ow + ox, 4);
}

/* Full blocks of output row oy over columns [from, to) (to - from >= 4), kernel rows
 * [i0, i1); the last block is shifted back to end at to (recomputing a few outputs).
 * With the kernel size known at compile time (KH, KW) and every kernel row inside the
 * input, the weights stay in registers for the whole row. */
DW_AI void dw_sweep(const dw_ctx *c, int64_t oy, int64_t i0, int64_t i1, int64_t from, int64_t to,
                    float32x4_t vb, const float *z, float *y, const int KH, const int KW,
                    const int SW) {
    const int64_t sw = SW ? SW : c->sw;
    if (KH && KW && KH * KW <= 25 && i0 == 0 && i1 == KH) {
        float32x4_t wv[25];
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = vdupq_n_f32(c->w[t]);
        const int64_t row = (oy * c->sh - c->pt) * c->iw - c->pl;
        for (int64_t ox = from; ox < to; ox += 4) {
            if (ox + 4 > to) ox = to - 4;
            const float *xb = c->x + row + ox * sw;
            float32x4_t acc = vb;
#pragma GCC unroll 5
            for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                for (int j = 0; j < KW; j++)
                    acc = vfmaq_f32(acc, dw_load_full(xb + i * c->dh * c->iw + j * c->dw, SW),
                                    wv[i * KW + j]);
            dw_store(c, acc, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 4);
        }
        return;
    }
    for (int64_t ox = from; ox < to; ox += 4) {
        if (ox + 4 > to) ox = to - 4;
        float32x4_t acc = dw_block_full(c, oy, i0, i1, ox, vb, KW, SW);
        dw_store(c, acc, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 4);
    }
}

/* Stride 1, dilation 1 in height: output rows oy and oy + 1, both with every kernel row
 * inside the input, full blocks over [from, to). Input row r feeds row oy through kernel
 * row r and row oy + 1 through kernel row r - 1, so it is loaded once for both. */
DW_AI void dw_sweep_pair_s1(const dw_ctx *c, int64_t oy, int64_t from, int64_t to, float32x4_t vb,
                            const float *z, float *y, const int KH, const int KW) {
    if (!(KH && KW && KH * KW <= 25)) {
        for (int64_t ox = from; ox < to; ox += 4) {
            if (ox + 4 > to) ox = to - 4;
            dw_pair_full_s1(c, oy, ox, vb, z, y, KW);
        }
        return;
    }
    float32x4_t wv[25];
#pragma GCC unroll 25
    for (int t = 0; t < KH * KW; t++)
        wv[t] = vdupq_n_f32(c->w[t]);
    const int64_t row = (oy - c->pt) * c->iw - c->pl;
    for (int64_t ox = from; ox < to; ox += 4) {
        if (ox + 4 > to) ox = to - 4;
        float32x4_t a0 = vb, a1 = vb;
#pragma GCC unroll 6
        for (int r = 0; r <= KH; r++)
#pragma GCC unroll 5
            for (int j = 0; j < KW; j++) {
                float32x4_t v = vld1q_f32(c->x + (row + r * c->iw + ox + j * c->dw));
                if (r < KH) a0 = vfmaq_f32(a0, v, wv[r * KW + j]);
                if (r > 0) a1 = vfmaq_f32(a1, v, wv[(r - 1) * KW + j]);
            }
        dw_store(c, a0, z ? z + oy * c->ow + ox : NULL, y + oy * c->ow + ox, 4);
        dw_store(c, a1, z ? z + (oy + 1) * c->ow + ox : NULL, y + (oy + 1) * c->ow + ox, 4);
    }
}

DW_AI void dw_plane(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                    const int KH, const int KW, const int SW) {
    const float32x4_t vb = vdupq_n_f32(bias);
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
        const int64_t flo = c->xlo, fend = fhi - flo >= 4 ? fhi : flo;
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
            n = end - ox < 4 ? end - ox : 4;
            for (int r = 0; r <= pair; r++) {
                int64_t o = oy + r, k0 = i0, k1 = i1;
                if (r) dw_rows(c, o, &k0, &k1);
                float32x4_t acc = dw_block_masked(c, o, k0, k1, ox, n, bias);
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

/* Rows per chunk, 0 when not even one fits. */
static int64_t dw_flat_rows(const dw_ctx *c) {
    const int64_t wp = c->ow + (c->kw - 1) * c->dw, span = (c->kh - 1) * c->dh;
    const int64_t slack = (c->kw - 1) * c->dw + (c->kh - 1) * c->dh * wp + 4;
    if (wp > DW_FLAT_MAX || slack > DW_FLAT_MAX) return 0;
    int64_t rows = (DW_FLAT_MAX - slack) / wp - span; /* padded rows = rows + span */
    int64_t rows2 = (DW_FLAT_MAX - 4) / wp;           /* flat outputs + one vector */
    if (rows2 < rows) rows = rows2;
    return rows < 1 ? 0 : rows;
}

DW_AI void dw_flat(const dw_ctx *c, float bias, const float *z, float *y, int64_t oy0, int64_t oy1,
                   int64_t chunk, const int KH, const int KW) {
    float pbuf[DW_FLAT_MAX + 16], obuf[DW_FLAT_MAX + 16];
    float *pad = dw_align(pbuf), *out = dw_align(obuf);
    const int64_t wp = c->ow + (c->kw - 1) * c->dw, span = (c->kh - 1) * c->dh;
    const int64_t ow = c->ow, kh = KH ? KH : c->kh, kw = KW ? KW : c->kw;
    float32x4_t wv[25];
    if (KH && KW) {
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = vdupq_n_f32(c->w[t]);
    }
    const float32x4_t vb = vdupq_n_f32(bias);
    for (int64_t r0 = oy0; r0 < oy1; r0 += chunk) {
        const int64_t nr = oy1 - r0 < chunk ? oy1 - r0 : chunk, prow = nr + span;
        /* padded input rows r0 - pt .. + prow, columns -pl .. wp - pl, then zero slack */
        const int64_t used = prow * wp, total = used + (c->kw - 1) * c->dw + 4;
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
        for (int64_t f = 0; f < nf; f += 4) {
            float32x4_t acc = vb;
            const float *pf = pad + f;
            if (KH && KW) {
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = vfmaq_f32(acc, vld1q_f32(pf + i * c->dh * wp + j * c->dw),
                                        wv[i * KW + j]);
            } else {
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        acc = vfmaq_n_f32(acc, vld1q_f32(pf + i * c->dh * wp + j * c->dw),
                                          c->w[i * kw + j]);
            }
            vst1q_f32(out + f, acc);
        }
        for (int64_t r = 0; r < nr; r++) {
            const int64_t oy = r0 + r;
            const float *zr = z ? z + oy * ow : NULL;
            float *yr = y + oy * ow;
            for (int64_t ox = 0; ox < ow; ox += 4) {
                int64_t n = ow - ox < 4 ? ow - ox : 4;
                dw_store(c, vld1q_f32(out + r * wp + ox), zr ? zr + ox : NULL, yr + ox, n);
            }
            if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, yr);
        }
    }
}

/* Stride-2 deinterleave of one row: de[t] = column base + 2t, dodd[t] = base + 2t + 1 for
 * t in [0, n), 0 outside [0, iw) or when xr is NULL; vld2q where 8 columns lie inside the
 * row, scalar lanes at the borders, so nothing outside the row is read. */
static void dw_fill_row2(float *de, float *dodd, const float *xr, int64_t base, int64_t n,
                         int64_t iw) {
    if (!xr) {
        memset(de, 0, (size_t)n * sizeof(float));
        memset(dodd, 0, (size_t)n * sizeof(float));
        return;
    }
    int64_t t = 0;
    for (; t < n && base + 2 * t < 0; t++) {
        int64_t e = base + 2 * t;
        de[t] = 0.0f;
        dodd[t] = e + 1 >= 0 && e + 1 < iw ? xr[e + 1] : 0.0f;
    }
    for (; t + 4 <= n && base + 2 * t + 8 <= iw; t += 4) {
        float32x4x2_t v = vld2q_f32(xr + base + 2 * t);
        vst1q_f32(de + t, v.val[0]);
        vst1q_f32(dodd + t, v.val[1]);
    }
    for (; t < n; t++) {
        int64_t e = base + 2 * t;
        de[t] = e >= 0 && e < iw ? xr[e] : 0.0f;
        dodd[t] = e + 1 >= 0 && e + 1 < iw ? xr[e + 1] : 0.0f;
    }
}

/* Stride 2 in both dims, dilation 1: the same flat loop on a polyphase split. A chunk's
 * padded input rows are deinterleaved into four planes P[a][b][r][q] = xpad(2r + a,
 * 2q + b) of width wq = out_w + (k_w - 1) / 2, so tap (i, j) of flat output f = r * wq + ox
 * is plane (i & 1, j & 1) at f + (i >> 1) wq + (j >> 1): unit-stride loads and each input
 * element is copied once. */
#define DW_FLAT2_SLACK 4 /* floats after each plane: the last vector's overrun */
static int64_t dw_flat2_rows(const dw_ctx *c) {
    const int64_t wq = c->ow + (c->kw - 1) / 2, hk = (c->kh - 1) / 2;
    const int64_t cap = DW_FLAT_MAX / 4 - DW_FLAT2_SLACK; /* floats per plane */
    if (wq > cap) return 0;
    int64_t rows = cap / wq - hk;           /* plane rows = rows + hk */
    int64_t rows2 = (DW_FLAT_MAX - 4) / wq; /* flat outputs + one vector */
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
    float32x4_t wv[25];
    if (KH && KW) {
#pragma GCC unroll 25
        for (int t = 0; t < KH * KW; t++)
            wv[t] = vdupq_n_f32(c->w[t]);
    }
    const float32x4_t vb = vdupq_n_f32(bias);
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
        for (int64_t f = 0; f < nf; f += 4) {
            float32x4_t acc = vb;
            if (KH && KW) {
#pragma GCC unroll 5
                for (int i = 0; i < KH; i++)
#pragma GCC unroll 5
                    for (int j = 0; j < KW; j++)
                        acc = vfmaq_f32(
                            acc,
                            vld1q_f32(pl[(i & 1) * 2 + (j & 1)] + f + (i >> 1) * wq + (j >> 1)),
                            wv[i * KW + j]);
            } else {
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        acc = vfmaq_n_f32(
                            acc,
                            vld1q_f32(pl[(i & 1) * 2 + (j & 1)] + f + (i >> 1) * wq + (j >> 1)),
                            c->w[i * kw + j]);
            }
            vst1q_f32(out + f, acc);
        }
        for (int64_t r = 0; r < nr; r++) {
            const int64_t oy = r0 + r;
            const float *zr = z ? z + oy * ow : NULL;
            float *yr = y + oy * ow;
            for (int64_t ox = 0; ox < ow; ox += 4) {
                int64_t n = ow - ox < 4 ? ow - ox : 4;
                dw_store(c, vld1q_f32(out + r * wq + ox), zr ? zr + ox : NULL, yr + ox, n);
            }
            if (!c->act_in_reg) ei_f32_act_apply(&c->act, (size_t)ow, yr);
        }
    }
}

static void dw_one_plane(const ei_dwconv2d_params *p, const float *x, const float *w, float bias,
                         const float *z, float *y, size_t oy0, size_t oy1) {
    if (p->stride_w > 2) {
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
    int64_t tl, th;
    dw_tap_cols(&c, -c.pl, &c.xlo, &th);                    /* tap 0: the last to enter */
    dw_tap_cols(&c, (c.kw - 1) * c.dw - c.pl, &tl, &c.xhi); /* last tap: the first to leave */
    dw_tap_cols(&c, (c.kw - 1) * c.dw + 1 - c.pl, &tl, &c.xhi2);
    if (c.xhi2 > c.xhi) c.xhi2 = c.xhi;
    int64_t a = (int64_t)oy0, b = (int64_t)oy1;
    int64_t chunk = c.sw == 1 && c.sh == 1 ? dw_flat_rows(&c) : 0;
    if (chunk) {
        if (c.kh == 3 && c.kw == 3)
            dw_flat(&c, bias, z, y, a, b, chunk, 3, 3);
        else if (c.kh == 5 && c.kw == 5)
            dw_flat(&c, bias, z, y, a, b, chunk, 5, 5);
        else
            dw_flat(&c, bias, z, y, a, b, chunk, 0, 0);
        return;
    }
    chunk = c.sw == 2 && c.sh == 2 && c.dw == 1 && c.dh == 1 ? dw_flat2_rows(&c) : 0;
    if (chunk) {
        if (c.kh == 3 && c.kw == 3)
            dw_flat2(&c, bias, z, y, a, b, chunk, 3, 3);
        else if (c.kh == 5 && c.kw == 5)
            dw_flat2(&c, bias, z, y, a, b, chunk, 5, 5);
        else
            dw_flat2(&c, bias, z, y, a, b, chunk, 0, 0);
        return;
    }
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
    }
}

void ei_f32_dwconv2d__neon(const ei_dwconv2d_params *p, size_t n_planes, const float *x,
                           const float *w, const float *bias, const float *z, float *y, size_t oy0,
                           size_t oy1) {
    const size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w, k_sp = p->k_h * p->k_w;
    for (size_t c = 0; c < n_planes; c++)
        dw_one_plane(p, x + c * in_sp, w + c * k_sp, bias ? bias[c] : 0.0f,
                     z ? z + c * out_sp : NULL, y + c * out_sp, oy0, oy1);
}
