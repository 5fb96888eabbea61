/*
 * stft.c - STFT (opset 17): frames of a real ([batch, n, 1]) or complex ([batch, n, 2])
 * float32 signal, frame_step apart, each multiplied by an optional window and transformed
 * (onesided by default for real input) into [batch, frames, bins, 2]. The transform is
 * dft.c's (double arithmetic; radix-2 FFT when planned, direct sum otherwise), copied here
 * because op files share no code but headers. frame_step/frame_length only known at run
 * make the node dynamic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

#define STFT_MAX_LEN ((int64_t)1 << 30)

/* ------------------------------------------ signal transform (same as dft.c's) */

/* Sample j of the sequence being transformed: x[j] (times the window), zero past n; or,
 * for a Hermitian (irfft) input, bin j of the full spectrum rebuilt from the one-sided bins
 * x[0..n): X[L - k] = conj(X[k]), imaginary parts of DC and Nyquist ignored (as numpy). */
static inline void stft_load(const float *x, size_t sx, size_t n, int c_in, const float *win,
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
static void stft_signal(const float *x, size_t sx, size_t n_avail, int c_in, const float *win,
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
            stft_load(x, sx, n, c_in, win, L, herm, j, &work[2 * r], &work[2 * r + 1]);
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
            stft_load(x, sx, n, c_in, win, L, herm, j, &xr, &xi);
            re += xr * c - xi * s;
            im += xr * s + xi * c;
        }
        y[k * sy] = (float)(re * scale);
        if (c_out == 2) y[k * sy + 1] = (float)(im * scale);
    }
}

/* Fills tw with L twiddles (cos, sin of 2 pi m / L). */
static void stft_twiddles(double *tw, size_t L) {
    for (size_t m = 0; m < L; m++) {
        double a = 6.283185307179586476925 * (double)m / (double)L;
        tw[2 * m] = cos(a);
        tw[2 * m + 1] = sin(a);
    }
}

/* ---------------------------------------------------------------------- STFT */

/* Inputs: 0 signal, 1 frame_step, 2 window (optional), 3 frame_length (optional). */
typedef struct stft_state {
    int64_t onesided;
    int c_in;
    size_t batch, n, L, step, frames, n_out, n_tasks;
    double *tw;
    size_t tw_len;
} stft_state;

static void stft_destroy(void *p) {
    stft_state *s = p;
    if (!s) return;
    free(s->tw);
    free(s);
}

static ei_status stft_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 2, 4, 1));
    stft_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    EI_CHECK(ei_node_attr_int(node, "onesided", 1, &s->onesided));
    if (s->onesided != 0 && s->onesided != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'onesided' = %lld, expected 0 or 1", (long long)s->onesided);
    return EI_STATUS_OK;
}

static ei_status stft_scalar(const ei_node *node, const ei_value *v, const char *what, bool *known,
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

/* Frame geometry from frame_step and frame_length (-1: from the window); sets or allocates
 * the output. */
static ei_status stft_resolve(ei_exec *ex, ei_node *node, int64_t step, int64_t flen, bool alloc) {
    stft_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 2);
    const ei_value *fl = ei_node_in(ex, node, 3);
    char buf[128];
    if (flen < 0) flen = w->dims[0];
    if (w && w->dims[0] != flen)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "window '%s' has %lld samples but frame_length '%s' is %lld",
                             w->name, (long long)w->dims[0], fl ? fl->name : "?", (long long)flen);
    if (flen < 1 || flen > STFT_MAX_LEN || flen > x->dims[1])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "frame length %lld is out of range for signal '%s' %s",
                             (long long)flen, x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    if (step < 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input frame_step '%s' = %lld, expected a positive value",
                             ei_node_in(ex, node, 1)->name, (long long)step);
    s->L = (size_t)flen;
    s->step = (size_t)step;
    s->frames = (s->n - s->L) / s->step + 1;
    s->n_out = s->onesided ? s->L / 2 + 1 : s->L;
    int64_t od[4] = {x->dims[0], (int64_t)s->frames, (int64_t)s->n_out, 2};
    if (alloc) return ei_node_alloc_output(ex, node, 0, EI_DTYPE_F32, 4, od);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 4, od);
}

