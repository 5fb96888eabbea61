/*
 * size.c - Size: the input's element count as an int64 scalar. Only the shape is read, so
 * the executor computes it at reshape even when the input's data comes later.
 */
#include "ops/elem_util.h"

static ei_status size_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_elem_check_io(node, 1, 1, 1);
}

static ei_status size_infer(ei_exec *ex, ei_node *node) {
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_I64, 0, NULL);
}

static ei_status size_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    int64_t n = (int64_t)ei_value_numel(x);
    memcpy(ei_node_out(ex, node, 0)->data, &n, sizeof n);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_size = {size_prepare, size_infer, size_run, NULL, .dtypes = "any"};
