/*
 * fuse_conv.c - Conv [-> Add(conv_out, Z)] [-> activation] becomes one com.edgeinfer
 * FusedConv (Y = act(conv(X, W) + B + Z)). The residual Add is taken only when Z is
 * proved to have the Conv output's exact shape (static input shapes, see shapes.c):
 * a broadcasting Add stays an Add. Nothing happens while FusedConv is not in the table.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"
#include "ops/fused_act.h"

static bool ei_is_f32(const ei_opt_shapes *shapes, const ei_graph *g, int v) {
    if (ei_opt_const_f32(g, v, NULL)) return true;
    return shapes->known && v < shapes->n && shapes->known[v] && shapes->v[v].dtype == EI_DTYPE_F32;
}

ei_status ei_pass_fuse_conv(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;
    ei_opt_shapes shapes;

    memset(&shapes, 0, sizeof shapes);
    *changed = false;
    if (g->n_nodes == 0 || !ei_op_find(EI_DOMAIN_EDGEINFER, "FusedConv", 1)) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    EI_TRY(ei_opt_infer_shapes(ex, &shapes));
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *c = &g->nodes[i];
        if (removed[i] || !ei_opt_is(c, "Conv") || c->n_outputs != 1 || c->outputs[0] < 0 ||
            c->n_inputs < 2 || c->n_inputs > 3)
            continue;
        int y = c->outputs[0], cur = y, z = -1, add = -1;
        int ai = ei_opt_sole_consumer(g, uses, removed, y);
        if (ai >= 0) {
            const ei_node *a = &g->nodes[ai];
            if (ei_opt_is(a, "Add") && a->n_inputs == 2 && a->n_outputs == 1 && a->outputs[0] >= 0) {
                int o = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
                /* Exact same shape and dtype: the Add does not broadcast. */
                if (o >= 0 && o != y && ei_opt_same_shape(&shapes, g, y, o) && ei_is_f32(&shapes, g, o)) {
                    z = o;
                    add = ai;
                    cur = a->outputs[0];
                }
            }
        }
        ei_opt_act act;
        memset(&act, 0, sizeof act);
        bool has_act = ei_opt_match_act(g, uses, removed, cur, true, &act);
        if (!has_act && z < 0) continue;
        int last = add > i ? add : i;
        if (has_act)
            for (int k = 0; k < act.n_nodes; k++)
                if (act.nodes[k] > last) last = act.nodes[k];
        int ins[4] = {c->inputs[0], c->inputs[1], c->n_inputs > 2 ? c->inputs[2] : -1, z};
        ei_opt_attr attrs[2] = {{.name = "activation", .type = EI_ATTR_TYPE_STRING, .s = has_act ? act.name : ""},
                                {.name = "activation_params", .type = EI_ATTR_TYPE_FLOATS,
                                 .floats = act.params, .n = has_act ? (size_t)act.n_params : 0}};
        ei_opt_node spec = {.name = c->name,
                            .domain = EI_DOMAIN_EDGEINFER,
                            .op_type = "FusedConv",
                            .opset = 1,
                            .inputs = ins,
                            .n_inputs = z >= 0 ? 4 : (c->n_inputs > 2 ? 3 : 2),
                            .output = has_act ? act.output : cur,
                            .copy_attrs_from = c,
                            .attrs = attrs,
                            .n_attrs = has_act ? (act.n_params ? 2 : 1) : 0};
        bool done = false;
        EI_TRY(ei_opt_replace_node(ex, last, &spec, &done));
        if (!done) continue;
        int drop[EI_OPT_ACT_MAX_NODES + 2], nd = 0;
        drop[nd++] = i;
        if (add >= 0) drop[nd++] = add;
        for (int k = 0; has_act && k < act.n_nodes; k++) drop[nd++] = act.nodes[k];
        for (int k = 0; k < nd; k++) {
            if (drop[k] == last || removed[drop[k]]) continue;
            removed[drop[k]] = true;
            n_removed++;
        }
    }
    EI_TRY(ei_opt_finish(g, removed, n_removed, changed));
cleanup:
    ei_opt_shapes_free(&shapes);
    free(uses);
    free(removed);
    return st;
}
