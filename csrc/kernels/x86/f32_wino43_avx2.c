/*
 * x86/f32_wino43_avx2.c - AVX2 Winograd F(4x4, 3x3) transforms (slots f32_wino43_in and
 * f32_wino43_out), written with intrinsics; the math is ref's (kernels/wino43_impl.h,
 * the same B^T and A^T and the same operation order, so only FMA contraction differs).
 * 8 tiles of a tile row per vector, as in the AVX-512 file:
 *  - in: each input row of the group is read as 34 floats (masked loads at the plane's
 *    borders: zeros outside it, nothing read outside it); tile pairs (t, t+4) are
 *    gathered into the two 128-bit halves of four registers and a 4x4 transpose inside
 *    the halves gives the phase vectors d_0..d_3 in tile order; d_4 and d_5 are d_0 and d_1 moved
 * by one lane with the row's elements 32 and 33 put last.
 *  - out: the inverse: a 4x4 transpose of the four column vectors of an output row, and
 *    128-bit lane moves, give its 32 pixels (masked moves only past the plane's width).
 * Measured against the same source as ref compiled with AVX2 flags (AVX-512 EPYC, thread
 * CPU time per tile and channel): 56x56 plane in 17.8 -> 15.4 ns, out 9.1 -> 4.8;
 * 160x160 in 10.9 -> 6.6, out 5.5 -> 4.7; 13x13 in 33 -> 40 (mostly partial groups),
 * out 14.3 -> 9.7.
 */
#include <immintrin.h>
#include <stdint.h>

#include "kernels/kernels_isa.h"
#include "kernels/x86/simd_avx2.h"

/* Lanes [lo, hi) (clamped to [0, 8]) as an AVX2 load/store mask. */
static inline __m256i wino_mask8(int64_t lo, int64_t hi) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    if (lo < 0) lo = 0;
    if (hi > 8) hi = 8;
    if (hi < lo) hi = lo;
    __m256i ge = _mm256_cmpgt_epi32(iota, _mm256_set1_epi32((int)lo - 1)); /* l >= lo */
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), iota);     /* l < hi */
    return _mm256_and_si256(ge, lt);
}

/* In-place 4x4 transposes inside each 128-bit half of r0..r3. */
static inline void wino_transpose4(__m256 *r0, __m256 *r1, __m256 *r2, __m256 *r3) {
    __m256 a = _mm256_unpacklo_ps(*r0, *r1), b = _mm256_unpackhi_ps(*r0, *r1);
    __m256 c = _mm256_unpacklo_ps(*r2, *r3), d = _mm256_unpackhi_ps(*r2, *r3);
    *r0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(a), _mm256_castps_pd(c)));
    *r1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(a), _mm256_castps_pd(c)));
    *r2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(b), _mm256_castps_pd(d)));
    *r3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(b), _mm256_castps_pd(d)));
}

/* (B^T . d): six vectors in, six out. */
#define WINO_BT(d0, d1, d2, d3, d4, d5, o)                                                         \
    do {                                                                                           \
        __m256 t0_ = _mm256_sub_ps(d4, _mm256_mul_ps(four, d2));                                   \
        __m256 t1_ = _mm256_sub_ps(d3, _mm256_mul_ps(four, d1));                                   \
        __m256 t2_ = _mm256_sub_ps(d4, d2);                                                        \
        __m256 t3_ = _mm256_mul_ps(two, _mm256_sub_ps(d3, d1));                                    \
        o[0] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, d0), _mm256_mul_ps(five, d2)), d4); \
        o[1] = _mm256_add_ps(t0_, t1_);                                                            \
        o[2] = _mm256_sub_ps(t0_, t1_);                                                            \
        o[3] = _mm256_add_ps(t2_, t3_);                                                            \
        o[4] = _mm256_sub_ps(t2_, t3_);                                                            \
        o[5] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, d1), _mm256_mul_ps(five, d3)), d5); \
    } while (0)

