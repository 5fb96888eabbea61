/*
 * batch_normalization.c - ONNX BatchNormalization in inference mode (float32):
 * y = (x - mean) / sqrt(var + epsilon) * scale + B, folded into one per-channel
 * scale/shift (at prepare when the four parameters are constant, else per run into
 * scratch) and applied with the f32_vaffine kernel per (n, c) plane. Training mode
 * (training_mode=1 or the running-statistics outputs) and spatial=0 are UNSUPPORTED.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"

typedef struct batch_norm_state {
    float epsilon;
    float *folded; /* [2*C]: scale then shift, when the parameters are constant */
    size_t folded_c;
    /* infer */
    size_t n, c, plane;
} batch_norm_state;

typedef struct batch_norm_args {
    const batch_norm_state *s;
    const float *x, *ss; /* ss: scale[C] then shift[C] */
    float *y;
    size_t planes_per_task;
} batch_norm_args;

static const char *const batch_norm_param_names[4] = {"scale", "B", "input_mean", "input_var"};

static void batch_norm_destroy(void *p) {
    batch_norm_state *s = p;
    if (!s) return;
    free(s->folded);
    free(s);
}

static void batch_norm_fold(size_t c, float eps, const float *scale, const float *bias,
                            const float *mean, const float *var, float *out) {
    for (size_t i = 0; i < c; i++) {
        float sc = scale[i] / sqrtf(var[i] + eps);
        out[i] = sc;
        out[c + i] = bias[i] - mean[i] * sc;
    }
}

/* Checks parameter i: float32, rank 1, and (c >= 0) length c. */
static ei_status batch_norm_check_param(const ei_node *node, const ei_value *v, int i,
                                        int64_t c) {
    char buf[128];
    if (v->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input %s '%s' has dtype %s; only float32 is supported",
                             batch_norm_param_names[i], v->name, ei_dtype_name(v->dtype));
    if (v->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input %s '%s' has shape %s, expected rank 1 (one value per "
                             "channel)",
                             batch_norm_param_names[i], v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf));
    if (c >= 0 && v->dims[0] != c)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input %s '%s' has shape %s, expected [%lld] (the channel count "
                             "of X)",
                             batch_norm_param_names[i], v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf), (long long)c);
    return EI_STATUS_OK;
}

static ei_status batch_norm_prepare(ei_exec *ex, ei_node *node) {
    ei_status st = EI_STATUS_OK;
    batch_norm_state *s = NULL;
    if (node->n_inputs != 5 || node->n_outputs < 1) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "expected 5 inputs and at least 1 output, got %d inputs and %d "
                           "outputs",
                           node->n_inputs, node->n_outputs);
        goto cleanup;
    }
    for (int i = 0; i < 5; i++) {
        if (node->inputs[i] < 0) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "input %d is required", i);
            goto cleanup;
        }
    }
    if (node->outputs[0] < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "output Y is required");
        goto cleanup;
    }
    int64_t training = 0, spatial = 1;
    if (node->opset >= 14) EI_TRY(ei_node_attr_int(node, "training_mode", 0, &training));
    if (node->opset < 9) EI_TRY(ei_node_attr_int(node, "spatial", 1, &spatial));
    if (training != 0) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "training_mode=%lld is not supported (inference only)",
                           (long long)training);
        goto cleanup;
    }
    if (spatial != 1) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "spatial=%lld is not supported (only per-channel statistics, "
                           "spatial=1)",
                           (long long)spatial);
        goto cleanup;
    }
    for (int i = 1; i < node->n_outputs; i++) {
        if (node->outputs[i] >= 0) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "output %d (running statistics) is only produced in training "
                               "mode, which is not supported",
                               i);
            goto cleanup;
        }
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_float(node, "epsilon", 1e-5f, &s->epsilon));
    if (!(s->epsilon >= 0.0f)) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'epsilon' = %g, expected a value >= 0",
                           (double)s->epsilon);
        goto cleanup;
    }
    bool all_known = true;
    int64_t c = -1;
    const ei_value *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = ei_node_in(ex, node, i + 1);
        if (!ei_value_known(p[i]) || p[i]->rank < 0) {
            all_known = false;
            continue;
        }
        EI_TRY(batch_norm_check_param(node, p[i], i, -1));
        if (c < 0) c = p[i]->dims[0];
        if (p[i]->dims[0] != c) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "parameters have different lengths (%s '%s' has %lld values)",
                               batch_norm_param_names[i], p[i]->name,
                               (long long)p[i]->dims[0]);
            goto cleanup;
        }
    }
    if (all_known) {
        size_t bytes;
        if (!ei_size_mul((size_t)c, 2 * sizeof(float), &bytes)) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "too many channels");
            goto cleanup;
        }
        s->folded = malloc(bytes ? bytes : 1);
        if (!s->folded) {
            st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
            goto cleanup;
        }
        s->folded_c = (size_t)c;
        batch_norm_fold((size_t)c, s->epsilon, p[0]->data, p[1]->data, p[2]->data, p[3]->data,
                        s->folded);
    }
    node->state = s;
    s = NULL;
