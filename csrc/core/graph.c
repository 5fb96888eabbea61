/*
 * graph.c - building and freeing the graph IR (values, nodes, attributes, models), the
 * name -> value hash index, topological sorting, and the typed attribute readers ops use.
 * Parsing ONNX into this IR is onnx/onnx.c's job; resolving outer-scope values the session's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* ------------------------------------------------------------ name index */

/* Open addressing over value indices (-1 = empty slot); keys are the values' names. */
typedef struct ei_name_index {
    int *slots;
    size_t cap; /* power of two */
    size_t count;
} ei_name_index;

static uint64_t ei_hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static ei_status ei_index_grow(ei_graph *g) {
    ei_name_index *ix = g->name_index;
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    if (cap < ix->cap || cap > SIZE_MAX / sizeof(int))
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "graph has too many values");
    int *slots = malloc(cap * sizeof *slots);
    if (!slots) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory growing the value index");
    for (size_t i = 0; i < cap; i++)
        slots[i] = -1;
    for (size_t i = 0; i < ix->cap; i++) {
        int v = ix->slots[i];
        if (v < 0) continue;
        size_t h = (size_t)ei_hash_str(g->values[v]->name) & (cap - 1);
        while (slots[h] >= 0)
            h = (h + 1) & (cap - 1);
        slots[h] = v;
    }
    free(ix->slots);
    ix->slots = slots;
    ix->cap = cap;
    return EI_STATUS_OK;
}

int ei_graph_find_value(const ei_graph *g, const char *name) {
    if (!g || !name || !g->name_index) return -1;
    const ei_name_index *ix = g->name_index;
    if (ix->cap == 0) return -1;
    size_t h = (size_t)ei_hash_str(name) & (ix->cap - 1);
    while (ix->slots[h] >= 0) {
        int v = ix->slots[h];
        if (strcmp(g->values[v]->name, name) == 0) return v;
        h = (h + 1) & (ix->cap - 1);
    }
    return -1;
}

/* ----------------------------------------------------------- construction */

static char *ei_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

ei_status ei_graph_create(const char *name, ei_graph **out) {
    *out = NULL;
    ei_graph *g = calloc(1, sizeof *g);
    if (!g) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating a graph");
    g->name = ei_strdup(name ? name : "");
    g->name_index = calloc(1, sizeof(ei_name_index));
    if (!g->name || !g->name_index) {
        ei_graph_free(g);
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating a graph");
    }
    *out = g;
    return EI_STATUS_OK;
}

void ei_value_free(ei_value *v) {
    if (!v) return;
    free(v->name);
    for (int i = 0; i < EI_MAX_RANK; i++)
        free(v->decl_dim_names[i]);
    if (v->flags & EI_VALUE_FLAG_OWNS_DATA) free(v->data); /* posix_memalign'd or malloc'd */
    free(v);
}

void ei_attr_clear(ei_attr *a) {
    if (!a) return;
    free(a->name);
    free(a->s.data);
    ei_value_free(a->t);
    ei_graph_free(a->g);
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (size_t i = 0; i < a->n; i++)
            free(a->strings[i].data);
    free(a->strings);
    if (a->tensors)
        for (size_t i = 0; i < a->n; i++)
            ei_value_free(a->tensors[i]);
    free(a->tensors);
    if (a->graphs)
        for (size_t i = 0; i < a->n; i++)
            ei_graph_free(a->graphs[i]);
    free(a->graphs);
    memset(a, 0, sizeof *a);
}

static void ei_node_clear(ei_node *n) {
    /* n->state is the session's to destroy (op->destroy) before the graph is freed. */
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        ei_attr_clear(&n->attrs[i]);
    free(n->attrs);
    memset(n, 0, sizeof *n);
}

void ei_graph_free(ei_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++)
        ei_node_clear(&g->nodes[i]);
    free(g->nodes);
    for (int i = 0; i < g->n_values; i++)
        ei_value_free(g->values[i]);
    free(g->values);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    if (g->name_index) free(((ei_name_index *)g->name_index)->slots);
    free(g->name_index);
    free(g);
}

