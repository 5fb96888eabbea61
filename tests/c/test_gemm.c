/*
 * test_gemm.c - the packed GEMM (kernels/gemm.h) of every ISA this CPU has, against a
 * double-precision triple loop: both entry points, shapes around each ISA's tile (1, 2,
 * mr-1, mr, mr+1, nr-1, nr, nr+1, 2nr+3, 17, 64, 100) and a few large ones (K blocking,
 * GEMV), K = 0, transposed packing, leading dimensions wider than the rows, every
 * epilogue, sub-range calls (as threads make them) bitwise equal to one full call, and
 * every caller buffer ending at a PROT_NONE page (any read or write past the end faults).
 * The implicit-GEMM conv entry (gemm_pa_conv) is checked bitwise against gemm_pa on the
 * materialized im2col matrix: pads, strides 1-3, dilations, kernels 1..7, 1-D/2-D/3-D,
 * K = 0, K blocking, a group's block ending at the guard page, sub-ranges.
 */
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS (not in POSIX 2008) */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "edgeinfer/edgeinfer.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "test_util.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)(rng_u32() >> 8) * (1.0f / 16777216.0f);
}

/* A region whose end is followed by an inaccessible page. */
typedef struct guarded {
    unsigned char *map;
    size_t map_size;
    unsigned char *end;
    size_t cap; /* floats */
} guarded;

static int guarded_init(guarded *g, size_t floats) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (floats * sizeof(float) + page - 1) / page * page;
    g->map_size = data + page;
    void *p = mmap(NULL, g->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    g->map = p;
    g->end = g->map + data;
    g->cap = floats;
    return mprotect(g->end, page, PROT_NONE) == 0;
}
static void guarded_free(guarded *g) {
    if (g->map) munmap(g->map, g->map_size);
}
/* Floats spanned by a rows x cols matrix with row stride ld. */
static size_t mat_floats(size_t rows, size_t cols, size_t ld) {
    return rows && cols ? (rows - 1) * ld + cols : 0;
}
/* A rows x cols matrix with row stride ld whose last element ends at the guard page. */
static float *guarded_mat(guarded *g, size_t rows, size_t cols, size_t ld) {
    size_t n = mat_floats(rows, cols, ld);
    if (n > g->cap) {
        fprintf(stderr, "guarded region too small (%zu > %zu floats)\n", n, g->cap);
        abort();
    }
    return (float *)(void *)g->end - n;
}

#define MAX_FLOATS (1100u * 1100u)
static guarded g_a, g_b, g_c, g_c2, g_bias, g_res;

static const uint32_t k_sentinel = 0x7fc12345u; /* a NaN: C is never read before written */
static float sentinel(void) {
    float f;
    memcpy(&f, &k_sentinel, sizeof f);
    return f;
}
static int is_sentinel(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u == k_sentinel;
}

/* ------------------------------------------------------------ epilogues */

typedef struct epi_case {
    int bias; /* 0 none, 1 per row, 2 per column */
    int res;
    ei_act act;
} epi_case;

static const epi_case k_epis[] = {
    {0, 0, {EI_ACT_KIND_NONE, 0, 0}},         /* index 0 means ep == NULL */
    {1, 0, {EI_ACT_KIND_NONE, 0, 0}},
    {2, 0, {EI_ACT_KIND_RELU, 0, 0}},
    {0, 1, {EI_ACT_KIND_CLIP, -0.3f, 0.4f}},
    {1, 1, {EI_ACT_KIND_SIGMOID, 0, 0}},
    {2, 0, {EI_ACT_KIND_TANH, 0, 0}},
    {0, 1, {EI_ACT_KIND_LEAKY_RELU, 0.1f, 0}},
    {1, 0, {EI_ACT_KIND_HARD_SIGMOID, 0.2f, 0.5f}},
    {2, 1, {EI_ACT_KIND_HARD_SWISH, 1.0f / 6.0f, 0.5f}},
    {0, 0, {EI_ACT_KIND_SILU, 0, 0}},
    {1, 1, {EI_ACT_KIND_GELU, 0, 0}},
    {0, 0, {EI_ACT_KIND_NONE, 0, 0}}, /* a non-NULL epilogue that does nothing */
    {2, 1, {EI_ACT_KIND_RELU, 0, 0}},
    {1, 0, {EI_ACT_KIND_CLIP, 0.0f, 6.0f}},
};
#define N_EPIS (sizeof k_epis / sizeof k_epis[0])

