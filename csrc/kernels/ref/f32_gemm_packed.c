/*
 * ref/f32_gemm_packed.c - reference packed GEMM (gemm.h), plain C with no ISA flags: a 4x4
 * tile accumulated in a local array, the same packed layouts and blocking (gemm_driver.h)
 * as the SIMD variants. The fallback on every CPU and the readable statement of the
 * micro-kernel contract.
 */
#include "kernels/kernels.h"

#define GEMM_MR 4
#define GEMM_NR 4
#define GEMM_KC 256
#define GEMM_NC 256
#define GEMM_MC 64
#define GEMM_NAME "ref_4x4"
#define GEMM_GETTER ei_f32_gemm_packed__ref

#include "kernels/gemm.h"

struct gemm_epi;
static void gemm_tile(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr,
                      size_t nr, int load_c, const struct gemm_epi *e);

#include "kernels/gemm_driver.h"

/* The micro-kernel contract, shared by every ISA:
 *   a: kc steps of GEMM_MR floats (a packed panel slice; rows >= mr are zero or ignored);
 *   b: kc steps of GEMM_NR floats (a packed B panel slice or the copy gemm_pa makes;
 *      columns >= nr are zero or ignored);
 *   c: mr x nr tile at stride ldc; load_c: start from C's values (a later K block), else 0;
 *   e: NULL (plain store) or the epilogue, applied after the last K block.
 * Each element is one chain acc = acc + a*b over p = 0..kc-1. */
static void gemm_tile(size_t kc, const float *a, const float *b, float *c, size_t ldc, size_t mr,
                      size_t nr, int load_c, const gemm_epi *e) {
    float acc[GEMM_MR][GEMM_NR];
    for (size_t r = 0; r < mr; r++)
        for (size_t j = 0; j < nr; j++)
            acc[r][j] = load_c ? c[r * ldc + j] : 0.0f;
    for (size_t p = 0; p < kc; p++)
        for (size_t r = 0; r < mr; r++)
            for (size_t j = 0; j < nr; j++)
                acc[r][j] += a[p * GEMM_MR + r] * b[p * GEMM_NR + j];
    for (size_t r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        for (size_t j = 0; j < nr; j++) {
            float x = acc[r][j];
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
}
