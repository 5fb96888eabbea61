/*
 * layer_normalization.c - LayerNormalization (opset 17) on float32: each row of the
 * input flattened to [outer, norm] at axis is normalized with a two-pass mean/variance,
 * then scaled and shifted by Scale and B (unidirectionally broadcast to X.shape[axis:];
 * partial shapes are expanded into scratch once per run) in one fused pass (the f32_norm
 * kernels). Optional Mean and InvStdDev
 * outputs have shape X.shape[:axis] + [1] * (rank - axis). Rows go to the thread pool.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/norm_util.h"

typedef struct ln_state {
    int64_t axis;
    float epsilon;
    size_t outer, norm;
    bool scale_full, bias_full; /* Scale/B already hold norm elements in order */
} ln_state;

static ei_status ln_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ln_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 2, 3, 3));
    EI_TRY(ei_norm_parse_axis_attrs(node, &s->axis, &s->epsilon));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status ln_infer(ei_exec *ex, ei_node *node) {
    ln_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *sc = ei_node_in(ex, node, 1);
    ei_value *b = ei_node_in(ex, node, 2);
    int axis;
    char buf[160];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis, x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis, x->name, x->rank);
    const ei_value *params[2] = {sc, b};
    bool *full[2] = {&s->scale_full, &s->bias_full};
    s->bias_full = true;
    for (int i = 0; i < 2; i++) {
        const ei_value *p = params[i];
        if (!p) continue;
        if (p->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' must be float32, got %s", p->name,
                                 ei_dtype_name(p->dtype));
        if (!ei_norm_bcast_ok(p, x->rank - axis, x->dims + axis, full[i]))
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "input '%s' of shape %s does not broadcast to the normalized shape", p->name,
                ei_shape_str(p->rank, p->dims, buf, sizeof buf));
    }
    s->outer = s->norm = 1;
    int64_t sd[EI_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            s->outer *= (size_t)x->dims[i];
        else
            s->norm *= (size_t)x->dims[i];
        sd[i] = i < axis ? x->dims[i] : 1;
    }
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims));
    for (int i = 1; i < 3; i++) {
        ei_value *o = ei_node_out(ex, node, i);
        if (o) EI_CHECK(ei_elem_set_out(node, o, EI_DTYPE_F32, x->rank, sd));
    }
    node->scratch_bytes = 0;
    if (!s->scale_full || !s->bias_full) node->scratch_bytes = 2 * s->norm * sizeof(float);
    return EI_STATUS_OK;
}

/* Expands p (broadcast to dims[0..n)) into out, C order. */
static void ln_expand(const ei_value *p, int n, const int64_t *dims, float *out, size_t total) {
    int64_t ps[EI_MAX_RANK];
    int64_t st = 1;
    for (int i = n - 1; i >= 0; i--) {
        int pi = p->rank - (n - i);
        if (pi >= 0 && p->dims[pi] != 1) {
            ps[i] = st;
            st *= p->dims[pi];
        } else {
            ps[i] = 0;
        }
    }
    const float *src = p->data;
    for (size_t k = 0; k < total; k++) {
        size_t r = k, off = 0;
        for (int i = n - 1; i >= 0; i--) {
            off += (r % (size_t)dims[i]) * (size_t)ps[i];
            r /= (size_t)dims[i];
        }
        out[k] = src[off];
    }
}

typedef struct ln_ctx {
    const ln_state *s;
    const float *x, *scale, *bias;
    float *y, *mean, *inv;
    size_t n_tasks;
} ln_ctx;

static void ln_task(void *arg, size_t task, int thread) {
    (void)thread;
    const ln_ctx *c = arg;
    const ln_state *s = c->s;
    size_t per = (s->outer + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per;
    if (e > s->outer) e = s->outer;
    const ei_kernel_table *k = ei_kernels();
    size_t n = s->norm;
    for (size_t r = b; r < e; r++) {
        const float *x = c->x + r * n;
        float *y = c->y + r * n;
        /* two passes for mean and variance (stable when |mean| >> std), one fused pass for
         * (x - mean) * inv * scale + bias */
        float mean = n ? k->f32_sum(n, x) / (float)n : 0.0f;
        float var = n ? k->f32_sumsq_dev(n, x, mean) / (float)n : 0.0f;
        float inv = 1.0f / sqrtf(var + s->epsilon);
        k->f32_norm_affine(n, x, mean, inv, c->scale, c->bias, y);
        if (c->mean) c->mean[r] = mean;
        if (c->inv) c->inv[r] = inv;
    }
}

static ei_status ln_run(ei_exec *ex, ei_node *node) {
    const ln_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sc = ei_node_in(ex, node, 1);
    const ei_value *b = ei_node_in(ex, node, 2);
    ei_value *mo = ei_node_out(ex, node, 1), *io = ei_node_out(ex, node, 2);
    ln_ctx c = {s,
                x->data,
                sc->data,
                b ? b->data : NULL,
                ei_node_out(ex, node, 0)->data,
                mo ? mo->data : NULL,
                io ? io->data : NULL,
                1};
    if (s->outer == 0) return EI_STATUS_OK;
    int axis = (int)(s->axis < 0 ? s->axis + x->rank : s->axis);
    float *scratch = node->scratch;
    if (!s->scale_full) {
        ln_expand(sc, x->rank - axis, x->dims + axis, scratch, s->norm);
        c.scale = scratch;
    }
    if (b && !s->bias_full) {
        ln_expand(b, x->rank - axis, x->dims + axis, scratch + s->norm, s->norm);
        c.bias = scratch + s->norm;
    }
    size_t total;
    if (!ei_size_mul(s->outer, s->norm, &total)) total = SIZE_MAX;
    size_t t = ei_elem_tasks(ex, total, 16384);
    c.n_tasks = t < s->outer ? t : s->outer;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        ln_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, ln_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_layer_normalization = {ln_prepare, ln_infer, ln_run, free,
                                                 .dtypes = "float32"};
