/*
 * grid_sample.c - GridSample (opsets 16, 20, 22): samples X [N, C, D1..Dk] at the normalized
 * coordinates of grid [N, O1..Ok, k] (last dim ordered x, y, z: innermost data dim first).
 * Modes nearest (round half to even), linear and cubic (Keys, a = -0.75; bilinear/bicubic are
 * the opset-16 names), padding zeros/border/reflection, align_corners, as the ONNX reference
 * defines them. Opset 16 takes 4-D X only; 20+ any k >= 1. Taps of one grid point are built
 * once per dim (coordinates in the grid's type, weights in double) and reused for every channel.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

#define GS_MAX_K (EI_MAX_RANK - 2)

typedef enum gs_mode { GS_MODE_NEAREST = 0, GS_MODE_LINEAR = 1, GS_MODE_CUBIC = 2 } gs_mode;
typedef enum gs_pad { GS_PAD_ZEROS = 0, GS_PAD_BORDER = 1, GS_PAD_REFLECTION = 2 } gs_pad;

typedef struct gs_state {
    gs_mode mode;
    gs_pad pad;
    int align;
    int k;              /* spatial dims, from the last infer */
    size_t n, c, s_out; /* batch, channels, output points per (n, c) */
    size_t s_in;        /* input points per (n, c) */
} gs_state;

static ei_status gs_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    gs_state *s = NULL;
    const char *mode = NULL, *pad = NULL;
    int64_t align = 0;
    const bool old = node->opset < 20;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_string(node, "mode", old ? "bilinear" : "linear", &mode));
    if (strcmp(mode, "nearest") == 0)
        s->mode = GS_MODE_NEAREST;
    else if (strcmp(mode, old ? "bilinear" : "linear") == 0)
        s->mode = GS_MODE_LINEAR;
    else if (strcmp(mode, old ? "bicubic" : "cubic") == 0)
        s->mode = GS_MODE_CUBIC;
    else {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'mode' = '%s' is not one of nearest, %s at opset %d", mode,
                           old ? "bilinear, bicubic" : "linear, cubic", node->opset);
        goto cleanup;
    }
    EI_TRY(ei_node_attr_string(node, "padding_mode", "zeros", &pad));
    if (strcmp(pad, "zeros") == 0)
        s->pad = GS_PAD_ZEROS;
    else if (strcmp(pad, "border") == 0)
        s->pad = GS_PAD_BORDER;
    else if (strcmp(pad, "reflection") == 0)
        s->pad = GS_PAD_REFLECTION;
    else {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'padding_mode' = '%s' is not one of zeros, border, "
                           "reflection",
                           pad);
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "align_corners", 0, &align));
    if (align != 0 && align != 1) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'align_corners' = %lld must be 0 or 1", (long long)align);
        goto cleanup;
    }
    s->align = (int)align;
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status gs_infer(ei_exec *ex, ei_node *node) {
    gs_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *g = ei_node_in(ex, node, 1);
    char b1[160], b2[160];
    int64_t dims[EI_MAX_RANK];
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64", x->name,
                             ei_dtype_name(x->dtype));
    if (g->dtype != EI_DTYPE_F32 && g->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' (grid) has dtype %s; supported: float32, float64", g->name,
                             ei_dtype_name(g->dtype));
    if (x->rank < 3 || (node->opset < 20 && x->rank != 4))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must be %s at opset %d", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1),
                             node->opset < 20 ? "4-D" : "[N, C, D1, ...]", node->opset);
    const int k = x->rank - 2;
    if (g->rank != x->rank || g->dims[0] != x->dims[0] || g->dims[k + 1] != k)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (grid) %s must be [N, O1..O%d, %d] for input '%s' %s",
                             g->name, ei_shape_str(g->rank, g->dims, b1, sizeof b1), k, k, x->name,
                             ei_shape_str(x->rank, x->dims, b2, sizeof b2));
    s->k = k;
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->s_out = 1;
    s->s_in = 1;
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < k; i++) {
        dims[2 + i] = g->dims[1 + i];
        s->s_out *= (size_t)g->dims[1 + i]; /* bounded by grid's element count */
        s->s_in *= (size_t)x->dims[2 + i];
    }
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, dims));
    if (s->s_in == 0 && s->s_out != 0 && s->n != 0 && s->c != 0)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s has an empty spatial dim to sample from", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1));
    return EI_STATUS_OK;
}

