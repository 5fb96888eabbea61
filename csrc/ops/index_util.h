/*
 * index_util.h - small helpers of the index-driven ops (Gather*, Scatter*, OneHot): the
 * numeric dtypes they accept, reading an int32/int64 index, and checking every index
 * along one axis in run. The ops do their own shape checks and copies.
 */
#ifndef EI_OPS_INDEX_UTIL_H
#define EI_OPS_INDEX_UTIL_H

#include "core/core.h"

/* Float, double or any fixed-width integer type. */
static inline bool ei_index_numeric_dtype(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_I8:
    case EI_DTYPE_I16:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U8:
    case EI_DTYPE_U16:
    case EI_DTYPE_U32:
    case EI_DTYPE_U64: return true;
    default: return false;
    }
}

/* Element k of an int64 or int32 index tensor. */
static inline int64_t ei_index_at(const ei_value *ind, size_t k) {
    return ind->dtype == EI_DTYPE_I64 ? ((const int64_t *)ind->data)[k]
                                      : ((const int32_t *)ind->data)[k];
}

/* Checks that each of ind's numel indices is in [-n, n) for n = d->dims[axis]. */
static inline ei_status ei_index_check_axis(const ei_node *node, const ei_value *ind, size_t numel,
                                            const ei_value *d, int axis) {
    const int64_t n = d->dims[axis];
    char buf[160];
    for (size_t k = 0; k < numel; k++) {
        int64_t v = ei_index_at(ind, k);
        if (v < -n || v >= n)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "index %lld in input '%s' is out of range [%lld, %lld] for axis "
                                 "%d of input '%s' %s",
                                 (long long)v, ind->name, (long long)-n, (long long)(n - 1), axis,
                                 d->name, ei_shape_str(d->rank, d->dims, buf, sizeof buf));
    }
    return EI_STATUS_OK;
}

#endif
