/*
 * attention.c - ONNX Attention (opsets 23, 24) on float32: scaled dot-product attention
 * over 3-D [batch, seq, heads*head] or 4-D [batch, heads, seq, head] Q/K/V, with GQA/MQA
 * (q head h reads kv head h / (q_heads / kv_heads)), past_key/past_value concatenated in
 * front of K/V (present_* outputs), bool or additive attn_mask (a shorter last dim is
 * padded with -inf), is_causal (upper-left aligned, offset by the past length), opset 24's
 * nonpad_kv_seqlen, softcap, and the four qk_matmul_output modes.
 * Work is split by (batch, q head, block of query rows): per block one ei_sgemm for the
 * scores (past and new keys written side by side into one row-major block, no concatenated
 * copy of K), a numerically stable softmax per row, one or two ei_sgemm for the output.
 * Without past keys the block packs its head's K^T and V and uses the packed-B kernel
 * (kernels/gemm.h) instead, with as many query rows per block as keep ~4 blocks per
 * thread. The scores block (and the packed K^T, V) live in per-thread scratch.
 * A row whose every key is masked yields zero probabilities (onnxruntime's choice; onnx's
 * reference gives NaN), except in com.edgeinfer FusedAttention (opt/fuse_attention.c),
 * the same op standing for an unfused MatMul/Softmax/MatMul, where it gives NaN as
 * Softmax does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/fused_act.h"

#define ATT_ROW_BLOCK 32 /* query rows per task */

typedef struct att_state {
    int64_t is_causal, q_heads_attr, kv_heads_attr, mode;
    float scale_attr, softcap;
    bool has_scale;
    /* com.edgeinfer FusedAttention (opt/fuse_attention.c): it stands for a Softmax, which
     * turns a row whose every key is masked into NaN, not zeros. */
    bool nan_masked_rows;
    /* from the last infer */
    size_t batch, hq, hkv, sq, skv, past, total, d, dv;
    float scale;
    size_t q_b, q_h, ldq; /* element offsets of a batch / head start, row stride */
    size_t k_b, k_h, ldk;
    size_t v_b, v_h, ldv;
    size_t y_b, y_h, ldy;
    /* mask: strides per (batch, q head, q row) in elements, 0 where broadcast; mlen
     * = its last dim (<= total); columns past it are -inf. */
    int mask_kind; /* 0 none, 1 bool, 2 float */
    size_t m_b, m_h, m_i, mlen;
    size_t row_blocks, block_rows, n_slots;
    /* Packed path (no past keys): each task packs its head's K^T and V for the packed-B
     * GEMM (kernels/gemm.h) in its scratch slot; NULL: ei_sgemm. */
    const ei_gemm_kernel *gk;
    size_t pk_floats, pv_floats, slot_floats;
} att_state;

static ei_status att_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    att_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    EI_TRY(ei_elem_check_io(node, 3, node->opset >= 24 ? 7 : 6, 4));
    EI_TRY(ei_node_attr_int(node, "is_causal", 0, &s->is_causal));
    EI_TRY(ei_node_attr_int(node, "q_num_heads", 0, &s->q_heads_attr));
    EI_TRY(ei_node_attr_int(node, "kv_num_heads", 0, &s->kv_heads_attr));
    EI_TRY(ei_node_attr_int(node, "qk_matmul_output_mode", 0, &s->mode));
    EI_TRY(ei_node_attr_float(node, "softcap", 0.0f, &s->softcap));
    EI_TRY(ei_node_attr_float(node, "scale", 0.0f, &s->scale_attr));
    s->has_scale = ei_node_attr(node, "scale") != NULL;
    s->nan_masked_rows = strcmp(node->domain, EI_DOMAIN_EDGEINFER) == 0;
    /* softmax_precision: the softmax always runs in float32 here, which is what every
     * allowed value means for float32 inputs (double differs only in rounding). */
    if (s->mode < 0 || s->mode > 3) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'qk_matmul_output_mode' = %lld must be 0, 1, 2 or 3",
                           (long long)s->mode);
        goto cleanup;
    }
    /* softcap <= 0 (or NaN) means no softcap, as in onnx's reference. */
    if (!(s->softcap > 0.0f)) s->softcap = 0.0f;
    if (s->q_heads_attr < 0 || s->kv_heads_attr < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes 'q_num_heads' = %lld and 'kv_num_heads' = %lld must not "
                           "be negative",
                           (long long)s->q_heads_attr, (long long)s->kv_heads_attr);
        goto cleanup;
    }
    {
        int n_in = node->n_inputs;
        bool pk = n_in > 4 && node->inputs[4] >= 0, pv = n_in > 5 && node->inputs[5] >= 0;
        if (pk != pv) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "inputs past_key and past_value must be given together");
            goto cleanup;
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status att_f32(const ei_node *node, const ei_value *v, const char *what) {
    if (v->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' (%s) has dtype %s; only float32 is supported", v->name,
                             what, ei_dtype_name(v->dtype));
    return EI_STATUS_OK;
}

