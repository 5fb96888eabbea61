/*
 * x86/f32_gemm_packed_avx2.c - AVX2+FMA packed GEMM (gemm.h), tile 6x16: 12 ymm
 * accumulators, per K step two vector loads of B and 6 broadcasts from the A panel. Row
 * tails use 4- or 2-row variants (A panels are zero-padded), column tails an 8-wide variant
 * and vmaskmov C/bias/residual accesses (B's rows are zero-padded packed panels or
 * gemm_pa's copies), so nothing past the logical end is touched. M = 1 streams
 * four packed B panels at a time. Packing and blocking: gemm_driver.h.
 */
#include <immintrin.h>

#include "kernels/kernels_isa.h"

#define GEMM_MR 6
#define GEMM_NR 16
#define GEMM_KC 384
#define GEMM_NC 512
#define GEMM_MC 168
#define GEMM_NAME "avx2_6x16"
#define GEMM_GETTER ei_f32_gemm_packed__avx2
#define GEMM_HAVE_GEMV 1

#include "kernels/gemm.h"

struct gemm_epi;
static void gemm_tile(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr,
                      size_t nr, int load_c, const struct gemm_epi *e);
static void gemm_gemv(size_t k, const float *a, const float *pb, float *c, size_t n0, size_t n1,
                      const struct gemm_epi *e);
#define GEMM_HAVE_TILE_T 1
#define GEMM_VW 8
#define GEMM_NT_MAX 3
static void gemm_tile_t(size_t kc, const float *a, size_t ps, const float *b, float *c,
                        size_t ldc, size_t rows, size_t nt, int load_c, const struct gemm_epi *e);
#define GEMM_HAVE_TILE_AD 1
static void gemm_tile_ad(size_t kc, const float *a, size_t lda, const float *b, float *c,
                         size_t ldc, size_t mr, size_t nr, int load_c, const struct gemm_epi *e);

#include "kernels/gemm_driver.h"

#define EI_INLINE static inline __attribute__((always_inline))

static const int32_t mask_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lane mask of the last of nv vectors for a row of nr (<= 8*nv) columns. */
EI_INLINE __m256i last_mask(int nv, size_t nr) {
    size_t rem = nr - 8 * (size_t)(nv - 1);
    if (rem > 8) rem = 8;
    return _mm256_loadu_si256((const __m256i *)(const void *)(mask_table + 8 - rem));
}

/* Loads vector v of nv from p: plain, or masked when it is the last and the row is short. */
EI_INLINE __m256 load_v(int v, int nv, int masked, __m256i ml, const float *p) {
    return masked && v == nv - 1 ? _mm256_maskload_ps(p, ml) : _mm256_loadu_ps(p);
}

/* Row r of a tile: epilogue, store (masked in a column tail), then the out-of-register
 * activation on the finished row. */
EI_INLINE void store_row(const int NV, __m256 *acc, float *cr, size_t nr, int tail, __m256i ml,
                         size_t r, const gemm_epi *e) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
        __m256 x = acc[v];
        if (e) {
            if (e->bias)
                x = _mm256_add_ps(x, e->bias_per_col ? load_v(v, NV, tail, ml, e->bias + 8 * v)
                                                     : _mm256_set1_ps(e->bias[r]));
            if (e->res) x = _mm256_add_ps(x, load_v(v, NV, tail, ml, e->res + r * e->ldr + 8 * v));
            if (e->act == GEMM_ACT_RELU) x = _mm256_max_ps(_mm256_setzero_ps(), x);
            if (e->act == GEMM_ACT_CLIP)
                x = _mm256_min_ps(_mm256_set1_ps(e->hi), _mm256_max_ps(_mm256_set1_ps(e->lo), x));
        }
        if (tail && v == NV - 1)
            _mm256_maskstore_ps(cr + 8 * v, ml, x);
        else
            _mm256_storeu_ps(cr + 8 * v, x);
    }
    if (e && e->other) ei_f32_act_apply(e->other, nr, cr);
}

