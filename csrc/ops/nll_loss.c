/*
 * nll_loss.c - NegativeLogLikelihoodLoss (opsets 12, 13, 22) on float32/float64 scores
 * [N, C, d1..dk] with int32/int64 targets, optional class weights, ignore_index and
 * reduction none/sum/mean. The loss core is shared with SoftmaxCrossEntropyLoss
 * (ops/nll_common.h); targets outside [0, C) fail in run with INDEX_OUT_OF_RANGE.
 */
#include <stdlib.h>

#include "ops/nll_common.h"

static ei_status nll_loss_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_nll_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_nll_parse(node, s));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status nll_loss_infer(ei_exec *ex, ei_node *node) {
    return ei_nll_infer(node, node->state, ei_node_in(ex, node, 0), ei_node_in(ex, node, 1),
                        ei_node_in(ex, node, 2), ei_node_out(ex, node, 0));
}

static ei_status nll_loss_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    return ei_nll_compute(node, node->state, x->dtype, x->data, ei_node_in(ex, node, 1),
                          ei_node_in(ex, node, 2), ei_node_out(ex, node, 0)->data);
}

const ei_op_fns ei_op_fns_nll_loss = {nll_loss_prepare, nll_loss_infer, nll_loss_run, free,
                                      .dtypes = "float32 float64"};
