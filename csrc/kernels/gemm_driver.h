/*
 * gemm_driver.h - the ISA-independent half of the packed GEMM (gemm.h): packing, cache
 * blocking and the ei_gemm_kernel descriptor. Included once by each ISA's file
 * (ref/f32_gemm_packed.c, x86/f32_gemm_packed_avx2.c, ...), which first defines:
 *   GEMM_MR, GEMM_NR      tile shape (A panel rows, B panel columns)
 *   GEMM_KC               largest K block: the A panel slice (GEMM_MR*GEMM_KC floats) stays
 *                         in L1 while B streams from L2
 *   GEMM_NC               columns per N block (KC x NC of packed B in L2)
 *   GEMM_MC               rows per M block of packed A (MC x KC of A in L2), multiple of MR
 *   GEMM_NAME, GEMM_GETTER  descriptor name string, name of the slot function to define
 *   gemm_tile(...)        the micro-kernel (contract in ref/f32_gemm_packed.c)
 *   GEMM_HAVE_GEMV + gemm_gemv(...)  optional: the M = 1 path of gemm_pb
 *   GEMM_HAVE_TILE_T + gemm_tile_t(...), GEMM_VW, GEMM_NT_MAX  optional: gemm_pa's last
 *                         1..GEMM_NT_MAX columns past a multiple of the vector width GEMM_VW,
 *                         vectorized along M over up to 4 A panels
 *   GEMM_HAVE_TILE_AD + gemm_tile_ad(...)  optional: the micro-kernel reading A's rows in
 *                         place (stride lda), for gemm_pb over one or two B panels
 * so that the driver is compiled with that ISA's flags and inlines its micro-kernel.
 */
#ifndef EI_GEMM_DRIVER_H
#define EI_GEMM_DRIVER_H

#include <stdint.h>

#include "kernels/gemm.h"

/* The epilogue of one tile, with bias and residual already offset to the tile's (0, 0). */
enum { GEMM_ACT_NONE = 0, GEMM_ACT_RELU, GEMM_ACT_CLIP, GEMM_ACT_OTHER };
typedef struct gemm_epi {
    const float *bias; /* bias[r] (per row) or bias[j] (per column), or NULL */
    int bias_per_col;
    const float *res; /* res[r*ldr + j] or NULL */
    size_t ldr;
    int act;           /* GEMM_ACT_*: NONE/RELU/CLIP in registers */
    float lo, hi;      /* CLIP bounds */
    const ei_act *other; /* GEMM_ACT_OTHER: ei_f32_act_apply on each stored row */
} gemm_epi;

/* gemm_pa and gemm_pb take a GEMM_ACT_OTHER activation (sigmoid, SiLU, HardSwish, GELU,
 * ...) out of the tiles' epilogue and apply it once per finished block row, on up to
 * GEMM_NC columns while they are still in L2: per 32-column tile row, the calls cost
 * more than the math (SiLU after a 27-deep conv GEMM: 1 ns per element, against 0.1 in
 * whole rows). Returns the activation to apply late, NULL if none. */
static inline const ei_act *gemm_epi_take_late(gemm_epi *e) {
    const ei_act *late = e->other;
    if (late) {
        e->other = NULL;
        e->act = GEMM_ACT_NONE;
    }
    return late;
}

static inline void gemm_apply_late(const ei_act *late, float *c, size_t ldc, size_t i0, size_t i1,
                                   size_t j0, size_t j1) {
    for (size_t i = i0; i < i1; i++) ei_f32_act_apply(late, j1 - j0, c + i * ldc + j0);
}

static inline size_t gemm_min(size_t a, size_t b) {
    return a < b ? a : b;
}

static void gemm_epi_init(gemm_epi *e, const ei_gemm_epilogue *ep) {
    e->bias = ep->bias;
    e->bias_per_col = ep->bias_per_col;
    e->res = ep->residual;
    e->ldr = ep->ldr;
    e->lo = ep->act.alpha;
    e->hi = ep->act.beta;
    e->other = NULL;
    switch (ep->act.kind) {
    case EI_ACT_KIND_NONE: e->act = GEMM_ACT_NONE; break;
    case EI_ACT_KIND_RELU: e->act = GEMM_ACT_RELU; break;
    case EI_ACT_KIND_CLIP: e->act = GEMM_ACT_CLIP; break;
    default: e->act = GEMM_ACT_OTHER; e->other = &ep->act; break;
    }
}

