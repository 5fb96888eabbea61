/*
 * test_kernels.c - every kernel slot on every ISA this CPU has, against the reference
 * kernels: lengths around each tile size, misaligned pointers, in place, inputs that end
 * at a PROT_NONE page (any overread faults), canaries around outputs, special values.
 * Also dispatch (ei_kernels, EI_ISA, ei_isa_name) and ei_sgemm / the f32_gemm slot
 * against a double-precision triple loop.
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
#include "kernels/kernels.h"
#include "test_util.h"

/* Tolerances (ulps vs the libm-based reference); the measured maxima are printed. */
#define SIGMOID_ULP 4
#define TANH_ULP 4
#define EXP_ULP 2
#define ERF_ULP 2
#define GELU_ULP 8 /* vs double precision, for x > -1.3; see gelu_tol for the tail */

static const size_t k_lengths[] = {0,  1,  2,  3,  4,  5,  7,  8,  9,  11, 15, 16,   17,
                                   19, 23, 31, 32, 33, 35, 63, 64, 65, 67, 97, 1000, 4099};
#define N_LENGTHS (sizeof k_lengths / sizeof k_lengths[0])
#define MAX_N 4099
#define CANARY 8

/* ------------------------------------------------------------ helpers */

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Same bits, or both NaN. */
static int same(float a, float b) {
    return (isnan(a) && isnan(b)) || f2u(a) == f2u(b);
}

/* Distance in units in the last place (monotone integer map of the floats). */
static int64_t ulp_dist(float a, float b) {
    if (isnan(a) || isnan(b)) return (isnan(a) && isnan(b)) ? 0 : INT64_MAX;
    int64_t ia = (int32_t)f2u(a), ib = (int32_t)f2u(b);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return ia > ib ? ia - ib : ib - ia;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng_u32(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)(rng_u32() >> 8) * (1.0f / 16777216.0f);
}

static const float k_specials[] = {0.0f,   -0.0f,   1.0f,    -1.0f,    INFINITY, -INFINITY,
                                   NAN,    -NAN,    FLT_MAX, -FLT_MAX, FLT_MIN,  -FLT_MIN,
                                   1e-40f, -1e-40f, 3e38f,   -3e38f,   1e-30f,   88.0f,
                                   -88.0f, 100.0f,  -100.0f, 0.5f,     1e7f,     -1e7f};
#define N_SPECIALS (sizeof k_specials / sizeof k_specials[0])

/* Fills x with uniform values in [lo, hi], and with specials mixed in when asked. */
static void fill(float *x, size_t n, float lo, float hi, int specials) {
    for (size_t i = 0; i < n; i++) {
        x[i] = rng_uniform(lo, hi);
        if (specials && rng_u32() % 5 == 0) x[i] = k_specials[rng_u32() % N_SPECIALS];
    }
}

/* A buffer whose end is followed by an inaccessible page: reading or writing one float
 * past `n` faults. */
typedef struct guarded {
    unsigned char *map;
    size_t map_size;
    unsigned char *end; /* first byte of the PROT_NONE page */
} guarded;