/* Reflects x into [lo, hi] by the near border until inside (ONNX / PyTorch rule). */
static double gs_reflect(double x, double lo, double hi) {
    double rng = hi - lo, r, n;
    if (!(rng > 0)) return lo;
    if (x < lo) {
        double dx = lo - x;
        n = floor(dx / rng);
        r = dx - n * rng;
        x = fmod(n, 2.0) == 0.0 ? lo + r : hi - r;
    } else if (x > hi) {
        double dx = x - hi;
        n = floor(dx / rng);
        r = dx - n * rng;
        x = fmod(n, 2.0) == 0.0 ? hi - r : lo + r;
    }
    return x < lo ? lo : x > hi ? hi : x;
}

static void gs_cubic_coeffs(double t, double c[4]) {
    const double a = -0.75;
    double x = t + 1.0;
    c[0] = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    x = t;
    c[1] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    x = 1.0 - t;
    c[2] = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    x = 2.0 - t;
    c[3] = ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
}

/* Taps of one dim: element offsets (or -1 for a zero-padded tap) and weights. */
typedef struct gs_taps {
    int n;
    int64_t off[4];
    double w[4];
} gs_taps;

/* Input index of tap i in a dim of size d under the padding mode; -1 reads zero. */
static int64_t gs_index(const gs_state *s, int64_t i, int64_t d, double lo, double hi) {
    if (i >= 0 && i < d) return i;
    if (s->pad == GS_PAD_ZEROS) return -1;
    if (s->pad == GS_PAD_BORDER) return i < 0 ? 0 : d - 1;
    int64_t r = (int64_t)gs_reflect((double)i, lo, hi); /* in [lo, hi], so |r| <= d */
    return r < 0 ? 0 : r >= d ? d - 1 : r;
}

/* Builds the taps of one dim for the unnormalized coordinate x; false if x is NaN. */
static bool gs_build_taps(const gs_state *s, double x, int64_t d, size_t stride, gs_taps *t) {
    const double lo = s->align ? 0.0 : -0.5, hi = s->align ? (double)d - 1.0 : (double)d - 0.5;
    if (isnan(x)) return false;
    if (s->mode == GS_MODE_NEAREST) x = nearbyint(x);
    if (x < lo || x > hi) {
        if (s->pad == GS_PAD_BORDER)
            x = x<0.0 ? 0.0 : x>(double) d - 1.0 ? (double)d - 1.0 : x;
        else if (s->pad == GS_PAD_REFLECTION)
            x = gs_reflect(x, lo, hi);
    }
    if (isnan(x)) return false;
    /* Beyond 8 outside the data every tap is out of range whatever the mode: clamping keeps
     * the int conversions defined without changing the result. */
    if (x < -8.0) x = -8.0;
    if (x > (double)d + 8.0) x = (double)d + 8.0;
    if (s->mode == GS_MODE_NEAREST) {
        int64_t i = gs_index(s, (int64_t)x, d, lo, hi);
        t->n = 1;
        t->off[0] = i < 0 ? -1 : i * (int64_t)stride;
        t->w[0] = 1.0;
        return true;
    }
    double f = floor(x), frac = x - f;
    int64_t i0 = (int64_t)f;
    if (s->mode == GS_MODE_LINEAR) {
        t->n = 2;
        t->w[0] = 1.0 - frac;
        t->w[1] = frac;
    } else {
        t->n = 4;
        i0 -= 1;
        gs_cubic_coeffs(frac, t->w);
    }
    for (int j = 0; j < t->n; j++) {
        int64_t i = gs_index(s, i0 + j, d, lo, hi);
        t->off[j] = i < 0 ? -1 : i * (int64_t)stride;
    }
    return true;
}

