/*
 * session.c - the public session API: create (parse, resolve ops, prepare, optimize),
 * reshape (infer shapes, precompute shape arithmetic, plan the arena) and run (bind
 * caller buffers, call each node's run). Parsing is onnx/'s, passes are opt/'s, op
 * semantics are ops/', and buffer placement is planner.c's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/planner.h"
#include "core/session_internal.h"
#include "kernels/kernels.h"
#include "onnx/onnx.h"
#include "opt/opt.h"

#define EI_ARENA_ALIGN 64
/* Shape arithmetic precomputed at reshape when a node's inputs are all known and its
 * outputs are at most this large; bigger results are left to run. */
#define EI_FOLD_MAX_BYTES (64 * 1024)

struct ei_session {
    ei_model *model;
    ei_graph *graph;
    ei_exec ex;
    ei_threadpool *pool;
    int num_threads;
    pthread_mutex_t lock;

    /* Shapes of the last successful reshape (bound[i] for graph input i). */
    bool planned;
    ei_tensor *bound;
    int *order; /* order[k]: index in the caller's array of graph input k (last match) */
    void *arena;
    size_t arena_bytes, arena_cap;
    /* Buffers of values computed during reshape (EI_VALUE_FLAG_KNOWN). */
    void **known;
    int n_known, cap_known;
};

/* ------------------------------------------------------------------ helpers */

static void *ei_session_alloc_aligned(size_t size) {
    void *p = NULL;
    if (size == 0) size = EI_ARENA_ALIGN;
    if (posix_memalign(&p, EI_ARENA_ALIGN, size) != 0) return NULL;
    return p;
}

void ei_options_init(ei_options *opt) {
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->num_threads = 0;
    opt->optimization_level = 1;
}

size_t ei_session_input_count(const ei_session *s) { return s ? (size_t)s->graph->n_inputs : 0; }
size_t ei_session_output_count(const ei_session *s) { return s ? (size_t)s->graph->n_outputs : 0; }
size_t ei_session_arena_bytes(const ei_session *s) { return s && s->planned ? s->arena_bytes : 0; }
int ei_session_num_threads(const ei_session *s) { return s ? s->num_threads : 0; }

static void ei_fill_info(const ei_value *v, ei_value_info *out) {
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->decl_dtype != EI_DTYPE_UNDEFINED ? v->decl_dtype : v->dtype;
    out->rank = v->decl_rank;
    for (int d = 0; d < v->decl_rank && d < EI_MAX_RANK; d++) {
        out->dims[d] = v->decl_dims[d];
        out->dim_names[d] = v->decl_dim_names[d];
    }
}

ei_status ei_session_input_info(const ei_session *s, size_t i, ei_value_info *out) {
    if (!s || !out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "input_info: NULL argument");
    if (i >= (size_t)s->graph->n_inputs)
        return ei_error(EI_STATUS_INVALID_ARGUMENT, "input index %zu out of range (model has %d inputs)",
                        i, s->graph->n_inputs);
    ei_fill_info(s->graph->values[s->graph->inputs[i]], out);
    return EI_STATUS_OK;
}

ei_status ei_session_output_info(const ei_session *s, size_t i, ei_value_info *out) {
    if (!s || !out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "output_info: NULL argument");
    if (i >= (size_t)s->graph->n_outputs)
        return ei_error(EI_STATUS_INVALID_ARGUMENT, "output index %zu out of range (model has %d outputs)",
                        i, s->graph->n_outputs);
    ei_fill_info(s->graph->values[s->graph->outputs[i]], out);
    return EI_STATUS_OK;
}

/* -------------------------------------------------------------- creation */