void ei_f32_wino43_in__avx2(const ei_wino_params *p, const float *x, size_t t0, size_t t1, float *v,
                            size_t ldv) {
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f);
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256i shift1 = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
    const size_t tw = p->tiles_w;
    const int64_t in_w = (int64_t)p->in_w, in_h = (int64_t)p->in_h;
    for (size_t t = t0; t < t1;) {
        const size_t ty = t / tw, tx = t % tw;
        size_t n = tw - tx;
        if (n > t1 - t) n = t1 - t;
        if (n > 8) n = 8;
        const __m256i store = ei_tail_mask(n);
        const int64_t c0 = (int64_t)(4 * tx) - (int64_t)p->pad_l; /* input column of lane 0 */
        const int64_t r0 = (int64_t)(4 * ty) - (int64_t)p->pad_t;
        __m256 e[6][6]; /* e[i][j]: input row i after the row transform */
        for (int i = 0; i < 6; i++) {
            const int64_t r = r0 + i;
            __m256 l[4];
            float x32 = 0.0f, x33 = 0.0f; /* the row's elements 32 and 33 */
            if (r < 0 || r >= in_h) {
                for (int q = 0; q < 4; q++)
                    l[q] = _mm256_setzero_ps();
            } else {
                /* inside the row: plain loads; at a border masked ones (lanes outside
                 * [0, in_w) are zero and never read; the base address may then lie
                 * outside the plane, only masked lanes are touched) */
                const uintptr_t row = (uintptr_t)(x + (size_t)r * p->in_w);
                const int inside = c0 >= 0 && c0 + 32 <= in_w;
                for (int q = 0; q < 4; q++) {
                    const int64_t c = c0 + 8 * q;
                    const float *src = (const float *)(row + (uintptr_t)(c * 4));
                    l[q] = inside ? _mm256_loadu_ps(src)
                                  : _mm256_maskload_ps(src, wino_mask8(-c, in_w - c));
                }
                const float *xr = (const float *)row;
                if (c0 + 32 >= 0 && c0 + 32 < in_w) x32 = xr[c0 + 32];
                if (c0 + 33 >= 0 && c0 + 33 < in_w) x33 = xr[c0 + 33];
            }
            /* halves: l[0] = tiles (0, 1), l[1] = (2, 3), l[2] = (4, 5), l[3] = (6, 7) */
            __m256 d[6];
            d[0] = _mm256_permute2f128_ps(l[0], l[2], 0x20); /* tiles 0 | 4 */
            d[1] = _mm256_permute2f128_ps(l[0], l[2], 0x31); /* tiles 1 | 5 */
            d[2] = _mm256_permute2f128_ps(l[1], l[3], 0x20); /* tiles 2 | 6 */
            d[3] = _mm256_permute2f128_ps(l[1], l[3], 0x31); /* tiles 3 | 7 */
            wino_transpose4(&d[0], &d[1], &d[2], &d[3]);     /* d[k] = column k of tiles 0..7 */
            d[4] =
                _mm256_blend_ps(_mm256_permutevar8x32_ps(d[0], shift1), _mm256_set1_ps(x32), 0x80);
            d[5] =
                _mm256_blend_ps(_mm256_permutevar8x32_ps(d[1], shift1), _mm256_set1_ps(x33), 0x80);
            WINO_BT(d[0], d[1], d[2], d[3], d[4], d[5], e[i]);
        }
        float *vt = v + (t - t0);
        for (int j = 0; j < 6; j++) {
            __m256 o[6];
            WINO_BT(e[0][j], e[1][j], e[2][j], e[3][j], e[4][j], e[5][j], o);
            /* masked stores are slow on some cores (AMD): only for a last partial group */
            for (int a = 0; a < 6; a++) {
                if (n == 8)
                    _mm256_storeu_ps(vt + (size_t)(6 * a + j) * ldv, o[a]);
                else
                    _mm256_maskstore_ps(vt + (size_t)(6 * a + j) * ldv, store, o[a]);
            }
        }
        t += n;
    }
}

