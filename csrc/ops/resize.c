/*
 * resize.c - Resize (opsets 10-19) in N-D: nearest/linear/cubic, every coordinate transform
 * and nearest mode, roi, axes, keep_aspect_ratio_policy, antialias, as the ONNX reference
 * defines them (coordinates in float32, as onnxruntime computes them). Resizes of the last
 * two axes read tap tables built at infer; other geometries and dynamic nodes compute taps per
 * output element. Linear also takes uint8/int8/int32 (truncated, as onnxruntime does).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/resize_common.h"

/* ------------------------------------------------------------- attributes */

static ei_status resize_parse_enum(const ei_node *node, const char *attr, const char *def,
                                   const char *const *names, int n, int *out) {
    const char *v = NULL;
    EI_CHECK(ei_node_attr_string(node, attr, def, &v));
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(v, names[i]) == 0) {
            *out = i;
            return EI_STATUS_OK;
        }
    return ei_node_error(node, EI_STATUS_UNSUPPORTED, "attribute '%s' = '%s' is not supported",
                         attr, v);
}

static ei_status resize_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_resize_state *s = NULL;
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {
        "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
        "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
    int v = 0;
    int64_t iv = 0;
    if (node->opset < 11)
        EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    else
        EI_TRY(ei_elem_check_io(node, 1, 4, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->n_axes = -1;
    s->n_scales_attr = -1;
    EI_TRY(resize_parse_enum(node, "mode", "nearest", modes, node->opset < 11 ? 2 : 3, &v));
    s->mode = (ei_resize_mode)v;
    if (node->opset < 11) {
        s->coord = EI_RESIZE_COORD_ASYMMETRIC;
        s->nearest = EI_RESIZE_NEAREST_SIMPLE;
        s->in_roi = -1;
        s->in_scales = 1;
        s->in_sizes = -1;
        s->cubic_a = -0.75f;
    } else {
        EI_TRY(
            resize_parse_enum(node, "coordinate_transformation_mode", "half_pixel", coords, 7, &v));
        s->coord = (ei_resize_coord)v;
        if (s->coord == EI_RESIZE_COORD_HALF_PIXEL_SYMMETRIC && node->opset < 19) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "coordinate_transformation_mode 'half_pixel_symmetric' needs "
                               "opset 19, the model has %d",
                               node->opset);
            goto cleanup;
        }
        EI_TRY(resize_parse_enum(node, "nearest_mode", "round_prefer_floor", nearest, 4, &v));
        s->nearest = (ei_resize_nearest)v;
        EI_TRY(ei_node_attr_float(node, "cubic_coeff_a", -0.75f, &s->cubic_a));
        EI_TRY(ei_node_attr_int(node, "exclude_outside", 0, &iv));
        s->exclude_outside = iv != 0;
        EI_TRY(ei_node_attr_float(node, "extrapolation_value", 0.0f, &s->extrapolation));
        s->in_roi = 1;
        s->in_scales = 2;
        s->in_sizes = 3;
    }
    if (node->opset >= 18) {
        const int64_t *axes = NULL;
        size_t n = 0;
        EI_TRY(ei_node_attr_int(node, "antialias", 0, &iv));
        s->antialias = iv != 0;
        EI_TRY(resize_parse_enum(node, "keep_aspect_ratio_policy", "stretch", policies, 3, &v));
        s->policy = (ei_resize_policy)v;
        EI_TRY(ei_node_attr_ints(node, "axes", &axes, &n));
        if (axes) {
            if (n > EI_MAX_RANK) {
                st =
                    ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                  "attribute 'axes' has %zu entries, more than %d", n, EI_MAX_RANK);
                goto cleanup;
            }
            memcpy(s->axes, axes, n * sizeof *axes);
            s->n_axes = (int)n;
        }
    }
    if (s->mode == EI_RESIZE_MODE_NEAREST) s->antialias = 0;
    node->state = s;
    s = NULL;
cleanup:
    ei_resize_state_free(s);
    return st;
}

/* ------------------------------------------------------------------- plan */

/* Reads a known float32/float64 tensor of at most max finite elements (roi, scales) into out.
 * (A float16 roi, which the spec allows, is rejected as unsupported.) */
static ei_status resize_read_floats(const ei_node *node, const ei_value *v, const char *what,
                                    double *out, size_t max, size_t *count) {
    size_t numel = 0, es = ei_dtype_size(v->dtype);
    if (v->rank > 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s) must be 1-D, got rank %d", v->name, what, v->rank);
    if (v->dtype != EI_DTYPE_F32 && v->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' (%s) has dtype %s; float32 or float64 expected", v->name,
                             what, ei_dtype_name(v->dtype));
    if (!ei_shape_numel(v->rank, v->dims, &numel) || numel > max)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s) has more than %zu elements", v->name, what, max);
    if (numel * es > v->nbytes || (numel && !v->data))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input '%s' (%s) holds too little data",
                             v->name, what);
    for (size_t i = 0; i < numel; i++) {
        if (v->dtype == EI_DTYPE_F32) {
            float f;
            memcpy(&f, (const char *)v->data + i * 4, 4);
            out[i] = f;
        } else {
            memcpy(&out[i], (const char *)v->data + i * 8, 8);
        }
        if (!isfinite(out[i]))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' (%s) has a non-finite value at %zu", v->name, what, i);
    }
    *count = numel;
    return EI_STATUS_OK;
}

