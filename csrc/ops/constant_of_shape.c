/*
 * constant_of_shape.c - ConstantOfShape: a tensor of the shape given by the int64 input,
 * filled with the one element of the 'value' attribute (float32 0 when absent). A shape
 * not known at infer makes the node dynamic.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct constant_of_shape_state {
    ei_dtype dtype;
    size_t esize;
    unsigned char value[16];
    bool zero; /* the value is all zero bytes */
    int rank;  /* from the last infer when not dynamic */
    int64_t dims[EI_MAX_RANK];
} constant_of_shape_state;

static ei_status constant_of_shape_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    constant_of_shape_state *s = NULL;
    const ei_value *v = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->dtype = EI_DTYPE_F32;
    s->esize = 4;
    s->zero = true;
    if (ei_node_attr(node, "value")) {
        EI_TRY(ei_node_attr_tensor(node, "value", &v));
        if (!v) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'value' has no tensor");
            goto cleanup;
        }
        size_t es = ei_dtype_size(v->dtype);
        if (es == 0 || es > sizeof s->value) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'value' has unsupported dtype %s",
                               ei_dtype_name(v->dtype));
            goto cleanup;
        }
        if (v->rank < 0 || ei_value_numel(v) != 1 || !v->data || v->nbytes < es) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'value' must hold exactly one element");
            goto cleanup;
        }
        s->dtype = v->dtype;
        s->esize = es;
        memcpy(s->value, v->data, es);
        for (size_t i = 0; i < es; i++)
            if (s->value[i]) s->zero = false;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* Reads the shape input (which must have data) into rank/dims. */
static ei_status constant_of_shape_dims(const ei_exec *ex, const ei_node *node, int *rank,
                                        int64_t *dims) {
    const ei_value *sv = ei_node_in(ex, node, 0);
    size_t n = 0;
    char b[160];
    EI_CHECK(ei_elem_read_ints(node, sv, "shape", dims, EI_MAX_RANK, &n));
    for (size_t i = 0; i < n; i++)
        if (dims[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' (shape) %s has a negative dim", sv->name,
                                 ei_shape_str((int)n, dims, b, sizeof b));
    *rank = (int)n;
    return EI_STATUS_OK;
}

static ei_status constant_of_shape_infer(ei_exec *ex, ei_node *node) {
    constant_of_shape_state *s = node->state;
    const ei_value *sv = ei_node_in(ex, node, 0);
    if (sv->dtype != EI_DTYPE_I64 || sv->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (shape) must be a 1-D int64 tensor, got %s of rank %d",
                             sv->name, ei_dtype_name(sv->dtype), sv->rank);
    if (!ei_value_known(sv) && ei_value_numel(sv) > 0) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(constant_of_shape_dims(ex, node, &s->rank, s->dims));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), s->dtype, s->rank, s->dims);
}

static ei_status constant_of_shape_run(ei_exec *ex, ei_node *node) {
    const constant_of_shape_state *s = node->state;
    if (node->dynamic) {
        int rank;
        int64_t dims[EI_MAX_RANK];
        EI_CHECK(constant_of_shape_dims(ex, node, &rank, dims));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, s->dtype, rank, dims));
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->zero) {
        if (y->nbytes) memset(y->data, 0, y->nbytes);
        return EI_STATUS_OK;
    }
    size_t n = y->nbytes / s->esize;
    char *dst = y->data;
    for (size_t i = 0; i < n; i++)
        memcpy(dst + i * s->esize, s->value, s->esize);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_constant_of_shape = {constant_of_shape_prepare, constant_of_shape_infer,
                                               constant_of_shape_run, free, .dtypes = "any"};
