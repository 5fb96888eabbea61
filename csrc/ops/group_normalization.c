/*
 * group_normalization.c - GroupNormalization on float32: the channels of X [N, C, ...]
 * are split into num_groups groups; each (n, group) block (contiguous) is normalized by
 * its own mean and variance, then scaled and shifted per channel. Opset 18 gives scale
 * and bias per group ([num_groups]); opset 21 per channel ([C]) and adds stash_type.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/norm_util.h"

typedef struct gn_state {
    int64_t groups;
    float epsilon;
    size_t n, c, plane; /* plane: product of the spatial dims */
    bool per_channel;   /* scale/bias indexed by channel (opset 21) */
} gn_state;

static ei_status gn_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    int64_t stash;
    gn_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    if (!ei_node_attr(node, "num_groups")) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'num_groups' is required");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "num_groups", 1, &s->groups));
    if (s->groups < 1) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'num_groups' = %lld must be >= 1", (long long)s->groups);
        goto cleanup;
    }
    EI_TRY(ei_node_attr_float(node, "epsilon", 1e-5f, &s->epsilon));
    EI_TRY(ei_node_attr_int(node, "stash_type", 1, &stash));
    if (stash != 1) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'stash_type' = %lld; only 1 (float32) is supported",
                           (long long)stash);
        goto cleanup;
    }
    s->per_channel = node->opset >= 21;
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status gn_infer(ei_exec *ex, ei_node *node) {
    gn_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0);
    char buf[160];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank < 2)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' has rank %d; expected [N, C, ...] (rank >= 2)", x->name,
                             x->rank);
    if (x->dims[1] % s->groups != 0)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' has %lld channels, not divisible by num_groups = %lld",
                             x->name, (long long)x->dims[1], (long long)s->groups);
    int64_t want = s->per_channel ? x->dims[1] : s->groups;
    for (int i = 1; i < 3; i++) {
        const ei_value *p = ei_node_in(ex, node, i);
        if (p->dtype != EI_DTYPE_F32 || p->rank != 1 || p->dims[0] != want)
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "input '%s' (%s %s) must be float32 of shape [%lld] (%s at opset %d)", p->name,
                ei_dtype_name(p->dtype), ei_shape_str(p->rank, p->dims, buf, sizeof buf),
                (long long)want, s->per_channel ? "one per channel" : "one per group", node->opset);
    }
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->plane = 1;
    for (int i = 2; i < x->rank; i++)
        s->plane *= (size_t)x->dims[i];
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims);
}

typedef struct gn_ctx {
    const gn_state *s;
    const float *x, *scale, *bias;
    float *y;
    size_t n_tasks;
} gn_ctx;

static void gn_task(void *arg, size_t task, int thread) {
    (void)thread;
    const gn_ctx *c = arg;
    const gn_state *s = c->s;
    const ei_kernel_table *k = ei_kernels();
    size_t g = (size_t)s->groups, cpg = s->c / g, blocks = s->n * g;
    size_t per = (blocks + c->n_tasks - 1) / c->n_tasks, b = per * task, e = b + per;
    size_t len = cpg * s->plane;
    if (e > blocks) e = blocks;
    for (size_t blk = b; blk < e; blk++) {
        const float *x = c->x + blk * len;
        float *y = c->y + blk * len;
        float mean;
        float var = ei_norm_center(k, len, x, y, &mean);
        float inv = 1.0f / sqrtf(var + s->epsilon);
        size_t grp = blk % g;
        for (size_t ch = 0; ch < cpg; ch++) {
            size_t pi = s->per_channel ? grp * cpg + ch : grp;
            float *yc = y + ch * s->plane;
            k->f32_vaffine(s->plane, yc, c->scale[pi] * inv, c->bias[pi], yc);
        }
    }
}

static ei_status gn_run(ei_exec *ex, ei_node *node) {
    const gn_state *s = node->state;
    gn_ctx c = {s,
                ei_node_in(ex, node, 0)->data,
                ei_node_in(ex, node, 1)->data,
                ei_node_in(ex, node, 2)->data,
                ei_node_out(ex, node, 0)->data,
                1};
    size_t blocks = s->n * (size_t)s->groups, total;
    if (blocks == 0 || s->c == 0 || s->plane == 0) return EI_STATUS_OK;
    if (!ei_size_mul(s->n * s->c, s->plane, &total)) total = SIZE_MAX;
    size_t t = ei_elem_tasks(ex, total, 16384);
    c.n_tasks = t < blocks ? t : blocks;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        gn_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, gn_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_group_normalization = {gn_prepare, gn_infer, gn_run, free,
                                                 .dtypes = "float32"};