/* Input i when present and non-empty, else NULL. */
static const ei_value *resize_opt_in(const ei_exec *ex, const ei_node *node, int i) {
    const ei_value *v = i >= 0 ? ei_node_in(ex, node, i) : NULL;
    if (!v || v->rank < 0) return v;
    size_t numel = 0;
    if (!ei_shape_numel(v->rank, v->dims, &numel) || numel == 0) return NULL;
    return v;
}

/* Taps per output coordinate of an axis with scale `scale`. */
static ei_status resize_axis_taps(const ei_node *node, const ei_resize_state *s, double scale,
                                  int64_t *taps) {
    if (s->mode == EI_RESIZE_MODE_NEAREST)
        *taps = 1;
    else if (!s->antialias)
        *taps = s->mode == EI_RESIZE_MODE_LINEAR ? 2 : 4;
    else {
        double sp = scale < 1.0 ? scale : 1.0;
        double support = s->mode == EI_RESIZE_MODE_LINEAR ? 1.0 : 2.0;
        double r = support / sp;
        if (!(r < 1e9))
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "antialiased downscaling by %g needs too many taps", scale);
        int64_t start = (int64_t)floor(-r) + 1;
        *taps = 2 - 2 * start;
    }
    return EI_STATUS_OK;
}

static ei_status resize_make_plan(const ei_exec *ex, const ei_node *node, const ei_resize_state *s,
                                  ei_resize_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0);
    int r = x->rank, axes[EI_MAX_RANK], naxes = 0;
    double scales[EI_MAX_RANK], roi[2 * EI_MAX_RANK];
    int64_t sizes[EI_MAX_RANK];
    size_t n_scales = 0, n_sizes = 0, n_roi = 0;
    bool seen[EI_MAX_RANK] = {false};
    memset(p, 0, sizeof *p);
    p->rank = r;
    if (s->n_axes >= 0) {
        for (int i = 0; i < s->n_axes; i++) {
            int a;
            if (!ei_elem_norm_axis(s->axes[i], r, &a) || seen[a])
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "attribute 'axes' entry %lld is out of range or repeated for "
                                     "input '%s' of rank %d",
                                     (long long)s->axes[i], x->name, r);
            seen[a] = true;
            axes[naxes++] = a;
        }
    } else {
        for (int i = 0; i < r; i++)
            axes[naxes++] = i;
    }
    for (int d = 0; d < r; d++) {
        p->in[d] = p->out[d] = x->dims[d];
        p->scale[d] = 1.0;
        p->roi0[d] = 0.0;
        p->roi1[d] = 1.0;
    }
    const ei_value *vs = resize_opt_in(ex, node, s->in_scales);
    const ei_value *vz = resize_opt_in(ex, node, s->in_sizes);
    const ei_value *vr =
        s->coord == EI_RESIZE_COORD_TF_CROP_AND_RESIZE ? resize_opt_in(ex, node, s->in_roi) : NULL;
    if (s->n_scales_attr >= 0) {
        for (int i = 0; i < s->n_scales_attr; i++)
            scales[i] = s->scales_attr[i];
        n_scales = (size_t)s->n_scales_attr;
    } else if (vs) {
        EI_CHECK(resize_read_floats(node, vs, "scales", scales, EI_MAX_RANK, &n_scales));
    }
    if (vz) EI_CHECK(ei_elem_read_ints(node, vz, "sizes", sizes, EI_MAX_RANK, &n_sizes));
    if (vs && vz)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "only one of 'scales' ('%s') and 'sizes' ('%s') may be given",
                             vs->name, vz->name);
    if (!vz && n_scales == 0 && s->n_scales_attr < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "one of the inputs 'scales' and 'sizes' must be given and non-empty");
    if (vr) {
        EI_CHECK(resize_read_floats(node, vr, "roi", roi, 2 * EI_MAX_RANK, &n_roi));
        if (n_roi != 2 * (size_t)naxes)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' (roi) has %zu values, expected %d for input '%s' "
                                 "of rank %d",
                                 vr->name, n_roi, 2 * naxes, x->name, r);
        for (int i = 0; i < naxes; i++) {
            p->roi0[axes[i]] = roi[i];
            p->roi1[axes[i]] = roi[naxes + i];
        }
    }
    if (!vz) {
        if (n_scales != (size_t)naxes)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "'scales' has %zu values, expected %d for input '%s' of rank %d",
                                 n_scales, naxes, x->name, r);
        for (int i = 0; i < naxes; i++) {
            int d = axes[i];
            double sc = scales[i];
            if (!(sc > 0.0) || !isfinite(sc) || (s->upsample && sc < 1.0))
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "'scales' value %g at %d is invalid (must be %s)", sc, i,
                                     s->upsample ? ">= 1" : "> 0");
            double o = sc * (double)p->in[d];
            if (!(o < 4.0e18))
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "'scales' value %g makes axis %d too large", sc, d);
            p->scale[d] = sc;
            p->out[d] = (int64_t)floor(o);
        }
    } else {
        if (n_sizes != (size_t)naxes)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "'sizes' ('%s') has %zu values, expected %d for input '%s' of "
                                 "rank %d",
                                 vz->name, n_sizes, naxes, x->name, r);
        double agg = 0.0;
        for (int i = 0; i < naxes; i++) {
            int d = axes[i];
            if (sizes[i] < 0)
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "'sizes' ('%s') value %lld at %d is negative", vz->name,
                                     (long long)sizes[i], i);
            if (p->in[d] == 0) {
                if (sizes[i] != 0)
                    return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                         "input '%s' is empty along axis %d but 'sizes' asks "
                                         "for %lld",
                                         x->name, d, (long long)sizes[i]);
                continue;
            }
            double sc = (double)sizes[i] / (double)p->in[d];
            if (i == 0 || (s->policy == EI_RESIZE_POLICY_NOT_LARGER && sc < agg) ||
                (s->policy == EI_RESIZE_POLICY_NOT_SMALLER && sc > agg))
                agg = sc;
            p->scale[d] = sc;
            p->out[d] = sizes[i];
        }
        if (s->policy != EI_RESIZE_POLICY_STRETCH) {
            for (int i = 0; i < naxes; i++) {
                int d = axes[i];
                if (p->in[d] == 0) continue;
                double o = agg * (double)p->in[d] + 0.5;
                if (!(o < 4.0e18))
                    return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                         "'sizes' make axis %d too large", d);
                p->scale[d] = agg;
                p->out[d] = (int64_t)o;
            }
        }
    }
    for (int d = 0; d < r; d++) {
        /* With sizes (stretch) the output length is exactly the size. */
        p->width[d] = vz && s->policy == EI_RESIZE_POLICY_STRETCH ? (double)p->out[d]
                                                                  : p->scale[d] * (double)p->in[d];
        p->ident[d] = p->out[d] == p->in[d] && p->scale[d] == 1.0 &&
                      (s->coord != EI_RESIZE_COORD_TF_CROP_AND_RESIZE ||
                       (p->roi0[d] == 0.0 && p->roi1[d] == 1.0));
        if (p->in[d] == 0 && p->out[d] > 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' is empty along axis %d but the output is not", x->name,
                                 d);
        p->taps[d] = 1;
        if (!p->ident[d] && p->out[d] > 0)
            EI_CHECK(resize_axis_taps(node, s, p->scale[d], &p->taps[d]));
    }
    return EI_STATUS_OK;
}

