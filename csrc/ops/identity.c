/*
 * identity.c - Identity: copies the input's bytes to the output (any fixed-size dtype).
 * The optimizer usually removes it; it stays when its output is a graph output.
 */
#include <string.h>

#include "ops/elem_util.h"

static ei_status identity_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_elem_check_io(node, 1, 1, 1);
}

static ei_status identity_infer(ei_exec *ex, ei_node *node) {
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

static ei_status identity_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_identity = {identity_prepare, identity_infer, identity_run, NULL,
                                      .dtypes = "any"};