static double act_ref(const ei_act *a, double x) {
    switch (a->kind) {
    case EI_ACT_KIND_NONE: return x;
    case EI_ACT_KIND_RELU: return x < 0 ? 0 : x;
    case EI_ACT_KIND_CLIP: return x < a->alpha ? a->alpha : x > a->beta ? a->beta : x;
    case EI_ACT_KIND_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case EI_ACT_KIND_TANH: return tanh(x);
    case EI_ACT_KIND_LEAKY_RELU: return x < 0 ? a->alpha * x : x;
    case EI_ACT_KIND_HARD_SIGMOID: {
        double y = a->alpha * x + a->beta;
        return y < 0 ? 0 : y > 1 ? 1 : y;
    }
    case EI_ACT_KIND_HARD_SWISH: {
        double y = a->alpha * x + a->beta;
        return x * (y < 0 ? 0 : y > 1 ? 1 : y);
    }
    case EI_ACT_KIND_SILU: return x / (1.0 + exp(-x));
    case EI_ACT_KIND_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    }
    return x;
}

/* ------------------------------------------------------------ one case */

typedef struct gemm_case {
    int mode; /* 0: packed A (gemm_pa), 1: packed B (gemm_pb) */
    size_t m, n, k;
    int trans; /* how the packed operand is stored */
    size_t pad; /* extra columns in every leading dimension */
    size_t epi;
    int split; /* also compare sub-range calls with the full call */
} gemm_case;

static int n_cases;
static double worst_rel;

