/*
 * norm_util.h - the mean/variance step that GroupNormalization, InstanceNormalization and
 * LayerNormalization share: two passes over a contiguous line with the kernel table's
 * sums. Each op applies its own scale and bias. Also the attributes and the Scale/B
 * broadcast check that LayerNormalization and RMSNormalization share.
 */
#ifndef EI_OPS_NORM_UTIL_H
#define EI_OPS_NORM_UTIL_H

#include <stdlib.h>

#include "core/core.h"
#include "kernels/kernels.h"

/* Writes y = x - mean over n floats and returns the (biased) variance; *mean gets the
 * mean. n = 0: mean and variance 0, y untouched. The squares are formed in a stack block;
 * subtracting the mean first keeps precision when |mean| >> std. */
static inline float ei_norm_center(const ei_kernel_table *k, size_t n, const float *x, float *y,
                                   float *mean) {
    *mean = 0.0f;
    if (n == 0) return 0.0f;
    *mean = k->f32_sum(n, x) / (float)n;
    float tmp[256], acc = 0.0f;
    k->f32_vaddc(n, x, -*mean, y);
    for (size_t b = 0; b < n; b += 256) {
        size_t m = n - b < 256 ? n - b : 256;
        k->f32_vmul(m, y + b, y + b, tmp);
        acc += k->f32_sum(m, tmp);
    }
    return acc / (float)n;
}

/* LayerNormalization / RMSNormalization attributes: axis (default -1), epsilon (1e-5),
 * stash_type (only 1, float32, is supported). */
static inline ei_status ei_norm_parse_axis_attrs(const ei_node *node, int64_t *axis, float *epsilon) {
    int64_t stash;
    EI_CHECK(ei_node_attr_int(node, "axis", -1, axis));
    EI_CHECK(ei_node_attr_float(node, "epsilon", 1e-5f, epsilon));
    EI_CHECK(ei_node_attr_int(node, "stash_type", 1, &stash));
    if (stash != 1)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "attribute 'stash_type' = %lld; only 1 (float32) is supported", (long long)stash);
    return EI_STATUS_OK;
}

/* Whether p unidirectionally broadcasts to dims[0..n); *full when it equals it after
 * dropping leading 1s (then its data can be used as is). */
static inline bool ei_norm_bcast_ok(const ei_value *p, int n, const int64_t *dims, bool *full) {
    for (int i = 0; i < p->rank - n; i++)
        if (p->dims[i] != 1) return false;
    *full = true;
    int pr = p->rank < n ? p->rank : n;
    for (int i = 0; i < pr; i++) {
        int64_t pd = p->dims[p->rank - 1 - i], d = dims[n - 1 - i];
        if (pd != d && pd != 1) return false;
        if (pd != d) *full = false;
    }
    for (int i = pr; i < n; i++)
        if (dims[n - 1 - i] != 1) *full = false;
    return true;
}

#endif
