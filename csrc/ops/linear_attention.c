/*
 * linear_attention.c - LinearAttention (opset 27) on float32: the recurrent linear
 * attention family ('linear', 'gated', 'delta', 'gated_delta') over packed
 * [batch, seq, heads*dim] Q/K/V, with GQA (q head h reads kv head h / group), a
 * [batch, kv_heads, d_k, d_v] state carried in past_state/present_state, per-head or
 * per-key-dim log-space decay and per-head (or shared) beta. Tokens are processed
 * sequentially, as the definition reads; (batch, kv head) pairs go to the thread pool,
 * each owning its state. chunk_size is only a tuning hint and is ignored.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct la_state {
    int64_t hq, hkv;
    float scale_attr;
    bool gating, delta;
    /* from the last infer */
    size_t batch, seq, dk, dv;
    float scale;
    bool decay_per_dim; /* decay is [B, T, Hkv*dk] (else [B, T, Hkv]) */
    bool beta_per_head; /* beta is [B, T, Hkv] (else [B, T, 1]) */
    size_t n_slots;
} la_state;

static ei_status la_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    const char *rule;
    la_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 3, 6, 2));
    EI_TRY(ei_node_attr_int(node, "q_num_heads", 0, &s->hq));
    EI_TRY(ei_node_attr_int(node, "kv_num_heads", 0, &s->hkv));
    EI_TRY(ei_node_attr_float(node, "scale", 0.0f, &s->scale_attr));
    EI_TRY(ei_node_attr_string(node, "update_rule", "gated_delta", &rule));
    if (s->hq <= 0 || s->hkv <= 0 || s->hq % s->hkv != 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes 'q_num_heads' = %lld and 'kv_num_heads' = %lld are "
                           "required; q_num_heads must be a positive multiple of kv_num_heads",
                           (long long)s->hq, (long long)s->hkv);
        goto cleanup;
    }
    if (strcmp(rule, "linear") == 0) {
    } else if (strcmp(rule, "gated") == 0) {
        s->gating = true;
    } else if (strcmp(rule, "delta") == 0) {
        s->delta = true;
    } else if (strcmp(rule, "gated_delta") == 0) {
        s->gating = s->delta = true;
    } else {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'update_rule' = '%s'; expected 'linear', 'gated', "
                           "'delta' or 'gated_delta'",
                           rule);
        goto cleanup;
    }
    {
        bool has_decay = node->n_inputs > 4 && node->inputs[4] >= 0;
        bool has_beta = node->n_inputs > 5 && node->inputs[5] >= 0;
        if (has_decay != s->gating || has_beta != s->delta) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "update_rule '%s' %s input 'decay' and %s input 'beta'", rule,
                               s->gating ? "requires" : "forbids",
                               s->delta ? "requires" : "forbids");
            goto cleanup;
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status la_infer(ei_exec *ex, ei_node *node) {
    la_state *s = node->state;
    const ei_value *q = ei_node_in(ex, node, 0), *k = ei_node_in(ex, node, 1);
    const ei_value *v = ei_node_in(ex, node, 2), *past = ei_node_in(ex, node, 3);
    const ei_value *decay = ei_node_in(ex, node, 4), *beta = ei_node_in(ex, node, 5);
    char b1[96], b2[96], b3[96];
    const ei_value *all[6] = {q, k, v, past, decay, beta};
    static const char *what[6] = {"query", "key", "value", "past_state", "decay", "beta"};
    for (int i = 0; i < 6; i++) {
        if (!all[i]) continue;
        if (all[i]->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input '%s' (%s) has dtype %s; only float32 is supported",
                                 all[i]->name, what[i], ei_dtype_name(all[i]->dtype));
        if (i != 3 && all[i]->rank != 3)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (%s) must be 3-D [batch, seq, packed], got %s",
                                 all[i]->name, what[i],
                                 ei_shape_str(all[i]->rank, all[i]->dims, b1, sizeof b1));
    }
    size_t hq = (size_t)s->hq, hkv = (size_t)s->hkv;
    s->batch = (size_t)q->dims[0];
    s->seq = (size_t)q->dims[1];
    s->dk = (size_t)q->dims[2] / hq;
    s->dv = (size_t)v->dims[2] / hkv;
    if ((size_t)q->dims[2] % hq != 0 || (size_t)v->dims[2] % hkv != 0 ||
        (size_t)k->dims[2] != hkv * s->dk || k->dims[0] != q->dims[0] || v->dims[0] != q->dims[0] ||
        k->dims[1] != q->dims[1] || v->dims[1] != q->dims[1])
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (query) %s, '%s' (key) %s and '%s' (value) %s do not "
                             "match q_num_heads = %zu and kv_num_heads = %zu",
                             q->name, ei_shape_str(q->rank, q->dims, b1, sizeof b1), k->name,
                             ei_shape_str(k->rank, k->dims, b2, sizeof b2), v->name,
                             ei_shape_str(v->rank, v->dims, b3, sizeof b3), hq, hkv);
    int64_t sd[4] = {(int64_t)s->batch, s->hkv, (int64_t)s->dk, (int64_t)s->dv};
    if (past && (past->rank != 4 || memcmp(past->dims, sd, sizeof sd) != 0))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (past_state) has shape %s, expected %s", past->name,
                             ei_shape_str(past->rank, past->dims, b1, sizeof b1),
                             ei_shape_str(4, sd, b2, sizeof b2));
    if (decay) {
        size_t last = (size_t)decay->dims[2];
        if (decay->dims[0] != q->dims[0] || decay->dims[1] != q->dims[1] ||
            (last != hkv && last != hkv * s->dk))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (decay) has shape %s; expected [%zu,%zu,%zu] or "
                                 "[%zu,%zu,%zu]",
                                 decay->name, ei_shape_str(decay->rank, decay->dims, b1, sizeof b1),
                                 s->batch, s->seq, hkv, s->batch, s->seq, hkv * s->dk);
        s->decay_per_dim = last != hkv;
    }
    if (beta) {
        size_t last = (size_t)beta->dims[2];
        if (beta->dims[0] != q->dims[0] || beta->dims[1] != q->dims[1] ||
            (last != hkv && last != 1))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (beta) has shape %s; expected [%zu,%zu,%zu] or "
                                 "[%zu,%zu,1]",
                                 beta->name, ei_shape_str(beta->rank, beta->dims, b1, sizeof b1),
                                 s->batch, s->seq, hkv, s->batch, s->seq);
        s->beta_per_head = last == hkv;
    }
    size_t bh, hidden;
    if (!ei_size_mul(s->batch, hkv, &bh) || !ei_size_mul(hq, s->dv, &hidden) ||
        hidden > (size_t)INT64_MAX)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "output size overflows");
    s->scale = s->scale_attr != 0.0f ? s->scale_attr : 1.0f / sqrtf((float)s->dk);
    int64_t od[3] = {q->dims[0], q->dims[1], (int64_t)hidden};
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 3, od));
    ei_value *ps = ei_node_out(ex, node, 1);
    if (ps) EI_CHECK(ei_elem_set_out(node, ps, EI_DTYPE_F32, 4, sd));
    /* Scratch: the state when present_state is not requested, plus d_v floats per thread
     * for the delta rule's corrected value. */
    size_t state_elems, slots, bytes;
    s->n_slots = ex->num_threads > 1 ? (size_t)ex->num_threads : 1;
    if (!ei_size_mul(bh, s->dk, &state_elems) || !ei_size_mul(state_elems, s->dv, &state_elems) ||
        !ei_size_mul(s->n_slots, s->dv, &slots) ||
        !ei_size_add(ps ? 0 : state_elems, slots, &bytes) ||
        !ei_size_mul(bytes, sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "state size overflows");
    node->scratch_bytes = bytes;
    return EI_STATUS_OK;
}

