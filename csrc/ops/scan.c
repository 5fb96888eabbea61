/*
 * scan.c - Scan (opset 9+): runs the body once per position along each scan input's
 * axis, threading state values through, and stacks the body's scan outputs along their
 * output axes (either direction). Slices are copied into contiguous buffers owned by
 * the op, grown when the shapes grow.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/executor.h"
#include "ops/elem_util.h"

#define SCAN_MAX_VALUES 64

typedef struct scan_buf {
    void *p;
    size_t cap;
} scan_buf;

typedef struct scan_state {
    ei_executor *body;
    const ei_graph *g;
    int n_state, n_in, n_out; /* N state values, M scan inputs, K scan outputs */
    int64_t in_dir[SCAN_MAX_VALUES], out_dir[SCAN_MAX_VALUES];
    int64_t in_axis[SCAN_MAX_VALUES], out_axis[SCAN_MAX_VALUES];
    scan_buf slice[SCAN_MAX_VALUES];
    scan_buf states[2][SCAN_MAX_VALUES];
} scan_state;

static void scan_destroy(void *p) {
    scan_state *s = p;
    if (!s) return;
    ei_executor_free(s->body);
    for (int i = 0; i < SCAN_MAX_VALUES; i++) {
        ei_aligned_free(s->slice[i].p);
        ei_aligned_free(s->states[0][i].p);
        ei_aligned_free(s->states[1][i].p);
    }
    free(s);
}

static ei_status scan_reserve(const ei_node *node, scan_buf *b, size_t bytes) {
    if (bytes <= b->cap && b->p) return EI_STATUS_OK;
    void *p = ei_aligned_alloc(bytes);
    if (!p) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory: %zu bytes for a scan buffer", bytes);
    ei_aligned_free(b->p);
    b->p = p;
    b->cap = bytes;
    return EI_STATUS_OK;
}

/* Reads an optional INTS attribute of exactly n entries (default: all `def`). */
static ei_status scan_ints(const ei_node *node, const char *name, int n, int64_t def, int64_t *out) {
    const int64_t *v = NULL;
    size_t count = 0;
    EI_CHECK(ei_node_attr_ints(node, name, &v, &count));
    if (count == 0) {
        for (int i = 0; i < n; i++) out[i] = def;
        return EI_STATUS_OK;
    }
    if (count != (size_t)n)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute '%s' has %zu entries, expected %d", name,
                             count, n);
    memcpy(out, v, (size_t)n * sizeof *out);
    return EI_STATUS_OK;
}

static ei_status scan_prepare(ei_exec *ex, ei_node *node) {
    ei_status st = EI_STATUS_OK;
    scan_state *s = NULL;
    const ei_attr *a = ei_node_attr(node, "body");
    int64_t m = 0;

    if (!a || a->type != EI_ATTR_TYPE_GRAPH || !a->g)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'body' (a graph) is missing");
    EI_CHECK(ei_node_attr_int(node, "num_scan_inputs", -1, &m));
    if (m < 1 || m > node->n_inputs)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "num_scan_inputs must be in [1, %d], got %lld",
                             node->n_inputs, (long long)m);
    int n_state = node->n_inputs - (int)m, n_out = node->n_outputs - n_state;
    if (n_out < 0 || n_state > SCAN_MAX_VALUES || m > SCAN_MAX_VALUES || n_out > SCAN_MAX_VALUES)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "%d state values, %lld scan inputs and %d outputs do not fit (at most %d each)", n_state,
                             (long long)m, node->n_outputs, SCAN_MAX_VALUES);
    const ei_graph *g = a->g;
    if (g->n_inputs != node->n_inputs || g->n_outputs != node->n_outputs)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "body has %d inputs and %d outputs, the node %d and %d",
                             g->n_inputs, g->n_outputs, node->n_inputs, node->n_outputs);
    for (int i = 0; i < node->n_inputs; i++)
        if (node->inputs[i] < 0) return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input %d is missing", i);

    s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->g = g;
    s->n_state = n_state;
    s->n_in = (int)m;
    s->n_out = n_out;
    EI_TRY(scan_ints(node, "scan_input_directions", s->n_in, 0, s->in_dir));
    EI_TRY(scan_ints(node, "scan_output_directions", s->n_out, 0, s->out_dir));
    EI_TRY(scan_ints(node, "scan_input_axes", s->n_in, 0, s->in_axis));
    EI_TRY(scan_ints(node, "scan_output_axes", s->n_out, 0, s->out_axis));
    for (int i = 0; i < s->n_in; i++)
        if (s->in_dir[i] != 0 && s->in_dir[i] != 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "scan_input_directions must be 0 or 1");
            goto cleanup;
        }
    for (int i = 0; i < s->n_out; i++)
        if (s->out_dir[i] != 0 && s->out_dir[i] != 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "scan_output_directions must be 0 or 1");
            goto cleanup;
        }
    ei_executor_config cfg = {.pool = ex->pool,
                              .num_threads = ex->num_threads,
                              .optimization_level = 1,
                              .outputs_external = false,
                              .parent = ex->graph};
    st = ei_executor_create(a->g, &cfg, &s->body);
    if (st != EI_STATUS_OK) {
        ei_error_prefix("node '%s' (Scan): body", node->name);
        goto cleanup;
    }
    node->state = s;
    return EI_STATUS_OK;
