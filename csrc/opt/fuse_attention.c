/*
 * fuse_attention.c - the scaled dot-product attention that BERT-style exporters spell out,
 *   Q = Transpose(Reshape(q, [B,S,H,D]), [0,2,1,3])      K^T = Transpose(Reshape(k), [0,2,3,1])
 *   P = Softmax(MatMul(Q, K^T) [/ c | * c] [+ mask], -1)  V = Transpose(Reshape(v), [0,2,1,3])
 *   y = Reshape(Transpose(MatMul(P, V), [0,2,1,3]), [B,S,H*D])
 * becomes one com.edgeinfer FusedAttention (ops/attention.c) reading q, k, v in their
 * [B,S,H*D] layout, so neither the [B,H,S,T] scores nor the transposed copies exist. Only
 * with every shape known and static, a float32 additive mask whose last dim is T that
 * broadcasts to [B,H,S,T] without widening the scores, and every intermediate read only
 * by the pattern; anything else keeps the unfused graph. The now unread Reshape/Transpose
 * nodes of q, k and v are left to eliminate_dead.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/fused_act.h"
#include "opt/opt.h"

/* The node producing v if it is the ONNX op `op` with one output (or -1). */
static int ei_att_producer(const ei_graph *g, const bool *removed, int v, const char *op) {
    if (v < 0) return -1;
    int p = g->values[v]->producer;
    if (p < 0 || removed[p]) return -1;
    const ei_node *n = &g->nodes[p];
    if (!ei_opt_is(n, op) || n->n_outputs != 1 || n->outputs[0] != v || n->n_inputs < 1) return -1;
    return p;
}

static bool ei_att_perm_is(const ei_node *t, int64_t a, int64_t b, int64_t c, int64_t d) {
    const int64_t *p = NULL;
    size_t n = 0;
    if (ei_node_attr_ints(t, "perm", &p, &n) != EI_STATUS_OK || n != 4) return false;
    return p[0] == a && p[1] == b && p[2] == c && p[3] == d;
}

/* Shape of v into dims when known with the given rank. */
static bool ei_att_shape(const ei_opt_shapes *s, const ei_graph *g, int v, int rank,
                         int64_t *dims) {
    int r = 0;
    const int64_t *d = NULL;
    if (!ei_opt_shape_of(s, g, v, &r, &d) || r != rank) return false;
    memcpy(dims, d, (size_t)rank * sizeof *dims);
    return true;
}

/* t4 = Transpose(perm)(Reshape(x3, [B,S,H,D])) with x3 of shape [B,S,H*D]: returns x3 or
 * -1. dims4 is the Reshape's output shape. */
static int ei_att_heads_of(const ei_graph *g, const bool *removed, const ei_opt_shapes *s, int t4,
                           const int64_t perm[4], int64_t *dims4) {
    int ti = ei_att_producer(g, removed, t4, "Transpose");
    if (ti < 0 || !ei_att_perm_is(&g->nodes[ti], perm[0], perm[1], perm[2], perm[3])) return -1;
    int r4 = g->nodes[ti].inputs[0];
    int ri = ei_att_producer(g, removed, r4, "Reshape");
    if (ri < 0) return -1;
    int x3 = g->nodes[ri].inputs[0];
    int64_t d3[3];
    if (x3 < 0 || !ei_att_shape(s, g, r4, 4, dims4) || !ei_att_shape(s, g, x3, 3, d3)) return -1;
    if (g->values[x3]->flags & EI_VALUE_FLAG_CONST) return -1;
    if (d3[0] != dims4[0] || d3[1] != dims4[1] || d3[2] != dims4[2] * dims4[3]) return -1;
    return x3;
}

/* The sole consumer of v if it is the ONNX op `op` reading v as input `at` only. */
static int ei_att_next(const ei_graph *g, const int *uses, const bool *removed, int v,
                       const char *op, int at) {
    int c = ei_opt_sole_consumer(g, uses, removed, v);
    if (c < 0) return -1;
    const ei_node *n = &g->nodes[c];
    if (!ei_opt_is(n, op) || n->n_outputs != 1 || n->outputs[0] < 0 || at >= n->n_inputs ||
        n->inputs[at] != v)
        return -1;
    return c;
}

/* Whether the mask of shape (rank, md) broadcasts to [B,H,S,T] with its last dim T. */
static bool ei_att_mask_ok(int rank, const int64_t *md, const int64_t bhst[4]) {
    if (rank < 1 || rank > 4 || md[rank - 1] != bhst[3]) return false;
    for (int i = 0; i < rank - 1; i++) {
        int64_t want = bhst[4 - rank + i];
        if (md[i] != 1 && md[i] != want) return false;
    }
    return true;
}

