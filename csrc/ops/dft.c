/*
 * dft.c - DFT (opset 17: axis attribute; opset 20: axis input) of real ([..., 1]) or
 * complex ([..., 2]) float32 signals along one axis, forward or inverse, full or onesided
 * (inverse onesided is irfft: one-sided Hermitian bins in, real [..., 1] out, as ONNX's
 * reference), with dft_length truncating or zero-padding. Arithmetic is in double: a radix-2 FFT when
 * the length is a power of two and its twiddles and work buffers could be planned, a direct
 * O(n^2) sum otherwise (also when dft_length/axis are only known at run: then the node is
 * dynamic and, having no scratch, computes its twiddles as it goes).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/fft.h"

/* Above this length (or output bins) we refuse: products k*j must stay exact. */
#define DFT_MAX_LEN ((int64_t)1 << 30)

/* ---------------------------------------------------------------------- DFT */

typedef struct dft_state {
    int64_t axis_attr, inverse, onesided;
    /* infer / run */
    int axis, c_in, herm; /* herm: inverse onesided (irfft): Hermitian bins in, real out */
    size_t outer, n_in, inner, L, n_out, n_tasks;
    double *tw; /* L twiddles when planned */
    size_t tw_len;
} dft_state;

static void dft_destroy(void *p) {
    dft_state *s = p;
    if (!s) return;
    free(s->tw);
    free(s);
}

static ei_status dft_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 1, 3, 1));
    dft_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    EI_CHECK(ei_node_attr_int(node, "axis", 1, &s->axis_attr));
    EI_CHECK(ei_node_attr_int(node, "inverse", 0, &s->inverse));
    EI_CHECK(ei_node_attr_int(node, "onesided", 0, &s->onesided));
    if ((s->inverse != 0 && s->inverse != 1) || (s->onesided != 0 && s->onesided != 1))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attributes 'inverse' = %lld and 'onesided' = %lld must be 0 or 1",
                             (long long)s->inverse, (long long)s->onesided);
    if (node->opset < 20 && node->n_inputs > 2)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "opset %d DFT takes at most 2 inputs (axis is an attribute)",
                             node->opset);
    return EI_STATUS_OK;
}

/* Resolves the geometry from the input shape and the (known) axis and dft_length, and
 * sets the output shape, allocating it when dynamic (run). */
static ei_status dft_resolve(ei_exec *ex, ei_node *node, int64_t axis, bool has_len, int64_t len,
                             bool alloc) {
    dft_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    char buf[128];
    int r = x->rank;
    int64_t a = axis < 0 ? axis + r : axis;
    if (a < 0 || a > r - 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "axis %lld is out of range for input '%s' %s (the last dim holds "
                             "real/imaginary parts)",
                             (long long)axis, x->name, ei_shape_str(r, x->dims, buf, sizeof buf));
    s->axis = (int)a;
    s->n_in = (size_t)x->dims[a];
    s->herm = s->inverse && s->onesided;
    /* irfft's default length is the even one whose one-sided spectrum has n_in bins */
    int64_t L = has_len ? len : s->herm ? 2 * (x->dims[a] - 1) : x->dims[a];
    if (L < 1 || L > DFT_MAX_LEN)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "dft_length %lld is out of range (input '%s' %s)", (long long)L,
                             x->name, ei_shape_str(r, x->dims, buf, sizeof buf));
    s->L = (size_t)L;
    s->n_out = s->onesided && !s->herm ? s->L / 2 + 1 : s->L;
    s->outer = s->inner = 1;
    for (int i = 0; i < a; i++) s->outer *= (size_t)x->dims[i];
    for (int i = (int)a + 1; i < r - 1; i++) s->inner *= (size_t)x->dims[i];
    int64_t od[EI_MAX_RANK];
    memcpy(od, x->dims, sizeof(int64_t) * (size_t)r);
    od[a] = (int64_t)s->n_out;
    od[r - 1] = s->herm ? 1 : 2;
    if (alloc) return ei_node_alloc_output(ex, node, 0, EI_DTYPE_F32, r, od);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, r, od);
}

