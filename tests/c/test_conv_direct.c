/*
 * test_conv_direct.c - the direct convolution kernels (slot f32_conv2d_direct, output
 * channels in lanes): ref against a plain convolution written here, and every ISA build
 * against ref, over the shapes that stress them: 1..4 input channels, kernels 1x1..7x7
 * (and non-square), strides 1..3, pads 0..3 on each side, output widths around the 8-
 * and 16-pixel blocks (1, 7, 8, 9, 15, 16, 17, 33), output channels that end inside a
 * 16-channel block, row ranges, z and the in-register activations. The output planes are
 * surrounded by sentinels that must stay untouched.
 */
#include <stdlib.h>

#include "kernels/kernels.h"
#include "test_util.h"

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 9) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct shape {
    size_t cin, cout, ih, iw, kh, kw, sh, sw, pt, pl, pb, pr;
} shape;

static void run_case(const ei_kernel_table *ref, const ei_kernel_table *k, const shape *c, int act,
                     int with_z, unsigned seed) {
    ei_conv2d_direct_params p;
    memset(&p, 0, sizeof p);
    p.cin = c->cin;
    p.cout = c->cout;
    p.in_h = c->ih;
    p.in_w = c->iw;
    p.k_h = c->kh;
    p.k_w = c->kw;
    p.stride_h = c->sh;
    p.stride_w = c->sw;
    p.pad_t = c->pt;
    p.pad_l = c->pl;
    if (c->ih + c->pt + c->pb < c->kh || c->iw + c->pl + c->pr < c->kw) return;
    p.out_h = (c->ih + c->pt + c->pb - c->kh) / c->sh + 1;
    p.out_w = (c->iw + c->pl + c->pr - c->kw) / c->sw + 1;
    p.act.kind = act == 0 ? EI_ACT_KIND_NONE : act == 1 ? EI_ACT_KIND_RELU : EI_ACT_KIND_CLIP;
    p.act.alpha = -0.3f;
    p.act.beta = 0.4f;
    size_t taps = c->cin * c->kh * c->kw, blocks = (c->cout + 15) / 16;
    size_t in_n = c->cin * c->ih * c->iw, out_sp = p.out_h * p.out_w, out_n = c->cout * out_sp;
    float *x = malloc(in_n * sizeof(float)), *w = malloc(c->cout * taps * sizeof(float));
    float *wp = calloc(blocks * 16 * taps, sizeof(float)), *b = malloc(c->cout * sizeof(float));
    float *z = malloc(out_n * sizeof(float));
    float *ya = malloc((out_n + 32) * sizeof(float)), *yb = malloc((out_n + 32) * sizeof(float));
    for (size_t i = 0; i < in_n; i++)
        x[i] = frand(&seed);
    for (size_t i = 0; i < c->cout * taps; i++)
        w[i] = frand(&seed);
    for (size_t i = 0; i < c->cout; i++)
        b[i] = frand(&seed);
    for (size_t i = 0; i < out_n; i++)
        z[i] = frand(&seed);
    for (size_t oc = 0; oc < c->cout; oc++)
        for (size_t t = 0; t < taps; t++)
            wp[((oc / 16) * taps + t) * 16 + oc % 16] = w[oc * taps + t];
    for (size_t i = 0; i < out_n + 32; i++)
        ya[i] = yb[i] = 777.0f;
    /* a row range in two calls per block: [0, mid) and [mid, out_h) */
    size_t mid = p.out_h / 2;
    for (size_t ob = 0; ob < blocks; ob++) {
        ref->f32_conv2d_direct(&p, wp, b, x, with_z ? z : NULL, ya + 16, ob, 0, mid);
        ref->f32_conv2d_direct(&p, wp, b, x, with_z ? z : NULL, ya + 16, ob, mid, p.out_h);
        k->f32_conv2d_direct(&p, wp, b, x, with_z ? z : NULL, yb + 16, ob, 0, mid);
        k->f32_conv2d_direct(&p, wp, b, x, with_z ? z : NULL, yb + 16, ob, mid, p.out_h);
    }
    int ok = 1;
    double worst = 0;
    for (size_t i = 0; i < 16; i++)
        ok &= ya[i] == 777.0f && yb[i] == 777.0f && ya[out_n + 16 + i] == 777.0f &&
              yb[out_n + 16 + i] == 777.0f;
    for (size_t oc = 0; oc < c->cout; oc++)
        for (size_t oy = 0; oy < p.out_h; oy++)
            for (size_t ox = 0; ox < p.out_w; ox++) {
                size_t at = oc * out_sp + oy * p.out_w + ox;
                double acc = b[oc];
                for (size_t ci = 0; ci < c->cin; ci++)
                    for (size_t i = 0; i < c->kh; i++)
                        for (size_t j = 0; j < c->kw; j++) {
                            long iy = (long)(oy * c->sh + i) - (long)c->pt;
                            long ix = (long)(ox * c->sw + j) - (long)c->pl;
                            if (iy < 0 || ix < 0 || iy >= (long)c->ih || ix >= (long)c->iw)
                                continue;
                            acc += (double)w[oc * taps + (ci * c->kh + i) * c->kw + j] *
                                   x[(ci * c->ih + (size_t)iy) * c->iw + (size_t)ix];
                        }
                if (with_z) acc += z[at];
                if (act == 1) acc = acc < 0 ? 0 : acc;
                if (act == 2) acc = acc < -0.3 ? -0.3f : acc > 0.4 ? 0.4f : acc;
                double e1 = fabs(acc - ya[16 + at]), e2 = fabs(ya[16 + at] - yb[16 + at]);
                if (e1 > worst) worst = e1;
                ok &= e2 <= 1e-5 * (1.0 + fabs(acc));
            }
    ok &= worst < 1e-4;
    if (!CHECK(ok))
        fprintf(
            stderr,
            "  cin %zu cout %zu in %zux%zu k %zux%zu s %zu,%zu pads %zu,%zu,%zu,%zu act %d z %d: "
            "ref error %g\n",
            c->cin, c->cout, c->ih, c->iw, c->kh, c->kw, c->sh, c->sw, c->pt, c->pl, c->pb, c->pr,
            act, with_z, worst);
    free(x);
    free(w);
    free(wp);
    free(b);
    free(z);
    free(ya);
    free(yb);
}