/* Resolves every node's op; one error lists every unsupported node. */
static ei_status ei_session_resolve_ops(ei_session *s) {
    ei_graph *g = s->graph;
    char msg[2048];
    size_t len = 0;
    int n_bad = 0;

    msg[0] = '\0';
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        n->op = ei_op_find(n->domain, n->op_type, n->opset);
        if (n->op) continue;
        const ei_op *any = ei_op_find(n->domain, n->op_type, 1 << 30);
        char extra[96] = "";
        if (any) {
            int first = any->since_version;
            for (int k = 0; k < ei_op_count(); k++) {
                const ei_op *o = ei_op_at(k);
                if (strcmp(o->name, n->op_type) == 0 && strcmp(o->domain, any->domain) == 0 &&
                    o->since_version < first)
                    first = o->since_version;
            }
            snprintf(extra, sizeof extra, "; implemented from opset %d", first);
        }
        n_bad++;
        if (len < sizeof msg - 1) {
            int w = snprintf(msg + len, sizeof msg - len, "%s node '%s' (op %s, domain '%s', opset %d%s)",
                             n_bad > 1 ? ";" : "", n->name, n->op_type,
                             n->domain[0] ? n->domain : "ai.onnx", n->opset, extra);
            if (w > 0) len += (size_t)w;
        }
    }
    if (n_bad == 0) return EI_STATUS_OK;
    return ei_error(EI_STATUS_UNSUPPORTED, "model has %d unsupported node%s:%s", n_bad,
                    n_bad > 1 ? "s" : "", msg);
}

static ei_status ei_session_prepare_nodes(ei_session *s) {
    ei_graph *g = s->graph;
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (n->op->fns->prepare) EI_CHECK(n->op->fns->prepare(&s->ex, n));
    }
    return EI_STATUS_OK;
}

static bool ei_inputs_all_static(const ei_graph *g) {
    if (g->n_inputs == 0) return true;
    for (int i = 0; i < g->n_inputs; i++) {
        const ei_value *v = g->values[g->inputs[i]];
        if (v->decl_rank < 0 || v->decl_dtype == EI_DTYPE_UNDEFINED) return false;
        for (int d = 0; d < v->decl_rank; d++)
            if (v->decl_dims[d] < 0) return false;
    }
    return true;
}

static ei_status ei_session_create_from_model(ei_model *model, const ei_options *opt_in,
                                              ei_session **out) {
    ei_status st = EI_STATUS_OK;
    ei_session *s = NULL;
    ei_options opt;

    if (opt_in) opt = *opt_in;
    else ei_options_init(&opt);
    if (opt.num_threads < 0 || opt.num_threads > 1024) {
        ei_model_free(model);
        return ei_error(EI_STATUS_INVALID_ARGUMENT, "num_threads must be in [0, 1024], got %d",
                        opt.num_threads);
    }

    s = calloc(1, sizeof *s);
    if (!s) {
        ei_model_free(model);
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating a session");
    }
    pthread_mutex_init(&s->lock, NULL);
    s->model = model;
    s->graph = model->graph;
    s->num_threads = opt.num_threads > 0 ? opt.num_threads : ei_cpu_count();
    if (ei_threadpool_create(s->num_threads, &s->pool) != 0) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "could not start %d threads", s->num_threads);
        goto cleanup;
    }
    s->ex.graph = s->graph;
    s->ex.pool = s->pool;
    s->ex.num_threads = s->num_threads;
    s->bound = calloc((size_t)(s->graph->n_inputs > 0 ? s->graph->n_inputs : 1), sizeof *s->bound);
    s->order = calloc((size_t)(s->graph->n_inputs > 0 ? s->graph->n_inputs : 1), sizeof *s->order);
    if (!s->bound || !s->order) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating a session");
        goto cleanup;
    }

    EI_TRY(ei_session_resolve_ops(s));
    EI_TRY(ei_session_prepare_nodes(s));
    EI_TRY(ei_optimize(&s->ex, opt.optimization_level));

    /* Static input shapes: plan now, so errors surface at creation and run only computes. */
    if (ei_inputs_all_static(s->graph)) {
        ei_tensor *shapes = s->bound; /* reuse as scratch for the declared shapes */
        for (int i = 0; i < s->graph->n_inputs; i++) {
            const ei_value *v = s->graph->values[s->graph->inputs[i]];
            memset(&shapes[i], 0, sizeof shapes[i]);
            shapes[i].name = v->name;
            shapes[i].dtype = v->decl_dtype;
            shapes[i].rank = v->decl_rank;
            memcpy(shapes[i].dims, v->decl_dims, sizeof v->decl_dims);
        }
        ei_tensor *copy = malloc((size_t)(s->graph->n_inputs > 0 ? s->graph->n_inputs : 1) * sizeof *copy);
        if (!copy) {
            st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating a session");
            goto cleanup;
        }
        if (s->graph->n_inputs > 0) memcpy(copy, shapes, (size_t)s->graph->n_inputs * sizeof *copy);
        st = ei_session_reshape(s, copy, (size_t)s->graph->n_inputs);
        free(copy);
        if (st != EI_STATUS_OK) goto cleanup;
    }

    *out = s;
    return EI_STATUS_OK;