ei_status ei_graph_add_value(ei_graph *g, const char *name, int *index, bool *created) {
    if (created) *created = false;
    if (!name) return ei_error(EI_STATUS_INTERNAL, "ei_graph_add_value: NULL name");
    int found = ei_graph_find_value(g, name);
    if (found >= 0) {
        *index = found;
        return EI_STATUS_OK;
    }
    ei_name_index *ix = g->name_index;
    if ((ix->count + 1) * 2 > ix->cap) EI_CHECK(ei_index_grow(g));
    if (g->n_values == g->cap_values) {
        if (g->cap_values > (1 << 28))
            return ei_error(EI_STATUS_OUT_OF_MEMORY, "graph '%s' has too many values", g->name);
        int cap = g->cap_values ? g->cap_values * 2 : 16;
        ei_value **vals = realloc(g->values, (size_t)cap * sizeof *vals);
        if (!vals) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory adding a value");
        g->values = vals;
        g->cap_values = cap;
    }
    ei_value *v = calloc(1, sizeof *v);
    char *nm = ei_strdup(name);
    if (!v || !nm) {
        free(v);
        free(nm);
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory adding value '%s'", name);
    }
    v->name = nm;
    v->dtype = EI_DTYPE_UNDEFINED;
    v->rank = -1;
    v->producer = -1;
    v->decl_dtype = EI_DTYPE_UNDEFINED;
    v->decl_rank = -1;
    v->first_use = -1;
    v->last_use = -1;
    int idx = g->n_values++;
    g->values[idx] = v;
    size_t h = (size_t)ei_hash_str(name) & (ix->cap - 1);
    while (ix->slots[h] >= 0)
        h = (h + 1) & (ix->cap - 1);
    ix->slots[h] = idx;
    ix->count++;
    *index = idx;
    if (created) *created = true;
    return EI_STATUS_OK;
}

ei_status ei_graph_add_node(ei_graph *g, const char *name, const char *op_type, const char *domain,
                            int n_inputs, int n_outputs, int n_attrs, int *index) {
    ei_status st = EI_STATUS_OK;
    ei_node n;
    memset(&n, 0, sizeof n);
    if (!op_type) op_type = "";
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    if (n_inputs < 0 || n_outputs < 0 || n_attrs < 0)
        return ei_error(EI_STATUS_INTERNAL, "ei_graph_add_node: negative count");
    if (g->n_nodes == g->cap_nodes) {
        if (g->cap_nodes > (1 << 26))
            return ei_error(EI_STATUS_OUT_OF_MEMORY, "graph '%s' has too many nodes", g->name);
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
        ei_node *nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory adding a node");
        g->nodes = nodes;
        g->cap_nodes = cap;
    }
    if (name && name[0]) {
        n.name = ei_strdup(name);
    } else {
        char buf[64];
        size_t len = strlen(op_type);
        snprintf(buf, sizeof buf, "_%d", g->n_nodes);
        n.name = malloc(len + strlen(buf) + 1);
        if (n.name) {
            memcpy(n.name, op_type, len);
            memcpy(n.name + len, buf, strlen(buf) + 1);
        }
    }
    n.op_type = ei_strdup(op_type);
    n.domain = ei_strdup(domain);
    n.inputs = malloc(((size_t)n_inputs + 1) * sizeof(int));
    n.outputs = malloc(((size_t)n_outputs + 1) * sizeof(int));
    n.attrs = calloc((size_t)n_attrs + 1, sizeof(ei_attr));
    if (!n.name || !n.op_type || !n.domain || !n.inputs || !n.outputs || !n.attrs) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory adding a node");
        goto cleanup;
    }
    for (int i = 0; i < n_inputs; i++)
        n.inputs[i] = -1;
    for (int i = 0; i < n_outputs; i++)
        n.outputs[i] = -1;
    n.n_inputs = n_inputs;
    n.n_outputs = n_outputs;
    n.n_attrs = n_attrs;
    *index = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    return EI_STATUS_OK;
