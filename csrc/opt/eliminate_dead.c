/*
 * eliminate_dead.c - removes nodes whose outputs nobody reads and that produce no
 * graph output (left over by exporters or by the other passes).
 */
#include <stdlib.h>

#include "opt/opt.h"

ei_status ei_pass_eliminate_dead(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    bool *remove = NULL, *live = NULL;
    int n_removed = 0;

    *changed = false;
    if (g->n_nodes == 0) return EI_STATUS_OK;
    remove = calloc((size_t)g->n_nodes, sizeof *remove);
    live = calloc((size_t)g->n_values, sizeof *live);
    if (!remove || !live) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
        goto cleanup;
    }
    for (int k = 0; k < g->n_outputs; k++) live[g->outputs[k]] = true;
    /* Reverse topological order: a node is needed if any output is live. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        ei_node *n = &g->nodes[i];
        bool needed = false;
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0 && live[n->outputs[k]]) needed = true;
        if (!needed) {
            remove[i] = true;
            n_removed++;
            continue;
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) live[n->inputs[k]] = true;
        /* Values its subgraphs read by name stay too. */
        for (int v = 0; v < g->n_values; v++)
            if (!live[v] && ei_node_subgraphs_read(n, g->values[v]->name)) live[v] = true;
    }
    if (n_removed > 0) {
        EI_TRY(ei_graph_remove_nodes(g, remove));
        *changed = true;
    }
cleanup:
    free(remove);
    free(live);
    return st;
}