/* Tries the pattern around Softmax node si; on success marks the replaced nodes. */
static ei_status ei_att_try(ei_exec *ex, const int *uses, bool *removed, int *n_removed,
                            const ei_opt_shapes *s, int si) {
    ei_graph *g = ex->graph;
    const ei_node *sm = &g->nodes[si];
    if (!ei_opt_is(sm, "Softmax") || sm->n_inputs != 1 || sm->n_outputs != 1 || sm->outputs[0] < 0)
        return EI_STATUS_OK;
    int64_t axis = sm->opset >= 13 ? -1 : 1;
    if (ei_node_attr_int(sm, "axis", axis, &axis) != EI_STATUS_OK || (axis != -1 && axis != 3))
        return EI_STATUS_OK;
    int64_t bhst[4];
    int x = sm->inputs[0];
    if (!ei_att_shape(s, g, x, 4, bhst) || ei_opt_sole_consumer(g, uses, removed, x) != si)
        return EI_STATUS_OK;

    /* Backwards: [Add(mask)] <- [Div | Mul by a constant scalar] <- MatMul(Q, K^T). */
    int nodes[8], nn = 0, mask = -1;
    int ai = ei_att_producer(g, removed, x, "Add");
    if (ai >= 0 && g->nodes[ai].n_inputs == 2) {
        const ei_node *a = &g->nodes[ai];
        int a0 = a->inputs[0], a1 = a->inputs[1];
        int64_t d0[4], d1[4];
        /* The scores side is the one of shape [B,H,S,T] made by a MatMul/Div/Mul. */
        int side = -1;
        for (int k = 0; k < 2 && side < 0; k++) {
            int v = k ? a1 : a0;
            int p = v >= 0 ? g->values[v]->producer : -1;
            if (p >= 0 && ei_att_shape(s, g, v, 4, k ? d1 : d0) &&
                memcmp(k ? d1 : d0, bhst, sizeof bhst) == 0 &&
                (ei_opt_is(&g->nodes[p], "MatMul") || ei_opt_is(&g->nodes[p], "Div") ||
                 ei_opt_is(&g->nodes[p], "Mul")))
                side = k;
        }
        if (side < 0) return EI_STATUS_OK;
        int sc = side ? a1 : a0, mk = side ? a0 : a1;
        int mr = 0;
        const int64_t *md = NULL;
        if (mk < 0 || mk == sc || !ei_opt_shape_of(s, g, mk, &mr, &md) ||
            !ei_att_mask_ok(mr, md, bhst) || ei_opt_sole_consumer(g, uses, removed, sc) != ai)
            return EI_STATUS_OK;
        bool mk_const = (g->values[mk]->flags & EI_VALUE_FLAG_CONST) != 0;
        if (mk_const ? (!g->values[mk]->data || g->values[mk]->dtype != EI_DTYPE_F32)
                     : s->v[mk].dtype != EI_DTYPE_F32)
            return EI_STATUS_OK;
        mask = mk;
        nodes[nn++] = ai;
        x = sc;
    }
    float scale = 1.0f;
    int di = ei_att_producer(g, removed, x, "Div");
    int mi = di < 0 ? ei_att_producer(g, removed, x, "Mul") : -1;
    if (di >= 0 || mi >= 0) {
        const ei_node *d = &g->nodes[di >= 0 ? di : mi];
        float c = 0.0f;
        if (d->n_inputs != 2) return EI_STATUS_OK;
        int y = d->inputs[0];
        if (!ei_opt_const_scalar(g, d->inputs[1], 4, &c)) {
            if (mi < 0 || !ei_opt_const_scalar(g, d->inputs[0], 4, &c)) return EI_STATUS_OK;
            y = d->inputs[1]; /* c * scores */
        }
        if (di >= 0 && c == 0.0f) return EI_STATUS_OK;
        if (y < 0 || ei_opt_sole_consumer(g, uses, removed, y) != (di >= 0 ? di : mi))
            return EI_STATUS_OK;
        scale = di >= 0 ? 1.0f / c : c;
        nodes[nn++] = di >= 0 ? di : mi;
        x = y;
    }
    int m1 = ei_att_producer(g, removed, x, "MatMul");
    if (m1 < 0 || g->nodes[m1].n_inputs != 2) return EI_STATUS_OK;
    nodes[nn++] = m1;
    int64_t qd[4], kd[4], vd[4];
    static const int64_t p0213[4] = {0, 2, 1, 3}, p0231[4] = {0, 2, 3, 1};
    int q = ei_att_heads_of(g, removed, s, g->nodes[m1].inputs[0], p0213, qd);
    int k = ei_att_heads_of(g, removed, s, g->nodes[m1].inputs[1], p0231, kd);
    if (q < 0 || k < 0) return EI_STATUS_OK;
    /* qd = [B,S,H,D], kd = [B,T,H,D]; the scores [B,H,S,T]. */
    if (qd[0] != bhst[0] || qd[2] != bhst[1] || qd[1] != bhst[2] || kd[0] != bhst[0] ||
        kd[2] != bhst[1] || kd[1] != bhst[3] || kd[3] != qd[3])
        return EI_STATUS_OK;

    /* Forwards: MatMul(P, V) -> Transpose [0,2,1,3] -> Reshape [B,S,H*Dv]. */
    int p = sm->outputs[0];
    int m2 = ei_att_next(g, uses, removed, p, "MatMul", 0);
    if (m2 < 0 || g->nodes[m2].n_inputs != 2) return EI_STATUS_OK;
    int v = ei_att_heads_of(g, removed, s, g->nodes[m2].inputs[1], p0213, vd);
    if (v < 0 || vd[0] != bhst[0] || vd[1] != bhst[3] || vd[2] != bhst[1]) return EI_STATUS_OK;
    int to = ei_att_next(g, uses, removed, g->nodes[m2].outputs[0], "Transpose", 0);
    if (to < 0 || !ei_att_perm_is(&g->nodes[to], 0, 2, 1, 3)) return EI_STATUS_OK;
    int ro = ei_att_next(g, uses, removed, g->nodes[to].outputs[0], "Reshape", 0);
    int64_t yd[3];
    if (ro < 0 || !ei_att_shape(s, g, g->nodes[ro].outputs[0], 3, yd) || yd[0] != bhst[0] ||
        yd[1] != bhst[2] || yd[2] != bhst[1] * vd[3])
        return EI_STATUS_OK;
    /* The intermediates must be read by the pattern alone. */
    int m1_out = g->nodes[m1].outputs[0];
    if (nn > 1 && ei_opt_sole_consumer(g, uses, removed, m1_out) < 0) return EI_STATUS_OK;

    int ins[4] = {q, k, v, mask};
    ei_opt_attr attrs[3] = {{.name = "q_num_heads", .type = EI_ATTR_TYPE_INT, .i = bhst[1]},
                            {.name = "kv_num_heads", .type = EI_ATTR_TYPE_INT, .i = bhst[1]},
                            {.name = "scale", .type = EI_ATTR_TYPE_FLOAT, .f = scale}};
    ei_opt_node spec = {.name = g->nodes[m2].name,
                        .domain = EI_DOMAIN_EDGEINFER,
                        .op_type = "FusedAttention",
                        .opset = 1,
                        .inputs = ins,
                        .n_inputs = mask >= 0 ? 4 : 3,
                        .output = g->nodes[ro].outputs[0],
                        .attrs = attrs,
                        .n_attrs = 3};
    bool done = false;
    EI_CHECK(ei_opt_replace_node(ex, ro, &spec, &done));
    if (!done) return EI_STATUS_OK;
    nodes[nn++] = si;
    nodes[nn++] = m2;
    nodes[nn++] = to;
    for (int j = 0; j < nn; j++) {
        if (removed[nodes[j]]) continue;
        removed[nodes[j]] = true;
        (*n_removed)++;
    }
    return EI_STATUS_OK;
}