cleanup:
    batch_norm_destroy(s);
    return st;
}

static ei_status batch_norm_infer(ei_exec *ex, ei_node *node) {
    batch_norm_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    char buf[128];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank < 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s, expected rank >= 2 (N, C, ...)",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    int64_t c = x->dims[1];
    for (int i = 0; i < 4; i++)
        EI_CHECK(batch_norm_check_param(node, ei_node_in(ex, node, i + 1), i, c));
    size_t plane = 1;
    for (int i = 2; i < x->rank; i++) plane *= (size_t)x->dims[i]; /* bounded by numel */
    s->n = (size_t)x->dims[0];
    s->c = (size_t)c;
    s->plane = plane;
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims));
    node->scratch_bytes = s->folded ? 0 : 2 * s->c * sizeof(float);
    return EI_STATUS_OK;
}

static void batch_norm_task(void *arg, size_t task, int thread) {
    (void)thread;
    const batch_norm_args *p = arg;
    const batch_norm_state *s = p->s;
    const ei_kernel_table *k = ei_kernels();
    size_t total = s->n * s->c, lo = task * p->planes_per_task;
    size_t hi = lo + p->planes_per_task < total ? lo + p->planes_per_task : total;
    for (size_t i = lo; i < hi; i++) {
        size_t ch = i % s->c;
        k->f32_vaffine(s->plane, p->x + i * s->plane, p->ss[ch], p->ss[s->c + ch],
                       p->y + i * s->plane);
    }
}

static ei_status batch_norm_run(ei_exec *ex, ei_node *node) {
    const batch_norm_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    size_t planes = s->n * s->c;
    if (planes == 0 || s->plane == 0) return EI_STATUS_OK;
    const float *ss = s->folded;
    if (!ss) {
        float *tmp = node->scratch;
        batch_norm_fold(s->c, s->epsilon, ei_node_in(ex, node, 1)->data,
                        ei_node_in(ex, node, 2)->data, ei_node_in(ex, node, 3)->data,
                        ei_node_in(ex, node, 4)->data, tmp);
        ss = tmp;
    }
    /* About 64K elements per task, no more tasks than threads. */
    size_t total = planes * s->plane, n_tasks = total >> 16;
    if (n_tasks > (size_t)ex->num_threads) n_tasks = (size_t)ex->num_threads;
    if (n_tasks > planes) n_tasks = planes;
    if (n_tasks < 1) n_tasks = 1;
    batch_norm_args p = {s, x->data, ss, y->data, (planes + n_tasks - 1) / n_tasks};
    n_tasks = (planes + p.planes_per_task - 1) / p.planes_per_task;
    if (n_tasks == 1) batch_norm_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, batch_norm_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_batch_normalization = {batch_norm_prepare, batch_norm_infer,
                                                 batch_norm_run, batch_norm_destroy,
                                                 .dtypes = "float32"};
