/*
 * loop.c - Loop: runs the body subgraph while iter < M and cond holds, threading the
 * loop-carried values through iterations and stacking the scan outputs on a new first
 * axis. Carried values and scan outputs may change size between runs, so they live in
 * buffers the op grows as needed (control flow is the one place run may allocate).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/executor.h"
#include "ops/elem_util.h"

/* Limits on carried values and scan outputs per Loop (per-run bookkeeping is on the stack). */
#define LOOP_MAX_VALUES 64

typedef struct loop_buf {
    void *p;
    size_t cap;
} loop_buf;

typedef struct loop_state {
    ei_executor *body;
    const ei_graph *g;
    int n_carried, n_scan;
    loop_buf *carried[2]; /* double-buffered: iteration i reads one and writes the other */
    loop_buf *scan;
    int64_t iter;
    uint8_t cond;
} loop_state;

static void loop_destroy(void *p) {
    loop_state *s = p;
    if (!s) return;
    ei_executor_free(s->body);
    for (int b = 0; b < 2; b++) {
        if (!s->carried[b]) continue;
        for (int j = 0; j < s->n_carried; j++) ei_aligned_free(s->carried[b][j].p);
        free(s->carried[b]);
    }
    if (s->scan)
        for (int k = 0; k < s->n_scan; k++) ei_aligned_free(s->scan[k].p);
    free(s->scan);
    free(s);
}

static ei_status loop_reserve(const ei_node *node, loop_buf *b, size_t bytes) {
    if (bytes <= b->cap && b->p) return EI_STATUS_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < bytes) {
        if (!ei_size_mul(cap, 2, &cap))
            return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "loop buffer of %zu bytes is too large", bytes);
    }
    void *p = ei_aligned_alloc(cap);
    if (!p) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory: %zu bytes for a loop buffer", cap);
    if (b->p && b->cap) memcpy(p, b->p, b->cap);
    ei_aligned_free(b->p);
    b->p = p;
    b->cap = cap;
    return EI_STATUS_OK;
}

static ei_status loop_prepare(ei_exec *ex, ei_node *node) {
    ei_status st = EI_STATUS_OK;
    loop_state *s = NULL;
    const ei_attr *a = ei_node_attr(node, "body");

    if (!a || a->type != EI_ATTR_TYPE_GRAPH || !a->g)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'body' (a graph) is missing");
    if (node->n_inputs < 2)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "expected at least 2 inputs (M, cond), got %d",
                             node->n_inputs);
    const ei_graph *g = a->g;
    int n_carried = node->n_inputs - 2;
    int n_scan = node->n_outputs - n_carried;
    if (n_scan < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "%d loop-carried inputs but only %d outputs",
                             n_carried, node->n_outputs);
    if (g->n_inputs != 2 + n_carried)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "body takes %d inputs, expected %d (iteration, condition, %d carried)", g->n_inputs,
                             2 + n_carried, n_carried);
    if (g->n_outputs != 1 + n_carried + n_scan)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "body has %d outputs, expected %d (condition, %d carried, %d scan)", g->n_outputs,
                             1 + n_carried + n_scan, n_carried, n_scan);
    for (int j = 0; j < n_carried; j++)
        if (node->inputs[2 + j] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "loop-carried input %d is missing", j);

    s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->g = g;
    s->n_carried = n_carried;
    s->n_scan = n_scan;
    s->carried[0] = calloc((size_t)n_carried + 1, sizeof(loop_buf));
    s->carried[1] = calloc((size_t)n_carried + 1, sizeof(loop_buf));
    s->scan = calloc((size_t)n_scan + 1, sizeof(loop_buf));
    if (!s->carried[0] || !s->carried[1] || !s->scan) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    ei_executor_config cfg = {.pool = ex->pool,
                              .num_threads = ex->num_threads,
                              .optimization_level = 1,
                              .outputs_external = false,
                              .parent = ex->graph};
    st = ei_executor_create(a->g, &cfg, &s->body);
    if (st != EI_STATUS_OK) {
        ei_error_prefix("node '%s' (Loop): body", node->name);
        goto cleanup;
    }
    node->state = s;
    return EI_STATUS_OK;
cleanup:
    loop_destroy(s);
    return st;
}

