/*
 * rotary_embedding.c - RotaryEmbedding (opset 23, RoPE) on float32. X is
 * [batch, heads, seq, head_size] or [batch, seq, heads * head_size] (num_heads given);
 * the first rotary_embedding_dim elements of each head are rotated in halves or in
 * interleaved pairs by cos/sin rows picked by position_ids (2-D caches) or taken per
 * (batch, seq) (3-D caches, or 2-D caches broadcast over the batch). The rest is copied.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct rope_state {
    int64_t interleaved, rot_dim_attr, num_heads;
    /* from the last infer */
    size_t batch, seq, heads, head_size, rot_half;
    size_t s_stride, h_stride; /* element strides of seq and head in X (and Y) */
    size_t b_stride;
    size_t cache_rows;       /* rows of the caches (max position + 1 with position_ids) */
    size_t cache_b, cache_s; /* row strides of the caches per batch and per seq entry */
} rope_state;

static ei_status rope_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    rope_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 3, 4, 1));
    EI_TRY(ei_node_attr_int(node, "interleaved", 0, &s->interleaved));
    EI_TRY(ei_node_attr_int(node, "rotary_embedding_dim", 0, &s->rot_dim_attr));
    EI_TRY(ei_node_attr_int(node, "num_heads", 0, &s->num_heads));
    if (s->rot_dim_attr < 0 || s->num_heads < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes 'rotary_embedding_dim' = %lld and 'num_heads' = %lld "
                           "must not be negative",
                           (long long)s->rot_dim_attr, (long long)s->num_heads);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status rope_infer(ei_exec *ex, ei_node *node) {
    rope_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *cs = ei_node_in(ex, node, 1);
    const ei_value *sn = ei_node_in(ex, node, 2), *pos = ei_node_in(ex, node, 3);
    char b1[96], b2[96];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (cs->dtype != EI_DTYPE_F32 || sn->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (cos_cache) and '%s' (sin_cache) must be float32 like "
                             "'%s', got %s and %s",
                             cs->name, sn->name, x->name, ei_dtype_name(cs->dtype),
                             ei_dtype_name(sn->dtype));
    if (x->rank == 4) {
        s->batch = (size_t)x->dims[0];
        s->heads = (size_t)x->dims[1];
        s->seq = (size_t)x->dims[2];
        s->head_size = (size_t)x->dims[3];
        s->s_stride = s->head_size;
        s->h_stride = s->seq * s->head_size;
        s->b_stride = s->heads * s->h_stride;
    } else if (x->rank == 3) {
        if (s->num_heads == 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' is 3-D: attribute 'num_heads' is required", x->name);
        if (x->dims[2] % s->num_heads != 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s': hidden size %lld is not a multiple of num_heads "
                                 "= %lld",
                                 x->name, (long long)x->dims[2], (long long)s->num_heads);
        s->batch = (size_t)x->dims[0];
        s->seq = (size_t)x->dims[1];
        s->heads = (size_t)s->num_heads;
        s->head_size = (size_t)(x->dims[2] / s->num_heads);
        s->h_stride = s->head_size;
        s->s_stride = (size_t)x->dims[2];
        s->b_stride = s->seq * s->s_stride;
    } else {
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' must be 3-D or 4-D, got shape %s", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1));
    }
    size_t rd = s->rot_dim_attr ? (size_t)s->rot_dim_attr : s->head_size;
    if ((uint64_t)s->rot_dim_attr > (uint64_t)s->head_size || rd % 2 != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "rotary dimension %zu must be even and at most the head size %zu "
                             "of input '%s'",
                             rd, s->head_size, x->name);
    s->rot_half = rd / 2;
    if (cs->rank != sn->rank || memcmp(cs->dims, sn->dims, sizeof(int64_t) * (size_t)cs->rank))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (cos_cache) %s and '%s' (sin_cache) %s must have the "
                             "same shape",
                             cs->name, ei_shape_str(cs->rank, cs->dims, b1, sizeof b1), sn->name,
                             ei_shape_str(sn->rank, sn->dims, b2, sizeof b2));
    if ((cs->rank != 2 && cs->rank != 3) || (size_t)cs->dims[cs->rank - 1] != s->rot_half)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (cos_cache) has shape %s; expected 2-D or 3-D with "
                             "last dim rotary_dim/2 = %zu",
                             cs->name, ei_shape_str(cs->rank, cs->dims, b1, sizeof b1),
                             s->rot_half);
    if (pos) {
        if (pos->dtype != EI_DTYPE_I64)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (position_ids) must be int64, got %s", pos->name,
                                 ei_dtype_name(pos->dtype));
        if (pos->rank != 2 || (size_t)pos->dims[0] != s->batch || (size_t)pos->dims[1] != s->seq)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (position_ids) has shape %s, expected [%zu,%zu]",
                                 pos->name, ei_shape_str(pos->rank, pos->dims, b1, sizeof b1),
                                 s->batch, s->seq);
        if (cs->rank != 2)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (cos_cache) must be 2-D when position_ids are "
                                 "given, got shape %s",
                                 cs->name, ei_shape_str(cs->rank, cs->dims, b1, sizeof b1));
        s->cache_rows = (size_t)cs->dims[0];
        s->cache_b = s->cache_s = 0;
    } else {
        /* [batch, seq, half] or [seq, half], each of batch/seq possibly 1 (broadcast). */
        int64_t cb = cs->rank == 3 ? cs->dims[0] : 1, cq = cs->dims[cs->rank - 2];
        if ((cb != 1 && (size_t)cb != s->batch) || (cq != 1 && (size_t)cq != s->seq))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (cos_cache) of shape %s does not match batch %zu "
                                 "and sequence %zu of input '%s'",
                                 cs->name, ei_shape_str(cs->rank, cs->dims, b1, sizeof b1),
                                 s->batch, s->seq, x->name);
        s->cache_rows = (size_t)(cb * cq);
        s->cache_s = cq != 1 ? 1 : 0;
        s->cache_b = cb != 1 ? (size_t)cq : 0;
    }
    node->scratch_bytes = 0;
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, x->dims);
}

