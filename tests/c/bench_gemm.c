/*
 * bench_gemm.c - micro-benchmark (not a test) of the packed GEMM (kernels/gemm.h) of each
 * ISA against ei_sgemm (cblas_sgemm, OpenBLAS pinned to 1 thread, when built with it) on
 * the GEMM shapes of real models, at 1 thread. Weights are packed once outside the timed
 * loop, as a session does; the attention shapes (both operands are activations) pack B
 * inside it. Calls of each variant are interleaved round by round and the median per call
 * (of thread CPU time) is reported, with GFLOP/s, % of this core's FP32 peak (measured with independent FMA
 * chains) and the ratio to ei_sgemm.
 *   build/bench_gemm [rounds] [min_ms_per_round] [filter] [median|min] [epi]
 * filter: substring of a shape name ("" for all); "min": report the fastest round instead
 * of the median; "epi": our calls also apply a fused bias + relu epilogue (ei_sgemm stays
 * plain), to show what the fusion costs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edgeinfer/edgeinfer.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* This thread's CPU time: on a shared machine, time spent descheduled is not the kernel's
 * (everything timed runs on this thread: OpenBLAS is pinned to 1 thread). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ------------------------------------------------------------ peak */

#if defined(__x86_64__)
#include <immintrin.h>
#define PEAK_BODY(T, SET1, FMA, LANES)                                                             \
    T acc[12], x = SET1(1.0000001f), y = SET1(0.9999999f);                                         \
    for (int i = 0; i < 12; i++) acc[i] = SET1((float)i);                                          \
    for (long it = 0; it < iters; it++)                                                            \
        for (int i = 0; i < 12; i++) acc[i] = FMA(acc[i], x, y);                                   \
    float s = 0;                                                                                   \
    for (int i = 0; i < 12; i++) {                                                                 \
        float t[LANES];                                                                            \
        memcpy(t, &acc[i], sizeof t);                                                              \
        s += t[0];                                                                                 \
    }                                                                                              \
    return s;
__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long iters) {
    PEAK_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, 8)
}
__attribute__((target("avx512f"))) static float fma_loop_avx512(long iters) {
    PEAK_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, 16)
}
#elif defined(__aarch64__)
#include <arm_neon.h>
static float fma_loop_neon(long iters) {
    float32x4_t acc[12], x = vdupq_n_f32(1.0000001f), y = vdupq_n_f32(0.9999999f);
    for (int i = 0; i < 12; i++) acc[i] = vdupq_n_f32((float)i);
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 12; i++) acc[i] = vfmaq_f32(acc[i], x, y);
    float s = 0;
    for (int i = 0; i < 12; i++) s += vgetq_lane_f32(acc[i], 0);
    return s;
}
#endif

#if defined(__x86_64__) || defined(__aarch64__)
static volatile float sink;

/* GFLOP/s of 12 independent FMA chains of `lanes` floats (median of 5). */
static double peak_gflops(float (*loop)(long), int lanes) {
    long iters = 1000000;
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        sink = loop(iters);
        t[r] = now() - t0;
    }
    qsort(t, 5, sizeof t[0], cmp_double);
    return 2.0 * 12 * lanes * (double)iters / t[2] * 1e-9;
}
#endif

/* ------------------------------------------------------------ shapes */

typedef struct shape {
    const char *name;
    int mode; /* 0: packed A (conv), 1: packed B (matmul), 2: packed B packed per call */
    size_t m, k, n;
} shape;

