/*
 * executor.c - runs one graph. Planning walks the nodes in order: infer each, compute
 * the ones whose inputs are known (shape arithmetic), and stop at the first dynamic node
 * (output shapes depend on data): that closes a segment, whose buffers are placed in
 * its own arena by the planner. The next segment is inferred and planned during run,
 * once the dynamic node has produced its shapes, and re-planned only when they change.
 * Graphs without dynamic nodes have one segment, planned before run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/executor.h"
#include "core/planner.h"
#include "core/session_internal.h"
#include "opt/opt.h"

#define EI_ARENA_ALIGN 64
/* Shape arithmetic is computed at plan time when a node's inputs are all known and its
 * outputs are at most this large; bigger results are left to run. */
#define EI_FOLD_MAX_BYTES (64 * 1024)

typedef struct ei_known_buf {
    void *p;
    int segment; /* freed when this segment (or an earlier one) is re-planned */
} ei_known_buf;

typedef struct ei_shape_sig {
    ei_dtype dtype;
    int rank;
    int64_t dims[EI_MAX_RANK];
    uint64_t data_hash; /* outer values known at plan time: their data shapes the plan too */
} ei_shape_sig;

/* FNV-1a over a known value's bytes (shape arithmetic results are small). */
static uint64_t ei_hash_bytes(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static bool ei_sig_matches(const ei_shape_sig *a, const ei_shape_sig *b, int n) {
    for (int i = 0; i < n; i++) {
        if (a[i].dtype != b[i].dtype || a[i].rank != b[i].rank || a[i].data_hash != b[i].data_hash)
            return false;
        for (int d = 0; d < a[i].rank; d++)
            if (a[i].dims[d] != b[i].dims[d]) return false;
    }
    return true;
}

static void ei_sig_of(const ei_value *v, bool hash_known, ei_shape_sig *out) {
    memset(out, 0, sizeof *out);
    out->dtype = v->dtype;
    out->rank = v->rank;
    memcpy(out->dims, v->dims, sizeof v->dims);
    if (hash_known && (v->flags & EI_VALUE_FLAG_KNOWN) && v->data)
        out->data_hash = ei_hash_bytes(v->data, v->nbytes) | 1u;
}

struct ei_executor {
    ei_graph *g;
    ei_exec ex;
    bool outputs_external;

    /* Outer-scope references: outer_src[i] is the parent value behind g->values[outer_idx[i]]. */
    int n_outer;
    int *outer_idx;
    const ei_value **outer_src;

    /* Plan. Segment k covers nodes seg_start[k] .. seg_end[k]; all but the last end at a
     * dynamic node. sig[k] records the shapes segment k was planned for. */
    bool planned;
    int n_planned; /* segments planned for the current shapes */
    int *seg_start, *seg_end;
    ei_shape_sig **sig;
    int *n_sig;
    void **arena;
    size_t *arena_cap, *arena_bytes;

    ei_known_buf *known;
    int n_known, cap_known;
    int known_segment; /* tag for allocations made by the plan in progress */

    /* Per value: executor-owned buffers for dynamic outputs and kept graph outputs;
     * caller buffers bound for graph outputs. */
    void **own;
    size_t *own_cap;
    void **ext;
    size_t *ext_bytes;
    /* Per node: scratch of dynamic nodes, sized when they run. */
    void **dyn_scratch;
    size_t *dyn_scratch_cap;

    /* Profiling (see executor.h). Per node, sized at creation: summed ns and run count. */
    bool top; /* the session's graph (no parent) */
    bool profiling; /* top level only: subgraphs follow the profiled run they are part of */
    uint64_t *prof_ns, *prof_count;
    uint64_t prof_runs, prof_run_ns; /* top level: profiled runs and their wall time */
    /* The top level's list of executors with records: itself first, then each subgraph
     * executor in the order it first ran profiled (intrusive: linking allocates nothing). */
    ei_executor *prof_next, *prof_tail;
    ei_executor *prof_root;          /* subgraphs: the list this executor is on (NULL: none yet) */
    const ei_executor *prof_parent;  /* subgraphs: executor and node whose run runs this one */
    int prof_parent_node;

    uint64_t create_prepare_ns, create_optimize_ns;
};

/* The profiled run in progress on this thread: the top-level executor and the node that
 * is running, so that a subgraph executor knows it must record and under which node. */
typedef struct ei_prof_scope {
    ei_executor *root;
    const ei_executor *exec;
    int node;
} ei_prof_scope;
static _Thread_local ei_prof_scope *ei_prof_current;

uint64_t ei_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- helpers */

static bool ei_node_has_subgraph(const ei_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == EI_ATTR_TYPE_GRAPH || n->attrs[a].type == EI_ATTR_TYPE_GRAPHS) return true;
    return false;
}

