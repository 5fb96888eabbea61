/*
 * fuse_layer_norm.c - the LayerNorm that exporters write out for opsets before 17,
 *   d = x - ReduceMean(x); n = d / Sqrt(ReduceMean(d^2) + eps); y = n * gamma [+ beta]
 * (axes [-1], keepdims, d^2 as Pow(d, 2) or Mul(d, d)), becomes one LayerNormalization
 * (axis -1) when gamma and beta are float32 constants over the last axis. Without
 * gamma the pattern stays (the op needs a Scale input and the passes add no values).
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

/* Whether n is ReduceMean over the last axis only, keeping dims. */
static bool ei_is_mean_last(const ei_graph *g, const ei_node *n) {
    if (!ei_opt_is(n, "ReduceMean") || n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs < 1) return false;
    int64_t keep = 1;
    if (ei_node_attr_int(n, "keepdims", 1, &keep) != EI_STATUS_OK || keep != 1) return false;
    const int64_t *axes = NULL;
    size_t na = 0;
    if (n->opset < 18) {
        if (n->n_inputs != 1 || ei_node_attr_ints(n, "axes", &axes, &na) != EI_STATUS_OK) return false;
    } else {
        if (n->n_inputs != 2 || n->inputs[1] < 0) return false;
        const ei_value *a = g->values[n->inputs[1]];
        if (!(a->flags & EI_VALUE_FLAG_CONST) || !a->data || a->dtype != EI_DTYPE_I64 || a->rank != 1) return false;
        axes = a->data;
        na = (size_t)a->dims[0];
    }
    return na == 1 && axes[0] == -1;
}

/* The sole consumer of v if it is op reading v as input `at` (and not elsewhere). */
static int ei_next(const ei_graph *g, const int *uses, const bool *removed, int v, const char *op, int at) {
    int c = ei_opt_sole_consumer(g, uses, removed, v);
    if (c < 0) return -1;
    const ei_node *n = &g->nodes[c];
    if (!ei_opt_is(n, op) || n->n_outputs != 1 || n->outputs[0] < 0 || at >= n->n_inputs || n->inputs[at] != v)
        return -1;
    return c;
}

