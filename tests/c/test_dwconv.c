/*
 * test_dwconv.c - the f32_dwconv2d slot (2-D depthwise convolution of channel planes) on
 * every ISA this CPU has, against the reference kernel and a direct double-precision loop:
 * one plane and several (1-40: the channel-blocked paths and their channel tails),
 * kernel sizes 1-7 (square and not), strides 1-3, dilations 1-2, every pad up to the
 * kernel, widths and heights around the vector widths, planes that start right after or
 * end right before a PROT_NONE page, misaligned pointers, row ranges, residual input and
 * every fused activation. Canaries around the output catch stray writes.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS (not in POSIX 2008) */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edgeinfer/edgeinfer.h"
#include "kernels/kernels.h"
#include "test_util.h"

#define CANARY 8
#define MAX_PLANE (24 * 4700)

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float rng_uniform(float lo, float hi) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((uint32_t)(rng_state >> 16) >> 8) * (1.0f / 16777216.0f);
}

/* Pages: [PROT_NONE][data][PROT_NONE]; planes are put flush against either guard. */
typedef struct guarded {
    unsigned char *map;
    size_t map_size, data_size;
    unsigned char *data;
} guarded;

static int guarded_init(guarded *g, size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    g->data_size = (bytes + page - 1) / page * page;
    g->map_size = g->data_size + 2 * page;
    void *p = mmap(NULL, g->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    g->map = p;
    g->data = g->map + page;
    return mprotect(g->map, page, PROT_NONE) == 0 &&
           mprotect(g->data + g->data_size, page, PROT_NONE) == 0;
}
static void guarded_free(guarded *g) {
    if (g->map) munmap(g->map, g->map_size);
}
/* n floats flush against the leading guard (head) or the trailing one. */
static float *guarded_at(guarded *g, size_t n, int head) {
    return head ? (float *)(void *)g->data : (float *)(void *)(g->data + g->data_size) - n;
}

static guarded g_x, g_z;
static float y_ref[MAX_PLANE], y_store[MAX_PLANE + 2 * CANARY + 4];
#define MAX_PLANES 40
static float w_buf[64 * MAX_PLANES + 1], b_buf[MAX_PLANES + 1];

static const ei_act k_acts[] = {
    {EI_ACT_KIND_NONE, 0, 0},
    {EI_ACT_KIND_RELU, 0, 0},
    {EI_ACT_KIND_CLIP, -0.5f, 0.75f},
    {EI_ACT_KIND_SIGMOID, 0, 0},
    {EI_ACT_KIND_TANH, 0, 0},
    {EI_ACT_KIND_LEAKY_RELU, 0.1f, 0},
    {EI_ACT_KIND_HARD_SIGMOID, 0.2f, 0.5f},
    {EI_ACT_KIND_HARD_SWISH, 1.0f / 6, 0.5f},
    {EI_ACT_KIND_SILU, 0, 0},
    {EI_ACT_KIND_GELU, 0, 0},
};
#define N_ACTS (sizeof k_acts / sizeof k_acts[0])

static size_t out_dim(size_t in, size_t k, size_t s, size_t d, size_t pb, size_t pe) {
    size_t ek = (k - 1) * d + 1;
    if (in + pb + pe < ek) return 0;
    return (in + pb + pe - ek) / s + 1;
}

/* sum of |terms| of output (oy, ox): the scale of its rounding error. */
static double mag(const ei_dwconv2d_params *p, const float *x, const float *w, float bias,
                  const float *z, size_t oy, size_t ox, double *exact) {
    double m = fabs(bias), e = bias;
    for (size_t i = 0; i < p->k_h; i++)
        for (size_t j = 0; j < p->k_w; j++) {
            long iy = (long)(oy * p->stride_h + i * p->dil_h) - (long)p->pad_t;
            long ix = (long)(ox * p->stride_w + j * p->dil_w) - (long)p->pad_l;
            if (iy < 0 || ix < 0 || iy >= (long)p->in_h || ix >= (long)p->in_w) continue;
            double t = (double)w[i * p->k_w + j] * x[(size_t)iy * p->in_w + (size_t)ix];
            m += fabs(t);
            e += t;
        }
    if (z) {
        m += fabs(z[oy * p->out_w + ox]);
        e += z[oy * p->out_w + ox];
    }
    *exact = e;
    return m;
}

static int n_cases;

/* One geometry on one kernel, n_planes consecutive planes (bias per plane, or none):
 * compares with ref (and ref with the double loop). */
static void run_case_n(const char *isa, ei_kernel_table *kt, ei_dwconv2d_params *p, size_t n_planes,
                       int head, int misalign, int use_z, int use_bias, size_t oy0, size_t oy1) {
    size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w, k_sp = p->k_h * p->k_w;
    size_t in_n = in_sp * n_planes, out_n = out_sp * n_planes;
    float *x = guarded_at(&g_x, in_n, head);
    float *z = use_z ? guarded_at(&g_z, out_n, !head) : NULL;
    float *w = w_buf + misalign;
    float *bias = use_bias ? b_buf + misalign : NULL;
    for (size_t i = 0; i < in_n; i++)
        x[i] = rng_uniform(-1.0f, 1.0f);
    if (z)
        for (size_t i = 0; i < out_n; i++)
            z[i] = rng_uniform(-1.0f, 1.0f);
    for (size_t i = 0; i < k_sp * n_planes; i++)
        w[i] = rng_uniform(-1.0f, 1.0f);
    if (bias)
        for (size_t i = 0; i < n_planes; i++)
            bias[i] = rng_uniform(-0.5f, 0.5f);
    float *y = y_store + CANARY + misalign;
    for (size_t i = 0; i < out_n + 2 * CANARY + 1; i++)
        y_store[i] = 12345.0f;
    for (size_t i = 0; i < out_n; i++)
        y_ref[i] = 12345.0f;
    ei_f32_dwconv2d__ref(p, n_planes, x, w, bias, z, y_ref, oy0, oy1);
    kt->f32_dwconv2d(p, n_planes, x, w, bias, z, y, oy0, oy1);
    n_cases++;
    int ok = 1;
    for (size_t i = 0; i < CANARY; i++)
        ok &= y[-1 - (long)i] == 12345.0f && y[out_n + i] == 12345.0f;
    if (!CHECK(ok))
        fprintf(stderr, "  %s: canary overwritten (in %zux%zu k %zux%zu s %zu, %zu planes)\n", isa,
                p->in_h, p->in_w, p->k_h, p->k_w, p->stride_w, n_planes);
    for (size_t c = 0; c < n_planes && ok; c++)
        for (size_t oy = 0; oy < p->out_h && ok; oy++)
            for (size_t ox = 0; ox < p->out_w && ok; ox++) {
                size_t o = c * out_sp + oy * p->out_w + ox;
                if (oy < oy0 || oy >= oy1) {
                    ok = y[o] == 12345.0f && y_ref[o] == 12345.0f;
                    continue;
                }
                double exact, m = mag(p, x + c * in_sp, w + c * k_sp, bias ? bias[c] : 0.0f,
                                      z ? z + c * out_sp : NULL, oy, ox, &exact);
                double tol = 4e-6 * (m + 1.0);
                if (p->act.kind == EI_ACT_KIND_NONE && fabs(y_ref[o] - exact) > tol) ok = 0;
                if (fabs((double)y[o] - y_ref[o]) > tol) ok = 0;
                if (!ok)
                    fprintf(stderr,
                            "  %s: in %zux%zu k %zux%zu s %zux%zu d %zux%zu pad %zu,%zu out "
                            "%zux%zu act %d z %d planes %zu rows [%zu,%zu): y[%zu][%zu][%zu] = "
                            "%.8g, ref %.8g, exact %.8g\n",
                            isa, p->in_h, p->in_w, p->k_h, p->k_w, p->stride_h, p->stride_w,
                            p->dil_h, p->dil_w, p->pad_t, p->pad_l, p->out_h, p->out_w,
                            (int)p->act.kind, use_z, n_planes, oy0, oy1, c, oy, ox, y[o], y_ref[o],
                            exact);
            }
    CHECK(ok);
}

static void run_case(const char *isa, ei_kernel_table *kt, ei_dwconv2d_params *p, int head,
                     int misalign, int use_z, size_t oy0, size_t oy1) {
    run_case_n(isa, kt, p, 1, head, misalign, use_z, 1, oy0, oy1);
}

static void sweep(const char *isa, ei_kernel_table *kt) {
    static const size_t widths[] = {1, 2, 3, 4, 5, 7, 8, 9, 14, 15, 16, 17, 23, 31, 32, 33, 40};
    static const size_t heights[] = {1, 2, 3, 6, 9};
    static const size_t ks[] = {1, 3, 5, 7};
    size_t n_w = sizeof widths / sizeof widths[0], n_h = sizeof heights / sizeof heights[0];
    size_t iter = 0;
    for (size_t ki = 0; ki < 4; ki++)
        for (size_t s = 1; s <= 3; s++)
            for (size_t d = 1; d <= 2; d++)
                for (size_t pad = 0; pad <= ks[ki]; pad++)
                    for (size_t wi = 0; wi < n_w; wi++)
                        for (size_t hi = 0; hi < n_h; hi++) {
                            size_t k = ks[ki];
                            ei_dwconv2d_params p = {0};
                            iter++;
                            p.in_h = heights[hi];
                            p.in_w = widths[wi];
                            /* a non-square kernel and uneven pads now and then */
                            p.k_h = iter % 7 == 0 && k > 1 ? k - 2 : k;
                            p.k_w = k;
                            p.stride_h = iter % 5 == 0 ? 1 : s;
                            p.stride_w = s;
                            p.dil_h = d;
                            p.dil_w = iter % 3 == 0 ? 1 : d;
                            p.pad_t = iter % 4 == 0 ? pad / 2 : pad;
                            p.pad_l = pad;
                            size_t pe_w = iter % 2 ? pad : 0, pe_h = p.pad_t;
                            p.out_h = out_dim(p.in_h, p.k_h, p.stride_h, p.dil_h, p.pad_t, pe_h);
                            p.out_w = out_dim(p.in_w, p.k_w, p.stride_w, p.dil_w, p.pad_l, pe_w);
                            if (!p.out_h || !p.out_w) continue;
                            p.act = k_acts[iter % N_ACTS];
                            size_t oy0 = 0, oy1 = p.out_h;
                            if (iter % 6 == 1 && p.out_h > 2) oy0 = 1, oy1 = p.out_h - 1;
                            run_case(isa, kt, &p, (int)(iter % 2), (int)(iter % 3 == 1),
                                     iter % 4 == 1, oy0, oy1);
                        }
}

/* MobileNet-like planes (wider than a few vectors), every activation, with z. */
static void planes(const char *isa, ei_kernel_table *kt) {
    static const size_t sizes[][4] = {{56, 56, 3, 1},
                                      {57, 61, 3, 2},
                                      {28, 28, 5, 1},
                                      {29, 35, 5, 2},
                                      {14, 14, 3, 1},
                                      {14, 14, 3, 2},
                                      {7, 7, 3, 1},
                                      {13, 50, 7, 1},
                                      {20, 47, 5, 3},
                                      /* several stride-1 chunks of padded rows */
                                      {100, 60, 3, 1},
                                      {90, 45, 5, 1},
                                      /* several stride-2 chunks of deinterleaved rows,
                                       * one row per chunk, and too wide for them */
                                      {100, 60, 3, 2},
                                      {90, 45, 5, 2},
                                      {30, 31, 7, 2},
                                      {12, 1000, 3, 2},
                                      {11, 500, 5, 2},
                                      {7, 1900, 3, 2},
                                      /* rows too wide for the stride-1 stack buffer */
                                      {6, 4700, 3, 1},
                                      {5, 4099, 5, 1},
                                      {3, 4097, 1, 1}};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t a = 0; a < N_ACTS; a++) {
            ei_dwconv2d_params p = {0};
            p.in_h = sizes[si][0];
            p.in_w = sizes[si][1];
            p.k_h = p.k_w = sizes[si][2];
            p.stride_h = p.stride_w = sizes[si][3];
            p.dil_h = p.dil_w = 1;
            p.pad_t = p.pad_l = p.k_w / 2;
            p.out_h = out_dim(p.in_h, p.k_h, p.stride_h, 1, p.pad_t, p.pad_t);
            p.out_w = out_dim(p.in_w, p.k_w, p.stride_w, 1, p.pad_l, p.pad_l);
            p.act = k_acts[a];
            run_case(isa, kt, &p, (int)(a % 2), (int)(a % 3 == 0), (int)(a % 2), 0, p.out_h);
        }
}