static ei_status ei_executor_own_buffer(ei_executor *e, int vi, size_t nbytes, void **out) {
    if (nbytes > e->own_cap[vi] || !e->own[vi]) {
        void *p = ei_aligned_alloc(nbytes);
        if (!p)
            return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory: %zu bytes for tensor '%s'", nbytes,
                            e->g->values[vi]->name);
        ei_aligned_free(e->own[vi]);
        e->own[vi] = p;
        e->own_cap[vi] = nbytes;
    }
    *out = e->own[vi];
    return EI_STATUS_OK;
}

static void *ei_executor_known_alloc(void *ctx, size_t size) {
    ei_executor *e = ctx;
    void *p = ei_aligned_alloc(size);
    if (!p) return NULL;
    if (e->n_known == e->cap_known) {
        int cap = e->cap_known ? 2 * e->cap_known : 32;
        ei_known_buf *nk = realloc(e->known, (size_t)cap * sizeof *nk);
        if (!nk) {
            ei_aligned_free(p);
            return NULL;
        }
        e->known = nk;
        e->cap_known = cap;
    }
    e->known[e->n_known].p = p;
    e->known[e->n_known].segment = e->known_segment;
    e->n_known++;
    return p;
}

static void ei_executor_free_known_from(ei_executor *e, int segment) {
    int w = 0;
    for (int i = 0; i < e->n_known; i++) {
        if (e->known[i].segment >= segment) ei_aligned_free(e->known[i].p);
        else e->known[w++] = e->known[i];
    }
    e->n_known = w;
}

/* alloc_output while planning: the node is being computed ahead of run. */
static ei_status ei_alloc_output_known(ei_exec *ex, ei_node *n, int index, ei_dtype dtype, int rank,
                                       const int64_t *dims) {
    ei_executor *e = ex->owner;
    ei_value *v = ei_node_out(ex, n, index);
    if (!v) return ei_node_error(n, EI_STATUS_INTERNAL, "output %d is absent", index);
    EI_CHECK(ei_value_set_shape(v, dtype, rank, dims));
    v->data = ei_executor_known_alloc(e, v->nbytes);
    if (!v->data) return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for output '%s'", v->name);
    return EI_STATUS_OK;
}

/* alloc_output during run: executor-owned buffers, reused while they are big enough. */
static ei_status ei_alloc_output_run(ei_exec *ex, ei_node *n, int index, ei_dtype dtype, int rank,
                                     const int64_t *dims) {
    ei_executor *e = ex->owner;
    ei_value *v = ei_node_out(ex, n, index);
    if (!v) return ei_node_error(n, EI_STATUS_INTERNAL, "output %d is absent", index);
    EI_CHECK(ei_value_set_shape(v, dtype, rank, dims));
    return ei_executor_own_buffer(e, n->outputs[index], v->nbytes, &v->data);
}

ei_status ei_session_eval_node(ei_exec *ex, ei_node *n, void *(*alloc)(void *ctx, size_t size),
                               void *ctx, uint32_t flag) {
    ei_status st = EI_STATUS_OK;
    void *scratch = NULL;
    if (!n->dynamic) {
        for (int i = 0; i < n->n_outputs; i++) {
            ei_value *v = ei_node_out(ex, n, i);
            if (!v) continue;
            v->data = alloc(ctx, v->nbytes);
            if (!v->data)
                return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for output '%s'", v->name);
        }
    }
    if (n->scratch_bytes) {
        scratch = ei_aligned_alloc(n->scratch_bytes);
        if (!scratch) return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for scratch");
    }
    n->scratch = scratch;
    st = n->op->fns->run(ex, n);
    n->scratch = NULL;
    ei_aligned_free(scratch);
    if (st != EI_STATUS_OK) return st;
    for (int i = 0; i < n->n_outputs; i++) {
        ei_value *v = ei_node_out(ex, n, i);
        if (v) v->flags |= flag;
    }
    return EI_STATUS_OK;
}

/* -------------------------------------------------------------- creation */

/* Resolves every node's op. One error lists every unsupported node: first the distinct
 * (op, domain, opset) with counts, then the nodes, as many as the message holds. */
