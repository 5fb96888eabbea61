/*
 * gemm.h - register-blocked f32 GEMM with prepacked constant operands and a fused epilogue.
 * Two single-threaded entry points over one micro-kernel per ISA (plus gemm_pa_conv, the
 * packed-A product with B an implicit im2col matrix):
 *
 *   packed A (Conv, NCHW):   C[M,N] = Wpacked[M,K] * B[K,N]   B = input / im2col, row-major,
 *                            read in place; vectorized along N (pixels).
 *   packed B (Gemm, MatMul): C[M,N] = A[M,K] * Wpacked[K,N]   A = activations, row-major;
 *                            M = 1 (batch-1 fully connected) has its own streaming path.
 *
 * The panel shapes (mr, nr) differ per ISA, so the packed buffers must be made and consumed
 * by the same descriptor: take it once from the kernel table and keep it with the weights.
 *
 *     const ei_gemm_kernel *g = ei_gemm_kernel_get();        // ei_kernels()->f32_gemm_packed()
 *     size_t bytes = g->pack_a_size(M, K);                   // 0 with M*K > 0: overflow
 *     float *wp = aligned_alloc(64, round_up(bytes, 64));    // once, at session creation
 *     g->pack_a(M, K, w, K, 0, wp);                          // w = conv weights [M][Cin*kh*kw]
 *     ei_gemm_epilogue ep = {bias, 0, NULL, 0, {EI_ACT_KIND_RELU, 0, 0}};
 *     // per run, per thread: any column range [n0,n1), rows [m0,m1) with m0 % g->mr == 0
 *     g->gemm_pa(K, wp, x, HW, y, HW, &ep, 0, M, n0, n1);
 *
 * Threading: every call computes the sub-block C[m0:m1, n0:n1] of one logical product, with
 * all pointers (A/B, C, bias, residual) to the whole matrices, so threads pass the same
 * arguments and disjoint ranges, and the result is bitwise the same as one full call.
 * gemm_pa: m0 % mr == 0, n0 anything. gemm_pb: n0 % nr == 0, m0 anything. (m1 and n1 may
 * end anywhere up to M and N.) Split the dimension that gives each thread >= ~mr or ~64
 * columns; for conv prefer N (pixels) in blocks that are multiples of 64.
 */
#ifndef EI_GEMM_H
#define EI_GEMM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

/* C = act(acc + bias + residual), applied once per element after the last K block, while
 * the tile is in registers (bias, residual, NONE/RELU/CLIP) or in L1 (other activations,
 * through ei_f32_act_apply on each finished tile row). A NULL epilogue is a plain store.
 *   bias: NULL, or bias[m] (bias_per_col = 0: conv output channel) or bias[n] (= 1: Gemm).
 *   residual: NULL, or residual[m * ldr + n], ldr >= N; it may alias nothing written.
 * Pointers need only float alignment. */
typedef struct ei_gemm_epilogue {
    const float *bias;
    int bias_per_col;
    const float *residual;
    size_t ldr;
    ei_act act;
} ei_gemm_epilogue;

/* The geometry of gemm_pa_conv's implicit B: the im2col matrix of one group's input block
 * x (NCDHW, channel stride in[0]*in[1]*in[2]), never materialized. Spatial dims are
 * (depth, height, width); 1-D and 2-D convs set the leading ones to in = out = k = s = d = 1,
 * pad = 0. Row p of B is (c, kd, kh, kw) = p in row-major order over
 * [channels][k[0]][k[1]][k[2]] (W's layout, so K = channels * k[0]*k[1]*k[2]); column n is
 * output pixel n (row-major over out[]); the element is x[c][od*s0 - pad0 + kd*d0][...] or 0
 * where that falls in the padding. Sizes as validated by the conv op (coordinates fit in
 * int64). */
typedef struct ei_gemm_conv {
    size_t channels;
    size_t in[3], out[3], k[3], s[3], d[3], pad[3];
} ei_gemm_conv;

