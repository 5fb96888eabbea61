/*
 * scatter_reduce.h - the `reduction` attribute of ScatterElements and ScatterND (none,
 * add, mul from opset 16; max, min from 18) and applying it to a run of elements.
 * Integer arithmetic wraps (done unsigned).
 */
#ifndef EI_OPS_SCATTER_REDUCE_H
#define EI_OPS_SCATTER_REDUCE_H

#include <string.h>

#include "core/core.h"

enum { EI_SCATTER_NONE, EI_SCATTER_ADD, EI_SCATTER_MUL, EI_SCATTER_MAX, EI_SCATTER_MIN };

/* Reads the `reduction` attribute when has_attr (else "none") into *out (EI_SCATTER_*). */
static inline ei_status ei_scatter_parse_reduction(ei_node *node, bool has_attr, int *out) {
    const char *red = "none";
    if (has_attr) EI_CHECK(ei_node_attr_string(node, "reduction", "none", &red));
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    *out = -1;
    for (int i = 0; i < (node->opset >= 18 ? 5 : 3); i++)
        if (strcmp(red, names[i]) == 0) *out = i;
    if (*out < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'reduction' = '%s' is not one of none, add, mul%s", red,
                             node->opset >= 18 ? ", max, min" : "");
    return EI_STATUS_OK;
}

/* dst[i] = dst[i] (op) src[i] for n elements. */
#define EI_SCATTER_LOOP(T, ADD, MUL)                                                               \
    for (size_t i = 0; i < n; i++) {                                                               \
        T a, b;                                                                                    \
        memcpy(&a, dst + i * sizeof(T), sizeof a);                                                 \
        memcpy(&b, src + i * sizeof(T), sizeof b);                                                 \
        switch (red) {                                                                             \
        case EI_SCATTER_ADD: a = (T)(ADD); break;                                                  \
        case EI_SCATTER_MUL: a = (T)(MUL); break;                                                  \
        case EI_SCATTER_MAX: a = b > a ? b : a; break;                                             \
        default: a = b < a ? b : a; break;                                                         \
        }                                                                                          \
        memcpy(dst + i * sizeof(T), &a, sizeof a);                                                 \
    }
#define EI_SCATTER_F(T) EI_SCATTER_LOOP(T, a + b, a * b)
#define EI_SCATTER_I(T) EI_SCATTER_LOOP(T, (uint64_t)a + (uint64_t)b, (uint64_t)a * (uint64_t)b)

/* Writes (red == EI_SCATTER_NONE) or reduces n elements of es bytes from src into dst. */
static inline void ei_scatter_apply(ei_dtype t, int red, char *dst, const char *src, size_t n,
                                    size_t es) {
    switch (red == EI_SCATTER_NONE ? EI_DTYPE_UNDEFINED : t) {
    case EI_DTYPE_F32: EI_SCATTER_F(float) break;
    case EI_DTYPE_F64: EI_SCATTER_F(double) break;
    case EI_DTYPE_I8: EI_SCATTER_I(int8_t) break;
    case EI_DTYPE_I16: EI_SCATTER_I(int16_t) break;
    case EI_DTYPE_I32: EI_SCATTER_I(int32_t) break;
    case EI_DTYPE_I64: EI_SCATTER_I(int64_t) break;
    case EI_DTYPE_U8: EI_SCATTER_I(uint8_t) break;
    case EI_DTYPE_U16: EI_SCATTER_I(uint16_t) break;
    case EI_DTYPE_U32: EI_SCATTER_I(uint32_t) break;
    case EI_DTYPE_U64: EI_SCATTER_I(uint64_t) break;
    default: memcpy(dst, src, n * es); break;
    }
}

#undef EI_SCATTER_F
#undef EI_SCATTER_I
#undef EI_SCATTER_LOOP

#endif