static const shape k_shapes[] = {
    /* ResNet-50 convolutions as GEMM: M = Cout, K = Cin*kh*kw, N = H*W */
    {"r50 conv1 7x7", 0, 64, 147, 12544},
    {"r50 l1 1x1 reduce", 0, 64, 64, 3136},
    {"r50 l1 3x3", 0, 64, 576, 3136},
    {"r50 l1 1x1 expand", 0, 256, 64, 3136},
    {"r50 l2 3x3", 0, 128, 1152, 784},
    {"r50 l2 1x1 expand", 0, 512, 128, 784},
    {"r50 l3 3x3", 0, 256, 2304, 196},
    {"r50 l3 1x1 expand", 0, 1024, 256, 196},
    {"r50 l4 3x3", 0, 512, 4608, 49},
    {"r50 l4 1x1 expand", 0, 2048, 512, 49},
    /* MobileNetV2 1x1 convolutions */
    {"mnv2 96x16", 0, 96, 16, 12544},
    {"mnv2 24x96", 0, 24, 96, 3136},
    {"mnv2 144x24", 0, 144, 24, 3136},
    {"mnv2 32x144", 0, 32, 144, 784},
    {"mnv2 384x64", 0, 384, 64, 196},
    {"mnv2 160x960", 0, 160, 960, 49},
    {"mnv2 1280x320", 0, 1280, 320, 49},
    /* MiniLM, seq 128, hidden 384 (MxKxN) */
    {"minilm qkv/out", 1, 128, 384, 384},
    {"minilm ffn up", 1, 128, 384, 1536},
    {"minilm ffn down", 1, 128, 1536, 384},
    {"minilm attn QK^T", 2, 128, 32, 128},
    {"minilm attn PV", 2, 128, 128, 32},
    /* batch-1 classifiers (GEMV) */
    {"gemv r18 fc", 1, 1, 512, 1000},
    {"gemv mnv2 fc", 1, 1, 1280, 1000},
};
#define N_SHAPES (sizeof k_shapes / sizeof k_shapes[0])

static float *rand_buf(size_t n) {
    float *p = malloc(n * sizeof(float) + 64);
    for (size_t i = 0; i < n; i++) p[i] = (float)((rand() % 2001) - 1000) * 1e-3f;
    return p;
}

typedef struct bench {
    const shape *s;
    const ei_gemm_kernel *g;
    const float *a, *b;
    float *packed, *c;
    const ei_gemm_epilogue *ep;
} bench;

static void run_ours(const bench *x) {
    const shape *s = x->s;
    const ei_gemm_kernel *g = x->g;
    if (s->mode == 0) {
        g->gemm_pa(s->k, x->packed, x->b, s->n, x->c, s->n, x->ep, 0, s->m, 0, s->n);
    } else {
        if (s->mode == 2) g->pack_b(s->k, s->n, x->b, s->n, 0, x->packed);
        g->gemm_pb(s->k, x->a, s->k, x->packed, x->c, s->n, x->ep, 0, s->m, 0, s->n);
    }
}
static void run_sgemm(const bench *x) {
    const shape *s = x->s;
    ei_sgemm(0, 0, s->m, s->n, s->k, 1.0f, x->a, s->k, x->b, s->n, 0.0f, x->c, s->n);
}

#define MAX_VARIANTS 4

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    double min_s = (argc > 2 ? atof(argv[2]) : 20.0) * 1e-3;
    const char *filter = argc > 3 && argv[3][0] ? argv[3] : NULL;
    const int use_min = argc > 4 && strcmp(argv[4], "min") == 0;
    const int use_epi = argc > 5 && strcmp(argv[5], "epi") == 0;
    if (rounds < 1) rounds = 1;

    /* the ISAs of this CPU */
    const ei_gemm_kernel *gs[MAX_VARIANTS];
    const char *gnames[MAX_VARIANTS];
    int ng = 0;
    static const ei_isa isas[] = {EI_ISA_AVX2, EI_ISA_AVX512, EI_ISA_NEON};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        ei_kernel_table t;
        if (ei_kernels_for_isa(isas[i], &t) != isas[i]) continue;
        gs[ng] = t.f32_gemm_packed();
        gnames[ng] = gs[ng]->name;
        ng++;
    }
    if (ng == 0) {
        ei_kernel_table t;
        ei_kernels_for_isa(EI_ISA_REF, &t);
        gs[ng] = t.f32_gemm_packed();
        gnames[ng] = gs[ng]->name;
        ng++;
    }

    double peak = 0;
#if defined(__x86_64__)
    double p2 = ei_cpu_best_isa() >= EI_ISA_AVX2 ? peak_gflops(fma_loop_avx2, 8) : 0;
    double p5 = ei_cpu_best_isa() >= EI_ISA_AVX512 ? peak_gflops(fma_loop_avx512, 16) : 0;
    printf("FP32 peak, 1 thread (12 independent FMA chains): avx2 %.1f GFLOP/s, avx512 %.1f "
           "GFLOP/s\n",
           p2, p5);
    peak = p2 > p5 ? p2 : p5;
