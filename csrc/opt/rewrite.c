/*
 * rewrite.c - what the fusion passes share to edit a graph safely: use counts, constant
 * lookups, new owned constants, and replacing a node by a freshly prepared one. A
 * replacement whose op is missing or whose prepare rejects it leaves the graph as it was,
 * so a fusion never turns a model that works into one that does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "opt/opt.h"

static char *ei_opt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

bool ei_opt_is(const ei_node *n, const char *op_type) {
    return n->domain[0] == '\0' && strcmp(n->op_type, op_type) == 0;
}

ei_status ei_opt_count_uses(const ei_graph *g, int **out) {
    int *uses = calloc((size_t)g->n_values + 1, sizeof *uses);
    *out = NULL;
    if (!uses) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) uses[n->inputs[k]]++;
        for (int a = 0; a < n->n_attrs; a++) {
            const ei_attr *at = &n->attrs[a];
            if (at->type != EI_ATTR_TYPE_GRAPH && at->type != EI_ATTR_TYPE_GRAPHS) continue;
            /* A subgraph reads outer values by name: count each one it names. */
            for (int v = 0; v < g->n_values; v++)
                if (ei_node_subgraphs_read(n, g->values[v]->name)) uses[v]++;
            break;
        }
    }
    for (int k = 0; k < g->n_outputs; k++) uses[g->outputs[k]]++;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v]->flags & EI_VALUE_FLAG_OUTPUT) uses[v]++;
    *out = uses;
    return EI_STATUS_OK;
}

int ei_opt_consumers(const ei_graph *g, const bool *removed, int v, int *nodes, int max) {
    int count = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (removed && removed[i]) continue;
        const ei_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] != v) continue;
            if (count < max) nodes[count] = i;
            count++;
        }
    }
    return count;
}

int ei_opt_sole_consumer(const ei_graph *g, const int *uses, const bool *removed, int v) {
    int node = -1;
    if (v < 0 || uses[v] != 1) return -1;
    if (ei_opt_consumers(g, removed, v, &node, 1) != 1) return -1;
    return node;
}

const float *ei_opt_const_f32(const ei_graph *g, int v, size_t *numel) {
    if (v < 0) return NULL;
    const ei_value *val = g->values[v];
    if (!(val->flags & EI_VALUE_FLAG_CONST) || !val->data || val->dtype != EI_DTYPE_F32 ||
        val->rank < 0)
        return NULL;
    size_t n = 0;
    if (!ei_shape_numel(val->rank, val->dims, &n) || n * sizeof(float) > val->nbytes) return NULL;
    if (numel) *numel = n;
    return val->data;
}

bool ei_opt_const_scalar(const ei_graph *g, int v, int max_rank, float *out) {
    size_t n = 0;
    const float *p = ei_opt_const_f32(g, v, &n);
    if (!p || n != 1 || g->values[v]->rank > max_rank) return false;
    *out = p[0];
    return true;
}

ei_status ei_opt_set_const_f32(ei_graph *g, int index, int rank, const int64_t *dims, float *data) {
    ei_value *v = g->values[index];
    ei_status st = ei_value_set_shape(v, EI_DTYPE_F32, rank, dims);
    if (st != EI_STATUS_OK) {
        if (data != v->data) ei_aligned_free(data);
        return st;
    }
    if ((v->flags & EI_VALUE_FLAG_OWNS_DATA) && v->data != data) free(v->data);
    v->data = data;
    v->flags = (v->flags & ~(uint32_t)EI_VALUE_FLAG_KNOWN) | EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_OWNS_DATA;
    v->producer = -1;
    return EI_STATUS_OK;
}

/* Deep copy of the attribute kinds fused nodes carry over (Conv's, Gemm's). */
static bool ei_opt_attr_copy(const ei_attr *src, ei_attr *dst) {
    memset(dst, 0, sizeof *dst);
    dst->name = ei_opt_strdup(src->name);
    if (!dst->name) return false;
    dst->type = src->type;
    dst->f = src->f;
    dst->i = src->i;
    dst->n = src->n;
    switch (src->type) {
    case EI_ATTR_TYPE_FLOAT:
    case EI_ATTR_TYPE_INT: return true;
    case EI_ATTR_TYPE_STRING:
        dst->s.data = malloc(src->s.len + 1);
        if (!dst->s.data) return false;
        if (src->s.len) memcpy(dst->s.data, src->s.data, src->s.len);
        dst->s.data[src->s.len] = '\0';
        dst->s.len = src->s.len;
        return true;
    case EI_ATTR_TYPE_INTS:
        dst->ints = malloc((src->n + 1) * sizeof *dst->ints);
        if (!dst->ints) return false;
        if (src->n) memcpy(dst->ints, src->ints, src->n * sizeof *dst->ints);
        return true;
    case EI_ATTR_TYPE_FLOATS:
        dst->floats = malloc((src->n + 1) * sizeof *dst->floats);
        if (!dst->floats) return false;
        if (src->n) memcpy(dst->floats, src->floats, src->n * sizeof *dst->floats);
        return true;
    default: return false; /* tensors, graphs: never on the ops we fuse */
    }
}