cleanup:
    ei_node_clear(&n);
    return st;
}

/* ----------------------------------------------------------- toposort */

static bool ei_value_available(const ei_value *v) {
    return (v->flags & (EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_INPUT | EI_VALUE_FLAG_OUTER)) != 0;
}

/* Calls fn for each value of the enclosing graph g that node n's subgraphs read from
 * outer scope (their EI_VALUE_FLAG_OUTER values; the reader propagates nested ones up). */
typedef ei_status (*ei_outer_fn)(ei_graph *g, int node, int value, void *ctx);

static ei_status ei_node_outer_refs(ei_graph *g, int node, ei_outer_fn fn, void *ctx) {
    const ei_node *n = &g->nodes[node];
    for (int a = 0; a < n->n_attrs; a++) {
        const ei_attr *at = &n->attrs[a];
        size_t ng = at->type == EI_ATTR_TYPE_GRAPH    ? (at->g ? 1 : 0)
                    : at->type == EI_ATTR_TYPE_GRAPHS ? at->n
                                                      : 0;
        for (size_t k = 0; k < ng; k++) {
            const ei_graph *sub = at->type == EI_ATTR_TYPE_GRAPH ? at->g : at->graphs[k];
            if (!sub) continue;
            for (int v = 0; v < sub->n_values; v++) {
                if (!(sub->values[v]->flags & EI_VALUE_FLAG_OUTER)) continue;
                int idx = ei_graph_find_value(g, sub->values[v]->name);
                if (idx >= 0) EI_CHECK(fn(g, node, idx, ctx));
            }
        }
    }
    return EI_STATUS_OK;
}

typedef struct ei_topo {
    int *producer;  /* per value */
    int *dep_start; /* CSR: deps of node i are deps[dep_start[i] .. dep_start[i+1]) */
    int *deps;
    int *fill;
    bool counting;
} ei_topo;

static ei_status ei_topo_add_dep(ei_graph *g, int node, int value, void *ctx) {
    ei_topo *t = ctx;
    int p = t->producer[value];
    if (p < 0) {
        if (ei_value_available(g->values[value])) return EI_STATUS_OK;
        return ei_node_error(&g->nodes[node], EI_STATUS_INVALID_MODEL,
                             "input '%s' is not produced by any node and is not a graph input "
                             "or initializer",
                             g->values[value]->name);
    }
    if (t->counting)
        t->dep_start[node + 1]++;
    else
        t->deps[t->fill[node]++] = p;
    return EI_STATUS_OK;
}

static ei_status ei_topo_collect(ei_graph *g, ei_topo *t) {
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) EI_CHECK(ei_topo_add_dep(g, i, n->inputs[k], t));
        EI_CHECK(ei_node_outer_refs(g, i, ei_topo_add_dep, t));
    }
    return EI_STATUS_OK;
}

