/*
 * dropout.c - Dropout in inference mode: output = input (bytes copied), and the optional
 * mask is all true (bool from opset 10; before that ones of the input's type). Training
 * mode (opset 12+ input) is UNSUPPORTED: at infer when known, else checked in run.
 */
#include <string.h>

#include "ops/elem_util.h"

static ei_status dropout_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_elem_check_io(node, 1, node->opset < 12 ? 1 : 3, 2);
}

static ei_status dropout_training_check(const ei_node *node, const ei_value *t) {
    if (t->nbytes >= 1 && ((const uint8_t *)t->data)[0] != 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' (training_mode) is true; only inference is supported",
                             t->name);
    return EI_STATUS_OK;
}

static ei_status dropout_infer(ei_exec *ex, ei_node *node) {
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    ei_value *mask = ei_node_out(ex, node, 1), *train = ei_node_in(ex, node, 2);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (train) {
        if (train->dtype != EI_DTYPE_BOOL || train->rank > 1 || ei_value_numel(train) != 1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (training_mode) must be a bool scalar", train->name);
        if (ei_value_known(train)) EI_CHECK(dropout_training_check(node, train));
    }
    EI_CHECK(ei_elem_set_out(node, y, x->dtype, x->rank, x->dims));
    if (mask) {
        ei_dtype mt = EI_DTYPE_BOOL;
        if (node->opset < 10) {
            mt = x->dtype;
            if (mt != EI_DTYPE_F32 && mt != EI_DTYPE_F64 && mt != EI_DTYPE_F16)
                return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                     "mask output '%s' of dtype %s is not supported", mask->name,
                                     ei_dtype_name(mt));
        }
        EI_CHECK(ei_elem_set_out(node, mask, mt, x->rank, x->dims));
    }
    return EI_STATUS_OK;
}

static ei_status dropout_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0), *train = ei_node_in(ex, node, 2);
    ei_value *y = ei_node_out(ex, node, 0), *mask = ei_node_out(ex, node, 1);
    if (train) EI_CHECK(dropout_training_check(node, train));
    if (y->nbytes) memcpy(y->data, x->data, y->nbytes);
    if (mask && mask->nbytes) {
        size_t n = ei_value_numel(mask);
        switch (mask->dtype) {
        case EI_DTYPE_BOOL: memset(mask->data, 1, n); break;
        case EI_DTYPE_F32:
            for (size_t i = 0; i < n; i++)
                ((float *)mask->data)[i] = 1.0f;
            break;
        case EI_DTYPE_F64:
            for (size_t i = 0; i < n; i++)
                ((double *)mask->data)[i] = 1.0;
            break;
        default: /* float16 */
            for (size_t i = 0; i < n; i++)
                ((uint16_t *)mask->data)[i] = 0x3C00;
            break;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_dropout = {dropout_prepare, dropout_infer, dropout_run, NULL,
                                     .dtypes = "any"};