/* Splits a 3-D input's hidden dim over heads, or reads a 4-D input's heads and head size. */
static ei_status att_layout(const ei_node *node, const ei_value *v, const char *what,
                            int64_t heads_attr, const char *attr, size_t *batch, size_t *heads,
                            size_t *seq, size_t *head) {
    char buf[96];
    if (v->rank == 4) {
        if (heads_attr && heads_attr != v->dims[1])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute '%s' = %lld does not match dim 1 of input '%s' (%s) "
                                 "of shape %s",
                                 attr, (long long)heads_attr, v->name, what,
                                 ei_shape_str(v->rank, v->dims, buf, sizeof buf));
        *batch = (size_t)v->dims[0];
        *heads = (size_t)v->dims[1];
        *seq = (size_t)v->dims[2];
        *head = (size_t)v->dims[3];
        return EI_STATUS_OK;
    }
    if (v->rank != 3)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s) must be 3-D or 4-D, got shape %s", v->name, what,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf));
    if (heads_attr == 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s) is 3-D: attribute '%s' is required", v->name, what,
                             attr);
    if (v->dims[2] % heads_attr != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s): hidden size %lld is not a multiple of %s = %lld",
                             v->name, what, (long long)v->dims[2], attr, (long long)heads_attr);
    *batch = (size_t)v->dims[0];
    *heads = (size_t)heads_attr;
    *seq = (size_t)v->dims[1];
    *head = (size_t)(v->dims[2] / heads_attr);
    return EI_STATUS_OK;
}

/* Offsets for one of Q, K, V, Y: start of (batch b, head h) = b*ob + h*oh, row stride ld. */
static void att_strides(bool four_d, size_t heads, size_t seq, size_t head, size_t *ob, size_t *oh,
                        size_t *ld) {
    if (four_d) {
        *ld = head;
        *oh = seq * head;
        *ob = heads * seq * head;
    } else {
        *ld = heads * head;
        *oh = head;
        *ob = seq * heads * head;
    }
}

static ei_status att_infer(ei_exec *ex, ei_node *node) {
    att_state *s = node->state;
    const ei_value *q = ei_node_in(ex, node, 0), *k = ei_node_in(ex, node, 1);
    const ei_value *v = ei_node_in(ex, node, 2), *mask = ei_node_in(ex, node, 3);
    const ei_value *pk = ei_node_in(ex, node, 4), *pv = ei_node_in(ex, node, 5);
    const ei_value *nonpad = ei_node_in(ex, node, 6);
    char b1[96], b2[96], b3[96];
    EI_CHECK(att_f32(node, q, "Q"));
    EI_CHECK(att_f32(node, k, "K"));
    EI_CHECK(att_f32(node, v, "V"));
    if (q->rank != k->rank || q->rank != v->rank)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (Q) %s, '%s' (K) %s and '%s' (V) %s must have the "
                             "same rank",
                             q->name, ei_shape_str(q->rank, q->dims, b1, sizeof b1), k->name,
                             ei_shape_str(k->rank, k->dims, b2, sizeof b2), v->name,
                             ei_shape_str(v->rank, v->dims, b3, sizeof b3));
    size_t qb, kb, vb, kh, vh, vs;
    EI_CHECK(att_layout(node, q, "Q", s->q_heads_attr, "q_num_heads", &qb, &s->hq, &s->sq, &s->d));
    size_t kd;
    EI_CHECK(att_layout(node, k, "K", s->kv_heads_attr, "kv_num_heads", &kb, &kh, &s->skv, &kd));
    EI_CHECK(att_layout(node, v, "V", s->kv_heads_attr, "kv_num_heads", &vb, &vh, &vs, &s->dv));
    if (qb != kb || qb != vb || kh != vh || vs != s->skv || kd != s->d)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (Q) %s, '%s' (K) %s and '%s' (V) %s disagree: batch, "
                             "kv heads, kv sequence and Q/K head sizes must match",
                             q->name, ei_shape_str(q->rank, q->dims, b1, sizeof b1), k->name,
                             ei_shape_str(k->rank, k->dims, b2, sizeof b2), v->name,
                             ei_shape_str(v->rank, v->dims, b3, sizeof b3));
    s->batch = qb;
    s->hkv = kh;
    if (s->hkv == 0 || s->hq % s->hkv != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "%zu query heads are not a multiple of %zu key/value heads", s->hq,
                             s->hkv);
    s->past = 0;
    if (pk) {
        EI_CHECK(att_f32(node, pk, "past_key"));
        EI_CHECK(att_f32(node, pv, "past_value"));
        if (pk->rank != 4 || pv->rank != 4 || (size_t)pk->dims[0] != s->batch ||
            (size_t)pk->dims[1] != s->hkv || (size_t)pk->dims[3] != s->d ||
            (size_t)pv->dims[0] != s->batch || (size_t)pv->dims[1] != s->hkv ||
            pv->dims[2] != pk->dims[2] || (size_t)pv->dims[3] != s->dv)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "inputs '%s' (past_key) %s and '%s' (past_value) %s must be "
                                 "[%zu,%zu,past,%zu] and [%zu,%zu,past,%zu]",
                                 pk->name, ei_shape_str(pk->rank, pk->dims, b1, sizeof b1),
                                 pv->name, ei_shape_str(pv->rank, pv->dims, b2, sizeof b2),
                                 s->batch, s->hkv, s->d, s->batch, s->hkv, s->dv);
        s->past = (size_t)pk->dims[2];
    }
    bool too_long = !ei_size_add(s->past, s->skv, &s->total);
