/*
 * pool.c - ONNX MaxPool (with the optional int64 Indices output), AveragePool, LpPool,
 * GlobalAveragePool, GlobalMaxPool and MaxUnpool, float32, 1-D to 3-D windows. Window
 * geometry (pads, strides, dilations, auto_pad, ceil_mode) comes from conv_geometry.h; the
 * loops here walk one (n, c) plane at a time, planes spread over the thread pool; 1-D/2-D
 * max and average windows without dilation go through the f32_pool row kernels.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/conv_geometry.h"
#include "ops/elem_util.h"

enum {
    POOL_MAX = 0,
    POOL_AVERAGE = 1,
    POOL_GLOBAL_AVERAGE = 2,
    POOL_GLOBAL_MAX = 3,
    POOL_LP = 4,
    POOL_UNPOOL = 5
};

static bool pool_is_global(int kind) {
    return kind == POOL_GLOBAL_AVERAGE || kind == POOL_GLOBAL_MAX;
}

typedef struct pool_state {
    int kind;
    ei_geom_attrs ga;
    int storage_order;     /* MaxPool Indices: 0 row-major, 1 column-major */
    int count_include_pad; /* AveragePool */
    float p;               /* LpPool */
    /* MaxUnpool: the output shape implied by the window, and the one produced */
    int64_t unpool_full[EI_MAX_RANK], unpool_out[EI_MAX_RANK];
    int unpool_rank;
    /* infer */
    ei_geom g;
    ei_window_plan wp;
    size_t planes, planes_per_task;
    size_t slice_floats; /* per-thread row of in[2] floats, a multiple of 16 */
    bool fast2d;         /* pool_plane_2d applies */
    size_t row2d_len;    /* its padded row: left pads, in[2] values, right pads */
    int64_t full_lo, full_hi; /* AveragePool: outputs [lo, hi) of a row divide by k[2] taps */
} pool_state;

typedef struct pool_args {
    const pool_state *s;
    const float *x;
    float *y;
    int64_t *indices;
    float *scratch; /* per-thread rows for pool_plane_rows */
} pool_args;

static void pool_destroy(void *p) {
    pool_state *s = p;
    if (!s) return;
    ei_window_plan_free(&s->wp);
    free(s);
}

static ei_status pool_prepare_kind(ei_exec *ex, ei_node *node, int kind) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    pool_state *s = NULL;
    int max_outputs = (kind == POOL_MAX && node->opset >= 8) ? 2 : 1;
    int min_in = kind == POOL_UNPOOL ? 2 : 1, max_in = kind == POOL_UNPOOL ? 3 : 1;
    if (node->n_inputs < min_in || node->n_inputs > max_in || node->inputs[0] < 0 ||
        (kind == POOL_UNPOOL && node->inputs[1] < 0) || node->n_outputs < 1 ||
        node->n_outputs > max_outputs || node->outputs[0] < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "expected %s and %s output%s, got %d inputs and %d outputs",
                           kind == POOL_UNPOOL ? "inputs X, I and optional output_shape"
                                               : "1 input",
                           max_outputs == 2 ? "1 or 2" : "1", max_outputs == 2 ? "s" : "",
                           node->n_inputs, node->n_outputs);
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->kind = kind;
    if (!pool_is_global(kind)) {
        bool dil = kind == POOL_MAX ? node->opset >= 10
                   : kind == POOL_LP ? node->opset >= 18
                   : kind == POOL_UNPOOL ? false
                                      : node->opset >= 19;
        bool ceil = kind == POOL_LP ? node->opset >= 18
                    : kind == POOL_UNPOOL ? false
                                       : node->opset >= 10;
        EI_TRY(ei_geom_parse(node, dil, ceil, &s->ga));
        if (!s->ga.n_kernel) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'kernel_shape' is required");
            goto cleanup;
        }
    }
    if (kind == POOL_LP) {
        if (node->opset >= 2) {
            int64_t p = 2;
            EI_TRY(ei_node_attr_int(node, "p", 2, &p));
            if (p < 1 || p > 1000) {
                st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                   "attribute 'p' = %lld, expected a positive value",
                                   (long long)p);
                goto cleanup;
            }
            s->p = (float)p;
        } else {
            EI_TRY(ei_node_attr_float(node, "p", 2.0f, &s->p));
            if (!(s->p > 0.0f) || s->p > 1000.0f) {
                st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                   "attribute 'p' = %g, expected a positive value", (double)s->p);
                goto cleanup;
            }
        }
    }
    if (kind == POOL_MAX && node->opset >= 8) {
        int64_t so = 0;
        EI_TRY(ei_node_attr_int(node, "storage_order", 0, &so));
        if (so != 0 && so != 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'storage_order' = %lld, expected 0 or 1",
                               (long long)so);
            goto cleanup;
        }
        s->storage_order = (int)so;
    }
    if (kind == POOL_AVERAGE && node->opset >= 7) {
        int64_t cip = 0;
        EI_TRY(ei_node_attr_int(node, "count_include_pad", 0, &cip));
        if (cip != 0 && cip != 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'count_include_pad' = %lld, expected 0 or 1",
                               (long long)cip);
            goto cleanup;
        }
        s->count_include_pad = (int)cip;
    }
    node->state = s;
    s = NULL;