static inline const gemm_epi *gemm_epi_at(const gemm_epi *base, size_t i, size_t j,
                                          gemm_epi *tile) {
    *tile = *base;
    if (tile->bias) tile->bias += tile->bias_per_col ? j : i;
    if (tile->res) tile->res += i * tile->ldr + j;
    return tile;
}

/* K blocks of equal size (<= GEMM_KC), so that no block is a sliver. */
static inline size_t gemm_kc(size_t k) {
    size_t nb = (k + GEMM_KC - 1) / GEMM_KC;
    if (nb <= 1) return k;
    size_t kc = (k + nb - 1) / nb;
    return (kc + 3) & ~(size_t)3;
}

static size_t gemm_pack_size(size_t rows, size_t k, size_t tile) {
    if (rows == 0 || k == 0 || rows > SIZE_MAX - tile) return 0;
    size_t padded = (rows + tile - 1) / tile * tile;
    if (padded > SIZE_MAX / sizeof(float) / k) return 0;
    return padded * k * sizeof(float);
}

static size_t gemm_pack_a_size(size_t m, size_t k) {
    return gemm_pack_size(m, k, GEMM_MR);
}
static size_t gemm_pack_b_size(size_t k, size_t n) {
    return gemm_pack_size(n, k, GEMM_NR);
}

/* Panel i (rows i*mr ..) at packed + i*mr*k; element (r, p) at [p*mr + r]. */
static void gemm_pack_a(size_t m, size_t k, const float *a, size_t lda, int trans, float *pa) {
    for (size_t i0 = 0; i0 < m; i0 += GEMM_MR) {
        size_t mr = gemm_min(GEMM_MR, m - i0);
        float *panel = pa + i0 * k;
        for (size_t p = 0; p < k; p++) {
            float *dst = panel + p * GEMM_MR;
            for (size_t r = 0; r < mr; r++)
                dst[r] = trans ? a[p * lda + i0 + r] : a[(i0 + r) * lda + p];
            for (size_t r = mr; r < GEMM_MR; r++)
                dst[r] = 0.0f;
        }
    }
}

/* Panel j (columns j*nr ..) at packed + j*nr*k; element (p, c) at [p*nr + c]. */
static void gemm_pack_b(size_t k, size_t n, const float *b, size_t ldb, int trans, float *pb) {
    for (size_t j0 = 0; j0 < n; j0 += GEMM_NR) {
        size_t nr = gemm_min(GEMM_NR, n - j0);
        float *panel = pb + j0 * k;
        for (size_t p = 0; p < k; p++) {
            float *dst = panel + p * GEMM_NR;
            for (size_t c = 0; c < nr; c++)
                dst[c] = trans ? b[(j0 + c) * ldb + p] : b[p * ldb + j0 + c];
            for (size_t c = nr; c < GEMM_NR; c++)
                dst[c] = 0.0f;
        }
    }
}

/* B[0:kc, 0:nr) at stride ldb into a zero-padded kc x GEMM_NR block (the full-width case
 * has a constant trip count, so the compiler makes it a few vector moves per row). With
 * a wide stride the hardware prefetchers lose track of the kc row streams, so the full
 * case prefetches the next tile's part of each row (a hint: never faults). */
static inline void gemm_copy_b(size_t kc, size_t nr, const float *b, size_t ldb, float *dst) {
    if (nr == GEMM_NR) {
        for (size_t p = 0; p < kc; p++, b += ldb, dst += GEMM_NR) {
            for (size_t c = 0; c < GEMM_NR; c += 64 / sizeof(float))
                __builtin_prefetch(b + GEMM_NR + c);
            for (size_t c = 0; c < GEMM_NR; c++) dst[c] = b[c];
        }
    } else {
        for (size_t p = 0; p < kc; p++, b += ldb, dst += GEMM_NR) {
            for (size_t c = 0; c < nr; c++) dst[c] = b[c];
            for (size_t c = nr; c < GEMM_NR; c++) dst[c] = 0.0f;
        }
    }
}

