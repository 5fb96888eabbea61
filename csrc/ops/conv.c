/*
 * conv.c - ONNX Conv (float32; 1-D, 2-D and 3-D; groups, pads, strides, dilations,
 * auto_pad, optional bias). Three paths: 1x1/stride-1/no-pad convs are a GEMM straight on
 * the input; depthwise convs (groups == C_in == C_out) are a direct loop; everything else
 * is im2col into per-thread scratch tiles + ei_sgemm per group. Work is split over
 * (batch, group, output-pixel tile); bias is added to each tile right after its GEMM.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/conv_geometry.h"

enum { CONV_IM2COL = 0, CONV_DIRECT = 1, CONV_DEPTHWISE = 2 };

/* im2col tiles hold about this many floats (1 MiB), so they stay in L2/L3. */
#define CONV_TILE_FLOATS ((size_t)1 << 18)

typedef struct conv_state {
    ei_geom_attrs ga;
    int64_t group;
    /* infer */
    ei_geom g;
    int mode;
    size_t n, cin, cout, cin_g, cout_g, ck;
    size_t tile, n_tiles;    /* output pixels per task and tiles per (n, group) */
    size_t slice_floats;     /* per-thread im2col slice, a multiple of 16 floats */
    size_t planes_per_task;  /* depthwise */
    ei_window_plan wp;       /* depthwise */
} conv_state;

typedef struct conv_args {
    const conv_state *s;
    const float *x, *w, *b;
    float *y, *scratch;
} conv_args;

/* Checks the weight tensor W on its own (prepare, when W is constant, and infer). */
static ei_status conv_check_weight(const ei_node *node, const conv_state *s, const ei_value *w) {
    char buf[128];
    if (w->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input W '%s' has dtype %s; only float32 is supported", w->name,
                             ei_dtype_name(w->dtype));
    if (w->rank < 3)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input W '%s' has shape %s, expected rank >= 3 [M, C/group, k...]",
                             w->name, ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    if (w->rank > 5)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input W '%s' has shape %s; only 1-D, 2-D and 3-D convolutions "
                             "are supported",
                             w->name, ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    int nsp = w->rank - 2;
    if (w->dims[0] % s->group != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "group=%lld does not divide the %lld output channels of W '%s' %s",
                             (long long)s->group, (long long)w->dims[0], w->name,
                             ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    EI_CHECK(ei_geom_check_kernel(node, &s->ga, w, nsp));
    const ei_geom_attrs *ga = &s->ga;
    if ((ga->n_strides && ga->n_strides != (size_t)nsp) ||
        (ga->n_dilations && ga->n_dilations != (size_t)nsp) ||
        (ga->n_pads && ga->n_pads != 2 * (size_t)nsp))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "W '%s' has %d spatial dims but the attributes have strides %zu, "
                             "dilations %zu, pads %zu values (pads needs %d)",
                             w->name, nsp, ga->n_strides, ga->n_dilations, ga->n_pads,
                             2 * nsp);
    return EI_STATUS_OK;
}

static void conv_destroy(void *p) {
    conv_state *s = p;
    if (!s) return;
    ei_window_plan_free(&s->wp);
    free(s);
}

static ei_status conv_prepare(ei_exec *ex, ei_node *node) {
    ei_status st = EI_STATUS_OK;
    conv_state *s = NULL;
    EI_TRY(ei_geom_check_conv_io(node));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_geom_parse_conv(node, &s->ga, &s->group));
    const ei_value *w = ei_node_in(ex, node, 1);
    if (ei_value_known(w) && w->rank >= 0) EI_TRY(conv_check_weight(node, s, w));
    node->state = s;
    s = NULL;
cleanup:
    conv_destroy(s);
    return st;
}