/* ------------------------------------------------------------------- taps */

/* The taps of one output coordinate along one axis. */
typedef struct resize_desc {
    int64_t first; /* unclamped input index of tap 0 */
    int64_t n;
    int64_t in;
    bool extrap;
    bool lazy; /* antialias: weights computed per tap from the kernel */
    bool exclude;
    int cubic;
    float a;
    float w[4];
    double ratio, sp, inv_norm;
    int64_t start;
} resize_desc;

/* Source coordinate of output index o along axis d. Computed in float32 as onnxruntime
 * does (nearest rounding ties then fall the same way); the output length in the formulas
 * is the fractional scale * in, as in the ONNX reference. */
static double resize_coord(const ei_resize_state *s, const ei_resize_plan *p, int d, int64_t o,
                           bool *extrap) {
    float y = (float)o, in = (float)p->in[d], sc = (float)p->scale[d], w = (float)p->width[d], x;
    *extrap = false;
    switch (s->coord) {
    case EI_RESIZE_COORD_HALF_PIXEL_SYMMETRIC: {
        float adj = (float)p->out[d] / w, center = in / 2.0f;
        x = center * (1.0f - adj) + (y + 0.5f) / sc - 0.5f;
        break;
    }
    case EI_RESIZE_COORD_PYTORCH_HALF_PIXEL: x = w == 1.0f ? 0.0f : (y + 0.5f) / sc - 0.5f; break;
    case EI_RESIZE_COORD_ALIGN_CORNERS: x = w == 1.0f ? 0.0f : y * (in - 1.0f) / (w - 1.0f); break;
    case EI_RESIZE_COORD_ASYMMETRIC: x = y / sc; break;
    case EI_RESIZE_COORD_TF_HALF_PIXEL_FOR_NN: x = (y + 0.5f) / sc; break;
    case EI_RESIZE_COORD_TF_CROP_AND_RESIZE: {
        float r0 = (float)p->roi0[d], r1 = (float)p->roi1[d];
        if (w == 1.0f)
            x = (float)(0.5 * (double)(r0 + r1) * (double)(in - 1.0f));
        else
            x = r0 * (in - 1.0f) + (y * (r1 - r0) * (in - 1.0f)) / (w - 1.0f);
        if (!(x >= 0.0f && x <= in - 1.0f)) *extrap = true;
        break;
    }
    case EI_RESIZE_COORD_HALF_PIXEL:
    default: x = (y + 0.5f) / sc - 0.5f; break;
    }
    return isnan(x) ? 0.0 : (double)x;
}