ei_status ei_graph_toposort(ei_graph *g) {
    ei_status st = EI_STATUS_OK;
    int nn = g->n_nodes, nv = g->n_values;
    ei_topo t = {0};
    int *state = NULL, *order = NULL, *stack = NULL, *stack_pos = NULL;
    ei_node *sorted = NULL;
    size_t nn1 = (size_t)nn + 1;
    t.producer = malloc(((size_t)nv + 1) * sizeof(int));
    t.dep_start = calloc(nn1 + 1, sizeof(int));
    t.fill = malloc(nn1 * sizeof(int));
    state = calloc(nn1, sizeof(int));
    order = malloc(nn1 * sizeof(int));
    stack = malloc(nn1 * sizeof(int));
    stack_pos = malloc(nn1 * sizeof(int));
    if (!t.producer || !t.dep_start || !t.fill || !state || !order || !stack || !stack_pos) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory sorting graph '%s'", g->name);
        goto cleanup;
    }
    for (int v = 0; v < nv; v++)
        t.producer[v] = -1;
    for (int i = 0; i < nn; i++) {
        const ei_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            if (v >= nv) {
                st = ei_node_error(n, EI_STATUS_INTERNAL, "output index %d out of range", v);
                goto cleanup;
            }
            if (t.producer[v] >= 0) {
                st = ei_node_error(n, EI_STATUS_INVALID_MODEL,
                                   "output '%s' is also produced by node '%s'", g->values[v]->name,
                                   g->nodes[t.producer[v]].name);
                goto cleanup;
            }
            if (g->values[v]->flags & EI_VALUE_FLAG_INPUT) {
                st = ei_node_error(n, EI_STATUS_INVALID_MODEL, "output '%s' is also a graph input",
                                   g->values[v]->name);
                goto cleanup;
            }
            t.producer[v] = i;
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= nv) {
                st = ei_node_error(n, EI_STATUS_INTERNAL, "input index %d out of range",
                                   n->inputs[k]);
                goto cleanup;
            }
    }
    /* Dependency lists in CSR form: count, prefix-sum, fill. */
    t.counting = true;
    EI_TRY(ei_topo_collect(g, &t));
    for (int i = 0; i < nn; i++) {
        if (t.dep_start[i + 1] > INT32_MAX - t.dep_start[i]) {
            st = ei_error(EI_STATUS_OUT_OF_MEMORY, "graph '%s' too large to sort", g->name);
            goto cleanup;
        }
        t.dep_start[i + 1] += t.dep_start[i];
    }
    t.deps = malloc(((size_t)t.dep_start[nn] + 1) * sizeof(int));
    if (!t.deps) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory sorting graph '%s'", g->name);
        goto cleanup;
    }
    for (int i = 0; i < nn; i++)
        t.fill[i] = t.dep_start[i];
    t.counting = false;
    EI_TRY(ei_topo_collect(g, &t));

    /* Iterative depth-first search in the original order: an already sorted graph keeps
     * its order, and a long chain cannot overflow the C stack. 1 = on the stack, 2 = done. */
    int n_order = 0;
    for (int root = 0; root < nn; root++) {
        if (state[root]) continue;
        int sp = 0;
        stack[sp] = root;
        stack_pos[sp] = t.dep_start[root];
        state[root] = 1;
        sp++;
        while (sp > 0) {
            int cur = stack[sp - 1];
            if (stack_pos[sp - 1] < t.dep_start[cur + 1]) {
                int d = t.deps[stack_pos[sp - 1]++];
                if (state[d] == 1) {
                    st = ei_node_error(&g->nodes[d], EI_STATUS_INVALID_MODEL,
                                       "the graph has a cycle through this node and node '%s'",
                                       g->nodes[cur].name);
                    goto cleanup;
                }
                if (state[d] == 0) {
                    state[d] = 1;
                    stack[sp] = d;
                    stack_pos[sp] = t.dep_start[d];
                    sp++;
                }
            } else {
                state[cur] = 2;
                order[n_order++] = cur;
                sp--;
            }
        }
    }
    sorted = malloc(nn1 * sizeof *sorted);
    if (!sorted) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory sorting graph '%s'", g->name);
        goto cleanup;
    }
    for (int i = 0; i < nn; i++)
        sorted[i] = g->nodes[order[i]];
    if (nn > 0) memcpy(g->nodes, sorted, (size_t)nn * sizeof *sorted);
    for (int v = 0; v < nv; v++)
        g->values[v]->producer = -1;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] >= 0) g->values[g->nodes[i].outputs[k]]->producer = i;
cleanup:
    free(t.producer);
    free(t.dep_start);
    free(t.deps);
    free(t.fill);
    free(state);
    free(order);
    free(stack);
    free(stack_pos);
    free(sorted);
    return st;
}

/* ------------------------------------------------------------------ model */

