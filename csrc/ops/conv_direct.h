/*
 * conv_direct.h - the direct path of Conv / FusedConv for convolutions with few input
 * channels (a network's first layer: RGB input, 3x3 or 7x7, often stride 2): kernel slot
 * f32_conv2d_direct (kernels.h) computes 16 output channels per vector from broadcast
 * input pixels. There K = cin * k_h * k_w is 27..147, too short for the GEMM paths to
 * pay for gathering the patches: measured on AVX-512, 1 thread, 3 -> 16 channels, 3x3
 * stride 2 on 224x224 went from 0.29 ms (implicit GEMM) to 0.18 ms (onnxruntime: 0.13),
 * 3 -> 64, 7x7 stride 2 (ResNet) from 3.45 to 3.16 ms (onnxruntime: 2.41); thread CPU
 * time, medians.
 *
 * Used for 2-D, one group, dilation 1, at most 4 input channels, 8+ output channels,
 * outputs 16+ pixels wide, constant W, on AVX2 and AVX-512 (elsewhere the slot is only the scalar
 * reference and the GEMM path stays faster). EI_CONV_DIRECT=0 turns it off, =1 on for every such
 * conv on any ISA (read when a session plans).
 */
#ifndef EI_CONV_DIRECT_H
#define EI_CONV_DIRECT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/conv_geometry.h"

typedef struct ei_conv_direct {
    float *packed;   /* [ceil(cout/16)][cin][k_h][k_w][16] */
    const void *src; /* W's data when packed */
    size_t cout, cin, k_h, k_w;
    ei_conv2d_direct_params p;
    size_t blocks, row_chunk, row_chunks; /* tasks: images x blocks x row chunks */
} ei_conv_direct;

/* Whether the kernel computes this geometry at all (2-D, one group, dilation 1, sizes
 * in range), and whether it is expected to win (the rule above, EI_CONV_DIRECT). Once W
 * is freed after packing for this path, the path is kept for every eligible shape. */
bool ei_conv_direct_eligible(const ei_geom *g, int64_t group, size_t cin, size_t cout);
bool ei_conv_direct_wanted(const ei_geom *g, int64_t group, size_t cin, size_t cout);
ei_status ei_conv_direct_pack(const ei_node *node, ei_conv_direct *d, const float *w, size_t cout,
                              size_t cin, size_t k_h, size_t k_w, const char *wname);
void ei_conv_direct_plan(ei_conv_direct *d, const ei_geom *g, ei_act act, size_t threads);
size_t ei_conv_direct_tasks(const ei_conv_direct *d, size_t n);
void ei_conv_direct_task(const ei_conv_direct *d, size_t task, const float *x, const float *b,
                         const float *z, float *y);
void ei_conv_direct_free(ei_conv_direct *d);

#endif /* EI_CONV_DIRECT_H */