/* MR x (8*NV) tile of the first nr columns (B's rows are GEMM_NR wide, zero-padded). */
EI_INLINE void ukernel(const int MR, const int NV, const int AD, size_t kc, const float *a,
                       size_t lda, const float *b, float *c, size_t ldc, size_t mr, size_t nr,
                       int load_c, const gemm_epi *e) {
    /* AD: A read in place, row r at a + r*lda (rows past mr re-read row mr-1, discarded) */
    const float *arow[GEMM_MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) arow[r] = a + ((size_t)r < mr ? (size_t)r : mr - 1) * lda;
    const int tail = nr < 8 * (size_t)NV;
    const __m256i ml = last_mask(NV, nr);
    __m256 acc[GEMM_MR][2];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++)
            acc[r][v] = load_c && (size_t)r < mr ? load_v(v, NV, tail, ml, c + r * ldc + 8 * v)
                                                 : _mm256_setzero_ps();
    for (size_t p = 0; p < kc; p++) {
        __m256 bv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            const __m256 ar = _mm256_broadcast_ss(AD ? arow[r] + p : a + r);
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(ar, bv[v], acc[r][v]);
        }
        if (!AD) a += GEMM_MR;
        b += GEMM_NR;
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        if ((size_t)r < mr) store_row(NV, acc[r], c + r * ldc, nr, tail, ml, (size_t)r, e);
}

#define UK(MR, NV)                                                                                 \
    do {                                                                                           \
        if (lda)                                                                                   \
            ukernel(MR, NV, 1, kc, a, lda, b, c, ldc, mr, nr, load_c, e);                          \
        else                                                                                       \
            ukernel(MR, NV, 0, kc, a, 0, b, c, ldc, mr, nr, load_c, e);                            \
    } while (0)

/* lda == 0: a is a packed panel slice (gemm_tile); else A's rows in place (gemm_tile_ad). */
static inline void tile(size_t kc, const float *a, size_t lda, const float *b, float *c,
                        size_t ldc, size_t mr, size_t nr, int load_c, const gemm_epi *e) {
    const int nv2 = nr > 8;
    if (mr > 4) {
        if (nv2) UK(6, 2); else UK(6, 1);
    } else if (mr > 2) {
        if (nv2) UK(4, 2); else UK(4, 1);
    } else {
        if (nv2) UK(2, 2); else UK(2, 1);
    }
}

static void gemm_tile(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr,
                      size_t nr, int load_c, const gemm_epi *e) {
    tile(kc, a, 0, b, c, ldc, mr, nr, load_c, e);
}

static void gemm_tile_ad(size_t kc, const float *a, size_t lda, const float *b, float *c,
                         size_t ldc, size_t mr, size_t nr, int load_c, const gemm_epi *e) {
    tile(kc, a, lda, b, c, ldc, mr, nr, load_c, e);
}

/* NP panels (6 rows each, panel stride ps) x NT columns, vectorized along M: a column of a
 * panel is one accumulator (6 of 8 lanes), a B element is broadcast. For the last 1..3
 * columns of gemm_pa, where a masked 8-wide tile would waste 5..7 of 8 lanes. Same FMA
 * chain per element, and the same epilogue operations in scalar form (same bits). */