void ei_model_free(ei_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_opsets; i++)
        free(m->opsets[i].domain);
    free(m->opsets);
    free(m->producer_name);
    ei_graph_free(m->graph);
    free(m->file_data);
    free(m);
}

int64_t ei_model_opset(const ei_model *m, const char *domain) {
    if (!m) return -1;
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain ? m->opsets[i].domain : "";
        if (strcmp(d, "ai.onnx") == 0) d = "";
        if (strcmp(d, domain) == 0) return m->opsets[i].version;
    }
    return -1;
}

/* ------------------------------------------------------- attribute readers */

static const char *ei_attr_type_name(ei_attr_type t) {
    static const char *const names[] = {
        "UNDEFINED",      "FLOAT",      "INT",        "STRING",  "TENSOR", "GRAPH",
        "FLOATS",         "INTS",       "STRINGS",    "TENSORS", "GRAPHS", "SPARSE_TENSOR",
        "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};
    if ((int)t >= 0 && (size_t)t < sizeof names / sizeof names[0]) return names[t];
    return "?";
}

const ei_attr *ei_node_attr(const ei_node *n, const char *name) {
    if (!n || !name) return NULL;
    for (int i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

static ei_status ei_attr_want(const ei_node *n, const ei_attr *a, ei_attr_type want) {
    if (a->type == want) return EI_STATUS_OK;
    return ei_node_error(n, EI_STATUS_INVALID_MODEL, "attribute '%s' has type %s, expected %s",
                         a->name, ei_attr_type_name(a->type), ei_attr_type_name(want));
}

ei_status ei_node_attr_int(const ei_node *n, const char *name, int64_t def, int64_t *out) {
    const ei_attr *a = ei_node_attr(n, name);
    *out = def;
    if (!a) return EI_STATUS_OK;
    EI_CHECK(ei_attr_want(n, a, EI_ATTR_TYPE_INT));
    *out = a->i;
    return EI_STATUS_OK;
}

ei_status ei_node_attr_float(const ei_node *n, const char *name, float def, float *out) {
    const ei_attr *a = ei_node_attr(n, name);
    *out = def;
    if (!a) return EI_STATUS_OK;
    EI_CHECK(ei_attr_want(n, a, EI_ATTR_TYPE_FLOAT));
    *out = a->f;
    return EI_STATUS_OK;
}

ei_status ei_node_attr_string(const ei_node *n, const char *name, const char *def,
                              const char **out) {
    const ei_attr *a = ei_node_attr(n, name);
    *out = def;
    if (!a) return EI_STATUS_OK;
    EI_CHECK(ei_attr_want(n, a, EI_ATTR_TYPE_STRING));
    *out = a->s.data ? a->s.data : "";
    return EI_STATUS_OK;
}

ei_status ei_node_attr_ints(const ei_node *n, const char *name, const int64_t **out,
                            size_t *count) {
    const ei_attr *a = ei_node_attr(n, name);
    *out = NULL;
    *count = 0;
    if (!a) return EI_STATUS_OK;
    EI_CHECK(ei_attr_want(n, a, EI_ATTR_TYPE_INTS));
    *out = a->ints;
    *count = a->n;
    return EI_STATUS_OK;
}

ei_status ei_node_attr_floats(const ei_node *n, const char *name, const float **out,
                              size_t *count) {
    const ei_attr *a = ei_node_attr(n, name);
    *out = NULL;
    *count = 0;
    if (!a) return EI_STATUS_OK;
    EI_CHECK(ei_attr_want(n, a, EI_ATTR_TYPE_FLOATS));
    *out = a->floats;
    *count = a->n;
    return EI_STATUS_OK;
}

ei_status ei_node_attr_tensor(const ei_node *n, const char *name, const ei_value **out) {
    const ei_attr *a = ei_node_attr(n, name);
    *out = NULL;
    if (!a) return EI_STATUS_OK;
    EI_CHECK(ei_attr_want(n, a, EI_ATTR_TYPE_TENSOR));
    *out = a->t;
    return EI_STATUS_OK;
}
