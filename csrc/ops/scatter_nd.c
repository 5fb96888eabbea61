/*
 * scatter_nd.c - ScatterND: a copy of data with each update slice written (or reduced:
 * add, mul from opset 16; max, min from 18) at the position its index tuple gives, in
 * tuple order. Reductions work on float, double and the integer types (integers wrap);
 * plain writes on any fixed-size dtype. Every index is checked in run before any write.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/index_util.h"
#include "ops/scatter_reduce.h"

typedef struct scatter_nd_state {
    int reduction;
    /* From the last infer. */
    size_t tuples, k, slice_elems;
    size_t stride[EI_MAX_RANK]; /* bytes per index of data dims 0 .. k-1 */
} scatter_nd_state;

static ei_status scatter_nd_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    scatter_nd_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_scatter_parse_reduction(node, node->opset >= 16, &s->reduction));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status scatter_nd_infer(ei_exec *ex, ei_node *node) {
    scatter_nd_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1),
                   *u = ei_node_in(ex, node, 2);
    const int r = d->rank, q = ind->rank;
    char b1[160], b2[160], b3[160];
    if (ei_dtype_size(d->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             d->name, ei_dtype_name(d->dtype));
    if (s->reduction != EI_SCATTER_NONE && !ei_index_numeric_dtype(d->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "reduction on input '%s' of dtype %s is not supported", d->name,
                             ei_dtype_name(d->dtype));
    if (ind->dtype != EI_DTYPE_I64 && ind->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must be int64, got %s", ind->name,
                             ei_dtype_name(ind->dtype));
    if (u->dtype != d->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (updates) has dtype %s, expected %s like input '%s'",
                             u->name, ei_dtype_name(u->dtype), ei_dtype_name(d->dtype), d->name);
    /* updates must be indices.shape[:-1] + data.shape[k:]. */
    bool ok = r >= 1 && q >= 1 && ind->dims[q - 1] <= r;
    const int k = ok ? (int)ind->dims[q - 1] : 0;
    ok = ok && u->rank == q - 1 + r - k;
    for (int i = 0; ok && i < q - 1; i++)
        if (u->dims[i] != ind->dims[i]) ok = false;
    for (int i = k; ok && i < r; i++)
        if (u->dims[q - 1 + i - k] != d->dims[i]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (indices) %s and '%s' (updates) %s do not fit input '%s' "
                             "%s",
                             ind->name, ei_shape_str(q, ind->dims, b1, sizeof b1), u->name,
                             ei_shape_str(u->rank, u->dims, b2, sizeof b2), d->name,
                             ei_shape_str(r, d->dims, b3, sizeof b3));
    s->k = (size_t)k;
    s->tuples = 1;
    for (int i = 0; i < q - 1; i++)
        s->tuples *= (size_t)ind->dims[i];
    s->slice_elems = 1;
    for (int i = k; i < r; i++)
        s->slice_elems *= (size_t)d->dims[i];
    size_t acc = s->slice_elems * ei_dtype_size(d->dtype);
    for (int i = k - 1; i >= 0; i--) {
        s->stride[i] = acc;
        acc *= (size_t)d->dims[i];
    }
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), d->dtype, r, d->dims);
}

static ei_status scatter_nd_run(ei_exec *ex, ei_node *node) {
    const scatter_nd_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1),
                   *u = ei_node_in(ex, node, 2);
    ei_value *y = ei_node_out(ex, node, 0);
    const size_t es = ei_dtype_size(d->dtype), slice = s->slice_elems * es;
    char buf[160];
    for (size_t t = 0; t < s->tuples; t++)
        for (size_t j = 0; j < s->k; j++) {
            int64_t v = ei_index_at(ind, t * s->k + j), n = d->dims[j];
            if (v < -n || v >= n)
                return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                     "index %lld in input '%s' is out of range [%lld, %lld] for "
                                     "axis %zu of input '%s' %s",
                                     (long long)v, ind->name, (long long)-n, (long long)(n - 1), j,
                                     d->name, ei_shape_str(d->rank, d->dims, buf, sizeof buf));
        }
    if (y->nbytes && y->data != d->data) memcpy(y->data, d->data, y->nbytes);
    if (slice == 0) return EI_STATUS_OK;
    const char *src = u->data;
    char *out = y->data;
    for (size_t t = 0; t < s->tuples; t++, src += slice) {
        size_t off = 0;
        for (size_t j = 0; j < s->k; j++) {
            int64_t v = ei_index_at(ind, t * s->k + j);
            if (v < 0) v += d->dims[j];
            off += (size_t)v * s->stride[j];
        }
        ei_scatter_apply(d->dtype, s->reduction, out + off, src, s->slice_elems, es);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_scatter_nd = {scatter_nd_prepare, scatter_nd_infer, scatter_nd_run, free,
                                        .dtypes = "any"};