cleanup:
    ei_session_free(s);
    return st;
}

ei_status ei_session_create_from_memory(const void *data, size_t size, const char *base_dir,
                                        const ei_options *opt, ei_session **out) {
    ei_model *model = NULL;
    if (!out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session out-parameter is NULL");
    *out = NULL;
    if (!data && size > 0) return ei_error(EI_STATUS_INVALID_ARGUMENT, "model data is NULL");
    EI_CHECK(ei_onnx_parse(data, size, base_dir, &model));
    return ei_session_create_from_model(model, opt, out);
}

ei_status ei_session_create_from_file(const char *path, const ei_options *opt, ei_session **out) {
    ei_status st = EI_STATUS_OK;
    void *data = NULL;
    size_t size = 0;
    char *dir = NULL;

    if (!out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session out-parameter is NULL");
    *out = NULL;
    if (!path) return ei_error(EI_STATUS_INVALID_ARGUMENT, "model path is NULL");
    EI_TRY(ei_read_file(path, &data, &size));
    /* External data resolves against the model's folder. */
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    dir = malloc(dlen + 1);
    if (!dir) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (slash) {
        memcpy(dir, path, dlen);
        if (dlen == 0) dir[dlen++] = '/';
    } else {
        dir[0] = '.';
    }
    dir[dlen] = '\0';
    st = ei_session_create_from_memory(data, size, dir, opt, out);
    if (st != EI_STATUS_OK) ei_error_prefix("%s", path);

cleanup:
    free(data);
    free(dir);
    return st;
}

static void ei_session_free_known(ei_session *s) {
    for (int i = 0; i < s->n_known; i++) free(s->known[i]);
    s->n_known = 0;
}

void ei_session_free(ei_session *s) {
    if (!s) return;
    if (s->graph) {
        for (int i = 0; i < s->graph->n_nodes; i++) {
            ei_node *n = &s->graph->nodes[i];
            if (n->op && n->op->fns->destroy && n->state) n->op->fns->destroy(n->state);
            n->state = NULL;
        }
    }
    ei_session_free_known(s);
    free(s->known);
    free(s->arena);
    free(s->bound);
    free(s->order);
    ei_threadpool_free(s->pool);
    ei_model_free(s->model);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* --------------------------------------------------------------- reshape */

/* Orders the caller's tensors like graph->inputs; validates names, dtypes and shapes
 * against the model's declarations. order[i] = index into inputs for graph input i. */
static ei_status ei_session_match_inputs(ei_session *s, const ei_tensor *inputs, size_t n,
                                         int *order) {
    ei_graph *g = s->graph;
    bool by_name = false;
    char b1[160], b2[160];

    if (n > 0 && !inputs) return ei_error(EI_STATUS_INVALID_ARGUMENT, "inputs is NULL");
    for (size_t i = 0; i < n; i++)
        if (inputs[i].name) by_name = true;
    for (int i = 0; i < g->n_inputs; i++) order[i] = -1;
    if (by_name) {
        for (size_t i = 0; i < n; i++) {
            int found = -1;
            if (!inputs[i].name)
                return ei_error(EI_STATUS_INVALID_ARGUMENT,
                                "input %zu has no name while others do: name all inputs or none", i);
            for (int k = 0; k < g->n_inputs; k++)
                if (strcmp(g->values[g->inputs[k]]->name, inputs[i].name) == 0) found = k;
            if (found < 0) {
                char names[512];
                size_t len = 0;
                names[0] = '\0';
                for (int k = 0; k < g->n_inputs && len < sizeof names; k++) {
                    int w = snprintf(names + len, sizeof names - len, "%s'%s'", k ? ", " : "",
                                     g->values[g->inputs[k]]->name);
                    if (w > 0) len += (size_t)w;
                }
                return ei_error(EI_STATUS_INVALID_ARGUMENT,
                                "unknown input name '%s'; the model's inputs are: %s", inputs[i].name,
                                names);
            }
            if (order[found] >= 0)
                return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s' is given twice", inputs[i].name);
            order[found] = (int)i;
        }
    } else {
        if (n > (size_t)g->n_inputs)
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "%zu inputs given, the model has %d", n,
                            g->n_inputs);
        for (size_t i = 0; i < n; i++) order[i] = (int)i;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        const ei_value *v = g->values[g->inputs[k]];
        if (order[k] < 0)
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "missing input '%s'", v->name);
        const ei_tensor *t = &inputs[order[k]];
        if (v->decl_dtype != EI_DTYPE_UNDEFINED && t->dtype != v->decl_dtype)
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s' has dtype %s, expected %s", v->name,
                            ei_dtype_name(t->dtype), ei_dtype_name(v->decl_dtype));
        if (ei_dtype_size(t->dtype) == 0)
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s' has unsupported dtype %s", v->name,
                            ei_dtype_name(t->dtype));
        if (t->rank < 0 || t->rank > EI_MAX_RANK)
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s' has rank %d, supported ranks are 0..%d",
                            v->name, t->rank, EI_MAX_RANK);
        size_t numel;
        if (!ei_shape_numel(t->rank, t->dims, &numel))
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s' has an invalid shape %s", v->name,
                            ei_shape_str(t->rank, t->dims, b1, sizeof b1));
        if (v->decl_rank >= 0) {
            bool ok = t->rank == v->decl_rank;
            for (int d = 0; ok && d < t->rank; d++)
                if (v->decl_dims[d] >= 0 && v->decl_dims[d] != t->dims[d]) ok = false;
            if (!ok) {
                /* Show the declared shape with symbolic names. */
                size_t len = 0;
                b2[0] = '\0';
                len += (size_t)snprintf(b2, sizeof b2, "[");
                for (int d = 0; d < v->decl_rank && len < sizeof b2; d++) {
                    int w;
                    if (v->decl_dims[d] >= 0)
                        w = snprintf(b2 + len, sizeof b2 - len, "%s%lld", d ? "," : "",
                                     (long long)v->decl_dims[d]);
                    else
                        w = snprintf(b2 + len, sizeof b2 - len, "%s%s", d ? "," : "",
                                     v->decl_dim_names[d] ? v->decl_dim_names[d] : "?");
                    if (w > 0) len += (size_t)w;
                }
                if (len < sizeof b2) snprintf(b2 + len, sizeof b2 - len, "]");
                if (t->rank != v->decl_rank)
                    return ei_error(EI_STATUS_INVALID_ARGUMENT,
                                    "input '%s' has rank %d (shape %s), expected rank %d (shape %s)",
                                    v->name, t->rank, ei_shape_str(t->rank, t->dims, b1, sizeof b1),
                                    v->decl_rank, b2);
                return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s' has shape %s, expected %s",
                                v->name, ei_shape_str(t->rank, t->dims, b1, sizeof b1), b2);
            }
        }
    }
    return EI_STATUS_OK;
}