static void run_case(const char *isa, const ei_gemm_kernel *g, const gemm_case *tc) {
    const size_t m = tc->m, n = tc->n, k = tc->k, pad = tc->pad;
    const epi_case *ec = &k_epis[tc->epi];
    n_cases++;
    /* Logical A[m][k], B[k][n]. The packed operand is stored as [rows][cols] or transposed. */
    const int ta = tc->mode == 0 && tc->trans, tb = tc->mode == 1 && tc->trans;
    const size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    const size_t ldr = n + pad + 1;
    float *a = guarded_mat(&g_a, ta ? k : m, ta ? m : k, lda);
    float *b = guarded_mat(&g_b, tb ? n : k, tb ? k : n, ldb);
    float *c = guarded_mat(&g_c, m, n, ldc);
    float *c2 = guarded_mat(&g_c2, m, n, ldc);
    const size_t nbias = ec->bias == 1 ? m : n;
    float *bias = ec->bias ? guarded_mat(&g_bias, 1, nbias, nbias) : NULL;
    float *res = ec->res ? guarded_mat(&g_res, m, n, ldr) : NULL;
    const size_t na = mat_floats(ta ? k : m, ta ? m : k, lda);
    const size_t nb = mat_floats(tb ? n : k, tb ? k : n, ldb);
    for (size_t i = 0; i < na; i++) a[i] = rng_uniform(-1.0f, 1.0f);
    for (size_t i = 0; i < nb; i++) b[i] = rng_uniform(-1.0f, 1.0f);
    const size_t nc = mat_floats(m, n, ldc);
    for (size_t i = 0; i < nc; i++) c[i] = c2[i] = sentinel();
    if (bias)
        for (size_t i = 0; i < nbias; i++) bias[i] = rng_uniform(-1.0f, 1.0f);
    if (res)
        for (size_t i = 0; i < mat_floats(m, n, ldr); i++)
            res[i] = rng_uniform(-1.0f, 1.0f);
    ei_gemm_epilogue ep = {bias, ec->bias == 2, res, ldr, ec->act};
    const ei_gemm_epilogue *epp = tc->epi == 0 ? NULL : &ep;

    /* pack (exact-size heap buffer: ASan sees any overrun of the packed form) */
    size_t bytes = tc->mode == 0 ? g->pack_a_size(m, k) : g->pack_b_size(k, n);
    const size_t rows = tc->mode == 0 ? m : n, tile = tc->mode == 0 ? g->mr : g->nr;
    CHECK(bytes == (k ? (rows + tile - 1) / tile * tile * k * sizeof(float) : 0));
    float *packed = malloc(bytes ? bytes : 1);
    if (!CHECK(packed != NULL)) return;
    if (tc->mode == 0) {
        g->pack_a(m, k, a, lda, ta, packed);
        g->gemm_pa(k, packed, b, ldb, c, ldc, epp, 0, m, 0, n);
    } else {
        g->pack_b(k, n, b, ldb, tb, packed);
        g->gemm_pb(k, a, lda, packed, c, ldc, epp, 0, m, 0, n);
    }

    /* against double precision */
    int ok = 1;
    for (size_t i = 0; i < m && ok; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0, sabs = 0;
            for (size_t p = 0; p < k; p++) {
                double x = ta ? a[p * lda + i] : a[i * lda + p];
                double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += x * y;
                sabs += fabs(x * y);
            }
            if (bias) {
                double v = bias[ec->bias == 1 ? i : j];
                s += v;
                sabs += fabs(v);
            }
            if (res) {
                double v = res[i * ldr + j];
                s += v;
                sabs += fabs(v);
            }
            /* float summation bound, times the activation's slope (<= 1.5), plus the
             * activation kernels' own few ulp */
            double want = act_ref(&ec->act, s);
            double tol = 1.5 * (double)(k + 3) * FLT_EPSILON * sabs + 8 * FLT_EPSILON * fabs(want) +
                         1e-7;
            double got = c[i * ldc + j];
            if (!(fabs(got - want) <= tol)) {
                fprintf(stderr, "  %s %s m=%zu n=%zu k=%zu trans=%d pad=%zu epi=%zu: C[%zu,%zu] = %.9g, want %.9g (tol %.3g)\n",
                        isa, tc->mode ? "gemm_pb" : "gemm_pa", m, n, k, tc->trans, pad, tc->epi,
                        i, j, got, want, tol);
                ok = 0;
                break;
            }
            if (sabs > 0 && ec->act.kind <= EI_ACT_KIND_CLIP) {
                double rel = fabs(got - want) / ((double)(k + 3) * FLT_EPSILON * sabs);
                if (rel > worst_rel) worst_rel = rel;
            }
        }
        for (size_t j = n; j < ldc && i + 1 < m; j++)
            if (!is_sentinel(c[i * ldc + j])) {
                fprintf(stderr, "  %s wrote C's padding at [%zu,%zu]\n", isa, i, j);
                ok = 0;
                break;
            }
    }
    CHECK(ok);

    /* sub-ranges, as threads would call: bitwise the same as the full call */
    if (tc->split && ok) {
        size_t ms[4], ns[4], nm = 0, nn = 0;
        ms[nm++] = 0;
        ns[nn++] = 0;
        if (tc->mode == 0) {
            size_t mm = (m / 2) / g->mr * g->mr;
            if (mm > 0 && mm < m) ms[nm++] = mm;
            if (n > 2) ns[nn++] = n / 3;
            if (n > 4) ns[nn++] = n / 2 + 1;
        } else {
            if (m > 2) ms[nm++] = m / 3;
            if (m > 4) ms[nm++] = m / 2 + 1;
            size_t nn2 = (n / 2) / g->nr * g->nr;
            if (nn2 > 0 && nn2 < n) ns[nn++] = nn2;
        }
        ms[nm] = m;
        ns[nn] = n;
        /* columns in reverse, so a write past a range's end would be caught as a
         * difference only if later ranges did not overwrite it: check padding too */
        for (size_t bi = nm; bi-- > 0;)
            for (size_t bj = nn; bj-- > 0;) {
                if (tc->mode == 0)
                    g->gemm_pa(k, packed, b, ldb, c2, ldc, epp, ms[bi], ms[bi + 1], ns[bj],
                               ns[bj + 1]);
                else
                    g->gemm_pb(k, a, lda, packed, c2, ldc, epp, ms[bi], ms[bi + 1], ns[bj],
                               ns[bj + 1]);
            }
        int same = nc == 0 || memcmp(c, c2, nc * sizeof(float)) == 0;
        if (!CHECK(same))
            fprintf(stderr, "  %s %s m=%zu n=%zu k=%zu epi=%zu: split calls differ\n", isa,
                    tc->mode ? "gemm_pb" : "gemm_pa", m, n, k, tc->epi);
        /* empty ranges do nothing */
        if (tc->mode == 0)
            g->gemm_pa(k, packed, b, ldb, c2, ldc, epp, 0, 0, 0, n);
        else
            g->gemm_pb(k, a, lda, packed, c2, ldc, epp, 0, m, n, n);
        CHECK(nc == 0 || memcmp(c, c2, nc * sizeof(float)) == 0);
    }
    free(packed);
}

