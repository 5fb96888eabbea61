/*
 * test_winograd.c - the Winograd F(4x4, 3x3) transform kernels (slots f32_wino43_in,
 * f32_wino43_out; kernels/wino43_impl.h):
 *  - the math: a convolution computed through the ref transforms (weights transformed
 *    here with G, the channel sums in double) against a direct 3x3 convolution in double,
 *    on planes that do not fill the tiles (1x1 .. 13x11), all pad combinations 0..2 per
 *    side, 1 to 3 input channels;
 *  - every ISA build against ref on the same planes, over tile ranges that start and end
 *    inside a tile row and chunks longer than the kernels' 64-tile stack blocks;
 *  - bounds: the input plane ends exactly at a guard page of sentinel data that must not
 *    matter, and the output kernel writes nothing outside the plane or outside its tiles.
 */
#include <stdlib.h>

#include "kernels/kernels.h"
#include "test_util.h"

static const double G[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 9) & 0xffff) / 32768.0f - 1.0f;
}

static ei_wino_params params(size_t ih, size_t iw, size_t pt, size_t pl, size_t pb, size_t pr) {
    ei_wino_params p;
    memset(&p, 0, sizeof p);
    p.in_h = ih;
    p.in_w = iw;
    p.pad_t = pt;
    p.pad_l = pl;
    p.out_h = ih + pt + pb - 2;
    p.out_w = iw + pl + pr - 2;
    p.tiles_h = (p.out_h + 3) / 4;
    p.tiles_w = (p.out_w + 3) / 4;
    return p;
}

/* conv through the ref transforms vs direct, cin channels, one output channel */
static void check_math(const ei_kernel_table *ref, size_t ih, size_t iw, size_t pt, size_t pl,
                       size_t pb, size_t pr, size_t cin, unsigned seed) {
    ei_wino_params p = params(ih, iw, pt, pl, pb, pr);
    if (p.out_h < 1 || p.out_w < 1 || p.out_h > ih + 4 || p.out_w > iw + 4) return;
    size_t tiles = p.tiles_h * p.tiles_w, in_sp = ih * iw, out_sp = p.out_h * p.out_w;
    float *x = malloc(cin * in_sp * sizeof(float)), *g = malloc(cin * 9 * sizeof(float));
    float *v = malloc(36 * cin * tiles * sizeof(float)), *m = malloc(36 * tiles * sizeof(float));
    float *y = malloc(out_sp * sizeof(float));
    for (size_t i = 0; i < cin * in_sp; i++)
        x[i] = frand(&seed);
    for (size_t i = 0; i < cin * 9; i++)
        g[i] = frand(&seed);
    for (size_t c = 0; c < cin; c++)
        ref->f32_wino43_in(&p, x + c * in_sp, 0, tiles, v + c * tiles, cin * tiles);
    for (size_t xi = 0; xi < 36; xi++) {
        size_t a = xi / 6, j = xi % 6;
        for (size_t t = 0; t < tiles; t++) {
            double acc = 0;
            for (size_t c = 0; c < cin; c++) {
                double u = 0;
                for (size_t r = 0; r < 3; r++)
                    for (size_t s = 0; s < 3; s++)
                        u += G[a][r] * G[j][s] * g[c * 9 + r * 3 + s];
                acc += u * v[xi * cin * tiles + c * tiles + t];
            }
            m[xi * tiles + t] = (float)acc;
        }
    }
    ref->f32_wino43_out(&p, m, tiles, 0, tiles, 0.25f, NULL, y);
    double worst = 0;
    for (size_t oy = 0; oy < p.out_h; oy++)
        for (size_t ox = 0; ox < p.out_w; ox++) {
            double acc = 0.25;
            for (size_t c = 0; c < cin; c++)
                for (size_t r = 0; r < 3; r++)
                    for (size_t s = 0; s < 3; s++) {
                        long iy = (long)(oy + r) - (long)pt, ix = (long)(ox + s) - (long)pl;
                        if (iy < 0 || ix < 0 || iy >= (long)ih || ix >= (long)iw) continue;
                        acc += (double)g[c * 9 + r * 3 + s] *
                               x[c * in_sp + (size_t)iy * iw + (size_t)ix];
                    }
            double e = fabs(acc - y[oy * p.out_w + ox]);
            if (e > worst) worst = e;
        }
    if (!CHECK(worst < 1e-4))
        fprintf(stderr, "  plane %zux%zu pads %zu,%zu,%zu,%zu cin %zu: max error %g\n", ih, iw, pt,
                pl, pb, pr, cin, worst);
    free(x);
    free(g);
    free(v);
    free(m);
    free(y);
}

static void test_math(void) {
    ei_kernel_table ref;
    ei_kernels_for_isa(EI_ISA_REF, &ref);
    unsigned seed = 1;
    for (size_t ih = 1; ih <= 13; ih += 2)
        for (size_t iw = 1; iw <= 11; iw += 1)
            for (size_t pad = 0; pad < 81; pad += 7) /* a spread of (t, l, b, r) in 0..2 */
                check_math(&ref, ih, iw, pad % 3, pad / 3 % 3, pad / 9 % 3, pad / 27 % 3,
                           1 + (ih + iw) % 3, seed++);
    check_math(&ref, 30, 270, 1, 1, 1, 1, 2, seed); /* rows longer than a 64-tile chunk */
}

