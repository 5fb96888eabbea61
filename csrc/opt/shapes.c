/*
 * shapes.c - shapes the passes may rely on before the session's own shape inference:
 * when every input of a top-level graph has a fully static declared shape (the session
 * rejects any other), running each op's infer over the nodes gives the only shapes the
 * values can ever have. Values left unknown (dynamic dims, data-dependent ops) get no
 * fusion that needs them. The graph's shapes are restored afterwards.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

typedef struct ei_saved_shape {
    ei_dtype dtype;
    int rank;
    int64_t dims[EI_MAX_RANK];
    size_t nbytes;
} ei_saved_shape;

void ei_opt_shapes_free(ei_opt_shapes *s) {
    if (!s) return;
    free(s->known);
    free(s->v);
    memset(s, 0, sizeof *s);
}

bool ei_opt_shape_of(const ei_opt_shapes *s, const ei_graph *g, int v, int *rank, const int64_t **dims) {
    if (v < 0) return false;
    const ei_value *val = g->values[v];
    if ((val->flags & EI_VALUE_FLAG_CONST) && val->rank >= 0) {
        *rank = val->rank;
        *dims = val->dims;
        return true;
    }
    if (!s || !s->known || v >= s->n || !s->known[v]) return false;
    *rank = s->v[v].rank;
    *dims = s->v[v].dims;
    return true;
}

bool ei_opt_same_shape(const ei_opt_shapes *s, const ei_graph *g, int a, int b) {
    int ra = 0, rb = 0;
    const int64_t *da = NULL, *db = NULL;
    if (!ei_opt_shape_of(s, g, a, &ra, &da) || !ei_opt_shape_of(s, g, b, &rb, &db) || ra != rb)
        return false;
    for (int d = 0; d < ra; d++)
        if (da[d] != db[d]) return false;
    return true;
}

static bool ei_node_has_graph_attr(const ei_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == EI_ATTR_TYPE_GRAPH || n->attrs[a].type == EI_ATTR_TYPE_GRAPHS) return true;
    return false;
}

ei_status ei_opt_infer_shapes(ei_exec *ex, ei_opt_shapes *out) {
    ei_graph *g = ex->graph;
    ei_saved_shape *saved = NULL;
    bool *node_dyn = NULL;
    size_t *node_scratch = NULL;
    ei_status st = EI_STATUS_OK;

    memset(out, 0, sizeof *out);
    out->n = g->n_values;
    out->known = calloc((size_t)g->n_values + 1, sizeof *out->known);
    out->v = calloc((size_t)g->n_values + 1, sizeof *out->v);
    if (!out->known || !out->v) {
        ei_opt_shapes_free(out);
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    }
    if (g->parent) return EI_STATUS_OK; /* subgraphs: shapes come from the parent at run */
    for (int i = 0; i < g->n_inputs; i++) {
        const ei_value *v = g->values[g->inputs[i]];
        if (v->decl_rank < 0 || v->decl_dtype == EI_DTYPE_UNDEFINED) return EI_STATUS_OK;
        for (int d = 0; d < v->decl_rank; d++)
            if (v->decl_dims[d] < 0) return EI_STATUS_OK;
    }
    saved = calloc((size_t)g->n_values + 1, sizeof *saved);
    node_dyn = calloc((size_t)g->n_nodes + 1, sizeof *node_dyn);
    node_scratch = calloc((size_t)g->n_nodes + 1, sizeof *node_scratch);
    if (!saved || !node_dyn || !node_scratch) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
        goto cleanup;
    }
    for (int v = 0; v < g->n_values; v++) {
        const ei_value *val = g->values[v];
        saved[v].dtype = val->dtype;
        saved[v].rank = val->rank;
        memcpy(saved[v].dims, val->dims, sizeof val->dims);
        saved[v].nbytes = val->nbytes;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        node_dyn[i] = g->nodes[i].dynamic;
        node_scratch[i] = g->nodes[i].scratch_bytes;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        ei_value *v = g->values[g->inputs[i]];
        if (ei_value_set_shape(v, v->decl_dtype, v->decl_rank, v->decl_dims) != EI_STATUS_OK) goto restore;
        out->known[g->inputs[i]] = true;
    }
    ex->shapes_only = true;
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        bool ready = !ei_node_has_graph_attr(n);
        for (int k = 0; k < n->n_inputs && ready; k++) {
            int vi = n->inputs[k];
            if (vi < 0) continue;
            if (!(g->values[vi]->flags & EI_VALUE_FLAG_CONST) && !out->known[vi]) ready = false;
        }
        if (!ready) continue;
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) g->values[n->outputs[k]]->rank = -1;
        n->dynamic = false;
        if (n->op->fns->infer(ex, n) != EI_STATUS_OK || n->dynamic) continue;
        for (int k = 0; k < n->n_outputs; k++) {
            int vi = n->outputs[k];
            if (vi >= 0 && g->values[vi]->rank >= 0) out->known[vi] = true;
        }
    }
    ex->shapes_only = false;
    for (int v = 0; v < g->n_values; v++) {
        if (!out->known[v]) continue;
        out->v[v].dtype = g->values[v]->dtype;
        out->v[v].rank = g->values[v]->rank;
        memcpy(out->v[v].dims, g->values[v]->dims, sizeof out->v[v].dims);
    }
restore:
    for (int v = 0; v < g->n_values; v++) {
        ei_value *val = g->values[v];
        if (val->flags & EI_VALUE_FLAG_CONST) continue;
        val->dtype = saved[v].dtype;
        val->rank = saved[v].rank;
        memcpy(val->dims, saved[v].dims, sizeof val->dims);
        val->nbytes = saved[v].nbytes;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        g->nodes[i].dynamic = node_dyn[i];
        g->nodes[i].scratch_bytes = node_scratch[i];
    }
cleanup:
    free(saved);
    free(node_dyn);
    free(node_scratch);
    if (st != EI_STATUS_OK) ei_opt_shapes_free(out);
    return st;
}