/* ------------------------------------------------------------ sweeps */

static size_t uniq(size_t *v, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int dup = v[i] == 0;
        for (size_t j = 0; j < o; j++) dup |= v[j] == v[i];
        if (!dup) v[o++] = v[i];
    }
    return o;
}

static void run_conv_isa(const char *isa, const ei_gemm_kernel *g);

static void run_isa(ei_isa want) {
    ei_kernel_table t;
    ei_isa got = ei_kernels_for_isa(want, &t);
    if (got != want) return; /* this CPU does not have it */
    const ei_gemm_kernel *g = t.f32_gemm_packed();
    const char *isa = ei_isa_str(got);
    if (!CHECK(g != NULL && g->mr > 0 && g->nr > 0)) return;
    printf("  %s: %s (mr %zu, nr %zu)\n", isa, g->name, g->mr, g->nr);
    const size_t mr = g->mr, nr = g->nr;
    size_t sz[] = {1, 2, mr - 1, mr, mr + 1, nr - 1, nr, nr + 1, 2 * nr + 3, 17, 64, 100};
    size_t nsz = uniq(sz, sizeof sz / sizeof sz[0]);
    static const size_t ks[] = {1, 2, 17, 5, 64, 100, 3, 33, 0, 300};
    const size_t nks = sizeof ks / sizeof ks[0];
    size_t idx = 0;
    for (int mode = 0; mode < 2; mode++)
        for (size_t im = 0; im < nsz; im++)
            for (size_t in = 0; in < nsz; in++, idx++) {
                gemm_case tc = {mode,
                                sz[im],
                                sz[in],
                                ks[(im * 3 + in + (size_t)mode) % nks],
                                (int)(idx % 3 == 1),
                                (idx % 4 == 2) ? 3 : 0,
                                idx % N_EPIS,
                                (int)(idx % 2 == 0)};
                run_case(isa, g, &tc);
            }
    /* every epilogue on a shape with full and partial tiles in both directions */
    for (int mode = 0; mode < 2; mode++)
        for (size_t e = 0; e < N_EPIS; e++) {
            gemm_case tc = {mode, 2 * mr + 3, 2 * nr + 5, 40, (int)(e & 1), e % 3, e, 1};
            run_case(isa, g, &tc);
        }
    /* K blocking (K > every ISA's KC), big tiles counts, GEMV, K = 0 */
    static const size_t big[][3] = {{150, 200, 400}, {40, 150, 1000}, {37, 300, 777},
                                    {1, 1000, 1000}, {1, 77, 1500},   {3, 300, 0},
                                    {1, 5, 0},       {61, 49, 800},   {23, 67, 500},
                                    {200, 36, 450}};
    for (int mode = 0; mode < 2; mode++)
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
            gemm_case tc = {mode, big[i][0], big[i][1], big[i][2], (int)(i & 1),
                            (i % 3 == 0) ? 5 : 0, (i * 5 + 2) % N_EPIS, 1};
            run_case(isa, g, &tc);
        }
    run_conv_isa(isa, g);
}