static inline int64_t resize_clamp(int64_t i, int64_t n) {
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

static inline double resize_aa_kernel(const resize_desc *t, double v) {
    v = fabs(v);
    if (!t->cubic) return v < 1.0 ? 1.0 - v : 0.0;
    double a = t->a, v2 = v * v, v3 = v2 * v;
    if (v <= 1.0) return (a + 2.0) * v3 - (a + 3.0) * v2 + 1.0;
    if (v < 2.0) return a * v3 - 5.0 * a * v2 + 8.0 * a * v - 4.0 * a;
    return 0.0;
}

static inline float resize_w(const resize_desc *t, int64_t j) {
    if (!t->lazy) return t->w[j];
    int64_t i = t->first + j;
    if (t->exclude && (i < 0 || i >= t->in)) return 0.0f;
    return (float)(resize_aa_kernel(t, ((double)(t->start + j) - t->ratio) * t->sp) * t->inv_norm);
}

static inline int64_t resize_idx(const resize_desc *t, int64_t j) {
    return resize_clamp(t->first + j, t->in);
}

static void resize_desc_at(const ei_resize_state *s, const ei_resize_plan *p, int d, int64_t o,
                           resize_desc *t) {
    t->in = p->in[d];
    t->lazy = false;
    t->extrap = false;
    t->n = 1;
    t->w[0] = 1.0f;
    if (p->ident[d]) {
        t->first = o;
        return;
    }
    double x = resize_coord(s, p, d, o, &t->extrap);
    if (t->extrap) {
        t->first = 0;
        return;
    }
    /* Far outside the input every tap clamps to an edge: bring x near it so that the
     * index arithmetic stays small (results are unchanged). */
    double lim = (double)p->taps[d] + 4.0;
    if (x < -lim) x = -lim;
    if (x > (double)p->in[d] + lim) x = (double)p->in[d] + lim;
    double fl = floor(x);
    if (s->mode == EI_RESIZE_MODE_NEAREST) {
        double frac = x - fl, v;
        switch (s->nearest) {
        case EI_RESIZE_NEAREST_ROUND_PREFER_CEIL: v = frac < 0.5 ? fl : fl + 1.0; break;
        case EI_RESIZE_NEAREST_FLOOR: v = fl; break;
        case EI_RESIZE_NEAREST_CEIL: v = ceil(x); break;
        case EI_RESIZE_NEAREST_SIMPLE: v = p->scale[d] < 1.0 ? ceil(x) : fl; break;
        case EI_RESIZE_NEAREST_ROUND_PREFER_FLOOR:
        default: v = frac <= 0.5 ? fl : fl + 1.0; break;
        }
        t->first = resize_clamp((int64_t)v, p->in[d]);
        return;
    }
    /* The taps sit left of x: an integer x counts as the right end of its interval. */
    double ratio;
    int64_t b;
    if (x == fl) {
        ratio = 1.0;
        b = (int64_t)fl - 1;
    } else {
        ratio = x - fl;
        b = (int64_t)fl;
    }
    t->n = p->taps[d];
    t->exclude = s->exclude_outside != 0;
    t->cubic = s->mode == EI_RESIZE_MODE_CUBIC;
    t->a = s->cubic_a;
    if (s->antialias) {
        t->lazy = true;
        t->ratio = ratio;
        t->sp = p->scale[d] < 1.0 ? p->scale[d] : 1.0;
        t->start = 1 - t->n / 2;
        t->first = b + t->start;
        double sum = 0.0;
        for (int64_t j = 0; j < t->n; j++) {
            int64_t i = t->first + j;
            if (t->exclude && (i < 0 || i >= t->in)) continue;
            sum += resize_aa_kernel(t, ((double)(t->start + j) - ratio) * t->sp);
        }
        t->inv_norm = sum != 0.0 ? 1.0 / sum : 1.0;
        return;
    }
    double w[4];
    if (!t->cubic) {
        t->first = b;
        w[0] = 1.0 - ratio;
        w[1] = ratio;
    } else {
        double a = s->cubic_a, r1 = ratio + 1.0, q = 1.0 - ratio, q1 = q + 1.0;
        t->first = b - 1;
        w[0] = ((a * r1 - 5.0 * a) * r1 + 8.0 * a) * r1 - 4.0 * a;
        w[1] = ((a + 2.0) * ratio - (a + 3.0)) * ratio * ratio + 1.0;
        w[2] = ((a + 2.0) * q - (a + 3.0)) * q * q + 1.0;
        w[3] = ((a * q1 - 5.0 * a) * q1 + 8.0 * a) * q1 - 4.0 * a;
    }
    if (t->exclude) {
        double sum = 0.0;
        for (int64_t j = 0; j < t->n; j++) {
            int64_t i = t->first + j;
            if (i < 0 || i >= t->in) w[j] = 0.0;
            sum += w[j];
        }
        if (sum == 0.0) sum = 1.0;
        for (int64_t j = 0; j < t->n; j++)
            w[j] /= sum;
    }
    for (int64_t j = 0; j < t->n; j++)
        t->w[j] = (float)w[j];
}

/* ------------------------------------------------------------------- run */

/* The extrapolation value as one element of dtype; false for float16/bfloat16. */
static bool resize_fill_bytes(ei_dtype dt, float v, unsigned char out[8]) {
    double d = isnan(v) ? 0.0 : (double)v;
    memset(out, 0, 8);
#define RS_FILL_INT(T, lo, hi)                                                                     \
    do {                                                                                           \
        double c = d<(double)(lo) ? (double)(lo) : d>(double)(hi) ? (double)(hi) : d;              \
        T t = (T)c;                                                                                \
        memcpy(out, &t, sizeof t);                                                                 \
    } while (0)
    switch (dt) {
    case EI_DTYPE_F32: memcpy(out, &v, 4); return true;
    case EI_DTYPE_F64: {
        double t = v;
        memcpy(out, &t, 8);
        return true;
    }
    case EI_DTYPE_I8: RS_FILL_INT(int8_t, INT8_MIN, INT8_MAX); return true;
    case EI_DTYPE_U8: RS_FILL_INT(uint8_t, 0, UINT8_MAX); return true;
    case EI_DTYPE_I16: RS_FILL_INT(int16_t, INT16_MIN, INT16_MAX); return true;
    case EI_DTYPE_U16: RS_FILL_INT(uint16_t, 0, UINT16_MAX); return true;
    case EI_DTYPE_I32: RS_FILL_INT(int32_t, INT32_MIN, INT32_MAX); return true;
    case EI_DTYPE_U32: RS_FILL_INT(uint32_t, 0, UINT32_MAX); return true;
    case EI_DTYPE_I64: RS_FILL_INT(int64_t, -9.2e18, 9.2e18); return true;
    case EI_DTYPE_U64: RS_FILL_INT(uint64_t, 0, 1.8e19); return true;
    case EI_DTYPE_BOOL: out[0] = v != 0.0f; return true;
    default: return false;
    }
#undef RS_FILL_INT
}

typedef struct resize_ctx {
    const ei_resize_state *s;
    const ei_resize_plan *p;
    const char *x;
    char *y;
    size_t es;
    ei_dtype dt;
    bool nearest;
    size_t istride[EI_MAX_RANK]; /* in elements */
    size_t total, n_tasks;       /* generic: output elements; fast: output rows */
    unsigned char fill[8];
} resize_ctx;

/* Element i of the input as float (linear mode also reads 8-bit and int32 inputs). */
static inline float resize_load(const resize_ctx *c, size_t i) {
    switch (c->dt) {
    case EI_DTYPE_U8: return (float)((const uint8_t *)c->x)[i];
    case EI_DTYPE_I8: return (float)((const int8_t *)c->x)[i];
    case EI_DTYPE_I32: return (float)((const int32_t *)c->x)[i];
    default: return ((const float *)c->x)[i];
    }
}

/* Stores v into an integer output as onnxruntime does: truncated toward zero, saturated. */
static void resize_store_int(ei_dtype dt, float v, char *dst) {
    double t = isnan(v) ? 0.0 : trunc((double)v);
    if (dt == EI_DTYPE_U8) {
        uint8_t u = (uint8_t)(t < 0.0 ? 0.0 : t > 255.0 ? 255.0 : t);
        memcpy(dst, &u, 1);
    } else if (dt == EI_DTYPE_I8) {
        int8_t u = (int8_t)(t < -128.0 ? -128.0 : t > 127.0 ? 127.0 : t);
        memcpy(dst, &u, 1);
    } else {
        int32_t u = (int32_t)(t < -2147483648.0  ? -2147483648.0
                              : t > 2147483647.0 ? 2147483647.0
                                                 : t);
        memcpy(dst, &u, 4);
    }
}

/* Weighted sum over the product of every axis' taps, in float32. */
static float resize_accumulate(const resize_ctx *c, const resize_desc *t) {
    const int r = c->p->rank;
    int act[EI_MAX_RANK], na = 0;
    size_t base = 0;
    float wbase = 1.0f;
    for (int d = 0; d < r; d++) {
        if (t[d].n == 1) {
            base += (size_t)resize_idx(&t[d], 0) * c->istride[d];
            wbase *= resize_w(&t[d], 0);
        } else {
            act[na++] = d;
        }
    }
    if (na == 0) return wbase * resize_load(c, base);
    int64_t j[EI_MAX_RANK] = {0};
    float wp[EI_MAX_RANK + 1];
    size_t op[EI_MAX_RANK + 1];
    wp[0] = wbase;
    op[0] = base;
    for (int k = 0; k < na - 1; k++) {
        wp[k + 1] = wp[k] * resize_w(&t[act[k]], 0);
        op[k + 1] = op[k] + (size_t)resize_idx(&t[act[k]], 0) * c->istride[act[k]];
    }
    const resize_desc *last = &t[act[na - 1]];
    const size_t ls = c->istride[act[na - 1]];
    float acc = 0.0f;
    for (;;) {
        float inner = 0.0f;
        const size_t row = op[na - 1];
        for (int64_t q = 0; q < last->n; q++)
            inner += resize_w(last, q) * resize_load(c, row + (size_t)resize_idx(last, q) * ls);
        acc += wp[na - 1] * inner;
        int k = na - 2;
        while (k >= 0) {
            if (++j[k] < t[act[k]].n) break;
            j[k] = 0;
            k--;
        }
        if (k < 0) break;
        for (int q = k; q < na - 1; q++) {
            wp[q + 1] = wp[q] * resize_w(&t[act[q]], j[q]);
            op[q + 1] = op[q] + (size_t)resize_idx(&t[act[q]], j[q]) * c->istride[act[q]];
        }
    }
    return acc;
}

/* Any rank, any geometry: taps are computed as the output coordinates advance. */
static void resize_generic_task(void *arg, size_t task, int thread) {
    (void)thread;
    const resize_ctx *c = arg;
    const ei_resize_plan *p = c->p;
    const int r = p->rank;
    size_t per = (c->total + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->total ? b + per : c->total;
    if (b >= e) return;
    int64_t o[EI_MAX_RANK];
    resize_desc t[EI_MAX_RANK];
    size_t rem = b;
    for (int d = r - 1; d >= 0; d--) {
        o[d] = (int64_t)(rem % (size_t)p->out[d]);
        rem /= (size_t)p->out[d];
    }
    for (int d = 0; d < r; d++)
        resize_desc_at(c->s, p, d, o[d], &t[d]);
    for (size_t i = b; i < e; i++) {
        bool ex = false;
        for (int d = 0; d < r; d++)
            ex |= t[d].extrap;
        char *dst = c->y + i * c->es;
        if (ex) {
            memcpy(dst, c->fill, c->es);
        } else if (c->nearest) {
            size_t off = 0;
            for (int d = 0; d < r; d++)
                off += (size_t)t[d].first * c->istride[d];
            memcpy(dst, c->x + off * c->es, c->es);
        } else {
            float v = resize_accumulate(c, t);
            if (c->dt == EI_DTYPE_F32)
                memcpy(dst, &v, sizeof v);
            else
                resize_store_int(c->dt, v, dst);
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++o[d] < p->out[d]) {
                resize_desc_at(c->s, p, d, o[d], &t[d]);
                break;
            }
            o[d] = 0;
            resize_desc_at(c->s, p, d, 0, &t[d]);
        }
    }
}

#define RS_GATHER(T)                                                                               \
    for (int64_t ox = 0; ox < ow; ox++) {                                                          \
        T v;                                                                                       \
        if (tw->extrap[ox])                                                                        \
            memcpy(&v, c->fill, sizeof v);                                                         \
        else                                                                                       \
            memcpy(&v, src + (size_t)tw->idx[ox] * sizeof(T), sizeof v);                           \
        memcpy(dst + (size_t)ox * sizeof(T), &v, sizeof v);                                        \
    }

/* nrows equal output rows (rowb bytes apart) of an integer nearest upsample along the
 * width: each of the n input elements k times. */
static void resize_repeat_rows(char *dst, size_t rowb, size_t nrows, const char *src, size_t n,
                               size_t k, size_t es) {
    size_t done = 1;
    if (es == 4 && k == 2 && nrows >= 2) { /* the YOLO/FPN 2x upsample, two rows at once */
        char *d1 = dst + rowb;
        for (size_t i = 0; i < n; i++) { /* this form vectorizes */
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            memcpy(dst + 8 * i, &v, 4);
            memcpy(dst + 8 * i + 4, &v, 4);
            memcpy(d1 + 8 * i, &v, 4);
            memcpy(d1 + 8 * i + 4, &v, 4);
        }
        done = 2;
    } else if (es == 4 && k == 2) {
        for (size_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, src + 4 * i, 4);
            memcpy(dst + 8 * i, &v, 4);
            memcpy(dst + 8 * i + 4, &v, 4);
        }
    } else if (k == 1) {
        memcpy(dst, src, n * es);
    } else {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++)
                memcpy(dst + (i * k + j) * es, src + i * es, es);
    }
    for (size_t j = done; j < nrows; j++)
        memcpy(dst + j * rowb, dst, rowb);
}

