/*
 * scatter_elements.c - ScatterElements (and the deprecated Scatter of opsets 9/11, same
 * semantics): a copy of data with updates written at the positions indices give along
 * one axis, in index order. Reductions (add, mul from opset 16; max, min from 18) work on
 * float, double and the integer types (integers wrap); plain writes on any fixed-size dtype.
 * Every index is checked in run before the output is touched.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/index_util.h"
#include "ops/scatter_reduce.h"

typedef struct scatter_elements_state {
    int64_t axis_attr;
    int reduction;
    int axis; /* from the last infer */
} scatter_elements_state;

static ei_status scatter_elements_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    scatter_elements_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis_attr));
    EI_TRY(ei_scatter_parse_reduction(
        node, node->opset >= 16 && strcmp(node->op_type, "Scatter") != 0, &s->reduction));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status scatter_elements_infer(ei_exec *ex, ei_node *node) {
    scatter_elements_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1),
                   *u = ei_node_in(ex, node, 2);
    char b1[160], b2[160];
    if (ei_dtype_size(d->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             d->name, ei_dtype_name(d->dtype));
    if (s->reduction != EI_SCATTER_NONE && !ei_index_numeric_dtype(d->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "reduction on input '%s' of dtype %s is not supported", d->name,
                             ei_dtype_name(d->dtype));
    if (ind->dtype != EI_DTYPE_I64 && ind->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must be int32 or int64, got %s", ind->name,
                             ei_dtype_name(ind->dtype));
    if (u->dtype != d->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (updates) has dtype %s, expected %s like input '%s'",
                             u->name, ei_dtype_name(u->dtype), ei_dtype_name(d->dtype), d->name);
    if (d->rank == 0 || !ei_elem_norm_axis(s->axis_attr, d->rank, &s->axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis_attr, d->name, d->rank);
    bool ok = ind->rank == d->rank && u->rank == ind->rank;
    for (int i = 0; ok && i < d->rank; i++)
        if ((i != s->axis && ind->dims[i] > d->dims[i]) || u->dims[i] != ind->dims[i]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (indices) %s must have the shape of updates '%s', the "
                             "rank of input '%s' %s and no larger dims except on axis %d",
                             ind->name, ei_shape_str(ind->rank, ind->dims, b1, sizeof b1), u->name,
                             d->name, ei_shape_str(d->rank, d->dims, b2, sizeof b2), s->axis);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), d->dtype, d->rank, d->dims);
}

static ei_status scatter_elements_run(ei_exec *ex, ei_node *node) {
    const scatter_elements_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1),
                   *u = ei_node_in(ex, node, 2);
    ei_value *y = ei_node_out(ex, node, 0);
    const int r = d->rank, axis = s->axis, last = r - 1;
    const int64_t n = d->dims[axis];
    const size_t es = ei_dtype_size(d->dtype), numel = ei_value_numel(ind);
    EI_CHECK(ei_index_check_axis(node, ind, numel, d, axis));
    if (y->nbytes && y->data != d->data) memcpy(y->data, d->data, y->nbytes);
    if (numel == 0) return EI_STATUS_OK;
    size_t dstr[EI_MAX_RANK], acc = es;
    for (int i = r - 1; i >= 0; i--) {
        dstr[i] = acc;
        acc *= (size_t)d->dims[i];
    }
    const size_t w = (size_t)ind->dims[last], rows = numel / w;
    const char *src = u->data;
    char *out = y->data;
    for (size_t row = 0, k = 0; row < rows; row++) {
        size_t base = 0, rem = row;
        for (int i = last - 1; i >= 0; i--) {
            size_t c = rem % (size_t)ind->dims[i];
            rem /= (size_t)ind->dims[i];
            if (i != axis) base += c * dstr[i];
        }
        for (size_t j = 0; j < w; j++, k++, src += es) {
            int64_t v = ei_index_at(ind, k);
            if (v < 0) v += n;
            size_t off = base + (size_t)v * dstr[axis] + (axis == last ? 0 : j * dstr[last]);
            ei_scatter_apply(d->dtype, s->reduction, out + off, src, 1, es);
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_scatter_elements = {scatter_elements_prepare, scatter_elements_infer,
                                              scatter_elements_run, free, .dtypes = "any"};