/* ------------------------------------------------------------ implicit-GEMM conv */

/* The materialized im2col matrix of cv over x: [K][N], the definition in gemm.h. */
static void im2col_ref(const ei_gemm_conv *cv, const float *x, float *col) {
    const size_t n = cv->out[0] * cv->out[1] * cv->out[2];
    const size_t chan = cv->in[0] * cv->in[1] * cv->in[2];
    size_t row = 0;
    for (size_t c = 0; c < cv->channels; c++)
        for (size_t a = 0; a < cv->k[0]; a++)
            for (size_t b = 0; b < cv->k[1]; b++)
                for (size_t e = 0; e < cv->k[2]; e++, row++)
                    for (size_t pix = 0; pix < n; pix++) {
                        size_t ow = pix % cv->out[2], oh = pix / cv->out[2] % cv->out[1];
                        size_t od = pix / cv->out[2] / cv->out[1];
                        long long id = (long long)(od * cv->s[0] + a * cv->d[0]) - (long long)cv->pad[0];
                        long long ih = (long long)(oh * cv->s[1] + b * cv->d[1]) - (long long)cv->pad[1];
                        long long iw = (long long)(ow * cv->s[2] + e * cv->d[2]) - (long long)cv->pad[2];
                        int in = id >= 0 && id < (long long)cv->in[0] && ih >= 0 &&
                                 ih < (long long)cv->in[1] && iw >= 0 && iw < (long long)cv->in[2];
                        col[row * n + pix] =
                            in ? x[c * chan + ((size_t)id * cv->in[1] + (size_t)ih) * cv->in[2] +
                                   (size_t)iw]
                               : 0.0f;
                    }
}

typedef struct conv_case {
    size_t m, c, groups; /* output channels, input channels per group, groups in x */
    size_t in[3], k[3], s[3], d[3], pb[3], pe[3];
} conv_case;

static int n_conv_cases;

/* gemm_pa_conv against gemm_pa on the materialized im2col matrix (bitwise), whole and in
 * sub-ranges, with x (the last group of a multi-group input) ending at a guard page. */