static ei_status ei_executor_resolve_ops(ei_graph *g) {
    char kinds[1536], nodes[2048];
    size_t klen = 0, nlen = 0;
    int n_bad = 0, n_listed = 0;

    kinds[0] = nodes[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        n->op = ei_op_find(n->domain, n->op_type, n->opset);
        if (n->op) continue;
        n_bad++;
        /* Count this (op, domain, opset) once, at its first node. */
        bool first_of_kind = true;
        int count = 0;
        for (int j = 0; j < g->n_nodes; j++) {
            const ei_node *m = &g->nodes[j];
            if (m->op || strcmp(m->op_type, n->op_type) != 0 || strcmp(m->domain, n->domain) != 0 ||
                m->opset != n->opset)
                continue;
            if (j < i) first_of_kind = false;
            count++;
        }
        if (first_of_kind && klen < sizeof kinds - 1) {
            int first = -1;
            for (int k = 0; k < ei_op_count(); k++) {
                const ei_op *o = ei_op_at(k);
                if (strcmp(o->name, n->op_type) == 0 && ei_op_find(n->domain, o->name, o->since_version) == o &&
                    (first < 0 || o->since_version < first))
                    first = o->since_version;
            }
            char extra[80] = "";
            if (first >= 0) snprintf(extra, sizeof extra, ", implemented from opset %d", first);
            int w = snprintf(kinds + klen, sizeof kinds - klen, "%s(op %s, domain '%s', opset %d%s) x%d",
                             klen ? "; " : "", n->op_type, n->domain[0] ? n->domain : "ai.onnx", n->opset,
                             extra, count);
            if (w > 0) klen += (size_t)w;
        }
        if (nlen < sizeof nodes - 80) {
            int w = snprintf(nodes + nlen, sizeof nodes - nlen, "%s'%s' (%s)", nlen ? ", " : "", n->name,
                             n->op_type);
            if (w > 0 && nlen + (size_t)w < sizeof nodes) {
                nlen += (size_t)w;
                n_listed++;
            } else {
                nodes[nlen] = '\0';
                nlen = sizeof nodes; /* full */
            }
        }
    }
    if (n_bad == 0) return EI_STATUS_OK;
    return ei_error(EI_STATUS_UNSUPPORTED, "model has %d unsupported node%s: %s. Nodes: %s%s", n_bad,
                    n_bad > 1 ? "s" : "", kinds, nodes, n_listed < n_bad ? ", ..." : "");
}

static ei_status ei_executor_bind_outer(ei_executor *e, const ei_graph *parent) {
    ei_graph *g = e->g;
    int n = 0;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i]->flags & EI_VALUE_FLAG_OUTER) n++;
    if (n == 0) return EI_STATUS_OK;
    if (!parent)
        return ei_error(EI_STATUS_INVALID_MODEL, "graph '%s' refers to outer-scope values but has no parent",
                        g->name ? g->name : "?");
    e->outer_idx = calloc((size_t)n, sizeof *e->outer_idx);
    e->outer_src = calloc((size_t)n, sizeof *e->outer_src);
    if (!e->outer_idx || !e->outer_src) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < g->n_values; i++) {
        ei_value *v = g->values[i];
        if (!(v->flags & EI_VALUE_FLAG_OUTER)) continue;
        int pi = ei_graph_find_value(parent, v->name);
        if (pi < 0)
            return ei_error(EI_STATUS_INVALID_MODEL, "graph '%s': outer-scope value '%s' is not defined",
                            g->name ? g->name : "?", v->name);
        e->outer_idx[e->n_outer] = i;
        e->outer_src[e->n_outer] = parent->values[pi];
        e->n_outer++;
    }
    return EI_STATUS_OK;
}

ei_status ei_executor_create(ei_graph *g, const ei_executor_config *cfg, ei_executor **out) {
    ei_status st = EI_STATUS_OK;
    ei_executor *e = NULL;
    size_t nn = (size_t)g->n_nodes + 1, nv = (size_t)g->n_values + 1;

    *out = NULL;
    e = calloc(1, sizeof *e);
    if (!e) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating an executor");
    e->g = g;
    e->outputs_external = cfg->outputs_external;
    e->top = cfg->parent == NULL;
    e->ex.graph = g;
    e->ex.pool = cfg->pool;
    e->ex.num_threads = cfg->num_threads > 0 ? cfg->num_threads : 1;
    e->ex.alloc_output = ei_alloc_output_known;
    e->ex.owner = e;

    uint64_t t0 = ei_now_ns();
    EI_TRY(ei_executor_resolve_ops(g));
    EI_TRY(ei_executor_bind_outer(e, cfg->parent));
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (n->op->fns->prepare) EI_TRY(n->op->fns->prepare(&e->ex, n));
    }
    uint64_t t1 = ei_now_ns();
    EI_TRY(ei_optimize(&e->ex, cfg->optimization_level));
    e->create_prepare_ns = t1 - t0;
    e->create_optimize_ns = ei_now_ns() - t1;

    /* Passes may add nodes and values: size per-node and per-value arrays after them. */
    nn = (size_t)g->n_nodes + 1;
    nv = (size_t)g->n_values + 1;
    e->seg_start = calloc(nn, sizeof *e->seg_start);
    e->seg_end = calloc(nn, sizeof *e->seg_end);
    e->sig = calloc(nn, sizeof *e->sig);
    e->n_sig = calloc(nn, sizeof *e->n_sig);
    e->arena = calloc(nn, sizeof *e->arena);
    e->arena_cap = calloc(nn, sizeof *e->arena_cap);
    e->arena_bytes = calloc(nn, sizeof *e->arena_bytes);
    e->own = calloc(nv, sizeof *e->own);
    e->own_cap = calloc(nv, sizeof *e->own_cap);
    e->ext = calloc(nv, sizeof *e->ext);
    e->ext_bytes = calloc(nv, sizeof *e->ext_bytes);
    e->dyn_scratch = calloc(nn, sizeof *e->dyn_scratch);
    e->dyn_scratch_cap = calloc(nn, sizeof *e->dyn_scratch_cap);
    e->prof_ns = calloc(nn, sizeof *e->prof_ns);
    e->prof_count = calloc(nn, sizeof *e->prof_count);
    e->prof_tail = e;
    if (!e->prof_ns || !e->prof_count || !e->dyn_scratch || !e->dyn_scratch_cap ||!e->seg_start || !e->seg_end || !e->sig || !e->n_sig || !e->arena || !e->arena_cap ||
        !e->arena_bytes || !e->own || !e->own_cap || !e->ext || !e->ext_bytes) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating an executor");
        goto cleanup;
    }
    *out = e;
    return EI_STATUS_OK;

