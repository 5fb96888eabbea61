/*
 * x86/f32_exp_avx512.c - AVX-512F exp-family maps: exp, exp(x - shift) with its sum,
 * erf and the exact GELU, the algorithms and coefficients of x86/f32_exp_avx2.c with
 * 2^n applied by vscalefps (one rounding, subnormals and overflow to +inf included).
 * Measured error as the AVX2 file (tests/c/test_kernels.c prints it).
 * Contract: any n, unaligned, in place allowed, masked tail (no overread).
 */
#include <immintrin.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx512.h"


/* exp(x), x clamped to [-104, 89] with the bound first (NaN passes through). */
static inline __m512 ei_exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    return ei_exp16_core(x);
}
EI_MAP(f32_exp, ei_exp16)

float ei_f32_exp_sum__avx512(size_t n, const float *x, float shift, float *y) {
    const __m512 sh = _mm512_set1_ps(shift);
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = ei_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
        __m512 e1 = ei_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), sh));
        if (y) {
            _mm512_storeu_ps(y + i, e0);
            _mm512_storeu_ps(y + i + 16, e1);
        }
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 e = ei_exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
        if (y) _mm512_storeu_ps(y + i, e);
        s0 = _mm512_add_ps(s0, e);
    }
    if (i < n) {
        __mmask16 m = ei_tail_mask16(n - i);
        __m512 e = ei_exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh));
        if (y) _mm512_mask_storeu_ps(y + i, m, e);
        s1 = _mm512_mask_add_ps(s1, m, s1, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline __m512 ei_erf_small16(__m512 x) {
    __m512 s = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.990877398e-04f);
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(4.993185867e-03f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-2.676662058e-02f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.128181666e-01f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-3.761249483e-01f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.283791512e-01f));
    return _mm512_fmadd_ps(x, p, x);
}

static inline __m512 ei_erfc_big16(__m512 t) {
    t = _mm512_min_ps(_mm512_set1_ps(3.925f), t);
    __m512 q = _mm512_set1_ps(1.630656584e-06f);
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-4.589370292e-05f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(5.951123894e-04f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-4.750201479e-03f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(2.639024518e-02f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.100182608e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-6.318997145e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.130185723e+00f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(3.072105756e-04f));
    return ei_exp16(q);
}

static inline __m512 ei_or_sign(__m512 v, __m512 x) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(v), _mm512_and_si512(_mm512_castps_si512(x), sign)));
}

static inline __m512 ei_erf16(__m512 x) {
    __m512 ax = _mm512_abs_ps(x);
    __m512 big = ei_or_sign(_mm512_sub_ps(_mm512_set1_ps(1.0f), ei_erfc_big16(ax)), x);
    __mmask16 sm = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.921875f), _CMP_LE_OQ);
    return _mm512_mask_blend_ps(sm, big, ei_erf_small16(x));
}
EI_MAP(f32_erf, ei_erf16)

static inline __m512 ei_gelu16(__m512 x) {
    __m512 u = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 au = _mm512_abs_ps(u);
    __m512 small = _mm512_add_ps(_mm512_set1_ps(1.0f), ei_erf_small16(u));
    __m512 ec = ei_erfc_big16(au);
    __mmask16 far = _mm512_cmp_ps_mask(au, _mm512_set1_ps(3.925f), _CMP_GT_OQ);
    ec = _mm512_mask_blend_ps(far, ec, _mm512_setzero_ps());
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 big = _mm512_mask_blend_ps(neg, _mm512_sub_ps(_mm512_set1_ps(2.0f), ec), ec);
    __mmask16 sm = _mm512_cmp_ps_mask(au, _mm512_set1_ps(0.921875f), _CMP_LE_OQ);
    __m512 f = _mm512_mask_blend_ps(sm, big, small);
    return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), f);
}
EI_MAP(f32_gelu, ei_gelu16)
