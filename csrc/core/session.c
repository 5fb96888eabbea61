/*
 * session.c - the public session API: create (parse, resolve ops, prepare, optimize; each
 * phase timed), reshape (infer shapes, precompute shape arithmetic, plan the arena), run
 * (bind caller buffers, call each node's run) and the profiling queries. Parsing is onnx/'s,
 * passes are opt/'s, op semantics are ops/', buffer placement is planner.c's, and the
 * per-node records are executor.c's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/executor.h"
#include "kernels/kernels.h"
#include "onnx/onnx.h"

struct ei_session {
    ei_model *model;
    ei_graph *graph;
    ei_executor *exec;
    ei_threadpool *pool;
    int num_threads;
    pthread_mutex_t lock;

    ei_creation_stats stats; /* plan_ns is set by the first successful plan */
    bool planned_once;

    /* Shapes of the last successful reshape (bound[k] for graph input k). */
    bool planned;
    ei_tensor *bound;
    int *order; /* order[k]: index in the caller's array of graph input k (last match) */
};

void ei_options_init(ei_options *opt) {
    if (!opt) return;
    memset(opt, 0, sizeof *opt);
    opt->num_threads = 0;
    opt->optimization_level = 1;
    opt->enable_profiling = 0;
}

size_t ei_session_input_count(const ei_session *s) { return s ? (size_t)s->graph->n_inputs : 0; }
size_t ei_session_output_count(const ei_session *s) { return s ? (size_t)s->graph->n_outputs : 0; }
size_t ei_session_arena_bytes(const ei_session *s) {
    return s && s->planned ? ei_executor_arena_bytes(s->exec) : 0;
}
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

/* stats: read and parse times so far; the rest is filled here. */
static ei_status ei_session_create_from_model(ei_model *model, const ei_options *opt_in,
                                              const ei_creation_stats *stats, ei_session **out) {
    ei_status st = EI_STATUS_OK;
    ei_session *s = NULL;
    ei_options opt;
    uint64_t t0 = ei_now_ns();

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
    s->stats = *stats;
    s->num_threads = opt.num_threads > 0 ? opt.num_threads : ei_cpu_count();
    uint64_t t1 = ei_now_ns();
    if (ei_threadpool_create(s->num_threads, &s->pool) != 0) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "could not start %d threads", s->num_threads);
        goto cleanup;
    }
    s->stats.threads_ns = ei_now_ns() - t1;
    s->bound = calloc((size_t)(s->graph->n_inputs > 0 ? s->graph->n_inputs : 1), sizeof *s->bound);
    s->order = calloc((size_t)(s->graph->n_inputs > 0 ? s->graph->n_inputs : 1), sizeof *s->order);
    if (!s->bound || !s->order) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory creating a session");
        goto cleanup;
    }

    ei_executor_config cfg = {.pool = s->pool,
                              .num_threads = s->num_threads,
                              .optimization_level = opt.optimization_level,
                              .outputs_external = true,
                              .parent = NULL};
    EI_TRY(ei_executor_create(s->graph, &cfg, &s->exec));
    ei_executor_creation_times(s->exec, &s->stats.prepare_ns, &s->stats.optimize_ns);
    ei_executor_set_profiling(s->exec, opt.enable_profiling != 0);

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

    s->stats.total_ns += ei_now_ns() - t0;
    *out = s;
    return EI_STATUS_OK;

cleanup:
    ei_session_free(s);
    return st;
}

/* create_from_memory with the time already spent (reading the file) in *stats. When
 * owned_data is set, *owned_data (the caller's file bytes: malloc'd, or mapped by
 * ei_map_file when mapped) is released right after parsing: the model keeps its own
 * copies, so the file and the packed weights are never in memory at the same time (peak
 * memory of session creation). */