cleanup:
    ei_executor_free(e);
    return st;
}

void ei_executor_free(ei_executor *e) {
    if (!e) return;
    ei_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (n->op && n->op->fns->destroy && n->state) n->op->fns->destroy(n->state);
        n->state = NULL;
    }
    ei_executor_free_known_from(e, 0);
    free(e->known);
    if (e->arena)
        for (int k = 0; k <= g->n_nodes; k++) ei_aligned_free(e->arena[k]);
    if (e->sig)
        for (int k = 0; k <= g->n_nodes; k++) free(e->sig[k]);
    if (e->own)
        for (int i = 0; i <= g->n_values; i++) ei_aligned_free(e->own[i]);
    if (e->dyn_scratch)
        for (int i = 0; i <= g->n_nodes; i++) ei_aligned_free(e->dyn_scratch[i]);
    free(e->dyn_scratch);
    free(e->dyn_scratch_cap);
    free(e->prof_ns);
    free(e->prof_count);
    free(e->seg_start);
    free(e->seg_end);
    free(e->sig);
    free(e->n_sig);
    free(e->arena);
    free(e->arena_cap);
    free(e->arena_bytes);
    free(e->own);
    free(e->own_cap);
    free(e->ext);
    free(e->ext_bytes);
    free(e->outer_idx);
    free(e->outer_src);
    free(e);
}

/* ------------------------------------------------------------------ plan */

static bool ei_node_foldable(const ei_exec *ex, const ei_node *n) {
    bool shape_only = strcmp(n->domain, "") == 0 &&
                      (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0);
    size_t out_bytes = 0;
    if (ei_node_has_subgraph(n)) return false;
    for (int i = 0; i < n->n_inputs; i++) {
        const ei_value *v = ei_node_in(ex, n, i);
        if (v && !ei_value_known(v) && !shape_only) return false;
    }
    if (n->dynamic) return true; /* output size unknown until it runs; inputs are known */
    for (int i = 0; i < n->n_outputs; i++) {
        const ei_value *v = ei_node_out(ex, n, i);
        if (v && !ei_size_add(out_bytes, v->nbytes, &out_bytes)) return false;
    }
    return out_bytes <= EI_FOLD_MAX_BYTES;
}

/* Shapes segment k depends on: those of the outputs of every dynamic node before it. */
static ei_status ei_executor_signature(ei_executor *e, int k, ei_shape_sig **out, int *count) {
    ei_graph *g = e->g;
    int n = 0;
    for (int s = 0; s < k; s++) n += g->nodes[e->seg_end[s]].n_outputs;
    ei_shape_sig *sig = calloc((size_t)(n > 0 ? n : 1), sizeof *sig);
    if (!sig) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory");
    int w = 0;
    for (int s = 0; s < k; s++) {
        ei_node *dn = &g->nodes[e->seg_end[s]];
        for (int o = 0; o < dn->n_outputs; o++, w++) {
            const ei_value *v = ei_node_out(&e->ex, dn, o);
            if (v) ei_sig_of(v, false, &sig[w]);
        }
    }
    *out = sig;
    *count = n;
    return EI_STATUS_OK;
}

/* Whether the dynamic outputs before segment k still have the shapes it was planned for. */
static bool ei_executor_segment_current(const ei_executor *e, int k) {
    const ei_graph *g = e->g;
    int w = 0;
    for (int s = 0; s < k; s++) {
        const ei_node *dn = &g->nodes[e->seg_end[s]];
        for (int o = 0; o < dn->n_outputs; o++, w++) {
            if (w >= e->n_sig[k]) return false;
            const ei_value *v = ei_node_out(&e->ex, dn, o);
            ei_shape_sig cur;
            memset(&cur, 0, sizeof cur);
            if (v) ei_sig_of(v, false, &cur);
            if (!ei_sig_matches(&cur, &e->sig[k][w], 1)) return false;
        }
    }
    return w == e->n_sig[k];
}

/* Plans segment k, which starts at node `start`: infers, precomputes what it can, and
 * places the segment's buffers. Values produced at or after `start` are reset. */
static void ei_executor_release_packed(ei_executor *e, int upto);