static void test_isa_vs_ref(void) {
    ei_kernel_table ref;
    ei_kernels_for_isa(EI_ISA_REF, &ref);
    ei_isa isas[] = {EI_ISA_REF, EI_ISA_AVX2, EI_ISA_AVX512, EI_ISA_NEON};
    const size_t widths[] = {1, 7, 8, 9, 15, 16, 17, 33};
    for (size_t n = 0; n < sizeof isas / sizeof isas[0]; n++) {
        ei_kernel_table k;
        if (ei_kernels_for_isa(isas[n], &k) != isas[n]) continue; /* not on this CPU */
        unsigned seed = 5;
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
            for (size_t v = 0; v < 12; v++) {
                shape c;
                c.cin = 1 + v % 4;
                c.cout = v % 3 == 0 ? 16 : v % 3 == 1 ? 8 + v : 35;
                c.kh = v % 5 == 4 ? 7 : 1 + 2 * (v % 2);
                c.kw = v == 7 ? 5 : c.kh;
                c.sh = 1 + v % 3;
                c.sw = 1 + (v / 2) % 3;
                c.pt = v % 4;
                c.pl = (v + 1) % 4;
                c.pb = (v + 2) % 4;
                c.pr = (v + 3) % 4;
                if (c.pt >= c.kh) c.pt = c.kh - 1;
                if (c.pl >= c.kw) c.pl = c.kw - 1;
                if (c.pb >= c.kh) c.pb = c.kh - 1;
                if (c.pr >= c.kw) c.pr = c.kw - 1;
                /* input width giving the wanted output width */
                c.iw = (widths[wi] - 1) * c.sw + c.kw - c.pl - c.pr;
                if ((long)c.iw < 1) c.iw = 1;
                c.ih = 3 + v % 5;
                run_case(&ref, &k, &c, (int)(v % 3), (int)(v % 2), seed++);
            }
    }
}

int main(void) {
    RUN_TEST(test_isa_vs_ref);
    return TEST_REPORT("test_conv_direct");
}
