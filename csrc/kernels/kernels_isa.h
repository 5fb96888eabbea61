/*
 * kernels_isa.h - private to kernels/: prototypes of the ISA variants, generated from
 * kernels.def, and the lists of slots each ISA actually provides (dispatch.c installs
 * exactly these; a slot missing from a list keeps the next lower level's kernel).
 */
#ifndef EI_KERNELS_ISA_H
#define EI_KERNELS_ISA_H

#include "kernels/kernels.h"

/* Every slot gets a prototype per ISA of its architecture; only those in the lists below
 * are defined (a declaration without a definition is harmless while nothing uses it). */
#if defined(EI_ARCH_X86)
#define EI_KERNEL(name, ret, params)                                                               \
    ret ei_##name##__avx2 params;                                                                  \
    ret ei_##name##__avx512 params;
#include "kernels/kernels.def"
#undef EI_KERNEL
#elif defined(EI_ARCH_ARM64)
#define EI_KERNEL(name, ret, params) ret ei_##name##__neon params;
#include "kernels/kernels.def"
#undef EI_KERNEL
#endif

/* Elementwise, activation and reduction slots: these have avx2, avx512 and neon kernels. */
// clang-format off
#define EI_KERNELS_SIMD_VECTOR(X)                                                        \
    X(f32_vadd) X(f32_vsub) X(f32_vmul) X(f32_vdiv) X(f32_vmax)                          \
    X(f32_vaddc) X(f32_vsubc) X(f32_vrsubc) X(f32_vmulc) X(f32_vdivc) X(f32_vrdivc)      \
    X(f32_vaffine) X(f32_relu) X(f32_clamp) X(f32_sigmoid) X(f32_tanh)                   \
    X(f32_sum) X(f32_max)                                                                \
    X(f32_exp) X(f32_exp_sum) X(f32_erf) X(f32_gelu)                                    \
    X(f32_pool_cols_max) X(f32_pool_cols_sum) X(f32_pool_rows_max) X(f32_pool_rows_sum)
// clang-format on

/* Per ISA: the slots it provides. Add a slot here when its kernel file defines it.
 * (x32_transpose and the f32_norm pair: AVX-512 keeps the AVX2 kernels.) */
#define EI_KERNELS_AVX2(X) EI_KERNELS_SIMD_VECTOR(X) X(f32_dwconv2d) X(f32_gemm_packed) X(f32_wino43_in) X(f32_wino43_out) X(f32_conv2d_direct) X(x32_transpose) X(f32_sumsq_dev) X(f32_norm_affine)
#define EI_KERNELS_AVX512(X) EI_KERNELS_SIMD_VECTOR(X) X(f32_dwconv2d) X(f32_gemm_packed) X(f32_wino43_in) X(f32_wino43_out) X(f32_conv2d_direct)
#define EI_KERNELS_NEON(X) EI_KERNELS_SIMD_VECTOR(X) X(f32_dwconv2d) X(f32_gemm_packed) X(f32_wino43_in) X(f32_wino43_out) X(x32_transpose) X(f32_sumsq_dev) X(f32_norm_affine)

#endif /* EI_KERNELS_ISA_H */