static ei_status ei_executor_plan_segment(ei_executor *e, int k, int start) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = e->g;
    ei_exec *ex = &e->ex;
    ei_plan_buffer *bufs = NULL;
    int *buf_value = NULL;
    size_t n_bufs = 0, total = 0;
    int end = g->n_nodes - 1;

    e->n_planned = k;
    ei_executor_free_known_from(e, k);
    e->known_segment = k;
    ex->alloc_output = ei_alloc_output_known;
    for (int i = start; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        for (int o = 0; o < n->n_outputs; o++) {
            ei_value *v = ei_node_out(ex, n, o);
            if (!v) continue;
            v->flags &= ~(uint32_t)EI_VALUE_FLAG_KNOWN;
            v->data = NULL;
            v->rank = -1;
            v->nbytes = 0;
        }
    }

    for (int i = start; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        n->folded = false;
        n->dynamic = false;
        n->scratch_bytes = 0;
        n->scratch = NULL;
        for (int q = 0; q < n->n_inputs; q++) {
            const ei_value *v = ei_node_in(ex, n, q);
            if (v && v->rank < 0) {
                st = ei_node_error(n, EI_STATUS_INTERNAL, "input '%s' has no shape before the node runs", v->name);
                goto cleanup;
            }
        }
        EI_TRY(n->op->fns->infer(ex, n));
        if (!n->dynamic) {
            for (int q = 0; q < n->n_outputs; q++) {
                const ei_value *v = ei_node_out(ex, n, q);
                if (v && v->rank < 0) {
                    st = ei_node_error(n, EI_STATUS_INTERNAL, "output '%s' was not given a shape", v->name);
                    goto cleanup;
                }
            }
        }
        if (ei_node_foldable(ex, n)) {
            EI_TRY(ei_session_eval_node(ex, n, ei_executor_known_alloc, e, EI_VALUE_FLAG_KNOWN));
            n->folded = true;
            continue;
        }
        if (e->top && n->packed_inputs) ei_executor_release_packed(e, i);
        if (n->dynamic) {
            end = i;
            break;
        }
    }
    e->seg_start[k] = start;
    e->seg_end[k] = end;

    /* Buffers of this segment: outputs of its computed, non-dynamic nodes, live from
     * their producer to their last reader anywhere in the graph; scratch for one step. */
    bufs = calloc((size_t)g->n_values + (size_t)g->n_nodes + 1, sizeof *bufs);
    buf_value = calloc((size_t)g->n_values + (size_t)g->n_nodes + 1, sizeof *buf_value);
    if (!bufs || !buf_value) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory planning memory");
        goto cleanup;
    }
    for (int i = start; i <= end; i++) {
        ei_node *n = &g->nodes[i];
        if (n->folded) continue;
        if (n->scratch_bytes > 0) {
            bufs[n_bufs].size = n->scratch_bytes;
            bufs[n_bufs].first = bufs[n_bufs].last = i;
            buf_value[n_bufs++] = -(i + 1);
        }
        if (n->dynamic) continue;
        for (int q = 0; q < n->n_outputs; q++) {
            int vi = n->outputs[q];
            if (vi < 0) continue;
            ei_value *v = g->values[vi];
            if (v->flags & EI_VALUE_FLAG_OUTPUT) continue; /* caller's or executor-owned buffer */
            int last = i;
            for (int j = i + 1; j < g->n_nodes; j++)
                for (int r = 0; r < g->nodes[j].n_inputs; r++)
                    if (g->nodes[j].inputs[r] == vi) last = j;
            /* Nested subgraphs may read it by name: keep it to the end. */
            for (int j = i + 1; j < g->n_nodes; j++)
                if (ei_node_has_subgraph(&g->nodes[j])) last = g->n_nodes;
            bufs[n_bufs].size = v->nbytes;
            bufs[n_bufs].first = i;
            bufs[n_bufs].last = last;
            buf_value[n_bufs++] = vi;
        }
    }
    EI_TRY(ei_plan_greedy(bufs, n_bufs, EI_ARENA_ALIGN, &total));
    if (total > e->arena_cap[k] || !e->arena[k]) {
        ei_aligned_free(e->arena[k]);
        e->arena[k] = ei_aligned_alloc(total);
        e->arena_cap[k] = e->arena[k] ? total : 0;
        if (!e->arena[k]) {
            st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory: the activation arena needs %zu bytes", total);
            goto cleanup;
        }
    }
    e->arena_bytes[k] = total;
    for (size_t b = 0; b < n_bufs; b++) {
        char *p = (char *)e->arena[k] + bufs[b].offset;
        if (buf_value[b] >= 0) g->values[buf_value[b]]->data = p;
        else g->nodes[-buf_value[b] - 1].scratch = p;
    }
    free(e->sig[k]);
    e->sig[k] = NULL;
    EI_TRY(ei_executor_signature(e, k, &e->sig[k], &e->n_sig[k]));
    e->n_planned = k + 1;

cleanup:
    free(bufs);
    free(buf_value);
    return st;
}


static void ei_executor_pull_outer(ei_executor *e) {
    for (int i = 0; i < e->n_outer; i++) {
        ei_value *v = e->g->values[e->outer_idx[i]];
        const ei_value *src = e->outer_src[i];
        v->dtype = src->dtype;
        v->rank = src->rank;
        memcpy(v->dims, src->dims, sizeof v->dims);
        v->nbytes = src->nbytes;
        v->data = src->data;
        v->flags = (v->flags & ~(uint32_t)(EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_KNOWN)) |
                   (src->flags & (EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_KNOWN));
    }
}