cleanup:
    pool_destroy(s);
    return st;
}

static ei_status max_pool_prepare(ei_exec *ex, ei_node *node) {
    return pool_prepare_kind(ex, node, POOL_MAX);
}
static ei_status average_pool_prepare(ei_exec *ex, ei_node *node) {
    return pool_prepare_kind(ex, node, POOL_AVERAGE);
}
static ei_status global_average_pool_prepare(ei_exec *ex, ei_node *node) {
    return pool_prepare_kind(ex, node, POOL_GLOBAL_AVERAGE);
}
static ei_status global_max_pool_prepare(ei_exec *ex, ei_node *node) {
    return pool_prepare_kind(ex, node, POOL_GLOBAL_MAX);
}
static ei_status lp_pool_prepare(ei_exec *ex, ei_node *node) {
    return pool_prepare_kind(ex, node, POOL_LP);
}
static ei_status max_unpool_prepare(ei_exec *ex, ei_node *node) {
    return pool_prepare_kind(ex, node, POOL_UNPOOL);
}

static ei_status pool_infer(ei_exec *ex, ei_node *node) {
    pool_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    char buf[128];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    int64_t od[EI_MAX_RANK];
    size_t work;
    if (pool_is_global(s->kind)) {
        if (x->rank < 3)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' has shape %s, expected rank >= 3 (N, C, D1...)",
                                 x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
        size_t plane = 1;
        for (int i = 0; i < x->rank; i++) od[i] = i < 2 ? x->dims[i] : 1;
        for (int i = 2; i < x->rank; i++) plane *= (size_t)x->dims[i]; /* bounded by numel */
        memset(&s->g, 0, sizeof s->g);
        s->g.in_size = plane;
        s->g.out_size = 1;
        work = plane;
    } else {
        int nsp = (int)s->ga.n_kernel;
        if (x->rank != nsp + 2)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' has shape %s, expected rank %d (N, C and the %d "
                                 "dims of kernel_shape)",
                                 x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                                 nsp + 2, nsp);
        EI_CHECK(ei_geom_resolve(node, &s->ga, nsp, x->dims + 2, s->ga.kernel, x->name, &s->g));
        EI_CHECK(ei_window_plan_update(node, &s->g, &s->wp));
        od[0] = x->dims[0];
        od[1] = x->dims[1];
        for (int i = 0; i < nsp; i++) od[2 + i] = s->g.out[3 - nsp + i];
        work = s->g.out_size * s->g.k_size; /* may wrap for absurd sizes: only a hint */
    }
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, od));
    ei_value *ind = ei_node_out(ex, node, 1);
    if (ind) EI_CHECK(ei_value_set_shape(ind, EI_DTYPE_I64, x->rank, od));
    s->planes = (size_t)x->dims[0] * (size_t)x->dims[1]; /* bounded by numel */
    size_t per = work ? 32768 / work : 32768;
    if (per < 1) per = 1;
    size_t threads = ex->num_threads > 0 ? (size_t)ex->num_threads : 1;
    size_t even = (s->planes + threads - 1) / threads;
    s->planes_per_task = per > even ? even : per;
    if (s->planes_per_task < 1) s->planes_per_task = 1;
    node->scratch_bytes = 0;
    s->slice_floats = 0;
    s->fast2d = false;
    if ((s->kind == POOL_MAX || s->kind == POOL_AVERAGE) && !ind) {
        const ei_geom *g = &s->g;
        /* One depth slice, dilation 1: the row kernels (pool_plane_2d). */
        s->fast2d = g->in[0] == 1 && g->out[0] == 1 && g->k[0] == 1 && g->d[1] == 1 &&
                    g->d[2] == 1;
        size_t len = (size_t)(g->pb[2] + g->in[2]);
        if (g->out[2] > 0 && (size_t)((g->out[2] - 1) * g->s[2] + g->k[2]) > len)
            len = (size_t)((g->out[2] - 1) * g->s[2] + g->k[2]);
        s->row2d_len = len;
        /* The columns whose tap count is k[2]: a middle run, the borders recomputed. */
        s->full_lo = s->full_hi = 0;
        for (int64_t ow = 0; s->fast2d && ow < g->out[2]; ow++) {
            const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
            int64_t cc = s->count_include_pad ? tw[2] : tw[1] - tw[0];
            if (cc != g->k[2]) continue;
            if (s->full_hi == s->full_lo) s->full_lo = ow; /* first full column */
            s->full_hi = ow + 1;
        }
        for (int64_t ow = s->full_lo; ow < s->full_hi; ow++) { /* must be one run */
            const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
            if ((s->count_include_pad ? tw[2] : tw[1] - tw[0]) != g->k[2])
                s->full_lo = s->full_hi = 0;
        }
        /* in[2] is an input dim, far below SIZE_MAX / 4 / threads on 64-bit; check anyway. */
        size_t slice = ((size_t)s->g.in[2] + 15) / 16 * 16;
        if (s->fast2d) slice = (len + 15) / 16 * 16;
        if (!ei_size_mul(slice, threads * sizeof(float), &node->scratch_bytes))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' is too wide", x->name);
        s->slice_floats = slice;
    }
    return EI_STATUS_OK;
}