#if SIZE_MAX > (1ull << 40) /* 32-bit targets: size_t cannot exceed it anyway */
    too_long = too_long || s->total > ((size_t)1 << 40);
#endif
    if (too_long) return ei_node_error(node, EI_STATUS_INVALID_MODEL, "total sequence length overflows");
    s->scale = s->has_scale ? s->scale_attr : 1.0f / sqrtf((float)s->d);

    bool four = q->rank == 4;
    att_strides(four, s->hq, s->sq, s->d, &s->q_b, &s->q_h, &s->ldq);
    att_strides(four, s->hkv, s->skv, s->d, &s->k_b, &s->k_h, &s->ldk);
    att_strides(four, s->hkv, s->skv, s->dv, &s->v_b, &s->v_h, &s->ldv);
    att_strides(four, s->hq, s->sq, s->dv, &s->y_b, &s->y_h, &s->ldy);

    s->mask_kind = 0;
    if (mask) {
        if (mask->dtype == EI_DTYPE_BOOL)
            s->mask_kind = 1;
        else if (mask->dtype == EI_DTYPE_F32)
            s->mask_kind = 2;
        else
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input '%s' (attn_mask) has dtype %s; only bool and float32 "
                                 "masks are supported",
                                 mask->name, ei_dtype_name(mask->dtype));
        if (mask->rank < 1 || mask->rank > 4 || mask->dims[mask->rank - 1] < 1 ||
            (size_t)mask->dims[mask->rank - 1] > s->total)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (attn_mask) has shape %s; expected rank 1 to 4 "
                                 "with a last dim of 1 to %zu (total sequence length)",
                                 mask->name, ei_shape_str(mask->rank, mask->dims, b1, sizeof b1),
                                 s->total);
        /* Right-aligned against [batch, q_heads, q_seq, mlen]. */
        size_t target[3] = {s->batch, s->hq, s->sq}, strides[3] = {0, 0, 0};
        size_t st = (size_t)mask->dims[mask->rank - 1];
        s->mlen = st;
        for (int i = 2; i >= 0; i--) {
            int mi = mask->rank - 1 - (3 - i);
            if (mi < 0) break;
            size_t md = (size_t)mask->dims[mi];
            if (md != 1 && md != target[i])
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "input '%s' (attn_mask) of shape %s does not broadcast to "
                                     "[%zu,%zu,%zu,%zu]",
                                     mask->name,
                                     ei_shape_str(mask->rank, mask->dims, b1, sizeof b1), s->batch,
                                     s->hq, s->sq, s->total);
            strides[i] = md == 1 ? 0 : st;
            st *= md;
        }
        s->m_b = strides[0];
        s->m_h = strides[1];
        s->m_i = strides[2];
    }
    if (nonpad) {
        if (nonpad->dtype != EI_DTYPE_I64 || nonpad->rank != 1 ||
            (size_t)nonpad->dims[0] != s->batch)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (nonpad_kv_seqlen) must be int64 of shape [%zu], "
                                 "got %s %s",
                                 nonpad->name, s->batch, ei_dtype_name(nonpad->dtype),
                                 ei_shape_str(nonpad->rank, nonpad->dims, b1, sizeof b1));
    }

    /* Outputs. */
    int64_t dims[4];
    if (four) {
        dims[0] = (int64_t)s->batch, dims[1] = (int64_t)s->hq, dims[2] = (int64_t)s->sq;
        dims[3] = (int64_t)s->dv;
        EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 4, dims));
    } else {
        size_t hidden;
        if (!ei_size_mul(s->hq, s->dv, &hidden))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "output size overflows");
        dims[0] = (int64_t)s->batch, dims[1] = (int64_t)s->sq, dims[2] = (int64_t)hidden;
        EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 3, dims));
    }
    dims[0] = (int64_t)s->batch, dims[1] = (int64_t)s->hkv, dims[2] = (int64_t)s->total;
    ei_value *o;
    if ((o = ei_node_out(ex, node, 1))) {
        dims[3] = (int64_t)s->d;
        EI_CHECK(ei_elem_set_out(node, o, EI_DTYPE_F32, 4, dims));
    }
    if ((o = ei_node_out(ex, node, 2))) {
        dims[3] = (int64_t)s->dv;
        EI_CHECK(ei_elem_set_out(node, o, EI_DTYPE_F32, 4, dims));
    }
    if ((o = ei_node_out(ex, node, 3))) {
        dims[1] = (int64_t)s->hq, dims[2] = (int64_t)s->sq, dims[3] = (int64_t)s->total;
        EI_CHECK(ei_elem_set_out(node, o, EI_DTYPE_F32, 4, dims));
    }

    /* Work split and per-thread scores blocks. */
    s->n_slots = ex->num_threads > 1 ? (size_t)ex->num_threads : 1;
    s->gk = NULL;
    s->pk_floats = s->pv_floats = 0;
    if (s->past == 0 && s->skv > 0 && s->d > 0 && s->dv > 0 && ei_gemm_packed_enabled()) {
        /* Packing K and V costs about one pass over them per task, so a task takes as
         * many query rows as still leaves ~4 tasks per thread (scores kept <= 256 KiB). */
        const ei_gemm_kernel *gk = ei_gemm_kernel_get();
        size_t pk = gk->pack_b_size(s->d, s->skv), pv = gk->pack_b_size(s->skv, s->dv);
        if (pk && pv) {
            s->gk = gk;
            s->pk_floats = (pk + 63) / 64 * 16;
            s->pv_floats = (pv + 63) / 64 * 16;
        }
    }
    if (s->gk) {
        size_t heads = s->batch * s->hq, rows = s->sq ? s->sq : 1;
        while (rows > ATT_ROW_BLOCK &&
               (rows * s->total > 65536 || heads * ((s->sq + rows - 1) / rows) < 4 * s->n_slots))
            rows = (rows + 1) / 2;
        s->block_rows = rows;
    } else {
        s->block_rows = s->sq < ATT_ROW_BLOCK ? (s->sq ? s->sq : 1) : ATT_ROW_BLOCK;
    }
    s->row_blocks = (s->sq + s->block_rows - 1) / s->block_rows;
    size_t bytes;
    if (!ei_size_mul(s->block_rows, s->total, &bytes) || !ei_size_add(bytes, 15, &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "scratch size overflows");
    bytes = bytes / 16 * 16; /* keeps each slot's packed blocks 64-byte aligned */
    if (!ei_size_add(bytes, s->pk_floats, &bytes) || !ei_size_add(bytes, s->pv_floats, &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "scratch size overflows");
    s->slot_floats = bytes;
    if (!ei_size_mul(s->n_slots, bytes, &bytes) || !ei_size_mul(bytes, sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "scratch size overflows");
    node->scratch_bytes = bytes;
    return EI_STATUS_OK;
}

typedef struct att_ctx {
    const att_state *s;
    const float *q, *k, *v, *pk, *pv, *mask_f;
    const uint8_t *mask_b;
    const int64_t *nonpad;
    float *y, *qk, *scratch;
    size_t n_tasks;
} att_ctx;

static void att_copy_qk(const att_ctx *c, size_t b, size_t h, size_t i0, size_t m,
                        const float *sc) {
    const att_state *s = c->s;
    float *dst = c->qk + ((b * s->hq + h) * s->sq + i0) * s->total;
    memcpy(dst, sc, m * s->total * sizeof(float));
}

static void att_task(void *arg, size_t task, int thread) {
    const att_ctx *c = arg;
    const att_state *s = c->s;
    const ei_kernel_table *kt = ei_kernels();
    size_t blk = task % s->row_blocks, bh = task / s->row_blocks;
    size_t b = bh / s->hq, h = bh % s->hq, kvh = h / (s->hq / s->hkv);
    size_t i0 = blk * s->block_rows;
    size_t m = s->sq - i0 < s->block_rows ? s->sq - i0 : s->block_rows;
    size_t T = s->total, P = s->past;
    float *sc = c->scratch + (size_t)thread * s->slot_floats;
    const float *q = c->q + b * s->q_b + h * s->q_h + i0 * s->ldq;
    const float *pk = c->pk ? c->pk + (b * s->hkv + kvh) * P * s->d : NULL;
    const float *pv = c->pv ? c->pv + (b * s->hkv + kvh) * P * s->dv : NULL;
    const float *k = c->k + b * s->k_b + kvh * s->k_h;
    const float *v = c->v + b * s->v_b + kvh * s->v_h;
    float *y = c->y + b * s->y_b + h * s->y_h + i0 * s->ldy;

    if (T == 0) {
        for (size_t r = 0; r < m; r++)
            memset(y + r * s->ldy, 0, s->dv * sizeof(float));
        return;
    }
    /* Scores: past keys in columns [0, P), new keys in [P, T). */
    float *pk_buf = NULL, *pv_buf = NULL;
    if (s->gk) { /* packed: P == 0, T == skv > 0, d > 0, dv > 0; K^T and V packed per task */
        pk_buf = sc + (s->slot_floats - s->pk_floats - s->pv_floats);
        pv_buf = pk_buf + s->pk_floats;
        s->gk->pack_b(s->d, T, k, s->ldk, 1, pk_buf);
        s->gk->gemm_pb(s->d, q, s->ldq, pk_buf, sc, T, NULL, 0, m, 0, T);
        if (s->scale != 1.0f) kt->f32_vmulc(m * T, sc, s->scale, sc);
    } else if (s->d == 0) {
        memset(sc, 0, m * T * sizeof(float));
    } else {
        if (P) ei_sgemm(0, 1, m, P, s->d, s->scale, q, s->ldq, pk, s->d, 0.0f, sc, T);
        if (s->skv)
            ei_sgemm(0, 1, m, s->skv, s->d, s->scale, q, s->ldq, k, s->ldk, 0.0f, sc + P, T);
    }
    if (c->qk && s->mode == 0) att_copy_qk(c, b, h, i0, m, sc);
    if (s->softcap > 0.0f) {
        float cap = s->softcap, inv = 1.0f / s->softcap;
        for (size_t j = 0; j < m * T; j++)
            sc[j] = cap * tanhf(sc[j] * inv);
    }
    if (c->qk && s->mode == 1) att_copy_qk(c, b, h, i0, m, sc);
    /* Bias: mask, causal (key j visible to query row i when j <= i + P), padding. */
    size_t valid = T;
    if (c->nonpad) {
        int64_t nv = c->nonpad[b];
        valid = nv < 0 ? 0 : ((uint64_t)nv < (uint64_t)T ? (size_t)nv : T);
    }
    for (size_t r = 0; r < m; r++) {
        size_t i = i0 + r;
        float *row = sc + r * T;
        size_t lim = valid;
        if (s->is_causal && i + P + 1 < lim) lim = i + P + 1;
        if (s->mask_kind) {
            size_t moff = b * s->m_b + h * s->m_h + i * s->m_i;
            size_t ml = s->mlen < lim ? s->mlen : lim;
            if (s->mask_kind == 1) {
                const uint8_t *mb = c->mask_b + moff;
                for (size_t j = 0; j < ml; j++)
                    if (!mb[j]) row[j] = -INFINITY;
            } else {
                kt->f32_vadd(ml, row, c->mask_f + moff, row);
            }
            if (s->mlen < lim) lim = s->mlen;
        }
        for (size_t j = lim; j < T; j++)
            row[j] = -INFINITY;
    }
    if (c->qk && s->mode == 2) att_copy_qk(c, b, h, i0, m, sc);
    /* Softmax per row, max subtracted first. */
    for (size_t r = 0; r < m; r++) {
        float *row = sc + r * T;
        float mx = kt->f32_max(T, row);
        if (mx == -INFINITY) { /* every key masked: zero weights (Softmax: NaN) */
            if (!s->nan_masked_rows) {
                memset(row, 0, T * sizeof(float));
                continue;
            }
            for (size_t j = 0; j < T; j++) row[j] = NAN;
            continue;
        }
        float sum = kt->f32_exp_sum(T, row, mx, row);
        kt->f32_vmulc(T, row, 1.0f / sum, row);
    }
    if (c->qk && s->mode == 3) att_copy_qk(c, b, h, i0, m, sc);
    if (s->dv == 0) return;
    if (s->gk) {
        s->gk->pack_b(T, s->dv, v, s->ldv, 0, pv_buf);
        s->gk->gemm_pb(T, sc, T, pv_buf, y, s->ldy, NULL, 0, m, 0, s->dv);
        return;
    }
    if (P) ei_sgemm(0, 0, m, s->dv, P, 1.0f, sc, T, pv, s->dv, 0.0f, y, s->ldy);
    if (s->skv)
        ei_sgemm(0, 0, m, s->dv, s->skv, 1.0f, sc + P, T, v, s->ldv, P ? 1.0f : 0.0f, y, s->ldy);
}

/* present = concat(past, new) along the sequence, in [batch, kv_heads, total, head]. */
static void att_present(const att_state *s, float *dst, const float *past, const float *cur,
                        size_t head, size_t ob, size_t oh, size_t ld) {
    for (size_t b = 0; b < s->batch; b++)
        for (size_t h = 0; h < s->hkv; h++) {
            float *o = dst + (b * s->hkv + h) * s->total * head;
            if (s->past) {
                memcpy(o, past + (b * s->hkv + h) * s->past * head, s->past * head * sizeof(float));
                o += s->past * head;
            }
            const float *src = cur + b * ob + h * oh;
            for (size_t j = 0; j < s->skv; j++)
                memcpy(o + j * head, src + j * ld, head * sizeof(float));
        }
}

static ei_status att_run(ei_exec *ex, ei_node *node) {
    const att_state *s = node->state;
    const ei_value *mask = ei_node_in(ex, node, 3), *pk = ei_node_in(ex, node, 4);
    const ei_value *pv = ei_node_in(ex, node, 5), *nonpad = ei_node_in(ex, node, 6);
    ei_value *pko = ei_node_out(ex, node, 1), *pvo = ei_node_out(ex, node, 2);
    ei_value *qko = ei_node_out(ex, node, 3);
    att_ctx c = {.s = s,
                 .q = ei_node_in(ex, node, 0)->data,
                 .k = ei_node_in(ex, node, 1)->data,
                 .v = ei_node_in(ex, node, 2)->data,
                 .pk = pk && s->past ? pk->data : NULL,
                 .pv = pv && s->past ? pv->data : NULL,
                 .mask_f = mask && s->mask_kind == 2 ? mask->data : NULL,
                 .mask_b = mask && s->mask_kind == 1 ? mask->data : NULL,
                 .nonpad = nonpad ? nonpad->data : NULL,
                 .y = ei_node_out(ex, node, 0)->data,
                 .qk = qko ? qko->data : NULL,
                 .scratch = node->scratch,
                 .n_tasks = 0};
    if (pko && s->d) att_present(s, pko->data, c.pk, c.k, s->d, s->k_b, s->k_h, s->ldk);
    if (pvo && s->dv) att_present(s, pvo->data, c.pv, c.v, s->dv, s->v_b, s->v_h, s->ldv);
    c.n_tasks = s->batch * s->hq * s->row_blocks;
    if (s->sq == 0 || c.n_tasks == 0) return EI_STATUS_OK;
    if (c.n_tasks == 1 || !ex->pool || (size_t)ei_threadpool_size(ex->pool) > s->n_slots ||
        s->n_slots == 1) {
        for (size_t t = 0; t < c.n_tasks; t++)
            att_task(&c, t, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, att_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_attention = {att_prepare, att_infer, att_run, free, .dtypes = "float32"};
