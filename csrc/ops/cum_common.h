/*
 * cum_common.h - what CumSum and CumProd share: attributes, the axis input (known at
 * reshape, else read just before the node runs), the [outer, len, inner] view, and the
 * scan itself, which walks contiguous inner rows so it stays contiguous for any axis.
 */
#ifndef EI_OPS_CUM_COMMON_H
#define EI_OPS_CUM_COMMON_H

#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct ei_cum_state {
    int64_t exclusive, reverse;
    size_t outer, len, inner;
} ei_cum_state;

static inline ei_status ei_cum_prepare(ei_node *node) {
    ei_status st = EI_STATUS_OK;
    ei_cum_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    EI_TRY(ei_node_attr_int(node, "exclusive", 0, &s->exclusive));
    EI_TRY(ei_node_attr_int(node, "reverse", 0, &s->reverse));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* The infer after the op's dtype check: reads the axis (at most max_axis values, so a
 * longer input is reported by the caller's choice of message), views x as
 * [outer, len, inner] and shapes the output like x. */
static inline ei_status ei_cum_infer_axis(ei_exec *ex, ei_node *node, size_t max_axis) {
    ei_cum_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *av = ei_node_in(ex, node, 1);
    int64_t a[2];
    size_t n = 0;
    int axis;
    if (!ei_input_ready(ex, av)) { /* fed at run time: known when it runs */
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(ei_elem_read_ints(node, av, "axis", a, max_axis, &n));
    if (n != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (axis) must hold exactly one value", av->name);
    if (x->rank == 0 || !ei_elem_norm_axis(a[0], x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "axis %lld is out of range for input '%s' of rank %d", (long long)a[0],
                             x->name, x->rank);
    s->outer = s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= (size_t)x->dims[i];
        if (i > axis) s->inner *= (size_t)x->dims[i];
    }
    s->len = (size_t)x->dims[axis];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, x->dims);
}

/* Row r of the output (in scan order) = OP(row r-1 of the output, row r of the input)
 * (inclusive) or OP(row r-1 of the output, row r-1 of the input) (exclusive); the first
 * row is the input row or IDENTITY. */
#define EI_CUM_SCAN(NAME, T, IDENTITY, OP)                                                         \
    static void NAME(const ei_cum_state *s, const T *x, T *y) {                                    \
        size_t in = s->inner, len = s->len;                                                        \
        for (size_t o = 0; o < s->outer; o++) {                                                    \
            const T *xo = x + o * len * in;                                                        \
            T *yo = y + o * len * in;                                                              \
            for (size_t k = 0; k < len; k++) {                                                     \
                size_t r = s->reverse ? len - 1 - k : k;                                           \
                size_t p = s->reverse ? r + 1 : r - 1; /* previous row in scan order */            \
                T *yr = yo + r * in;                                                               \
                if (k == 0) {                                                                      \
                    for (size_t j = 0; j < in; j++)                                                \
                        yr[j] = s->exclusive ? (T)(IDENTITY) : xo[r * in + j];                     \
                } else {                                                                           \
                    const T *prev = yo + p * in;                                                   \
                    const T *arg = s->exclusive ? xo + p * in : xo + r * in;                       \
                    for (size_t j = 0; j < in; j++)                                                \
                        yr[j] = OP(T, prev[j], arg[j]);                                            \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#endif /* EI_OPS_CUM_COMMON_H */