/* Interior outputs [a, b) of row (od, oh): [*a, *b); all of the row is border when the
 * row itself is not interior (then *a = *b = out[2]). */
static void pool_row_split(const pool_state *s, int64_t od, int64_t oh, int64_t *a,
                           int64_t *b) {
    const ei_window_plan *wp = &s->wp;
    *a = *b = s->g.out[2];
    if (wp->interior && od >= wp->lo[0] && od < wp->hi[0] && oh >= wp->lo[1] &&
        oh < wp->hi[1]) {
        *a = wp->lo[2];
        *b = wp->hi[2];
    }
}

/* Max over the in-bounds taps of output (od, oh, ow); *arg gets the winner's spatial
 * index (row-major or column-major). NaN never wins, as in onnxruntime; with no winner
 * the result is -FLT_MAX and the index that of the window's first in-bounds tap. */
static float max_pool_border(const pool_state *s, const float *x, int64_t od, int64_t oh,
                             int64_t ow, int64_t *arg) {
    const ei_geom *g = &s->g;
    int64_t sd = od * g->s[0] - g->pb[0], sh = oh * g->s[1] - g->pb[1];
    int64_t sw = ow * g->s[2] - g->pb[2];
    const int64_t *td = ei_window_plan_taps(&s->wp, 0, od);
    const int64_t *th = ei_window_plan_taps(&s->wp, 1, oh);
    const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
    int64_t dlo = td[0], dhi = td[1], hlo = th[0], hhi = th[1], wlo = tw[0], whi = tw[1];
    float best = -FLT_MAX;
    int64_t bd = -1, bh = 0, bw = 0;
    for (int64_t kd = dlo; kd < dhi; kd++) {
        int64_t id = sd + kd * g->d[0];
        for (int64_t kh = hlo; kh < hhi; kh++) {
            int64_t ih = sh + kh * g->d[1];
            const float *xr = x + (id * g->in[1] + ih) * g->in[2];
            for (int64_t kw = wlo; kw < whi; kw++) {
                int64_t iw = sw + kw * g->d[2];
                float v = xr[iw];
                if (v > best || bd < 0) {
                    if (v > best) best = v;
                    bd = id;
                    bh = ih;
                    bw = iw;
                }
            }
        }
    }
    if (bd < 0) *arg = 0;
    else if (s->storage_order == 0) *arg = (bd * g->in[1] + bh) * g->in[2] + bw;
    else *arg = bd + bh * g->in[0] + bw * g->in[0] * g->in[1];
    return best;
}

