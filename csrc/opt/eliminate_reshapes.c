/*
 * eliminate_reshapes.c - data-movement nodes that do nothing or undo each other:
 * a Reshape to a constant shape (no 0 that copies an input dim) reads past a chain of
 * Reshape/Flatten/Squeeze/Unsqueeze; Transpose(Transpose(x)) becomes one Transpose, or
 * nothing when the perms cancel; Reshape/Flatten/Squeeze/Unsqueeze/Expand whose output
 * shape equals the input's and Cast to the input's dtype are bypassed when static shapes
 * prove it (shapes.c). Bypassed nodes are left to eliminate_dead; graph outputs and
 * values that subgraphs read are never bypassed.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

static bool ei_is_shape_op(const ei_node *n) {
    return ei_opt_is(n, "Reshape") || ei_opt_is(n, "Flatten") || ei_opt_is(n, "Squeeze") ||
           ei_opt_is(n, "Unsqueeze");
}

/* Whether Reshape node r gives the same result for any input of the same element count. */
static bool ei_reshape_const_target(const ei_graph *g, const ei_node *r) {
    if (r->opset < 5 || r->n_inputs != 2 || r->inputs[0] < 0 || r->inputs[1] < 0) return false;
    const ei_value *s = g->values[r->inputs[1]];
    if (!(s->flags & EI_VALUE_FLAG_CONST) || !s->data || s->dtype != EI_DTYPE_I64 || s->rank != 1) return false;
    int64_t allowzero = 0;
    if (r->opset >= 14 && ei_node_attr_int(r, "allowzero", 0, &allowzero) != EI_STATUS_OK) return false;
    if (allowzero) return true;
    const int64_t *d = s->data;
    for (int64_t i = 0; i < s->dims[0]; i++)
        if (d[i] == 0) return false;
    return true;
}

/* perm of Transpose n when given explicitly as a permutation; its length, else -1. */
static int ei_transpose_perm(const ei_node *n, const int64_t **perm) {
    size_t np = 0;
    if (n->n_inputs != 1 || n->inputs[0] < 0 || n->n_outputs != 1 || n->outputs[0] < 0) return -1;
    if (ei_node_attr_ints(n, "perm", perm, &np) != EI_STATUS_OK || !*perm || np == 0 || np > EI_MAX_RANK)
        return -1;
    bool seen[EI_MAX_RANK] = {false};
    for (size_t i = 0; i < np; i++) {
        if ((*perm)[i] < 0 || (*perm)[i] >= (int64_t)np || seen[(*perm)[i]]) return -1;
        seen[(*perm)[i]] = true;
    }
    return (int)np;
}

/* Whether every use of v is a node input (so rewiring them all removes every read). */
static bool ei_only_node_uses(const ei_graph *g, const int *uses, const bool *removed, int v) {
    int dummy;
    return !(g->values[v]->flags & EI_VALUE_FLAG_OUTPUT) && uses[v] == ei_opt_consumers(g, removed, v, &dummy, 1);
}

ei_status ei_pass_eliminate_reshapes(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;
    bool have_shapes = false;
    ei_opt_shapes shapes;

    memset(&shapes, 0, sizeof shapes);
    *changed = false;
    if (g->n_nodes == 0) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (n->domain[0] || n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs != 1 || n->outputs[0] < 0)
            continue;
        int in = n->inputs[0], out = n->outputs[0];
        int p = g->values[in]->producer;
        /* Reshape(shape op(x), constant) == Reshape(x, constant). */
        if (ei_opt_is(n, "Reshape") && p >= 0 && ei_is_shape_op(&g->nodes[p]) && g->nodes[p].n_inputs >= 1 &&
            g->nodes[p].inputs[0] >= 0 && ei_reshape_const_target(g, n)) {
            n->inputs[0] = g->nodes[p].inputs[0];
            *changed = true;
            continue;
        }
        /* Transpose(Transpose(x, p1), p2) == Transpose(x, p1[p2]). */
        if (ei_opt_is(n, "Transpose") && p >= 0 && ei_opt_is(&g->nodes[p], "Transpose")) {
            const int64_t *p1 = NULL, *p2 = NULL;
            int r1 = ei_transpose_perm(&g->nodes[p], &p1), r2 = ei_transpose_perm(n, &p2);
            if (r1 < 0 || r1 != r2) continue;
            int64_t c[EI_MAX_RANK];
            bool identity = true;
            for (int k = 0; k < r2; k++) {
                c[k] = p1[p2[k]];
                if (c[k] != k) identity = false;
            }
            int x = g->nodes[p].inputs[0];
            if (identity) {
                if (!ei_only_node_uses(g, uses, removed, out)) continue;
                ei_opt_rewire(g, removed, out, x);
                *changed = true;
                continue;
            }
            ei_opt_attr perm = {.name = "perm", .type = EI_ATTR_TYPE_INTS, .ints = c, .n = (size_t)r2};
            ei_opt_node spec = {.name = n->name, .domain = "", .op_type = "Transpose", .opset = n->opset,
                                .inputs = &x, .n_inputs = 1, .output = out, .attrs = &perm, .n_attrs = 1};
            bool done = false;
            EI_TRY(ei_opt_replace_node(ex, i, &spec, &done));
            if (done) *changed = true;
            continue;
        }
        /* Shape ops and Casts that change nothing (static shapes only). */
        bool shape_op = ei_is_shape_op(n) || ei_opt_is(n, "Expand");
        if (!shape_op && !ei_opt_is(n, "Cast")) continue;
        if (ei_opt_is(n, "Cast") && n->n_inputs != 1) continue;
        if (!ei_only_node_uses(g, uses, removed, out)) continue;
        if (!have_shapes) {
            EI_TRY(ei_opt_infer_shapes(ex, &shapes));
            have_shapes = true;
        }
        if (!shapes.known[out] || !ei_opt_same_shape(&shapes, g, in, out)) continue;
        ei_dtype din = (g->values[in]->flags & EI_VALUE_FLAG_CONST) ? g->values[in]->dtype : shapes.v[in].dtype;
        if (din != shapes.v[out].dtype || din == EI_DTYPE_UNDEFINED) continue;
        ei_opt_rewire(g, removed, out, in);
        *changed = true;
    }
    EI_TRY(ei_opt_finish(g, removed, n_removed, changed));
cleanup:
    ei_opt_shapes_free(&shapes);
    free(uses);
    free(removed);
    return st;
}
