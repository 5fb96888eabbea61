/*
 * lowbit.h - element codecs for the ONNX float8 types (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ,
 * E8M0), float4 E2M1, and the packing of sub-byte elements (int4/uint4/float4: two per byte,
 * low nibble first; int2/uint2: four per byte, lowest bits first). Pure scalar functions;
 * the ops (cast.c, quantize_linear.c) decide where they apply.
 */
#ifndef EI_OPS_LOWBIT_H
#define EI_OPS_LOWBIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeinfer/edgeinfer.h"

/* Cast's round_mode for float8e8m0 (opset 24+). */
typedef enum ei_e8m0_round { EI_E8M0_ROUND_UP = 0, EI_E8M0_ROUND_DOWN = 1, EI_E8M0_ROUND_NEAREST = 2 } ei_e8m0_round;

/* Whether t is one of the minifloat types below (float8 E4M3FN/E4M3FNUZ/E5M2/E5M2FNUZ and
 * float4 E2M1). E8M0 has its own codec. */
bool ei_lowbit_is_minifloat(ei_dtype t);

/* x rounded to nearest even in minifloat type t. Out of range (after rounding) and
 * infinities: with saturate, the largest finite value of that sign; without, inf (E5M2) or
 * NaN (the others). NaN -> NaN. The FNUZ types have no -0 (it becomes +0). float4 has no
 * inf/NaN: it always saturates, and NaN gives what ml_dtypes gives (+NaN -> 0x8, -NaN -> 0). */
uint8_t ei_lowbit_minifloat_from_f64(ei_dtype t, double x, bool saturate);

/* The value of code c (low bits) of minifloat type t, exactly. */
double ei_lowbit_minifloat_to_f64(ei_dtype t, uint8_t c);

/* float8e8m0 (2^(c-127), 0xff = NaN) from the float32 x: the sign is dropped, the exponent
 * rounded by mode (up/nearest on a non-zero fraction); NaN and inf give 0xff; saturate keeps
 * values that would round past 2^127 at 0xfe. */
uint8_t ei_lowbit_e8m0_from_f32(float x, bool saturate, ei_e8m0_round mode);
double ei_lowbit_e8m0_to_f64(uint8_t c);

/* Element i (bits = 2 or 4) of a packed buffer, as its raw unsigned code. */
static inline unsigned ei_lowbit_get(const uint8_t *p, size_t i, unsigned bits) {
    unsigned per = 8u / bits, sh = (unsigned)(i % per) * bits;
    return (p[i / per] >> sh) & ((1u << bits) - 1u);
}

/* Stores the low `bits` bits of code as element i, leaving the other elements of the byte. */
static inline void ei_lowbit_set(uint8_t *p, size_t i, unsigned bits, unsigned code) {
    unsigned per = 8u / bits, sh = (unsigned)(i % per) * bits, mask = ((1u << bits) - 1u) << sh;
    p[i / per] = (uint8_t)((p[i / per] & ~mask) | ((code << sh) & mask));
}

/* A raw code of `bits` bits read as a two's-complement signed value. */
static inline int32_t ei_lowbit_sext(unsigned code, unsigned bits) {
    return (int32_t)(code ^ (1u << (bits - 1))) - (int32_t)(1u << (bits - 1));
}

/* Packs n one-per-byte codes (low bits used) into dst (ceil(n*bits/8) bytes; the unused
 * high bits of the last byte are zeroed). */
void ei_lowbit_pack(uint8_t *dst, const uint8_t *src, size_t n, unsigned bits);
/* Unpacks n elements into one byte each; sign-extends when is_signed. */
void ei_lowbit_unpack(uint8_t *dst, const uint8_t *src, size_t n, unsigned bits, bool is_signed);

#endif /* EI_OPS_LOWBIT_H */
