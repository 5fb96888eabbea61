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

/*
 * Packed A. Loop order: N blocks of GEMM_NC columns; K blocks (the first stores, later ones
 * reload C into the accumulators, the last applies the epilogue); M blocks of GEMM_MC rows
 * (their A slices, GEMM_MC x kc, stay in L2); GEMM_NR-column tiles, whose kc x GEMM_NR
 * slice of B is copied once into a contiguous zero-padded stack block and then reused by
 * every A panel of the M block. The copy makes the micro-kernel's B reads contiguous:
 * read in place at a stride of a whole image row, every K step would touch a new page
 * (DTLB misses) and the same few cache sets.
 */
static void gemm_pa(size_t k, const float *pa, const float *b, size_t ldb, float *c, size_t ldc,
                    const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0, size_t n1) {
    if (m0 >= m1 || n0 >= n1) return;
    gemm_epi base, tile;
    if (ep) gemm_epi_init(&base, ep);
    _Alignas(64) float bbuf[GEMM_KC * GEMM_NR];
    const size_t kcmax = gemm_kc(k);
    for (size_t nb = n0; nb < n1; nb += GEMM_NC) {
        const size_t ne = gemm_min(n1, nb + GEMM_NC);
        size_t kb = 0;
        do {
            const size_t kc = gemm_min(kcmax, k - kb);
            const int last = kb + kc >= k;
            for (size_t ib = m0; ib < m1; ib += GEMM_MC) {
                const size_t ie = gemm_min(m1, ib + GEMM_MC);
                for (size_t j = nb; j < ne; j += GEMM_NR) {
                    const size_t nr = gemm_min(GEMM_NR, ne - j);
                    if (kc) gemm_copy_b(kc, nr, b + kb * ldb + j, ldb, bbuf);
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
            }
            kb += kc;
        } while (kb < k);
    }
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
            }
            kb += kc;
        } while (kb < k);
    }
}

static const ei_gemm_kernel gemm_desc = {
    GEMM_NAME,    GEMM_MR,          GEMM_NR,     gemm_pack_a_size, gemm_pack_a,
    gemm_pa,      gemm_pack_b_size, gemm_pack_b, gemm_pb,
};

const struct ei_gemm_kernel *GEMM_GETTER(void) {
    return &gemm_desc;
}

#endif /* EI_GEMM_DRIVER_H */
