/*
 * conv_geometry.h - sliding-window geometry shared by Conv and the pooling ops:
 * kernel_shape/strides/dilations/pads/auto_pad/ceil_mode parsing at prepare, and output
 * sizes with resolved pads at infer. Everything is normalized to 3 spatial dims by
 * prepending size-1 dims, so 1-D and 2-D windows run through the 3-D loops.
 */
#ifndef EI_OPS_CONV_GEOMETRY_H
#define EI_OPS_CONV_GEOMETRY_H

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define EI_GEOM_MAX_SP 3
/* Attribute values above this are rejected, so window arithmetic stays inside int64. */
#define EI_GEOM_MAX_ATTR ((int64_t)INT32_MAX)

typedef enum ei_auto_pad {
    EI_AUTO_PAD_NOTSET = 0,
    EI_AUTO_PAD_VALID = 1,
    EI_AUTO_PAD_SAME_UPPER = 2,
    EI_AUTO_PAD_SAME_LOWER = 3
} ei_auto_pad;

/* Attributes as written in the model (lengths 0 when absent). */
typedef struct ei_geom_attrs {
    ei_auto_pad auto_pad;
    int ceil_mode;
    size_t n_kernel, n_strides, n_dilations, n_pads;
    int64_t kernel[EI_GEOM_MAX_SP];
    int64_t strides[EI_GEOM_MAX_SP];
    int64_t dilations[EI_GEOM_MAX_SP];
    int64_t pads[2 * EI_GEOM_MAX_SP];
} ei_geom_attrs;

/* Resolved window geometry, normalized to 3 spatial dims (leading dims are 1). */
typedef struct ei_geom {
    int nsp; /* the op's real spatial rank, 1..3 */
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    size_t in_size, out_size, k_size; /* products of in, out, k */
} ei_geom;

static inline ei_status ei_geom_read_list(const ei_node *node, const char *name, bool positive,
                                          int64_t *dst, size_t *n_out) {
    const int64_t *v = NULL;
    size_t n = 0;
    EI_CHECK(ei_node_attr_ints(node, name, &v, &n));
    *n_out = 0;
    if (!v) return EI_STATUS_OK;
    bool is_pads = strcmp(name, "pads") == 0;
    size_t max = is_pads ? 2 * EI_GEOM_MAX_SP : EI_GEOM_MAX_SP;
    if (n == 0 || n > max)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "attribute '%s' has %zu values; only 1-D, 2-D and 3-D windows are "
                             "supported",
                             name, n);
    if (is_pads && n % 2 != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'pads' has %zu values, expected an even count", n);
    for (size_t i = 0; i < n; i++) {
        int64_t x = v[i];
        if (positive ? x < 1 : x < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute '%s'[%zu] = %lld, expected %s", name, i,
                                 (long long)x, positive ? "a positive value" : "a value >= 0");
        if (x > EI_GEOM_MAX_ATTR)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "attribute '%s'[%zu] = %lld is too large", name, i,
                                 (long long)x);
        dst[i] = x;
    }
    *n_out = n;
    return EI_STATUS_OK;
}

/* Parses the window attributes at prepare. with_dilations / with_ceil say whether the op
 * (at this opset) has those attributes; absent ones keep their defaults. */
