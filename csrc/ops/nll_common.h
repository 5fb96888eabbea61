/*
 * nll_common.h - the negative-log-likelihood core shared by NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss: attribute parsing (reduction, ignore_index), shape checks of
 * [N, C, d1..dk] scores against [N, d1..dk] targets and [C] weights, the target range check
 * done in run, and the loss itself over log-probabilities viewed as [N, C, D].
 * Sums are accumulated in double; the result is stored in the input's type.
 */
#ifndef EI_OPS_NLL_COMMON_H
#define EI_OPS_NLL_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/index_util.h"

typedef enum ei_nll_reduction {
    EI_NLL_REDUCTION_NONE = 0,
    EI_NLL_REDUCTION_SUM = 1,
    EI_NLL_REDUCTION_MEAN = 2
} ei_nll_reduction;

typedef struct ei_nll_state {
    ei_nll_reduction reduction;
    bool has_ii; /* ignore_index attribute present */
    int64_t ii;
    size_t n, c, d; /* scores viewed as [n, c, d]; from the last infer */
} ei_nll_state;

/* Reads reduction (default "mean") and ignore_index into s. */
static inline ei_status ei_nll_parse(const ei_node *node, ei_nll_state *s) {
    const char *red = NULL;
    EI_CHECK(ei_node_attr_string(node, "reduction", "mean", &red));
    if (strcmp(red, "none") == 0)
        s->reduction = EI_NLL_REDUCTION_NONE;
    else if (strcmp(red, "sum") == 0)
        s->reduction = EI_NLL_REDUCTION_SUM;
    else if (strcmp(red, "mean") == 0)
        s->reduction = EI_NLL_REDUCTION_MEAN;
    else
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'reduction' = '%s' is not one of none, sum, mean", red);
    s->has_ii = ei_node_attr(node, "ignore_index") != NULL;
    EI_CHECK(ei_node_attr_int(node, "ignore_index", 0, &s->ii));
    return EI_STATUS_OK;
}

/* Validates dtypes and shapes of scores x, target t and optional weight w, fills s->n/c/d and
 * sets the loss output y: t's shape for reduction none, a scalar otherwise. */
static inline ei_status ei_nll_infer(const ei_node *node, ei_nll_state *s, const ei_value *x,
                                     const ei_value *t, const ei_value *w, ei_value *y) {
    char b1[160], b2[160];
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64", x->name,
                             ei_dtype_name(x->dtype));
    if (t->dtype != EI_DTYPE_I32 && t->dtype != EI_DTYPE_I64)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (target) must be int32 or int64, got %s", t->name,
                             ei_dtype_name(t->dtype));
    if (x->rank < 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must have rank >= 2 ([N, C, d1, ...])", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1));
    bool ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
    for (int i = 1; ok && i < t->rank; i++)
        if (t->dims[i] != x->dims[i + 1]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (target) %s must have the shape of input '%s' %s "
                             "without its class dim 1",
                             t->name, ei_shape_str(t->rank, t->dims, b1, sizeof b1), x->name,
                             ei_shape_str(x->rank, x->dims, b2, sizeof b2));
    if (w) {
        if (w->dtype != x->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (weight) has dtype %s, expected %s like '%s'", w->name,
                                 ei_dtype_name(w->dtype), ei_dtype_name(x->dtype), x->name);
        if (w->rank != 1 || w->dims[0] != x->dims[1])
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' (weight) %s must be 1-D of length C = %lld", w->name,
                                 ei_shape_str(w->rank, w->dims, b1, sizeof b1),
                                 (long long)x->dims[1]);
    }
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->d = 1;
    for (int i = 2; i < x->rank; i++)
        s->d *= (size_t)x->dims[i]; /* bounded by x's element count, checked by set_shape */
    if (s->reduction == EI_NLL_REDUCTION_NONE)
        return ei_elem_set_out(node, y, x->dtype, t->rank, t->dims);
    return ei_elem_set_out(node, y, x->dtype, 0, NULL);
}

/* Every target is in [0, C) or equals ignore_index. */
static inline ei_status ei_nll_check_targets(const ei_node *node, const ei_nll_state *s,
                                             const ei_value *t) {
    size_t numel = s->n * s->d;
    for (size_t k = 0; k < numel; k++) {
        int64_t v = ei_index_at(t, k);
        if (s->has_ii && v == s->ii) continue;
        if (v < 0 || (uint64_t)v >= (uint64_t)s->c)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "target %lld in input '%s' is out of range [0, %zu) and is not "
                                 "ignore_index",
                                 (long long)v, t->name, s->c);
    }
    return EI_STATUS_OK;
}

/* y = NLL of log-probabilities lp [n, c, d]; targets checked before. w may be NULL.
 * Mean divides by the sum of the applied weights (1 per target without weight, 0 for an
 * ignored one). */
#define EI_NLL_IMPL(NAME, T)                                                                       \
    static inline void NAME(const ei_nll_state *s, const T *lp, const ei_value *t, const T *w,     \
                            T *y) {                                                                \
        double acc = 0.0, wacc = 0.0;                                                              \
        const size_t C = s->c, D = s->d;                                                           \
        for (size_t n = 0; n < s->n; n++) {                                                        \
            for (size_t d = 0; d < D; d++) {                                                       \
                size_t k = n * D + d;                                                              \
                int64_t v = ei_index_at(t, k);                                                     \
                if (s->has_ii && v == s->ii) {                                                     \
                    if (s->reduction == EI_NLL_REDUCTION_NONE) y[k] = (T)0;                        \
                    continue;                                                                      \
                }                                                                                  \
                T wt = w ? w[v] : (T)1;                                                            \
                T l = -lp[(n * C + (size_t)v) * D + d] * wt;                                       \
                if (s->reduction == EI_NLL_REDUCTION_NONE)                                         \
                    y[k] = l;                                                                      \
                else {                                                                             \
                    acc += (double)l;                                                              \
                    wacc += (double)wt;                                                            \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        if (s->reduction == EI_NLL_REDUCTION_SUM) y[0] = (T)acc;                                   \
        if (s->reduction == EI_NLL_REDUCTION_MEAN) y[0] = (T)(acc / wacc);                         \
    }

EI_NLL_IMPL(ei_nll_f32, float)
EI_NLL_IMPL(ei_nll_f64, double)

/* Checks the targets, then computes the loss of lp (x's dtype) into y. */
static inline ei_status ei_nll_compute(const ei_node *node, const ei_nll_state *s, ei_dtype dt,
                                       const void *lp, const ei_value *t, const ei_value *w,
                                       void *y) {
    EI_CHECK(ei_nll_check_targets(node, s, t));
    if (dt == EI_DTYPE_F32)
        ei_nll_f32(s, lp, t, w ? (const float *)w->data : NULL, y);
    else
        ei_nll_f64(s, lp, t, w ? (const double *)w->data : NULL, y);
    return EI_STATUS_OK;
}

#endif /* EI_OPS_NLL_COMMON_H */