/* Rows [kb, kb + kc) x columns [j, j + nr) of the implicit im2col matrix of cv over x
 * into a zero-padded kc x GEMM_NR block, as gemm_copy_b would copy them from the
 * materialized matrix. The columns are cut once into runs along one output row; each B
 * row then copies every run (in bounds: a plain or strided copy; at a border: checked
 * per element). */
static void gemm_gather_b(const ei_gemm_conv *cv, const float *x, size_t kb, size_t kc,
                          size_t j, size_t nr, float *dst) {
    int64_t rd[GEMM_NR], rh[GEMM_NR], rw[GEMM_NR];
    size_t rlen[GEMM_NR], rat[GEMM_NR], nrun = 0;
    const size_t o1 = cv->out[1], o2 = cv->out[2];
    for (size_t at = 0, pix = j; at < nr; nrun++) {
        const size_t ow = pix % o2, r = pix / o2;
        const size_t len = gemm_min(o2 - ow, nr - at);
        rd[nrun] = (int64_t)(r / o1);
        rh[nrun] = (int64_t)(r % o1);
        rw[nrun] = (int64_t)ow;
        rlen[nrun] = len;
        rat[nrun] = at;
        at += len;
        pix += len;
    }
    const int64_t in0 = (int64_t)cv->in[0], in1 = (int64_t)cv->in[1], in2 = (int64_t)cv->in[2];
    const int64_t s0 = (int64_t)cv->s[0], s1 = (int64_t)cv->s[1], s2 = (int64_t)cv->s[2];
    const size_t chan = cv->in[0] * cv->in[1] * cv->in[2];
    size_t e = kb % cv->k[2], t = kb / cv->k[2];
    size_t bh = t % cv->k[1];
    t /= cv->k[1];
    size_t a = t % cv->k[0], ch = t / cv->k[0];
    for (size_t p = 0; p < kc; p++, dst += GEMM_NR) {
        const float *xc = x + ch * chan;
        const int64_t fd = (int64_t)(a * cv->d[0]) - (int64_t)cv->pad[0];
        const int64_t fh = (int64_t)(bh * cv->d[1]) - (int64_t)cv->pad[1];
        const int64_t fw = (int64_t)(e * cv->d[2]) - (int64_t)cv->pad[2];
        for (size_t q = 0; q < nrun; q++) {
            float *o = dst + rat[q];
            const size_t len = rlen[q];
            const int64_t id = rd[q] * s0 + fd, ih = rh[q] * s1 + fh;
            if (id < 0 || id >= in0 || ih < 0 || ih >= in1) {
                for (size_t i = 0; i < len; i++) o[i] = 0.0f;
                continue;
            }
            const float *xr = xc + ((size_t)id * cv->in[1] + (size_t)ih) * cv->in[2];
            const int64_t iw0 = rw[q] * s2 + fw;
            /* in-bounds columns [ilo, ihi): iw0 + i*s2 in [0, in2) (divisions only at a
             * border with a stride) */
            int64_t ilo = 0, ihi = (int64_t)len;
            if (iw0 < 0) ilo = s2 == 1 ? -iw0 : (s2 - 1 - iw0) / s2;
            if (iw0 + (ihi - 1) * s2 >= in2)
                ihi = iw0 >= in2 ? 0 : s2 == 1 ? in2 - iw0 : (in2 - iw0 + s2 - 1) / s2;
            if (ilo > ihi) ilo = ihi;
            size_t i = 0;
            for (; i < (size_t)ilo; i++) o[i] = 0.0f;
            if (ihi > ilo) {
                const float *src = xr + (iw0 + ilo * s2);
                float *restrict od = o + ilo;
                const size_t cnt = (size_t)(ihi - ilo);
                /* the next block's part of this row (a hint: never faults) */
                __builtin_prefetch(src + (int64_t)cnt * s2 + 16);
                if (s2 == 1) {
                    for (size_t u = 0; u < cnt; u++) od[u] = src[u];
                } else if (s2 == 2) { /* a constant stride: vectorized (even lanes) */
                    for (size_t u = 0; u < cnt; u++) od[u] = src[2 * u];
                } else {
                    for (size_t u = 0; u < cnt; u++) od[u] = src[(int64_t)u * s2];
                }
                i = (size_t)ihi;
            }
            for (; i < len; i++) o[i] = 0.0f;
        }
        for (size_t c = nr; c < GEMM_NR; c++) dst[c] = 0.0f;
        if (++e == cv->k[2]) {
            e = 0;
            if (++bh == cv->k[1]) {
                bh = 0;
                if (++a == cv->k[0]) {
                    a = 0;
                    ch++;
                }
            }
        }
    }
}