static inline ei_status ei_geom_parse(const ei_node *node, bool with_dilations, bool with_ceil,
                                      ei_geom_attrs *ga) {
    memset(ga, 0, sizeof *ga);
    EI_CHECK(ei_geom_read_list(node, "kernel_shape", true, ga->kernel, &ga->n_kernel));
    EI_CHECK(ei_geom_read_list(node, "strides", true, ga->strides, &ga->n_strides));
    if (with_dilations)
        EI_CHECK(ei_geom_read_list(node, "dilations", true, ga->dilations, &ga->n_dilations));
    EI_CHECK(ei_geom_read_list(node, "pads", false, ga->pads, &ga->n_pads));
    if (with_ceil) {
        int64_t c = 0;
        EI_CHECK(ei_node_attr_int(node, "ceil_mode", 0, &c));
        if (c != 0 && c != 1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute 'ceil_mode' = %lld, expected 0 or 1", (long long)c);
        ga->ceil_mode = (int)c;
    }
    const char *ap = NULL;
    EI_CHECK(ei_node_attr_string(node, "auto_pad", "NOTSET", &ap));
    if (strcmp(ap, "NOTSET") == 0) ga->auto_pad = EI_AUTO_PAD_NOTSET;
    else if (strcmp(ap, "VALID") == 0) ga->auto_pad = EI_AUTO_PAD_VALID;
    else if (strcmp(ap, "SAME_UPPER") == 0) ga->auto_pad = EI_AUTO_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0) ga->auto_pad = EI_AUTO_PAD_SAME_LOWER;
    else
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'auto_pad' = '%s', expected NOTSET, VALID, SAME_UPPER "
                             "or SAME_LOWER",
                             ap);
    /* Lists that are present must agree with each other; the spatial rank itself is only
     * checked against the input at infer. */
    size_t nsp = ga->n_kernel ? ga->n_kernel
                 : ga->n_strides ? ga->n_strides
                 : ga->n_dilations ? ga->n_dilations
                                   : ga->n_pads / 2;
    if ((ga->n_strides && ga->n_strides != nsp) || (ga->n_dilations && ga->n_dilations != nsp) ||
        (ga->n_pads && ga->n_pads != 2 * nsp))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "window attributes disagree on the spatial rank: kernel_shape has "
                             "%zu values, strides %zu, dilations %zu, pads %zu",
                             ga->n_kernel, ga->n_strides, ga->n_dilations, ga->n_pads);
    return EI_STATUS_OK;
}

/* The convolutions' window attributes (with dilations, no ceil_mode) and `group`
 * (1 to EI_GEOM_MAX_ATTR), at prepare. */
static inline ei_status ei_geom_parse_conv(const ei_node *node, ei_geom_attrs *ga,
                                           int64_t *group) {
    EI_CHECK(ei_geom_parse(node, true, false, ga));
    EI_CHECK(ei_node_attr_int(node, "group", 1, group));
    if (*group < 1 || *group > EI_GEOM_MAX_ATTR)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'group' = %lld, expected a positive value",
                             (long long)*group);
    return EI_STATUS_OK;
}

/* Conv and ConvTranspose: a kernel_shape attribute, when given, must equal W's spatial
 * dims (nsp of them). */
static inline ei_status ei_geom_check_kernel(const ei_node *node, const ei_geom_attrs *ga,
                                             const ei_value *w, int nsp) {
    char buf[64], buf2[128];
    if (!ga->n_kernel) return EI_STATUS_OK;
    bool same = ga->n_kernel == (size_t)nsp;
    for (int i = 0; same && i < nsp; i++) same = ga->kernel[i] == w->dims[2 + i];
    if (!same)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'kernel_shape' %s does not match W '%s' %s",
                             ei_shape_str((int)ga->n_kernel, ga->kernel, buf, sizeof buf),
                             w->name, ei_shape_str(w->rank, w->dims, buf2, sizeof buf2));
    return EI_STATUS_OK;
}

/* Conv and ConvTranspose: inputs X, W and optional B, one output. */
static inline ei_status ei_geom_check_conv_io(const ei_node *node) {
    if (node->n_inputs < 2 || node->n_inputs > 3 || node->n_outputs != 1 ||
        node->inputs[0] < 0 || node->inputs[1] < 0 || node->outputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "expected inputs X, W and optional B and 1 output, got %d inputs "
                             "and %d outputs",
                             node->n_inputs, node->n_outputs);
    return EI_STATUS_OK;
}

/* Resolves the geometry at infer. nsp: spatial rank of input x (named xname), in_dims: its
 * spatial dims, kernel: the window (from the weights or kernel_shape). The output size of
 * each dim must be >= 1. */
