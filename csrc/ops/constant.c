/*
 * constant.c - Constant: the output is the node's value attribute (value, value_float(s),
 * value_int(s)); sparse and string values are UNSUPPORTED. prepare resolves the attribute
 * once; run copies it. The session usually folds this node before the first run.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct constant_state {
    ei_dtype dtype;
    int rank;
    int64_t dims[EI_MAX_RANK];
    const void *data; /* the attribute's tensor data, or owned */
    size_t nbytes;
    void *owned;
} constant_state;

static void constant_destroy(void *p) {
    constant_state *s = p;
    if (!s) return;
    free(s->owned);
    free(s);
}

static ei_status constant_from_list(const ei_node *node, constant_state *s, const ei_attr *a,
                                    bool scalar) {
    bool is_float = a->type == EI_ATTR_TYPE_FLOAT || a->type == EI_ATTR_TYPE_FLOATS;
    size_t n = scalar ? 1 : a->n, es = is_float ? sizeof(float) : sizeof(int64_t);
    s->dtype = is_float ? EI_DTYPE_F32 : EI_DTYPE_I64;
    s->rank = scalar ? 0 : 1;
    s->dims[0] = (int64_t)n;
    bool too_large = !ei_size_mul(n, es, &s->nbytes);
#if SIZE_MAX > INT64_MAX /* only where size_t can exceed int64_t (a dims[] entry) */
    too_large = too_large || n > (size_t)INT64_MAX;
#endif
    if (too_large)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute '%s' is too large", a->name);
    s->owned = malloc(s->nbytes ? s->nbytes : 1);
    if (!s->owned) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    if (scalar && is_float)
        memcpy(s->owned, &a->f, es);
    else if (scalar)
        memcpy(s->owned, &a->i, es);
    else if (n && is_float)
        memcpy(s->owned, a->floats, s->nbytes);
    else if (n)
        memcpy(s->owned, a->ints, s->nbytes);
    s->data = s->owned;
    return EI_STATUS_OK;
}

static ei_status constant_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    constant_state *s = NULL;
    const ei_attr *found = NULL;
    if (node->n_inputs != 0 || node->n_outputs != 1 || node->outputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "expected no inputs and 1 output, got %d and %d", node->n_inputs,
                             node->n_outputs);
    for (int i = 0; i < node->n_attrs; i++) {
        const ei_attr *a = &node->attrs[i];
        if (strcmp(a->name, "sparse_value") == 0 || strcmp(a->name, "value_string") == 0 ||
            strcmp(a->name, "value_strings") == 0)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED, "attribute '%s' is not supported",
                                 a->name);
        if (strcmp(a->name, "value") != 0 && strcmp(a->name, "value_float") != 0 &&
            strcmp(a->name, "value_floats") != 0 && strcmp(a->name, "value_int") != 0 &&
            strcmp(a->name, "value_ints") != 0)
            continue;
        if (found)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attributes '%s' and '%s' are both set; exactly one is allowed",
                                 found->name, a->name);
        found = a;
    }
    if (!found) return ei_node_error(node, EI_STATUS_INVALID_MODEL, "no value attribute is set");
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (strcmp(found->name, "value") == 0) {
        const ei_value *t = NULL;
        EI_TRY(ei_node_attr_tensor(node, "value", &t));
        if (!t || ei_dtype_size(t->dtype) == 0) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED, "attribute 'value' has dtype %s",
                               t ? ei_dtype_name(t->dtype) : "none");
            goto cleanup;
        }
        size_t numel, nbytes;
        if (t->rank < 0 || t->rank > EI_MAX_RANK || !ei_shape_numel(t->rank, t->dims, &numel) ||
            !ei_size_mul(numel, ei_dtype_size(t->dtype), &nbytes) || nbytes > t->nbytes ||
            (nbytes && !t->data)) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'value' has a shape that does not match its data");
            goto cleanup;
        }
        s->dtype = t->dtype;
        s->rank = t->rank;
        memcpy(s->dims, t->dims, sizeof s->dims);
        s->data = t->data;
        s->nbytes = nbytes;
    } else {
        const char *nm = found->name;
        bool ok = (strcmp(nm, "value_float") == 0 && found->type == EI_ATTR_TYPE_FLOAT) ||
                  (strcmp(nm, "value_floats") == 0 && found->type == EI_ATTR_TYPE_FLOATS) ||
                  (strcmp(nm, "value_int") == 0 && found->type == EI_ATTR_TYPE_INT) ||
                  (strcmp(nm, "value_ints") == 0 && found->type == EI_ATTR_TYPE_INTS);
        if (!ok) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute '%s' has the wrong type",
                               nm);
            goto cleanup;
        }
        EI_TRY(constant_from_list(
            node, s, found, found->type == EI_ATTR_TYPE_FLOAT || found->type == EI_ATTR_TYPE_INT));
    }
    node->state = s;
    s = NULL;
cleanup:
    constant_destroy(s);
    return st;
}

static ei_status constant_infer(ei_exec *ex, ei_node *node) {
    const constant_state *s = node->state;
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), s->dtype, s->rank, s->dims);
}

static ei_status constant_run(ei_exec *ex, ei_node *node) {
    const constant_state *s = node->state;
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memcpy(y->data, s->data, y->nbytes);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_constant = {constant_prepare, constant_infer, constant_run,
                                      constant_destroy, .dtypes = "any"};
