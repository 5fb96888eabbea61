/*
 * lrn.c - LRN (local response normalization across channels) on float32, X [N, C, ...]:
 * y = x / (bias + alpha / size * sum of x^2 over channels [c - (size-1)/2, c +
 * ceil((size-1)/2)])^beta. Each output plane sums at most size input planes, read
 * contiguously.
 */
#include <math.h>
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct lrn_state {
    float alpha, beta, bias;
    int64_t size;
    size_t n, c, plane;
} lrn_state;

static ei_status lrn_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    lrn_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    if (!ei_node_attr(node, "size")) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'size' is required");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "size", 1, &s->size));
    EI_TRY(ei_node_attr_float(node, "alpha", 1e-4f, &s->alpha));
    EI_TRY(ei_node_attr_float(node, "beta", 0.75f, &s->beta));
    EI_TRY(ei_node_attr_float(node, "bias", 1.0f, &s->bias));
    if (s->size < 1) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'size' = %lld must be >= 1",
                           (long long)s->size);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status lrn_infer(ei_exec *ex, ei_node *node) {
    lrn_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank < 3)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' has rank %d; expected [N, C, D1, ...] (rank >= 3)",
                             x->name, x->rank);
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->plane = 1;
    for (int i = 2; i < x->rank; i++)
        s->plane *= (size_t)x->dims[i];
    node->scratch_bytes = s->plane * sizeof(float);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims);
}

static ei_status lrn_run(ei_exec *ex, ei_node *node) {
    const lrn_state *s = node->state;
    const float *x = ei_node_in(ex, node, 0)->data;
    float *y = ei_node_out(ex, node, 0)->data;
    float *sq = node->scratch;
    size_t before = (size_t)(s->size - 1) / 2, after = (size_t)s->size / 2, P = s->plane;
    float k = s->alpha / (float)s->size;
    for (size_t n = 0; n < s->n; n++) {
        const float *xn = x + n * s->c * P;
        float *yn = y + n * s->c * P;
        for (size_t c = 0; c < s->c; c++) {
            size_t lo = c >= before ? c - before : 0;
            size_t hi = s->c - 1 - c >= after ? c + after : s->c - 1;
            for (size_t j = 0; j < P; j++)
                sq[j] = 0.0f;
            for (size_t cc = lo; cc <= hi; cc++) {
                const float *xc = xn + cc * P;
                for (size_t j = 0; j < P; j++)
                    sq[j] += xc[j] * xc[j];
            }
            const float *xc = xn + c * P;
            float *yc = yn + c * P;
            for (size_t j = 0; j < P; j++)
                yc[j] = xc[j] / powf(s->bias + k * sq[j], s->beta);
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_lrn = {lrn_prepare, lrn_infer, lrn_run, free, .dtypes = "float32"};