static inline ei_status ei_geom_resolve(const ei_node *node, const ei_geom_attrs *ga, int nsp,
                                        const int64_t *in_dims, const int64_t *kernel,
                                        const char *xname, ei_geom *g) {
    size_t usp = (size_t)nsp;
    if (nsp < 1 || nsp > EI_GEOM_MAX_SP)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has %d spatial dims; only 1-D, 2-D and 3-D are "
                             "supported",
                             xname, nsp);
    if ((ga->n_strides && ga->n_strides != usp) || (ga->n_dilations && ga->n_dilations != usp) ||
        (ga->n_pads && ga->n_pads != 2 * usp))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has %d spatial dims but the attributes have strides "
                             "%zu, dilations %zu, pads %zu values (pads needs %d)",
                             xname, nsp, ga->n_strides, ga->n_dilations, ga->n_pads, 2 * nsp);
    int off = 3 - nsp;
    for (int i = 0; i < 3; i++) {
        g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
        g->pb[i] = g->pe[i] = 0;
    }
    g->nsp = nsp;
    g->in_size = g->out_size = g->k_size = 1;
    for (int i = 0; i < nsp; i++) {
        int j = off + i;
        int64_t in = in_dims[i], k = kernel[i];
        int64_t s = ga->n_strides ? ga->strides[i] : 1;
        int64_t d = ga->n_dilations ? ga->dilations[i] : 1;
        int64_t pb = ga->n_pads ? ga->pads[i] : 0, pe = ga->n_pads ? ga->pads[nsp + i] : 0;
        if (k < 1 || k > EI_GEOM_MAX_ATTR)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "kernel size %lld in spatial dim %d is out of range",
                                 (long long)k, i);
        if (in < 0 || in > ((int64_t)1 << 61))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' spatial dim %d = %lld is out of range", xname, i,
                                 (long long)in);
        int64_t ek = (k - 1) * d + 1; /* <= 2^62 */
        int64_t out;
        if (ga->auto_pad == EI_AUTO_PAD_SAME_UPPER || ga->auto_pad == EI_AUTO_PAD_SAME_LOWER) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + ek - in;
            if (total < 0) total = 0;
            if (ga->auto_pad == EI_AUTO_PAD_SAME_UPPER) {
                pb = total / 2;
                pe = total - pb;
            } else {
                pe = total / 2;
                pb = total - pe;
            }
        } else {
            if (ga->auto_pad == EI_AUTO_PAD_VALID) pb = pe = 0;
            int64_t span = in + pb + pe - ek;
            if (span < 0) {
                out = 0;
            } else if (ga->ceil_mode) {
                out = (span + s - 1) / s + 1;
                /* The last window must start inside the input or its leading pad. */
                if ((out - 1) * s >= in + pb) out--;
            } else {
                out = span / s + 1;
            }
        }
        if (out < 1) {
            char buf[96];
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' spatial dims %s are too small for the window: "
                                 "dim %d has size %lld + pads %lld+%lld, dilated kernel %lld",
                                 xname, ei_shape_str(nsp, in_dims, buf, sizeof buf), i,
                                 (long long)in, (long long)pb, (long long)pe, (long long)ek);
        }
        g->in[j] = in;
        g->out[j] = out;
        g->k[j] = k;
        g->s[j] = s;
        g->d[j] = d;
        g->pb[j] = pb;
        g->pe[j] = pe;
        if (!ei_size_mul(g->in_size, (size_t)in, &g->in_size) ||
            !ei_size_mul(g->out_size, (size_t)out, &g->out_size) ||
            !ei_size_mul(g->k_size, (size_t)k, &g->k_size))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s': window sizes overflow", xname);
    }
    return EI_STATUS_OK;
}

/* Output positions o in [0, n_out) whose tap o*s + off lands inside [0, n_in):
 * returns [*lo, *hi) (empty when *lo >= *hi). */
static inline void ei_geom_output_range(int64_t off, int64_t s, int64_t n_in, int64_t n_out,
                                     int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = (n_in - 1 - off) < 0 ? 0 : (n_in - 1 - off) / s + 1;
    if (h > n_out) h = n_out;
    *lo = l;
    *hi = h;
}

/* Taps k in [0, k_count) of a window starting at start (dilation d) that land in
 * [0, n): start + k*d in [0, n) exactly for k in [*lo, *hi). */
