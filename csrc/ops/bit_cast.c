/*
 * bit_cast.c - BitCast (opset 26): the input's bytes reinterpreted as dtype 'to' of the same
 * width, same shape. Any dtype the engine holds (bool and float8 included); complex and
 * sub-byte types are rejected at creation. The copy is byte-exact, so the result matches
 * ONNX's little-endian definition on the little-endian targets edgeinfer builds for.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct bit_cast_state {
    int64_t to;
} bit_cast_state;

static ei_status bit_cast_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    bit_cast_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    if (!ei_node_attr(node, "to")) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'to' is required");
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "to", 0, &s->to));
    /* ei_dtype_size is 0 for every number outside the dtypes the engine holds. */
    if (s->to <= 0 || s->to > 64 || ei_dtype_size((ei_dtype)s->to) == 0) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'to' = %lld is not a dtype this engine supports",
                           (long long)s->to);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status bit_cast_infer(ei_exec *ex, ei_node *node) {
    const bit_cast_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    const ei_dtype to = (ei_dtype)s->to;
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (ei_dtype_size(x->dtype) != ei_dtype_size(to))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' has dtype %s (%zu bytes) but 'to' = %s has %zu bytes; "
                             "BitCast needs equal widths",
                             x->name, ei_dtype_name(x->dtype), ei_dtype_size(x->dtype),
                             ei_dtype_name(to), ei_dtype_size(to));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), to, x->rank, x->dims);
}

static ei_status bit_cast_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (x->nbytes && x->data != y->data) memmove(y->data, x->data, x->nbytes);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_bit_cast = {bit_cast_prepare, bit_cast_infer, bit_cast_run, free,
                                      .dtypes = "any"};