static ei_status dft_infer(ei_exec *ex, ei_node *node) {
    dft_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *lv = ei_node_in(ex, node, 1);
    const ei_value *av = node->opset >= 20 ? ei_node_in(ex, node, 2) : NULL;
    char buf[128];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank < 2 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' has shape %s; expected rank >= 2 with a last dim of 1 "
                             "(real) or 2 (complex)",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    s->c_in = (int)x->dims[x->rank - 1];
    if (s->onesided && !s->inverse && s->c_in == 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "onesided DFT needs real input, but input '%s' %s is complex",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    bool len_known = true, axis_known = true;
    int64_t len = 0, axis = node->opset >= 20 ? -2 : s->axis_attr;
    if (lv) EI_CHECK(ei_fft_read_scalar(node, lv, "dft_length", &len_known, &len));
    if (av) EI_CHECK(ei_fft_read_scalar(node, av, "axis", &axis_known, &axis));
    if (!len_known || !axis_known) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(dft_resolve(ex, node, axis, lv != NULL, len, false));
    return ei_fft_plan(ex, node, s->outer * s->inner, s->L, "dft_length", &s->tw, &s->tw_len,
                       &s->n_tasks);
}

typedef struct dft_args {
    const dft_state *s;
    const float *x;
    float *y;
    const double *tw;
    double *work;
    size_t n_tasks;
} dft_args;

static void dft_task(void *arg, size_t task, int thread) {
    (void)thread;
    const dft_args *p = arg;
    const dft_state *s = p->s;
    size_t signals = s->outer * s->inner, per = (signals + p->n_tasks - 1) / p->n_tasks;
    size_t b = per * task, e = b + per < signals ? b + per : signals;
    double *work = p->work ? p->work + task * 2 * s->L : NULL;
    for (size_t q = b; q < e; q++) {
        size_t o = q / s->inner, i = q % s->inner;
        const float *x = p->x + (o * s->n_in * s->inner + i) * (size_t)s->c_in;
        size_t c_out = s->herm ? 1 : 2;
        float *y = p->y + (o * s->n_out * s->inner + i) * c_out;
        ei_fft_signal(x, s->inner * (size_t)s->c_in, s->n_in, s->c_in, NULL, 0, s->L,
                      s->n_out, (int)s->inverse, s->herm, (int)c_out, p->tw, work, y,
                      s->inner * c_out);
    }
}

static ei_status dft_run(ei_exec *ex, ei_node *node) {
    dft_state *s = node->state;
    dft_args p = {s, ei_node_in(ex, node, 0)->data, NULL, s->tw, node->scratch, s->n_tasks};
    if (node->dynamic) {
        const ei_value *lv = ei_node_in(ex, node, 1);
        const ei_value *av = node->opset >= 20 ? ei_node_in(ex, node, 2) : NULL;
        int64_t len = 0, axis = node->opset >= 20 ? -2 : s->axis_attr;
        if (lv) len = lv->dtype == EI_DTYPE_I64 ? *(const int64_t *)lv->data : *(const int32_t *)lv->data;
        if (av) axis = av->dtype == EI_DTYPE_I64 ? *(const int64_t *)av->data : *(const int32_t *)av->data;
        EI_CHECK(dft_resolve(ex, node, axis, lv != NULL, len, true));
        p.tw = NULL; /* planned for another length, if at all */
        p.work = NULL;
        p.n_tasks = 1;
    }
    p.y = ei_node_out(ex, node, 0)->data;
    if (s->outer * s->inner == 0) return EI_STATUS_OK;
    if (p.n_tasks <= 1) {
        p.n_tasks = 1;
        dft_task(&p, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, p.n_tasks, dft_task, &p);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_dft = {dft_prepare, dft_infer, dft_run, dft_destroy, .dtypes = "float32"};