static int guarded_init(guarded *g, size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data = (bytes + page - 1) / page * page;
    g->map_size = data + page;
    void *p = mmap(NULL, g->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    g->map = p;
    g->end = g->map + data;
    return mprotect(g->end, page, PROT_NONE) == 0;
}
static void guarded_free(guarded *g) {
    if (g->map) munmap(g->map, g->map_size);
}
/* n floats ending exactly at the guard page. */
static float *guarded_tail(guarded *g, size_t n) {
    return (float *)(void *)g->end - n;
}

static guarded g_in_a, g_in_b, g_out;

/* Output buffer with canaries on both sides, misaligned by one float. */
static float out_storage[MAX_N + 2 * CANARY + 16];
static float *out_buf(size_t n) {
    float *y = out_storage + CANARY + 1;
    for (size_t i = 0; i < CANARY; i++) {
        y[-1 - (long)i] = u2f(0x7fa5a5a5u);
        y[n + i] = u2f(0x7fa5a5a5u);
    }
    for (size_t i = 0; i < n; i++)
        y[i] = u2f(0x7f812345u);
    return y;
}
static int canaries_ok(const float *y, size_t n) {
    for (size_t i = 0; i < CANARY; i++)
        if (f2u(y[-1 - (long)i]) != 0x7fa5a5a5u || f2u(y[n + i]) != 0x7fa5a5a5u) return 0;
    return 1;
}

/* ----------------------------------------------------- elementwise tests */

typedef void (*vv_fn)(size_t, const float *, const float *, float *);
typedef void (*vc_fn)(size_t, const float *, float, float *);
typedef void (*v_fn)(size_t, const float *, float *);

static float ref_out[MAX_N], tmp_a[MAX_N], tmp_b[MAX_N];

/* Compares y to ref_out: exact (max_ulp < 0) or within max_ulp; returns worst ulp. */
static int64_t compare(const float *y, size_t n, int64_t max_ulp, int *ok) {
    int64_t worst = 0;
    *ok = 1;
    for (size_t i = 0; i < n; i++) {
        if (max_ulp < 0) {
            if (!same(y[i], ref_out[i])) {
                if (*ok)
                    fprintf(stderr, "  [%zu] got %.9g (0x%08x) want %.9g (0x%08x)\n", i, y[i],
                            f2u(y[i]), ref_out[i], f2u(ref_out[i]));
                *ok = 0;
            }
        } else {
            int64_t d = ulp_dist(y[i], ref_out[i]);
            if (d > worst) worst = d;
            if (d > max_ulp) {
                if (*ok)
                    fprintf(stderr, "  [%zu] got %.9g want %.9g (%lld ulp)\n", i, y[i], ref_out[i],
                            (long long)d);
                *ok = 0;
            }
        }
    }
    return worst;
}

static void run_vv(const char *isa, const char *name, vv_fn f, vv_fn ref, int specials) {
    for (size_t li = 0; li < N_LENGTHS; li++) {
        size_t n = k_lengths[li];
        float *a = guarded_tail(&g_in_a, n), *b = guarded_tail(&g_in_b, n);
        fill(a, n, -100.0f, 100.0f, specials);
        fill(b, n, -100.0f, 100.0f, specials);
        if (n > 3) b[2] = 0.0f, a[3] = b[3]; /* division by zero, equal operands */
        ref(n, a, b, ref_out);
        float *y = out_buf(n);
        f(n, a, b, y);
        int ok;
        compare(y, n, -1, &ok);
        if (!CHECK(ok && canaries_ok(y, n))) fprintf(stderr, "  %s %s n=%zu\n", isa, name, n);
        /* in place: y == a, then y == b */
        memcpy(tmp_a, a, n * sizeof(float));
        f(n, tmp_a, b, tmp_a);
        compare(tmp_a, n, -1, &ok);
        if (!CHECK(ok)) fprintf(stderr, "  %s %s in place (a) n=%zu\n", isa, name, n);
        memcpy(tmp_b, b, n * sizeof(float));
        f(n, a, tmp_b, tmp_b);
        compare(tmp_b, n, -1, &ok);
        if (!CHECK(ok)) fprintf(stderr, "  %s %s in place (b) n=%zu\n", isa, name, n);
        /* output ending at the guard page: a write past n faults */
        float *yg = guarded_tail(&g_out, n);
        f(n, a, b, yg);
        compare(yg, n, -1, &ok);
        CHECK(ok);
    }
}

/* Scalar-operand kernels; tol_rel < 0 means exact, else |y - ref| <= tol_rel * scale. */
static void run_vc(const char *isa, const char *name, vc_fn f, vc_fn ref) {
    static const float consts[] = {2.5f, -0.0f, 0.0f, 3e38f, 1e-40f, INFINITY, NAN, -7.25f};
    for (size_t ci = 0; ci < sizeof consts / sizeof consts[0]; ci++) {
        float c = consts[ci];
        for (size_t li = 0; li < N_LENGTHS; li++) {
            size_t n = k_lengths[li];
            float *a = guarded_tail(&g_in_a, n);
            fill(a, n, -100.0f, 100.0f, 1);
            ref(n, a, c, ref_out);
            float *y = out_buf(n);
            f(n, a, c, y);
            int ok;
            compare(y, n, -1, &ok);
            if (!CHECK(ok && canaries_ok(y, n)))
                fprintf(stderr, "  %s %s c=%g n=%zu\n", isa, name, c, n);
            memcpy(tmp_a, a, n * sizeof(float));
            f(n, tmp_a, c, tmp_a);
            compare(tmp_a, n, -1, &ok);
            if (!CHECK(ok)) fprintf(stderr, "  %s %s in place n=%zu\n", isa, name, n);
        }
    }
}

/* Unary maps: exact when max_ulp < 0. Returns the worst ulp distance seen. */
static int64_t run_v(const char *isa, const char *name, v_fn f, v_fn ref, int64_t max_ulp, float lo,
                     float hi) {
    int64_t worst = 0;
    for (size_t li = 0; li < N_LENGTHS; li++) {
        size_t n = k_lengths[li];
        float *x = guarded_tail(&g_in_a, n);
        fill(x, n, lo, hi, 1);
        ref(n, x, ref_out);
        float *y = out_buf(n);
        f(n, x, y);
        int ok;
        int64_t w = compare(y, n, max_ulp, &ok);
        if (w > worst) worst = w;
        if (!CHECK(ok && canaries_ok(y, n))) fprintf(stderr, "  %s %s n=%zu\n", isa, name, n);
        memcpy(tmp_a, x, n * sizeof(float));
        f(n, tmp_a, tmp_a);
        compare(tmp_a, n, max_ulp, &ok);
        if (!CHECK(ok)) fprintf(stderr, "  %s %s in place n=%zu\n", isa, name, n);
        float *yg = guarded_tail(&g_out, n);
        f(n, x, yg);
        compare(yg, n, max_ulp, &ok);
        CHECK(ok);
    }
    return worst;
}

/* Sweeps the whole float range (every `stride`-th bit pattern) in chunks; worst ulp. */
static int64_t sweep(v_fn f, v_fn ref, uint32_t stride, int64_t tol) {
    enum { CH = 4096 };
    static float xs[CH], ys[CH], rs[CH];
    int64_t worst = 0;
    size_t k = 0;
    for (uint64_t u = 0; u <= 0xffffffffull; u += stride) {
        xs[k++] = u2f((uint32_t)u);
        if (k == CH || u + stride > 0xffffffffull) {
            f(k, xs, ys);
            ref(k, xs, rs);
            for (size_t i = 0; i < k; i++) {
                int64_t d = ulp_dist(ys[i], rs[i]);
                if (d > worst) {
                    worst = d;
                    if (d > tol)
                        fprintf(stderr, "    (x=%.9g: %.9g vs ref %.9g, %lld ulp)\n", xs[i], ys[i],
                                rs[i], (long long)d);
                }
            }
            k = 0;
        }
    }
    return worst;
}

static void clamp_lohi(size_t n, const float *x, float *y,
                       void (*fn)(size_t, const float *, float, float, float *), float lo,
                       float hi) {
    fn(n, x, lo, hi, y);
}

static void run_clamp(const char *isa, const ei_kernel_table *t) {
    static const float bounds[][2] = {{-1.0f, 1.0f},         {0.0f, 6.0f}, {-0.0f, 0.0f},
                                      {-INFINITY, INFINITY}, {5.0f, 5.0f}, {NAN, 1.0f},
                                      {-1.0f, NAN},          {2.0f, -2.0f}};
    for (size_t bi = 0; bi < sizeof bounds / sizeof bounds[0]; bi++) {
        for (size_t li = 0; li < N_LENGTHS; li++) {
            size_t n = k_lengths[li];
            float *x = guarded_tail(&g_in_a, n);
            fill(x, n, -10.0f, 10.0f, 1);
            clamp_lohi(n, x, ref_out, ei_f32_clamp__ref, bounds[bi][0], bounds[bi][1]);
            float *y = out_buf(n);
            clamp_lohi(n, x, y, t->f32_clamp, bounds[bi][0], bounds[bi][1]);
            int ok;
            compare(y, n, -1, &ok);
            if (!CHECK(ok && canaries_ok(y, n)))
                fprintf(stderr, "  %s clamp b=%zu n=%zu\n", isa, bi, n);
            memcpy(tmp_a, x, n * sizeof(float));
            t->f32_clamp(n, tmp_a, bounds[bi][0], bounds[bi][1], tmp_a);
            compare(tmp_a, n, -1, &ok);
            CHECK(ok);
        }
    }
}

static void run_affine(const char *isa, const ei_kernel_table *t) {
    static const float params[][2] = {
        {1.5f, -0.25f}, {-3.0f, 7.0f}, {0.0f, 1.0f}, {1.0f, 0.0f}, {1e-3f, 1e3f}};
    for (size_t pi = 0; pi < sizeof params / sizeof params[0]; pi++) {
        float s = params[pi][0], b = params[pi][1];
        for (size_t li = 0; li < N_LENGTHS; li++) {
            size_t n = k_lengths[li];
            float *x = guarded_tail(&g_in_a, n);
            fill(x, n, -100.0f, 100.0f, li % 2);
            ei_f32_vaffine__ref(n, x, s, b, ref_out);
            float *y = out_buf(n);
            t->f32_vaffine(n, x, s, b, y);
            int ok = canaries_ok(y, n);
            for (size_t i = 0; i < n; i++) {
                /* fused vs unfused: within one rounding of the larger term */
                double scale = fmax(fabs((double)x[i] * s), fabs((double)b));
                double tol = scale * 1.2e-7 + 1e-44;
                if (isnan(ref_out[i]) || isinf(ref_out[i]) || isinf(y[i])) {
                    if (!same(y[i], ref_out[i])) ok = 0;
                } else if (!(fabs((double)y[i] - ref_out[i]) <= tol)) {
                    ok = 0;
                }
            }
            if (!CHECK(ok)) fprintf(stderr, "  %s vaffine s=%g b=%g n=%zu\n", isa, s, b, n);
            memcpy(tmp_a, x, n * sizeof(float));
            t->f32_vaffine(n, tmp_a, s, b, tmp_a);
            t->f32_vaffine(n, x, s, b, y);
            CHECK(memcmp(tmp_a, y, n * sizeof(float)) == 0);
        }
    }
}

static void run_reduce(const char *isa, const ei_kernel_table *t) {
    for (size_t li = 0; li < N_LENGTHS; li++) {
        size_t n = k_lengths[li];
        float *x = guarded_tail(&g_in_a, n);
        fill(x, n, -10.0f, 10.0f, 0);
        double sabs = 0;
        for (size_t i = 0; i < n; i++)
            sabs += fabs(x[i]);
        float s = t->f32_sum(n, x), sr = ei_f32_sum__ref(n, x);
        if (!CHECK(fabs((double)s - sr) <= (double)n * 1.2e-7 * sabs + 1e-30))
            fprintf(stderr, "  %s sum n=%zu: %.9g vs %.9g\n", isa, n, s, sr);
        if (!CHECK(same(t->f32_max(n, x), ei_f32_max__ref(n, x))))
            fprintf(stderr, "  %s max n=%zu\n", isa, n);
        if (n == 0) {
            CHECK(s == 0.0f);
            CHECK(t->f32_max(0, x) == -INFINITY);
            continue;
        }
        /* all negative: masked-off lanes must not contribute 0 */
        fill(x, n, -10.0f, -1.0f, 0);
        CHECK(t->f32_max(n, x) == ei_f32_max__ref(n, x));
        /* the max in every position, NaN in every position */
        for (size_t pos = 0; pos < n && pos < 40; pos++) {
            size_t p = (pos < 20) ? pos : n - 1 - (pos - 20);
            float keep = x[p];
            x[p] = 5.0f;
            CHECK(t->f32_max(n, x) == 5.0f);
            x[p] = NAN;
            CHECK(isnan(t->f32_max(n, x)));
            CHECK(isnan(t->f32_sum(n, x)));
            x[p] = INFINITY;
            CHECK(t->f32_sum(n, x) == INFINITY);
            x[p] = keep;
        }
        if (n >= 2) {
            x[0] = INFINITY;
            x[n - 1] = -INFINITY;
            CHECK(isnan(t->f32_sum(n, x)));
        }
    }
}

/* Known answers on special inputs (checked on ref too). */
static void run_specials(const char *isa, const ei_kernel_table *t) {
    float x[8] = {NAN, -0.0f, 0.0f, INFINITY, -INFINITY, -1.0f, 2.0f, 1e-40f}, y[8];
    t->f32_relu(8, x, y);
    CHECK(isnan(y[0]) && f2u(y[1]) == 0x80000000u && f2u(y[2]) == 0 && y[3] == INFINITY &&
          f2u(y[4]) == 0 && f2u(y[5]) == 0 && y[6] == 2.0f && y[7] == 1e-40f);
    t->f32_clamp(8, x, -0.5f, 0.5f, y);
    CHECK(isnan(y[0]) && y[3] == 0.5f && y[4] == -0.5f && y[5] == -0.5f && y[6] == 0.5f);
    t->f32_sigmoid(8, x, y);
    CHECK(isnan(y[0]) && y[1] == 0.5f && y[2] == 0.5f && y[3] == 1.0f && f2u(y[4]) == 0 &&
          y[7] == 0.5f);
    t->f32_tanh(8, x, y);
    CHECK(isnan(y[0]) && f2u(y[1]) == 0x80000000u && f2u(y[2]) == 0 && y[3] == 1.0f &&
          y[4] == -1.0f && y[7] == 1e-40f);
    /* saturation and tiny sigmoid */
    float s[6] = {-100.0f, -87.0f, 20.0f, 1e30f, -1e30f, -200.0f}, r[6];
    t->f32_sigmoid(6, s, r);
    CHECK(r[0] > 0.0f && r[0] < 1e-43f); /* 3.7e-44, subnormal */
    CHECK(r[1] > 1.6e-38f && r[1] < 1.7e-38f);
    CHECK(r[2] == 1.0f && r[3] == 1.0f && r[4] == 0.0f && r[5] == 0.0f);
    t->f32_tanh(6, s, r);
    CHECK(r[0] == -1.0f && r[2] == 1.0f && r[3] == 1.0f && r[4] == -1.0f);
    /* Max: NaN from either side, equal zeros give b (onnxruntime) */
    float a2[4] = {NAN, 1.0f, 0.0f, -0.0f}, b2[4] = {1.0f, NAN, -0.0f, 0.0f}, m2[4];
    t->f32_vmax(4, a2, b2, m2);
    CHECK(isnan(m2[0]) && isnan(m2[1]) && f2u(m2[2]) == 0x80000000u && f2u(m2[3]) == 0);
    (void)isa;
}

/* ------------------------------------------------------------ exp family */

/* GELU tolerance against the double-precision reference: GELU_ULP where the result is not
 * small, plus the rounding of x/sqrt 2 amplified by x^2 in the negative tail, plus the
 * flush to -0 below x = -5.55 (|gelu| < 8e-8 there). */
static int gelu_ok(float x, float y, float r, int64_t *worst) {
    if (isnan(r) || isinf(r)) return same(y, r);
    int64_t d = ulp_dist(y, r);
    if (x > -1.3f && d > *worst) *worst = d;
    if (d <= GELU_ULP) return 1;
    double err = fabs((double)y - r);
    double tol = GELU_ULP * 1.2e-7 * fabs(r) + 1.2e-7 * (double)x * x * fabs(r);
    if (x < -5.5f) tol += 8e-8;
    return x <= -1.3f && err <= tol;
}

static int64_t run_gelu(const char *isa, v_fn f) {
    int64_t worst = 0;
    for (size_t li = 0; li < N_LENGTHS; li++) {
        size_t n = k_lengths[li];
        float *x = guarded_tail(&g_in_a, n);
        fill(x, n, -8.0f, 8.0f, 1);
        ei_f32_gelu__ref(n, x, ref_out);
        float *y = out_buf(n);
        f(n, x, y);
        int ok = canaries_ok(y, n);
        for (size_t i = 0; i < n; i++)
            if (!gelu_ok(x[i], y[i], ref_out[i], &worst)) {
                if (ok) fprintf(stderr, "  x=%.9g got %.9g want %.9g\n", x[i], y[i], ref_out[i]);
                ok = 0;
            }
        memcpy(tmp_a, x, n * sizeof(float));
        f(n, tmp_a, tmp_a); /* in place gives the same bits */
        ok = ok && memcmp(tmp_a, y, n * sizeof(float)) == 0;
        float *yg = guarded_tail(&g_out, n);
        f(n, x, yg);
        ok = ok && memcmp(yg, y, n * sizeof(float)) == 0;
        if (!CHECK(ok)) fprintf(stderr, "  %s f32_gelu n=%zu\n", isa, n);
    }
    /* every 509th float */
    enum { CH = 4096 };
    static float xs[CH], ys[CH], rs[CH];
    size_t k = 0;
    int ok = 1;
    for (uint64_t u = 0; u <= 0xffffffffull; u += 509) {
        xs[k++] = u2f((uint32_t)u);
        if (k == CH || u + 509 > 0xffffffffull) {
            f(k, xs, ys);
            ei_f32_gelu__ref(k, xs, rs);
            for (size_t i = 0; i < k; i++)
                if (!gelu_ok(xs[i], ys[i], rs[i], &worst)) {
                    if (ok)
                        fprintf(stderr, "  %s gelu x=%.9g got %.9g want %.9g\n", isa, xs[i],
                                ys[i], rs[i]);
                    ok = 0;
                }
            k = 0;
        }
    }
    CHECK(ok);
    return worst;
}

/* exp_sum: y = exp(x - shift) within EXP_ULP of ref, the sum within the reordering bound,
 * y == NULL gives the same sum, in place allowed. */
static void run_exp_sum(const char *isa, const ei_kernel_table *t) {
    static const float shifts[] = {0.0f, 3.5f, -20.0f, 80.0f};
    for (size_t si = 0; si < sizeof shifts / sizeof shifts[0]; si++) {
        float sh = shifts[si];
        for (size_t li = 0; li < N_LENGTHS; li++) {
            size_t n = k_lengths[li];
            float *x = guarded_tail(&g_in_a, n);
            fill(x, n, -30.0f, 10.0f, 0);
            float sr = ei_f32_exp_sum__ref(n, x, sh, ref_out);
            float *y = out_buf(n);
            float s = t->f32_exp_sum(n, x, sh, y);
            int ok;
            compare(y, n, EXP_ULP, &ok);
            ok = ok && canaries_ok(y, n);
            double tol = 1e-6 * (double)sr * (1.0 + (double)n * 0.12) + 1e-37;
            ok = ok && fabs((double)s - sr) <= tol;
            ok = ok && t->f32_exp_sum(n, x, sh, NULL) == s;
            float *yg = guarded_tail(&g_out, n);
            ok = ok && t->f32_exp_sum(n, x, sh, yg) == s;
            memcpy(tmp_a, x, n * sizeof(float));
            ok = ok && t->f32_exp_sum(n, tmp_a, sh, tmp_a) == s;
            ok = ok && memcmp(tmp_a, y, n * sizeof(float)) == 0;
            if (!CHECK(ok))
                fprintf(stderr, "  %s exp_sum shift=%g n=%zu: %.9g vs %.9g\n", isa, sh, n, s, sr);
        }
    }
    /* specials: NaN propagates to the sum, -inf contributes 0, +inf gives +inf */
    float x[5] = {0.0f, -INFINITY, 1.0f, -200.0f, 2.0f}, y[5];
    CHECK(t->f32_exp_sum(5, x, 2.0f, y) > 0.0f && y[1] == 0.0f && y[3] == 0.0f && y[4] == 1.0f);
    x[2] = NAN;
    CHECK(isnan(t->f32_exp_sum(5, x, 2.0f, y)) && isnan(y[2]));
    x[2] = INFINITY;
    CHECK(t->f32_exp_sum(5, x, 2.0f, y) == INFINITY);
    CHECK(t->f32_exp_sum(0, x, 2.0f, NULL) == 0.0f);
}

static void run_exp_family(const char *isa, const ei_kernel_table *t) {
    int64_t we = run_v(isa, "f32_exp", t->f32_exp, ei_f32_exp__ref, EXP_ULP, -110.0f, 90.0f);
    int64_t wr = run_v(isa, "f32_erf", t->f32_erf, ei_f32_erf__ref, ERF_ULP, -5.0f, 5.0f);
    int64_t se = sweep(t->f32_exp, ei_f32_exp__ref, 509, EXP_ULP);
    int64_t sr = sweep(t->f32_erf, ei_f32_erf__ref, 509, ERF_ULP);
    int64_t wg = run_gelu(isa, t->f32_gelu);
    printf("  %s: max ulp vs ref: exp %lld (random) %lld (sweep), erf %lld / %lld, gelu %lld "
           "(x > -1.3, vs double)\n",
           isa, (long long)we, (long long)se, (long long)wr, (long long)sr, (long long)wg);
    CHECK(se <= EXP_ULP);
    CHECK(sr <= ERF_ULP);
    run_exp_sum(isa, t);
    float x[8] = {NAN, -0.0f, 0.0f, INFINITY, -INFINITY, 88.8f, -104.0f, 1e-40f}, y[8];
    t->f32_exp(8, x, y);
    CHECK(isnan(y[0]) && y[1] == 1.0f && y[2] == 1.0f && y[3] == INFINITY && f2u(y[4]) == 0 &&
          y[5] == INFINITY && f2u(y[6]) == 0 && y[7] == 1.0f);
    t->f32_erf(8, x, y);
    CHECK(isnan(y[0]) && f2u(y[1]) == 0x80000000u && f2u(y[2]) == 0 && y[3] == 1.0f &&
          y[4] == -1.0f && y[5] == 1.0f && y[6] == -1.0f && y[7] > 1e-40f && y[7] < 1.2e-40f);
    t->f32_gelu(8, x, y);
    CHECK(isnan(y[0]) && y[1] == 0.0f && y[2] == 0.0f && y[3] == INFINITY && isnan(y[4]) &&
          y[5] == 88.8f && y[6] == 0.0f && y[7] == 0.5e-40f);
}

/* ------------------------------------------------------------ pooling passes */

typedef void (*cols_fn)(size_t, size_t, const float *, size_t, float *);

/* Column and row passes, bit-exact against ref: every k in 1..5, strides 1..3, inputs
 * ending at the guard page (the last tap read is the last float before it), outputs at
 * the guard page and misaligned with canaries, NaN / -inf / -0 mixed in. */
static void run_pool(const char *isa, const ei_kernel_table *t) {
    static float want[MAX_N];
    for (size_t k = 1; k <= 5; k++) {
        for (size_t li = 0; li < N_LENGTHS; li++) {
            size_t n = k_lengths[li];
            if (n == 0) continue;
            /* columns: k rows of n floats, ldx = n + 3 */
            for (int sum = 0; sum < 2; sum++) {
                size_t ldx = n + 3, total = (k - 1) * ldx + n;
                if (total > MAX_N) continue;
                float *x = guarded_tail(&g_in_a, total);
                fill(x, total, -10.0f, 10.0f, 1);
                cols_fn f = sum ? t->f32_pool_cols_sum : t->f32_pool_cols_max;
                cols_fn r = sum ? ei_f32_pool_cols_sum__ref : ei_f32_pool_cols_max__ref;
                r(n, k, x, ldx, ref_out);
                float *y = out_buf(n);
                f(n, k, x, ldx, y);
                int ok;
                compare(y, n, -1, &ok);
                ok = ok && canaries_ok(y, n);
                float *yg = guarded_tail(&g_out, n);
                f(n, k, x, ldx, yg);
                ok = ok && memcmp(yg, y, n * sizeof(float)) == 0;
                if (!CHECK(ok))
                    fprintf(stderr, "  %s pool_cols sum=%d k=%zu n=%zu\n", isa, sum, k, n);
            }
            /* rows: n outputs of k taps at stride s */
            for (size_t st = 1; st <= 3; st++) {
                size_t len = (n - 1) * st + k;
                if (len > MAX_N) continue;
                float *x = guarded_tail(&g_in_a, len);
                fill(x, len, -10.0f, 10.0f, 1);
                float *y = out_buf(n);
                ei_f32_pool_rows_max__ref(n, k, st, x, ref_out);
                t->f32_pool_rows_max(n, k, st, x, y);
                int ok;
                compare(y, n, -1, &ok);
                ok = ok && canaries_ok(y, n);
                ei_f32_pool_rows_sum__ref(n, k, st, x, 0.37f, want);
                memcpy(ref_out, want, n * sizeof(float));
                float *yg = guarded_tail(&g_out, n);
                t->f32_pool_rows_sum(n, k, st, x, 0.37f, yg);
                int ok2;
                compare(yg, n, -1, &ok2);
                if (!CHECK(ok && ok2))
                    fprintf(stderr, "  %s pool_rows k=%zu stride=%zu n=%zu\n", isa, k, st, n);
            }
        }
    }
    /* NaN never wins; an all -inf window gives -FLT_MAX */
    float x[6] = {NAN, 1.0f, NAN, -INFINITY, -INFINITY, -INFINITY}, y[3];
    t->f32_pool_rows_max(2, 2, 1, x, y);
    CHECK(y[0] == 1.0f && y[1] == 1.0f);
    t->f32_pool_rows_max(1, 3, 1, x + 3, y);
    CHECK(y[0] == -FLT_MAX);
    t->f32_pool_cols_max(3, 2, x, 3, y);
    CHECK(y[0] == -FLT_MAX && y[1] == 1.0f && y[2] == -FLT_MAX);
}

/* ------------------------------------------------------------ transpose */

/* Every rows x cols in 1..19 plus a few larger, padded leading dimensions, the input
 * ending at the guard page, NaN payloads copied bit for bit, padding untouched. */
static void run_transpose(const char *isa, const ei_kernel_table *t) {
    static const size_t big[][2] = {{64, 37}, {12, 32}, {33, 130}, {128, 32}};
    static uint32_t want[MAX_N], got[MAX_N];
    for (size_t rows = 1; rows <= 23; rows++) {
        for (size_t cols = 1; cols <= 23 + 4; cols++) {
            size_t r = rows, c = cols;
            if (cols > 23) {
                r = big[cols - 24][0];
                c = big[cols - 24][1];
                if (rows > 1) continue;
            }
            size_t ldx = c + rows % 3, ldy = r + cols % 2, total = (r - 1) * ldx + c;
            if (total > MAX_N || c * ldy > MAX_N) continue;
            uint32_t *x = (uint32_t *)(void *)guarded_tail(&g_in_a, total);
            for (size_t i = 0; i < total; i++) x[i] = rng_u32() | 0x7f800001u * (i % 5 == 0);
            for (size_t i = 0; i < c * ldy; i++) want[i] = got[i] = 0xdeadbeefu;
            ei_x32_transpose__ref(r, c, x, ldx, want, ldy);
            t->x32_transpose(r, c, x, ldx, got, ldy);
            if (!CHECK(memcmp(want, got, c * ldy * sizeof(uint32_t)) == 0))
                fprintf(stderr, "  %s x32_transpose %zux%zu\n", isa, r, c);
        }
    }
}

/* ------------------------------------------------------------ normalization passes */

static void run_norm(const char *isa, const ei_kernel_table *t) {
    static float sc[MAX_N], bi[MAX_N];
    for (size_t li = 0; li < N_LENGTHS; li++) {
        size_t n = k_lengths[li];
        float *x = guarded_tail(&g_in_a, n);
        fill(x, n, 90.0f, 110.0f, 0); /* |mean| >> std: the centered form matters */
        fill(sc, n, -2.0f, 2.0f, 0);
        fill(bi, n, -1.0f, 1.0f, 0);
        float c = 100.0f;
        double sd = 0;
        for (size_t i = 0; i < n; i++)
            sd += ((double)x[i] - c) * ((double)x[i] - c);
        float s = t->f32_sumsq_dev(n, x, c), sr = ei_f32_sumsq_dev__ref(n, x, c);
        int ok = fabs((double)s - sr) <= (double)(n + 2) * 1.2e-7 * sd + 1e-30;
        if (!CHECK(ok)) fprintf(stderr, "  %s sumsq_dev n=%zu: %.9g vs %.9g\n", isa, n, s, sr);
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const float *b = with_bias ? bi : NULL;
            ei_f32_norm_affine__ref(n, x, c, 0.3f, sc, b, ref_out);
            float *y = out_buf(n);
            t->f32_norm_affine(n, x, c, 0.3f, sc, b, y);
            ok = canaries_ok(y, n);
            for (size_t i = 0; i < n; i++) {
                double big = fabs(((double)x[i] - c) * 0.3 * sc[i]) + (b ? fabs(b[i]) : 0);
                if (!(fabs((double)y[i] - ref_out[i]) <= 2.4e-7 * big + 1e-30)) ok = 0;
            }
            float *yg = guarded_tail(&g_out, n);
            t->f32_norm_affine(n, x, c, 0.3f, sc, b, yg);
            ok = ok && memcmp(yg, y, n * sizeof(float)) == 0;
            memcpy(tmp_a, x, n * sizeof(float));
            t->f32_norm_affine(n, tmp_a, c, 0.3f, sc, b, tmp_a); /* in place */
            ok = ok && memcmp(tmp_a, y, n * sizeof(float)) == 0;
            if (!CHECK(ok)) fprintf(stderr, "  %s norm_affine bias=%d n=%zu\n", isa, with_bias, n);
        }
    }
    CHECK(t->f32_sumsq_dev(0, NULL, 1.0f) == 0.0f);
}

