/*
 * slice.c - Slice for any fixed-size dtype. Opset 1 reads starts/ends/axes attributes;
 * opset 10+ reads starts/ends/axes/steps inputs (negative steps walk backwards). Bounds
 * are clamped as ONNX specifies. When the bound inputs are not known at infer the node is
 * dynamic and computes its plan and output shape in run. The plan merges trailing dims that
 * are taken whole into one contiguous block; strided_copy.c runs it over the thread pool.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/strided_copy.h"

typedef struct slice_state {
    int64_t starts[EI_MAX_RANK], ends[EI_MAX_RANK], axes[EI_MAX_RANK]; /* opset < 10 */
    size_t n_attr;
    bool has_axes;
    ei_strided_op_plan plan; /* from the last infer when not dynamic (copy strides are
                              * negative for negative steps) */
} slice_state;

static ei_status slice_copy_attr(ei_node *node, const char *name, bool required, int64_t *dst,
                                 size_t *n_out, bool *present) {
    const int64_t *v = NULL;
    size_t n = 0;
    EI_CHECK(ei_node_attr_ints(node, name, &v, &n));
    if (present) *present = v != NULL;
    if (!v) {
        if (required)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute '%s' is required", name);
        return EI_STATUS_OK;
    }
    if (n > EI_MAX_RANK)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "attribute '%s' has %zu entries, more than %d", name, n, EI_MAX_RANK);
    if (n) memcpy(dst, v, n * sizeof *v);
    *n_out = n;
    return EI_STATUS_OK;
}

static ei_status slice_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    slice_state *s = NULL;
    bool old = node->opset < 10;
    EI_TRY(ei_elem_check_io(node, old ? 1 : 3, old ? 1 : 5, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (old) {
        size_t ns = 0, ne = 0, na = 0;
        EI_TRY(slice_copy_attr(node, "starts", true, s->starts, &ns, NULL));
        EI_TRY(slice_copy_attr(node, "ends", true, s->ends, &ne, NULL));
        EI_TRY(slice_copy_attr(node, "axes", false, s->axes, &na, &s->has_axes));
        if (ns != ne || (s->has_axes && na != ns)) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attributes 'starts' (%zu), 'ends' (%zu) and 'axes' (%zu) must have "
                               "the same length",
                               ns, ne, s->has_axes ? na : ns);
            goto cleanup;
        }
        s->n_attr = ns;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* Reads optional input i (starts, ends, axes, steps) into out; *n = SIZE_MAX when absent. */
static ei_status slice_read(const ei_exec *ex, const ei_node *node, int i, const char *what,
                            int64_t *out, size_t *n) {
    const ei_value *v = ei_node_in(ex, node, i);
    *n = SIZE_MAX;
    if (!v) return EI_STATUS_OK;
    return ei_elem_read_ints(node, v, what, out, EI_MAX_RANK, n);
}

/* Builds the plan for input x from bounds (axes/steps may be NULL for defaults). */
static ei_status slice_make_plan(const ei_node *node, const ei_value *x, const int64_t *starts,
                                 const int64_t *ends, const int64_t *axes, const int64_t *steps,
                                 size_t n, ei_strided_op_plan *p) {
    const int r = x->rank;
    const size_t es = ei_dtype_size(x->dtype);
    int64_t start[EI_MAX_RANK], step[EI_MAX_RANK];
    bool seen[EI_MAX_RANK] = {false};
    if (n > (size_t)r)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "%zu slice bounds given for input '%s' of rank %d", n, x->name, r);
    for (int d = 0; d < r; d++) {
        start[d] = 0;
        step[d] = 1;
        p->dims[d] = x->dims[d];
    }
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes ? axes[i] : (int64_t)i;
        int ax;
        if (!ei_elem_norm_axis(a, r, &ax))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "axis %lld is out of range for input '%s' of rank %d",
                                 (long long)a, x->name, r);
        if (seen[ax])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                 (long long)a);
        seen[ax] = true;
        int64_t dim = x->dims[ax], st = steps ? steps[i] : 1;
        int64_t b = starts[i], e = ends[i], cnt;
        if (st == 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "step for axis %d is 0", ax);
        /* INT_MAX as an end means "to the end of the axis" in either direction (what
         * exporters write for an open slice; onnxruntime reads it the same way). */
        if ((e == INT32_MAX || e == INT64_MAX) && st < 0) e = -dim - 1;
        if (b < 0) b += dim; /* no overflow: dim >= 0 */
        if (e < 0) e += dim;
        if (st > 0) {
            b = b < 0 ? 0 : (b > dim ? dim : b);
            e = e < 0 ? 0 : (e > dim ? dim : e);
            uint64_t diff = e > b ? (uint64_t)(e - b) : 0;
            cnt = (int64_t)(diff / (uint64_t)st + (diff % (uint64_t)st != 0));
        } else {
            b = b < 0 ? 0 : b;
            b = b > dim - 1 ? dim - 1 : b; /* -1 for an empty axis: nothing taken */
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
            uint64_t mag = (uint64_t)0 - (uint64_t)st; /* |st|, also for INT64_MIN */
            uint64_t diff = b > e ? (uint64_t)(b - e) : 0;
            cnt = (int64_t)(diff / mag + (diff % mag != 0));
        }
        start[ax] = cnt > 0 ? b : 0;
        step[ax] = cnt > 1 ? st : 1; /* a step past the end is never taken */
        p->dims[ax] = cnt;
    }
    p->rank = r;

    ei_strided_plan *c = &p->copy;
    /* Source strides in bytes, base offset. */
    ptrdiff_t istr[EI_MAX_RANK];
    size_t acc = es;
    c->base = 0;
    for (int d = r - 1; d >= 0; d--) {
        istr[d] = (ptrdiff_t)acc;
        c->base += (ptrdiff_t)start[d] * istr[d];
        acc *= (size_t)x->dims[d];
    }
    /* Trailing dims taken whole (and then one more with step 1) form the block. */
    size_t block = es;
    int d = r - 1;
    while (d >= 0 && step[d] == 1 && start[d] == 0 && p->dims[d] == x->dims[d]) {
        block *= (size_t)p->dims[d];
        d--;
    }
    if (d >= 0 && step[d] == 1) {
        block *= (size_t)p->dims[d];
        d--;
    }
    c->block = block;
    c->n = 0;
    for (int k = 0; k <= d; k++) {
        if (p->dims[k] == 1) continue; /* offset already in base */
        c->count[c->n] = (size_t)p->dims[k];
        c->stride[c->n] = (ptrdiff_t)step[k] * istr[k];
        c->n++;
    }
    if (c->n == 0) {
        c->count[0] = 1;
        c->stride[0] = 0;
        c->n = 1;
    }
    ei_strided_plan_finish(c);
    return EI_STATUS_OK;
}