EI_INLINE void ukernel_t(const int NP, const int NT, size_t kc, const float *a, size_t ps,
                         const float *b, float *c, size_t ldc, size_t rows, int load_c,
                         const gemm_epi *e) {
    const __m256i m6 = last_mask(1, 6);
    __m256 acc[4][3];
    float t[8];
#pragma GCC unroll 4
    for (int g = 0; g < NP; g++)
#pragma GCC unroll 3
        for (int q = 0; q < NT; q++) {
            if (load_c) {
                for (size_t r = 0; r < 8; r++) {
                    const size_t row = (size_t)g * GEMM_MR + r;
                    t[r] = r < GEMM_MR && row < rows ? c[row * ldc + (size_t)q] : 0.0f;
                }
                acc[g][q] = _mm256_loadu_ps(t);
            } else {
                acc[g][q] = _mm256_setzero_ps();
            }
        }
    for (size_t p = 0; p < kc; p++) {
#pragma GCC unroll 4
        for (int g = 0; g < NP; g++) {
            const __m256 av = _mm256_maskload_ps(a + (size_t)g * ps + p * GEMM_MR, m6);
#pragma GCC unroll 3
            for (int q = 0; q < NT; q++)
                acc[g][q] = _mm256_fmadd_ps(av, _mm256_broadcast_ss(b + p * GEMM_NR + (size_t)q),
                                            acc[g][q]);
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < NP; g++)
#pragma GCC unroll 3
        for (int q = 0; q < NT; q++) {
            _mm256_storeu_ps(t, acc[g][q]);
            for (size_t r = 0; r < GEMM_MR; r++) {
                const size_t row = (size_t)g * GEMM_MR + r;
                if (row >= rows) break;
                float x = t[r];
                if (e) {
                    if (e->bias) x += e->bias[e->bias_per_col ? (size_t)q : row];
                    if (e->res) x += e->res[row * e->ldr + (size_t)q];
                    if (e->act == GEMM_ACT_RELU) x = x < 0.0f ? 0.0f : x;
                    if (e->act == GEMM_ACT_CLIP) {
                        x = x < e->lo ? e->lo : x; /* = maxps(lo, x) */
                        x = x > e->hi ? e->hi : x; /* = minps(hi, x) */
                    }
                }
                c[row * ldc + (size_t)q] = x;
            }
        }
    if (e && e->other)
        for (size_t row = 0; row < rows; row++) ei_f32_act_apply(e->other, (size_t)NT, c + row * ldc);
}

#define UKT(NP)                                                                                    \
    do {                                                                                           \
        switch (nt) {                                                                              \
        case 1: ukernel_t(NP, 1, kc, a, ps, b, c, ldc, rows, load_c, e); break;                    \
        case 2: ukernel_t(NP, 2, kc, a, ps, b, c, ldc, rows, load_c, e); break;                    \
        default: ukernel_t(NP, 3, kc, a, ps, b, c, ldc, rows, load_c, e); break;                   \
        }                                                                                          \
    } while (0)

static void gemm_tile_t(size_t kc, const float *a, size_t ps, const float *b, float *c,
                        size_t ldc, size_t rows, size_t nt, int load_c, const gemm_epi *e) {
    if (rows > 3 * GEMM_MR) UKT(4);
    else if (rows > 2 * GEMM_MR) UKT(3);
    else if (rows > GEMM_MR) UKT(2);
    else UKT(1);
}

/* M = 1: NP packed panels at once over the whole K (NP*2 accumulators), then the epilogue
 * per panel. Same FMA chain per element as the tiles. */
EI_INLINE void gemv_panels(const int NP, size_t k, const float *a, const float *pb, float *c,
                           size_t j, size_t n1, const gemm_epi *e) {
    __m256 acc[4][2];
#pragma GCC unroll 4
    for (int g = 0; g < NP; g++) acc[g][0] = acc[g][1] = _mm256_setzero_ps();
    const float *p0 = pb + j * k;
    for (size_t p = 0; p < k; p++) {
        const __m256 av = _mm256_broadcast_ss(a + p);
#pragma GCC unroll 4
        for (int g = 0; g < NP; g++) {
            const float *q = p0 + (size_t)g * GEMM_NR * k + p * GEMM_NR;
            acc[g][0] = _mm256_fmadd_ps(av, _mm256_loadu_ps(q), acc[g][0]);
            acc[g][1] = _mm256_fmadd_ps(av, _mm256_loadu_ps(q + 8), acc[g][1]);
        }
    }
#pragma GCC unroll 4
    for (int g = 0; g < NP; g++) {
        const size_t jg = j + (size_t)g * GEMM_NR;
        const size_t nr = gemm_min(GEMM_NR, n1 - jg);
        gemm_epi t;
        const gemm_epi *te = e ? gemm_epi_at(e, 0, jg, &t) : NULL;
        if (nr > 8)
            store_row(2, acc[g], c + jg, nr, nr < 16, last_mask(2, nr), 0, te);
        else
            store_row(1, acc[g], c + jg, nr, nr < 8, last_mask(1, nr), 0, te);
    }
}

static void gemm_gemv(size_t k, const float *a, const float *pb, float *c, size_t n0, size_t n1,
                      const gemm_epi *e) {
    size_t j = n0;
    for (; j + 3 * GEMM_NR < n1; j += 4 * GEMM_NR) gemv_panels(4, k, a, pb, c, j, n1, e);
    for (; j < n1; j += GEMM_NR) gemv_panels(1, k, a, pb, c, j, n1, e);
}
