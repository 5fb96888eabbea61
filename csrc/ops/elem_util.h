/*
 * elem_util.h - small helpers shared by the elementwise, activation and shape ops:
 * tensor names for messages, axis normalization, reading small known int tensors
 * (shapes, axes) and splitting elementwise work into thread-pool tasks.
 * Everything is static inline so each op file stays self-contained.
 */
#ifndef EI_OPS_ELEM_UTIL_H
#define EI_OPS_ELEM_UTIL_H

#include <math.h>
#include <string.h>

#include "core/core.h"

/* Name of input/output i for messages ("?" when absent). */
static inline const char *ei_elem_in_name(const ei_exec *ex, const ei_node *n, int i) {
    const ei_value *v = ei_node_in(ex, n, i);
    return v && v->name ? v->name : "?";
}
static inline const char *ei_elem_out_name(const ei_exec *ex, const ei_node *n, int i) {
    const ei_value *v = ei_node_out(ex, n, i);
    return v && v->name ? v->name : "?";
}

/* Checks n_inputs in [min_in, max_in] (counting trailing omitted ones as absent) and
 * that output 0 is present with at most max_out outputs. */
static inline ei_status ei_elem_check_io(const ei_node *n, int min_in, int max_in, int max_out) {
    int n_in = n->n_inputs;
    while (n_in > 0 && n->inputs[n_in - 1] < 0)
        n_in--;
    if (n_in < min_in || n->n_inputs > max_in)
        return ei_node_error(n, EI_STATUS_INVALID_MODEL, "expected %d to %d inputs, got %d", min_in,
                             max_in, n->n_inputs);
    for (int i = 0; i < min_in; i++)
        if (n->inputs[i] < 0)
            return ei_node_error(n, EI_STATUS_INVALID_MODEL, "required input %d is missing", i);
    if (n->n_outputs < 1 || n->n_outputs > max_out || n->outputs[0] < 0)
        return ei_node_error(n, EI_STATUS_INVALID_MODEL,
                             "expected 1 to %d outputs with the first present, got %d", max_out,
                             n->n_outputs);
    return EI_STATUS_OK;
}

/* Sets an output's shape; on failure prefixes the message with the node. */
static inline ei_status ei_elem_set_out(const ei_node *n, ei_value *out, ei_dtype dtype, int rank,
                                        const int64_t *dims) {
    ei_status st = ei_value_set_shape(out, dtype, rank, dims);
    if (st != EI_STATUS_OK) ei_error_prefix("node '%s' (%s)", n->name, n->op_type);
    return st;
}

/* Maps axis in [-rank, rank) to [0, rank); false when out of range. */
static inline bool ei_elem_norm_axis(int64_t axis, int rank, int *out) {
    if (axis < -(int64_t)rank || axis >= (int64_t)rank) return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

/* Reads a known int32/int64 tensor of at most max elements (rank 0 or 1) into out.
 * The caller has checked ei_value_known(v). what names the input in messages. */
static inline ei_status ei_elem_read_ints(const ei_node *n, const ei_value *v, const char *what,
                                          int64_t *out, size_t max, size_t *count) {
    size_t numel;
    if (v->rank > 1)
        return ei_node_error(n, EI_STATUS_INVALID_MODEL, "input '%s' (%s) must be 1-D, got rank %d",
                             v->name, what, v->rank);
    if (v->dtype != EI_DTYPE_I64 && v->dtype != EI_DTYPE_I32)
        return ei_node_error(n, EI_STATUS_INVALID_MODEL, "input '%s' (%s) must be int64, got %s",
                             v->name, what, ei_dtype_name(v->dtype));
    if (!ei_shape_numel(v->rank, v->dims, &numel) || numel > max)
        return ei_node_error(n, EI_STATUS_UNSUPPORTED, "input '%s' (%s) has more than %zu elements",
                             v->name, what, max);
    if (numel * ei_dtype_size(v->dtype) > v->nbytes)
        return ei_node_error(n, EI_STATUS_INVALID_MODEL, "input '%s' (%s) holds too little data",
                             v->name, what);
    for (size_t i = 0; i < numel; i++) {
        if (v->dtype == EI_DTYPE_I64) {
            int64_t x;
            memcpy(&x, (const char *)v->data + i * 8, 8);
            out[i] = x;
        } else {
            int32_t x;
            memcpy(&x, (const char *)v->data + i * 4, 4);
            out[i] = x;
        }
    }
    *count = numel;
    return EI_STATUS_OK;
}

/* How many thread-pool tasks to split n elements into: one for small problems,
 * otherwise chunks of at least grain elements, a few per thread for balance, in a
 * multiple of the threads (an odd task out of a few would leave a thread idle for it). */
static inline size_t ei_elem_tasks(const ei_exec *ex, size_t n, size_t grain) {
    if (!ex->pool || ex->num_threads <= 1 || n < 2 * grain) return 1;
    size_t t = n / grain, threads = (size_t)ex->num_threads;
    if (t > 4 * threads) t = 4 * threads;
    if (t >= threads) t -= t % threads;
    return t;
}

/* [begin, end) of task t of n_tasks over n elements, in multiples of 16 elements. */
static inline void ei_elem_task_range(size_t n, size_t n_tasks, size_t t, size_t *begin,
                                      size_t *end) {
    size_t per = (n + n_tasks - 1) / n_tasks;
    per = (per + 15) & ~(size_t)15;
    size_t b = per * t, e = b + per;
    if (b > n) b = n;
    if (e > n) e = n;
    *begin = b;
    *end = e;
}

/* Float -> integer conversions with every input defined: truncation toward zero, and for NaN
 * or values outside the target's range the "integer indefinite" value (the minimum) that
 * x86-64's cvtt* instructions, and so onnxruntime's static_cast there, produce. */
static inline int64_t ei_elem_f64_to_i64(double x) {
    if (!(x >= -9223372036854775808.0 && x < 9223372036854775808.0)) return INT64_MIN;
    return (int64_t)x;
}
static inline int32_t ei_elem_f64_to_i32(double x) {
    if (!(x > -2147483649.0 && x < 2147483648.0)) return INT32_MIN;
    return (int32_t)x;
}

/* float32 <-> float16 (IEEE binary16): round to nearest even, overflow to inf, NaN kept quiet. */
static inline uint16_t ei_elem_f32_to_f16(float f) {
    uint32_t x, ax, sign;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000u;
    ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); /* NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (ax < 0x38800000u) {                                   /* below 2^-14: subnormal or 0 */
        float a;
        memcpy(&a, &ax, 4);
        /* a * 2^24 is exact and < 1024; rint rounds it to nearest even (1024 encodes the
         * smallest normal, which is also right). */
        return (uint16_t)(sign | (uint32_t)rintf(a * 16777216.0f));
    }
    uint32_t r = ax + 0xfffu + ((ax >> 13) & 1u); /* round to nearest even at bit 13 */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

static inline float ei_elem_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    float f;
    if (e == 0) {
        f = (float)m * 5.9604644775390625e-08f; /* m * 2^-24, exact */
        return sign ? -f : f;
    }
    x = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112) << 23) | (m << 13));
    memcpy(&f, &x, 4);
    return f;
}

#endif /* EI_OPS_ELEM_UTIL_H */