cleanup:
    scan_destroy(s);
    return st;
}

static ei_status scan_infer(ei_exec *ex, ei_node *node) {
    scan_state *s = node->state;
    int64_t len = -1;
    for (int i = 0; i < s->n_in; i++) {
        const ei_value *x = ei_node_in(ex, node, s->n_state + i);
        int axis;
        if (!ei_elem_norm_axis(s->in_axis[i], x->rank, &axis))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "scan input '%s' (rank %d) has no axis %lld",
                                 x->name, x->rank, (long long)s->in_axis[i]);
        if (len >= 0 && x->dims[axis] != len)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "scan input '%s' has %lld steps along axis %d, another input has %lld", x->name,
                                 (long long)x->dims[axis], axis, (long long)len);
        len = x->dims[axis];
    }
    node->dynamic = true;
    return EI_STATUS_OK;
}

/* Copies slice t along axis of x into dst. */
static void scan_slice(const ei_value *x, int axis, int64_t t, void *dst) {
    size_t es = ei_dtype_size(x->dtype), outer = 1, inner = es;
    for (int d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
    size_t len = (size_t)x->dims[axis];
    for (size_t o = 0; o < outer; o++)
        memcpy((char *)dst + o * inner, (const char *)x->data + (o * len + (size_t)t) * inner, inner);
}

static ei_status scan_run(ei_exec *ex, ei_node *node) {
    scan_state *s = node->state;
    const ei_graph *g = s->g;
    int64_t len = 0;
    int in_axis[SCAN_MAX_VALUES], cur = -1;

    for (int i = 0; i < s->n_in; i++) {
        const ei_value *x = ei_node_in(ex, node, s->n_state + i);
        ei_elem_norm_axis(s->in_axis[i], x->rank, &in_axis[i]);
        len = x->dims[in_axis[i]];
    }
    for (int64_t t = 0; t < len; t++) {
        for (int j = 0; j < s->n_state; j++) {
            const ei_value *src = cur < 0 ? ei_node_in(ex, node, j) : g->values[g->outputs[j]];
            ei_value *v = g->values[g->inputs[j]];
            EI_CHECK(ei_value_set_shape(v, src->dtype, src->rank, src->dims));
            v->data = cur < 0 ? src->data : s->states[cur][j].p;
        }
        for (int i = 0; i < s->n_in; i++) {
            const ei_value *x = ei_node_in(ex, node, s->n_state + i);
            ei_value *v = g->values[g->inputs[s->n_state + i]];
            int64_t dims[EI_MAX_RANK];
            int r = 0;
            for (int d = 0; d < x->rank; d++)
                if (d != in_axis[i]) dims[r++] = x->dims[d];
            EI_CHECK(ei_value_set_shape(v, x->dtype, r, dims));
            EI_CHECK(scan_reserve(node, &s->slice[i], v->nbytes));
            scan_slice(x, in_axis[i], s->in_dir[i] ? len - 1 - t : t, s->slice[i].p);
            v->data = s->slice[i].p;
        }
        ei_status st = ei_executor_run(s->body);
        if (st != EI_STATUS_OK) {
            ei_error_prefix("node '%s' (Scan): step %lld", node->name, (long long)t);
            return st;
        }
        int next = cur < 0 ? 0 : 1 - cur;
        for (int j = 0; j < s->n_state; j++) {
            const ei_value *o = g->values[g->outputs[j]];
            EI_CHECK(scan_reserve(node, &s->states[next][j], o->nbytes));
            if (o->nbytes) memcpy(s->states[next][j].p, o->data, o->nbytes);
        }
        for (int k = 0; k < s->n_out; k++) {
            const ei_value *o = g->values[g->outputs[s->n_state + k]];
            int idx = s->n_state + k, axis;
            if (o->rank + 1 > EI_MAX_RANK || !ei_elem_norm_axis(s->out_axis[k], o->rank + 1, &axis))
                return ei_node_error(node, EI_STATUS_INVALID_MODEL, "scan output '%s' (rank %d) has no axis %lld",
                                     o->name, o->rank + 1, (long long)s->out_axis[k]);
            ei_value *y = ei_node_out(ex, node, idx);
            if (!y) continue;
            int64_t dims[EI_MAX_RANK];
            for (int d = 0, r = 0; d <= o->rank; d++) dims[d] = d == axis ? len : o->dims[r++];
            if (t == 0) {
                EI_CHECK(ei_node_alloc_output(ex, node, idx, o->dtype, o->rank + 1, dims));
            } else if (y->dtype != o->dtype || y->rank != o->rank + 1 ||
                       memcmp(y->dims, dims, (size_t)y->rank * sizeof dims[0]) != 0) {
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "scan output '%s' changes shape at step %lld", o->name, (long long)t);
            }
            /* Place slice at position p along axis. */
            size_t es = ei_dtype_size(o->dtype), outer = 1, inner = es;
            for (int d = 0; d < axis; d++) outer *= (size_t)o->dims[d];
            for (int d = axis; d < o->rank; d++) inner *= (size_t)o->dims[d];
            size_t p = (size_t)(s->out_dir[k] ? len - 1 - t : t);
            for (size_t q = 0; q < outer; q++)
                memcpy((char *)y->data + (q * (size_t)len + p) * inner, (const char *)o->data + q * inner, inner);
        }
        cur = next;
    }
    for (int j = 0; j < s->n_state; j++) {
        const ei_value *init = ei_node_in(ex, node, j);
        const ei_value *last = cur < 0 ? init : g->values[g->outputs[j]];
        if (node->outputs[j] < 0) continue;
        EI_CHECK(ei_node_alloc_output(ex, node, j, last->dtype, last->rank, last->dims));
        ei_value *y = ei_node_out(ex, node, j);
        if (y->nbytes) memcpy(y->data, cur < 0 ? init->data : s->states[cur][j].p, y->nbytes);
    }
    if (len == 0) {
        /* No step ran: scan outputs are empty along their axis; other dims from the body's declaration. */
        for (int k = 0; k < s->n_out; k++) {
            int idx = s->n_state + k;
            if (node->outputs[idx] < 0) continue;
            const ei_value *bo = g->values[g->outputs[idx]];
            int rank = bo->decl_rank >= 0 && bo->decl_rank < EI_MAX_RANK ? bo->decl_rank + 1 : 1, axis = 0;
            int64_t dims[EI_MAX_RANK];
            ei_elem_norm_axis(s->out_axis[k], rank, &axis);
            for (int d = 0, r = 0; d < rank; d++) {
                if (d == axis) {
                    dims[d] = 0;
                    continue;
                }
                dims[d] = bo->decl_dims[r] >= 0 ? bo->decl_dims[r] : 0;
                r++;
            }
            EI_CHECK(ei_node_alloc_output(ex, node, idx,
                                          bo->decl_dtype != EI_DTYPE_UNDEFINED ? bo->decl_dtype : EI_DTYPE_F32,
                                          rank, dims));
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_scan = {scan_prepare, scan_infer, scan_run, scan_destroy,
                                  .dtypes = "any"};