static ei_status conv_infer(ei_exec *ex, ei_node *node) {
    conv_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *b = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    EI_CHECK(conv_check_weight(node, s, w));
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank != w->rank)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s, expected rank %d to match W '%s' %s",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->rank,
                             w->name, ei_shape_str(w->rank, w->dims, buf2, sizeof buf2));
    if (x->dims[1] != w->dims[1] * s->group)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s with %lld channels, but W '%s' %s with "
                             "group=%lld expects %lld",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                             (long long)x->dims[1], w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2),
                             (long long)s->group, (long long)(w->dims[1] * s->group));
    if (b) {
        if (b->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input B '%s' has dtype %s; only float32 is supported",
                                 b->name, ei_dtype_name(b->dtype));
        if (b->rank != 1 || b->dims[0] != w->dims[0])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input B '%s' has shape %s, expected [%lld] (W's output "
                                 "channels)",
                                 b->name, ei_shape_str(b->rank, b->dims, buf, sizeof buf),
                                 (long long)w->dims[0]);
    }
    int nsp = x->rank - 2;
    EI_CHECK(ei_geom_resolve(node, &s->ga, nsp, x->dims + 2, w->dims + 2, x->name, &s->g));
    const ei_geom *g = &s->g;
    s->n = (size_t)x->dims[0];
    s->cin = (size_t)x->dims[1];
    s->cout = (size_t)w->dims[0];
    s->cin_g = (size_t)w->dims[1];
    s->cout_g = s->cout / (size_t)s->group;
    if (!ei_size_mul(s->cin_g, g->k_size, &s->ck))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "W '%s' is too large", w->name);
    int64_t od[EI_MAX_RANK] = {x->dims[0], w->dims[0]};
    for (int i = 0; i < nsp; i++) od[2 + i] = g->out[3 - nsp + i];
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, od));

    size_t threads = ex->num_threads > 0 ? (size_t)ex->num_threads : 1;
    node->scratch_bytes = 0;
    s->slice_floats = 0;
    bool unit_window = g->k_size == 1;
    for (int i = 0; i < 3; i++)
        unit_window = unit_window && g->s[i] == 1 && g->pb[i] == 0 && g->pe[i] == 0;
    if (s->group > 1 && s->cin_g == 1 && s->cout_g == 1) {
        s->mode = CONV_DEPTHWISE;
        size_t planes = s->n * s->cout, work = planes * g->out_size; /* bounded by numel */
        size_t t = work / 16384;
        if (t > threads) t = threads;
        if (t > planes) t = planes;
        if (t < 1) t = 1;
        s->planes_per_task = planes ? (planes + t - 1) / t : 1;
        return ei_window_plan_update(node, g, &s->wp);
    }
    s->mode = unit_window ? CONV_DIRECT : CONV_IM2COL;
    size_t out_sp = g->out_size, tile = out_sp;
    if (s->mode == CONV_IM2COL) {
        size_t t = s->ck ? CONV_TILE_FLOATS / s->ck : out_sp;
        t = t / 16 * 16;
        if (t < 16) t = 16;
        if (t < tile) tile = t;
    }
    /* Too few (batch, group) units to feed the threads: cut the pixels finer. */
    size_t units = s->n * (size_t)s->group;
    if (units < threads && out_sp >= 128) {
        size_t per = (threads + units - 1) / (units ? units : 1);
        size_t t = (out_sp + per - 1) / per;
        t = (t + 15) / 16 * 16;
        if (t < 64) t = 64;
        if (t < tile) tile = t;
    }
    s->tile = tile ? tile : 1;
    s->n_tiles = (out_sp + s->tile - 1) / s->tile;
    if (s->mode == CONV_IM2COL) {
        size_t slice, bytes;
        if (!ei_size_mul(s->ck, s->tile, &slice) || !ei_size_add(slice, 15, &slice) ||
            !ei_size_mul(slice / 16 * 16, threads * sizeof(float), &bytes))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "im2col scratch size overflows for X '%s'", x->name);
        s->slice_floats = slice / 16 * 16;
        node->scratch_bytes = bytes;
    }
    return EI_STATUS_OK;
}

/* Columns [p0, p0 + cols) of the im2col matrix of one (n, group) input block x:
 * col[ck][cols], row r = (c, kd, kh, kw). */
static void conv_im2col(const conv_state *s, const float *x, size_t p0, size_t cols,
                        float *col) {
    const ei_geom *g = &s->g;
    size_t o2 = (size_t)g->out[2], o1 = (size_t)g->out[1];
    float *dst = col;
    for (size_t c = 0; c < s->cin_g; c++) {
        const float *xc = x + c * g->in_size;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
            for (int64_t kh = 0; kh < g->k[1]; kh++)
                for (int64_t kw = 0; kw < g->k[2]; kw++) {
                    int64_t off = kw * g->d[2] - g->pb[2], lo, hi;
                    ei_geom_output_range(off, g->s[2], g->in[2], g->out[2], &lo, &hi);
                    size_t p = p0, end = p0 + cols;
                    while (p < end) {
                        size_t ow0 = p % o2, r = p / o2, oh = r % o1, od = r / o1;
                        size_t len = o2 - ow0 < end - p ? o2 - ow0 : end - p;
                        int64_t id = (int64_t)od * g->s[0] - g->pb[0] + kd * g->d[0];
                        int64_t ih = (int64_t)oh * g->s[1] - g->pb[1] + kh * g->d[1];
                        if (id < 0 || id >= g->in[0] || ih < 0 || ih >= g->in[1] || lo >= hi) {
                            memset(dst, 0, len * sizeof(float));
                        } else {
                            const float *xr = xc + ((size_t)id * (size_t)g->in[1] + (size_t)ih) *
                                                       (size_t)g->in[2];
                            int64_t a = (int64_t)ow0, e = (int64_t)(ow0 + len);
                            int64_t v0 = lo > a ? lo : a, v1 = hi < e ? hi : e;
                            if (v1 < v0) v1 = v0 = e;
                            size_t i = 0;
                            for (int64_t ow = a; ow < v0; ow++) dst[i++] = 0.0f;
                            if (v1 == v0) {
                                /* nothing in bounds */
                            } else if (g->s[2] == 1) {
                                memcpy(dst + i, xr + v0 + off, (size_t)(v1 - v0) * sizeof(float));
                                i += (size_t)(v1 - v0);
                            } else {
                                for (int64_t ow = v0; ow < v1; ow++)
                                    dst[i++] = xr[ow * g->s[2] + off];
                            }
                            for (int64_t ow = v1; ow < e; ow++) dst[i++] = 0.0f;
                        }
                        dst += len;
                        p += len;
                    }
                }
    }
}

