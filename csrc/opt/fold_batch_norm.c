/*
 * fold_batch_norm.c - Conv -> BatchNormalization (inference) becomes one Conv whose
 * weights and bias absorb the per-channel scale and shift: W'[m] = W[m] * s[m],
 * B'[m] = (B[m] - mean[m]) * s[m] + beta[m], s = gamma / sqrt(var + eps). Needs constant
 * W, B and statistics, and the Conv output read by the BN alone. W' and B' go into
 * values the rewrite frees (W or the Conv output; B or a BN parameter read only here),
 * so a weight another node also reads keeps its data. Training-mode BN never gets here
 * (its prepare refuses it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "opt/opt.h"

static ei_status ei_fold_one(ei_exec *ex, const int *uses, int ci, int bi, bool *done) {
    ei_graph *g = ex->graph;
    const ei_node *conv = &g->nodes[ci], *bn = &g->nodes[bi];
    float *w2 = NULL, *b2 = NULL;
    size_t wn = 0, n = 0;
    *done = false;
    if (conv->n_inputs < 2 || conv->n_inputs > 3 || conv->inputs[0] < 0) return EI_STATUS_OK;
    const float *w = ei_opt_const_f32(g, conv->inputs[1], &wn);
    const ei_value *wv = w ? g->values[conv->inputs[1]] : NULL;
    if (!w || wv->rank < 3 || wv->dims[0] <= 0) return EI_STATUS_OK;
    size_t m = (size_t)wv->dims[0], per = wn / m;
    const float *b = NULL;
    if (conv->n_inputs == 3 && conv->inputs[2] >= 0) {
        b = ei_opt_const_f32(g, conv->inputs[2], &n);
        if (!b || n != m || g->values[conv->inputs[2]]->rank != 1) return EI_STATUS_OK;
    }
    const float *p[4];
    for (int k = 0; k < 4; k++) {
        p[k] = ei_opt_const_f32(g, bn->inputs[k + 1], &n);
        if (!p[k] || n != m || g->values[bn->inputs[k + 1]]->rank != 1) return EI_STATUS_OK;
    }
    float eps = 1e-5f;
    if (ei_node_attr_float(bn, "epsilon", 1e-5f, &eps) != EI_STATUS_OK) return EI_STATUS_OK;

    /* Where W' and B' go: values nothing else reads once the two nodes are one. */
    int wi = uses[conv->inputs[1]] == 1 ? conv->inputs[1] : conv->outputs[0];
    int bj = -1;
    if (conv->n_inputs == 3 && conv->inputs[2] >= 0 && uses[conv->inputs[2]] == 1) bj = conv->inputs[2];
    for (int k = 1; k < 5 && bj < 0; k++) {
        int v = bn->inputs[k];
        bool once = uses[v] == 1;
        for (int q = 1; q < 5; q++)
            if (q != k && bn->inputs[q] == v) once = false;
        if (once) bj = v;
    }
    if (bj < 0 && wi != conv->outputs[0]) bj = conv->outputs[0];
    int x = conv->inputs[0], y = bn->outputs[0];
    if (bj < 0 || x == wi || x == bj) return EI_STATUS_OK;

    /* W' overwrites W when this Conv is its only reader and the graph owns its bytes
     * (saves a copy of every folded weight); otherwise it is a new buffer. */
    bool in_place = wi == conv->inputs[1] && (wv->flags & EI_VALUE_FLAG_OWNS_DATA);
    w2 = in_place ? (float *)wv->data : ei_aligned_alloc(wn * sizeof *w2);
    b2 = ei_aligned_alloc(m * sizeof *b2);
    if (!w2 || !b2) {
        if (!in_place) ei_aligned_free(w2);
        ei_aligned_free(b2);
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory folding BatchNormalization '%s'", bn->name);
    }
    /* Same float arithmetic as the BN op's own folding (batch_normalization.c). */
    for (size_t c = 0; c < m; c++) {
        float sc = p[0][c] / sqrtf(p[3][c] + eps);
        for (size_t i = 0; i < per; i++) w2[c * per + i] = w[c * per + i] * sc;
        b2[c] = ((b ? b[c] : 0.0f) - p[2][c]) * sc + p[1][c];
    }
    int64_t bdim = (int64_t)m, wdims[EI_MAX_RANK];
    int wrank = wv->rank;
    memcpy(wdims, wv->dims, sizeof wdims);
    int ins[3] = {x, wi, bj};
    ei_opt_node spec = {.name = conv->name,
                        .domain = "",
                        .op_type = "Conv",
                        .opset = conv->opset,
                        .inputs = ins,
                        .n_inputs = 3,
                        .output = y,
                        .copy_attrs_from = conv};
    /* Weights first (Conv's prepare may pack them), then the node. */
    ei_status st = ei_opt_set_const_f32(g, wi, wrank, wdims, w2);
    if (st == EI_STATUS_OK) st = ei_opt_set_const_f32(g, bj, 1, &bdim, b2);
    else ei_aligned_free(b2);
    EI_CHECK(st);
    EI_CHECK(ei_opt_replace_node(ex, bi, &spec, done));
    if (!*done)
        return ei_error(EI_STATUS_INTERNAL, "node '%s' (Conv): folding BatchNormalization '%s' failed",
                        g->nodes[ci].name, g->nodes[bi].name);
    return EI_STATUS_OK;
}

ei_status ei_pass_fold_batch_norm(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;

    *changed = false;
    if (g->n_nodes == 0) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *c = &g->nodes[i];
        if (removed[i] || !ei_opt_is(c, "Conv") || c->n_outputs != 1 || c->outputs[0] < 0) continue;
        int bi = ei_opt_sole_consumer(g, uses, removed, c->outputs[0]);
        if (bi < 0) continue;
        const ei_node *bn = &g->nodes[bi];
        if (!ei_opt_is(bn, "BatchNormalization") || bn->n_inputs != 5 || bn->inputs[0] != c->outputs[0] ||
            bn->n_outputs < 1 || bn->outputs[0] < 0)
            continue;
        bool extra_out = false;
        for (int k = 1; k < bn->n_outputs; k++)
            if (bn->outputs[k] >= 0) extra_out = true;
        if (extra_out) continue;
        bool done = false;
        EI_TRY(ei_fold_one(ex, uses, i, bi, &done));
        if (done) {
            removed[i] = true;
            n_removed++;
        }
    }
    EI_TRY(ei_opt_finish(g, removed, n_removed, changed));
cleanup:
    free(uses);
    free(removed);
    return st;
}
