/*
 * gemm.c - ONNX Gemm (float32): Y = alpha * op(A) op(B) + beta * C, with C broadcast
 * unidirectionally to [M, N] and optional from opset 11. The product goes through
 * ei_sgemm, split over the thread pool by rows or columns (dense_gemm.h).
 * Also com.edgeinfer FusedGemm (opt/fuse_matmul.c): Gemm's inputs and attributes plus
 * activation/activation_params, applied to each block right after its product.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/dense_gemm.h"
#include "ops/fused_act.h"

typedef struct gemm_state {
    float alpha, beta;
    int trans_a, trans_b;
    /* infer */
    size_t m, n, k;
    int c_rows, c_cols; /* 0: C broadcast along that axis, 1: C has that axis; -1: no C */
    ei_act act;         /* FusedGemm */
    /* Constant B packed at infer when the product fits the packed kernel: no transA,
     * alpha 1, and C absent, scaled by 0, or a bias row over N with beta 1. */
    ei_dense_packed_b packed;
    int c_as_bias;
} gemm_state;

static void gemm_destroy(void *p) {
    gemm_state *s = p;
    if (!s) return;
    ei_dense_packed_b_free(&s->packed);
    free(s);
}

static ei_status gemm_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    gemm_state *s = NULL;
    int64_t ta = 0, tb = 0;
    bool fused = strcmp(node->domain, EI_DOMAIN_EDGEINFER) == 0;
    bool need_c = !fused && node->opset < 11;
    if (node->n_inputs < 2 || node->n_inputs > 3 || node->n_outputs != 1 ||
        node->outputs[0] < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "expected inputs A, B%s and 1 output, got %d inputs and %d outputs",
                           need_c ? ", C" : " and optional C", node->n_inputs,
                           node->n_outputs);
        goto cleanup;
    }
    if (node->inputs[0] < 0 || node->inputs[1] < 0 ||
        (need_c && (node->n_inputs < 3 || node->inputs[2] < 0))) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "inputs A and B%s are required (opset %d)",
                           need_c ? " and C" : "", node->opset);
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_float(node, "alpha", 1.0f, &s->alpha));
    EI_TRY(ei_node_attr_float(node, "beta", 1.0f, &s->beta));
    EI_TRY(ei_node_attr_int(node, "transA", 0, &ta));
    EI_TRY(ei_node_attr_int(node, "transB", 0, &tb));
    if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1)) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes 'transA' = %lld and 'transB' = %lld must be 0 or 1",
                           (long long)ta, (long long)tb);
        goto cleanup;
    }
    s->trans_a = (int)ta;
    s->trans_b = (int)tb;
    if (fused) EI_TRY(ei_fused_act_parse(node, &s->act));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status gemm_infer(ei_exec *ex, ei_node *node) {
    gemm_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    const ei_value *c = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    const ei_value *ins[3] = {a, b, c};
    static const char *const names[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; i++) {
        if (ins[i] && ins[i]->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input %s '%s' has dtype %s; only float32 is supported",
                                 names[i], ins[i]->name, ei_dtype_name(ins[i]->dtype));
    }
    if (a->rank != 2 || b->rank != 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs A '%s' %s and B '%s' %s must both have rank 2", a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    int64_t m = s->trans_a ? a->dims[1] : a->dims[0];
    int64_t ka = s->trans_a ? a->dims[0] : a->dims[1];
    int64_t kb = s->trans_b ? b->dims[1] : b->dims[0];
    int64_t n = s->trans_b ? b->dims[0] : b->dims[1];
    if (ka != kb)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inner dimensions differ: A '%s' %s (transA=%d) and B '%s' %s "
                             "(transB=%d)",
                             a->name, ei_shape_str(2, a->dims, buf, sizeof buf), s->trans_a,
                             b->name, ei_shape_str(2, b->dims, buf2, sizeof buf2), s->trans_b);
    s->c_rows = s->c_cols = -1;
    if (c) {
        /* Unidirectional broadcast of C to [M, N]. */
        int64_t cr = 1, cc = 1;
        if (c->rank > 2)
            goto bad_c;
        if (c->rank == 2) {
            cr = c->dims[0];
            cc = c->dims[1];
        } else if (c->rank == 1) {
            cc = c->dims[0];
        }
        if ((cr != 1 && cr != m) || (cc != 1 && cc != n)) goto bad_c;
        s->c_rows = c->rank == 2 && cr == m;
        s->c_cols = c->rank >= 1 && cc == n;
    }
    s->m = (size_t)m;
    s->n = (size_t)n;
    s->k = (size_t)ka;
    int64_t dims[2] = {m, n};
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, 2, dims));
    bool no_c = !c || s->beta == 0.0f;
    s->c_as_bias = !no_c && s->beta == 1.0f && s->c_rows == 0 && s->c_cols == 1;
    if (ex->shapes_only) {
        /* opt/shapes.c: the packed copy (if any) is made or dropped by the real plan */
    } else if (!s->trans_a && s->alpha == 1.0f && (no_c || s->c_as_bias) &&
        (b->flags & EI_VALUE_FLAG_CONST) && (b->data || s->packed.data) &&
        ei_dense_packed_wanted(s->m, s->n, s->k))
        EI_CHECK(ei_dense_packed_b_update(node, &s->packed, b, s->k, s->n, s->trans_b));
    else
        ei_dense_packed_b_drop(node, &s->packed);
    node->scratch_bytes = 0;
    return EI_STATUS_OK;