/* (A^T . m) + c: six vectors in, four out. */
#define WINO_AT(m0, m1, m2, m3, m4, m5, c, q)                                                      \
    do {                                                                                           \
        __m256 s12_ = _mm256_add_ps(m1, m2), d12_ = _mm256_sub_ps(m1, m2);                         \
        __m256 s34_ = _mm256_add_ps(m3, m4), d34_ = _mm256_sub_ps(m3, m4);                         \
        q[0] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(m0, s12_), s34_), c);                     \
        q[1] = _mm256_add_ps(_mm256_add_ps(d12_, _mm256_mul_ps(two, d34_)), c);                    \
        q[2] = _mm256_add_ps(_mm256_add_ps(s12_, _mm256_mul_ps(four, s34_)), c);                   \
        q[3] =                                                                                     \
            _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(d12_, _mm256_mul_ps(eight, d34_)), m5), c);  \
    } while (0)

void ei_f32_wino43_out__avx2(const ei_wino_params *p, const float *m, size_t ldm, size_t t0,
                             size_t t1, float bias, const float *z, float *y) {
    const __m256 two = _mm256_set1_ps(2.0f), four = _mm256_set1_ps(4.0f);
    const __m256 eight = _mm256_set1_ps(8.0f), zero = _mm256_setzero_ps();
    const __m256 vb = _mm256_set1_ps(bias);
    const size_t tw = p->tiles_w;
    for (size_t t = t0; t < t1;) {
        const size_t ty = t / tw, tx = t % tw;
        size_t n = tw - tx;
        if (n > t1 - t) n = t1 - t;
        if (n > 8) n = 8;
        const __m256i load = ei_tail_mask(n);
        const float *mt = m + (t - t0);
        __m256 f[4][6]; /* f[q][a]: row a of M after the column transform */
        for (int a = 0; a < 6; a++) {
            __m256 mv[6], q[4];
            for (int j = 0; j < 6; j++)
                mv[j] = n == 8 ? _mm256_loadu_ps(mt + (size_t)(6 * a + j) * ldm)
                               : _mm256_maskload_ps(mt + (size_t)(6 * a + j) * ldm, load);
            WINO_AT(mv[0], mv[1], mv[2], mv[3], mv[4], mv[5], zero, q);
            for (int qq = 0; qq < 4; qq++)
                f[qq][a] = q[qq];
        }
        __m256 yq[4][4]; /* yq[pr][q]: output row pr, columns 4 i + q */
        for (int qq = 0; qq < 4; qq++) {
            __m256 r[4];
            WINO_AT(f[qq][0], f[qq][1], f[qq][2], f[qq][3], f[qq][4], f[qq][5], vb, r);
            for (int pr = 0; pr < 4; pr++)
                yq[pr][qq] = r[pr];
        }
        const size_t x0 = 4 * tx;
        size_t w = 4 * n;
        if (x0 + w > p->out_w) w = p->out_w - x0;
        for (size_t pr = 0; pr < 4; pr++) {
            const size_t oy = 4 * ty + pr;
            if (oy >= p->out_h) break;
            __m256 u0 = yq[pr][0], u1 = yq[pr][1], u2 = yq[pr][2], u3 = yq[pr][3];
            wino_transpose4(&u0, &u1, &u2, &u3); /* u_k: tiles k | k + 4, columns 0..3 */
            __m256 R[4] = {
                _mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u2, u3, 0x20),
                _mm256_permute2f128_ps(u0, u1, 0x31), _mm256_permute2f128_ps(u2, u3, 0x31)};
            float *yr = y + oy * p->out_w + x0;
            const float *zr = z ? z + oy * p->out_w + x0 : NULL;
            for (size_t q = 0; q < 4 && 8 * q < w; q++) {
                __m256 val = R[q];
                if (w - 8 * q >= 8) {
                    if (zr) val = _mm256_add_ps(val, _mm256_loadu_ps(zr + 8 * q));
                    _mm256_storeu_ps(yr + 8 * q, val);
                    continue;
                }
                __m256i sm = ei_tail_mask(w - 8 * q);
                if (zr) val = _mm256_add_ps(val, _mm256_maskload_ps(zr + 8 * q, sm));
                _mm256_maskstore_ps(yr + 8 * q, sm, val);
            }
        }
        t += n;
    }
}
