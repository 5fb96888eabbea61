/*
 * kernels.h - pure compute on raw pointers: the kernel table (from kernels.def), CPU
 * feature dispatch, the GEMM entry point and the thread pool. Nothing here knows graphs.
 */
#ifndef EI_KERNELS_H
#define EI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Parameter blocks of slots that take more than a few scalars (defined below). */
struct ei_dwconv2d_params;
struct ei_wino_params;
struct ei_conv2d_direct_params;

/* Reference prototypes, and the ISA variants that exist on this target. */
#define EI_KERNEL(name, ret, params) ret ei_##name##__ref params;
#include "kernels/kernels.def"
#undef EI_KERNEL

typedef struct ei_kernel_table {
#define EI_KERNEL(name, ret, params) ret(*name) params;
#include "kernels/kernels.def"
#undef EI_KERNEL
} ei_kernel_table;

typedef enum ei_isa {
    EI_ISA_REF = 0,
    EI_ISA_AVX2 = 1,   /* AVX2 + FMA */
    EI_ISA_AVX512 = 2, /* AVX-512 F/BW/DQ/VL */
    EI_ISA_NEON = 3
} ei_isa;

/* The table in use. Initialized on first use (thread-safe) from CPU features capped by
 * the EI_ISA environment variable; reading it is free afterwards. */
const ei_kernel_table *ei_kernels(void);
/* The ISA the table was built for. */
ei_isa ei_kernels_isa(void);
/* The best ISA this CPU supports (ignoring EI_ISA). */
ei_isa ei_cpu_best_isa(void);
/* Fills *t with the table for a given ISA (capped to what the CPU supports);
 * returns the ISA actually used. For tests comparing variants to ref. */
ei_isa ei_kernels_for_isa(ei_isa isa, ei_kernel_table *t);
const char *ei_isa_str(ei_isa isa);

/* C = alpha*op(A)*op(B) + beta*C, row-major. Single-threaded: callers split work.
 * Goes to cblas_sgemm when built with OpenBLAS (kept single-threaded), else to
 * the f32_gemm kernel slot. */
void ei_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
              const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
              size_t ldc);

/* ------------------------------------------------- fused activations */

/* An activation applied in place after a producer (Conv, Gemm, MatMul) wrote its output,
 * so the values are still in cache: the epilogue of fused nodes. Parameters:
 *   CLIP: alpha = min, beta = max;   LEAKY_RELU: alpha;   HARD_SIGMOID: y = clamp(alpha*x +
 *   beta, 0, 1);   HARD_SWISH: x * hard_sigmoid(x) with alpha = 1/6, beta = 0.5 (ONNX);
 *   SILU: x * sigmoid(x);   GELU: exact (erf) form, alpha unused. */
typedef enum ei_act_kind {
    EI_ACT_KIND_NONE = 0,
    EI_ACT_KIND_RELU,
    EI_ACT_KIND_CLIP,
    EI_ACT_KIND_SIGMOID,
    EI_ACT_KIND_TANH,
    EI_ACT_KIND_LEAKY_RELU,
    EI_ACT_KIND_HARD_SIGMOID,
    EI_ACT_KIND_HARD_SWISH,
    EI_ACT_KIND_SILU,
    EI_ACT_KIND_GELU
} ei_act_kind;

typedef struct ei_act {
    ei_act_kind kind;
    float alpha, beta;
} ei_act;

/* x[0..n) = act(x), through the dispatched kernel table. NONE does nothing. */
void ei_f32_act_apply(const ei_act *act, size_t n, float *x);

/* ------------------------------------------------- depthwise convolution */

/* Channel planes of a 2-D depthwise convolution (slot f32_dwconv2d). Plane c: input
 * x + c in_h in_w [in_h][in_w], weights w + c k_h k_w [k_h][k_w], bias[c] (0 when bias is
 * NULL), output y + c out_h out_w [out_h][out_w] (z likewise); output (oy, ox) reads input
 * (oy*stride_h - pad_t + i*dil_h, ox*stride_w - pad_l + j*dil_w) for tap (i, j); taps
 * outside the input (padding) are skipped. All values >= 1 except the pads; the caller
 * (ops/conv.c) has validated that the planes fit in memory and that every size below
 * 2^62. Epilogue: y = act(conv + bias + z), z (same shape as y) optional. */
typedef struct ei_dwconv2d_params {
    size_t in_h, in_w, out_h, out_w, k_h, k_w;
    size_t stride_h, stride_w, dil_h, dil_w, pad_t, pad_l;
    ei_act act;
} ei_dwconv2d_params;

/* ------------------------------------------------- Winograd F(4x4, 3x3) */

/* One channel plane of a 3x3, stride-1, dilation-1 convolution cut into 4x4 output
 * tiles (slots f32_wino43_in / f32_wino43_out, kernels/wino43_impl.h): input
 * [in_h][in_w], output [out_h][out_w] with out = in + pads - 2; tile t (row-major over
 * tiles_h x tiles_w, tiles_w = ceil(out_w / 4)) covers outputs (4 ty.., 4 tx..) and reads
 * input rows 4 ty - pad_t .. +5 and columns 4 tx - pad_l .. +5, zeros outside. The caller
 * has checked that every size is below 2^62. act is for the caller (the kernels ignore
 * it). */
typedef struct ei_wino_params {
    size_t in_h, in_w, out_h, out_w, pad_t, pad_l, tiles_h, tiles_w;
    ei_act act;
} ei_wino_params;

/* ---------------------------------- direct convolution, channels in lanes */

/* A 2-D convolution (one group, dilation 1) computed directly with 16 output channels in
 * the vector lanes and a row of output pixels broadcast from the input: the path for
 * convolutions with few input channels (a network's first layer: 3 channels, 3x3 or 7x7,
 * stride 2), where a GEMM's K = cin * k_h * k_w is too short to pay for its patch
 * gathering (slot f32_conv2d_direct). Weights packed as [ceil(cout / 16)][cin][k_h][k_w]
 * [16] (zero past cout). Output (oc, oy, ox) = bias[oc] + the taps in (c, i, j) order
 * that fall inside the input (x[c][oy s_h - pad_t + i][ox s_w - pad_l + j]), then z,
 * then act if it is NONE, RELU or CLIP (the caller applies any other activation). Sizes
 * below 2^31, checked by the caller. */
typedef struct ei_conv2d_direct_params {
    size_t cin, cout, in_h, in_w, out_h, out_w, k_h, k_w, stride_h, stride_w, pad_t, pad_l;
    ei_act act;
} ei_conv2d_direct_params;

/* ------------------------------------------------------------ thread pool */

typedef struct ei_threadpool ei_threadpool;

/* n_threads counts the caller: 1 creates no worker threads. */
int ei_threadpool_create(int n_threads, ei_threadpool **out); /* 0 on success */
void ei_threadpool_free(ei_threadpool *tp);                   /* accepts NULL */
int ei_threadpool_size(const ei_threadpool *tp);              /* 1 for NULL */
/* Calls fn(arg, task, thread) for task in [0, n_tasks), spread over the pool's threads
 * (thread in [0, size)); returns when all are done. The caller's thread works too.
 * Workers sleep (no spinning) when no work is queued. tp may be NULL (runs inline).
 * Not reentrant: fn must not call ei_threadpool_run on the same pool. */
void ei_threadpool_run(ei_threadpool *tp, size_t n_tasks,
                       void (*fn)(void *arg, size_t task, int thread), void *arg);
/* Number of online CPUs (>= 1). */
int ei_cpu_count(void);

#endif /* EI_KERNELS_H */