static ei_status ei_session_create_timed(const void *data, size_t size, const char *base_dir,
                                         const ei_options *opt, ei_creation_stats *stats,
                                         void **owned_data, bool mapped, ei_session **out) {
    ei_model *model = NULL;
    if (!out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session out-parameter is NULL");
    *out = NULL;
    if (!data && size > 0) return ei_error(EI_STATUS_INVALID_ARGUMENT, "model data is NULL");
    uint64_t t0 = ei_now_ns();
    EI_CHECK(ei_onnx_parse_ex(data, size, base_dir, mapped, &model));
    stats->parse_ns = ei_now_ns() - t0;
    stats->total_ns = stats->read_ns + stats->parse_ns;
    if (owned_data) {
        if (mapped) ei_unmap_file(*owned_data, size);
        else free(*owned_data);
        *owned_data = NULL;
    }
    return ei_session_create_from_model(model, opt, stats, out);
}

ei_status ei_session_create_from_memory(const void *data, size_t size, const char *base_dir,
                                        const ei_options *opt, ei_session **out) {
    ei_creation_stats stats;
    memset(&stats, 0, sizeof stats);
    return ei_session_create_timed(data, size, base_dir, opt, &stats, NULL, false, out);
}

ei_status ei_session_create_from_file(const char *path, const ei_options *opt, ei_session **out) {
    ei_status st = EI_STATUS_OK;
    bool mapped = false;
    void *data = NULL;
    size_t size = 0;
    char *dir = NULL;

    if (!out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session out-parameter is NULL");
    *out = NULL;
    if (!path) return ei_error(EI_STATUS_INVALID_ARGUMENT, "model path is NULL");
    ei_creation_stats stats;
    memset(&stats, 0, sizeof stats);
    uint64_t t0 = ei_now_ns();
    /* Mapped, the tensors' pages are dropped as they are copied (ei_onnx_parse_ex). */
    mapped = ei_map_file(path, &data, &size);
    if (!mapped) EI_TRY(ei_read_file(path, &data, &size));
    stats.read_ns = ei_now_ns() - t0;
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
    st = ei_session_create_timed(data, size, dir, opt, &stats, &data, mapped, out);
    if (st != EI_STATUS_OK) ei_error_prefix("%s", path);

cleanup:
    if (mapped) ei_unmap_file(data, size);
    else free(data);
    free(dir);
    return st;
}

void ei_session_free(ei_session *s) {
    if (!s) return;
    ei_executor_free(s->exec);
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
        if (ei_dtype_bits(t->dtype) == 0)
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

/* Binds the caller's input shapes and has the executor infer and plan. */
static ei_status ei_session_plan(ei_session *s, const ei_tensor *inputs, const int *order) {
    ei_graph *g = s->graph;
    s->planned = false;
    for (int k = 0; k < g->n_inputs; k++) {
        const ei_tensor *t = &inputs[order[k]];
        EI_CHECK(ei_value_set_shape(g->values[g->inputs[k]], t->dtype, t->rank, t->dims));
    }
    uint64_t t0 = ei_now_ns();
    EI_CHECK(ei_executor_plan(s->exec));
    if (!s->planned_once) {
        s->stats.plan_ns = ei_now_ns() - t0;
        s->planned_once = true;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        s->bound[k] = inputs[order[k]];
        s->bound[k].data = NULL;
    }
    s->planned = true;
    return EI_STATUS_OK;
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
    if (!ei_executor_output_shape_known(s->exec, (int)i)) {
        out->dtype = v->decl_dtype;
        out->rank = -1;
        return EI_STATUS_OK;
    }
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

    /* Bind inputs (read-only: no op writes its inputs). */
    for (int k = 0; k < g->n_inputs; k++) {
        ei_value *v = g->values[g->inputs[k]];
        const ei_tensor *t = &inputs[s->order[k]];
        if (v->nbytes > 0 && (!t->data || t->nbytes < v->nbytes))
            return ei_error(EI_STATUS_INVALID_ARGUMENT, "input '%s': buffer of %zu bytes, %zu needed",
                            v->name, t->data ? t->nbytes : 0, v->nbytes);
        v->data = t->data;
    }
    /* Bind outputs: computed outputs are written straight into the caller's buffers
     * (or kept by the session when data is NULL); outputs that are inputs, constants,
     * precomputed or repeated are copied after the run. */
    for (int k = 0; k < g->n_outputs; k++) {
        const ei_value *v = g->values[g->outputs[k]];
        ei_tensor *t = &outputs[k];
        if (t->data && ei_executor_output_shape_known(s->exec, k) && t->nbytes < v->nbytes)
            return ei_error(EI_STATUS_INVALID_ARGUMENT,
                            "output '%s': buffer of %zu bytes is too small, %zu needed", v->name,
                            t->nbytes, v->nbytes);
    }
    for (int k = 0; k < g->n_outputs; k++) {
        bool first = true;
        for (int j = 0; j < k; j++)
            if (g->outputs[j] == g->outputs[k]) first = false;
        if (first) ei_executor_bind_output(s->exec, k, outputs[k].data, outputs[k].data ? outputs[k].nbytes : 0);
    }

    ei_status st = ei_executor_run(s->exec);
    if (st != EI_STATUS_OK) {
        /* A failed re-plan during run leaves the plan stale. */
        if (!ei_executor_planned(s->exec)) s->planned = false;
        return st;
    }

    for (int k = 0; k < g->n_outputs; k++) {
        const ei_value *v = g->values[g->outputs[k]];
        ei_tensor *t = &outputs[k];
        if (t->data) {
            if (t->nbytes < v->nbytes)
                return ei_error(EI_STATUS_INVALID_ARGUMENT,
                                "output '%s': buffer of %zu bytes is too small, %zu needed", v->name,
                                t->nbytes, v->nbytes);
            if (v->nbytes > 0 && t->data != v->data) memcpy(t->data, v->data, v->nbytes);
        } else {
            t->data = v->data;
        }
        t->name = v->name;
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

/* ------------------------------------------------------------- profiling */

/* The queries take the session's lock (a run may be updating the records); the lock is
 * the only thing they change, hence the casts. */
static void ei_session_lock_const(const ei_session *s) { pthread_mutex_lock((pthread_mutex_t *)&s->lock); }
static void ei_session_unlock_const(const ei_session *s) { pthread_mutex_unlock((pthread_mutex_t *)&s->lock); }

ei_status ei_session_set_profiling(ei_session *s, int enable) {
    if (!s) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session is NULL");
    pthread_mutex_lock(&s->lock);
    ei_executor_set_profiling(s->exec, enable != 0);
    pthread_mutex_unlock(&s->lock);
    return EI_STATUS_OK;
}

size_t ei_session_profile_count(const ei_session *s) {
    if (!s) return 0;
    ei_session_lock_const(s);
    size_t n = ei_executor_profile_count(s->exec);
    ei_session_unlock_const(s);
    return n;
}

ei_status ei_session_profile_entry(const ei_session *s, size_t i, ei_profile_entry *out) {
    if (!s || !out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "profile_entry: NULL argument");
    ei_session_lock_const(s);
    bool ok = ei_executor_profile_entry(s->exec, i, out);
    size_t n = ok ? 0 : ei_executor_profile_count(s->exec);
    ei_session_unlock_const(s);
    if (!ok)
        return ei_error(EI_STATUS_INVALID_ARGUMENT, "profile entry %zu out of range (%zu entries)", i, n);
    return EI_STATUS_OK;
}

ei_status ei_session_profile_runs(const ei_session *s, uint64_t *runs, uint64_t *total_ns) {
    if (!s) return ei_error(EI_STATUS_INVALID_ARGUMENT, "session is NULL");
    ei_session_lock_const(s);
    ei_executor_profile_runs(s->exec, runs, total_ns);
    ei_session_unlock_const(s);
    return EI_STATUS_OK;
}

void ei_session_profile_reset(ei_session *s) {
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    ei_executor_profile_reset(s->exec);
    pthread_mutex_unlock(&s->lock);
}

ei_status ei_session_creation_stats(const ei_session *s, ei_creation_stats *out) {
    if (!s || !out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "creation_stats: NULL argument");
    ei_session_lock_const(s);
    *out = s->stats;
    ei_session_unlock_const(s);
    return EI_STATUS_OK;
}