/* Interior outputs [a, b) of row (od, oh) with Indices (base: the plane's offset). */
static void max_pool_interior_indices(const pool_state *s, const float *x, int64_t od,
                                      int64_t oh, int64_t a, int64_t b, float *y,
                                      int64_t *ind, int64_t base_index) {
    const ei_geom *g = &s->g;
    const int64_t *off = s->wp.off;
    size_t kn = g->k_size;
    for (int64_t ow = a; ow < b; ow++) {
        const float *p = x + ei_geom_window_origin(g, od, oh, ow);
        float best = -FLT_MAX;
        size_t bt = 0;
        for (size_t t = 0; t < kn; t++) {
            if (p[off[t]] > best) {
                best = p[off[t]];
                bt = t;
            }
        }
        int64_t kw = (int64_t)bt % g->k[2], kh = ((int64_t)bt / g->k[2]) % g->k[1];
        int64_t kd = (int64_t)bt / (g->k[2] * g->k[1]);
        int64_t id = od * g->s[0] - g->pb[0] + kd * g->d[0];
        int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];
        int64_t iw = ow * g->s[2] - g->pb[2] + kw * g->d[2];
        y[ow] = best;
        ind[ow] = base_index + (s->storage_order == 0
                                    ? (id * g->in[1] + ih) * g->in[2] + iw
                                    : id + ih * g->in[0] + iw * g->in[0] * g->in[1]);
    }
}

/* MaxPool with Indices: interior outputs through the tap-offset table, the rest with
 * bounds (base: the plane's offset in the flattened input). */
static void max_pool_plane_indices(const pool_state *s, const float *x, float *y,
                                   int64_t *ind, int64_t base) {
    const ei_geom *g = &s->g;
    for (int64_t od = 0; od < g->out[0]; od++)
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            int64_t a, b, arg;
            pool_row_split(s, od, oh, &a, &b);
            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                if (ow == a && a < b) {
                    max_pool_interior_indices(s, x, od, oh, a, b, y, ind, base);
                    ow = b - 1;
                    continue;
                }
                y[ow] = max_pool_border(s, x, od, oh, ow, &arg);
                ind[ow] = base + arg;
            }
            y += g->out[2];
            ind += g->out[2];
        }
}

/* t[i] = max(t[i], x[i]) and t[i] += x[i]; fixed blocks of 8 over non-aliasing
 * pointers, which compilers vectorize at -O2 without ISA flags. */
static void pool_row_max(size_t n, const float *restrict x, float *restrict t) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = i; j < i + 8; j++) t[j] = x[j] > t[j] ? x[j] : t[j];
    for (; i < n; i++) t[i] = x[i] > t[i] ? x[i] : t[i];
}

static void pool_row_add(size_t n, const float *restrict x, float *restrict t) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (size_t j = i; j < i + 8; j++) t[j] += x[j];
    for (; i < n; i++) t[i] += x[i];
}

/*
 * MaxPool without Indices and AveragePool, one output row (od, oh) at a time, split into
 * two passes: first the in-bounds (kd, kh) taps are combined column by column into a
 * row of in[2] values in tmp (contiguous, in fixed blocks the compiler vectorizes), then
 * each output combines its in-bounds kw taps of that row. Max: NaN never wins, as in
 * onnxruntime (-FLT_MAX when nothing else does). Average: the divisor counts the
 * in-bounds taps, or with count_include_pad the taps inside the padded input; a window
 * of padding only gives 0/0 = NaN, as in the ONNX reference.
 */