static ei_status stft_infer(ei_exec *ex, ei_node *node) {
    stft_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sv = ei_node_in(ex, node, 1);
    const ei_value *w = ei_node_in(ex, node, 2), *fl = ei_node_in(ex, node, 3);
    char buf[128];
    if (x->dtype != EI_DTYPE_F32 || (w && w->dtype != EI_DTYPE_F32))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "signal '%s' (%s)%s: only float32 is supported", x->name,
                             ei_dtype_name(x->dtype), w ? " and window" : "");
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "signal '%s' has shape %s, expected [batch, length, 1 or 2]",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    if (w && w->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "window '%s' has shape %s, expected 1-D", w->name,
                             ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    if (!w && !fl)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "either window or frame_length must be given");
    s->c_in = (int)x->dims[2];
    if (s->onesided && s->c_in == 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "onesided STFT needs a real signal, but '%s' %s is complex", x->name,
                             ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    s->batch = (size_t)x->dims[0];
    s->n = (size_t)x->dims[1];
    bool step_known = true, len_known = true;
    int64_t step = 0, flen = -1;
    EI_CHECK(stft_scalar(node, sv, "frame_step", &step_known, &step));
    if (fl) EI_CHECK(stft_scalar(node, fl, "frame_length", &len_known, &flen));
    if (!step_known || !len_known) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(stft_resolve(ex, node, step, flen, false));
    size_t signals = s->batch * s->frames, work;
    size_t flops; /* about 8 flops per sample (FFT) - only used to pick a task count */
    if (!ei_size_mul(signals, s->L, &flops) || !ei_size_mul(flops, 8, &flops)) flops = SIZE_MAX;
    s->n_tasks = ei_elem_tasks(ex, flops, 1 << 15);
    if (s->n_tasks > signals) s->n_tasks = signals ? signals : 1;
    if (s->tw_len != s->L) {
        double *tw = realloc(s->tw, s->L * 2 * sizeof(double));
        if (!tw) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory for twiddles");
        s->tw = tw;
        s->tw_len = s->L;
        stft_twiddles(s->tw, s->L);
    }
    if (!ei_size_mul(s->L * 2 * sizeof(double), s->n_tasks, &work))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "frame length is too large");
    node->scratch_bytes = work;
    return EI_STATUS_OK;
}

typedef struct stft_args {
    const stft_state *s;
    const float *x, *win;
    float *y;
    const double *tw;
    double *work;
    size_t n_tasks;
} stft_args;

static void stft_task(void *arg, size_t task, int thread) {
    (void)thread;
    const stft_args *p = arg;
    const stft_state *s = p->s;
    size_t signals = s->batch * s->frames, per = (signals + p->n_tasks - 1) / p->n_tasks;
    size_t b = per * task, e = b + per < signals ? b + per : signals;
    double *work = p->work ? p->work + task * 2 * s->L : NULL;
    size_t c = (size_t)s->c_in;
    for (size_t q = b; q < e; q++) {
        size_t bi = q / s->frames, f = q % s->frames;
        const float *x = p->x + (bi * s->n + f * s->step) * c;
        stft_signal(x, c, s->L, s->c_in, p->win, s->L, s->L, s->n_out, 0, 0, 2, p->tw, work,
                    p->y + q * s->n_out * 2, 2);
    }
}

static ei_status stft_run(ei_exec *ex, ei_node *node) {
    stft_state *s = node->state;
    const ei_value *w = ei_node_in(ex, node, 2);
    stft_args p = {s, ei_node_in(ex, node, 0)->data, w ? w->data : NULL, NULL, s->tw,
                   node->scratch, s->n_tasks};
    if (node->dynamic) {
        const ei_value *sv = ei_node_in(ex, node, 1), *fl = ei_node_in(ex, node, 3);
        int64_t step = sv->dtype == EI_DTYPE_I64 ? *(const int64_t *)sv->data : *(const int32_t *)sv->data;
        int64_t flen = -1;
        if (fl) flen = fl->dtype == EI_DTYPE_I64 ? *(const int64_t *)fl->data : *(const int32_t *)fl->data;
        if (flen < 0 && fl) flen = 0; /* reported as out of range */
        EI_CHECK(stft_resolve(ex, node, step, flen, true));
        p.tw = NULL;
        p.work = NULL;
        p.n_tasks = 1;
    }
    p.y = ei_node_out(ex, node, 0)->data;
    if (s->batch * s->frames == 0) return EI_STATUS_OK;
    if (p.n_tasks <= 1) {
        p.n_tasks = 1;
        stft_task(&p, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, p.n_tasks, stft_task, &p);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_stft = {stft_prepare, stft_infer, stft_run, stft_destroy};