#elif defined(__aarch64__)
    peak = peak_gflops(fma_loop_neon, 4);
    printf("FP32 peak, 1 thread (12 independent FMA chains): neon %.1f GFLOP/s\n", peak);
#endif
    printf("baseline: ei_sgemm = %s, 1 thread; %d rounds, %s per call\n",
           ei_has_blas() ? "cblas_sgemm (OpenBLAS)" : "built-in f32_gemm kernel", rounds,
           use_min ? "fastest round" : "median");
    if (use_epi) printf("ours: fused epilogue bias + relu; ei_sgemm: plain\n");
    printf("%-20s %5s %5s %6s |", "shape", "M", "K", "N");
    for (int v = 0; v < ng; v++) printf(" %14s %5s", gnames[v], "%pk");
    printf(" | %14s %5s |", "sgemm GF/s", "%pk");
    for (int v = 0; v < ng; v++) printf(" %6s", "ratio");
    printf("\n");

    for (size_t si = 0; si < N_SHAPES; si++) {
        const shape *s = &k_shapes[si];
        if (filter && !strstr(s->name, filter)) continue;
        float *a = rand_buf(s->m * s->k), *b = rand_buf(s->k * s->n);
        float *c = rand_buf(s->m * s->n);
        float *bias = rand_buf(s->m > s->n ? s->m : s->n);
        const ei_gemm_epilogue epi = {bias, s->mode != 0, NULL, 0, {EI_ACT_KIND_RELU, 0, 0}};
        bench bs[MAX_VARIANTS + 1];
        for (int v = 0; v < ng; v++) {
            size_t bytes =
                s->mode == 0 ? gs[v]->pack_a_size(s->m, s->k) : gs[v]->pack_b_size(s->k, s->n);
            float *packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
            if (s->mode == 0)
                gs[v]->pack_a(s->m, s->k, a, s->k, 0, packed);
            else
                gs[v]->pack_b(s->k, s->n, b, s->n, 0, packed);
            bs[v] = (bench){s, gs[v], a, b, packed, c, use_epi ? &epi : NULL};
        }
        bs[ng] = (bench){s, NULL, a, b, NULL, c, NULL};
        /* calls per measurement: enough for min_s */
        double t0 = now();
        run_sgemm(&bs[ng]);
        double one = now() - t0;
        long reps = one > 0 ? (long)(min_s / one) + 1 : 1000;
        static double t[MAX_VARIANTS + 1][64];
        if (rounds > 64) rounds = 64;
        for (int r = 0; r < rounds; r++) {
            for (int v = 0; v <= ng; v++) {
                /* alternate the order every round */
                int w = (r & 1) ? ng - v : v;
                double t1 = now();
                for (long i = 0; i < reps; i++) {
                    if (w == ng)
                        run_sgemm(&bs[w]);
                    else
                        run_ours(&bs[w]);
                }
                t[w][r] = (now() - t1) / (double)reps;
            }
        }
        double flop = 2.0 * (double)s->m * (double)s->k * (double)s->n;
        double gf[MAX_VARIANTS + 1];
        for (int v = 0; v <= ng; v++) {
            qsort(t[v], (size_t)rounds, sizeof(double), cmp_double);
            gf[v] = flop / t[v][use_min ? 0 : rounds / 2] * 1e-9;
        }
        printf("%-20s %5zu %5zu %6zu |", s->name, s->m, s->k, s->n);
        for (int v = 0; v <= ng; v++) {
            printf(" %14.1f %4.0f%%", gf[v], peak > 0 ? 100.0 * gf[v] / peak : 0.0);
            if (v == ng - 1) printf(" |");
        }
        printf(" |");
        for (int v = 0; v < ng; v++) printf(" %6.2f", gf[v] / gf[ng]);
        printf("\n");
        fflush(stdout);
        for (int v = 0; v < ng; v++) free(bs[v].packed);
        free(a);
        free(b);
        free(c);
        free(bias);
    }
    return 0;
}