static void pool_plane_rows(const pool_state *s, const float *x, float *y, float *tmp) {
    const ei_geom *g = &s->g;
    const bool is_max = s->kind == POOL_MAX;
    const float init = is_max ? -FLT_MAX : 0.0f;
    size_t w_in = (size_t)g->in[2];
    for (int64_t od = 0; od < g->out[0]; od++) {
        const int64_t *td = ei_window_plan_taps(&s->wp, 0, od);
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            const int64_t *th = ei_window_plan_taps(&s->wp, 1, oh);
            for (size_t i = 0; i < w_in; i++) tmp[i] = init;
            for (int64_t kd = td[0]; kd < td[1]; kd++) {
                int64_t id = od * g->s[0] - g->pb[0] + kd * g->d[0];
                for (int64_t kh = th[0]; kh < th[1]; kh++) {
                    int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];
                    const float *xr = x + (id * g->in[1] + ih) * g->in[2];
                    if (is_max) pool_row_max(w_in, xr, tmp);
                    else pool_row_add(w_in, xr, tmp);
                }
            }
            int64_t rows = (td[1] - td[0]) * (th[1] - th[0]), rows_padded = td[2] * th[2];
            int64_t a = s->wp.lo[2], b = s->wp.hi[2];
            if (b - a >= 8) {
                /* Outputs with all kw taps in bounds, 8 at a time: independent chains
                 * instead of one latency-bound chain per output. The last block is
                 * shifted back to end at b. */
                const int64_t s2 = g->s[2], d2 = g->d[2], k2 = g->k[2];
                int64_t count = (s->count_include_pad ? rows_padded : rows) * k2;
                const float scale = is_max ? 1.0f : 1.0f / (float)count;
                for (int64_t done = a; done < b; done += 8) {
                    int64_t o0 = done + 8 <= b ? done : b - 8;
                    const float *t0 = tmp + (o0 * s2 - g->pb[2]);
                    float acc[8];
                    for (int j = 0; j < 8; j++) acc[j] = init;
                    for (int64_t kw = 0; kw < k2; kw++) {
                        const float *tk = t0 + kw * d2;
                        if (is_max)
                            for (int j = 0; j < 8; j++)
                                acc[j] = tk[j * s2] > acc[j] ? tk[j * s2] : acc[j];
                        else
                            for (int j = 0; j < 8; j++) acc[j] += tk[j * s2];
                    }
                    for (int j = 0; j < 8; j++) y[o0 + j] = is_max ? acc[j] : acc[j] * scale;
                }
            } else {
                a = b = g->out[2];
            }
            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                if (ow == a) {
                    ow = b - 1;
                    continue;
                }
                const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
                int64_t sw = ow * g->s[2] - g->pb[2];
                float acc = init;
                if (is_max) {
                    for (int64_t kw = tw[0]; kw < tw[1]; kw++) {
                        float v = tmp[sw + kw * g->d[2]];
                        acc = v > acc ? v : acc;
                    }
                    y[ow] = acc;
                } else {
                    for (int64_t kw = tw[0]; kw < tw[1]; kw++) acc += tmp[sw + kw * g->d[2]];
                    int64_t count = s->count_include_pad ? rows_padded * tw[2]
                                                         : rows * (tw[1] - tw[0]);
                    y[ow] = count > 0 ? acc / (float)count : NAN;
                }
            }
            y += g->out[2];
        }
    }
}

/*
 * 2-D MaxPool (no Indices) and AveragePool with dilation 1, through the pooling kernels:
 * per output row the in-bounds input rows are combined column by column into t (the left
 * padding in front, pads holding the neutral -FLT_MAX or 0, set once per plane), then the
 * row pass reduces each window of t at the stride, vectorized along the output. Same
 * results as pool_plane_rows: max skips NaN (-FLT_MAX when nothing wins); the average
 * divides by the in-bounds (or with count_include_pad the padded-input) tap count, the
 * border columns whose count differs recomputed here; 0/0 = NaN for windows of padding.
 */
