/*
 * x86/f32_exp_avx2.c - AVX2+FMA exp-family maps: exp, the softmax step exp(x - shift)
 * with its sum, erf and the exact GELU. exp: Cody-Waite reduction by ln 2, degree-7
 * Taylor polynomial, 2^n built in two halves so subnormal results round once (as in
 * f32_activation_avx2.c); overflow gives +inf, underflow 0, NaN propagates.
 * erf: |x| <= 0.921875: x + x P(x^2) (P degree 5, minimax for relative error, 0.26 ulp
 * of fit error); above: 1 - erfc(|x|) with erfc = exp(Q(|x|)) (Q degree 8, minimax for
 * absolute error in log erfc, 0.15 ulp of erfc), 1 beyond 3.925 where erf rounds to 1.
 * GELU: x/2 (1 + erf(x/sqrt 2)) with 1 + erf taken as exp(Q) directly for x < 0 (no
 * cancellation); -0 for x < -5.55 (|y| < 8e-8 there).
 * Measured max error (tests/c/test_kernels.c, every 509th float and random data): exp
 * 1 ulp, erf 1 ulp vs libm (the test allows 2); GELU 3 ulp vs double precision for
 * x > -1.3 (allowed 8), and in the negative tail within 8 ulp + 2^-23 x^2 relative (the
 * rounding of x/sqrt 2 amplified by the slope of erfc), + 8e-8 absolute below -5.55.
 * Contract: any n, unaligned, in place allowed, masked tail (no overread).
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx2.h"


/* exp(x): x clamped to [-104, 89] with the bound first, so NaN passes through; e^89
 * overflows in the last product and e^-104 rounds to 0, as the true values do. */
static inline __m256 ei_exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
    return ei_exp8_core(x);
}
EI_MAP(f32_exp, ei_exp8)

float ei_f32_exp_sum__avx2(size_t n, const float *x, float shift, float *y) {
    const __m256 sh = _mm256_set1_ps(shift);
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 e0 = ei_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        __m256 e1 = ei_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh));
        if (y) {
            _mm256_storeu_ps(y + i, e0);
            _mm256_storeu_ps(y + i + 8, e1);
        }
        s0 = _mm256_add_ps(s0, e0);
        s1 = _mm256_add_ps(s1, e1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 e = ei_exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        if (y) _mm256_storeu_ps(y + i, e);
        s0 = _mm256_add_ps(s0, e);
    }
    if (i < n) {
        __m256i m = ei_tail_mask(n - i);
        __m256 e = ei_exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), sh));
        if (y) _mm256_maskstore_ps(y + i, m, e);
        s1 = _mm256_add_ps(s1, _mm256_and_ps(e, _mm256_castsi256_ps(m)));
    }
    __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* x + x P(x^2) for |x| <= 0.921875. */
static inline __m256 ei_erf_small8(__m256 x) {
    __m256 s = _mm256_mul_ps(x, x);
    __m256 p = _mm256_set1_ps(-5.990877398e-04f);
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(4.993185867e-03f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-2.676662058e-02f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.128181666e-01f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(-3.761249483e-01f));
    p = _mm256_fmadd_ps(p, s, _mm256_set1_ps(1.283791512e-01f));
    return _mm256_fmadd_ps(x, p, x);
}

/* erfc(t) = exp(Q(t)) for t = |x| in [0.921875, 3.925] (t capped there; NaN passes). */
static inline __m256 ei_erfc_big8(__m256 t) {
    t = _mm256_min_ps(_mm256_set1_ps(3.925f), t);
    __m256 q = _mm256_set1_ps(1.630656584e-06f);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-4.589370292e-05f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(5.951123894e-04f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-4.750201479e-03f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.639024518e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.100182608e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-6.318997145e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.130185723e+00f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(3.072105756e-04f));
    return ei_exp8(q);
}

static inline __m256 ei_erf8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), ei_erfc_big8(ax));
    big = _mm256_or_ps(big, _mm256_and_ps(x, sign));
    __m256 small = ei_erf_small8(x);
    return _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.921875f), _CMP_LE_OQ));
}
EI_MAP(f32_erf, ei_erf8)

/* x/2 (1 + erf(u)), u = x/sqrt 2: small |u| by the polynomial; large: 1 + erf(u) =
 * 2 - erfc(|u|) for u > 0 and erfc(|u|) for u < 0, which is 0 beyond |u| = 3.925. */
static inline __m256 ei_gelu8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 u = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 au = _mm256_andnot_ps(sign, u);
    __m256 small = _mm256_add_ps(_mm256_set1_ps(1.0f), ei_erf_small8(u));
    __m256 ec = ei_erfc_big8(au);
    ec = _mm256_andnot_ps(_mm256_cmp_ps(au, _mm256_set1_ps(3.925f), _CMP_GT_OQ), ec);
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 big = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), ec), ec, neg);
    __m256 f =
        _mm256_blendv_ps(big, small, _mm256_cmp_ps(au, _mm256_set1_ps(0.921875f), _CMP_LE_OQ));
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), f);
}
EI_MAP(f32_gelu, ei_gelu8)