static void test_isa(ei_isa want) {
    ei_kernel_table t;
    ei_isa got = ei_kernels_for_isa(want, &t);
    if (got != want) {
        printf("  (%s not available on this CPU, skipped)\n", ei_isa_str(want));
        return;
    }
    const char *isa = ei_isa_str(got);
    run_specials(isa, &t);
#define VV(name, sp) run_vv(isa, #name, t.name, ei_##name##__ref, sp)
    VV(f32_vadd, 1);
    VV(f32_vsub, 1);
    VV(f32_vmul, 1);
    VV(f32_vdiv, 1);
    VV(f32_vmax, 1);
#undef VV
#define VC(name) run_vc(isa, #name, t.name, ei_##name##__ref)
    VC(f32_vaddc);
    VC(f32_vsubc);
    VC(f32_vrsubc);
    VC(f32_vmulc);
    VC(f32_vdivc);
    VC(f32_vrdivc);
#undef VC
    run_affine(isa, &t);
    run_clamp(isa, &t);
    run_v(isa, "f32_relu", t.f32_relu, ei_f32_relu__ref, -1, -10.0f, 10.0f);
    int64_t ws =
        run_v(isa, "f32_sigmoid", t.f32_sigmoid, ei_f32_sigmoid__ref, SIGMOID_ULP, -30.0f, 30.0f);
    int64_t wt = run_v(isa, "f32_tanh", t.f32_tanh, ei_f32_tanh__ref, TANH_ULP, -5.0f, 5.0f);
    int64_t ss = sweep(t.f32_sigmoid, ei_f32_sigmoid__ref, 509, SIGMOID_ULP);
    int64_t st = sweep(t.f32_tanh, ei_f32_tanh__ref, 509, TANH_ULP);
    printf("  %s: max ulp vs ref: sigmoid %lld (random) %lld (sweep of every 509th float), "
           "tanh %lld / %lld\n",
           isa, (long long)ws, (long long)ss, (long long)wt, (long long)st);
    CHECK(ss <= SIGMOID_ULP);
    CHECK(st <= TANH_ULP);
    run_reduce(isa, &t);
    run_exp_family(isa, &t);
    run_pool(isa, &t);
    run_transpose(isa, &t);
    run_norm(isa, &t);
}