static void pool_plane_2d(const pool_state *s, const float *x, float *y, float *t) {
    const ei_kernel_table *k = ei_kernels();
    const ei_geom *g = &s->g;
    const bool is_max = s->kind == POOL_MAX;
    const float init = is_max ? -FLT_MAX : 0.0f;
    const size_t w = (size_t)g->in[2], pl = (size_t)g->pb[2], ow_n = (size_t)g->out[2];
    const size_t k2 = (size_t)g->k[2], s2 = (size_t)g->s[2];
    for (size_t i = 0; i < pl; i++) t[i] = init;
    for (size_t i = pl + w; i < s->row2d_len; i++) t[i] = init;
    for (int64_t oh = 0; oh < g->out[1]; oh++) {
        const int64_t *th = ei_window_plan_taps(&s->wp, 1, oh);
        size_t rows = (size_t)(th[1] - th[0]);
        const float *xr = rows ? x + (oh * g->s[1] - g->pb[1] + th[0]) * g->in[2] : x;
        if (is_max) {
            k->f32_pool_cols_max(w, rows, xr, w, t + pl);
            k->f32_pool_rows_max(ow_n, k2, s2, t, y);
        } else {
            k->f32_pool_cols_sum(w, rows, xr, w, t + pl);
            int64_t rc = s->count_include_pad ? th[2] : (int64_t)rows;
            k->f32_pool_rows_sum(ow_n, k2, s2, t, 1.0f / (float)(rc * (int64_t)k2), y);
            for (size_t ow = 0; ow < ow_n; ow++) {
                if ((int64_t)ow == s->full_lo && s->full_lo < s->full_hi)
                    ow = (size_t)s->full_hi; /* skip the full middle run */
                if (ow >= ow_n) break;
                const int64_t *tw = ei_window_plan_taps(&s->wp, 2, (int64_t)ow);
                int64_t cc = s->count_include_pad ? tw[2] : tw[1] - tw[0];
                float acc = 0.0f;
                for (int64_t kw = tw[0]; kw < tw[1]; kw++) acc += t[ow * s2 + (size_t)kw];
                y[ow] = rc * cc > 0 ? acc / (float)(rc * cc) : NAN;
            }
        }
        y += ow_n;
    }
}

/* LpPool: (sum of |x|^p over the in-bounds taps)^(1/p); padding counts as 0. */
static float lp_pow(float v, float p) {
    return p == 1.0f ? v : p == 2.0f ? v * v : powf(v, p);
}

static void lp_pool_plane(const pool_state *s, const float *x, float *y) {
    const ei_geom *g = &s->g;
    const float p = s->p;
    for (int64_t od = 0; od < g->out[0]; od++) {
        const int64_t *td = ei_window_plan_taps(&s->wp, 0, od);
        int64_t sd = od * g->s[0] - g->pb[0];
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            const int64_t *th = ei_window_plan_taps(&s->wp, 1, oh);
            int64_t sh = oh * g->s[1] - g->pb[1];
            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
                int64_t sw = ow * g->s[2] - g->pb[2];
                float acc = 0.0f;
                for (int64_t kd = td[0]; kd < td[1]; kd++) {
                    int64_t id = sd + kd * g->d[0];
                    for (int64_t kh = th[0]; kh < th[1]; kh++) {
                        const float *xr = x + (id * g->in[1] + sh + kh * g->d[1]) * g->in[2];
                        for (int64_t kw = tw[0]; kw < tw[1]; kw++)
                            acc += lp_pow(fabsf(xr[sw + kw * g->d[2]]), p);
                    }
                }
                *y++ = p == 1.0f ? acc : p == 2.0f ? sqrtf(acc) : powf(acc, 1.0f / p);
            }
        }
    }
}

