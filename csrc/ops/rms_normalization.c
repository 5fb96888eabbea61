/*
 * rms_normalization.c - RMSNormalization (opset 23) on float32: each row of the input
 * flattened to [outer, norm] at axis is divided by sqrt(mean(x^2) + epsilon), then
 * multiplied by Scale, which unidirectionally broadcasts to X.shape[axis:] (a partial
 * shape is expanded into scratch once per run). Only stash_type 1 (float32) is accepted.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/norm_util.h"

typedef struct rms_state {
    int64_t axis;
    float epsilon;
    int axis_norm; /* from the last infer */
    size_t outer, norm;
    bool scale_full; /* Scale already holds norm elements in order */
} rms_state;

static ei_status rms_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    rms_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    EI_TRY(ei_norm_parse_axis_attrs(node, &s->axis, &s->epsilon));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status rms_infer(ei_exec *ex, ei_node *node) {
    rms_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *sc = ei_node_in(ex, node, 1);
    char buf[80], buf2[80];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (sc->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' (scale) has dtype %s; only float32 is supported", sc->name,
                             ei_dtype_name(sc->dtype));
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis, x->rank, &s->axis_norm))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis, x->name, x->rank);
    int axis = s->axis_norm;
    if (!ei_norm_bcast_ok(sc, x->rank - axis, x->dims + axis, &s->scale_full))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (scale) of shape %s does not broadcast to the "
                             "normalized shape %s",
                             sc->name, ei_shape_str(sc->rank, sc->dims, buf, sizeof buf),
                             ei_shape_str(x->rank - axis, x->dims + axis, buf2, sizeof buf2));
    s->outer = s->norm = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            s->outer *= (size_t)x->dims[i];
        else
            s->norm *= (size_t)x->dims[i];
    }
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims));
    node->scratch_bytes = s->scale_full ? 0 : s->norm * sizeof(float);
    return EI_STATUS_OK;
}

/* Expands p (broadcast to dims[0..n)) into out, C order. */
static void rms_expand(const ei_value *p, int n, const int64_t *dims, float *out, size_t total) {
    size_t ps[EI_MAX_RANK];
    size_t stride = 1;
    for (int i = n - 1; i >= 0; i--) {
        int pi = p->rank - (n - i);
        if (pi >= 0 && p->dims[pi] != 1) {
            ps[i] = stride;
            stride *= (size_t)p->dims[pi];
        } else {
            ps[i] = 0;
        }
    }
    const float *src = p->data;
    for (size_t k = 0; k < total; k++) {
        size_t r = k, off = 0;
        for (int i = n - 1; i >= 0; i--) {
            off += (r % (size_t)dims[i]) * ps[i];
            r /= (size_t)dims[i];
        }
        out[k] = src[off];
    }
}

typedef struct rms_ctx {
    const rms_state *s;
    const float *x, *scale;
    float *y;
    size_t n_tasks;
} rms_ctx;

static void rms_task(void *arg, size_t task, int thread) {
    (void)thread;
    const rms_ctx *c = arg;
    const rms_state *s = c->s;
    size_t per = (s->outer + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per;
    if (e > s->outer) e = s->outer;
    const ei_kernel_table *k = ei_kernels();
    size_t n = s->norm;
    for (size_t r = b; r < e; r++) {
        const float *x = c->x + r * n;
        float *y = c->y + r * n;
        /* mean square, then y = x * inv * scale in one pass (the f32_norm kernels) */
        float ms = n ? k->f32_sumsq_dev(n, x, 0.0f) / (float)n : 0.0f;
        float inv = 1.0f / sqrtf(ms + s->epsilon);
        k->f32_norm_affine(n, x, 0.0f, inv, c->scale, NULL, y);
    }
}

static ei_status rms_run(ei_exec *ex, ei_node *node) {
    const rms_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sc = ei_node_in(ex, node, 1);
    rms_ctx c = {s, x->data, sc->data, ei_node_out(ex, node, 0)->data, 1};
    if (s->outer == 0 || s->norm == 0) return EI_STATUS_OK;
    if (!s->scale_full) {
        rms_expand(sc, x->rank - s->axis_norm, x->dims + s->axis_norm, node->scratch, s->norm);
        c.scale = node->scratch;
    }
    size_t total;
    if (!ei_size_mul(s->outer, s->norm, &total)) total = SIZE_MAX;
    size_t t = ei_elem_tasks(ex, total, 16384);
    c.n_tasks = t < s->outer ? t : s->outer;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        rms_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, rms_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_rms_normalization = {rms_prepare, rms_infer, rms_run, free,
                                               .dtypes = "float32"};
