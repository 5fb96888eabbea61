/*
 * range.c - Range: start, start + delta, ... up to limit (exclusive) for float, double,
 * int16/32/64, and (opset 27) float16/bfloat16 computed in float. Integer counts are exact
 * (no overflow for any int64 inputs); values are start + i * delta, as the spec writes them.
 * When the three scalars are not known at infer the node is dynamic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

/* Counts above this are refused: no real Range output comes near it. */
#define RANGE_MAX_COUNT ((int64_t)1 << 40)

typedef struct range_state {
    int64_t count; /* from the last infer when not dynamic */
} range_state;

static ei_status range_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    range_state *s = NULL;
    int64_t stash = 1;
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    if (node->opset >= 27) EI_TRY(ei_node_attr_int(node, "stash_type", 1, &stash));
    if (stash != 1) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'stash_type' = %lld: only 1 (float) is supported",
                           (long long)stash);
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static float range_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0x1f) {
        x = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* Round to nearest even; NaN stays NaN, overflow gives infinity. */
static uint16_t range_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xffu) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    int32_t he = (int32_t)e - 127 + 15;
    if (he >= 0x1f) return (uint16_t)(sign | 0x7c00u);
    if (he <= 0) {
        if (he < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - he), half = m >> shift, rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)he << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)h;
}

static float range_bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static uint16_t range_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

static bool range_is_int(ei_dtype t) {
    return t == EI_DTYPE_I16 || t == EI_DTYPE_I32 || t == EI_DTYPE_I64;
}

/* The scalar at v as int64 (integer types) or double (float types). */
static int64_t range_get_int(const ei_value *v) {
    switch (v->dtype) {
    case EI_DTYPE_I16: {
        int16_t x;
        memcpy(&x, v->data, 2);
        return x;
    }
    case EI_DTYPE_I32: {
        int32_t x;
        memcpy(&x, v->data, 4);
        return x;
    }
    default: {
        int64_t x;
        memcpy(&x, v->data, 8);
        return x;
    }
    }
}

static double range_get_float(const ei_value *v) {
    switch (v->dtype) {
    case EI_DTYPE_F32: {
        float x;
        memcpy(&x, v->data, 4);
        return x;
    }
    case EI_DTYPE_F64: {
        double x;
        memcpy(&x, v->data, 8);
        return x;
    }
    default: {
        uint16_t h;
        memcpy(&h, v->data, 2);
        return v->dtype == EI_DTYPE_F16 ? range_f16_to_f32(h) : range_bf16_to_f32(h);
    }
    }
}

static ei_status range_count(const ei_exec *ex, const ei_node *node, int64_t *count) {
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1),
                   *d = ei_node_in(ex, node, 2);
    const char *dn = d->name;
    if (range_is_int(a->dtype)) {
        int64_t start = range_get_int(a), limit = range_get_int(b), delta = range_get_int(d);
        uint64_t diff, mag;
        if (delta == 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' (delta) is 0", dn);
        if ((delta > 0 && limit <= start) || (delta < 0 && limit >= start)) {
            *count = 0;
            return EI_STATUS_OK;
        }
        /* |limit - start| and |delta| fit in uint64 for any int64 inputs. */
        diff = delta > 0 ? (uint64_t)limit - (uint64_t)start : (uint64_t)start - (uint64_t)limit;
        mag = delta > 0 ? (uint64_t)delta : (uint64_t)0 - (uint64_t)delta;
        uint64_t n = diff / mag + (diff % mag != 0);
        if (n > (uint64_t)RANGE_MAX_COUNT)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "Range of %llu elements is too large", (unsigned long long)n);
        *count = (int64_t)n;
        return EI_STATUS_OK;
    }
    double start = range_get_float(a), limit = range_get_float(b), delta = range_get_float(d);
    if (delta == 0.0)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' (delta) is 0", dn);
    /* float32 subtracts in float, as the float computation it stands for would. */
    double span = a->dtype == EI_DTYPE_F64 ? limit - start : (double)((float)limit - (float)start);
    double n = ceil(span / delta);
    if (isnan(n))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "Range(%g, %g, %g) has no defined length", start, limit, delta);
    if (n > (double)RANGE_MAX_COUNT)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "Range(%g, %g, %g) is too large (%g elements)", start, limit, delta,
                             n);
    *count = n > 0 ? (int64_t)n : 0;
    return EI_STATUS_OK;
}

static ei_status range_infer(ei_exec *ex, ei_node *node) {
    range_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0);
    ei_dtype t = a->dtype;
    bool ok = t == EI_DTYPE_F32 || t == EI_DTYPE_F64 || range_is_int(t) ||
              ((t == EI_DTYPE_F16 || t == EI_DTYPE_BF16) && node->opset >= 27);
    if (!ok)
        return ei_node_error(
            node, EI_STATUS_UNSUPPORTED,
            "input '%s' has dtype %s: Range at opset %d takes float, double, int16, "
            "int32, int64%s",
            a->name, ei_dtype_name(t), node->opset, node->opset >= 27 ? ", float16, bfloat16" : "");
    bool known = true;
    for (int i = 0; i < 3; i++) {
        const ei_value *v = ei_node_in(ex, node, i);
        if (v->dtype != t)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' has dtype %s, expected %s like input '%s'", v->name,
                                 ei_dtype_name(v->dtype), ei_dtype_name(t), a->name);
        if (ei_value_numel(v) != 1 || v->rank > 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' must be a scalar, got rank %d with %zu elements",
                                 v->name, v->rank, ei_value_numel(v));
        if (!ei_value_known(v)) known = false;
    }
    if (!known) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(range_count(ex, node, &s->count));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), t, 1, &s->count);
}

static ei_status range_run(ei_exec *ex, ei_node *node) {
    const range_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *d = ei_node_in(ex, node, 2);
    int64_t n = s->count;
    if (node->dynamic) {
        EI_CHECK(range_count(ex, node, &n));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, a->dtype, 1, &n));
    }
    void *y = ei_node_out(ex, node, 0)->data;
    if (range_is_int(a->dtype)) {
        /* Every value lies between start and limit; unsigned arithmetic avoids overflow in
         * the intermediate product. */
        uint64_t start = (uint64_t)range_get_int(a), delta = (uint64_t)range_get_int(d);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)(start + (uint64_t)i * delta);
            if (a->dtype == EI_DTYPE_I64) {
                ((int64_t *)y)[i] = v;
            } else if (a->dtype == EI_DTYPE_I32) {
                ((int32_t *)y)[i] = (int32_t)v;
            } else {
                ((int16_t *)y)[i] = (int16_t)v;
            }
        }
        return EI_STATUS_OK;
    }
    double start = range_get_float(a), delta = range_get_float(d);
    for (int64_t i = 0; i < n; i++) {
        double v = start + (double)i * delta;
        switch (a->dtype) {
        case EI_DTYPE_F64: ((double *)y)[i] = v; break;
        case EI_DTYPE_F32: ((float *)y)[i] = (float)v; break;
        case EI_DTYPE_F16: {
            float f = (float)start + (float)i * (float)delta; /* stash_type float */
            ((uint16_t *)y)[i] = range_f32_to_f16(f);
            break;
        }
        default: {
            float f = (float)start + (float)i * (float)delta;
            ((uint16_t *)y)[i] = range_f32_to_bf16(f);
            break;
        }
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_range = {range_prepare, range_infer, range_run, free,
                                   .dtypes = "float32 float64 int16 int32 int64 float16 bfloat16"};