static void test_ref(void) {
    test_isa(EI_ISA_REF);
}
static void test_avx2(void) {
    test_isa(EI_ISA_AVX2);
}
static void test_avx512(void) {
    test_isa(EI_ISA_AVX512);
}
static void test_neon(void) {
    test_isa(EI_ISA_NEON);
}

static void test_dispatch(void) {
    const ei_kernel_table *k = ei_kernels();
    CHECK(k != NULL && k == ei_kernels());
    CHECK_STREQ(ei_isa_name(), ei_isa_str(ei_kernels_isa()));
    CHECK(ei_kernels_isa() <= ei_cpu_best_isa() || ei_cpu_best_isa() == EI_ISA_REF);
    ei_kernel_table t;
    CHECK(ei_kernels_for_isa(EI_ISA_REF, &t) == EI_ISA_REF);
    CHECK(t.f32_vadd == ei_f32_vadd__ref && t.f32_gemm == ei_f32_gemm__ref &&
          t.f32_tanh == ei_f32_tanh__ref);
    CHECK(ei_kernels_for_isa(ei_cpu_best_isa(), &t) == ei_cpu_best_isa());
    CHECK_STREQ(ei_isa_str(EI_ISA_AVX512), "avx512");
    CHECK_STREQ(ei_isa_str((ei_isa)99), "unknown");
    const char *env = getenv("EI_ISA");
    if (env && strcmp(env, "ref") == 0) CHECK(ei_kernels_isa() == EI_ISA_REF);
    if (!env || strcmp(env, "bogus") == 0) CHECK(ei_kernels_isa() == ei_cpu_best_isa());
    printf("  dispatch: best %s, in use %s (EI_ISA=%s), blas %d\n", ei_isa_str(ei_cpu_best_isa()),
           ei_isa_name(), env ? env : "unset", ei_has_blas());
}