/* One ISA's GEMM. Contracts common to all functions:
 *  - Row-major everything; lda/ldb/ldc >= the row length; pointers need float alignment
 *    (packed buffers: 64-byte alignment recommended, not required).
 *  - Nothing is read or written outside the logical matrices (tails are masked or go
 *    through a stack tile), so inputs may end at a page boundary.
 *  - C may not alias A, B, the packed buffer, bias or residual. C is not read (may hold
 *    NaN) except where the kernel itself wrote it in an earlier K block of the same call.
 *  - K = 0 gives C = epilogue(0). Empty ranges (m0 >= m1 or n0 >= n1) do nothing.
 *  - Accumulation is one FMA chain per element in K order (K blocking reloads C into the
 *    accumulator), so any split into ranges gives identical bits.
 *  - No allocation; stack use up to ~48 KiB (gemm_pa's copy of a K block of B columns). */
typedef struct ei_gemm_kernel {
    const char *name; /* e.g. "avx512_12x32" */
    size_t mr;        /* rows of an A panel (packed A), tile rows */
    size_t nr;        /* columns of a B panel (packed B), tile columns */

    /* Bytes of the packed form of the M x K weights: ceil(M/mr)*mr*K floats; 0 when M or K
     * is 0, or on size_t overflow (check M*K > 0 to tell them apart). */
    size_t (*pack_a_size)(size_t m, size_t k);
    /* Packs A[M,K] (trans_a = 0: a[i*lda + p]; trans_a = 1: A stored as [K][M], a[p*lda + i])
     * into panels of mr rows, K-major inside a panel, the last panel zero-padded. */
    void (*pack_a)(size_t m, size_t k, const float *a, size_t lda, int trans_a, float *packed);
    /* C[m0:m1, n0:n1] = epilogue(A * B[K,N]) with A packed by pack_a (with the same K);
     * b[p*ldb + n]; m0 % mr == 0. B is read in place (each K block x nr slice is copied to
     * a stack block once and reused by all row panels). */
    void (*gemm_pa)(size_t k, const float *packed_a, const float *b, size_t ldb, float *c,
                    size_t ldc, const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0,
                    size_t n1);
    /* Implicit-GEMM convolution: gemm_pa with B the im2col matrix of x described by cv
     * (K = cv->channels * k[0]*k[1]*k[2], N = out[0]*out[1]*out[2]), gathered straight
     * from x into the same stack blocks that gemm_pa copies B into. Bitwise equal to
     * gemm_pa on the materialized im2col matrix. Reads only x's in-bounds elements. */
    void (*gemm_pa_conv)(const ei_gemm_conv *cv, const float *packed_a, const float *x, float *c,
                         size_t ldc, const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0,
                         size_t n1);

    /* Bytes of the packed form of the K x N weights: K*ceil(N/nr)*nr floats; 0 as above. */
    size_t (*pack_b_size)(size_t k, size_t n);
    /* Packs B[K,N] (trans_b = 0: b[p*ldb + n]; trans_b = 1: B stored as [N][K] like ONNX
     * Gemm's transB, b[n*ldb + p]) into panels of nr columns, K-major, zero-padded. */
    void (*pack_b)(size_t k, size_t n, const float *b, size_t ldb, int trans_b, float *packed);
    /* C[m0:m1, n0:n1] = epilogue(A[M,K] * B) with B packed by pack_b (same K); a[i*lda + p];
     * n0 % nr == 0. */
    void (*gemm_pb)(size_t k, const float *a, size_t lda, const float *packed_b, float *c,
                    size_t ldc, const ei_gemm_epilogue *ep, size_t m0, size_t m1, size_t n0,
                    size_t n1);
} ei_gemm_kernel;

/* The descriptor of the dispatched table (slot f32_gemm_packed). For tests of one ISA:
 * ei_kernel_table t; ei_kernels_for_isa(isa, &t); t.f32_gemm_packed(). */
static inline const ei_gemm_kernel *ei_gemm_kernel_get(void) {
    return ei_kernels()->f32_gemm_packed();
}

/* Whether ops should use the packed kernels for constant weights: yes, unless the
 * environment has EI_GEMM=blas (read when a session plans), which sends every product to
 * ei_sgemm (OpenBLAS), for comparisons and bug reports. */
static inline int ei_gemm_packed_enabled(void) {
    const char *e = getenv("EI_GEMM");
    return !(e && strcmp(e, "blas") == 0);
}

#endif /* EI_GEMM_H */