/* The shapes of the inputs and outer values the current plan was made for. */

static const ei_value *ei_executor_sig_value(const ei_executor *e, int i) {
    const ei_graph *g = e->g;
    return i < g->n_inputs ? g->values[g->inputs[i]] : g->values[e->outer_idx[i - g->n_inputs]];
}

/* Whether the shapes of the inputs and outer values equal those of the saved plan
 * (compared in place: run allocates nothing); if not, records the new ones. */
static ei_status ei_executor_inputs_unchanged(ei_executor *e, ei_shape_sig **saved, int *n_saved, bool *same) {
    ei_graph *g = e->g;
    int n = g->n_inputs + e->n_outer;
    *same = *saved && *n_saved == n;
    for (int i = 0; i < n && *same; i++) {
        ei_shape_sig cur;
        ei_sig_of(ei_executor_sig_value(e, i), i >= g->n_inputs, &cur);
        *same = ei_sig_matches(&cur, &(*saved)[i], 1);
    }
    if (*same) return EI_STATUS_OK;
    ei_shape_sig *sig = calloc((size_t)(n > 0 ? n : 1), sizeof *sig);
    if (!sig) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) ei_sig_of(ei_executor_sig_value(e, i), i >= g->n_inputs, &sig[i]);
    free(*saved);
    *saved = sig;
    *n_saved = n;
    return EI_STATUS_OK;
}

/* Frees constant weights that every reader has packed into its own layout (Conv, MatMul,
 * Gemm set node->packed_inputs), so a model's weights are held once, not twice. Only data
 * the graph owns, never graph outputs, values a subgraph reads or values any other node
 * reads. A later re-plan keeps the packed copies (the ops check for released data).
 * Only readers at node index <= upto count as packed: the plan calls it after each node
 * that packs, so the originals go one by one instead of all weights being held twice
 * until the end of the plan (the peak memory of session creation). */
static void ei_executor_release_packed(ei_executor *e, int upto) {
    ei_graph *g = e->g;
    int *readers = calloc((size_t)g->n_values + 1, sizeof *readers);
    int *packed = calloc((size_t)g->n_values + 1, sizeof *packed);
    if (!readers || !packed) goto cleanup; /* an optimization only: keep the weights */
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0) continue;
            readers[v]++;
            if (k < 32 && (n->packed_inputs & (1u << k)) && !n->folded && i <= upto) packed[v]++;
        }
    }
    for (int v = 0; v < g->n_values; v++) {
        ei_value *val = g->values[v];
        const uint32_t need = EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_OWNS_DATA;
        if (!readers[v] || packed[v] != readers[v] || !val->data || (val->flags & need) != need ||
            (val->flags & EI_VALUE_FLAG_OUTPUT))
            continue;
        bool sub = false;
        for (int i = 0; i < g->n_nodes && !sub; i++)
            sub = ei_node_subgraphs_read(&g->nodes[i], val->name);
        for (int o = 0; o < g->n_outputs && !sub; o++) sub = g->outputs[o] == v;
        if (sub) continue;
        free(val->data);
        val->data = NULL;
    }
cleanup:
    free(readers);
    free(packed);
}

ei_status ei_executor_plan(ei_executor *e) {
    ei_graph *g = e->g;
    ei_executor_pull_outer(e);
    /* The plan depends on the shapes of inputs and outer values, and on the data of
     * outer values the parent computed at plan time (constants never change). */
    bool same = false;
    EI_CHECK(ei_executor_inputs_unchanged(e, &e->sig[g->n_nodes], &e->n_sig[g->n_nodes], &same));
    if (same && e->planned) return EI_STATUS_OK;
    e->planned = false;
    for (int i = 0; i < g->n_inputs; i++) {
        ei_value *v = g->values[g->inputs[i]];
        if (v->rank < 0)
            return ei_error(EI_STATUS_INTERNAL, "input '%s' has no shape at planning", v->name);
        EI_CHECK(ei_value_set_shape(v, v->dtype, v->rank, v->dims));
    }
    ei_status st = ei_executor_plan_segment(e, 0, 0);
    if (st != EI_STATUS_OK) {
        free(e->sig[g->n_nodes]);
        e->sig[g->n_nodes] = NULL;
        e->n_sig[g->n_nodes] = 0;
        return st;
    }
    e->planned = true;
    if (e->top) ei_executor_release_packed(e, g->n_nodes - 1);
    return EI_STATUS_OK;
}

bool ei_executor_planned(const ei_executor *e) { return e && e->planned; }

size_t ei_executor_arena_bytes(const ei_executor *e) {
    size_t total = 0;
    if (!e || !e->planned) return 0;
    for (int k = 0; k < e->n_planned; k++) total += e->arena_bytes[k];
    return total;
}