typedef struct la_ctx {
    const la_state *s;
    const float *q, *k, *v, *past, *decay, *beta;
    float *y, *state, *tmp;
} la_ctx;

static void la_task(void *arg, size_t task, int thread) {
    const la_ctx *c = arg;
    const la_state *s = c->s;
    size_t hq = (size_t)s->hq, hkv = (size_t)s->hkv, grp = hq / hkv;
    size_t b = task / hkv, g = task % hkv, dk = s->dk, dv = s->dv;
    float *S = c->state + task * dk * dv;
    float *u = c->tmp + (size_t)thread * dv;
    if (c->past)
        memcpy(S, c->past + task * dk * dv, dk * dv * sizeof(float));
    else
        memset(S, 0, dk * dv * sizeof(float));
    for (size_t t = 0; t < s->seq; t++) {
        size_t bt = b * s->seq + t;
        const float *kt = c->k + bt * hkv * dk + g * dk;
        const float *vt = c->v + bt * hkv * dv + g * dv;
        if (s->gating) {
            if (s->decay_per_dim) {
                const float *gd = c->decay + bt * hkv * dk + g * dk;
                for (size_t d = 0; d < dk; d++) {
                    float e = expf(gd[d]);
                    for (size_t m = 0; m < dv; m++)
                        S[d * dv + m] *= e;
                }
            } else {
                float e = expf(c->decay[bt * hkv + g]);
                for (size_t i = 0; i < dk * dv; i++)
                    S[i] *= e;
            }
        }
        const float *upd = vt;
        if (s->delta) {
            float bet = s->beta_per_head ? c->beta[bt * hkv + g] : c->beta[bt];
            for (size_t m = 0; m < dv; m++)
                u[m] = 0.0f;
            for (size_t d = 0; d < dk; d++)
                for (size_t m = 0; m < dv; m++)
                    u[m] += S[d * dv + m] * kt[d];
            for (size_t m = 0; m < dv; m++)
                u[m] = bet * (vt[m] - u[m]);
            upd = u;
        }
        for (size_t d = 0; d < dk; d++)
            for (size_t m = 0; m < dv; m++)
                S[d * dv + m] += kt[d] * upd[m];
        for (size_t i = 0; i < grp; i++) {
            size_t h = g * grp + i;
            const float *qt = c->q + bt * hq * dk + h * dk;
            float *o = c->y + bt * hq * dv + h * dv;
            for (size_t m = 0; m < dv; m++)
                o[m] = 0.0f;
            for (size_t d = 0; d < dk; d++)
                for (size_t m = 0; m < dv; m++)
                    o[m] += qt[d] * S[d * dv + m];
            for (size_t m = 0; m < dv; m++)
                o[m] *= s->scale;
        }
    }
}

