/*
 * split.c - Split along one axis into the node's outputs, for any fixed-size dtype.
 * Sizes come from the 'split' attribute (opsets 2-12), the 'split' input (13+),
 * 'num_outputs' (18+: chunks of ceil(dim/n), the last one smaller) or an equal division.
 * A 'split' input whose data is not known at infer makes the node dynamic. Large inputs
 * are copied over the thread pool in equal byte ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

/* Splits into at most this many outputs are copied over the thread pool when large. */
#define EI_SPLIT_MAX_FAST 16

typedef struct split_state {
    int64_t axis_attr;
    int64_t num_outputs; /* 0: attribute absent */
    int64_t *split_attr; /* NULL: absent */
    size_t n_split_attr;
    int n_out;
    int64_t *sizes; /* [n_out], from the last infer (or run when dynamic) */
    int axis;
    size_t outer, inner; /* outer count; bytes per index along the axis */
} split_state;

static void split_destroy(void *p) {
    split_state *s = p;
    if (!s) return;
    free(s->split_attr);
    free(s->sizes);
    free(s);
}

/* The input that carries 'split' in this opset, or -1. (Split-1, whose 'split' input has
 * the data's float type, is not registered: no exporter writes it, onnxruntime lacks it.) */
static int split_input_index(const ei_node *node) {
    return node->opset >= 13 ? 1 : -1;
}

static ei_status split_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    split_state *s = NULL;
    const int64_t *sp = NULL;
    size_t n_sp = 0;
    int max_in = split_input_index(node) >= 0 ? 2 : 1;
    EI_TRY(ei_elem_check_io(node, 1, max_in, node->n_outputs > 0 ? node->n_outputs : 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->n_out = node->n_outputs;
    s->sizes = calloc((size_t)s->n_out, sizeof *s->sizes);
    if (!s->sizes) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis_attr));
    if (node->opset < 13) {
        EI_TRY(ei_node_attr_ints(node, "split", &sp, &n_sp));
        if (sp) {
            s->split_attr = malloc((n_sp ? n_sp : 1) * sizeof *sp);
            if (!s->split_attr) {
                st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
                goto cleanup;
            }
            if (n_sp) memcpy(s->split_attr, sp, n_sp * sizeof *sp);
            s->n_split_attr = n_sp;
        }
    }
    if (node->opset >= 18) {
        EI_TRY(ei_node_attr_int(node, "num_outputs", 0, &s->num_outputs));
        if (ei_node_attr(node, "num_outputs")) {
            if (s->num_outputs != s->n_out) {
                st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                   "attribute 'num_outputs' = %lld but the node has %d outputs",
                                   (long long)s->num_outputs, s->n_out);
                goto cleanup;
            }
            if (node->n_inputs > 1 && node->inputs[1] >= 0) {
                st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                   "input 'split' and attribute 'num_outputs' are both given");
                goto cleanup;
            }
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    split_destroy(s);
    return st;
}

/* Fills s->sizes for the current input shape from the attribute, the input (which must
 * have data) or an equal division. */
static ei_status split_sizes(const ei_exec *ex, const ei_node *node, split_state *s) {
    const ei_value *x = ei_node_in(ex, node, 0);
    const int si = split_input_index(node);
    const ei_value *sv = si >= 0 ? ei_node_in(ex, node, si) : NULL;
    const int64_t dim = x->dims[s->axis];
    const int n = s->n_out;
    if (sv && ei_value_numel(sv) == 0) sv = NULL; /* an empty 'split' means "not given" */
    if (sv || s->split_attr) {
        size_t count = sv ? ei_value_numel(sv) : s->n_split_attr;
        const char *what = sv ? "input" : "attribute";
        if (count != (size_t)n)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "%s 'split' has %zu entries but the node has %d outputs", what,
                                 count, n);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            int64_t v;
            if (sv)
                memcpy(&v, (const char *)sv->data + (size_t)i * 8, 8);
            else
                v = s->split_attr[i];
            if (v < 0 || v > dim - sum)
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "%s 'split' entry %d = %lld: the sizes must be >= 0 and add "
                                     "up to dim %d of input '%s' (%lld)",
                                     what, i, (long long)v, s->axis, x->name, (long long)dim);
            s->sizes[i] = v;
            sum += v;
        }
        if (sum != dim)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "%s 'split' adds up to %lld, but dim %d of input '%s' is %lld",
                                 what, (long long)sum, s->axis, x->name, (long long)dim);
        return EI_STATUS_OK;
    }
    if (dim % n == 0) {
        for (int i = 0; i < n; i++)
            s->sizes[i] = dim / n;
        return EI_STATUS_OK;
    }
    if (node->opset < 18)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "dim %d of input '%s' (%lld) cannot be split evenly into %d outputs",
                             s->axis, x->name, (long long)dim, n);
    /* Opset 18: chunks of ceil(dim / n), the last one smaller. */
    int64_t chunk = dim / n + 1;
    if (chunk * (n - 1) >= dim)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "dim %d of input '%s' (%lld) cannot be split into %d chunks of %lld "
                             "with a smaller last one",
                             s->axis, x->name, (long long)dim, n, (long long)chunk);
    for (int i = 0; i < n; i++)
        s->sizes[i] = i < n - 1 ? chunk : dim - chunk * (n - 1);
    return EI_STATUS_OK;
}