typedef struct rope_ctx {
    const rope_state *s;
    const float *x, *cos, *sin;
    const int64_t *pos;
    float *y;
    size_t n_rows, n_tasks; /* rows = batch * seq */
} rope_ctx;

static void rope_task(void *arg, size_t task, int thread) {
    (void)thread;
    const rope_ctx *c = arg;
    const rope_state *s = c->s;
    size_t per = (c->n_rows + c->n_tasks - 1) / c->n_tasks;
    size_t r0 = per * task, r1 = r0 + per;
    if (r1 > c->n_rows) r1 = c->n_rows;
    size_t half = s->rot_half, rd = 2 * half;
    for (size_t r = r0; r < r1; r++) {
        size_t b = r / s->seq, q = r % s->seq;
        size_t row = c->pos ? (size_t)c->pos[r] : b * s->cache_b + q * s->cache_s;
        const float *cs = c->cos + row * half, *sn = c->sin + row * half;
        for (size_t h = 0; h < s->heads; h++) {
            size_t off = b * s->b_stride + h * s->h_stride + q * s->s_stride;
            const float *x = c->x + off;
            float *y = c->y + off;
            if (c->s->interleaved) {
                for (size_t i = 0; i < half; i++) {
                    float x1 = x[2 * i], x2 = x[2 * i + 1];
                    y[2 * i] = cs[i] * x1 - sn[i] * x2;
                    y[2 * i + 1] = sn[i] * x1 + cs[i] * x2;
                }
            } else {
                for (size_t i = 0; i < half; i++) {
                    float x1 = x[i], x2 = x[half + i];
                    y[i] = cs[i] * x1 - sn[i] * x2;
                    y[half + i] = sn[i] * x1 + cs[i] * x2;
                }
            }
            if (s->head_size > rd) memcpy(y + rd, x + rd, (s->head_size - rd) * sizeof(float));
        }
    }
}

static ei_status rope_run(ei_exec *ex, ei_node *node) {
    const rope_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *pos = ei_node_in(ex, node, 3);
    rope_ctx c = {s,
                  x->data,
                  ei_node_in(ex, node, 1)->data,
                  ei_node_in(ex, node, 2)->data,
                  NULL,
                  ei_node_out(ex, node, 0)->data,
                  s->batch * s->seq,
                  1};
    if (c.n_rows == 0 || s->heads == 0 || s->head_size == 0) return EI_STATUS_OK;
    if (pos) {
        c.pos = pos->data;
        for (size_t i = 0; i < c.n_rows; i++)
            if (c.pos[i] < 0 || (uint64_t)c.pos[i] >= (uint64_t)s->cache_rows)
                return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                     "input '%s' (position_ids) holds %lld at flat index %zu; "
                                     "the caches have %zu rows",
                                     pos->name, (long long)c.pos[i], i, s->cache_rows);
    }
    size_t total = c.n_rows * s->heads * s->head_size;
    size_t t = ei_elem_tasks(ex, total, 16384);
    c.n_tasks = t < c.n_rows ? t : c.n_rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        rope_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, rope_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_rotary_embedding = {rope_prepare, rope_infer, rope_run, free,
                                              .dtypes = "float32"};