static bool ei_shapes_equal(const ei_tensor *a, const ei_tensor *b) {
    if (a->dtype != b->dtype || a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d]) return false;
    return true;
}

static ei_status ei_session_track_known(ei_session *s, void *p) {
    if (s->n_known == s->cap_known) {
        int cap = s->cap_known ? 2 * s->cap_known : 32;
        void **nk = realloc(s->known, (size_t)cap * sizeof *nk);
        if (!nk) {
            free(p);
            return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory during reshape");
        }
        s->known = nk;
        s->cap_known = cap;
    }
    s->known[s->n_known++] = p;
    return EI_STATUS_OK;
}

/* True when node n's outputs can be computed now, before run: every input is known,
 * or the op reads only its input's shape. */
static bool ei_node_foldable(const ei_exec *ex, const ei_node *n) {
    bool shape_only = strcmp(n->domain, "") == 0 &&
                      (strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0);
    size_t out_bytes = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const ei_value *v = ei_node_in(ex, n, i);
        if (v && !ei_value_known(v) && !shape_only) return false;
    }
    for (int i = 0; i < n->n_outputs; i++) {
        const ei_value *v = ei_node_out(ex, n, i);
        if (v && !ei_size_add(out_bytes, v->nbytes, &out_bytes)) return false;
    }
    return out_bytes <= EI_FOLD_MAX_BYTES;
}

