/*
 * stft.c - STFT (opset 17): frames of a real ([batch, n, 1]) or complex ([batch, n, 2])
 * float32 signal, frame_step apart, each multiplied by an optional window and transformed
 * (onesided by default for real input) into [batch, frames, bins, 2]. The transform is
 * fft.c's (double arithmetic; radix-2 FFT when planned, direct sum otherwise).
 * frame_step/frame_length only known at run make the node dynamic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/fft.h"

#define STFT_MAX_LEN ((int64_t)1 << 30)

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
    EI_CHECK(ei_fft_read_scalar(node, sv, "frame_step", &step_known, &step));
    if (fl) EI_CHECK(ei_fft_read_scalar(node, fl, "frame_length", &len_known, &flen));
    if (!step_known || !len_known) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(stft_resolve(ex, node, step, flen, false));
    return ei_fft_plan(ex, node, s->batch * s->frames, s->L, "frame length", &s->tw,
                       &s->tw_len, &s->n_tasks);
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
        ei_fft_signal(x, c, s->L, s->c_in, p->win, s->L, s->L, s->n_out, 0, 0, 2, p->tw, work,
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

const ei_op_fns ei_op_fns_stft = {stft_prepare, stft_infer, stft_run, stft_destroy,
                                  .dtypes = "float32"};
