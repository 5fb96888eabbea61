/*
 * center_crop_pad.c - CenterCropPad (opset 18): crops or zero-pads each listed axis (all
 * axes by default) to the size given by input 1, keeping the content centered (the extra
 * element of an odd difference goes to the end). The sizes must be known at reshape or are
 * read when the node runs. Any fixed-size dtype; rows are copied with memcpy.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct ccp_state {
    int64_t axes_attr[EI_MAX_RANK];
    size_t n_axes; /* 0 with has_axes false: every axis */
    bool has_axes;
    /* from the last infer, per output axis */
    int rank;
    size_t src_off[EI_MAX_RANK], dst_off[EI_MAX_RANK], ext[EI_MAX_RANK];
} ccp_state;

static ei_status ccp_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ccp_state *s = NULL;
    const int64_t *axes = NULL;
    size_t n = 0;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_ints(node, "axes", &axes, &n));
    if (n > EI_MAX_RANK) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'axes' has %zu entries, more than rank %d", n, EI_MAX_RANK);
        goto cleanup;
    }
    s->has_axes = ei_node_attr(node, "axes") != NULL;
    s->n_axes = n;
    if (n) memcpy(s->axes_attr, axes, n * sizeof *axes);
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status ccp_infer(ei_exec *ex, ei_node *node) {
    ccp_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sv = ei_node_in(ex, node, 1);
    int64_t sizes[EI_MAX_RANK], dims[EI_MAX_RANK];
    int axes[EI_MAX_RANK];
    size_t n = 0, n_axes = s->has_axes ? s->n_axes : (size_t)x->rank;
    bool seen[EI_MAX_RANK] = {false};
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    for (size_t i = 0; i < n_axes; i++) {
        int64_t a = s->has_axes ? s->axes_attr[i] : (int64_t)i;
        if (!ei_elem_norm_axis(a, x->rank, &axes[i]) || seen[axes[i]])
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "attribute 'axes' entry %lld is out of range or repeated for input "
                "'%s' of rank %d",
                (long long)a, x->name, x->rank);
        seen[axes[i]] = true;
    }
    if (!ei_input_ready(ex, sv)) { /* fed at run time: known when it runs */
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(ei_elem_read_ints(node, sv, "shape", sizes, EI_MAX_RANK, &n));
    if (n != n_axes)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (shape) has %zu values, expected %zu (one per axis)",
                             sv->name, n, n_axes);
    s->rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        dims[i] = x->dims[i];
        s->src_off[i] = s->dst_off[i] = 0;
        s->ext[i] = (size_t)x->dims[i];
    }
    for (size_t i = 0; i < n_axes; i++) {
        const int a = axes[i];
        const int64_t d = x->dims[a], t = sizes[i];
        if (t < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (shape) value %lld for axis %d is negative", sv->name,
                                 (long long)t, a);
        dims[a] = t;
        if (t < d) {
            s->src_off[a] = (size_t)((d - t) / 2);
            s->ext[a] = (size_t)t;
        } else {
            s->dst_off[a] = (size_t)((t - d) / 2);
        }
    }
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, dims);
}

static ei_status ccp_run(ei_exec *ex, ei_node *node) {
    const ccp_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    const int r = s->rank;
    const size_t es = ei_dtype_size(x->dtype);
    size_t xs[EI_MAX_RANK], ys[EI_MAX_RANK], idx[EI_MAX_RANK] = {0}, rows = 1;
    if (y->nbytes) memset(y->data, 0, y->nbytes);
    if (r == 0) {
        if (x->nbytes) memcpy(y->data, x->data, es);
        return EI_STATUS_OK;
    }
    for (int i = 0; i < r; i++)
        if (s->ext[i] == 0) return EI_STATUS_OK;
    size_t ax = es, ay = es;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = ax;
        ys[i] = ay;
        ax *= (size_t)x->dims[i];
        ay *= (size_t)y->dims[i];
        if (i < r - 1) rows *= s->ext[i];
    }
    const size_t row = s->ext[r - 1] * es;
    for (size_t k = 0; k < rows; k++) {
        size_t so = s->src_off[r - 1] * es, doff = s->dst_off[r - 1] * es;
        for (int i = 0; i < r - 1; i++) {
            so += (s->src_off[i] + idx[i]) * xs[i];
            doff += (s->dst_off[i] + idx[i]) * ys[i];
        }
        memcpy((char *)y->data + doff, (const char *)x->data + so, row);
        for (int i = r - 2; i >= 0; i--) { /* odometer over the copied rows */
            if (++idx[i] < s->ext[i]) break;
            idx[i] = 0;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_center_crop_pad = {ccp_prepare, ccp_infer, ccp_run, free,
                                             .dtypes = "any"};