/* Computes node n during reshape into malloc'd outputs marked KNOWN. */
ei_status ei_session_eval_node(ei_exec *ex, ei_node *n, void *(*alloc)(void *ctx, size_t size),
                               void *ctx, uint32_t flag) {
    ei_status st = EI_STATUS_OK;
    void *scratch = NULL;
    for (int i = 0; i < n->n_outputs; i++) {
        ei_value *v = ei_node_out(ex, n, i);
        if (!v) continue;
        v->data = alloc(ctx, v->nbytes);
        if (!v->data) return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for output '%s'", v->name);
    }
    if (n->scratch_bytes) {
        scratch = ei_session_alloc_aligned(n->scratch_bytes);
        if (!scratch) return ei_node_error(n, EI_STATUS_OUT_OF_MEMORY, "out of memory for scratch");
    }
    n->scratch = scratch;
    st = n->op->fns->run(ex, n);
    n->scratch = NULL;
    free(scratch);
    if (st != EI_STATUS_OK) return st;
    for (int i = 0; i < n->n_outputs; i++) {
        ei_value *v = ei_node_out(ex, n, i);
        if (v) v->flags |= flag;
    }
    return EI_STATUS_OK;
}

static void *ei_session_known_alloc(void *ctx, size_t size) {
    ei_session *s = ctx;
    void *p = ei_session_alloc_aligned(size);
    if (p && ei_session_track_known(s, p) != EI_STATUS_OK) return NULL;
    return p;
}

/* Infers every shape from the bound input shapes, precomputes shape arithmetic and
 * plans the arena. On failure the session is left unplanned. */
