/*
 * arm/f32_gemm_packed_neon.c - AArch64 NEON packed GEMM (gemm.h), tile 8x8: 16 q-register
 * accumulators, per K step two vector loads of B, two of the A panel and 16 FMAs by lane
 * (vfmaq_laneq_f32). Row tails use a 4-row variant (A panels are zero-padded); column tails
 * compute into a stack C tile (B's rows are zero-padded packed panels or gemm_pa's copies),
 * so nothing past the logical end is touched. M = 1 streams four packed B panels at a
 * time. Packing and blocking: gemm_driver.h.
 */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_isa.h"

#define GEMM_MR 8
#define GEMM_NR 8
#define GEMM_KC 256
#define GEMM_NC 256
#define GEMM_MC 128
#define GEMM_NAME "neon_8x8"
#define GEMM_GETTER ei_f32_gemm_packed__neon
#define GEMM_HAVE_GEMV 1

#include "kernels/gemm.h"

struct gemm_epi;
static void gemm_tile(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr,
                      size_t nr, int load_c, const struct gemm_epi *e);
static void gemm_gemv(size_t k, const float *a, const float *pb, float *c, size_t n0, size_t n1,
                      const struct gemm_epi *e);

#include "kernels/gemm_driver.h"

#define EI_INLINE static inline __attribute__((always_inline))

/* The epilogue in vector registers, with ref's comparison semantics (NaN passes relu and
 * clip, relu(-0) = -0). */
EI_INLINE float32x4_t epi_vec(float32x4_t x, size_t r, size_t j, const gemm_epi *e) {
    if (e->bias)
        x = vaddq_f32(x, e->bias_per_col ? vld1q_f32(e->bias + j) : vdupq_n_f32(e->bias[r]));
    if (e->res) x = vaddq_f32(x, vld1q_f32(e->res + r * e->ldr + j));
    if (e->act == GEMM_ACT_RELU) {
        const float32x4_t z = vdupq_n_f32(0.0f);
        x = vbslq_f32(vcltq_f32(x, z), z, x);
    } else if (e->act == GEMM_ACT_CLIP) {
        const float32x4_t lo = vdupq_n_f32(e->lo), hi = vdupq_n_f32(e->hi);
        x = vbslq_f32(vcltq_f32(x, lo), lo, x);
        x = vbslq_f32(vcgtq_f32(x, hi), hi, x);
    }
    return x;
}

/* Scalar epilogue + store of nr columns of one row (tails). */
static void epi_row_scalar(const float *t, float *cr, size_t nr, size_t r, const gemm_epi *e) {
    for (size_t j = 0; j < nr; j++) {
        float x = t[j];
        if (e) {
            if (e->bias) x += e->bias[e->bias_per_col ? j : r];
            if (e->res) x += e->res[r * e->ldr + j];
            if (e->act == GEMM_ACT_RELU) x = x < 0.0f ? 0.0f : x;
            if (e->act == GEMM_ACT_CLIP) {
                x = x < e->lo ? e->lo : x;
                x = x > e->hi ? e->hi : x;
            }
        }
        cr[j] = x;
    }
    if (e && e->other) ei_f32_act_apply(e->other, nr, cr);
}

#define FMA_ROW(r, av, l)                                                                          \
    do {                                                                                           \
        acc[r][0] = vfmaq_laneq_f32(acc[r][0], b0, av, l);                                         \
        if (NV == 2) acc[r][1] = vfmaq_laneq_f32(acc[r][1], b1, av, l);                            \
    } while (0)

