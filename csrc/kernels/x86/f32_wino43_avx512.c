/*
 * x86/f32_wino43_avx512.c - Winograd F(4x4, 3x3) transforms (slots f32_wino43_in and
 * f32_wino43_out): the AVX-512 build of the plain-C source in kernels/wino43_impl.h,
 * which the compiler vectorizes across the tiles of a tile row.
 */
#include "kernels/kernels_isa.h"

#define EI_WINO_FN(name) ei_##name##__avx512
#include "kernels/wino43_impl.h"