bad_c:
    return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                         "input C '%s' has shape %s, which does not broadcast to [%lld,%lld]",
                         c->name, ei_shape_str(c->rank, c->dims, buf, sizeof buf),
                         (long long)m, (long long)n);
}

static ei_status gemm_run(ei_exec *ex, ei_node *node) {
    const gemm_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    const ei_value *c = ei_node_in(ex, node, 2);
    ei_value *y = ei_node_out(ex, node, 0);
    float *yd = y->data;
    size_t m = s->m, n = s->n;
    if (m == 0 || n == 0) return EI_STATUS_OK;
    float beta = 0.0f;
    if (s->packed.data) {
        ei_dense_gemm g = {.m = m,
                           .n = n,
                           .k = s->k,
                           .alpha = 1.0f,
                           .a = a->data,
                           .lda = s->k,
                           .c = yd,
                           .ldc = n,
                           .bias = s->c_as_bias ? (const float *)c->data : NULL,
                           .act = &s->act,
                           .gk = s->packed.gk,
                           .packed_b = s->packed.data};
        ei_dense_gemm_run(ex, &g);
        return EI_STATUS_OK;
    }
    if (c && s->beta != 0.0f) {
        /* Y = broadcast(C), then the product accumulates with beta. */
        const float *cd = c->data;
        for (size_t i = 0; i < m; i++) {
            float *row = yd + i * n;
            const float *crow = cd + (s->c_rows == 1 ? i * (s->c_cols == 1 ? n : 1) : 0);
            if (s->c_cols == 1) memcpy(row, crow, n * sizeof(float));
            else for (size_t j = 0; j < n; j++) row[j] = crow[0];
        }
        beta = s->beta;
    }
    ei_dense_gemm g = {.trans_a = s->trans_a,
                       .trans_b = s->trans_b,
                       .m = m,
                       .n = n,
                       .k = s->k,
                       .alpha = s->alpha,
                       .beta = beta,
                       .a = a->data,
                       .b = b->data,
                       .lda = s->trans_a ? m : s->k,
                       .ldb = s->trans_b ? s->k : n,
                       .c = yd,
                       .ldc = n,
                       .act = &s->act};
    ei_dense_gemm_run(ex, &g);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_gemm = {gemm_prepare, gemm_infer, gemm_run, gemm_destroy,
                                  .dtypes = "float32"};