static void pool_task(void *arg, size_t task, int thread) {
    const pool_args *p = arg;
    const pool_state *s = p->s;
    size_t lo = task * s->planes_per_task;
    size_t hi = lo + s->planes_per_task < s->planes ? lo + s->planes_per_task : s->planes;
    size_t in_sp = s->g.in_size, out_sp = s->g.out_size;
    for (size_t i = lo; i < hi; i++) {
        const float *x = p->x + i * in_sp;
        float *y = p->y + i * out_sp;
        if (s->kind == POOL_GLOBAL_AVERAGE)
            *y = in_sp ? ei_kernels()->f32_sum(in_sp, x) / (float)in_sp : 0.0f;
        else if (s->kind == POOL_GLOBAL_MAX)
            *y = ei_kernels()->f32_max(in_sp, x);
        else if (s->kind == POOL_LP)
            lp_pool_plane(s, x, y);
        else if (p->indices)
            max_pool_plane_indices(s, x, y, p->indices + i * out_sp, (int64_t)(i * in_sp));
        else if (s->fast2d)
            pool_plane_2d(s, x, y, p->scratch + (size_t)thread * s->slice_floats);
        else
            pool_plane_rows(s, x, y, p->scratch + (size_t)thread * s->slice_floats);
    }
}

static ei_status pool_run(ei_exec *ex, ei_node *node) {
    const pool_state *s = node->state;
    ei_value *ind = ei_node_out(ex, node, 1);
    pool_args p = {s, ei_node_in(ex, node, 0)->data, ei_node_out(ex, node, 0)->data,
                   ind ? (int64_t *)ind->data : NULL, node->scratch};
    if (s->planes == 0) return EI_STATUS_OK;
    size_t n_tasks = (s->planes + s->planes_per_task - 1) / s->planes_per_task;
    if (n_tasks == 1) pool_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, pool_task, &p);
    return EI_STATUS_OK;
}

/*
 * MaxUnpool: Y is zero except Y[I[e]] = X[e], where the flat indices I (as MaxPool's
 * Indices output gives them) address the shape the window implies,
 * (in - 1) * stride + kernel - pads per spatial dim. An output_shape input may ask for a
 * larger output: the implied block then sits at its start (the ONNX reference's rule).
 */
static ei_status unpool_out_shape(const ei_node *node, pool_state *s, const ei_value *os) {
    char buf[128], buf2[128];
    int rank = s->unpool_rank;
    memcpy(s->unpool_out, s->unpool_full, sizeof s->unpool_out);
    if (!os) return EI_STATUS_OK;
    int64_t v[EI_MAX_RANK];
    size_t n = 0;
    EI_CHECK(ei_elem_read_ints(node, os, "output_shape", v, EI_MAX_RANK, &n));
    bool ok = n == (size_t)rank;
    for (int i = 0; ok && i < rank; i++)
        ok = i < 2 ? v[i] == s->unpool_full[i] : v[i] >= s->unpool_full[i];
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input output_shape '%s' = %s must keep N and C and be at least "
                             "the unpooled shape %s",
                             os->name, ei_shape_str((int)n, v, buf, sizeof buf),
                             ei_shape_str(rank, s->unpool_full, buf2, sizeof buf2));
    memcpy(s->unpool_out, v, (size_t)rank * sizeof(int64_t));
    return EI_STATUS_OK;
}

static ei_status unpool_infer(ei_exec *ex, ei_node *node) {
    pool_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    const ei_value *os = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    int nsp = (int)s->ga.n_kernel;
    bool same = ind->dtype == EI_DTYPE_I64 && ind->rank == x->rank;
    for (int i = 0; same && i < x->rank; i++) same = ind->dims[i] == x->dims[i];
    if (x->rank != nsp + 2 || !same)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s and I '%s' %s (%s); expected rank %d "
                             "and int64 indices of X's shape",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), ind->name,
                             ei_shape_str(ind->rank, ind->dims, buf2, sizeof buf2),
                             ei_dtype_name(ind->dtype), nsp + 2);
    const ei_geom_attrs *ga = &s->ga;
    if ((ga->n_strides && ga->n_strides != (size_t)nsp) ||
        (ga->n_pads && ga->n_pads != 2 * (size_t)nsp))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attributes strides (%zu values) and pads (%zu) do not match "
                             "kernel_shape (%d dims)",
                             ga->n_strides, ga->n_pads, nsp);
    s->unpool_rank = x->rank;
    s->unpool_full[0] = x->dims[0];
    s->unpool_full[1] = x->dims[1];
    for (int i = 0; i < nsp; i++) {
        int64_t st = ga->n_strides ? ga->strides[i] : 1, o = 0;
        int64_t pads = ga->n_pads ? ga->pads[i] + ga->pads[nsp + i] : 0;
        if (x->dims[2 + i] < 1 || __builtin_mul_overflow(x->dims[2 + i] - 1, st, &o) ||
            o > ((int64_t)1 << 61))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' spatial dim %d = %lld is out of range", x->name,
                                 i, (long long)x->dims[2 + i]);
        o += ga->kernel[i] - pads;
        if (o < 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s': unpooled spatial dim %d would be %lld", x->name,
                                 i, (long long)o);
        s->unpool_full[2 + i] = o;
    }
    size_t total;
    if (!ei_shape_numel(x->rank, s->unpool_full, &total))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s': unpooled shape overflows", x->name);
    if (os && os->rank >= 0 && !ei_value_known(os)) {
        node->dynamic = true; /* output_shape is only known at run */
        return EI_STATUS_OK;
    }
    node->dynamic = false;
    EI_CHECK(unpool_out_shape(node, s, os));
    return ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, s->unpool_out);
}

