/*
 * gather.c - Gather along one axis for any fixed-size data dtype with int32/int64
 * indices. Negative indices count from the end; an index outside [-n, n-1] fails in run
 * with INDEX_OUT_OF_RANGE naming the value and the allowed range.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct gather_state {
    int64_t axis_attr;
    int axis;            /* normalized at infer */
    size_t outer, inner; /* outer count, inner bytes (product of dims after axis * esize) */
} gather_state;

static ei_status gather_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    gather_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis_attr));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status gather_infer(ei_exec *ex, ei_node *node) {
    gather_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    int axis, r;
    if (ei_dtype_size(d->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             d->name, ei_dtype_name(d->dtype));
    if (ind->dtype != EI_DTYPE_I64 && ind->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must be int32 or int64, got %s", ind->name,
                             ei_dtype_name(ind->dtype));
    if (d->rank == 0 || !ei_elem_norm_axis(s->axis_attr, d->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis_attr, d->name, d->rank);
    r = d->rank - 1 + ind->rank;
    if (r > EI_MAX_RANK)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "output '%s' would have rank %d > %d",
                             y->name, r, EI_MAX_RANK);
    int k = 0;
    for (int i = 0; i < axis; i++)
        dims[k++] = d->dims[i];
    for (int i = 0; i < ind->rank; i++)
        dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < d->rank; i++)
        dims[k++] = d->dims[i];
    EI_CHECK(ei_elem_set_out(node, y, d->dtype, r, dims));
    s->axis = axis;
    s->outer = 1;
    s->inner = ei_dtype_size(d->dtype);
    for (int i = 0; i < axis; i++)
        s->outer *= (size_t)d->dims[i];
    for (int i = axis + 1; i < d->rank; i++)
        s->inner *= (size_t)d->dims[i];
    return EI_STATUS_OK;
}

static ei_status gather_run(ei_exec *ex, ei_node *node) {
    const gather_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    const int64_t n = d->dims[s->axis];
    const size_t n_idx = ei_value_numel(ind);
    const bool i64 = ind->dtype == EI_DTYPE_I64;
    char buf[160];
    /* Check every index first, so no partial output is produced. */
    for (size_t k = 0; k < n_idx; k++) {
        int64_t v = i64 ? ((const int64_t *)ind->data)[k] : ((const int32_t *)ind->data)[k];
        if (v < -n || v >= n)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "index %lld in input '%s' is out of range [%lld, %lld] for axis "
                                 "%d of input '%s' %s",
                                 (long long)v, ind->name, (long long)-n, (long long)(n - 1),
                                 s->axis, d->name, ei_shape_str(d->rank, d->dims, buf, sizeof buf));
    }
    if (y->nbytes == 0) return EI_STATUS_OK;
    const char *src = d->data;
    char *dst = y->data;
    for (size_t o = 0; o < s->outer; o++) {
        const char *base = src + o * (size_t)n * s->inner;
        for (size_t k = 0; k < n_idx; k++) {
            int64_t v = i64 ? ((const int64_t *)ind->data)[k] : ((const int32_t *)ind->data)[k];
            if (v < 0) v += n;
            memcpy(dst, base + (size_t)v * s->inner, s->inner);
            dst += s->inner;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_gather = {gather_prepare, gather_infer, gather_run, free,
                                    .dtypes = "any"};