/* Nearest, resized axes within the last two: output rows [b, e) of the task from the tap
 * tables. A row with the same source row as the one before it is a copy of that row. */
static void resize_nearest_task(void *arg, size_t task, int thread) {
    (void)thread;
    const resize_ctx *c = arg;
    const ei_resize_state *s = c->s;
    const ei_resize_table *th = &s->th, *tw = &s->tw;
    const ei_resize_plan *p = c->p;
    const int r = p->rank;
    const int64_t ih = r >= 2 ? p->in[r - 2] : 1, iw = p->in[r - 1];
    const int64_t oh = th->n_out, ow = tw->n_out;
    const size_t es = c->es, rowb = (size_t)ow * es, planeb = (size_t)ih * (size_t)iw * es;
    size_t per = (c->total + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->total ? b + per : c->total;
    if (b >= e) return;
    size_t plane = b / (size_t)oh;
    int64_t oy = (int64_t)(b % (size_t)oh);
    char *dst = c->y + b * rowb;
    for (size_t row = b; row < e; row++, dst += rowb) {
        const char *xp = c->x + plane * planeb;
        const char *src = xp + (size_t)th->idx[oy] * (size_t)iw * es;
        if (th->extrap[oy]) {
            for (int64_t ox = 0; ox < ow; ox++)
                memcpy(dst + (size_t)ox * es, c->fill, es);
        } else if (row > b && oy > 0 && !th->extrap[oy - 1] && th->idx[oy - 1] == th->idx[oy]) {
            memcpy(dst, dst - rowb, rowb);
        } else if (s->near_kw > 0) {
            /* This row and the following ones of the task with the same source row. */
            size_t n = 1;
            while (row + n < e && oy + (int64_t)n < oh && !th->extrap[oy + (int64_t)n] &&
                   th->idx[oy + (int64_t)n] == th->idx[oy])
                n++;
            resize_repeat_rows(dst, rowb, n, src, (size_t)iw, (size_t)s->near_kw, es);
            row += n - 1;
            dst += (n - 1) * rowb;
            oy += (int64_t)n - 1;
        } else {
            switch (es) {
            case 1: RS_GATHER(uint8_t) break;
            case 2: RS_GATHER(uint16_t) break;
            case 4: RS_GATHER(uint32_t) break;
            case 8: RS_GATHER(uint64_t) break;
            default:
                for (int64_t ox = 0; ox < ow; ox++)
                    memcpy(dst + (size_t)ox * es,
                           tw->extrap[ox] ? (const char *)c->fill : src + (size_t)tw->idx[ox] * es,
                           es);
            }
        }
        if (++oy == oh) {
            oy = 0;
            plane++;
        }
    }
}

/* Linear and cubic, resized axes within the last two: rows of the output from the tap
 * tables. */
static void resize_fast_task(void *arg, size_t task, int thread) {
    (void)thread;
    const resize_ctx *c = arg;
    const ei_resize_state *s = c->s;
    const ei_resize_table *th = &s->th, *tw = &s->tw;
    const ei_resize_plan *p = c->p;
    const int r = p->rank;
    const int64_t ih = r >= 2 ? p->in[r - 2] : 1, iw = p->in[r - 1];
    const int64_t oh = th->n_out, ow = tw->n_out;
    const size_t es = c->es;
    size_t per = (c->total + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->total ? b + per : c->total;
    for (size_t row = b; row < e; row++) {
        size_t plane = row / (size_t)oh;
        int64_t oy = (int64_t)(row % (size_t)oh);
        char *dst = c->y + row * (size_t)ow * es;
        const char *xp = c->x + plane * (size_t)ih * (size_t)iw * es;
        if (th->extrap[oy]) {
            for (int64_t ox = 0; ox < ow; ox++)
                memcpy(dst + (size_t)ox * es, c->fill, es);
            continue;
        }
        const float *xf = (const float *)xp;
        float *yf = (float *)dst;
        const int64_t ny = th->n_taps, nx = tw->n_taps;
        const int64_t *iy = th->idx + oy * ny;
        const float *wy = th->w + oy * ny;
        if (ny == 2 && nx == 2) {
            const float *r0 = xf + (size_t)iy[0] * (size_t)iw,
                        *r1 = xf + (size_t)iy[1] * (size_t)iw;
            const float wy0 = wy[0], wy1 = wy[1];
            for (int64_t ox = 0; ox < ow; ox++) {
                const int64_t *ix = tw->idx + 2 * ox;
                const float *wx = tw->w + 2 * ox;
                float v = wy0 * (wx[0] * r0[ix[0]] + wx[1] * r0[ix[1]]) +
                          wy1 * (wx[0] * r1[ix[0]] + wx[1] * r1[ix[1]]);
                yf[ox] = tw->extrap[ox] ? s->extrapolation : v;
            }
            continue;
        }
        for (int64_t ox = 0; ox < ow; ox++) {
            if (tw->extrap[ox]) {
                yf[ox] = s->extrapolation;
                continue;
            }
            const int64_t *ix = tw->idx + ox * nx;
            const float *wx = tw->w + ox * nx;
            float acc = 0.0f;
            for (int64_t i = 0; i < ny; i++) {
                const float *rp = xf + (size_t)iy[i] * (size_t)iw;
                float sum = 0.0f;
                for (int64_t j = 0; j < nx; j++)
                    sum += wx[j] * rp[ix[j]];
                acc += wy[i] * sum;
            }
            yf[ox] = acc;
        }
    }
}

/* Fills a tap table for axis d (d < 0: a virtual axis of length 1). */
static ei_status resize_build_table(const ei_node *node, const ei_resize_state *s,
                                    const ei_resize_plan *p, int d, ei_resize_table *t) {
    ei_resize_table_clear(t);
    t->n_out = d >= 0 ? p->out[d] : 1;
    t->n_taps = d >= 0 ? p->taps[d] : 1;
    size_t n = 0, nb = 0, nw = 0;
    if (!ei_size_mul((size_t)t->n_out, (size_t)t->n_taps, &n) ||
        !ei_size_mul(n ? n : 1, sizeof(int64_t), &nb) ||
        !ei_size_mul(n ? n : 1, sizeof(float), &nw))
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "resize tables are too large");
    t->idx = malloc(nb);
    t->w = malloc(nw);
    t->extrap = malloc(t->n_out ? (size_t)t->n_out : 1);
    if (!t->idx || !t->w || !t->extrap) {
        ei_resize_table_clear(t);
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory for resize tables");
    }
    for (int64_t o = 0; o < t->n_out; o++) {
        resize_desc dd;
        if (d >= 0) {
            resize_desc_at(s, p, d, o, &dd);
        } else {
            memset(&dd, 0, sizeof dd);
            dd.n = 1;
            dd.in = 1;
            dd.w[0] = 1.0f;
        }
        t->extrap[o] = dd.extrap;
        for (int64_t j = 0; j < t->n_taps; j++) {
            bool have = j < dd.n && !dd.extrap;
            t->idx[o * t->n_taps + j] = have ? resize_idx(&dd, j) : 0;
            t->w[o * t->n_taps + j] = have ? resize_w(&dd, j) : 0.0f;
        }
    }
    return EI_STATUS_OK;
}

static ei_status resize_infer(ei_exec *ex, ei_node *node) {
    ei_resize_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    unsigned char fill[8];
    s->fast = false;
    ei_resize_table_clear(&s->th);
    ei_resize_table_clear(&s->tw);
    node->scratch_bytes = 0;
    if (ei_dtype_size(x->dtype) == 0 || x->dtype == EI_DTYPE_STRING)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    bool int_linear =
        s->mode == EI_RESIZE_MODE_LINEAR &&
        (x->dtype == EI_DTYPE_U8 || x->dtype == EI_DTYPE_I8 || x->dtype == EI_DTYPE_I32);
    if (s->mode != EI_RESIZE_MODE_NEAREST && x->dtype != EI_DTYPE_F32 && !int_linear)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; linear mode supports float32, uint8, int8 "
                             "and int32, cubic mode float32",
                             x->name, ei_dtype_name(x->dtype));
    if (s->coord == EI_RESIZE_COORD_TF_CROP_AND_RESIZE &&
        !resize_fill_bytes(x->dtype, s->extrapolation, fill))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s, unsupported with tf_crop_and_resize",
                             x->name, ei_dtype_name(x->dtype));
    int ins[3] = {s->in_scales, s->in_sizes,
                  s->coord == EI_RESIZE_COORD_TF_CROP_AND_RESIZE ? s->in_roi : -1};
    for (int k = 0; k < 3; k++) {
        const ei_value *v = resize_opt_in(ex, node, ins[k]);
        if (v && !ei_value_known(v)) {
            node->dynamic = true;
            return EI_STATUS_OK;
        }
    }
    ei_resize_plan *p = &s->plan;
    EI_CHECK(resize_make_plan(ex, node, s, p));
    EI_CHECK(ei_elem_set_out(node, y, x->dtype, p->rank, p->out));
    int r = p->rank;
    bool fast = r >= 1 && !int_linear; /* integer linear takes the generic path */
    for (int d = 0; d < r - 2; d++)
        fast = fast && p->ident[d];
    if (fast) {
        EI_CHECK(resize_build_table(node, s, p, r >= 2 ? r - 2 : -1, &s->th));
        EI_CHECK(resize_build_table(node, s, p, r - 1, &s->tw));
        s->outer = 1;
        for (int d = 0; d < r - 2; d++)
            s->outer *= p->out[d];
        s->fast = true;
        s->near_kw = 0;
        const int64_t iw = p->in[r - 1], ow = s->tw.n_out;
        if (s->mode == EI_RESIZE_MODE_NEAREST && iw > 0 && ow > 0 && ow % iw == 0) {
            const int64_t k = ow / iw;
            bool rep = true;
            for (int64_t ox = 0; rep && ox < ow; ox++)
                rep = !s->tw.extrap[ox] && s->tw.idx[ox] == ox / k;
            if (rep) s->near_kw = k;
        }
    }
    return EI_STATUS_OK;
}

