/*
 * fuse_matmul.c - MatMul [-> Add(bias)] [-> activation] becomes com.edgeinfer FusedMatMul
 * (Y = act(A @ B + bias)), and Gemm -> activation becomes com.edgeinfer FusedGemm. The
 * bias is taken only when it is a float32 constant of shape [N] and B's rank (>= 2) and
 * last dim N are known, so the Add neither broadcasts the output up nor changes it.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"
#include "ops/fused_act.h"

static ei_status ei_fuse_tail(ei_exec *ex, bool *removed, int *n_removed, int first, int mid,
                              const ei_opt_act *act, bool has_act, ei_opt_node *spec) {
    int last = mid > first ? mid : first;
    if (has_act)
        for (int k = 0; k < act->n_nodes; k++)
            if (act->nodes[k] > last) last = act->nodes[k];
    bool done = false;
    EI_CHECK(ei_opt_replace_node(ex, last, spec, &done));
    if (!done) return EI_STATUS_OK;
    int drop[EI_OPT_ACT_MAX_NODES + 2], nd = 0;
    drop[nd++] = first;
    if (mid >= 0) drop[nd++] = mid;
    for (int k = 0; has_act && k < act->n_nodes; k++) drop[nd++] = act->nodes[k];
    for (int k = 0; k < nd; k++) {
        if (drop[k] == last || removed[drop[k]]) continue;
        removed[drop[k]] = true;
        (*n_removed)++;
    }
    return EI_STATUS_OK;
}

ei_status ei_pass_fuse_matmul(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;
    ei_opt_shapes shapes;

    memset(&shapes, 0, sizeof shapes);
    *changed = false;
    if (g->n_nodes == 0) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    bool have_shapes = false;
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *m = &g->nodes[i];
        if (removed[i] || m->n_outputs != 1 || m->outputs[0] < 0) continue;
        bool is_mm = ei_opt_is(m, "MatMul") && m->n_inputs == 2;
        bool is_gemm = ei_opt_is(m, "Gemm") && m->n_inputs >= 2 && m->n_inputs <= 3;
        if (!is_mm && !is_gemm) continue;
        int y = m->outputs[0], cur = y, bias = -1, add = -1;
        bool y_rank_ge1 = is_gemm;
        if (is_mm) {
            if (!have_shapes) {
                EI_TRY(ei_opt_infer_shapes(ex, &shapes));
                have_shapes = true;
            }
            int br = 0;
            const int64_t *bd = NULL;
            if (ei_opt_shape_of(&shapes, g, m->inputs[1], &br, &bd) && br >= 2) {
                y_rank_ge1 = true;
                int ai = ei_opt_sole_consumer(g, uses, removed, y);
                const ei_node *a = ai >= 0 ? &g->nodes[ai] : NULL;
                if (a && ei_opt_is(a, "Add") && a->n_inputs == 2 && a->n_outputs == 1 && a->outputs[0] >= 0) {
                    int o = a->inputs[0] == y ? a->inputs[1] : a->inputs[0];
                    size_t n = 0;
                    if (o != y && ei_opt_const_f32(g, o, &n) && g->values[o]->rank == 1 &&
                        (int64_t)n == bd[br - 1]) {
                        bias = o;
                        add = ai;
                        cur = a->outputs[0];
                    }
                }
            }
        }
        ei_opt_act act;
        memset(&act, 0, sizeof act);
        bool has_act = ei_opt_match_act(g, uses, removed, cur, y_rank_ge1, &act);
        if (!has_act && bias < 0) continue;
        ei_opt_attr attrs[2] = {{.name = "activation", .type = EI_ATTR_TYPE_STRING, .s = has_act ? act.name : ""},
                                {.name = "activation_params", .type = EI_ATTR_TYPE_FLOATS,
                                 .floats = act.params, .n = has_act ? (size_t)act.n_params : 0}};
        int n_attrs = has_act ? (act.n_params ? 2 : 1) : 0;
        int ins[3] = {m->inputs[0], m->inputs[1], is_mm ? bias : (m->n_inputs > 2 ? m->inputs[2] : -1)};
        ei_opt_node spec = {.name = m->name,
                            .domain = EI_DOMAIN_EDGEINFER,
                            .op_type = is_mm ? "FusedMatMul" : "FusedGemm",
                            .opset = 1,
                            .inputs = ins,
                            .n_inputs = is_mm ? (bias >= 0 ? 3 : 2) : m->n_inputs,
                            .output = has_act ? act.output : cur,
                            .copy_attrs_from = is_gemm ? m : NULL,
                            .attrs = attrs,
                            .n_attrs = n_attrs};
        EI_TRY(ei_fuse_tail(ex, removed, &n_removed, i, add, &act, has_act, &spec));
    }
    EI_TRY(ei_opt_finish(g, removed, n_removed, changed));
cleanup:
    ei_opt_shapes_free(&shapes);
    free(uses);
    free(removed);
    return st;
}
