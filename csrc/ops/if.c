/*
 * if.c - If: runs then_branch or else_branch, chosen by a bool condition at run time.
 * Each branch is a subgraph with its own executor (planned once per shape of the outer
 * values it reads). The node is dynamic: branches may produce different shapes.
 */
#include <stdlib.h>
#include <string.h>

#include "core/executor.h"
#include "ops/elem_util.h"

typedef struct if_state {
    ei_executor *branch[2]; /* [0] else, [1] then */
} if_state;

static void if_destroy(void *p) {
    if_state *s = p;
    if (!s) return;
    ei_executor_free(s->branch[0]);
    ei_executor_free(s->branch[1]);
    free(s);
}

static ei_status if_prepare(ei_exec *ex, ei_node *node) {
    ei_status st = EI_STATUS_OK;
    if_state *s = NULL;
    const char *names[2] = {"else_branch", "then_branch"};

    if (node->n_inputs != 1 || node->inputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "expected 1 input (cond), got %d", node->n_inputs);
    s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int b = 1; b >= 0; b--) { /* then_branch first */
        const ei_attr *a = ei_node_attr(node, names[b]);
        if (!a || a->type != EI_ATTR_TYPE_GRAPH || !a->g) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute '%s' (a graph) is missing", names[b]);
            goto cleanup;
        }
        if (a->g->n_outputs != node->n_outputs) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "%s has %d outputs, the node has %d", names[b],
                               a->g->n_outputs, node->n_outputs);
            goto cleanup;
        }
        if (a->g->n_inputs != 0) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "%s must take no inputs, it has %d", names[b],
                               a->g->n_inputs);
            goto cleanup;
        }
        ei_executor_config cfg = {.pool = ex->pool,
                                  .num_threads = ex->num_threads,
                                  .optimization_level = 1,
                                  .outputs_external = false,
                                  .parent = ex->graph};
        st = ei_executor_create(a->g, &cfg, &s->branch[b]);
        if (st != EI_STATUS_OK) {
            ei_error_prefix("node '%s' (If): %s", node->name, names[b]);
            goto cleanup;
        }
    }
    node->state = s;
    return EI_STATUS_OK;
cleanup:
    if_destroy(s);
    return st;
}

static ei_status if_infer(ei_exec *ex, ei_node *node) {
    const ei_value *c = ei_node_in(ex, node, 0);
    if (c->dtype != EI_DTYPE_BOOL)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "condition '%s' must be bool, got %s", c->name,
                             ei_dtype_name(c->dtype));
    if (ei_value_numel(c) != 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "condition '%s' must hold one element, it has %zu",
                             c->name, ei_value_numel(c));
    node->dynamic = true;
    return EI_STATUS_OK;
}

static ei_status if_run(ei_exec *ex, ei_node *node) {
    if_state *s = node->state;
    const ei_value *c = ei_node_in(ex, node, 0);
    int b = ((const uint8_t *)c->data)[0] != 0;
    ei_executor *e = s->branch[b];
    ei_status st = ei_executor_run(e);
    if (st != EI_STATUS_OK) {
        ei_error_prefix("node '%s' (If): %s", node->name, b ? "then_branch" : "else_branch");
        return st;
    }
    const ei_attr *a = ei_node_attr(node, b ? "then_branch" : "else_branch");
    for (int k = 0; k < node->n_outputs; k++) {
        const ei_value *src = a->g->values[a->g->outputs[k]];
        if (node->outputs[k] < 0) continue;
        EI_CHECK(ei_node_alloc_output(ex, node, k, src->dtype, src->rank, src->dims));
        ei_value *dst = ei_node_out(ex, node, k);
        if (dst->nbytes) memcpy(dst->data, src->data, dst->nbytes);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_if = {if_prepare, if_infer, if_run, if_destroy, .dtypes = "bool"};