static ei_status loop_infer(ei_exec *ex, ei_node *node) {
    const ei_value *m = ei_node_in(ex, node, 0), *c = ei_node_in(ex, node, 1);
    if (m && (m->dtype != EI_DTYPE_I64 || ei_value_numel(m) != 1))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "trip count '%s' must be one int64, got %s of %zu elements",
                             m->name, ei_dtype_name(m->dtype), ei_value_numel(m));
    if (c && (c->dtype != EI_DTYPE_BOOL || ei_value_numel(c) != 1))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "condition '%s' must be one bool, got %s of %zu elements",
                             c->name, ei_dtype_name(c->dtype), ei_value_numel(c));
    if (!m && !c)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "neither a trip count nor a condition is given: the loop would never end");
    node->dynamic = true;
    return EI_STATUS_OK;
}

/* Points body input i at (dtype, rank, dims, data). */
static ei_status loop_bind_input(const loop_state *s, int i, ei_dtype dtype, int rank, const int64_t *dims,
                                 void *data) {
    ei_value *v = s->g->values[s->g->inputs[i]];
    EI_CHECK(ei_value_set_shape(v, dtype, rank, dims));
    v->data = data;
    return EI_STATUS_OK;
}

static bool same_shape(int ra, const int64_t *a, int rb, const int64_t *b) {
    if (ra != rb) return false;
    for (int d = 0; d < ra; d++)
        if (a[d] != b[d]) return false;
    return true;
}