static bool ei_opt_attr_make(const ei_opt_attr *src, ei_attr *dst) {
    memset(dst, 0, sizeof *dst);
    dst->name = ei_opt_strdup(src->name);
    if (!dst->name) return false;
    dst->type = src->type;
    switch (src->type) {
    case EI_ATTR_TYPE_INT: dst->i = src->i; return true;
    case EI_ATTR_TYPE_FLOAT: dst->f = src->f; return true;
    case EI_ATTR_TYPE_STRING:
        dst->s.data = ei_opt_strdup(src->s);
        dst->s.len = dst->s.data ? strlen(src->s) : 0;
        return dst->s.data != NULL;
    case EI_ATTR_TYPE_FLOATS:
        dst->n = src->n;
        dst->floats = malloc((src->n + 1) * sizeof *dst->floats);
        if (!dst->floats) return false;
        if (src->n) memcpy(dst->floats, src->floats, src->n * sizeof *dst->floats);
        return true;
    case EI_ATTR_TYPE_INTS:
        dst->n = src->n;
        dst->ints = malloc((src->n + 1) * sizeof *dst->ints);
        if (!dst->ints) return false;
        if (src->n) memcpy(dst->ints, src->ints, src->n * sizeof *dst->ints);
        return true;
    default: return false;
    }
}

static void ei_opt_node_clear(ei_node *n) {
    if (n->op && n->op->fns->destroy && n->state) n->op->fns->destroy(n->state);
    for (int a = 0; a < n->n_attrs; a++) ei_attr_clear(&n->attrs[a]);
    free(n->attrs);
    free(n->inputs);
    free(n->outputs);
    free(n->name);
    free(n->op_type);
    free(n->domain);
    memset(n, 0, sizeof *n);
}

ei_status ei_opt_replace_node(ei_exec *ex, int index, const ei_opt_node *spec, bool *done) {
    ei_graph *g = ex->graph;
    ei_node nn;
    int n_copy = spec->copy_attrs_from ? spec->copy_attrs_from->n_attrs : 0;
    bool oom = false;

    *done = false;
    memset(&nn, 0, sizeof nn);
    nn.op = ei_op_find(spec->domain, spec->op_type, spec->opset);
    if (!nn.op) return EI_STATUS_OK;
    nn.name = ei_opt_strdup(spec->name);
    nn.op_type = ei_opt_strdup(spec->op_type);
    nn.domain = ei_opt_strdup(spec->domain);
    nn.opset = spec->opset;
    nn.inputs = malloc(((size_t)spec->n_inputs + 1) * sizeof *nn.inputs);
    nn.outputs = malloc(sizeof *nn.outputs);
    nn.attrs = calloc((size_t)(n_copy + spec->n_attrs) + 1, sizeof *nn.attrs);
    if (!nn.name || !nn.op_type || !nn.domain || !nn.inputs || !nn.outputs || !nn.attrs) {
        oom = true;
        goto fail;
    }
    if (spec->n_inputs) memcpy(nn.inputs, spec->inputs, (size_t)spec->n_inputs * sizeof *nn.inputs);
    nn.n_inputs = spec->n_inputs;
    nn.outputs[0] = spec->output;
    nn.n_outputs = 1;
    for (int a = 0; a < n_copy; a++) {
        bool ok = ei_opt_attr_copy(&spec->copy_attrs_from->attrs[a], &nn.attrs[nn.n_attrs]);
        nn.n_attrs++;
        if (!ok) goto fail; /* unusual attribute kind or out of memory: no fusion */
    }
    for (int a = 0; a < spec->n_attrs; a++) {
        bool ok = ei_opt_attr_make(&spec->attrs[a], &nn.attrs[nn.n_attrs]);
        nn.n_attrs++;
        if (!ok) {
            oom = true;
            goto fail;
        }
    }
    /* The new op validates the rewrite; a refusal just means no fusion here. */
    if (nn.op->fns->prepare && nn.op->fns->prepare(ex, &nn) != EI_STATUS_OK) goto fail;
    ei_opt_node_clear(&g->nodes[index]);
    g->nodes[index] = nn;
    g->values[spec->output]->producer = index;
    *done = true;
    return EI_STATUS_OK;

fail:
    ei_opt_node_clear(&nn);
    if (oom) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory fusing nodes");
    return EI_STATUS_OK;
}

void ei_opt_rewire(ei_graph *g, const bool *removed, int from, int to) {
    for (int j = 0; j < g->n_nodes; j++) {
        if (removed && removed[j]) continue;
        for (int k = 0; k < g->nodes[j].n_inputs; k++)
            if (g->nodes[j].inputs[k] == from) g->nodes[j].inputs[k] = to;
    }
}

ei_status ei_opt_finish(ei_graph *g, const bool *removed, int n_removed, bool *changed) {
    if (n_removed > 0) {
        EI_CHECK(ei_graph_remove_nodes(g, removed));
        *changed = true;
    }
    return EI_STATUS_OK;
}
