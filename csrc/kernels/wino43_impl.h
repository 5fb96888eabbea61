/*
 * wino43_impl.h - the Winograd F(4x4, 3x3) input and output transforms of one channel
 * plane (slots f32_wino43_in, f32_wino43_out; ei_wino_params in kernels.h), written once in
 * plain C and compiled per ISA: ref/f32_wino43.c as the reference, x86/f32_wino43_avx2.c,
 * f32_wino43_avx512.c and arm/f32_wino43_neon.c with their ISA flags. Each file defines
 * EI_WINO_FN(name) to its suffix and includes this file once.
 *
 * The transforms are vectorized across the tiles of a tile row, not within a tile: the
 * tile at column tx reads input columns 4*tx - pad_l .. +5, so each input row is copied
 * (zero-padded) into a stack buffer and split into six phase arrays d_k[tx] = row[4*tx + k];
 * every later step is an elementwise loop over tx that the compiler turns into full-width
 * vector code. The output side mirrors it: four arrays per output row, interleaved back.
 *
 * Points 0, +-1, +-2 (the usual F(4,3) choice). With d the 6x6 input patch,
 *   B^T = [4  0 -5  0 1 0; 0 -4 -4  1 1 0; 0 4 -4 -1 1 0;
 *          0 -2 -1  2 1 0; 0  2 -1 -2 1 0; 0 4  0 -5 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * V = B^T d B is stored as v[xi * ldv + t], xi = 6 * a + j (a: the row transform, j: the
 * column transform); the output of a tile is Y = A^T M A with M[a][j] = m[xi * ldm + t].
 */
#include <string.h>

#include "kernels/kernels.h"

/* Tiles per chunk of a tile row: the stack arrays below are sized by it (~13 KiB). */
#define WINO_CHUNK 64

/* The six phase arrays of one input row r (zeros outside the plane) for tiles
 * [tx0, tx0 + n): d[k][i] = x[r][4 * (tx0 + i) + k - pad_l]. */
static inline void wino_row_phases(const ei_wino_params *p, const float *x, int64_t r, size_t tx0,
                                   size_t n, float d[6][WINO_CHUNK]) {
    float buf[4 * WINO_CHUNK + 2];
    size_t len = 4 * n + 2;
    if (r < 0 || r >= (int64_t)p->in_h) {
        memset(buf, 0, len * sizeof(float));
    } else {
        const float *xr = x + (size_t)r * p->in_w;
        int64_t c0 = (int64_t)(4 * tx0) - (int64_t)p->pad_l; /* input column of buf[0] */
        int64_t lo = c0 < 0 ? -c0 : 0;                       /* first buf index inside */
        int64_t hi = (int64_t)p->in_w - c0;                  /* one past the last inside */
        if (hi > (int64_t)len) hi = (int64_t)len;
        if (hi < lo) hi = lo;
        for (int64_t i = 0; i < lo && i < (int64_t)len; i++)
            buf[i] = 0.0f;
        if (hi > lo) memcpy(buf + lo, xr + c0 + lo, (size_t)(hi - lo) * sizeof(float));
        for (int64_t i = hi > lo ? hi : lo; i < (int64_t)len; i++)
            buf[i] = 0.0f;
    }
    for (size_t i = 0; i < n; i++) {
        d[0][i] = buf[4 * i + 0];
        d[1][i] = buf[4 * i + 1];
        d[2][i] = buf[4 * i + 2];
        d[3][i] = buf[4 * i + 3];
        d[4][i] = buf[4 * i + 4];
        d[5][i] = buf[4 * i + 5];
    }
}

/* o_j = (B^T . d)_j over six length-n arrays (the same combination serves the rows and
 * the columns of the patch). */
static inline void wino_bt(size_t n, const float *restrict d0, const float *restrict d1,
                           const float *restrict d2, const float *restrict d3,
                           const float *restrict d4, const float *restrict d5, float *restrict o0,
                           float *restrict o1, float *restrict o2, float *restrict o3,
                           float *restrict o4, float *restrict o5) {
    for (size_t i = 0; i < n; i++) {
        float t0 = d4[i] - 4.0f * d2[i], t1 = d3[i] - 4.0f * d1[i]; /* rows 1 and 2 */
        float t2 = d4[i] - d2[i], t3 = 2.0f * (d3[i] - d1[i]);      /* rows 3 and 4 */
        o0[i] = 4.0f * d0[i] - 5.0f * d2[i] + d4[i];
        o1[i] = t0 + t1;
        o2[i] = t0 - t1;
        o3[i] = t2 + t3;
        o4[i] = t2 - t3;
        o5[i] = 4.0f * d1[i] - 5.0f * d3[i] + d5[i];
    }
}

/* Input transform of tiles [t0, t1) of one plane x (tile t = ty * tiles_w + tx):
 * v[xi * ldv + (t - t0)] for xi < 36. */