/* ------------------------------------------------------------------ gemm */

typedef void (*gemm_fn)(int, int, size_t, size_t, size_t, float, const float *, size_t,
                        const float *, size_t, float, float *, size_t);

static void check_gemm(const char *what, gemm_fn f, int ta, int tb, size_t m, size_t n, size_t k,
                       float alpha, float beta) {
    /* row-major storage with padding in the leading dimensions */
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    size_t lda = ac + 3, ldb = bc + 1, ldc = n + 2;
    float *a = malloc((ar * lda + 1) * sizeof(float));
    float *b = malloc((br * ldb + 1) * sizeof(float));
    float *c = malloc((m * ldc + 1) * sizeof(float));
    float *c0 = malloc((m * ldc + 1) * sizeof(float));
    if (!CHECK(a && b && c && c0)) goto done;
    for (size_t i = 0; i < ar * lda; i++)
        a[i] = rng_uniform(-1, 1);
    for (size_t i = 0; i < br * ldb; i++)
        b[i] = rng_uniform(-1, 1);
    for (size_t i = 0; i < m * ldc; i++)
        c0[i] = (beta == 0.0f) ? NAN : rng_uniform(-1, 1);
    memcpy(c, c0, m * ldc * sizeof(float));
    f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    int ok = 1;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0, sa = 0;
            for (size_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
                sa += fabs(av * bv);
            }
            double bc = (beta == 0.0f) ? 0.0 : beta * (double)c0[i * ldc + j]; /* C not read */
            double want = alpha * s + bc;
            double tol = 1e-6 * (fabs(alpha) * sa + fabs(bc)) * (double)(k + 2) + 1e-30;
            if (!(fabs(c[i * ldc + j] - want) <= tol)) ok = 0;
        }
        for (size_t j = n; j < ldc; j++) /* padding untouched */
            if (!same(c[i * ldc + j], c0[i * ldc + j])) ok = 0;
    }
    if (!CHECK(ok))
        fprintf(stderr, "  %s ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g\n", what, ta, tb, m, n,
                k, alpha, beta);