static ei_status la_run(ei_exec *ex, ei_node *node) {
    const la_state *s = node->state;
    const ei_value *past = ei_node_in(ex, node, 3), *decay = ei_node_in(ex, node, 4);
    const ei_value *beta = ei_node_in(ex, node, 5);
    ei_value *ps = ei_node_out(ex, node, 1);
    float *scratch = node->scratch;
    size_t state_elems = s->batch * (size_t)s->hkv * s->dk * s->dv;
    la_ctx c = {s,
                ei_node_in(ex, node, 0)->data,
                ei_node_in(ex, node, 1)->data,
                ei_node_in(ex, node, 2)->data,
                past ? past->data : NULL,
                decay ? decay->data : NULL,
                beta ? beta->data : NULL,
                ei_node_out(ex, node, 0)->data,
                ps ? ps->data : scratch,
                ps ? scratch : scratch + state_elems};
    size_t n_tasks = s->batch * (size_t)s->hkv;
    if (n_tasks == 0) return EI_STATUS_OK;
    if (n_tasks == 1 || !ex->pool || s->n_slots == 1 ||
        (size_t)ei_threadpool_size(ex->pool) > s->n_slots) {
        for (size_t t = 0; t < n_tasks; t++)
            la_task(&c, t, 0);
    } else {
        ei_threadpool_run(ex->pool, n_tasks, la_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_linear_attention = {la_prepare, la_infer, la_run, free,
                                              .dtypes = "float32"};
