/*
 * x86/f32_vbinary_avx2.c - AVX2+FMA elementwise binary kernels (vector op vector, vector
 * op scalar, affine). Built with -mavx2 -mfma; installed by dispatch.c.
 * Contract: any n, float alignment only (unaligned loads), y may alias an input; the
 * tail (n % 8) uses masked loads/stores (vmaskmovps does not fault on masked-off lanes),
 * so nothing past element n-1 is touched. Results are bit-identical to ref (real add,
 * sub, mul and div instructions) except vaffine, which fuses x*scale+shift (one rounding).
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx2.h"

/* 8 ones then 8 zeros: loadu at (8 - r) gives a mask of the first r lanes. */
static inline __m256 ei_vmax8(__m256 a, __m256 b) {
    /* maxps(a, b) = a > b ? a : b (b when either is NaN); then a NaN in a wins, as in ref. */
    return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
}

#define EI_VV(name, OP)                                                                            \
    void ei_##name##__avx2(size_t n, const float *a, const float *b, float *y) {                   \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m256 r0 = OP(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));                        \
            __m256 r1 = OP(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));                \
            __m256 r2 = OP(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));              \
            __m256 r3 = OP(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));              \
            _mm256_storeu_ps(y + i, r0);                                                           \
            _mm256_storeu_ps(y + i + 8, r1);                                                       \
            _mm256_storeu_ps(y + i + 16, r2);                                                      \
            _mm256_storeu_ps(y + i + 24, r3);                                                      \
        }                                                                                          \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(y + i, OP(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));           \
        if (i < n) {                                                                               \
            __m256i m = ei_tail_mask(n - i);                                                       \
            __m256 r = OP(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));             \
            _mm256_maskstore_ps(y + i, m, r);                                                      \
        }                                                                                          \
    }

/* Vector op scalar: OP(x, c) with c broadcast once. */
#define EI_VC(name, OP)                                                                            \
    void ei_##name##__avx2(size_t n, const float *a, float c, float *y) {                          \
        const __m256 vc = _mm256_set1_ps(c);                                                       \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m256 r0 = OP(_mm256_loadu_ps(a + i), vc);                                            \
            __m256 r1 = OP(_mm256_loadu_ps(a + i + 8), vc);                                        \
            __m256 r2 = OP(_mm256_loadu_ps(a + i + 16), vc);                                       \
            __m256 r3 = OP(_mm256_loadu_ps(a + i + 24), vc);                                       \
            _mm256_storeu_ps(y + i, r0);                                                           \
            _mm256_storeu_ps(y + i + 8, r1);                                                       \
            _mm256_storeu_ps(y + i + 16, r2);                                                      \
            _mm256_storeu_ps(y + i + 24, r3);                                                      \
        }                                                                                          \
        for (; i + 8 <= n; i += 8)                                                                 \
            _mm256_storeu_ps(y + i, OP(_mm256_loadu_ps(a + i), vc));                               \
        if (i < n) {                                                                               \
            __m256i m = ei_tail_mask(n - i);                                                       \
            _mm256_maskstore_ps(y + i, m, OP(_mm256_maskload_ps(a + i, m), vc));                   \
        }                                                                                          \
    }

#define EI_RSUB(x, c) _mm256_sub_ps(c, x)
#define EI_RDIV(x, c) _mm256_div_ps(c, x)

EI_VV(f32_vadd, _mm256_add_ps)
EI_VV(f32_vsub, _mm256_sub_ps)
EI_VV(f32_vmul, _mm256_mul_ps)
EI_VV(f32_vdiv, _mm256_div_ps)
EI_VV(f32_vmax, ei_vmax8)
EI_VC(f32_vaddc, _mm256_add_ps)
EI_VC(f32_vsubc, _mm256_sub_ps)
EI_VC(f32_vrsubc, EI_RSUB)
EI_VC(f32_vmulc, _mm256_mul_ps)
EI_VC(f32_vdivc, _mm256_div_ps)
EI_VC(f32_vrdivc, EI_RDIV)

/* Fused: one rounding of x*scale+shift, so it may differ from ref (two roundings) by
 * about an ulp of max(|x*scale|, |shift|). */
void ei_f32_vaffine__avx2(size_t n, const float *x, float scale, float shift, float *y) {
    const __m256 vs = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256 r0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vs, vb);
        __m256 r1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), vs, vb);
        __m256 r2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), vs, vb);
        __m256 r3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), vs, vb);
        _mm256_storeu_ps(y + i, r0);
        _mm256_storeu_ps(y + i + 8, r1);
        _mm256_storeu_ps(y + i + 16, r2);
        _mm256_storeu_ps(y + i + 24, r3);
    }
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), vs, vb));
    if (i < n) {
        __m256i m = ei_tail_mask(n - i);
        _mm256_maskstore_ps(y + i, m, _mm256_fmadd_ps(_mm256_maskload_ps(x + i, m), vs, vb));
    }
}