static ei_status split_set_outputs(ei_exec *ex, ei_node *node, const split_state *s, bool alloc) {
    const ei_value *x = ei_node_in(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    for (int i = 0; i < s->n_out; i++) {
        ei_value *y = ei_node_out(ex, node, i);
        if (!y) continue;
        dims[s->axis] = s->sizes[i];
        if (alloc)
            EI_CHECK(ei_node_alloc_output(ex, node, i, x->dtype, x->rank, dims));
        else
            EI_CHECK(ei_elem_set_out(node, y, x->dtype, x->rank, dims));
    }
    return EI_STATUS_OK;
}

static ei_status split_infer(ei_exec *ex, ei_node *node) {
    split_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    const int si = split_input_index(node);
    const ei_value *sv = si >= 0 ? ei_node_in(ex, node, si) : NULL;
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis_attr, x->rank, &s->axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis_attr, x->name, x->rank);
    if (sv && (sv->dtype != EI_DTYPE_I64 || sv->rank > 1))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (split) must be a 1-D int64 tensor, got %s rank %d",
                             sv->name, ei_dtype_name(sv->dtype), sv->rank);
    s->outer = 1;
    s->inner = ei_dtype_size(x->dtype);
    for (int i = 0; i < s->axis; i++)
        s->outer *= (size_t)x->dims[i];
    for (int i = s->axis + 1; i < x->rank; i++)
        s->inner *= (size_t)x->dims[i];
    if (sv && !ei_value_known(sv) && ei_value_numel(sv) > 0) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(split_sizes(ex, node, s));
    return split_set_outputs(ex, node, s, false);
}

/* One copy over the pool: task t takes bytes [t*per, (t+1)*per) of the input and copies
 * its part of every (output, outer index) run, so large splits use every thread. */
typedef struct split_job {
    const split_state *s;
    const char *x;
    char *y[EI_SPLIT_MAX_FAST];
    size_t dim, total, per;
} split_job;

static void split_task(void *arg, size_t task, int thread) {
    (void)thread;
    const split_job *j = arg;
    const split_state *s = j->s;
    size_t b = task * j->per, e = b + j->per < j->total ? b + j->per : j->total;
    size_t row = j->dim * s->inner; /* input bytes per outer index */
    if (!row) return;
    for (size_t o = b / row; o < s->outer && o * row < e; o++) {
        size_t off = 0;
        for (int i = 0; i < s->n_out; i++) {
            size_t len = (size_t)s->sizes[i] * s->inner, rs = o * row + off;
            off += len;
            size_t lo = rs > b ? rs : b, hi = rs + len < e ? rs + len : e;
            if (!j->y[i] || lo >= hi) continue;
            memcpy(j->y[i] + o * len + (lo - rs), j->x + lo, hi - lo);
        }
    }
}

static ei_status split_run(ei_exec *ex, ei_node *node) {
    split_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    if (node->dynamic) {
        EI_CHECK(split_sizes(ex, node, s)); /* runs of one session are serialized */
        EI_CHECK(split_set_outputs(ex, node, s, true));
    }
    const size_t dim = (size_t)x->dims[s->axis];
    size_t tasks = ei_elem_tasks(ex, x->nbytes, (size_t)1 << 16);
    if (tasks > 1 && s->n_out <= EI_SPLIT_MAX_FAST) {
        split_job j;
        memset(&j, 0, sizeof j);
        j.s = s;
        j.x = x->data;
        for (int i = 0; i < s->n_out; i++) {
            ei_value *y = ei_node_out(ex, node, i);
            j.y[i] = y ? (char *)y->data : NULL;
        }
        j.dim = dim;
        j.total = x->nbytes;
        j.per = (x->nbytes + tasks - 1) / tasks;
        j.per = (j.per + 63) & ~(size_t)63;
        ei_threadpool_run(ex->pool, (x->nbytes + j.per - 1) / j.per, split_task, &j);
        return EI_STATUS_OK;
    }
    size_t off = 0;
    for (int i = 0; i < s->n_out; i++) {
        ei_value *y = ei_node_out(ex, node, i);
        size_t len = (size_t)s->sizes[i] * s->inner;
        if (y && len) {
            for (size_t o = 0; o < s->outer; o++)
                memcpy((char *)y->data + o * len,
                       (const char *)x->data + (o * dim) * s->inner + off, len);
        }
        off += len;
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_split = {split_prepare, split_infer, split_run, split_destroy,
                                   .dtypes = "any"};