static ei_status loop_run(ei_exec *ex, ei_node *node) {
    loop_state *s = node->state;
    const ei_graph *g = s->g;
    const ei_value *m = ei_node_in(ex, node, 0), *c = ei_node_in(ex, node, 1);
    int64_t max_iter = INT64_MAX;
    bool cond = true;
    int64_t iters = 0;
    /* Shape of each scan output's slice, fixed by the first iteration. */
    int scan_rank[LOOP_MAX_VALUES] = {0};
    int64_t scan_dims[LOOP_MAX_VALUES][EI_MAX_RANK];
    ei_dtype scan_dtype[LOOP_MAX_VALUES];
    size_t scan_bytes[LOOP_MAX_VALUES];
    /* The current carried values: either the node's inputs or one of the buffers. */
    const ei_value *init = NULL;
    int cur = -1; /* -1: the node inputs, else carried[cur] */
    ei_dtype c_dtype[LOOP_MAX_VALUES];
    int c_rank[LOOP_MAX_VALUES];
    int64_t c_dims[LOOP_MAX_VALUES][EI_MAX_RANK];

    if (s->n_scan > LOOP_MAX_VALUES || s->n_carried > LOOP_MAX_VALUES)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "at most %d carried values and %d scan outputs",
                             LOOP_MAX_VALUES, LOOP_MAX_VALUES);
    if (m) memcpy(&max_iter, m->data, sizeof max_iter);
    if (c) cond = ((const uint8_t *)c->data)[0] != 0;
    for (int j = 0; j < s->n_carried; j++) {
        init = ei_node_in(ex, node, 2 + j);
        c_dtype[j] = init->dtype;
        c_rank[j] = init->rank;
        memcpy(c_dims[j], init->dims, sizeof init->dims);
    }

    while (iters < max_iter && cond) {
        s->iter = iters;
        s->cond = 1;
        EI_CHECK(loop_bind_input(s, 0, EI_DTYPE_I64, 0, NULL, &s->iter));
        EI_CHECK(loop_bind_input(s, 1, EI_DTYPE_BOOL, 0, NULL, &s->cond));
        for (int j = 0; j < s->n_carried; j++) {
            void *data = cur < 0 ? ei_node_in(ex, node, 2 + j)->data : s->carried[cur][j].p;
            EI_CHECK(loop_bind_input(s, 2 + j, c_dtype[j], c_rank[j], c_dims[j], data));
        }
        ei_status st = ei_executor_run(s->body);
        if (st != EI_STATUS_OK) {
            ei_error_prefix("node '%s' (Loop): iteration %lld", node->name, (long long)iters);
            return st;
        }
        const ei_value *co = g->values[g->outputs[0]];
        if (co->dtype != EI_DTYPE_BOOL || ei_value_numel(co) != 1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "body condition output '%s' must be one bool",
                                 co->name);
        cond = ((const uint8_t *)co->data)[0] != 0;
        int next = cur < 0 ? 0 : 1 - cur;
        for (int j = 0; j < s->n_carried; j++) {
            const ei_value *o = g->values[g->outputs[1 + j]];
            EI_CHECK(loop_reserve(node, &s->carried[next][j], o->nbytes));
            if (o->nbytes) memcpy(s->carried[next][j].p, o->data, o->nbytes);
            c_dtype[j] = o->dtype;
            c_rank[j] = o->rank;
            memcpy(c_dims[j], o->dims, sizeof o->dims);
        }
        cur = next;
        for (int k = 0; k < s->n_scan; k++) {
            const ei_value *o = g->values[g->outputs[1 + s->n_carried + k]];
            if (iters == 0) {
                if (o->rank + 1 > EI_MAX_RANK)
                    return ei_node_error(node, EI_STATUS_UNSUPPORTED, "scan output '%s' would exceed rank %d",
                                         o->name, EI_MAX_RANK);
                scan_rank[k] = o->rank;
                memcpy(scan_dims[k], o->dims, sizeof o->dims);
                scan_dtype[k] = o->dtype;
                scan_bytes[k] = o->nbytes;
            } else if (!same_shape(o->rank, o->dims, scan_rank[k], scan_dims[k]) || o->dtype != scan_dtype[k]) {
                char a[160], b[160];
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "scan output '%s' has shape %s at iteration %lld but %s before", o->name,
                                     ei_shape_str(o->rank, o->dims, a, sizeof a), (long long)iters,
                                     ei_shape_str(scan_rank[k], scan_dims[k], b, sizeof b));
            }
            size_t off, end;
            if (!ei_size_mul((size_t)iters, scan_bytes[k], &off) || !ei_size_add(off, scan_bytes[k], &end))
                return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "scan output '%s' grows too large", o->name);
            EI_CHECK(loop_reserve(node, &s->scan[k], end));
            if (scan_bytes[k]) memcpy((char *)s->scan[k].p + off, o->data, scan_bytes[k]);
        }
        iters++;
    }

    for (int j = 0; j < s->n_carried; j++) {
        if (node->n_outputs <= j || node->outputs[j] < 0) continue;
        EI_CHECK(ei_node_alloc_output(ex, node, j, c_dtype[j], c_rank[j], c_dims[j]));
        ei_value *y = ei_node_out(ex, node, j);
        const void *src = cur < 0 ? ei_node_in(ex, node, 2 + j)->data : s->carried[cur][j].p;
        if (y->nbytes) memcpy(y->data, src, y->nbytes);
    }
    for (int k = 0; k < s->n_scan; k++) {
        int o = s->n_carried + k;
        if (node->outputs[o] < 0) continue;
        int64_t dims[EI_MAX_RANK];
        int rank;
        ei_dtype dtype;
        if (iters > 0) {
            rank = scan_rank[k] + 1;
            dims[0] = iters;
            memcpy(dims + 1, scan_dims[k], (size_t)scan_rank[k] * sizeof dims[0]);
            dtype = scan_dtype[k];
        } else {
            /* No iteration: the declared slice shape (unknown dims as 0) after a 0. */
            const ei_value *bo = g->values[g->outputs[1 + s->n_carried + k]];
            rank = bo->decl_rank >= 0 && bo->decl_rank < EI_MAX_RANK ? bo->decl_rank + 1 : 1;
            dims[0] = 0;
            for (int d = 1; d < rank; d++) dims[d] = bo->decl_dims[d - 1] >= 0 ? bo->decl_dims[d - 1] : 0;
            dtype = bo->decl_dtype != EI_DTYPE_UNDEFINED ? bo->decl_dtype : EI_DTYPE_F32;
        }
        EI_CHECK(ei_node_alloc_output(ex, node, o, dtype, rank, dims));
        ei_value *y = ei_node_out(ex, node, o);
        if (y->nbytes) memcpy(y->data, s->scan[k].p, y->nbytes);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_loop = {loop_prepare, loop_infer, loop_run, loop_destroy,
                                  .dtypes = "any"};
