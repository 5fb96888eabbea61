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

/* Above this length (or output bins) we refuse: products k*j must stay exact. */
#define DFT_MAX_LEN ((int64_t)1 << 30)

/* --------------------------------------------------------- shared signal transform */

/* Sample j of the sequence being transformed: x[j] (times the window), zero past n; or,
 * for a Hermitian (irfft) input, bin j of the full spectrum rebuilt from the one-sided bins
 * x[0..n): X[L - k] = conj(X[k]), imaginary parts of DC and Nyquist ignored (as numpy). */
static inline void dft_load(const float *x, size_t sx, size_t n, int c_in, const float *win,
                            size_t L, int herm, size_t j, double *re, double *im) {
    size_t k = j;
    bool conj = false;
    if (herm && j > L / 2) {
        k = L - j;
        conj = true;
    }
    if (k >= n) {
        *re = *im = 0.0;
        return;
    }
    double w = win ? (double)win[k] : 1.0;
    *re = (double)x[k * sx] * w;
    *im = c_in == 2 ? (double)x[k * sx + 1] * w : 0.0;
    if (herm && (k == 0 || 2 * k == L)) *im = 0.0;
    if (conj) *im = -*im;
}

/* The transform of one signal.
 * x: n_avail complex (c_in = 2) or real (c_in = 1) samples, sample j at x[j * sx];
 * win: NULL or a window multiplied into the first samples (win_len of them, 0 beyond);
 * L: transform length (samples past n_avail are zero); herm: x holds one-sided bins of a
 * Hermitian spectrum (inverse onesided DFT). Writes bins [0, n_out) to y, bin k at
 * y[k * sy]: (re, im) when c_out = 2, re only when 1. tw: NULL or L twiddles (cos, sin of
 * 2 pi m / L); work: NULL or 2 L doubles. inverse: conjugate twiddles, scale by 1 / L. */
static void dft_signal(const float *x, size_t sx, size_t n_avail, int c_in, const float *win,
                       size_t win_len, size_t L, size_t n_out, int inverse, int herm, int c_out,
                       const double *tw, double *work, float *y, size_t sy) {
    size_t n = n_avail;
    if (win && win_len < n) n = win_len;
    if (!herm && n > L) n = L;
    size_t n_src = herm ? L : n; /* samples that may be non-zero */
    double sign = inverse ? 1.0 : -1.0, scale = inverse ? 1.0 / (double)L : 1.0;
    bool pow2 = L > 0 && (L & (L - 1)) == 0;
    if (tw && work && pow2) {
        /* Load in bit-reversed order, then butterflies. */
        int bits = 0;
        while (((size_t)1 << bits) < L) bits++;
        memset(work, 0, 2 * L * sizeof(double));
        for (size_t j = 0; j < n_src; j++) {
            size_t r = 0;
            for (int b = 0; b < bits; b++) r |= ((j >> b) & 1u) << (bits - 1 - b);
            dft_load(x, sx, n, c_in, win, L, herm, j, &work[2 * r], &work[2 * r + 1]);
        }
        for (size_t len = 2; len <= L; len <<= 1) {
            size_t half = len / 2, step = L / len;
            for (size_t base = 0; base < L; base += len) {
                for (size_t t = 0; t < half; t++) {
                    double wr = tw[2 * t * step], wi = sign * tw[2 * t * step + 1];
                    double *a = work + 2 * (base + t), *b = work + 2 * (base + t + half);
                    double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                    b[0] = a[0] - br;
                    b[1] = a[1] - bi;
                    a[0] += br;
                    a[1] += bi;
                }
            }
        }
        for (size_t k = 0; k < n_out; k++) {
            y[k * sy] = (float)(work[2 * k] * scale);
            if (c_out == 2) y[k * sy + 1] = (float)(work[2 * k + 1] * scale);
        }
        return;
    }
    for (size_t k = 0; k < n_out; k++) {
        double re = 0.0, im = 0.0;
        for (size_t j = 0; j < n_src; j++) {
            size_t m = (size_t)(((uint64_t)k * (uint64_t)j) % (uint64_t)L);
            double c, s, xr, xi;
            if (tw) {
                c = tw[2 * m];
                s = sign * tw[2 * m + 1];
            } else {
                double a = 6.283185307179586476925 * (double)m / (double)L;
                c = cos(a);
                s = sign * sin(a);
            }
            dft_load(x, sx, n, c_in, win, L, herm, j, &xr, &xi);
            re += xr * c - xi * s;
            im += xr * s + xi * c;
        }
        y[k * sy] = (float)(re * scale);
        if (c_out == 2) y[k * sy + 1] = (float)(im * scale);
    }
}

/* Fills tw with L twiddles (cos, sin of 2 pi m / L). */
static void dft_twiddles(double *tw, size_t L) {
    for (size_t m = 0; m < L; m++) {
        double a = 6.283185307179586476925 * (double)m / (double)L;
        tw[2 * m] = cos(a);
        tw[2 * m + 1] = sin(a);
    }
}

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

/* Scalar int input i: absent -> *present = false. Checks dtype/shape; reads when known. */
static ei_status dft_scalar(const ei_node *node, const ei_value *v, const char *what, bool *known,
                            int64_t *out) {
    char buf[96];
    if (v->dtype != EI_DTYPE_I64 && v->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input %s '%s' has dtype %s, expected int64 or int32", what, v->name,
                             ei_dtype_name(v->dtype));
    if (v->rank > 1 || ei_value_numel(v) != 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input %s '%s' has shape %s, expected a scalar", what, v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf));
    *known = ei_value_known(v);
    if (*known)
        *out = v->dtype == EI_DTYPE_I64 ? *(const int64_t *)v->data : *(const int32_t *)v->data;
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
    if (lv) EI_CHECK(dft_scalar(node, lv, "dft_length", &len_known, &len));
    if (av) EI_CHECK(dft_scalar(node, av, "axis", &axis_known, &axis));
    if (!len_known || !axis_known) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(dft_resolve(ex, node, axis, lv != NULL, len, false));
    size_t signals = s->outer * s->inner, work;
    size_t flops; /* about 8 flops per sample (FFT) - only used to pick a task count */
    if (!ei_size_mul(signals, s->L, &flops) || !ei_size_mul(flops, 8, &flops)) flops = SIZE_MAX;
    s->n_tasks = ei_elem_tasks(ex, flops, 1 << 15);
    if (s->n_tasks > signals) s->n_tasks = signals ? signals : 1;
    if (s->tw_len != s->L) {
        double *tw = realloc(s->tw, s->L * 2 * sizeof(double));
        if (!tw) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory for twiddles");
        s->tw = tw;
        s->tw_len = s->L;
        dft_twiddles(s->tw, s->L);
    }
    if (!ei_size_mul(s->L * 2 * sizeof(double), s->n_tasks, &work))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "dft_length is too large");
    node->scratch_bytes = work;
    return EI_STATUS_OK;
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
        dft_signal(x, s->inner * (size_t)s->c_in, s->n_in, s->c_in, NULL, 0, s->L, s->n_out,
                   (int)s->inverse, s->herm, (int)c_out, p->tw, work, y, s->inner * c_out);
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

const ei_op_fns ei_op_fns_dft = {dft_prepare, dft_infer, dft_run, dft_destroy};