static ei_status unpool_run(ei_exec *ex, ei_node *node) {
    pool_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int rank = s->unpool_rank;
    if (node->dynamic) {
        /* Only node->dynamic runs rewrite the state; those are serialized with the
         * session's other runs. */
        EI_CHECK(unpool_out_shape(node, s, ei_node_in(ex, node, 2)));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, EI_DTYPE_F32, rank, s->unpool_out));
    }
    size_t full, n = ei_value_numel(x);
    if (!ei_shape_numel(rank, s->unpool_full, &full)) full = 0;
    float *yd = y->data;
    const float *xd = x->data;
    const int64_t *id = ind->data;
    if (y->nbytes) memset(yd, 0, y->nbytes);
    bool same = true;
    for (int i = 2; i < rank; i++) same = same && s->unpool_out[i] == s->unpool_full[i];
    /* Spatial dims normalized to 3 for the remapping into a larger output. */
    int64_t fd[3] = {1, 1, 1}, od[3] = {1, 1, 1};
    for (int i = 2; i < rank; i++) {
        fd[3 - (rank - i)] = s->unpool_full[i];
        od[3 - (rank - i)] = s->unpool_out[i];
    }
    size_t fplane = (size_t)(fd[0] * fd[1] * fd[2]), oplane = (size_t)(od[0] * od[1] * od[2]);
    for (size_t e = 0; e < n; e++) {
        int64_t k = id[e];
        if (k < 0 || (uint64_t)k >= full)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "input I '%s'[%zu] = %lld is outside [0, %zu)", ind->name, e,
                                 (long long)k, full);
        if (same) {
            yd[k] = xd[e];
            continue;
        }
        size_t u = (size_t)k, plane = u / fplane, r = u % fplane;
        size_t w = r % (size_t)fd[2], h = (r / (size_t)fd[2]) % (size_t)fd[1];
        size_t d = r / ((size_t)fd[2] * (size_t)fd[1]);
        yd[plane * oplane + (d * (size_t)od[1] + h) * (size_t)od[2] + w] = xd[e];
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_max_pool = {max_pool_prepare, pool_infer, pool_run, pool_destroy,
                                      .dtypes = "float32"};
const ei_op_fns ei_op_fns_average_pool = {average_pool_prepare, pool_infer, pool_run,
                                          pool_destroy, .dtypes = "float32"};
const ei_op_fns ei_op_fns_global_average_pool = {global_average_pool_prepare, pool_infer,
                                                 pool_run, pool_destroy, .dtypes = "float32"};
const ei_op_fns ei_op_fns_global_max_pool = {global_max_pool_prepare, pool_infer, pool_run,
                                             pool_destroy, .dtypes = "float32"};
const ei_op_fns ei_op_fns_lp_pool = {lp_pool_prepare, pool_infer, pool_run, pool_destroy,
                                     .dtypes = "float32"};
const ei_op_fns ei_op_fns_max_unpool = {max_unpool_prepare, unpool_infer, unpool_run,
                                        pool_destroy, .dtypes = "float32"};
