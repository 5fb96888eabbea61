/*
 * fuse_gelu.c - the exact GELU that exporters spell out for opsets before 20,
 * x * 0.5 * (1 + Erf(x / sqrt(2))) in its usual orders, becomes one Gelu node (the
 * opset-20 op, which computes the same formula in one pass). Runs after the MatMul and
 * Conv fusions, which take a GELU right after their product into their epilogue.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

ei_status ei_pass_fuse_gelu(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;

    *changed = false;
    if (g->n_nodes == 0 || !ei_op_find("", "Gelu", 20)) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *e = &g->nodes[i];
        if (removed[i] || !ei_opt_is(e, "Erf") || e->n_inputs != 1 || e->inputs[0] < 0) continue;
        int d = g->values[e->inputs[0]]->producer;
        if (d < 0 || removed[d] || g->nodes[d].n_inputs != 2) continue;
        int x = g->nodes[d].inputs[0];
        ei_opt_act act;
        memset(&act, 0, sizeof act);
        if (!ei_opt_match_gelu_erf(g, uses, removed, x, false, &act)) continue;
        int last = -1;
        for (int k = 0; k < act.n_nodes; k++)
            if (act.nodes[k] > last) last = act.nodes[k];
        ei_opt_attr approx = {.name = "approximate", .type = EI_ATTR_TYPE_STRING, .s = "none"};
        ei_opt_node spec = {.name = e->name,
                            .domain = "",
                            .op_type = "Gelu",
                            .opset = 20,
                            .inputs = &x,
                            .n_inputs = 1,
                            .output = act.output,
                            .attrs = &approx,
                            .n_attrs = 1};
        bool done = false;
        EI_TRY(ei_opt_replace_node(ex, last, &spec, &done));
        if (!done) continue;
        for (int k = 0; k < act.n_nodes; k++) {
            if (act.nodes[k] == last || removed[act.nodes[k]]) continue;
            removed[act.nodes[k]] = true;
            n_removed++;
        }
    }
    EI_TRY(ei_opt_finish(g, removed, n_removed, changed));
cleanup:
    free(uses);
    free(removed);
    return st;
}