bool ei_executor_output_shape_known(const ei_executor *e, int k) {
    if (!e->planned) return false;
    const ei_value *v = e->g->values[e->g->outputs[k]];
    if (v->producer < 0) return true; /* input, constant or outer value */
    const ei_node *n = &e->g->nodes[v->producer];
    if (n->folded) return true;
    return v->producer <= e->seg_end[0] && !n->dynamic;
}

void ei_executor_bind_output(ei_executor *e, int k, void *data, size_t nbytes) {
    int vi = e->g->outputs[k];
    e->ext[vi] = data;
    e->ext_bytes[vi] = nbytes;
}

/* ------------------------------------------------------------------- run */

/* Points the graph outputs of node n (not dynamic) at their buffers. */
static ei_status ei_executor_bind_node_outputs(ei_executor *e, ei_node *n) {
    for (int q = 0; q < n->n_outputs; q++) {
        int vi = n->outputs[q];
        if (vi < 0) continue;
        ei_value *v = e->g->values[vi];
        if (!(v->flags & EI_VALUE_FLAG_OUTPUT)) continue;
        if (e->outputs_external && e->ext[vi]) {
            if (e->ext_bytes[vi] < v->nbytes)
                return ei_error(EI_STATUS_INVALID_ARGUMENT,
                                "output '%s': buffer of %zu bytes is too small, %zu needed", v->name,
                                e->ext_bytes[vi], v->nbytes);
            v->data = e->ext[vi];
        } else {
            EI_CHECK(ei_executor_own_buffer(e, vi, v->nbytes, &v->data));
        }
    }
    return EI_STATUS_OK;
}

/* Before dynamic node i runs: infer again with the inputs' data readable. If that fixes
 * the output shapes, the outputs get executor-owned buffers here; otherwise the op sizes
 * them while it runs. Scratch requested by this infer is given here too. */
static ei_status ei_executor_prepare_dynamic(ei_executor *e, int i) {
    ei_node *n = &e->g->nodes[i];
    n->dynamic = false;
    n->scratch_bytes = 0;
    for (int q = 0; q < n->n_outputs; q++) {
        ei_value *v = ei_node_out(&e->ex, n, q);
        if (v) v->rank = -1;
    }
    e->ex.inputs_have_data = true;
    ei_status st = n->op->fns->infer(&e->ex, n);
    e->ex.inputs_have_data = false;
    bool sized_by_run = n->dynamic;
    n->dynamic = true; /* still ends its segment */
    if (st != EI_STATUS_OK) return st;
    if (n->scratch_bytes > e->dyn_scratch_cap[i] || (n->scratch_bytes && !e->dyn_scratch[i])) {
        void *p = ei_aligned_alloc(n->scratch_bytes);
        if (!p) return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for %zu bytes of scratch", n->scratch_bytes);
        ei_aligned_free(e->dyn_scratch[i]);
        e->dyn_scratch[i] = p;
        e->dyn_scratch_cap[i] = n->scratch_bytes;
    }
    n->scratch = n->scratch_bytes ? e->dyn_scratch[i] : NULL;
    if (sized_by_run) return EI_STATUS_OK;
    for (int q = 0; q < n->n_outputs; q++) {
        int vi = n->outputs[q];
        if (vi < 0) continue;
        ei_value *v = e->g->values[vi];
        if (v->rank < 0) return ei_node_error(n, EI_STATUS_INTERNAL, "output '%s' was not given a shape", v->name);
        EI_CHECK(ei_executor_own_buffer(e, vi, v->nbytes, &v->data));
    }
    return EI_STATUS_OK;
}

/* The node loop of a run; prof: record each node's time (scope->node tells subgraph
 * executors which node runs them). One clock read per node: a node's time runs from the
 * previous node's end (so the skip over folded nodes is charged to the next node, a few
 * ns) to its own end; re-planning a segment is charged to no node. */
static ei_status ei_executor_run_nodes(ei_executor *e, bool prof, ei_prof_scope *scope) {
    ei_graph *g = e->g;
    int seg = 0;

    EI_CHECK(ei_executor_plan(e));
    uint64_t t0 = prof ? ei_now_ns() : 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (i > e->seg_end[seg]) {
            /* Entering segment seg+1: its shapes are known now that the dynamic node
             * ending segment seg has run. */
            seg++;
            bool same = seg < e->n_planned && ei_executor_segment_current(e, seg);
            if (!same) {
                ei_status st = ei_executor_plan_segment(e, seg, i);
                e->ex.alloc_output = ei_alloc_output_run;
                if (st != EI_STATUS_OK) {
                    e->planned = false;
                    return st;
                }
                if (prof) t0 = ei_now_ns();
            }
        }
        if (n->folded) continue;
        if (prof) scope->node = i;
        e->ex.alloc_output = ei_alloc_output_run;
        if (n->dynamic) {
            EI_CHECK(ei_executor_prepare_dynamic(e, i));
        } else {
            EI_CHECK(ei_executor_bind_node_outputs(e, n));
        }
        EI_CHECK(n->op->fns->run(&e->ex, n));
        if (prof) {
            uint64_t t1 = ei_now_ns();
            e->prof_ns[i] += t1 - t0;
            e->prof_count[i]++;
            t0 = t1;
        }
    }
    return EI_STATUS_OK;
}

