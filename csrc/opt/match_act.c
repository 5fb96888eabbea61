/*
 * match_act.c - recognizes, after a value, the activations the fused-act epilogue
 * (kernels/act.c) computes: single activation nodes and the multi-node forms exporters
 * write (x*Sigmoid(x), the erf GELU). Only matches; the passes do the rewriting.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "opt/opt.h"

static bool ei_near(float v, float want) { return fabsf(v - want) <= 1e-5f * fabsf(want) + 1e-7f; }

/* The other input of binary node n that is not value v (-1 if n does not read v once). */
static int ei_other_input(const ei_node *n, int v) {
    if (n->n_inputs != 2) return -1;
    if (n->inputs[0] == v && n->inputs[1] != v) return n->inputs[1];
    if (n->inputs[1] == v && n->inputs[0] != v) return n->inputs[0];
    return -1;
}

static bool ei_single_output(const ei_node *n) { return n->n_outputs == 1 && n->outputs[0] >= 0; }

/* The sole consumer of v if it is binary op `op` reading v once, with its other input. */
static int ei_next_binary(const ei_graph *g, const int *uses, const bool *removed, int v,
                          const char *op, int *other) {
    int c = ei_opt_sole_consumer(g, uses, removed, v);
    if (c < 0 || !ei_opt_is(&g->nodes[c], op) || !ei_single_output(&g->nodes[c])) return -1;
    *other = ei_other_input(&g->nodes[c], v);
    return *other >= 0 ? c : -1;
}

bool ei_opt_match_gelu_erf(const ei_graph *g, const int *uses, const bool *removed, int x,
                           bool x_rank_ge1, ei_opt_act *out) {
    int rk = x_rank_ge1 ? 1 : 0;
    int cons[3];
    float c = 0.0f;
    if (x < 0 || uses[x] != 2 || ei_opt_consumers(g, removed, x, cons, 3) != 2 || cons[0] == cons[1])
        return false;
    for (int pick = 0; pick < 2; pick++) {
        int di = cons[pick], mi = cons[1 - pick];
        const ei_node *d = &g->nodes[di], *m = &g->nodes[mi];
        if (!ei_single_output(d) || !ei_single_output(m) || !ei_opt_is(m, "Mul")) continue;
        /* x / sqrt(2) or x * (1/sqrt(2)) */
        if (d->n_inputs != 2 || d->inputs[0] != x || !ei_opt_const_scalar(g, d->inputs[1], rk, &c))
            continue;
        if (!((ei_opt_is(d, "Div") && ei_near(c, 1.41421356f)) || (ei_opt_is(d, "Mul") && ei_near(c, 0.70710678f))))
            continue;
        int ei = ei_opt_sole_consumer(g, uses, removed, d->outputs[0]);
        if (ei < 0 || !ei_opt_is(&g->nodes[ei], "Erf") || g->nodes[ei].n_inputs != 1 ||
            !ei_single_output(&g->nodes[ei]))
            continue;
        int one = -1;
        int ai = ei_next_binary(g, uses, removed, g->nodes[ei].outputs[0], "Add", &one);
        if (ai < 0 || !ei_opt_const_scalar(g, one, rk, &c) || c != 1.0f) continue;
        int p = g->nodes[ai].outputs[0], other = -1;
        int p1 = ei_next_binary(g, uses, removed, p, "Mul", &other);
        if (p1 < 0) continue;
        int nodes[5] = {di, ei, ai, p1, -1}, result = -1;
        if (p1 == mi && other == x) {
            /* (x * (1 + erf)) * 0.5 */
            int half = -1;
            int p2 = ei_next_binary(g, uses, removed, g->nodes[p1].outputs[0], "Mul", &half);
            if (p2 < 0 || !ei_opt_const_scalar(g, half, rk, &c) || c != 0.5f) continue;
            nodes[4] = p2;
            result = g->nodes[p2].outputs[0];
        } else if (p1 != mi && other == m->outputs[0] && ei_other_input(m, x) >= 0 &&
                   ei_opt_const_scalar(g, ei_other_input(m, x), rk, &c) && c == 0.5f &&
                   uses[m->outputs[0]] == 1) {
            /* (x * 0.5) * (1 + erf) */
            nodes[4] = mi;
            result = g->nodes[p1].outputs[0];
        } else if (p1 != mi && ei_opt_const_scalar(g, other, rk, &c) && c == 0.5f) {
            /* x * ((1 + erf) * 0.5) */
            if (ei_other_input(m, x) != g->nodes[p1].outputs[0] || uses[g->nodes[p1].outputs[0]] != 1)
                continue;
            nodes[4] = mi;
            result = m->outputs[0];
        } else {
            continue;
        }
        memset(out, 0, sizeof *out);
        out->name = "Gelu";
        memcpy(out->nodes, nodes, sizeof nodes);
        out->n_nodes = 5;
        out->output = result;
        return true;
    }
    return false;
}