typedef struct gs_ctx {
    const gs_state *s;
    const ei_value *x, *g;
    void *y;
    size_t n_points, n_tasks; /* points = n * s_out */
} gs_ctx;

static void gs_task(void *arg, size_t task, int thread) {
    (void)thread;
    const gs_ctx *c = arg;
    const gs_state *s = c->s;
    const int k = s->k;
    const ei_value *x = c->x;
    const bool gf32 = c->g->dtype == EI_DTYPE_F32, xf32 = x->dtype == EI_DTYPE_F32;
    size_t per = (c->n_points + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->n_points ? b + per : c->n_points;
    gs_taps taps[GS_MAX_K];
    size_t stride[GS_MAX_K];
    size_t acc = 1;
    for (int j = k - 1; j >= 0; j--) {
        stride[j] = acc;
        acc *= (size_t)x->dims[2 + j];
    }
    for (size_t p = b; p < e; p++) {
        size_t n = p / s->s_out, o = p % s->s_out;
        bool ok = true;
        /* grid[n, o, :] holds (x, y, z...): component i addresses data dim k - 1 - i. */
        for (int i = 0; i < k && ok; i++) {
            const int j = k - 1 - i;
            const int64_t d = x->dims[2 + j];
            size_t gi = p * (size_t)k + (size_t)i;
            double u;
            if (gf32) {
                float v = ((const float *)c->g->data)[gi], len = (float)d;
                u = s->align ? (double)((v + 1.0f) / 2.0f * (len - 1.0f))
                             : (double)(((v + 1.0f) * len - 1.0f) / 2.0f);
            } else {
                double v = ((const double *)c->g->data)[gi], len = (double)d;
                u = s->align ? (v + 1.0) / 2.0 * (len - 1.0) : ((v + 1.0) * len - 1.0) / 2.0;
            }
            ok = gs_build_taps(s, u, d, stride[j], &taps[j]);
        }
        for (size_t ch = 0; ch < s->c; ch++) {
            size_t base = (n * s->c + ch) * s->s_in, out = (n * s->c + ch) * s->s_out + o;
            double sum = 0.0;
            if (!ok) {
                sum = NAN;
            } else {
                int idx[GS_MAX_K] = {0};
                for (;;) { /* odometer over the tap product */
                    double w = 1.0;
                    int64_t off = 0;
                    for (int j = 0; j < k; j++) {
                        int64_t t = taps[j].off[idx[j]];
                        if (t < 0) {
                            off = -1;
                            break;
                        }
                        off += t;
                        w *= taps[j].w[idx[j]];
                    }
                    if (off >= 0)
                        sum += w * (xf32 ? (double)((const float *)x->data)[base + (size_t)off]
                                         : ((const double *)x->data)[base + (size_t)off]);
                    int j = k - 1;
                    while (j >= 0 && ++idx[j] == taps[j].n)
                        idx[j--] = 0;
                    if (j < 0) break;
                }
            }
            if (xf32)
                ((float *)c->y)[out] = (float)sum;
            else
                ((double *)c->y)[out] = sum;
        }
    }
}

static ei_status gs_run(ei_exec *ex, ei_node *node) {
    const gs_state *s = node->state;
    gs_ctx c = {s,
                ei_node_in(ex, node, 0),
                ei_node_in(ex, node, 1),
                ei_node_out(ex, node, 0)->data,
                s->n * s->s_out,
                1};
    if (c.n_points == 0 || s->c == 0) return EI_STATUS_OK;
    size_t t = ei_elem_tasks(ex, c.n_points * s->c, 4096);
    c.n_tasks = t < c.n_points ? t : c.n_points;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        gs_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, gs_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_grid_sample = {gs_prepare, gs_infer, gs_run, free,
                                         .dtypes = "float32 float64"};