/* One ISA against ref: the same v and y bits up to FMA contraction (1e-5 relative). */
static void check_isa(const ei_kernel_table *ref, const ei_kernel_table *k, size_t ih, size_t iw,
                      size_t pt, size_t pl, size_t pb, size_t pr, size_t t0, size_t t1, int with_z,
                      unsigned seed) {
    ei_wino_params p = params(ih, iw, pt, pl, pb, pr);
    size_t tiles = p.tiles_h * p.tiles_w, in_sp = ih * iw, out_sp = p.out_h * p.out_w;
    if (t1 > tiles) t1 = tiles;
    if (t0 >= t1) return;
    size_t nt = t1 - t0;
    /* the plane is followed by sentinels the kernels must not read into the result */
    float *x = malloc((in_sp + 64) * sizeof(float));
    float *va = malloc(36 * nt * sizeof(float)), *vb = malloc(36 * nt * sizeof(float));
    float *m = malloc(36 * nt * sizeof(float)), *z = malloc(out_sp * sizeof(float));
    float *ya = malloc((out_sp + 8) * sizeof(float)), *yb = malloc((out_sp + 8) * sizeof(float));
    for (size_t i = 0; i < in_sp; i++)
        x[i] = frand(&seed);
    for (size_t i = in_sp; i < in_sp + 64; i++)
        x[i] = 1e30f;
    for (size_t i = 0; i < 36 * nt; i++)
        m[i] = frand(&seed);
    for (size_t i = 0; i < out_sp; i++)
        z[i] = frand(&seed);
    for (size_t i = 0; i < out_sp + 8; i++)
        ya[i] = yb[i] = -7.0f;
    ref->f32_wino43_in(&p, x, t0, t1, va, nt);
    k->f32_wino43_in(&p, x, t0, t1, vb, nt);
    int ok = 1;
    for (size_t i = 0; i < 36 * nt; i++)
        ok &= fabsf(va[i] - vb[i]) <= 1e-5f * (1.0f + fabsf(va[i])) && fabsf(va[i]) < 1e6f;
    ref->f32_wino43_out(&p, m, nt, t0, t1, 0.5f, with_z ? z : NULL, ya);
    k->f32_wino43_out(&p, m, nt, t0, t1, 0.5f, with_z ? z : NULL, yb);
    size_t tw = p.tiles_w;
    for (size_t i = 0; i < out_sp + 8; i++) {
        ok &= fabsf(ya[i] - yb[i]) <= 1e-5f * (1.0f + fabsf(ya[i]));
        int inside = 0; /* is pixel i in a tile of [t0, t1)? */
        if (i < out_sp) {
            size_t t = (i / p.out_w / 4) * tw + (i % p.out_w) / 4;
            inside = t >= t0 && t < t1;
        }
        if (!inside) ok &= ya[i] == -7.0f && yb[i] == -7.0f;
    }
    if (!CHECK(ok))
        fprintf(stderr, "  plane %zux%zu pads %zu,%zu,%zu,%zu tiles [%zu,%zu) z %d\n", ih, iw, pt,
                pl, pb, pr, t0, t1, with_z);
    free(x);
    free(va);
    free(vb);
    free(m);
    free(z);
    free(ya);
    free(yb);
}

static void test_isa_vs_ref(void) {
    ei_kernel_table ref;
    ei_kernels_for_isa(EI_ISA_REF, &ref);
    ei_isa isas[] = {EI_ISA_AVX2, EI_ISA_AVX512, EI_ISA_NEON};
    for (size_t n = 0; n < sizeof isas / sizeof isas[0]; n++) {
        ei_kernel_table k;
        if (ei_kernels_for_isa(isas[n], &k) != isas[n]) continue; /* not on this CPU */
        unsigned seed = 99;
        for (size_t ih = 1; ih <= 12; ih += 1)
            for (size_t iw = 1; iw <= 37; iw += 3)
                for (size_t pad = 0; pad < 81; pad += 13) {
                    size_t pt = pad % 3, pl = pad / 3 % 3, pb = pad / 9 % 3, pr = pad / 27 % 3;
                    if (ih + pt + pb < 3 || iw + pl + pr < 3) continue;
                    check_isa(&ref, &k, ih, iw, pt, pl, pb, pr, 0, 1u << 20, (int)(pad & 1),
                              seed++);
                    check_isa(&ref, &k, ih, iw, pt, pl, pb, pr, 1, 2 + iw / 2, 1, seed++);
                }
        check_isa(&ref, &k, 40, 300, 1, 1, 1, 1, 5, 500, 0, seed++); /* > 64 tiles a row */
        check_isa(&ref, &k, 56, 56, 1, 1, 1, 1, 13, 111, 1, seed++);
    }
}

int main(void) {
    RUN_TEST(test_math);
    RUN_TEST(test_isa_vs_ref);
    return TEST_REPORT("test_winograd");
}