static ei_status resize_run(ei_exec *ex, ei_node *node) {
    const ei_resize_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_resize_plan local;
    const ei_resize_plan *p = &s->plan;
    bool fast = s->fast;
    if (node->dynamic) {
        EI_CHECK(resize_make_plan(ex, node, s, &local));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, local.rank, local.out));
        p = &local;
        fast = false;
    }
    ei_value *y = ei_node_out(ex, node, 0);
    size_t total = ei_value_numel(y);
    if (total == 0) return EI_STATUS_OK;
    resize_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.p = p;
    c.x = x->data;
    c.y = y->data;
    c.es = ei_dtype_size(x->dtype);
    c.dt = x->dtype;
    c.nearest = s->mode == EI_RESIZE_MODE_NEAREST;
    if (!resize_fill_bytes(x->dtype, s->extrapolation, c.fill)) memset(c.fill, 0, sizeof c.fill);
    size_t acc = 1;
    for (int d = p->rank - 1; d >= 0; d--) {
        c.istride[d] = acc;
        acc *= (size_t)p->in[d];
    }
    size_t t = ei_elem_tasks(ex, total, 8192);
    void (*fn)(void *, size_t, int) = resize_generic_task;
    c.total = total;
    if (fast) {
        fn = c.nearest ? resize_nearest_task : resize_fast_task;
        c.total = (size_t)s->outer * (size_t)s->th.n_out;
    }
    c.n_tasks = t < c.total ? t : c.total;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        fn(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, fn, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_resize = {resize_prepare, resize_infer, resize_run, ei_resize_state_free,
                                    .dtypes = "any"};