static ei_status ei_session_plan(ei_session *s, const ei_tensor *inputs, const int *order) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = s->graph;
    ei_plan_buffer *bufs = NULL;
    int *buf_value = NULL; /* value index per buffer, or -(node+1) for scratch */
    size_t n_bufs = 0, total = 0;

    s->planned = false;
    ei_session_free_known(s);
    for (int i = 0; i < g->n_values; i++) {
        ei_value *v = g->values[i];
        if (v->flags & EI_VALUE_FLAG_CONST) continue;
        v->flags &= ~(uint32_t)EI_VALUE_FLAG_KNOWN;
        v->data = NULL;
        v->rank = -1;
        v->nbytes = 0;
        v->first_use = v->last_use = -1;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        const ei_tensor *t = &inputs[order[k]];
        EI_TRY(ei_value_set_shape(g->values[g->inputs[k]], t->dtype, t->rank, t->dims));
    }

    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        n->folded = false;
        n->scratch_bytes = 0;
        n->scratch = NULL;
        for (int k = 0; k < n->n_inputs; k++) {
            const ei_value *v = ei_node_in(&s->ex, n, k);
            if (v && v->rank < 0) {
                st = ei_node_error(n, EI_STATUS_INTERNAL, "input '%s' has no shape before the node runs",
                                   v->name);
                goto cleanup;
            }
        }
        EI_TRY(n->op->fns->infer(&s->ex, n));
        for (int k = 0; k < n->n_outputs; k++) {
            const ei_value *v = ei_node_out(&s->ex, n, k);
            if (v && v->rank < 0) {
                st = ei_node_error(n, EI_STATUS_INTERNAL, "output '%s' was not given a shape", v->name);
                goto cleanup;
            }
        }
        if (ei_node_foldable(&s->ex, n)) {
            EI_TRY(ei_session_eval_node(&s->ex, n, ei_session_known_alloc, s, EI_VALUE_FLAG_KNOWN));
            n->folded = true;
        }
    }

    /* Lifetimes: values that live in the arena are node outputs that are not known and
     * not graph outputs (those go straight into the caller's buffers). */
    bufs = calloc((size_t)g->n_values + (size_t)g->n_nodes + 1, sizeof *bufs);
    buf_value = calloc((size_t)g->n_values + (size_t)g->n_nodes + 1, sizeof *buf_value);
    if (!bufs || !buf_value) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory planning memory");
        goto cleanup;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (n->folded) continue;
        for (int k = 0; k < n->n_outputs; k++) {
            ei_value *v = ei_node_out(&s->ex, n, k);
            if (v && v->first_use < 0) v->first_use = v->last_use = i;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            ei_value *v = ei_node_in(&s->ex, n, k);
            if (v && v->first_use >= 0 && v->last_use < i) v->last_use = i;
        }
        if (n->scratch_bytes > 0) {
            bufs[n_bufs].size = n->scratch_bytes;
            bufs[n_bufs].first = bufs[n_bufs].last = i;
            buf_value[n_bufs++] = -(i + 1);
        }
    }
    for (int i = 0; i < g->n_values; i++) {
        ei_value *v = g->values[i];
        if (v->first_use < 0 || (v->flags & (EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_KNOWN | EI_VALUE_FLAG_OUTPUT)))
            continue;
        bufs[n_bufs].size = v->nbytes;
        bufs[n_bufs].first = v->first_use;
        bufs[n_bufs].last = v->last_use;
        buf_value[n_bufs++] = i;
    }
    EI_TRY(ei_plan_greedy(bufs, n_bufs, EI_ARENA_ALIGN, &total));
    if (total > s->arena_cap) {
        free(s->arena);
        s->arena = ei_session_alloc_aligned(total);
        s->arena_cap = s->arena ? total : 0;
        if (!s->arena) {
            st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory: the activation arena needs %zu bytes", total);
            goto cleanup;
        }
    }
    s->arena_bytes = total;
    for (size_t b = 0; b < n_bufs; b++) {
        char *p = (char *)s->arena + bufs[b].offset;
        if (buf_value[b] >= 0) g->values[buf_value[b]]->data = p;
        else g->nodes[-buf_value[b] - 1].scratch = p;
    }
    for (int k = 0; k < g->n_inputs; k++) s->bound[k] = inputs[order[k]];
    s->planned = true;

cleanup:
    free(bufs);
    free(buf_value);
    return st;
}

static ei_status ei_session_reshape_locked(ei_session *s, const ei_tensor *inputs, size_t n_inputs) {
    int *order = s->order;
    EI_CHECK(ei_session_match_inputs(s, inputs, n_inputs, order));
    if (s->planned) {
        bool same = true;
        for (int k = 0; k < s->graph->n_inputs && same; k++)
            same = ei_shapes_equal(&s->bound[k], &inputs[order[k]]);
        if (same) return EI_STATUS_OK;
    }
    return ei_session_plan(s, inputs, order);
}

ei_status ei_session_reshape(ei_session *s, const ei_tensor *inputs, size_t n_inputs) {
    if (!s) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session is NULL");
    pthread_mutex_lock(&s->lock);
    ei_status st = ei_session_reshape_locked(s, inputs, n_inputs);
    pthread_mutex_unlock(&s->lock);
    return st;
}

