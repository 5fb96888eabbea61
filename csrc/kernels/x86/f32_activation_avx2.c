/*
 * x86/f32_activation_avx2.c - AVX2+FMA activations: relu, clamp (bit-identical to ref),
 * sigmoid and tanh (own exp: Cody-Waite reduction, degree-7 Taylor polynomial, 2^n built
 * in two halves so subnormal results round once; tanh below |x| < 0.625 uses an odd
 * polynomial fitted for relative error). Measured max error, whole float range: vs ref
 * (libm expf/tanhf, every 509th bit pattern, tests/c/test_kernels.c) sigmoid 2 ulp,
 * tanh 2 ulp; vs the double-precision result (every 61st pattern) sigmoid 2, tanh 1 ulp.
 * Saturation is exact (sigmoid -> 0/1, tanh -> +-1), NaN propagates.
 * Contract: any n, unaligned, in place allowed, masked tail (no overread).
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx2.h"

/* relu = x < 0 ? 0 : x: maxps(0, x) returns x when unordered, so NaN and -0 pass. */
static inline __m256 ei_relu8(__m256 x) {
    return _mm256_max_ps(_mm256_setzero_ps(), x);
}
EI_MAP(f32_relu, ei_relu8)

void ei_f32_clamp__avx2(size_t n, const float *x, float lo, float hi, float *y) {
    /* maxps(lo, v) = lo > v ? lo : v, minps(hi, v) = hi < v ? hi : v: exactly ref's
     * comparisons, so NaN x passes through and a NaN bound is ignored. */
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_loadu_ps(x + i))));
    if (i < n) {
        __m256i m = ei_tail_mask(n - i);
        __m256 v = _mm256_maskload_ps(x + i, m);
        _mm256_maskstore_ps(y + i, m, _mm256_min_ps(vhi, _mm256_max_ps(vlo, v)));
    }
}

/* exp(x) for x in [-104, 88.7] (clamped; callers patch NaN lanes). n = round(x/ln2),
 * r = x - n*ln2 in two parts (355/512 is exact times any |n| <= 150), exp(r) by Taylor to
 * r^7 (truncation < 0.1 ulp on |r| <= ln2/2), times 2^(n/2) * 2^(n - n/2): both factors
 * are normal floats, so only the last product can round into the subnormal range. */
static inline __m256 ei_exp8(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(88.7f));
    return ei_exp8_core(x);
}

static inline __m256 ei_keep_nan(__m256 y, __m256 x) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* sigmoid: e = exp(-|x|) never overflows; x >= 0: 1/(1+e), x < 0: e/(1+e) (one division,
 * and tiny results keep their precision instead of flushing). */
static inline __m256 ei_sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    __m256 e = ei_exp8(_mm256_sub_ps(_mm256_setzero_ps(), ax));
    __m256 num = _mm256_blendv_ps(one, e, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
    return ei_keep_nan(_mm256_div_ps(num, _mm256_add_ps(one, e)), x);
}
EI_MAP(f32_sigmoid, ei_sigmoid8)

/* tanh on |x|, sign restored at the end: |x| < 0.625: x + x^3 P(x^2) (P fitted for
 * relative error, < 0.1 ulp of fit error); else 1 - 2/(exp(2|x|)+1), with |x| capped at
 * 9.5 where tanh already rounds to 1. */
static inline __m256 ei_tanh8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 ax = _mm256_andnot_ps(sign, x);
    __m256 z = _mm256_mul_ps(ax, ax);
    __m256 p = _mm256_set1_ps(-0.005703725852072239f);
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.02063782326877117f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-0.0537392720580101f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(0.1333143562078476f));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-0.3333328068256378f));
    __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(ax, z), p, ax);
    __m256 e = ei_exp8(_mm256_add_ps(_mm256_min_ps(ax, _mm256_set1_ps(9.5f)),
                                     _mm256_min_ps(ax, _mm256_set1_ps(9.5f))));
    __m256 big = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    __m256 t = _mm256_blendv_ps(big, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
    return ei_keep_nan(_mm256_or_ps(t, _mm256_and_ps(x, sign)), x);
}
EI_MAP(f32_tanh, ei_tanh8)
