/*
 * fuse_pad.c - a zero constant-mode Pad of the spatial dims followed by a Conv becomes
 * the Conv's own padding (pads added to the Conv's pads), as exporters from TensorFlow and
 * Keras emit explicit Pads before stride-2 convolutions. Needs constant pads (attribute
 * before opset 11, an int64 input after; no 'axes' input), no padding of N or C, no
 * negative pads, a zero pad value, a Conv without auto_pad, and the Pad output read by
 * that Conv alone.
 */
#include <stdlib.h>
#include <string.h>

#include "opt/opt.h"

/* The Pad's pads (2 * rank values) when the Pad qualifies; false otherwise. */
static bool ei_pad_zero_pads(const ei_graph *g, const ei_node *pad, int64_t *pads, int *rank) {
    const char *mode = "constant";
    if (ei_node_attr_string(pad, "mode", "constant", &mode) != EI_STATUS_OK ||
        strcmp(mode, "constant") != 0)
        return false;
    const int64_t *p = NULL;
    size_t n = 0;
    if (pad->opset < 11) {
        float value = 0.0f;
        if (ei_node_attr_float(pad, "value", 0.0f, &value) != EI_STATUS_OK || value != 0.0f)
            return false;
        if (ei_node_attr_ints(pad, "pads", &p, &n) != EI_STATUS_OK) return false;
    } else {
        if (pad->n_inputs < 2 || pad->inputs[1] < 0) return false;
        if (pad->n_inputs > 3 && pad->inputs[3] >= 0) return false; /* axes */
        const ei_value *pv = g->values[pad->inputs[1]];
        if (!(pv->flags & EI_VALUE_FLAG_CONST) || !pv->data || pv->dtype != EI_DTYPE_I64 ||
            pv->rank != 1)
            return false;
        p = pv->data;
        n = (size_t)pv->dims[0];
        if (pad->n_inputs > 2 && pad->inputs[2] >= 0) {
            float value = 1.0f;
            if (!ei_opt_const_scalar(g, pad->inputs[2], 1, &value) || value != 0.0f) return false;
        }
    }
    if (n < 6 || n % 2 || n > 2 * EI_MAX_RANK) return false;
    int r = (int)(n / 2);
    for (int d = 0; d < r; d++) {
        if (p[d] < 0 || p[r + d] < 0) return false;
        if (d < 2 && (p[d] != 0 || p[r + d] != 0)) return false;
    }
    memcpy(pads, p, n * sizeof *pads);
    *rank = r;
    return true;
}

static ei_status ei_fuse_pad_one(ei_exec *ex, int pi, int ci, bool *done) {
    ei_graph *g = ex->graph;
    const ei_node *pad = &g->nodes[pi], *conv = &g->nodes[ci];
    int64_t pp[2 * EI_MAX_RANK], cp[2 * EI_MAX_RANK];
    int r = 0;
    *done = false;
    if (!ei_pad_zero_pads(g, pad, pp, &r)) return EI_STATUS_OK;
    int nsp = r - 2;
    const char *ap = "NOTSET";
    if (ei_node_attr_string(conv, "auto_pad", "NOTSET", &ap) != EI_STATUS_OK ||
        strcmp(ap, "NOTSET") != 0)
        return EI_STATUS_OK;
    const int64_t *c = NULL;
    size_t nc = 0;
    if (ei_node_attr_ints(conv, "pads", &c, &nc) != EI_STATUS_OK) return EI_STATUS_OK;
    if (nc != 0 && nc != 2 * (size_t)nsp) return EI_STATUS_OK;
    for (int d = 0; d < nsp; d++) {
        int64_t b = nc ? c[d] : 0, e = nc ? c[nsp + d] : 0;
        if (__builtin_add_overflow(b, pp[2 + d], &cp[d]) ||
            __builtin_add_overflow(e, pp[r + 2 + d], &cp[nsp + d]))
            return EI_STATUS_OK;
    }
    /* Conv's attributes with the new pads (ints, strings and floats are all Conv has). */
    ei_opt_attr attrs[16];
    int na = 0;
    for (int a = 0; a < conv->n_attrs; a++) {
        const ei_attr *at = &conv->attrs[a];
        if (strcmp(at->name, "pads") == 0) continue;
        if (na >= 15) return EI_STATUS_OK;
        ei_opt_attr o = {.name = at->name, .type = at->type};
        switch (at->type) {
        case EI_ATTR_TYPE_INT: o.i = at->i; break;
        case EI_ATTR_TYPE_FLOAT: o.f = at->f; break;
        case EI_ATTR_TYPE_STRING: o.s = at->s.data; break;
        case EI_ATTR_TYPE_INTS: o.ints = at->ints; o.n = at->n; break;
        case EI_ATTR_TYPE_FLOATS: o.floats = at->floats; o.n = at->n; break;
        default: return EI_STATUS_OK;
        }
        attrs[na++] = o;
    }
    attrs[na++] = (ei_opt_attr){.name = "pads", .type = EI_ATTR_TYPE_INTS, .ints = cp,
                                .n = 2 * (size_t)nsp};
    int ins[3];
    int n_in = conv->n_inputs;
    if (n_in < 2 || n_in > 3) return EI_STATUS_OK;
    for (int k = 0; k < n_in; k++) ins[k] = conv->inputs[k];
    ins[0] = pad->inputs[0];
    ei_opt_node spec = {.name = conv->name,
                        .domain = "",
                        .op_type = "Conv",
                        .opset = conv->opset,
                        .inputs = ins,
                        .n_inputs = n_in,
                        .output = conv->outputs[0],
                        .attrs = attrs,
                        .n_attrs = na};
    return ei_opt_replace_node(ex, ci, &spec, done);
}

ei_status ei_pass_fuse_pad(ei_exec *ex, bool *changed) {
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
        const ei_node *p = &g->nodes[i];
        if (removed[i] || !ei_opt_is(p, "Pad") || p->n_inputs < 1 || p->inputs[0] < 0 ||
            p->n_outputs != 1 || p->outputs[0] < 0)
            continue;
        int ci = ei_opt_sole_consumer(g, uses, removed, p->outputs[0]);
        if (ci < 0 || !ei_opt_is(&g->nodes[ci], "Conv") || g->nodes[ci].inputs[0] != p->outputs[0])
            continue;
        bool done = false;
        EI_TRY(ei_fuse_pad_one(ex, i, ci, &done));
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