/* Plan from the node's attributes or inputs (which must have data). */
static ei_status slice_plan_node(const ei_exec *ex, const ei_node *node, const slice_state *s,
                                 ei_strided_op_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (node->opset < 10)
        return slice_make_plan(node, x, s->starts, s->ends, s->has_axes ? s->axes : NULL, NULL,
                               s->n_attr, p);
    int64_t b[EI_MAX_RANK], e[EI_MAX_RANK], a[EI_MAX_RANK], st[EI_MAX_RANK];
    size_t nb, ne, na, ns;
    EI_CHECK(slice_read(ex, node, 1, "starts", b, &nb));
    EI_CHECK(slice_read(ex, node, 2, "ends", e, &ne));
    EI_CHECK(slice_read(ex, node, 3, "axes", a, &na));
    EI_CHECK(slice_read(ex, node, 4, "steps", st, &ns));
    if (nb != ne || (na != SIZE_MAX && na != nb) || (ns != SIZE_MAX && ns != nb))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs 'starts' (%zu), 'ends' (%zu), 'axes' (%zu) and 'steps' (%zu) "
                             "must have the same length",
                             nb, ne, na == SIZE_MAX ? nb : na, ns == SIZE_MAX ? nb : ns);
    return slice_make_plan(node, x, b, e, na == SIZE_MAX ? NULL : a, ns == SIZE_MAX ? NULL : st, nb,
                           p);
}

static ei_status slice_infer(ei_exec *ex, ei_node *node) {
    slice_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (node->opset >= 10) {
        for (int i = 1; i < 5; i++) {
            const ei_value *v = ei_node_in(ex, node, i);
            if (!v) continue;
            if (v->dtype != EI_DTYPE_I64 && v->dtype != EI_DTYPE_I32)
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "input '%s' must be int32 or int64, got %s", v->name,
                                     ei_dtype_name(v->dtype));
            if (!ei_value_known(v) && ei_value_numel(v) > 0) {
                node->dynamic = true;
                return EI_STATUS_OK;
            }
        }
    }
    EI_CHECK(slice_plan_node(ex, node, s, &s->plan));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, s->plan.rank, s->plan.dims);
}

static ei_status slice_plan_state(const ei_exec *ex, const ei_node *node,
                                  ei_strided_op_plan *p) {
    return slice_plan_node(ex, node, node->state, p);
}

static ei_status slice_run(ei_exec *ex, ei_node *node) {
    const slice_state *s = node->state;
    return ei_strided_op_run(ex, node, &s->plan, slice_plan_state);
}

const ei_op_fns ei_op_fns_slice = {slice_prepare, slice_infer, slice_run, free, .dtypes = "any"};