ei_status ei_session_output_shape(const ei_session *s, size_t i, ei_tensor *out) {
    if (!s || !out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "output_shape: NULL argument");
    if (i >= (size_t)s->graph->n_outputs)
        return ei_error(EI_STATUS_INVALID_ARGUMENT, "output index %zu out of range (model has %d outputs)",
                        i, s->graph->n_outputs);
    if (!s->planned)
        return ei_error(EI_STATUS_INVALID_ARGUMENT,
                        "output shapes are known only after reshape or run (the model's inputs have dynamic shapes)");
    const ei_value *v = s->graph->values[s->graph->outputs[i]];
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->dtype = v->dtype;
    out->rank = v->rank;
    memcpy(out->dims, v->dims, sizeof v->dims);
    out->nbytes = v->nbytes;
    return EI_STATUS_OK;
}

/* ------------------------------------------------------------------- run */

static ei_status ei_session_run_locked(ei_session *s, const ei_tensor *inputs, size_t n_inputs,
                                       ei_tensor *outputs, size_t n_outputs) {
    ei_graph *g = s->graph;
    EI_CHECK(ei_session_reshape_locked(s, inputs, n_inputs));
    if (n_outputs != (size_t)g->n_outputs)
        return ei_error(EI_STATUS_INVALID_ARGUMENT, "%zu output buffers given, the model has %d outputs",
                        n_outputs, g->n_outputs);
    if (n_outputs > 0 && !outputs) return ei_error(EI_STATUS_INVALID_ARGUMENT, "outputs is NULL");

    /* Bind inputs (read-only: no op writes its inputs). bound[] is in graph order. */
    for (int k = 0; k < g->n_inputs; k++) {
        ei_value *v = g->values[g->inputs[k]];
        const ei_tensor *t = &inputs[s->order[k]];
        if (v->nbytes > 0 && (!t->data || t->nbytes < v->nbytes))
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s': buffer of %zu bytes, %zu needed",
                            v->name, t->data ? t->nbytes : 0, v->nbytes);
        v->data = t->data;
    }
    /* Bind outputs: computed outputs are written in place; known ones, inputs and
     * repeated names are copied after the run. */
    for (int k = 0; k < g->n_outputs; k++) {
        ei_value *v = g->values[g->outputs[k]];
        ei_tensor *t = &outputs[k];
        if (v->nbytes > 0 && (!t->data || t->nbytes < v->nbytes))
            return ei_error(EI_STATUS_INVALID_ARGUMENT,
                            "output '%s': buffer of %zu bytes is too small, %zu needed", v->name,
                            t->data ? t->nbytes : 0, v->nbytes);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        ei_value *v = g->values[g->outputs[k]];
        bool first = true;
        for (int j = 0; j < k; j++)
            if (g->outputs[j] == g->outputs[k]) first = false;
        if (first && v->producer >= 0 && !g->nodes[v->producer].folded) v->data = outputs[k].data;
    }

    for (int i = 0; i < g->n_nodes; i++) {
        ei_node *n = &g->nodes[i];
        if (n->folded) continue;
        EI_CHECK(n->op->fns->run(&s->ex, n));
    }

    for (int k = 0; k < g->n_outputs; k++) {
        ei_value *v = g->values[g->outputs[k]];
        ei_tensor *t = &outputs[k];
        if (v->nbytes > 0 && t->data != v->data) memcpy(t->data, v->data, v->nbytes);
        t->dtype = v->dtype;
        t->rank = v->rank;
        memcpy(t->dims, v->dims, sizeof t->dims);
        t->nbytes = v->nbytes;
    }
    return EI_STATUS_OK;
}

ei_status ei_session_run(ei_session *s, const ei_tensor *inputs, size_t n_inputs, ei_tensor *outputs,
                         size_t n_outputs) {
    if (!s) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session is NULL");
    pthread_mutex_lock(&s->lock);
    ei_status st = ei_session_run_locked(s, inputs, n_inputs, outputs, n_outputs);
    pthread_mutex_unlock(&s->lock);
    return st;
}