ei_status ei_pass_fuse_layer_norm(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;
    ei_opt_shapes shapes;

    memset(&shapes, 0, sizeof shapes);
    *changed = false;
    if (g->n_nodes == 0 || !ei_op_find("", "LayerNormalization", 17)) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    bool have_shapes = false;
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *r1 = &g->nodes[i];
        if (removed[i] || !ei_is_mean_last(g, r1) || r1->inputs[0] < 0) continue;
        int x = r1->inputs[0];
        int si = ei_next(g, uses, removed, r1->outputs[0], "Sub", 1);
        if (si < 0 || g->nodes[si].inputs[0] != x) continue;
        int d = g->nodes[si].outputs[0];
        int cons[4], nc = ei_opt_consumers(g, removed, d, cons, 4);
        if (nc != uses[d] || (nc != 2 && nc != 3)) continue;
        /* d^2 (Pow(d, 2) or Mul(d, d)) and the Div(d, .) */
        int pi = -1, di = -1;
        float c = 0.0f;
        for (int k = 0; k < nc; k++) {
            const ei_node *n = &g->nodes[cons[k]];
            if (n->n_outputs != 1 || n->outputs[0] < 0 || n->n_inputs != 2) continue;
            if (ei_opt_is(n, "Div") && n->inputs[0] == d && n->inputs[1] != d) di = cons[k];
            else if (nc == 2 && ei_opt_is(n, "Pow") && n->inputs[0] == d && ei_opt_const_scalar(g, n->inputs[1], 1, &c) &&
                     c == 2.0f)
                pi = cons[k];
            else if (nc == 3 && ei_opt_is(n, "Mul") && n->inputs[0] == d && n->inputs[1] == d)
                pi = cons[k];
        }
        if (pi < 0 || di < 0) continue;
        int r2 = ei_opt_sole_consumer(g, uses, removed, g->nodes[pi].outputs[0]);
        if (r2 < 0 || !ei_is_mean_last(g, &g->nodes[r2]) || g->nodes[r2].inputs[0] != g->nodes[pi].outputs[0]) continue;
        int ai = ei_opt_sole_consumer(g, uses, removed, g->nodes[r2].outputs[0]);
        if (ai < 0 || !ei_opt_is(&g->nodes[ai], "Add") || g->nodes[ai].n_inputs != 2 || g->nodes[ai].n_outputs != 1)
            continue;
        const ei_node *an = &g->nodes[ai];
        int epsv = an->inputs[0] == g->nodes[r2].outputs[0] ? an->inputs[1] : an->inputs[0];
        float eps = 0.0f;
        if (!ei_opt_const_scalar(g, epsv, 1, &eps) || !(eps >= 0.0f)) continue;
        int qi = ei_next(g, uses, removed, an->outputs[0], "Sqrt", 0);
        if (qi < 0 || g->nodes[qi].n_inputs != 1 || g->nodes[di].inputs[1] != g->nodes[qi].outputs[0] ||
            uses[g->nodes[qi].outputs[0]] != 1)
            continue;
        int nrm = g->nodes[di].outputs[0];
        int mi = ei_opt_sole_consumer(g, uses, removed, nrm);
        if (mi < 0 || !ei_opt_is(&g->nodes[mi], "Mul") || g->nodes[mi].n_inputs != 2 || g->nodes[mi].n_outputs != 1)
            continue;
        int gamma = g->nodes[mi].inputs[0] == nrm ? g->nodes[mi].inputs[1] : g->nodes[mi].inputs[0];
        size_t ng = 0, nb = 0;
        if (gamma == nrm || !ei_opt_const_f32(g, gamma, &ng) || g->values[gamma]->rank != 1) continue;
        int last = mi, out = g->nodes[mi].outputs[0], beta = -1;
        int bi = ei_opt_sole_consumer(g, uses, removed, out);
        if (bi >= 0 && ei_opt_is(&g->nodes[bi], "Add") && g->nodes[bi].n_inputs == 2 && g->nodes[bi].n_outputs == 1) {
            int o = g->nodes[bi].inputs[0] == out ? g->nodes[bi].inputs[1] : g->nodes[bi].inputs[0];
            if (o != out && ei_opt_const_f32(g, o, &nb) && g->values[o]->rank == 1 && nb == ng) {
                beta = o;
                last = bi;
                out = g->nodes[bi].outputs[0];
            }
        }
        /* gamma must cover the last axis exactly (a [1] gamma, or a last dim of 1 that the
         * Mul would broadcast up, are not LayerNorm's shapes). */
        if (!have_shapes) {
            EI_TRY(ei_opt_infer_shapes(ex, &shapes));
            have_shapes = true;
        }
        int xr = 0;
        const int64_t *xd = NULL;
        if (ei_opt_shape_of(&shapes, g, x, &xr, &xd) ? (xr < 1 || xd[xr - 1] != (int64_t)ng) : ng < 2) continue;
        int ins[3] = {x, gamma, beta};
        ei_opt_attr attrs[2] = {{.name = "axis", .type = EI_ATTR_TYPE_INT, .i = -1},
                                {.name = "epsilon", .type = EI_ATTR_TYPE_FLOAT, .f = eps}};
        ei_opt_node spec = {.name = r1->name, .domain = "", .op_type = "LayerNormalization", .opset = 17,
                            .inputs = ins, .n_inputs = beta >= 0 ? 3 : 2, .output = out, .attrs = attrs, .n_attrs = 2};
        bool done = false;
        EI_TRY(ei_opt_replace_node(ex, last, &spec, &done));
        if (!done) continue;
        int drop[9] = {i, si, pi, r2, ai, qi, di, mi, bi};
        for (int k = 0; k < (beta >= 0 ? 9 : 8); k++) {
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
