/*
 * one_hot.c - OneHot: inserts a depth-long axis where position indices[...] holds
 * values[1] (on) and every other position values[0] (off). Indices and depth may be any
 * integer or float type (floats are truncated); negative indices count from the end and
 * indices outside [-depth, depth-1] give an all-off line, as the spec says. values may be
 * any fixed-size dtype. A depth not known at infer makes the node dynamic.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/index_util.h"

/* Depths above this are refused as nonsensical (an all-off output this long is a bug). */
#define ONE_HOT_MAX_DEPTH ((int64_t)1 << 40)

typedef struct one_hot_state {
    int64_t axis_attr;
    int axis;            /* from the last infer */
    int64_t depth;       /* from the last infer when not dynamic */
    size_t outer, inner; /* index counts before / after the inserted axis */
} one_hot_state;

static ei_status one_hot_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    one_hot_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", -1, &s->axis_attr));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* Element i of v as int64; floats truncate toward zero (NaN and out-of-range -> *ok false). */
static int64_t one_hot_get(const ei_value *v, size_t i, bool *ok) {
    const char *p = (const char *)v->data;
    *ok = true;
    switch (v->dtype) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64: {
        double d;
        if (v->dtype == EI_DTYPE_F32) {
            float f;
            memcpy(&f, p + i * 4, 4);
            d = f;
        } else {
            memcpy(&d, p + i * 8, 8);
        }
        if (!(d > -9.2e18 && d < 9.2e18)) {
            *ok = false;
            return 0;
        }
        return (int64_t)d;
    }
    case EI_DTYPE_I8: return ((const int8_t *)p)[i];
    case EI_DTYPE_I16: return ((const int16_t *)p)[i];
    case EI_DTYPE_I32: return ((const int32_t *)p)[i];
    case EI_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EI_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EI_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EI_DTYPE_U64: {
        uint64_t u = ((const uint64_t *)p)[i];
        if (u > (uint64_t)INT64_MAX) *ok = false;
        return (int64_t)(u & (uint64_t)INT64_MAX);
    }
    default: return ((const int64_t *)p)[i];
    }
}

static ei_status one_hot_depth(const ei_exec *ex, const ei_node *node, int64_t *depth) {
    const ei_value *dv = ei_node_in(ex, node, 1);
    bool ok;
    int64_t d = one_hot_get(dv, 0, &ok);
    if (!ok || d < 1 || d > ONE_HOT_MAX_DEPTH)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (depth) = %lld must be in [1, 2^40]", dv->name,
                             (long long)d);
    *depth = d;
    return EI_STATUS_OK;
}

static void one_hot_dims(const ei_value *ind, int axis, int64_t depth, int64_t *dims) {
    for (int i = 0, k = 0; i <= ind->rank; i++)
        dims[i] = i == axis ? depth : ind->dims[k++];
}

static ei_status one_hot_infer(ei_exec *ex, ei_node *node) {
    one_hot_state *s = node->state;
    const ei_value *ind = ei_node_in(ex, node, 0), *dv = ei_node_in(ex, node, 1),
                   *vals = ei_node_in(ex, node, 2);
    const int r = ind->rank + 1;
    int64_t dims[EI_MAX_RANK];
    if (!ei_index_numeric_dtype(ind->dtype) || !ei_index_numeric_dtype(dv->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs '%s' (indices) and '%s' (depth) must be integer, float or "
                             "double, got %s and %s",
                             ind->name, dv->name, ei_dtype_name(ind->dtype),
                             ei_dtype_name(dv->dtype));
    if (ei_dtype_size(vals->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             vals->name, ei_dtype_name(vals->dtype));
    if (ind->rank < 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must have rank >= 1", ind->name);
    if (ei_value_numel(dv) != 1 || dv->rank > 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (depth) must hold one element, got %zu", dv->name,
                             ei_value_numel(dv));
    if (ei_value_numel(vals) != 2 || vals->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (values) must be [off, on], got rank %d with %zu elements",
                             vals->name, vals->rank, ei_value_numel(vals));
    if (r > EI_MAX_RANK)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "output would have rank %d > %d", r,
                             EI_MAX_RANK);
    if (!ei_elem_norm_axis(s->axis_attr, r, &s->axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for output rank %d",
                             (long long)s->axis_attr, r);
    s->outer = 1;
    s->inner = 1;
    for (int i = 0; i < ind->rank; i++) {
        if (i < s->axis)
            s->outer *= (size_t)ind->dims[i];
        else
            s->inner *= (size_t)ind->dims[i];
    }
    if (!ei_value_known(dv)) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(one_hot_depth(ex, node, &s->depth));
    one_hot_dims(ind, s->axis, s->depth, dims);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), vals->dtype, r, dims);
}

static ei_status one_hot_run(ei_exec *ex, ei_node *node) {
    const one_hot_state *s = node->state;
    const ei_value *ind = ei_node_in(ex, node, 0), *vals = ei_node_in(ex, node, 2);
    int64_t depth = s->depth;
    if (node->dynamic) {
        int64_t dims[EI_MAX_RANK];
        EI_CHECK(one_hot_depth(ex, node, &depth));
        one_hot_dims(ind, s->axis, depth, dims);
        EI_CHECK(ei_node_alloc_output(ex, node, 0, vals->dtype, ind->rank + 1, dims));
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    const size_t es = ei_dtype_size(vals->dtype);
    const char *off = vals->data, *on = off + es;
    char *out = y->data;
    const size_t n = y->nbytes / es;
    bool zero = true;
    for (size_t b = 0; b < es; b++)
        if (off[b]) zero = false;
    if (zero) {
        memset(out, 0, y->nbytes);
    } else {
        for (size_t i = 0; i < n; i++)
            memcpy(out + i * es, off, es);
    }
    for (size_t o = 0; o < s->outer; o++)
        for (size_t j = 0; j < s->inner; j++) {
            bool ok;
            int64_t v = one_hot_get(ind, o * s->inner + j, &ok);
            if (!ok || v < -depth || v >= depth) continue;
            if (v < 0) v += depth;
            size_t pos = (o * (size_t)depth + (size_t)v) * s->inner + j;
            memcpy(out + pos * es, on, es);
        }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_one_hot = {one_hot_prepare, one_hot_infer, one_hot_run, free,
                                     .dtypes = "float32 float64 int8 int16 int32 int64 uint8 "
                                     "uint16 uint32 uint64"};
