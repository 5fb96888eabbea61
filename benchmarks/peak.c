/* peak.c - single-thread FP32 FMA throughput of this CPU, for benchmarks/peak.py.
 * Independent FMA chains (ACC registers, enough to hide FMA latency on 2 FMA ports) on
 * the widest vectors the compiler flags allow; prints "<isa> <GFLOP/s>": the best of many
 * short repetitions, so that on a shared machine one quiet slice is enough.
 * Usage: peak [iterations per repetition] [repetitions] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACC 12
#define ITERS 500000L
#define REPS 200

#if defined(__AVX512F__)
#include <immintrin.h>
#define ISA "avx512f"
typedef __m512 vec;
#define LANES 16
#define VSET(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
static float vsum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define ISA "avx2+fma"
typedef __m256 vec;
#define LANES 8
#define VSET(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
static float vsum(vec v) {
    float t[8];
    _mm256_storeu_ps(t, v);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#elif defined(__ARM_NEON) && defined(__aarch64__)
#include <arm_neon.h>
#define ISA "neon"
typedef float32x4_t vec;
#define LANES 4
#define VSET(x) vdupq_n_f32(x)
#define VFMA(a, b, c) vfmaq_f32(c, a, b)
static float vsum(vec v) { return vaddvq_f32(v); }
#else
#define ISA "scalar"
typedef float vec;
#define LANES 1
#define VSET(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
static float vsum(vec v) { return v; }
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : ITERS;
    /* a runtime value the compiler cannot fold; 1 - 2^-20 keeps the chains finite */
    int reps = argc > 2 ? atoi(argv[2]) : REPS;
    float m = argc > 3 ? (float)atof(argv[3]) : 0.99999905f;
    double best = 0.0;
    float sink = 0.0f;
    for (int r = 0; r < reps; r++) {
        vec acc[ACC];
        for (int i = 0; i < ACC; i++) acc[i] = VSET(0.001f * (float)(i + 1));
        vec a = VSET(m), b = VSET(1e-6f);
        double t0 = now();
        for (long it = 0; it < iters; it++) {
            for (int i = 0; i < ACC; i++) acc[i] = VFMA(acc[i], a, b);
        }
        double dt = now() - t0;
        for (int i = 0; i < ACC; i++) sink += vsum(acc[i]);
        double gflops = 2.0 * LANES * ACC * (double)iters / dt * 1e-9;
        if (gflops > best) best = gflops;
    }
    printf("%s %.3f %g\n", ISA, best, (double)sink);
    return 0;
}