/* MR x (4*NV) tile, all 4*NV columns of C writable (B's rows are GEMM_NR wide). */
EI_INLINE void ukernel(const int MR, const int NV, size_t kc, const float *a, const float *b,
                       float *c, size_t ldc, size_t mr, int load_c, const gemm_epi *e) {
    float32x4_t acc[GEMM_MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] =
                load_c && (size_t)r < mr ? vld1q_f32(c + r * ldc + 4 * v) : vdupq_n_f32(0.0f);
    for (size_t p = 0; p < kc; p++) {
        const float32x4_t b0 = vld1q_f32(b);
        const float32x4_t b1 = NV == 2 ? vld1q_f32(b + 4) : b0;
        const float32x4_t a0 = vld1q_f32(a);
        FMA_ROW(0, a0, 0);
        FMA_ROW(1, a0, 1);
        FMA_ROW(2, a0, 2);
        FMA_ROW(3, a0, 3);
        if (MR == 8) {
            const float32x4_t a1 = vld1q_f32(a + 4);
            FMA_ROW(4, a1, 0);
            FMA_ROW(5, a1, 1);
            FMA_ROW(6, a1, 2);
            FMA_ROW(7, a1, 3);
        }
        a += GEMM_MR;
        b += GEMM_NR;
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        if ((size_t)r >= mr) continue;
        float *cr = c + r * ldc;
        for (int v = 0; v < NV; v++)
            vst1q_f32(cr + 4 * v, e ? epi_vec(acc[r][v], (size_t)r, 4 * (size_t)v, e) : acc[r][v]);
        if (e && e->other) ei_f32_act_apply(e->other, 4 * (size_t)NV, cr);
    }
}

static void gemm_tile(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr,
                      size_t nr, int load_c, const gemm_epi *e) {
    if (nr == 8 || nr == 4) {
        if (mr > 4) {
            if (nr == 8) ukernel(8, 2, kc, a, b, c, ldc, mr, load_c, e);
            else ukernel(8, 1, kc, a, b, c, ldc, mr, load_c, e);
        } else {
            if (nr == 8) ukernel(4, 2, kc, a, b, c, ldc, mr, load_c, e);
            else ukernel(4, 1, kc, a, b, c, ldc, mr, load_c, e);
        }
        return;
    }
    /* Column tail: the full kernel into a stack tile, then the epilogue on the valid part. */
    float ct[GEMM_MR * GEMM_NR];
    memset(ct, 0, sizeof ct);
    if (load_c)
        for (size_t r = 0; r < mr; r++) memcpy(ct + r * GEMM_NR, c + r * ldc, nr * sizeof(float));
    ukernel(8, 2, kc, a, b, ct, GEMM_NR, GEMM_MR, load_c, NULL);
    for (size_t r = 0; r < mr; r++) epi_row_scalar(ct + r * GEMM_NR, c + r * ldc, nr, r, e);
}

/* M = 1: NP packed panels at once over the whole K (NP*2 accumulators). */
EI_INLINE void gemv_panels(const int NP, size_t k, const float *a, const float *pb, float *c,
                           size_t j, size_t n1, const gemm_epi *e) {
    float32x4_t acc[4][2];
    for (int g = 0; g < NP; g++) acc[g][0] = acc[g][1] = vdupq_n_f32(0.0f);
    const float *p0 = pb + j * k;
    for (size_t p = 0; p < k; p++) {
        const float32x4_t av = vdupq_n_f32(a[p]);
        for (int g = 0; g < NP; g++) {
            const float *q = p0 + (size_t)g * GEMM_NR * k + p * GEMM_NR;
            acc[g][0] = vfmaq_f32(acc[g][0], av, vld1q_f32(q));
            acc[g][1] = vfmaq_f32(acc[g][1], av, vld1q_f32(q + 4));
        }
    }
    for (int g = 0; g < NP; g++) {
        const size_t jg = j + (size_t)g * GEMM_NR;
        const size_t nr = gemm_min(GEMM_NR, n1 - jg);
        gemm_epi t;
        const gemm_epi *te = e ? gemm_epi_at(e, 0, jg, &t) : NULL;
        float tmp[GEMM_NR];
        vst1q_f32(tmp, acc[g][0]);
        vst1q_f32(tmp + 4, acc[g][1]);
        epi_row_scalar(tmp, c + jg, nr, 0, te);
    }
}

static void gemm_gemv(size_t k, const float *a, const float *pb, float *c, size_t n0, size_t n1,
                      const gemm_epi *e) {
    size_t j = n0;
    for (; j + 3 * GEMM_NR < n1; j += 4 * GEMM_NR) gemv_panels(4, k, a, pb, c, j, n1, e);
    for (; j < n1; j += GEMM_NR) gemv_panels(1, k, a, pb, c, j, n1, e);
}