/* Several planes per call (the channel-blocked paths take 8 or more): channel counts
 * around the block sizes, small planes of every kind, strides 1-3, dilation, pads,
 * non-square kernels, with and without bias and z, row ranges, every activation. */
static void multi(const char *isa, ei_kernel_table *kt) {
    static const size_t counts[] = {1, 4, 7, 8, 9, 15, 16, 17, 24, 33, 40};
    static const size_t sizes[][2] = {{1, 1},
                                      {2, 3},
                                      {5, 5},
                                      {7, 7},
                                      {9, 4},
                                      {14, 14},
                                      {25, 5},
                                      {17, 3},
                                      {3, 19},
                                      {16, 16},
                                      {31, 30},
                                      {33, 29},
                                      /* several row bands of the blocked paths */
                                      {45, 90},
                                      {23, 131},
                                      {12, 400}};
    static const size_t ks[][2] = {{3, 3}, {5, 5}, {1, 1}, {7, 7}, {3, 5}, {2, 3}};
    size_t iter = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
            for (size_t s = 1; s <= 3; s++)
                for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
                    ei_dwconv2d_params p = {0};
                    iter++;
                    size_t n = counts[ci];
                    p.in_h = sizes[si][0];
                    p.in_w = sizes[si][1];
                    p.k_h = ks[ki][0];
                    p.k_w = ks[ki][1];
                    p.stride_h = iter % 5 == 0 ? 1 : s;
                    p.stride_w = s;
                    p.dil_h = iter % 7 == 0 ? 2 : 1;
                    p.dil_w = iter % 11 == 0 ? 2 : 1;
                    p.pad_t = iter % 4 == 0 ? 0 : p.k_h / 2 + (iter % 9 == 0);
                    p.pad_l = iter % 3 == 0 ? p.k_w - 1 : p.k_w / 2;
                    size_t pe_w = iter % 2 ? p.pad_l : 0, pe_h = iter % 8 == 0 ? 0 : p.pad_t;
                    p.out_h = out_dim(p.in_h, p.k_h, p.stride_h, p.dil_h, p.pad_t, pe_h);
                    p.out_w = out_dim(p.in_w, p.k_w, p.stride_w, p.dil_w, p.pad_l, pe_w);
                    if (!p.out_h || !p.out_w) continue;
                    if (n * p.in_h * p.in_w > MAX_PLANE || n * p.out_h * p.out_w > MAX_PLANE)
                        continue;
                    p.act = k_acts[iter % N_ACTS];
                    size_t oy0 = 0, oy1 = p.out_h;
                    if (iter % 6 == 1 && p.out_h > 2) oy0 = 1, oy1 = p.out_h - 1;
                    run_case_n(isa, kt, &p, n, (int)(iter % 2), (int)(iter % 3 == 1), iter % 4 == 1,
                               iter % 10 != 3, oy0, oy1);
                }
}

static void test_dwconv_isas(void) {
    static const ei_isa isas[] = {EI_ISA_REF, EI_ISA_AVX2, EI_ISA_AVX512, EI_ISA_NEON};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        ei_kernel_table kt;
        ei_isa got = ei_kernels_for_isa(isas[i], &kt);
        if (got != isas[i]) continue; /* not on this CPU */
        int before = n_cases;
        sweep(ei_isa_str(got), &kt);
        planes(ei_isa_str(got), &kt);
        multi(ei_isa_str(got), &kt);
        printf("  %s: %d cases\n", ei_isa_str(got), n_cases - before);
    }
}

int main(void) {
    if (!guarded_init(&g_x, MAX_PLANE * sizeof(float)) ||
        !guarded_init(&g_z, MAX_PLANE * sizeof(float))) {
        fprintf(stderr, "mmap failed\n");
        return 1;
    }
    RUN_TEST(test_dwconv_isas);
    guarded_free(&g_x);
    guarded_free(&g_z);
    return TEST_REPORT("test_dwconv");
}
