/*
 * x86/f32_activation_avx512.c - AVX-512F activations: relu, clamp (bit-identical to
 * ref), sigmoid and tanh with the same algorithms as the AVX2 file (Cody-Waite exp with
 * a degree-7 Taylor polynomial; tanh below |x| < 0.625 by a fitted odd polynomial), but
 * 2^n applied with vscalefps (one rounding, subnormals included). Measured max error,
 * whole float range: vs ref (libm) sigmoid 2 ulp, tanh 2 ulp; vs double precision
 * sigmoid 2, tanh 1 ulp. NaN propagates, saturation exact.
 * Contract: any n, unaligned, in place allowed, masked tail (no overread).
 */
#include <immintrin.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx512.h"


/* maxps(0, x) = 0 > x ? 0 : x: NaN and -0 pass through, as ref's x < 0 ? 0 : x. */
static inline __m512 ei_relu16(__m512 x) {
    return _mm512_max_ps(_mm512_setzero_ps(), x);
}
EI_MAP(f32_relu, ei_relu16)

void ei_f32_clamp__avx512(size_t n, const float *x, float lo, float hi, float *y) {
    /* Bound first in max/min: exactly ref's comparisons (NaN x passes through). */
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_min_ps(vhi, _mm512_max_ps(vlo, _mm512_loadu_ps(x + i))));
    if (i < n) {
        __mmask16 m = ei_tail_mask16(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_min_ps(vhi, _mm512_max_ps(vlo, v)));
    }
}

/* exp(x), x clamped to [-104, 88.7] (callers patch NaN lanes); see the AVX2 file. */
static inline __m512 ei_exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.7f));
    return ei_exp16_core(x);
}

static inline __m512 ei_keep_nan(__m512 y, __m512 x) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), y, x);
}

/* e = exp(-|x|); x >= 0: 1/(1+e), x < 0: e/(1+e). */
static inline __m512 ei_sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 ax = _mm512_abs_ps(x);
    __m512 e = ei_exp16(_mm512_sub_ps(_mm512_setzero_ps(), ax));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 num = _mm512_mask_blend_ps(neg, one, e);
    return ei_keep_nan(_mm512_div_ps(num, _mm512_add_ps(one, e)), x);
}
EI_MAP(f32_sigmoid, ei_sigmoid16)

/* |x| < 0.625: x + x^3 P(x^2); else 1 - 2/(exp(2|x|)+1), |x| capped at 9.5; sign of x. */
static inline __m512 ei_tanh16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 ax = _mm512_abs_ps(x);
    __m512 z = _mm512_mul_ps(ax, ax);
    __m512 p = _mm512_set1_ps(-0.005703725852072239f);
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.02063782326877117f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-0.0537392720580101f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(0.1333143562078476f));
    p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(-0.3333328068256378f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(ax, z), p, ax);
    __m512 c = _mm512_min_ps(ax, _mm512_set1_ps(9.5f));
    __m512 e = ei_exp16(_mm512_add_ps(c, c));
    __m512 big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    __mmask16 is_small = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    __m512 t = _mm512_mask_blend_ps(is_small, big, small);
    /* copy the sign of x (x ^ |x| is just the sign bit) */
    __m512 s =
        _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_castps_si512(ax)));
    t = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(t), _mm512_castps_si512(s)));
    return ei_keep_nan(t, x);
}
EI_MAP(f32_tanh, ei_tanh16)