ei_status ei_pass_fuse_attention(ei_exec *ex, bool *changed) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = ex->graph;
    int *uses = NULL;
    bool *removed = NULL;
    int n_removed = 0;
    ei_opt_shapes shapes;

    memset(&shapes, 0, sizeof shapes);
    *changed = false;
    if (g->n_nodes == 0 || !ei_op_find(EI_DOMAIN_EDGEINFER, "FusedAttention", 1))
        return EI_STATUS_OK;
    bool any = false;
    for (int i = 0; i < g->n_nodes && !any; i++)
        any = ei_opt_is(&g->nodes[i], "Softmax");
    if (!any) return EI_STATUS_OK;
    removed = calloc((size_t)g->n_nodes, sizeof *removed);
    if (!removed) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory optimizing the graph");
    EI_TRY(ei_opt_count_uses(g, &uses));
    EI_TRY(ei_opt_infer_shapes(ex, &shapes));
    for (int i = 0; i < g->n_nodes; i++)
        if (!removed[i] && ei_opt_is(&g->nodes[i], "Softmax"))
            EI_TRY(ei_att_try(ex, uses, removed, &n_removed, &shapes, i));
    EI_TRY(ei_opt_finish(g, removed, n_removed, changed));
cleanup:
    ei_opt_shapes_free(&shapes);
    free(uses);
    free(removed);
    return st;
}
