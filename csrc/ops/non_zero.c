/*
 * non_zero.c - NonZero: int64 [rank, count] indices of the non-zero elements, in C order.
 * The output shape depends on the data, so the node is dynamic: it sizes its output
 * when it runs (or at plan time when its input is known).
 */
#include <string.h>

#include "ops/elem_util.h"

static ei_status non_zero_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_elem_check_io(node, 1, 1, 1);
}

static ei_status non_zero_infer(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s", x->name,
                             ei_dtype_name(x->dtype));
    node->dynamic = true;
    return EI_STATUS_OK;
}

/* Whether element i is non-zero (floats: -0.0 is zero, NaN is not). */
static bool non_zero_at(const ei_value *x, size_t i) {
    const char *p = (const char *)x->data + i * ei_dtype_size(x->dtype);
    switch (x->dtype) {
    case EI_DTYPE_F32: {
        float f;
        memcpy(&f, p, 4);
        return f != 0.0f;
    }
    case EI_DTYPE_F64: {
        double d;
        memcpy(&d, p, 8);
        return d != 0.0;
    }
    case EI_DTYPE_F16:
    case EI_DTYPE_BF16: {
        uint16_t h;
        memcpy(&h, p, 2);
        return (h & 0x7fffu) != 0;
    }
    default: {
        size_t sz = ei_dtype_size(x->dtype);
        for (size_t b = 0; b < sz; b++)
            if (p[b]) return true;
        return false;
    }
    }
}

static ei_status non_zero_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    size_t numel = ei_value_numel(x), count = 0;
    int rank = x->rank;
    for (size_t i = 0; i < numel; i++) count += non_zero_at(x, i);
    /* A scalar is treated as shape [1] (as onnxruntime does). */
    int out_rows = rank == 0 ? 1 : rank;
    int64_t dims[2] = {out_rows, (int64_t)count};
    EI_CHECK(ei_node_alloc_output(ex, node, 0, EI_DTYPE_I64, 2, dims));
    int64_t *y = ei_node_out(ex, node, 0)->data;
    size_t col = 0;
    for (size_t i = 0; i < numel; i++) {
        if (!non_zero_at(x, i)) continue;
        size_t rem = i;
        for (int d = rank - 1; d >= 0; d--) {
            y[(size_t)d * count + col] = (int64_t)(rem % (size_t)x->dims[d]);
            rem /= (size_t)x->dims[d];
        }
        if (rank == 0) y[col] = 0;
        col++;
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_non_zero = {non_zero_prepare, non_zero_infer, non_zero_run, NULL,
                                      .dtypes = "any"};
