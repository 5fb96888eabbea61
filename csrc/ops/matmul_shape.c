/*
 * matmul_shape.c - shape inference for the MatMul family (NumPy semantics): promotes 1-D
 * operands, checks the inner dims, broadcasts the batch dims and records each operand's
 * batch strides. The ops check dtypes and compute.
 */
#include <string.h>

#include "ops/matmul_shape.h"

ei_status ei_matmul_shape_infer(const ei_node *node, const ei_value *a, const ei_value *b,
                                const char *an, const char *bn, ei_matmul_shape *ms) {
    char buf[128], buf2[128];
    if (a->rank < 1 || b->rank < 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs %s '%s' %s and %s '%s' %s must have rank >= 1", an, a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), bn, b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    /* Promote 1-D operands: A [K] -> [1,K], B [K] -> [K,1]. */
    int ra = a->rank < 2 ? 2 : a->rank, rb = b->rank < 2 ? 2 : b->rank;
    int64_t ad[EI_MAX_RANK], bd[EI_MAX_RANK];
    if (a->rank == 1) {
        ad[0] = 1;
        ad[1] = a->dims[0];
    } else {
        memcpy(ad, a->dims, (size_t)ra * sizeof(int64_t));
    }
    if (b->rank == 1) {
        bd[0] = b->dims[0];
        bd[1] = 1;
    } else {
        memcpy(bd, b->dims, (size_t)rb * sizeof(int64_t));
    }
    int64_t m = ad[ra - 2], k = ad[ra - 1], n = bd[rb - 1];
    if (k != bd[rb - 2])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inner dimensions differ: %s '%s' %s and %s '%s' %s", an, a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), bn, b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    int br = (ra > rb ? ra : rb) - 2;
    size_t as = 1, bs = 1, batch = 1; /* running strides in matrices, innermost batch dim first */
    for (int i = br - 1; i >= 0; i--) {
        int ia = i - (br - (ra - 2)), ib = i - (br - (rb - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "batch dims of %s '%s' %s and %s '%s' %s do not broadcast", an,
                                 a->name, ei_shape_str(a->rank, a->dims, buf, sizeof buf), bn,
                                 b->name, ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
        int64_t d = da > db ? da : db;
        if (da == 0 || db == 0) d = 0;
        ms->bdims[i] = d;
        ms->astr[i] = da == 1 ? 0 : as;
        ms->bstr[i] = db == 1 ? 0 : bs;
        as *= (size_t)da; /* products bounded by the (validated) input sizes */
        bs *= (size_t)db;
        batch *= (size_t)d;
    }
    ms->orank = 0;
    for (int i = 0; i < br; i++)
        ms->odims[ms->orank++] = ms->bdims[i];
    if (a->rank >= 2) ms->odims[ms->orank++] = m;
    if (b->rank >= 2) ms->odims[ms->orank++] = n;
    ms->br = br;
    ms->batch = batch;
    ms->a_batch = as;
    ms->b_batch = bs;
    ms->m = (size_t)m;
    ms->n = (size_t)n;
    ms->k = (size_t)k;
    return EI_STATUS_OK;
}