static bool ei_match_silu(const ei_graph *g, const int *uses, const bool *removed, int y,
                          ei_opt_act *out) {
    int cons[3];
    if (uses[y] != 2 || ei_opt_consumers(g, removed, y, cons, 3) != 2 || cons[0] == cons[1]) return false;
    for (int pick = 0; pick < 2; pick++) {
        const ei_node *s = &g->nodes[cons[pick]], *m = &g->nodes[cons[1 - pick]];
        if (!ei_opt_is(s, "Sigmoid") || s->n_inputs != 1 || !ei_single_output(s) || !ei_opt_is(m, "Mul") ||
            !ei_single_output(m))
            continue;
        if (ei_other_input(m, y) != s->outputs[0] || uses[s->outputs[0]] != 1) continue;
        memset(out, 0, sizeof *out);
        out->name = "SiLU";
        out->nodes[0] = cons[pick];
        out->nodes[1] = cons[1 - pick];
        out->n_nodes = 2;
        out->output = m->outputs[0];
        return true;
    }
    return false;
}

/* Clip's bounds when they are constants: attributes before opset 11, inputs from 11. */
static bool ei_clip_bounds(const ei_graph *g, const ei_node *n, float *lo, float *hi) {
    *lo = -FLT_MAX;
    *hi = FLT_MAX;
    if (n->opset < 11) {
        if (n->n_inputs != 1) return false;
        if (ei_node_attr_float(n, "min", -FLT_MAX, lo) != EI_STATUS_OK) return false;
        if (ei_node_attr_float(n, "max", FLT_MAX, hi) != EI_STATUS_OK) return false;
    } else {
        if (n->n_inputs > 3) return false;
        if (n->n_inputs > 1 && n->inputs[1] >= 0 && !ei_opt_const_scalar(g, n->inputs[1], 1, lo)) return false;
        if (n->n_inputs > 2 && n->inputs[2] >= 0 && !ei_opt_const_scalar(g, n->inputs[2], 1, hi)) return false;
    }
    return !isnan(*lo) && !isnan(*hi);
}

bool ei_opt_match_act(const ei_graph *g, const int *uses, const bool *removed, int y,
                      bool y_rank_ge1, ei_opt_act *out) {
    if (y < 0) return false;
    if (ei_match_silu(g, uses, removed, y, out)) return true;
    if (ei_opt_match_gelu_erf(g, uses, removed, y, y_rank_ge1, out)) return true;
    int ci = ei_opt_sole_consumer(g, uses, removed, y);
    if (ci < 0) return false;
    const ei_node *c = &g->nodes[ci];
    if (c->domain[0] || !ei_single_output(c) || c->n_inputs < 1 || c->inputs[0] != y) return false;
    for (int k = 1; k < c->n_inputs; k++)
        if (c->inputs[k] == y) return false;
    memset(out, 0, sizeof *out);
    out->nodes[0] = ci;
    out->n_nodes = 1;
    out->output = c->outputs[0];
    const char *t = c->op_type;
    float a = 0.0f, b = 0.0f;
    if (c->n_inputs == 1 && (strcmp(t, "Relu") == 0 || strcmp(t, "Sigmoid") == 0 || strcmp(t, "Tanh") == 0 ||
                             strcmp(t, "HardSwish") == 0)) {
        out->name = strcmp(t, "Relu") == 0 ? "Relu" : strcmp(t, "Sigmoid") == 0 ? "Sigmoid"
                                                  : strcmp(t, "Tanh") == 0      ? "Tanh"
                                                                                : "HardSwish";
        return true;
    }
    if (c->n_inputs == 1 && strcmp(t, "LeakyRelu") == 0) {
        if (ei_node_attr_float(c, "alpha", 0.01f, &a) != EI_STATUS_OK) return false;
        out->name = "LeakyRelu";
        out->params[0] = a;
        out->n_params = 1;
        return true;
    }
    if (c->n_inputs == 1 && strcmp(t, "HardSigmoid") == 0) {
        if (ei_node_attr_float(c, "alpha", 0.2f, &a) != EI_STATUS_OK ||
            ei_node_attr_float(c, "beta", 0.5f, &b) != EI_STATUS_OK)
            return false;
        out->name = "HardSigmoid";
        out->params[0] = a;
        out->params[1] = b;
        out->n_params = 2;
        return true;
    }
    if (c->n_inputs == 1 && strcmp(t, "Gelu") == 0) {
        const char *approx = "none";
        if (ei_node_attr_string(c, "approximate", "none", &approx) != EI_STATUS_OK || strcmp(approx, "none") != 0)
            return false;
        out->name = "Gelu";
        return true;
    }
    if (strcmp(t, "Clip") == 0) {
        if (!ei_clip_bounds(g, c, &a, &b)) return false;
        out->name = "Clip";
        out->params[0] = a;
        out->params[1] = b;
        out->n_params = 2;
        return true;
    }
    return false;
}