static void run_conv_case(const char *isa, const ei_gemm_kernel *g, const conv_case *tc,
                          size_t epi) {
    ei_gemm_conv cv;
    memset(&cv, 0, sizeof cv);
    cv.channels = tc->c;
    for (int i = 0; i < 3; i++) {
        cv.in[i] = tc->in[i];
        cv.k[i] = tc->k[i];
        cv.s[i] = tc->s[i];
        cv.d[i] = tc->d[i];
        cv.pad[i] = tc->pb[i];
        cv.out[i] = (tc->in[i] + tc->pb[i] + tc->pe[i] - (tc->k[i] - 1) * tc->d[i] - 1) / tc->s[i] + 1;
    }
    const size_t m = tc->m, k = tc->c * tc->k[0] * tc->k[1] * tc->k[2];
    const size_t n = cv.out[0] * cv.out[1] * cv.out[2];
    const size_t chan = tc->in[0] * tc->in[1] * tc->in[2];
    const size_t xall = tc->groups * tc->c * chan;
    n_conv_cases++;
    if (!CHECK(xall <= MAX_FLOATS && k * n <= MAX_FLOATS && m * k <= MAX_FLOATS &&
               m * n <= MAX_FLOATS)) return;
    float *xbase = guarded_mat(&g_a, 1, xall, xall);
    for (size_t i = 0; i < xall; i++) xbase[i] = rng_uniform(-1.0f, 1.0f);
    const float *x = xbase + (tc->groups - 1) * tc->c * chan;
    float *col = guarded_mat(&g_b, k, n, n);
    im2col_ref(&cv, x, col);
    float *w = malloc((m * k + 1) * sizeof(float));
    size_t pbytes = g->pack_a_size(m, k);
    float *pa = malloc(pbytes + 64);
    float *c1 = guarded_mat(&g_c, m, n, n), *c2 = guarded_mat(&g_c2, m, n, n);
    const size_t nbias = m > n ? m : n;
    float *bias = guarded_mat(&g_bias, 1, nbias, nbias), *res = guarded_mat(&g_res, m, n, n);
    if (!CHECK(w && pa)) goto done;
    for (size_t i = 0; i < m * k; i++) w[i] = rng_uniform(-1.0f, 1.0f);
    for (size_t i = 0; i < nbias; i++) bias[i] = rng_uniform(-1.0f, 1.0f);
    for (size_t i = 0; i < m * n; i++) res[i] = rng_uniform(-1.0f, 1.0f);
    if (k) g->pack_a(m, k, w, k, 0, pa);
    const epi_case *ec = &k_epis[epi];
    ei_gemm_epilogue epv = {ec->bias ? bias : NULL, ec->bias == 2, ec->res ? res : NULL, n,
                            ec->act};
    const ei_gemm_epilogue *ep = epi ? &epv : NULL;
    for (size_t i = 0; i < m * n; i++) c1[i] = c2[i] = sentinel();
    g->gemm_pa(k, pa, col, n, c1, n, ep, 0, m, 0, n);
    g->gemm_pa_conv(&cv, pa, x, c2, n, ep, 0, m, 0, n);
    int same = memcmp(c1, c2, m * n * sizeof(float)) == 0;
    /* sub-ranges as threads make them: rows at panel boundaries, columns anywhere */
    for (size_t i = 0; i < m * n; i++) c2[i] = sentinel();
    size_t mcut = m > g->mr ? g->mr : m, ncut = n / 3 + 1 < n ? n / 3 + 1 : n;
    g->gemm_pa_conv(&cv, pa, x, c2, n, ep, 0, mcut, 0, ncut);
    g->gemm_pa_conv(&cv, pa, x, c2, n, ep, 0, mcut, ncut, n);
    g->gemm_pa_conv(&cv, pa, x, c2, n, ep, mcut, m, 0, n);
    int same_sub = memcmp(c1, c2, m * n * sizeof(float)) == 0;
    if (!CHECK(same && same_sub))
        fprintf(stderr, "  %s conv m=%zu c=%zu in=%zux%zux%zu k=%zux%zux%zu s=%zu,%zu,%zu "
                "d=%zu,%zu,%zu pad=%zu,%zu,%zu: full %d sub %d\n",
                isa, m, tc->c, tc->in[0], tc->in[1], tc->in[2], tc->k[0], tc->k[1], tc->k[2],
                tc->s[0], tc->s[1], tc->s[2], tc->d[0], tc->d[1], tc->d[2], tc->pb[0], tc->pb[1],
                tc->pb[2], same, same_sub);
done:
    free(w);
    free(pa);
}

