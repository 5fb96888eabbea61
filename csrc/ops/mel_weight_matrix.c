/*
 * mel_weight_matrix.c - MelWeightMatrix (opset 17): the [dft_length / 2 + 1, num_mel_bins]
 * matrix of triangular mel filters, as the ONNX definition builds it (mel points evenly
 * spaced between the edge frequencies, snapped down to DFT bins, triangles rising to 1 at
 * each centre). Computed in double; float32 or float64 output. Its size comes from input
 * values, so the node is dynamic unless those are known when shapes are inferred.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct mel_state {
    ei_dtype out_dtype;
} mel_state;

static ei_status mel_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 5, 5, 1));
    int64_t dt = 1;
    EI_CHECK(ei_node_attr_int(node, "output_datatype", 1, &dt));
    if (dt != EI_DTYPE_F32 && dt != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "attribute 'output_datatype' = %lld; only float32 (1) and float64 "
                             "(11) are supported",
                             (long long)dt);
    mel_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->out_dtype = (ei_dtype)dt;
    node->state = s;
    return EI_STATUS_OK;
}

static const char *const mel_names[5] = {"num_mel_bins", "dft_length", "sample_rate",
                                         "lower_edge_hertz", "upper_edge_hertz"};

static double mel_read(const ei_value *v) {
    switch (v->dtype) {
    case EI_DTYPE_I64: return (double)*(const int64_t *)v->data;
    case EI_DTYPE_I32: return (double)*(const int32_t *)v->data;
    case EI_DTYPE_F64: return *(const double *)v->data;
    default: return (double)*(const float *)v->data;
    }
}

/* Reads and validates the five scalars; n_mel and n_spec are the output dims. */
static ei_status mel_params(const ei_exec *ex, const ei_node *node, double *p, int64_t *n_mel,
                            int64_t *n_spec) {
    for (int i = 0; i < 5; i++) p[i] = mel_read(ei_node_in(ex, node, i));
    const int64_t lim = (int64_t)1 << 30;
    if (!(p[0] >= 1 && p[0] <= lim) || !(p[1] >= 1 && p[1] <= lim) || !(p[2] >= 1))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "num_mel_bins = %g, dft_length = %g and sample_rate = %g must be "
                             "positive (and below 2^30 for the first two)",
                             p[0], p[1], p[2]);
    if (!isfinite(p[3]) || !isfinite(p[4]) || p[3] < 0 || p[4] < p[3])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "edge frequencies lower = %g Hz, upper = %g Hz must satisfy 0 <= "
                             "lower <= upper",
                             p[3], p[4]);
    *n_mel = (int64_t)p[0];
    *n_spec = (int64_t)p[1] / 2 + 1;
    return EI_STATUS_OK;
}

static ei_status mel_infer(ei_exec *ex, ei_node *node) {
    const mel_state *s = node->state;
    bool known = true;
    char buf[96];
    for (int i = 0; i < 5; i++) {
        const ei_value *v = ei_node_in(ex, node, i);
        bool is_int = i < 3;
        bool ok = is_int ? (v->dtype == EI_DTYPE_I64 || v->dtype == EI_DTYPE_I32)
                         : (v->dtype == EI_DTYPE_F32 || v->dtype == EI_DTYPE_F64);
        if (!ok)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input %s '%s' has dtype %s; expected %s", mel_names[i], v->name,
                                 ei_dtype_name(v->dtype),
                                 is_int ? "int32 or int64" : "float32 or float64");
        if (v->rank > 1 || ei_value_numel(v) != 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input %s '%s' has shape %s, expected a scalar", mel_names[i],
                                 v->name, ei_shape_str(v->rank, v->dims, buf, sizeof buf));
        known = known && ei_value_known(v);
    }
    if (!known) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    double p[5];
    int64_t dims[2];
    EI_CHECK(mel_params(ex, node, p, &dims[1], &dims[0]));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), s->out_dtype, 2, dims);
}

static double mel_from_hz(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double hz_from_mel(double mel) { return 700.0 * (pow(10.0, mel / 2595.0) - 1.0); }

static ei_status mel_run(ei_exec *ex, ei_node *node) {
    const mel_state *s = node->state;
    double p[5];
    int64_t n_mel, n_spec;
    EI_CHECK(mel_params(ex, node, p, &n_mel, &n_spec));
    int64_t dims[2] = {n_spec, n_mel};
    if (node->dynamic) EI_CHECK(ei_node_alloc_output(ex, node, 0, s->out_dtype, 2, dims));
    ei_value *y = ei_node_out(ex, node, 0);
    size_t numel = (size_t)n_spec * (size_t)n_mel;
    memset(y->data, 0, numel * ei_dtype_size(s->out_dtype));
    double lo = mel_from_hz(p[3]), hi = mel_from_hz(p[4]);
    double step = (hi - lo) / (double)(n_mel + 2);
    double L1 = p[1] + 1.0;
    for (int64_t i = 0; i < n_mel; i++) {
        int64_t b[3];
        for (int q = 0; q < 3; q++) {
            double hz = hz_from_mel((double)(i + q) * step + lo);
            double v = floor(L1 * hz / p[2]);
            /* Bins beyond the matrix only matter through differences; keep them in int64. */
            if (!(v >= -1e15 && v <= 1e15))
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "mel bin %lld falls outside any DFT bin", (long long)i);
            b[q] = (int64_t)v;
        }
        int64_t up = b[1] - b[0], down = b[2] - b[1];
        /* rising edge [b0, b1], then falling edge [b1, b2) (which rewrites b1 as 1) */
        for (int64_t j = b[0] > 0 ? b[0] : 0; j <= b[1] && j < n_spec; j++) {
            double w = up == 0 ? 1.0 : (double)(j - b[0]) / (double)up;
            size_t at = (size_t)j * (size_t)n_mel + (size_t)i;
            if (s->out_dtype == EI_DTYPE_F64) ((double *)y->data)[at] = w;
            else ((float *)y->data)[at] = (float)w;
        }
        if (down > 0)
            for (int64_t j = b[1] > 0 ? b[1] : 0; j < b[2] && j < n_spec; j++) {
                double w = (double)(b[2] - j) / (double)down;
                size_t at = (size_t)j * (size_t)n_mel + (size_t)i;
                if (s->out_dtype == EI_DTYPE_F64) ((double *)y->data)[at] = w;
                else ((float *)y->data)[at] = (float)w;
            }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_mel_weight_matrix = {mel_prepare, mel_infer, mel_run, free,
                                               .dtypes = "int32 int64 float32 float64"};