ei_status ei_executor_run(ei_executor *e) {
    /* Not profiling: the top level reads one flag; a subgraph, the thread-local scope. */
    if (e->top ? !e->profiling : !ei_prof_current) return ei_executor_run_nodes(e, false, NULL);
    ei_prof_scope *outer = e->top ? NULL : ei_prof_current;

    /* Profiled: a top-level run opens the scope; a subgraph run inside one joins its
     * top level's list on its first profiled run and records under the running node. */
    ei_prof_scope scope = {.root = outer ? outer->root : e, .exec = e, .node = -1};
    if (outer && !e->prof_root) {
        e->prof_root = outer->root;
        e->prof_parent = outer->exec;
        e->prof_parent_node = outer->node;
        outer->root->prof_tail->prof_next = e;
        outer->root->prof_tail = e;
    }
    uint64_t t0 = ei_now_ns();
    ei_prof_current = &scope;
    ei_status st = ei_executor_run_nodes(e, true, &scope);
    ei_prof_current = outer;
    if (!outer && st == EI_STATUS_OK) {
        e->prof_runs++;
        e->prof_run_ns += ei_now_ns() - t0;
    }
    return st;
}

/* ------------------------------------------------------------- profiling */

void ei_executor_creation_times(const ei_executor *e, uint64_t *prepare_ns, uint64_t *optimize_ns) {
    *prepare_ns = e ? e->create_prepare_ns : 0;
    *optimize_ns = e ? e->create_optimize_ns : 0;
}

void ei_executor_set_profiling(ei_executor *e, bool on) { e->profiling = on; }

/* The executor and node of record i (executors on e's list, nodes with count > 0). */
static bool ei_prof_locate(const ei_executor *e, size_t i, const ei_executor **xo, int *node) {
    for (const ei_executor *x = e; x; x = x->prof_next)
        for (int k = 0; k < x->g->n_nodes; k++) {
            if (!x->prof_count[k]) continue;
            if (i-- == 0) {
                *xo = x;
                *node = k;
                return true;
            }
        }
    return false;
}

size_t ei_executor_profile_count(const ei_executor *e) {
    size_t n = 0;
    for (const ei_executor *x = e; x; x = x->prof_next)
        for (int k = 0; k < x->g->n_nodes; k++) n += x->prof_count[k] != 0;
    return n;
}

bool ei_executor_profile_entry(const ei_executor *e, size_t i, ei_profile_entry *out) {
    const ei_executor *x = NULL;
    int k = 0;
    if (!ei_prof_locate(e, i, &x, &k)) return false;
    const ei_node *n = &x->g->nodes[k];
    memset(out, 0, sizeof *out);
    out->name = n->name;
    out->op_type = n->op_type;
    out->domain = n->domain;
    out->count = x->prof_count[k];
    out->total_ns = x->prof_ns[k];
    out->parent = -1;
    out->rank = -1;
    for (const ei_executor *p = x; p->prof_parent; p = p->prof_parent) out->depth++;
    /* Parent: the record of (prof_parent, prof_parent_node); it precedes this one. */
    if (x->prof_parent) {
        size_t idx = 0;
        for (const ei_executor *y = e; y; y = y->prof_next)
            for (int j = 0; j < y->g->n_nodes; j++) {
                if (!y->prof_count[j]) continue;
                if (y == x->prof_parent && j == x->prof_parent_node) out->parent = (int)idx;
                idx++;
            }
    }
    /* Self time: less the direct children (nodes of the subgraph executors it runs). */
    uint64_t children = 0;
    for (const ei_executor *y = e; y; y = y->prof_next) {
        if (y->prof_parent != x || y->prof_parent_node != k) continue;
        for (int j = 0; j < y->g->n_nodes; j++) children += y->prof_ns[j];
    }
    out->self_ns = out->total_ns > children ? out->total_ns - children : 0;
    for (int q = 0; q < n->n_outputs; q++) {
        if (n->outputs[q] < 0) continue;
        const ei_value *v = x->g->values[n->outputs[q]];
        out->dtype = v->dtype;
        out->rank = v->rank;
        if (v->rank > 0) memcpy(out->dims, v->dims, sizeof out->dims);
        break;
    }
    return true;
}

void ei_executor_profile_runs(const ei_executor *e, uint64_t *runs, uint64_t *total_ns) {
    if (runs) *runs = e->prof_runs;
    if (total_ns) *total_ns = e->prof_run_ns;
}

void ei_executor_profile_reset(ei_executor *e) {
    for (ei_executor *x = e; x; x = x->prof_next)
        for (int k = 0; k < x->g->n_nodes; k++) x->prof_ns[k] = x->prof_count[k] = 0;
    e->prof_runs = e->prof_run_ns = 0;
}
