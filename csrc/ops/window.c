/*
 * window.c - HannWindow, HammingWindow and BlackmanWindow (opset 17): a 1-D window of
 * `size` samples, periodic (denominator N) or symmetric (N - 1), as float32 or float64
 * (output_datatype), computed in double. The length is the value of an input, so the node
 * is dynamic unless that input is known when shapes are inferred.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

enum { WIN_HANN = 0, WIN_HAMMING = 1, WIN_BLACKMAN = 2 };

typedef struct win_state {
    int kind;
    int64_t periodic;
    ei_dtype out_dtype;
} win_state;

static ei_status win_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 1, 1, 1));
    int64_t dt = 1, periodic = 1;
    EI_CHECK(ei_node_attr_int(node, "output_datatype", 1, &dt));
    EI_CHECK(ei_node_attr_int(node, "periodic", 1, &periodic));
    if (dt != EI_DTYPE_F32 && dt != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "attribute 'output_datatype' = %lld; only float32 (1) and float64 "
                             "(11) are supported",
                             (long long)dt);
    if (periodic != 0 && periodic != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'periodic' = %lld, expected 0 or 1", (long long)periodic);
    win_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->kind = strcmp(node->op_type, "HannWindow") == 0      ? WIN_HANN
              : strcmp(node->op_type, "HammingWindow") == 0 ? WIN_HAMMING
                                                            : WIN_BLACKMAN;
    s->periodic = periodic;
    s->out_dtype = (ei_dtype)dt;
    node->state = s;
    return EI_STATUS_OK;
}

/* The window length from input 0 (validated dtype/shape in infer). */
static ei_status win_size(const ei_node *node, const ei_value *v, int64_t *out) {
    int64_t n = v->dtype == EI_DTYPE_I64 ? *(const int64_t *)v->data : *(const int32_t *)v->data;
    if (n < 0 || n > ((int64_t)1 << 40))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input size '%s' = %lld, expected a window length in [0, 2^40]",
                             v->name, (long long)n);
    *out = n;
    return EI_STATUS_OK;
}

static ei_status win_infer(ei_exec *ex, ei_node *node) {
    const win_state *s = node->state;
    const ei_value *v = ei_node_in(ex, node, 0);
    char buf[96];
    if (v->dtype != EI_DTYPE_I64 && v->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input size '%s' has dtype %s, expected int32 or int64", v->name,
                             ei_dtype_name(v->dtype));
    if (v->rank > 1 || ei_value_numel(v) != 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input size '%s' has shape %s, expected a scalar", v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf));
    if (!ei_value_known(v)) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    int64_t n;
    EI_CHECK(win_size(node, v, &n));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), s->out_dtype, 1, &n);
}

static ei_status win_run(ei_exec *ex, ei_node *node) {
    const win_state *s = node->state;
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t n = y->rank == 1 ? y->dims[0] : 0;
    if (node->dynamic) {
        EI_CHECK(win_size(node, ei_node_in(ex, node, 0), &n));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, s->out_dtype, 1, &n));
    }
    /* Symmetric windows of length 1 divide 0 by 0, as the ONNX definition does (NaN). */
    double denom = (double)(s->periodic ? n : n - 1);
    const double two_pi = 6.283185307179586476925;
    for (int64_t i = 0; i < n; i++) {
        double t = two_pi * (double)i / denom, w;
        switch (s->kind) {
        case WIN_HANN: w = 0.5 - 0.5 * cos(t); break;
        case WIN_HAMMING: w = 25.0 / 46.0 - (1.0 - 25.0 / 46.0) * cos(t); break;
        default: w = 0.42 - 0.5 * cos(t) + 0.08 * cos(2.0 * t); break;
        }
        if (s->out_dtype == EI_DTYPE_F64) ((double *)y->data)[i] = w;
        else ((float *)y->data)[i] = (float)w;
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_hann_window = {win_prepare, win_infer, win_run, free,
                                         .dtypes = "int32 int64"};
const ei_op_fns ei_op_fns_hamming_window = {win_prepare, win_infer, win_run, free,
                                            .dtypes = "int32 int64"};
const ei_op_fns ei_op_fns_blackman_window = {win_prepare, win_infer, win_run, free,
                                             .dtypes = "int32 int64"};
