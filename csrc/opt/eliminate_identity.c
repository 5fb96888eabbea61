/*
 * eliminate_identity.c - removes Identity and inference-mode Dropout nodes: their
 * consumers read the input directly. Kept when the output is a graph output (the
 * caller's buffer must be filled) or when Dropout's mask output is used.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

static bool ei_is_passthrough(const ei_exec *ex, const ei_node *n) {
    if (strcmp(n->domain, "") != 0 || n->n_outputs < 1 || n->n_inputs < 1 || n->inputs[0] < 0 ||
        n->outputs[0] < 0)
        return false;
    if (strcmp(n->op_type, "Identity") == 0) return n->n_outputs == 1;
    if (strcmp(n->op_type, "Dropout") != 0) return false;
    /* Dropout: the mask output must be absent or unused; training_mode must be a
     * known false (or absent). */
    if (n->n_outputs > 1 && n->outputs[1] >= 0) {
        const ei_value *mask = ex->graph->values[n->outputs[1]];
        if ((mask->flags & EI_VALUE_FLAG_OUTPUT) || ei_graph_count_uses(ex->graph, n->outputs[1]) > 0)
            return false;
    }
    const ei_value *training = ei_node_in(ex, n, 2);
    if (training) {
        if (!ei_value_known(training) || training->dtype != EI_DTYPE_BOOL || training->nbytes < 1) return false;
        if (((const uint8_t *)training->data)[0] != 0) return false;
    }
    return true;
}

ei_status ei_pass_eliminate_identity(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    bool *remove = NULL;
    int n_removed = 0;

    *changed = false;
    if (g->n_nodes == 0) return EI_STATUS_OK;
    remove = calloc((size_t)g->n_nodes, sizeof *remove);
    if (!remove) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (!ei_is_passthrough(ex, n)) continue;
        int in = n->inputs[0], out = n->outputs[0];
        if (g->values[out]->flags & EI_VALUE_FLAG_OUTPUT) continue;
        /* Subgraphs read values by name: keep the node if one reads its output. */
        bool read_by_subgraph = false;
        for (int j = 0; j < g->n_nodes && !read_by_subgraph; j++)
            read_by_subgraph = ei_node_subgraphs_read(&g->nodes[j], g->values[out]->name);
        if (read_by_subgraph) continue;
        for (int j = 0; j < g->n_nodes; j++)
            for (int k = 0; k < g->nodes[j].n_inputs; k++)
                if (g->nodes[j].inputs[k] == out) g->nodes[j].inputs[k] = in;
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