/*
 * Packed A. Loop order: N blocks of GEMM_NC columns; K blocks (the first stores, later ones
 * reload C into the accumulators, the last applies the epilogue); M blocks of GEMM_MC rows
 * (their A slices, GEMM_MC x kc, stay in L2); GEMM_NR-column tiles, whose kc x GEMM_NR
 * slice of B is copied once into a contiguous zero-padded stack block and then reused by
 * every A panel of the M block. The copy makes the micro-kernel's B reads contiguous:
 * read in place at a stride of a whole image row, every K step would touch a new page
 * (DTLB misses) and the same few cache sets.
 */
static inline void gemm_pa_run(size_t k, const float *pa, const float *b, size_t ldb,
                               const ei_gemm_conv *cv, float *c, size_t ldc,
                               const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0,
                               size_t n1) {
    gemm_epi base, tile;
    const ei_act *late = NULL;
    if (ep) {
        gemm_epi_init(&base, ep);
        late = gemm_epi_take_late(&base);
    }
    _Alignas(64) float bbuf[GEMM_KC * GEMM_NR];
    const size_t kcmax = gemm_kc(k);
    for (size_t nb = n0; nb < n1; nb += GEMM_NC) {
        const size_t ne = gemm_min(n1, nb + GEMM_NC);
        size_t kb = 0;
        do {
            const size_t kc = gemm_min(kcmax, k - kb);
            const int last = kb + kc >= k;
            /* a gathered block is dearer than a copied one: all rows in one M block */
            const size_t mc = cv ? m1 - m0 : GEMM_MC;
            for (size_t ib = m0; ib < m1; ib += mc) {
                const size_t ie = gemm_min(m1, ib + mc);
                for (size_t j = nb; j < ne; j += GEMM_NR) {
                    const size_t nr = gemm_min(GEMM_NR, ne - j);
                    if (kc && cv) gemm_gather_b(cv, b, kb, kc, j, nr, bbuf);
                    else if (kc) gemm_copy_b(kc, nr, b + kb * ldb + j, ldb, bbuf);
                    size_t nv = nr; /* columns for the vector tiles */
#if defined(GEMM_HAVE_TILE_T)
                    /* A last few columns past a whole vector: by columns, 4 panels at once */
                    if (nr % GEMM_VW <= GEMM_NT_MAX) nv = nr - nr % GEMM_VW;
                    for (size_t i = ib; i < ie && nv < nr; i += 4 * GEMM_MR) {
                        const size_t rows = gemm_min(4 * GEMM_MR, ie - i);
                        gemm_tile_t(kc, pa + i * k + kb * GEMM_MR, GEMM_MR * k, bbuf + nv,
                                    c + i * ldc + j + nv, ldc, rows, nr - nv, kb > 0,
                                    last && ep ? gemm_epi_at(&base, i, j + nv, &tile) : NULL);
                    }
#endif
                    for (size_t i = ib; i < ie && nv > 0; i += GEMM_MR) {
                        const size_t mr = gemm_min(GEMM_MR, ie - i);
                        gemm_tile(kc, pa + i * k + kb * GEMM_MR, bbuf, c + i * ldc + j, ldc, mr,
                                  nv, kb > 0, last && ep ? gemm_epi_at(&base, i, j, &tile) : NULL);
                    }
                }
                if (last && late) gemm_apply_late(late, c, ldc, ib, ie, nb, ne);
            }
            kb += kc;
        } while (kb < k);
    }
}

static void gemm_pa(size_t k, const float *pa, const float *b, size_t ldb, float *c, size_t ldc,
                    const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0, size_t n1) {
    if (m0 >= m1 || n0 >= n1) return;
    gemm_pa_run(k, pa, b, ldb, NULL, c, ldc, ep, m0, m1, n0, n1);
}

