/*
 * causal_conv_with_state.c - CausalConvWithState (opset 27) on float32: a depthwise causal
 * 1-D convolution over [batch, channels, length] whose left padding is past_state (zeros
 * when absent), optional per-channel bias and fused SiLU ('silu' / 'swish'), and
 * present_state = the last k-1 positions of [past_state, input]. Rows (batch, channel)
 * go to the thread pool.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct ccs_state {
    bool silu;
    size_t batch, channels, len, k; /* from the last infer */
} ccs_state;

static ei_status ccs_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    const char *act;
    ccs_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 2, 4, 2));
    EI_TRY(ei_node_attr_string(node, "activation", "none", &act));
    if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0) {
        s->silu = true;
    } else if (strcmp(act, "none") != 0) {
        st =
            ei_node_error(node, EI_STATUS_INVALID_MODEL,
                          "attribute 'activation' = '%s'; expected 'none', 'silu' or 'swish'", act);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status ccs_infer(ei_exec *ex, ei_node *node) {
    ccs_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *b = ei_node_in(ex, node, 2), *past = ei_node_in(ex, node, 3);
    char b1[96], b2[96];
    const ei_value *all[4] = {x, w, b, past};
    static const char *what[4] = {"input", "weight", "bias", "past_state"};
    for (int i = 0; i < 4; i++)
        if (all[i] && all[i]->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input '%s' (%s) has dtype %s; only float32 is supported",
                                 all[i]->name, what[i], ei_dtype_name(all[i]->dtype));
    if (x->rank != 3)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' must be 3-D [batch, channels, length], got %s", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1));
    s->batch = (size_t)x->dims[0];
    s->channels = (size_t)x->dims[1];
    s->len = (size_t)x->dims[2];
    if (w->rank != 3 || w->dims[0] != x->dims[1] || w->dims[1] != 1 || w->dims[2] < 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (weight) has shape %s, expected [%zu,1,k] with k >= 1",
                             w->name, ei_shape_str(w->rank, w->dims, b1, sizeof b1), s->channels);
    s->k = (size_t)w->dims[2];
    if (b && (b->rank != 1 || b->dims[0] != x->dims[1]))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (bias) has shape %s, expected [%zu]", b->name,
                             ei_shape_str(b->rank, b->dims, b1, sizeof b1), s->channels);
    int64_t sd[3] = {x->dims[0], x->dims[1], (int64_t)s->k - 1};
    if (past && (past->rank != 3 || memcmp(past->dims, sd, sizeof sd) != 0))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (past_state) has shape %s, expected %s", past->name,
                             ei_shape_str(past->rank, past->dims, b1, sizeof b1),
                             ei_shape_str(3, sd, b2, sizeof b2));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 3, x->dims));
    ei_value *ps = ei_node_out(ex, node, 1);
    if (ps) EI_CHECK(ei_elem_set_out(node, ps, EI_DTYPE_F32, 3, sd));
    node->scratch_bytes = 0;
    return EI_STATUS_OK;
}

typedef struct ccs_ctx {
    const ccs_state *s;
    const float *x, *w, *b, *past;
    float *y, *present;
    size_t n_rows, n_tasks;
} ccs_ctx;

static void ccs_task(void *arg, size_t task, int thread) {
    (void)thread;
    const ccs_ctx *c = arg;
    const ccs_state *s = c->s;
    size_t per = (c->n_rows + c->n_tasks - 1) / c->n_tasks;
    size_t r0 = per * task, r1 = r0 + per;
    if (r1 > c->n_rows) r1 = c->n_rows;
    size_t k = s->k, pad = k - 1, L = s->len;
    for (size_t r = r0; r < r1; r++) {
        size_t ch = r % s->channels;
        const float *x = c->x + r * L, *w = c->w + ch * k;
        const float *past = c->past ? c->past + r * pad : NULL;
        float *y = c->y + r * L;
        float bias = c->b ? c->b[ch] : 0.0f;
        /* padded[p] = p < pad ? past[p] (or 0) : x[p - pad]; y[t] = sum_j w[j] padded[t+j]. */
        for (size_t t = 0; t < L; t++) {
            float acc = bias;
            for (size_t j = 0; j < k; j++) {
                size_t p = t + j;
                float v = p >= pad ? x[p - pad] : (past ? past[p] : 0.0f);
                acc += w[j] * v;
            }
            y[t] = s->silu ? acc / (1.0f + expf(-acc)) : acc;
        }
        if (c->present) {
            float *o = c->present + r * pad;
            for (size_t i = 0; i < pad; i++) {
                size_t p = L + i; /* the last pad positions of the L + pad padded ones */
                o[i] = p >= pad ? x[p - pad] : (past ? past[p] : 0.0f);
            }
        }
    }
}

static ei_status ccs_run(ei_exec *ex, ei_node *node) {
    const ccs_state *s = node->state;
    const ei_value *b = ei_node_in(ex, node, 2), *past = ei_node_in(ex, node, 3);
    ei_value *ps = ei_node_out(ex, node, 1);
    ccs_ctx c = {s,
                 ei_node_in(ex, node, 0)->data,
                 ei_node_in(ex, node, 1)->data,
                 b ? b->data : NULL,
                 past ? past->data : NULL,
                 ei_node_out(ex, node, 0)->data,
                 ps && s->k > 1 ? ps->data : NULL,
                 s->batch * s->channels,
                 1};
    if (c.n_rows == 0) return EI_STATUS_OK;
    size_t work;
    if (!ei_size_add(s->len, s->k, &work) || !ei_size_mul(c.n_rows, work, &work) ||
        !ei_size_mul(work, s->k, &work))
        work = SIZE_MAX;
    size_t t = ei_elem_tasks(ex, work, 16384);
    c.n_tasks = t < c.n_rows ? t : c.n_rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        ccs_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, ccs_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_causal_conv_with_state = {ccs_prepare, ccs_infer, ccs_run, free,
                                                    .dtypes = "float32"};