static void conv_gemm_task(void *arg, size_t task, int thread) {
    const conv_args *p = arg;
    const conv_state *s = p->s;
    const ei_geom *g = &s->g;
    size_t unit = task / s->n_tiles, tile = task % s->n_tiles;
    size_t n = unit / (size_t)s->group, gi = unit % (size_t)s->group;
    size_t in_sp = g->in_size, out_sp = g->out_size;
    const float *x = p->x + (n * s->cin + gi * s->cin_g) * in_sp;
    const float *w = p->w + gi * s->cout_g * s->ck;
    float *y = p->y + (n * s->cout + gi * s->cout_g) * out_sp;
    size_t p0 = tile * s->tile, cols = out_sp - p0 < s->tile ? out_sp - p0 : s->tile;
    if (s->ck == 0) {
        for (size_t m = 0; m < s->cout_g; m++) memset(y + m * out_sp + p0, 0, cols * sizeof(float));
    } else if (s->mode == CONV_DIRECT) {
        ei_sgemm(0, 0, s->cout_g, cols, s->cin_g, 1.0f, w, s->ck, x + p0, in_sp, 0.0f, y + p0,
                 out_sp);
    } else {
        float *col = p->scratch + (size_t)thread * s->slice_floats;
        conv_im2col(s, x, p0, cols, col);
        ei_sgemm(0, 0, s->cout_g, cols, s->ck, 1.0f, w, s->ck, col, cols, 0.0f, y + p0, out_sp);
    }
    if (p->b) {
        const ei_kernel_table *k = ei_kernels();
        for (size_t m = 0; m < s->cout_g; m++) {
            float *row = y + m * out_sp + p0;
            k->f32_vaddc(cols, row, p->b[gi * s->cout_g + m], row);
        }
    }
}

/* Output (od, oh, ow) of a depthwise plane whose window crosses the border. */
static float conv_depthwise_border(const conv_state *s, const float *x, const float *w,
                                   float bias, int64_t od, int64_t oh, int64_t ow) {
    const ei_geom *g = &s->g;
    int64_t st[3] = {od * g->s[0] - g->pb[0], oh * g->s[1] - g->pb[1],
                     ow * g->s[2] - g->pb[2]};
    const int64_t *td = ei_window_plan_taps(&s->wp, 0, od);
    const int64_t *th = ei_window_plan_taps(&s->wp, 1, oh);
    const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
    float acc = bias;
    for (int64_t kd = td[0]; kd < td[1]; kd++) {
        int64_t id = st[0] + kd * g->d[0];
        for (int64_t kh = th[0]; kh < th[1]; kh++) {
            int64_t ih = st[1] + kh * g->d[1];
            const float *xr = x + (id * g->in[1] + ih) * g->in[2];
            const float *wr = w + (kd * g->k[1] + kh) * g->k[2];
            for (int64_t kw = tw[0]; kw < tw[1]; kw++)
                acc += wr[kw] * xr[st[2] + kw * g->d[2]];
        }
    }
    return acc;
}

/* EI_DW_BLOCK outputs (stride s2, first window at p0) into y. The fixed-size arrays and
 * loops let the compiler keep the sums in vector registers with no ISA flags. */