/* Implicit-GEMM conv: gemm_pa whose B blocks are gathered from x (gemm_gather_b). */
static void gemm_pa_conv(const ei_gemm_conv *cv, const float *pa, const float *x, float *c,
                         size_t ldc, const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0,
                         size_t n1) {
    if (m0 >= m1 || n0 >= n1) return;
    const size_t k = cv->channels * cv->k[0] * cv->k[1] * cv->k[2];
    gemm_pa_run(k, pa, x, 0, cv, c, ldc, ep, m0, m1, n0, n1);
}

/* Packed B: the same loops with the roles of the operands swapped: A's rows of one tile
 * and K block are copied like a panel of packed A (rows past m1 zero), reused by every B
 * panel of the N block (GEMM_NC x kc of packed B, in L2). */
static void gemm_pb(size_t k, const float *a, size_t lda, const float *pb, float *c, size_t ldc,
                    const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0, size_t n1) {
    if (m0 >= m1 || n0 >= n1) return;
    gemm_epi base, tile;
    if (ep) gemm_epi_init(&base, ep);
#if defined(GEMM_HAVE_GEMV)
    if (m1 - m0 == 1) {
        gemm_gemv(k, a + m0 * lda, pb, c + m0 * ldc, n0, n1, ep ? gemm_epi_at(&base, m0, 0, &tile) : NULL);
        return;
    }
#endif
    const ei_act *late = ep ? gemm_epi_take_late(&base) : NULL;
    _Alignas(64) float abuf[GEMM_MR * GEMM_KC];
    const size_t kcmax = gemm_kc(k);
    for (size_t nb = n0; nb < n1; nb += GEMM_NC) {
        const size_t ne = gemm_min(n1, nb + GEMM_NC);
        size_t kb = 0;
        do {
            const size_t kc = gemm_min(kcmax, k - kb);
            const int last = kb + kc >= k;
            for (size_t i = m0; i < m1; i += GEMM_MR) {
                const size_t mr = gemm_min(GEMM_MR, m1 - i);
#if defined(GEMM_HAVE_TILE_AD)
                /* A few B panels do not repay the copy of A: read A's rows in place. */
                if (kc > 0 && ne - nb <= 4 * GEMM_NR) {
                    for (size_t j = nb; j < ne; j += GEMM_NR)
                        gemm_tile_ad(kc, a + i * lda + kb, lda, pb + j * k + kb * GEMM_NR,
                                     c + i * ldc + j, ldc, mr, gemm_min(GEMM_NR, ne - j), kb > 0,
                                     last && ep ? gemm_epi_at(&base, i, j, &tile) : NULL);
                    if (last && late) gemm_apply_late(late, c, ldc, i, i + mr, nb, ne);
                    continue;
                }
#endif
                for (size_t p = 0; p < kc; p++) {
                    float *dst = abuf + p * GEMM_MR;
                    for (size_t r = 0; r < mr; r++)
                        dst[r] = a[(i + r) * lda + kb + p];
                    for (size_t r = mr; r < GEMM_MR; r++)
                        dst[r] = 0.0f;
                }
                for (size_t j = nb; j < ne; j += GEMM_NR) {
                    const size_t nr = gemm_min(GEMM_NR, ne - j);
                    gemm_tile(kc, abuf, pb + j * k + kb * GEMM_NR, c + i * ldc + j, ldc, mr, nr,
                              kb > 0, last && ep ? gemm_epi_at(&base, i, j, &tile) : NULL);
                }
                if (last && late) gemm_apply_late(late, c, ldc, i, i + mr, nb, ne);
            }
            kb += kc;
        } while (kb < k);
    }
}

static const ei_gemm_kernel gemm_desc = {
    GEMM_NAME,    GEMM_MR,          GEMM_NR,     gemm_pack_a_size, gemm_pack_a,
    gemm_pa,      gemm_pa_conv,     gemm_pack_b_size, gemm_pack_b, gemm_pb,
};

const struct ei_gemm_kernel *GEMM_GETTER(void) {
    return &gemm_desc;
}

#endif /* EI_GEMM_DRIVER_H */
