/*
 * ref/f32_wino43.c - Winograd F(4x4, 3x3) transforms (slots f32_wino43_in and
 * f32_wino43_out): the reference build, with no ISA flags, of the plain-C source in
 * kernels/wino43_impl.h; the oracle of the ISA builds of the same source.
 */
#include "kernels/kernels_isa.h"

#define EI_WINO_FN(name) ei_##name##__ref
#include "kernels/wino43_impl.h"
