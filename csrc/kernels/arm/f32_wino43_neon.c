/*
 * arm/f32_wino43_neon.c - Winograd F(4x4, 3x3) transforms (slots f32_wino43_in and
 * f32_wino43_out): the NEON build of the plain-C source in kernels/wino43_impl.h,
 * which the compiler vectorizes across the tiles of a tile row.
 */
#include "kernels/kernels_isa.h"

#define EI_WINO_FN(name) ei_##name##__neon
#include "kernels/wino43_impl.h"
