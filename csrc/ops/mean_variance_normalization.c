/*
 * mean_variance_normalization.c - MeanVarianceNormalization on float32:
 * y = (x - mean) / (sqrt(variance) + 1e-9) with mean and variance taken over a set of
 * axes (default [0, 2, 3]), as the ONNX function body defines. infer collapses the shape
 * into alternating kept/reduced runs; run makes three passes over contiguous rows
 * (sum, squared deviations, output) with the statistics in scratch.
 */
#include <math.h>
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct mvn_state {
    int64_t axes[EI_MAX_RANK];
    size_t n_axes;
    int m;                   /* collapsed runs */
    size_t cd[EI_MAX_RANK];  /* collapsed dims */
    size_t kst[EI_MAX_RANK]; /* stride of each run in the kept (statistics) space, 0 if reduced */
    bool inner_kept;         /* innermost run is kept */
    size_t kept, rcount;     /* statistics count, elements per statistic */
} mvn_state;

static ei_status mvn_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    const int64_t *axes;
    static const int64_t def_axes[3] = {0, 2, 3};
    mvn_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    EI_TRY(ei_node_attr_ints(node, "axes", &axes, &s->n_axes));
    if (!ei_node_attr(node, "axes")) {
        axes = def_axes;
        s->n_axes = 3;
    }
    if (s->n_axes > EI_MAX_RANK) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'axes' has %zu entries; at most %d allowed", s->n_axes,
                           EI_MAX_RANK);
        goto cleanup;
    }
    if (s->n_axes) memcpy(s->axes, axes, s->n_axes * sizeof *axes);
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status mvn_infer(ei_exec *ex, ei_node *node) {
    mvn_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0);
    bool mask[EI_MAX_RANK] = {false};
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    for (size_t i = 0; i < s->n_axes; i++) {
        int a;
        if (!ei_elem_norm_axis(s->axes[i], x->rank, &a) || (node->opset < 13 && s->axes[i] < 0))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "axis %lld is out of range for input '%s' of rank %d",
                                 (long long)s->axes[i], x->name, x->rank);
        if (mask[a])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                 (long long)s->axes[i]);
        mask[a] = true;
    }
    bool cr[EI_MAX_RANK];
    s->m = 0;
    s->kept = s->rcount = 1;
    for (int i = 0; i < x->rank; i++) {
        size_t d = (size_t)x->dims[i];
        if (mask[i])
            s->rcount *= d;
        else
            s->kept *= d;
        if (d == 1) continue;
        if (s->m > 0 && cr[s->m - 1] == mask[i])
            s->cd[s->m - 1] *= d;
        else {
            s->cd[s->m] = d;
            cr[s->m++] = mask[i];
        }
    }
    size_t ks = 1;
    for (int i = s->m - 1; i >= 0; i--) {
        s->kst[i] = cr[i] ? 0 : ks;
        if (!cr[i]) ks *= s->cd[i];
    }
    s->inner_kept = s->m > 0 && !cr[s->m - 1];
    size_t bytes;
    if (!ei_size_mul(s->kept, 2 * sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input '%s' is too large", x->name);
    node->scratch_bytes = bytes;
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims);
}

/* Visits the input in C order by innermost rows: row(pass, x offset, kept index, len). */
static void mvn_pass(const mvn_state *s, int pass, const float *x, float *y, float *mean,
                     float *dev) {
    size_t len = s->m > 0 ? s->cd[s->m - 1] : 1;
    size_t rows = len ? (s->kept * s->rcount) / len : 0;
    size_t idx[EI_MAX_RANK] = {0}, kidx = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * len;
        if (s->inner_kept || s->m == 0) {
            float *mk = mean + kidx, *dk = dev + kidx;
            for (size_t j = 0; j < len; j++) {
                if (pass == 0)
                    mk[j] += xr[j];
                else if (pass == 1)
                    dk[j] += (xr[j] - mk[j]) * (xr[j] - mk[j]);
                else
                    y[r * len + j] = (xr[j] - mk[j]) * dk[j];
            }
        } else {
            float mk = mean[kidx], acc = 0.0f;
            for (size_t j = 0; j < len; j++) {
                if (pass == 0)
                    acc += xr[j];
                else if (pass == 1)
                    acc += (xr[j] - mk) * (xr[j] - mk);
                else
                    y[r * len + j] = (xr[j] - mk) * dev[kidx];
            }
            if (pass == 0)
                mean[kidx] += acc;
            else if (pass == 1)
                dev[kidx] += acc;
        }
        /* Odometer over the outer runs (all but the innermost). */
        for (int d = s->m - 2; d >= 0; d--) {
            kidx += s->kst[d];
            if (++idx[d] < s->cd[d]) break;
            kidx -= s->kst[d] * s->cd[d];
            idx[d] = 0;
        }
    }
}

static ei_status mvn_run(ei_exec *ex, ei_node *node) {
    const mvn_state *s = node->state;
    const float *x = ei_node_in(ex, node, 0)->data;
    float *y = ei_node_out(ex, node, 0)->data;
    float *mean = node->scratch, *dev = mean + s->kept;
    if (s->kept == 0 || s->rcount == 0) return EI_STATUS_OK;
    for (size_t i = 0; i < s->kept; i++)
        mean[i] = dev[i] = 0.0f;
    mvn_pass(s, 0, x, y, mean, dev);
    for (size_t i = 0; i < s->kept; i++)
        mean[i] /= (float)s->rcount;
    mvn_pass(s, 1, x, y, mean, dev);
    for (size_t i = 0; i < s->kept; i++)
        dev[i] = 1.0f / (sqrtf(dev[i] / (float)s->rcount) + 1e-9f);
    mvn_pass(s, 2, x, y, mean, dev);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_mean_variance_normalization = {mvn_prepare, mvn_infer, mvn_run, free,
                                                         .dtypes = "float32"};
