/*
 * fold_constants.c - computes, once at creation, every node whose inputs are all
 * constants (weights reshaped or transposed by the exporter, Constant nodes, shape
 * arithmetic on initializers). The outputs become owned constants and the nodes go.
 */
#include <stdlib.h>

#include "core/alloc.h"
#include "core/session_internal.h"
#include "opt/opt.h"

/* Refuse to materialize absurdly large folded results (e.g. a huge ConstantOfShape);
 * those stay as nodes and run each time. */
#define EI_FOLD_CONST_MAX_BYTES ((size_t)256 << 20)

static void *ei_fold_alloc(void *ctx, size_t size) {
    (void)ctx;
    return ei_aligned_alloc(size);
}

/* Data-dependent ops (NonZero...) size their outputs while running: owned buffers too. */
static ei_status ei_fold_alloc_output(ei_exec *ex, ei_node *n, int index, ei_dtype dtype, int rank,
                                      const int64_t *dims) {
    ei_value *v = ei_node_out(ex, n, index);
    if (!v) return ei_node_error(n, EI_STATUS_INTERNAL, "output %d is absent", index);
    EI_CHECK(ei_value_set_shape(v, dtype, rank, dims));
    v->data = ei_aligned_alloc(v->nbytes);
    if (!v->data) return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for output '%s'", v->name);
    return EI_STATUS_OK;
}

ei_status ei_pass_fold_constants(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    bool *remove = NULL;
    int n_removed = 0;

    *changed = false;
    if (g->n_nodes == 0) return EI_STATUS_OK;
    remove = calloc((size_t)g->n_nodes, sizeof *remove);
    if (!remove) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory folding constants");

    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        bool all_const = true;
        /* Nodes with subgraphs (If, Loop, Scan) read outer values by name: not folded. */
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == EI_ATTR_TYPE_GRAPH || n->attrs[a].type == EI_ATTR_TYPE_GRAPHS)
                all_const = false;
        if (!all_const) continue;
        /* Data-dependent ops decide their shapes when they run. */
        for (int k = 0; k < n->n_inputs && all_const; k++) {
            const ei_value *v = ei_node_in(ex, n, k);
            if (v && !(v->flags & EI_VALUE_FLAG_CONST)) all_const = false;
        }
        if (!all_const) continue;
        /* Never fold into a graph input's place (outputs of a node cannot be inputs). */
        EI_TRY(n->op->fns->infer(ex, n));
        size_t bytes = 0;
        for (int k = 0; k < n->n_outputs; k++) {
            const ei_value *v = ei_node_out(ex, n, k);
            if (v && !ei_size_add(bytes, v->nbytes, &bytes)) bytes = SIZE_MAX;
        }
        if (bytes > EI_FOLD_CONST_MAX_BYTES) continue;
        ei_status (*saved)(ei_exec *, ei_node *, int, ei_dtype, int, const int64_t *) = ex->alloc_output;
        ex->alloc_output = ei_fold_alloc_output;
        st = ei_session_eval_node(ex, n, ei_fold_alloc, NULL, EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_OWNS_DATA);
        ex->alloc_output = saved;
        n->dynamic = false;
        if (st != EI_STATUS_OK) goto cleanup;
        for (int k = 0; k < n->n_outputs; k++) {
            ei_value *v = ei_node_out(ex, n, k);
            if (v) v->producer = -1;
        }
        remove[i] = true;
        n_removed++;
    }
    if (n_removed > 0) {
        EI_TRY(ei_graph_remove_nodes(g, remove));
        *changed = true;
    }

cleanup:
    free(remove);
    return st;
}