void EI_WINO_FN(f32_wino43_in)(const ei_wino_params *p, const float *x, size_t t0, size_t t1,
                               float *v, size_t ldv) {
    float d[6][WINO_CHUNK];
    float e[6][6][WINO_CHUNK]; /* e[i][j]: row i of the patch after the column transform */
    size_t tw = p->tiles_w;
    for (size_t t = t0; t < t1;) {
        size_t ty = t / tw, tx = t % tw;
        size_t n = tw - tx;
        if (n > t1 - t) n = t1 - t;
        if (n > WINO_CHUNK) n = WINO_CHUNK;
        int64_t r0 = (int64_t)(4 * ty) - (int64_t)p->pad_t;
        for (int i = 0; i < 6; i++) {
            wino_row_phases(p, x, r0 + i, tx, n, d);
            wino_bt(n, d[0], d[1], d[2], d[3], d[4], d[5], e[i][0], e[i][1], e[i][2], e[i][3],
                    e[i][4], e[i][5]);
        }
        float *vt = v + (t - t0);
        for (size_t j = 0; j < 6; j++)
            wino_bt(n, e[0][j], e[1][j], e[2][j], e[3][j], e[4][j], e[5][j], vt + j * ldv,
                    vt + (6 + j) * ldv, vt + (12 + j) * ldv, vt + (18 + j) * ldv,
                    vt + (24 + j) * ldv, vt + (30 + j) * ldv);
        t += n;
    }
}

/* q_0..q_3 = (A^T . m)_0..3 over six length-n arrays, plus c (the bias on the last
 * pass, 0 before). */
static inline void wino_at(size_t n, const float *restrict m0, const float *restrict m1,
                           const float *restrict m2, const float *restrict m3,
                           const float *restrict m4, const float *restrict m5, float c,
                           float *restrict q0, float *restrict q1, float *restrict q2,
                           float *restrict q3) {
    for (size_t i = 0; i < n; i++) {
        float s12 = m1[i] + m2[i], d12 = m1[i] - m2[i];
        float s34 = m3[i] + m4[i], d34 = m3[i] - m4[i];
        q0[i] = m0[i] + s12 + s34 + c;
        q1[i] = d12 + 2.0f * d34 + c;
        q2[i] = s12 + 4.0f * s34 + c;
        q3[i] = d12 + 8.0f * d34 + m5[i] + c;
    }
}

/* Output transform of tiles [t0, t1) into one output plane y: for each tile,
 * y = A^T M A + bias (+ z, y's shape, when z is not NULL), M from m[xi * ldm + (t - t0)];
 * pixels past out_h / out_w (the last tile row and column may stick out) are not
 * written. p->act is not applied here (the caller does, on the rows just written). */
void EI_WINO_FN(f32_wino43_out)(const ei_wino_params *p, const float *m, size_t ldm, size_t t0,
                                size_t t1, float bias, const float *z, float *y) {
    float f[4][6][WINO_CHUNK];  /* f[q][a]: row a of M after the column transform */
    float yq[4][4][WINO_CHUNK]; /* yq[pr][q][i]: output row 4 ty + pr, column 4 (tx + i) + q */
    float row[4 * WINO_CHUNK];
    size_t tw = p->tiles_w;
    for (size_t t = t0; t < t1;) {
        size_t ty = t / tw, tx = t % tw;
        size_t n = tw - tx;
        if (n > t1 - t) n = t1 - t;
        if (n > WINO_CHUNK) n = WINO_CHUNK;
        const float *mt = m + (t - t0);
        for (size_t a = 0; a < 6; a++) {
            const float *ma = mt + 6 * a * ldm;
            wino_at(n, ma, ma + ldm, ma + 2 * ldm, ma + 3 * ldm, ma + 4 * ldm, ma + 5 * ldm, 0.0f,
                    f[0][a], f[1][a], f[2][a], f[3][a]);
        }
        for (size_t q = 0; q < 4; q++)
            wino_at(n, f[q][0], f[q][1], f[q][2], f[q][3], f[q][4], f[q][5], bias, yq[0][q],
                    yq[1][q], yq[2][q], yq[3][q]);
        size_t x0 = 4 * tx, w = 4 * n;
        if (x0 + w > p->out_w) w = p->out_w - x0;
        for (size_t pr = 0; pr < 4; pr++) {
            size_t oy = 4 * ty + pr;
            if (oy >= p->out_h) break;
            for (size_t i = 0; i < n; i++) {
                row[4 * i + 0] = yq[pr][0][i];
                row[4 * i + 1] = yq[pr][1][i];
                row[4 * i + 2] = yq[pr][2][i];
                row[4 * i + 3] = yq[pr][3][i];
            }
            float *yr = y + oy * p->out_w + x0;
            if (z) {
                const float *zr = z + oy * p->out_w + x0;
                for (size_t i = 0; i < w; i++)
                    yr[i] = row[i] + zr[i];
            } else {
                memcpy(yr, row, w * sizeof(float));
            }
        }
        t += n;
    }
}
