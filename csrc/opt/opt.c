/*
 * opt.c - the pass driver and the node-removal helper the passes share. Eliminations
 * run before fusions so that patterns are seen without the exporter's no-op nodes.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

static const struct {
    const char *name;
    ei_pass_fn fn;
} ei_passes[] = {
    {"fold_constants", ei_pass_fold_constants},
    {"eliminate_identity", ei_pass_eliminate_identity},
    {"eliminate_reshapes", ei_pass_eliminate_reshapes},
    {"eliminate_dead", ei_pass_eliminate_dead},
    {"fold_batch_norm", ei_pass_fold_batch_norm},
    {"fuse_pad", ei_pass_fuse_pad},
    {"fuse_conv", ei_pass_fuse_conv},
    {"fuse_attention", ei_pass_fuse_attention},
    {"fuse_matmul", ei_pass_fuse_matmul},
    {"fuse_gelu", ei_pass_fuse_gelu},
    {"fuse_layer_norm", ei_pass_fuse_layer_norm},
};

/* Whether pass `name` is listed in EI_OPT_DISABLE (comma-separated pass names): a switch
 * for measuring each pass and for bisecting a suspected optimizer bug. */
static bool ei_pass_disabled(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

ei_status ei_optimize(ei_exec *ex, int level) {
    if (level <= 0) return EI_STATUS_OK;
    const char *off = getenv("EI_OPT_DISABLE");
    /* Each pass removes nodes or turns ONNX nodes into fused ones that no pass matches
     * again, so this terminates; the cap is a guard. */
    for (int round = 0; round < 16; round++) {
        bool any = false;
        for (size_t p = 0; p < sizeof ei_passes / sizeof ei_passes[0]; p++) {
            bool changed = false;
            if (off && ei_pass_disabled(off, ei_passes[p].name)) continue;
            EI_CHECK(ei_passes[p].fn(ex, &changed));
            any = any || changed;
        }
        if (!any) break;
    }
    return EI_STATUS_OK;
}

static bool ei_graph_reads_outer(const ei_graph *sub, const char *name) {
    int idx = ei_graph_find_value(sub, name);
    return idx >= 0 && (sub->values[idx]->flags & EI_VALUE_FLAG_OUTER);
}

bool ei_node_subgraphs_read(const ei_node *n, const char *name) {
    for (int a = 0; a < n->n_attrs; a++) {
        const ei_attr *at = &n->attrs[a];
        if (at->type == EI_ATTR_TYPE_GRAPH && at->g && ei_graph_reads_outer(at->g, name)) return true;
        if (at->type == EI_ATTR_TYPE_GRAPHS)
            for (size_t k = 0; k < at->n; k++)
                if (at->graphs[k] && ei_graph_reads_outer(at->graphs[k], name)) return true;
    }
    return false;
}

int ei_graph_count_uses(const ei_graph *g, int v) {
    int uses = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == v) uses++;
        if (ei_node_subgraphs_read(&g->nodes[i], g->values[v]->name)) uses++;
    }
    return uses;
}

static void ei_node_release(ei_node *n) {
    if (n->op && n->op->fns->destroy && n->state) n->op->fns->destroy(n->state);
    for (int a = 0; a < n->n_attrs; a++) ei_attr_clear(&n->attrs[a]);
    free(n->attrs);
    free(n->inputs);
    free(n->outputs);
    free(n->name);
    free(n->op_type);
    free(n->domain);
}

ei_status ei_graph_remove_nodes(ei_graph *g, const bool *remove) {
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (remove[i]) {
            ei_node_release(&g->nodes[i]);
            continue;
        }
        if (w != i) g->nodes[w] = g->nodes[i];
        w++;
    }
    g->n_nodes = w;
    for (int v = 0; v < g->n_values; v++) g->values[v]->producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]]->producer = i;
    return EI_STATUS_OK;
}