static void run_conv_isa(const char *isa, const ei_gemm_kernel *g) {
    const size_t mr = g->mr;
    static const conv_case cases[] = {
        /* m, c, groups, in, k, s, d, pb, pe */
        {16, 3, 1, {1, 17, 19}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
        {5, 4, 2, {1, 9, 40}, {1, 3, 3}, {1, 2, 2}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
        {13, 3, 1, {1, 23, 23}, {1, 7, 7}, {1, 2, 2}, {1, 1, 1}, {0, 3, 3}, {0, 3, 3}},
        {7, 2, 3, {1, 11, 13}, {1, 5, 5}, {1, 3, 3}, {1, 1, 1}, {0, 2, 2}, {0, 0, 1}},
        {9, 3, 1, {1, 14, 15}, {1, 3, 3}, {1, 1, 2}, {1, 2, 3}, {0, 2, 3}, {0, 2, 1}},
        {33, 5, 1, {1, 8, 31}, {1, 2, 4}, {1, 1, 1}, {1, 1, 1}, {0, 0, 2}, {0, 1, 1}},
        {4, 6, 1, {1, 1, 70}, {1, 1, 5}, {1, 1, 2}, {1, 1, 1}, {0, 0, 2}, {0, 0, 2}},
        {6, 3, 1, {1, 6, 6}, {1, 1, 1}, {1, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}},
        {8, 2, 1, {5, 6, 7}, {3, 3, 2}, {2, 1, 1}, {1, 1, 2}, {1, 1, 0}, {1, 0, 1}},
        {3, 2, 1, {1, 4, 3}, {1, 6, 5}, {1, 1, 1}, {1, 1, 1}, {0, 3, 3}, {0, 3, 3}},
        {24, 50, 1, {1, 12, 12}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
        {2, 0, 1, {1, 5, 5}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
        {0, 1, 1, {1, 3, 2}, {1, 3, 3}, {1, 3, 3}, {1, 1, 1}, {0, 1, 1}, {0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        conv_case tc = cases[i];
        if (tc.m == 0) tc.m = mr + 1;
        if (tc.groups == 0) tc.groups = 1;
        run_conv_case(isa, g, &tc, i % N_EPIS);
    }
}

static void test_dispatch(void) {
    const ei_gemm_kernel *g = ei_gemm_kernel_get();
    ei_kernel_table t;
    ei_kernels_for_isa(ei_kernels_isa(), &t);
    CHECK(g == t.f32_gemm_packed());
    ei_kernels_for_isa(EI_ISA_REF, &t);
    CHECK(t.f32_gemm_packed() == ei_f32_gemm_packed__ref());
    /* sizes: overflow gives 0, empty gives 0 */
    CHECK(g->pack_a_size(SIZE_MAX, 2) == 0);
    CHECK(g->pack_a_size(SIZE_MAX / 8, 3) == 0);
    CHECK(g->pack_b_size(3, SIZE_MAX - 1) == 0);
    CHECK(g->pack_b_size(0, 5) == 0);
    CHECK(g->pack_a_size(5, 0) == 0);
    CHECK(g->pack_a_size(1, 1) == g->mr * sizeof(float));
    CHECK(g->pack_b_size(1, 1) == g->nr * sizeof(float));
}

static void test_isas(void) {
    static const ei_isa isas[] = {EI_ISA_REF, EI_ISA_AVX2, EI_ISA_AVX512, EI_ISA_NEON};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) run_isa(isas[i]);
    printf("  %d implicit-GEMM conv cases\n", n_conv_cases);
    printf("  %d cases; worst error %.3f of the (k+3)*eps*sum|ab| bound\n", n_cases, worst_rel);
}

int main(void) {
    if (!guarded_init(&g_a, MAX_FLOATS) || !guarded_init(&g_b, MAX_FLOATS) ||
        !guarded_init(&g_c, MAX_FLOATS) || !guarded_init(&g_c2, MAX_FLOATS) ||
        !guarded_init(&g_bias, 4096) || !guarded_init(&g_res, MAX_FLOATS)) {
        fprintf(stderr, "mmap/mprotect failed\n");
        return 1;
    }
    RUN_TEST(test_dispatch);
    RUN_TEST(test_isas);
    guarded_free(&g_a);
    guarded_free(&g_b);
    guarded_free(&g_c);
    guarded_free(&g_c2);
    guarded_free(&g_bias);
    guarded_free(&g_res);
    return TEST_REPORT("test_gemm");
}