static inline void ei_geom_window_taps(int64_t start, int64_t d, int64_t n, int64_t k_count,
                                       int64_t *lo, int64_t *hi) {
    int64_t l = start >= 0 ? 0 : (-start + d - 1) / d;
    int64_t h = n - start <= 0 ? 0 : (n - start + d - 1) / d;
    if (h > k_count) h = k_count;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/*
 * Fast path shared by the sliding-window loops: outputs whose whole window lies inside
 * the input ("interior") need no bounds checks, and every tap sits at a fixed offset
 * from the window's first element. Rebuilt at infer; the loops handle the border
 * outputs with ei_geom_window_taps.
 */
typedef struct ei_window_plan {
    bool interior;          /* some output has its whole window inside the input */
    int64_t lo[3], hi[3];   /* interior outputs: [lo, hi) per (normalized) dim */
    int64_t *off;           /* k_size tap offsets in (kd, kh, kw) order, in elements */
    size_t off_cap;
    /* Per dim j and output o, at taps[3 * (base[j] + o)]: the in-bounds taps [lo, hi)
     * (ei_geom_window_taps) and the count of taps inside the padded input. */
    int64_t *taps;
    size_t taps_cap, base[3];
} ei_window_plan;

static inline void ei_window_plan_free(ei_window_plan *p) {
    free(p->off);
    free(p->taps);
    memset(p, 0, sizeof *p);
}

static inline const int64_t *ei_window_plan_taps(const ei_window_plan *p, int j, int64_t o) {
    return p->taps + 3 * (p->base[j] + (size_t)o);
}

static inline ei_status ei_window_plan_update(const ei_node *node, const ei_geom *g,
                                              ei_window_plan *p) {
    /* Output dims are bounded by the (validated) input and pad sizes, below 2^62. */
    size_t n_out = (size_t)g->out[0] + (size_t)g->out[1] + (size_t)g->out[2], bytes;
    if (!ei_size_mul(n_out, 3 * sizeof(int64_t), &bytes))
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "window tables too large");
    if (p->taps_cap < 3 * n_out) {
        int64_t *t = (int64_t *)realloc(p->taps, bytes);
        if (!t) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        p->taps = t;
        p->taps_cap = 3 * n_out;
    }
    size_t base = 0;
    for (int j = 0; j < 3; j++) {
        p->base[j] = base;
        for (int64_t o = 0; o < g->out[j]; o++) {
            int64_t *t = p->taps + 3 * (base + (size_t)o), plo, phi;
            int64_t start = o * g->s[j] - g->pb[j];
            ei_geom_window_taps(start, g->d[j], g->in[j], g->k[j], &t[0], &t[1]);
            ei_geom_window_taps(start + g->pb[j], g->d[j], g->in[j] + g->pb[j] + g->pe[j],
                                g->k[j], &plo, &phi);
            t[2] = phi - plo;
        }
        base += (size_t)g->out[j];
    }
    p->interior = true;
    for (int j = 0; j < 3; j++) {
        int64_t ek = (g->k[j] - 1) * g->d[j] + 1;
        int64_t l = (g->pb[j] + g->s[j] - 1) / g->s[j];
        int64_t last = g->in[j] - ek + g->pb[j]; /* interior: o * s <= last */
        int64_t h = last < 0 ? 0 : last / g->s[j] + 1;
        if (h > g->out[j]) h = g->out[j];
        if (l > h) l = h;
        p->lo[j] = l;
        p->hi[j] = h;
        if (l >= h) p->interior = false;
    }
    if (!p->interior) return EI_STATUS_OK;
    /* Every dilated kernel fits in the input here, so offsets stay below in_size. */
    if (p->off_cap < g->k_size) {
        if (!ei_size_mul(g->k_size, sizeof(int64_t), &bytes))
            return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "window tables too large");
        int64_t *o = (int64_t *)realloc(p->off, bytes);
        if (!o) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        p->off = o;
        p->off_cap = g->k_size;
    }
    size_t t = 0;
    for (int64_t kd = 0; kd < g->k[0]; kd++)
        for (int64_t kh = 0; kh < g->k[1]; kh++)
            for (int64_t kw = 0; kw < g->k[2]; kw++)
                p->off[t++] = (kd * g->d[0] * g->in[1] + kh * g->d[1]) * g->in[2] + kw * g->d[2];
    return EI_STATUS_OK;
}

/* Element offset of the first (top-left-front) element of output (od, oh, ow)'s window;
 * only meaningful (>= 0) for interior outputs. */
static inline int64_t ei_geom_window_origin(const ei_geom *g, int64_t od, int64_t oh,
                                            int64_t ow) {
    return ((od * g->s[0] - g->pb[0]) * g->in[1] + (oh * g->s[1] - g->pb[1])) * g->in[2] +
           ow * g->s[2] - g->pb[2];
}

#endif /* EI_OPS_CONV_GEOMETRY_H */