done:
    free(a);
    free(b);
    free(c);
    free(c0);
}

static void test_gemm(void) {
    static const size_t sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {64, 33, 17},
                                      {3, 5, 0}, {1, 17, 9}, {20, 1, 40}};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {0.7f, 0.5f}, {-2.0f, 0.0f}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
                for (size_t pi = 0; pi < sizeof ab / sizeof ab[0]; pi++) {
                    check_gemm("ei_sgemm", ei_sgemm, ta, tb, sizes[si][0], sizes[si][1],
                               sizes[si][2], ab[pi][0], ab[pi][1]);
                    check_gemm("f32_gemm__ref", ei_f32_gemm__ref, ta, tb, sizes[si][0],
                               sizes[si][1], sizes[si][2], ab[pi][0], ab[pi][1]);
                    check_gemm("kernels()->f32_gemm", ei_kernels()->f32_gemm, ta, tb, sizes[si][0],
                               sizes[si][1], sizes[si][2], ab[pi][0], ab[pi][1]);
                }
    /* m or n == 0: nothing is touched (NULL pointers allowed) */
    ei_sgemm(0, 0, 0, 5, 5, 1.0f, NULL, 5, NULL, 5, 0.0f, NULL, 5);
    ei_sgemm(0, 0, 5, 0, 5, 1.0f, NULL, 5, NULL, 0, 0.0f, NULL, 0);
    CHECK(1);
}

int main(void) {
    if (!guarded_init(&g_in_a, MAX_N * sizeof(float)) ||
        !guarded_init(&g_in_b, MAX_N * sizeof(float)) ||
        !guarded_init(&g_out, MAX_N * sizeof(float))) {
        fprintf(stderr, "mmap/mprotect failed\n");
        return 1;
    }
    RUN_TEST(test_dispatch);
    RUN_TEST(test_ref);
    RUN_TEST(test_avx2);
    RUN_TEST(test_avx512);
    RUN_TEST(test_neon);
    RUN_TEST(test_gemm);
    guarded_free(&g_in_a);
    guarded_free(&g_in_b);
    guarded_free(&g_out);
    return TEST_REPORT("test_kernels");
}
