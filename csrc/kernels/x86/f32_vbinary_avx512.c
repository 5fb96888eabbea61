/*
 * x86/f32_vbinary_avx512.c - AVX-512F elementwise binary kernels (vector op vector,
 * vector op scalar, affine). Built with the AVX-512 F/BW/DQ/VL flags; installed by
 * dispatch.c. Contract: any n, float alignment only, y may alias an input; the tail
 * (n % 16) uses masked loads/stores, which never touch lanes past n. Bit-identical to
 * ref except vaffine, which fuses x*scale+shift (one rounding).
 */
#include <immintrin.h>

#include "kernels/kernels_isa.h"

static inline __mmask16 ei_tail_mask16(size_t r) {
    return (__mmask16)((1u << r) - 1u);
}

static inline __m512 ei_vmax16(__m512 a, __m512 b) {
    /* maxps semantics (b when unordered), then a NaN in a wins, as in ref. */
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), _mm512_max_ps(a, b), a);
}

#define EI_VV(name, OP)                                                                            \
    void ei_##name##__avx512(size_t n, const float *a, const float *b, float *y) {                 \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m512 r0 = OP(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));                        \
            __m512 r1 = OP(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));              \
            _mm512_storeu_ps(y + i, r0);                                                           \
            _mm512_storeu_ps(y + i + 16, r1);                                                      \
        }                                                                                          \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, OP(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i)));           \
        if (i < n) {                                                                               \
            __mmask16 m = ei_tail_mask16(n - i);                                                   \
            __m512 r = OP(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));       \
            _mm512_mask_storeu_ps(y + i, m, r);                                                    \
        }                                                                                          \
    }

#define EI_VC(name, OP)                                                                            \
    void ei_##name##__avx512(size_t n, const float *a, float c, float *y) {                        \
        const __m512 vc = _mm512_set1_ps(c);                                                       \
        size_t i = 0;                                                                              \
        for (; i + 32 <= n; i += 32) {                                                             \
            __m512 r0 = OP(_mm512_loadu_ps(a + i), vc);                                            \
            __m512 r1 = OP(_mm512_loadu_ps(a + i + 16), vc);                                       \
            _mm512_storeu_ps(y + i, r0);                                                           \
            _mm512_storeu_ps(y + i + 16, r1);                                                      \
        }                                                                                          \
        for (; i + 16 <= n; i += 16)                                                               \
            _mm512_storeu_ps(y + i, OP(_mm512_loadu_ps(a + i), vc));                               \
        if (i < n) {                                                                               \
            __mmask16 m = ei_tail_mask16(n - i);                                                   \
            _mm512_mask_storeu_ps(y + i, m, OP(_mm512_maskz_loadu_ps(m, a + i), vc));              \
        }                                                                                          \
    }

#define EI_RSUB(x, c) _mm512_sub_ps(c, x)
#define EI_RDIV(x, c) _mm512_div_ps(c, x)

EI_VV(f32_vadd, _mm512_add_ps)
EI_VV(f32_vsub, _mm512_sub_ps)
EI_VV(f32_vmul, _mm512_mul_ps)
EI_VV(f32_vdiv, _mm512_div_ps)
EI_VV(f32_vmax, ei_vmax16)
EI_VC(f32_vaddc, _mm512_add_ps)
EI_VC(f32_vsubc, _mm512_sub_ps)
EI_VC(f32_vrsubc, EI_RSUB)
EI_VC(f32_vmulc, _mm512_mul_ps)
EI_VC(f32_vdivc, _mm512_div_ps)
EI_VC(f32_vrdivc, EI_RDIV)

/* Fused: one rounding, may differ from ref by about an ulp of max(|x*scale|, |shift|). */
void ei_f32_vaffine__avx512(size_t n, const float *x, float scale, float shift, float *y) {
    const __m512 vs = _mm512_set1_ps(scale), vb = _mm512_set1_ps(shift);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 r0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), vs, vb);
        __m512 r1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), vs, vb);
        _mm512_storeu_ps(y + i, r0);
        _mm512_storeu_ps(y + i + 16, r1);
    }
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(_mm512_loadu_ps(x + i), vs, vb));
    if (i < n) {
        __mmask16 m = ei_tail_mask16(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), vs, vb));
    }
}