#define EI_DW_BLOCK(width)                                                               \
    do {                                                                                 \
        float acc[width];                                                                \
        for (int j = 0; j < (width); j++) acc[j] = bias;                                 \
        if (s2 == 1) {                                                                   \
            for (size_t t = 0; t < kn; t++) {                                            \
                const float *p = p0 + off[t];                                            \
                float wv = w[t];                                                         \
                for (int j = 0; j < (width); j++) acc[j] += wv * p[j];                   \
            }                                                                            \
        } else {                                                                         \
            for (size_t t = 0; t < kn; t++) {                                            \
                const float *p = p0 + off[t];                                            \
                float wv = w[t];                                                         \
                for (int j = 0; j < (width); j++) acc[j] += wv * p[j * s2];              \
            }                                                                            \
        }                                                                                \
        memcpy(y + i, acc, sizeof acc);                                                  \
    } while (0)

/* Interior outputs [a, b) of row (od, oh): no bounds checks, taps at fixed offsets,
 * outputs in blocks. */
static void conv_depthwise_interior(const conv_state *s, const float *x, const float *w,
                                    float bias, int64_t od, int64_t oh, int64_t a, int64_t b,
                                    float *y) {
    const ei_geom *g = &s->g;
    const int64_t *off = s->wp.off, s2 = g->s[2];
    const float *base = x + ei_geom_window_origin(g, od, oh, a);
    size_t n = (size_t)(b - a), kn = g->k_size, i = 0;
    /* Blocks of 16, the last one shifted back to end at n (recomputing a few outputs
     * beats a scalar tail); rows shorter than 16 take blocks of 8 the same way. */
    size_t width = n >= 16 ? 16 : n >= 8 ? 8 : 0;
    for (size_t done = 0; width && done < n; done += width) {
        i = done + width <= n ? done : n - width;
        const float *p0 = base + (int64_t)i * s2;
        if (width == 16) EI_DW_BLOCK(16);
        else EI_DW_BLOCK(8);
    }
    for (i = width ? n : 0; i < n; i++) {
        const float *p = base + (int64_t)i * s2;
        float acc = bias;
        for (size_t t = 0; t < kn; t++) acc += w[t] * p[off[t]];
        y[i] = acc;
    }
}
#undef EI_DW_BLOCK

/* One (n, c) plane of a depthwise conv: y = bias + sum over taps of w * x. */
static void conv_depthwise_plane(const conv_state *s, const float *x, const float *w, float bias,
                                 float *y) {
    const ei_geom *g = &s->g;
    const ei_window_plan *wp = &s->wp;
    for (int64_t od = 0; od < g->out[0]; od++)
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            int64_t a = g->out[2], b = g->out[2];
            if (wp->interior && od >= wp->lo[0] && od < wp->hi[0] && oh >= wp->lo[1] &&
                oh < wp->hi[1]) {
                a = wp->lo[2];
                b = wp->hi[2];
            }
            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                if (ow == a && a < b) {
                    conv_depthwise_interior(s, x, w, bias, od, oh, a, b, y + a);
                    ow = b - 1;
                    continue;
                }
                y[ow] = conv_depthwise_border(s, x, w, bias, od, oh, ow);
            }
            y += g->out[2];
        }
}

static void conv_depthwise_task(void *arg, size_t task, int thread) {
    (void)thread;
    const conv_args *p = arg;
    const conv_state *s = p->s;
    size_t planes = s->n * s->cout, lo = task * s->planes_per_task;
    size_t hi = lo + s->planes_per_task < planes ? lo + s->planes_per_task : planes;
    for (size_t i = lo; i < hi; i++) {
        size_t c = i % s->cout;
        conv_depthwise_plane(s, p->x + i * s->g.in_size, p->w + c * s->g.k_size,
                             p->b ? p->b[c] : 0.0f, p->y + i * s->g.out_size);
    }
}

static ei_status conv_run(ei_exec *ex, ei_node *node) {
    const conv_state *s = node->state;
    const ei_value *b = ei_node_in(ex, node, 2);
    conv_args p = {s, ei_node_in(ex, node, 0)->data, ei_node_in(ex, node, 1)->data,
                   b ? (const float *)b->data : NULL, ei_node_out(ex, node, 0)->data,
                   node->scratch};
    if (s->n == 0 || s->cout == 0) return EI_STATUS_OK;
    size_t n_tasks;
    void (*fn)(void *, size_t, int);
    if (s->mode == CONV_DEPTHWISE) {
        size_t planes = s->n * s->cout;
        n_tasks = (planes + s->planes_per_task - 1) / s->planes_per_task;
        fn = conv_depthwise_task;
    } else {
        n_tasks = s->n * (size_t)s->group * s->n_tiles;
        fn = conv_gemm_task;
    }
    if (n_tasks == 1) fn(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, fn, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_conv = {conv_prepare, conv_infer, conv_run, conv_destroy,
                                  .dtypes = "float32"};
