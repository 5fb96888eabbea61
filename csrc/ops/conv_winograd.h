/*
 * conv_winograd.h - the Winograd F(4x4, 3x3) path of Conv / FusedConv (ops/conv.c):
 * 2-D, 3x3, stride 1, dilation 1, one group, constant W. Each 4x4 output tile costs
 * 36 multiply-adds per (input, output) channel pair instead of 144, paid for with the
 * input/output transforms (kernel slots f32_wino43_in/out, per channel plane) and
 * weights 4x larger (36 transformed 3x3 filters per pair, packed at planning).
 *
 * A run is cut into blocks of `block` consecutive tiles (row-major over the tile grid):
 * per block, every input channel is transformed into V[36][cin][block], then 36 GEMMs
 * M[xi] = U[xi] (cout x cin, packed) * V[xi] go through the packed-A micro-kernel, then
 * each output channel's tiles are transformed back, with bias, the residual Z and the
 * activation. V and M are per-thread scratch (~1 MiB, so they stay in L2). Tasks are
 * (batch, block, output-channel chunk); chunks repeat their block's input transform and
 * only exist when the blocks are too few to keep the threads busy.
 *
 * Accuracy: the transforms scale inputs by up to 5x5 and weights by 1/24..1, so the
 * rounding of the 36-term sums is larger than a direct convolution's: against
 * onnxruntime, N(0,1) data, max error / max |y| was 3-6e-6 at 16-128 channels and 1.1e-5
 * at 256 (tests/python/test_conv_winograd.py checks 5e-5, and 2e-5 on a ResNet layer).
 */
#ifndef EI_CONV_WINOGRAD_H
#define EI_CONV_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "ops/conv_geometry.h"

typedef struct ei_conv_wino {
    /* weights: 36 matrices U[xi] [cout][cin] packed by gk->pack_a, packed_xi floats each */
    const ei_gemm_kernel *gk;
    float *packed;
    size_t packed_xi;
    size_t cin, cout;
    const void *src; /* W's data when packed: repacked only if it changes */
    /* plan */
    ei_wino_params p;
    size_t tiles, block, blocks, m_chunk, m_chunks;
    size_t v_floats, thread_floats; /* V's floats; V + M per thread (multiple of 16) */
} ei_conv_wino;

/* Whether the geometry is one this path computes: a 2-D conv with a 3x3 window, strides
 * and dilations 1, one group. */
bool ei_conv_wino_eligible(const ei_geom *g, int64_t group);

/* Whether it is expected to beat the im2col/implicit GEMM path on this shape (measured on
 * AVX-512 and AVX2, 1 and 2 threads). EI_CONV_WINOGRAD=0 turns it off, =1 on for every
 * eligible conv (read when a session plans). */
bool ei_conv_wino_wanted(const ei_geom *g, size_t cin, size_t cout);

/* Transforms and packs W [cout][cin][3][3] (once; again only when W's data changes). */
ei_status ei_conv_wino_pack(const ei_node *node, ei_conv_wino *w, const float *wdata, size_t cout,
                            size_t cin, const char *wname);

/* Plans a run on geometry g: the tile blocks and the task split. *scratch_bytes gets the
 * scratch the tasks need for `threads` threads. */
ei_status ei_conv_wino_plan(const ei_node *node, ei_conv_wino *w, const ei_geom *g, ei_act act,
                            size_t threads, size_t *scratch_bytes);

/* Number of tasks for a batch of n images, and one task (any thread, any order). x, y, z:
 * the whole NCHW tensors; b: bias or NULL; z: residual or NULL. */
size_t ei_conv_wino_tasks(const ei_conv_wino *w, size_t n);
void ei_conv_wino_task(const ei_conv_wino *w, size_t task, int thread, const float *x,
                       const float *b, const float *z, float *y, float *scratch);

void ei_conv_wino_free(ei_conv_wino *w); /* the packed weights; keeps w itself */

#endif /* EI_CONV_WINOGRAD_H */
