/*
 * conv_transpose.c - ONNX ConvTranspose (float32; 1-D, 2-D and 3-D; groups, strides,
 * dilations, pads, output_padding, output_shape, auto_pad, optional bias). Per (batch,
 * group, output-channel block) a GEMM W_g^T * X_g makes columns for a tile of input pixels
 * in per-thread scratch, and col2im scatters (adds) them into the output. Window attribute
 * parsing comes from conv_geometry.h; the transposed output geometry is resolved here.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/conv_geometry.h"

/* Column tiles hold about this many floats (1 MiB). */
#define CT_TILE_FLOATS ((size_t)1 << 18)

typedef struct ct_state {
    ei_geom_attrs ga;
    int64_t group;
    size_t n_out_pad, n_out_shape;
    int64_t out_pad[EI_GEOM_MAX_SP];
    int64_t out_shape[EI_GEOM_MAX_SP + 2];
    /* infer: geometry normalized to 3 spatial dims (leading dims 1) */
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
    size_t in_size, out_size, k_size;
    size_t n, cin, cout, cin_g, cout_g;
    size_t m_block, n_mblocks; /* output channels per task and blocks per (n, group) */
    size_t tile, n_tiles;      /* input pixels per column tile */
    size_t slice_floats;       /* per-thread column scratch */
} ct_state;

typedef struct ct_args {
    const ct_state *s;
    const float *x, *w, *b;
    float *y, *scratch;
} ct_args;

static ei_status ct_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ct_state *s = NULL;
    EI_TRY(ei_geom_check_conv_io(node));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_geom_parse_conv(node, &s->ga, &s->group));
    const int64_t *v = NULL;
    size_t n = 0;
    EI_TRY(ei_node_attr_ints(node, "output_padding", &v, &n));
    if (n > EI_GEOM_MAX_SP) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'output_padding' has %zu values; only 1-D, 2-D and 3-D "
                           "are supported",
                           n);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] > EI_GEOM_MAX_ATTR) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'output_padding'[%zu] = %lld is out of range", i,
                               (long long)v[i]);
            goto cleanup;
        }
        s->out_pad[i] = v[i];
    }
    s->n_out_pad = n;
    EI_TRY(ei_node_attr_ints(node, "output_shape", &v, &n));
    if (n > EI_GEOM_MAX_SP + 2) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'output_shape' has %zu values; only 1-D, 2-D and 3-D "
                           "are supported",
                           n);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 1 || v[i] > EI_GEOM_MAX_ATTR) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'output_shape'[%zu] = %lld, expected a positive value",
                               i, (long long)v[i]);
            goto cleanup;
        }
        s->out_shape[i] = v[i];
    }
    s->n_out_shape = n;
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* Transposed-window geometry for nsp spatial dims of x. */
static ei_status ct_resolve(const ei_node *node, ct_state *s, int nsp, const int64_t *in_dims,
                            const int64_t *kernel, const char *xname) {
    const ei_geom_attrs *ga = &s->ga;
    size_t usp = (size_t)nsp;
    if ((ga->n_strides && ga->n_strides != usp) || (ga->n_dilations && ga->n_dilations != usp) ||
        (ga->n_pads && ga->n_pads != 2 * usp) || (s->n_out_pad && s->n_out_pad != usp) ||
        (s->n_out_shape && s->n_out_shape != usp && s->n_out_shape != usp + 2))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input X '%s' has %d spatial dims but the attributes have strides "
                             "%zu, dilations %zu, pads %zu, output_padding %zu, output_shape %zu "
                             "values",
                             xname, nsp, ga->n_strides, ga->n_dilations, ga->n_pads, s->n_out_pad,
                             s->n_out_shape);
    int off = 3 - nsp;
    for (int i = 0; i < 3; i++) {
        s->in[i] = s->out[i] = s->k[i] = s->s[i] = s->d[i] = 1;
        s->pb[i] = 0;
    }
    s->in_size = s->out_size = s->k_size = 1;
    const int64_t *oshape = s->n_out_shape == usp + 2 ? s->out_shape + 2 : s->out_shape;
    for (int i = 0; i < nsp; i++) {
        int j = off + i;
        int64_t in = in_dims[i], k = kernel[i];
        int64_t st = ga->n_strides ? ga->strides[i] : 1;
        int64_t d = ga->n_dilations ? ga->dilations[i] : 1;
        int64_t op = s->n_out_pad ? s->out_pad[i] : 0;
        if (k < 1 || k > EI_GEOM_MAX_ATTR)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "kernel size %lld in spatial dim %d is out of range",
                                 (long long)k, i);
        if (in < 1 || in > ((int64_t)1 << 30))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s' spatial dim %d = %lld is out of range", xname, i,
                                 (long long)in);
        /* All terms below 2^31, products below 2^62: no int64 overflow. */
        int64_t ek = (k - 1) * d + 1;
        int64_t full = st * (in - 1) + op + ek, out, pb;
        if (s->n_out_shape || ga->auto_pad == EI_AUTO_PAD_SAME_UPPER ||
            ga->auto_pad == EI_AUTO_PAD_SAME_LOWER) {
            out = s->n_out_shape ? oshape[i] : in * st;
            int64_t total = full - out;
            if (ga->auto_pad == EI_AUTO_PAD_SAME_UPPER) pb = total / 2;
            else pb = total - total / 2;
            if (total < 0) pb = 0; /* output larger than the full result: zeros at the end */
        } else {
            int64_t p0 = ga->n_pads ? ga->pads[i] : 0, p1 = ga->n_pads ? ga->pads[nsp + i] : 0;
            if (ga->auto_pad == EI_AUTO_PAD_VALID) p0 = p1 = 0;
            out = full - p0 - p1;
            pb = p0;
        }
        if (out < 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s': output spatial dim %d would be %lld (input %lld, "
                                 "stride %lld, kernel %lld, dilation %lld, pads and "
                                 "output_padding); expected >= 1",
                                 xname, i, (long long)out, (long long)in, (long long)st,
                                 (long long)k, (long long)d);
        s->in[j] = in;
        s->out[j] = out;
        s->k[j] = k;
        s->s[j] = st;
        s->d[j] = d;
        s->pb[j] = pb;
        if (!ei_size_mul(s->in_size, (size_t)in, &s->in_size) ||
            !ei_size_mul(s->out_size, (size_t)out, &s->out_size) ||
            !ei_size_mul(s->k_size, (size_t)k, &s->k_size))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input X '%s': window sizes overflow", xname);
    }
    return EI_STATUS_OK;
}

static ei_status ct_infer(ei_exec *ex, ei_node *node) {
    ct_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *b = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    if (x->dtype != EI_DTYPE_F32 || w->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs X '%s' (%s) and W '%s' (%s): only float32 is supported",
                             x->name, ei_dtype_name(x->dtype), w->name, ei_dtype_name(w->dtype));
    if (w->rank < 3 || w->rank > 5)
        return ei_node_error(node, w->rank < 3 ? EI_STATUS_INVALID_MODEL : EI_STATUS_UNSUPPORTED,
                             "input W '%s' has shape %s, expected rank 3 to 5 [C, M/group, k...]",
                             w->name, ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    int nsp = w->rank - 2;
    if (x->rank != w->rank || x->dims[1] != w->dims[0])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s, expected rank %d with %lld channels to "
                             "match W '%s' %s",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->rank,
                             (long long)w->dims[0], w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2));
    if (w->dims[0] % s->group != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "group=%lld does not divide the %lld input channels of W '%s' %s",
                             (long long)s->group, (long long)w->dims[0], w->name,
                             ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    EI_CHECK(ei_geom_check_kernel(node, &s->ga, w, nsp));
    int64_t cout = 0;
    if (__builtin_mul_overflow(w->dims[1], s->group, &cout) || cout > ((int64_t)1 << 40))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "W '%s' has too many channels",
                             w->name);
    if (b) {
        if (b->dtype != EI_DTYPE_F32 || b->rank != 1 || b->dims[0] != cout)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input B '%s' has shape %s (%s), expected float32 [%lld]",
                                 b->name, ei_shape_str(b->rank, b->dims, buf, sizeof buf),
                                 ei_dtype_name(b->dtype), (long long)cout);
    }
    EI_CHECK(ct_resolve(node, s, nsp, x->dims + 2, w->dims + 2, x->name));
    s->n = (size_t)x->dims[0];
    s->cin = (size_t)x->dims[1];
    s->cout = (size_t)cout;
    s->cin_g = s->cin / (size_t)s->group;
    s->cout_g = (size_t)w->dims[1];
    int64_t od[EI_MAX_RANK] = {x->dims[0], cout};
    for (int i = 0; i < nsp; i++) od[2 + i] = s->out[3 - nsp + i];
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, od));

    size_t threads = ex->num_threads > 0 ? (size_t)ex->num_threads : 1;
    /* Output channels split into blocks when (batch, group) units alone do not feed the
     * threads; each task owns its output planes, so col2im needs no locks. */
    size_t units = s->n * (size_t)s->group, mb = s->cout_g;
    if (units < threads && s->cout_g > 1) {
        size_t per = (threads + units - 1) / (units ? units : 1);
        mb = (s->cout_g + per - 1) / per;
    }
    s->m_block = mb ? mb : 1;
    s->n_mblocks = s->cout_g ? (s->cout_g + s->m_block - 1) / s->m_block : 0;
    size_t rows;
    if (!ei_size_mul(s->m_block, s->k_size, &rows))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "W '%s' is too large", w->name);
    size_t tile = rows ? CT_TILE_FLOATS / rows : s->in_size;
    tile = tile / 16 * 16;
    if (tile < 16) tile = 16;
    if (tile > s->in_size) tile = s->in_size;
    s->tile = tile ? tile : 1;
    s->n_tiles = (s->in_size + s->tile - 1) / s->tile;
    size_t slice, bytes;
    if (!ei_size_mul(rows, s->tile, &slice) || !ei_size_add(slice, 15, &slice) ||
        !ei_size_mul(slice / 16 * 16, threads * sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "column scratch size overflows for X '%s'", x->name);
    s->slice_floats = slice / 16 * 16;
    node->scratch_bytes = bytes;
    return EI_STATUS_OK;
}

/* Adds columns [p0, p0 + cols) (input pixels) of col[rows][cols], rows = (m, kd, kh, kw)
 * for m in [0, n_m), into the output planes y (n_m planes of out_size). */
static void ct_col2im(const ct_state *s, const float *col, size_t n_m, size_t p0, size_t cols,
                      float *y) {
    size_t i2 = (size_t)s->in[2], i1 = (size_t)s->in[1];
    const float *src = col;
    for (size_t m = 0; m < n_m; m++) {
        float *ym = y + m * s->out_size;
        for (int64_t kd = 0; kd < s->k[0]; kd++)
            for (int64_t kh = 0; kh < s->k[1]; kh++)
                for (int64_t kw = 0; kw < s->k[2]; kw++) {
                    /* Output column ow = iw * s2 + off for input column iw. */
                    int64_t off = kw * s->d[2] - s->pb[2], lo, hi;
                    ei_geom_output_range(off, s->s[2], s->out[2], s->in[2], &lo, &hi);
                    size_t p = p0, end = p0 + cols;
                    while (p < end) {
                        size_t iw0 = p % i2, r = p / i2, ih = r % i1, id = r / i1;
                        size_t len = i2 - iw0 < end - p ? i2 - iw0 : end - p;
                        int64_t o0 = (int64_t)id * s->s[0] - s->pb[0] + kd * s->d[0];
                        int64_t o1 = (int64_t)ih * s->s[1] - s->pb[1] + kh * s->d[1];
                        if (o0 >= 0 && o0 < s->out[0] && o1 >= 0 && o1 < s->out[1]) {
                            float *yr = ym + ((size_t)o0 * (size_t)s->out[1] + (size_t)o1) *
                                                 (size_t)s->out[2];
                            int64_t a = (int64_t)iw0, e = (int64_t)(iw0 + len);
                            int64_t v0 = lo > a ? lo : a, v1 = hi < e ? hi : e;
                            const float *sr = src + (p - p0);
                            if (s->s[2] == 1) {
                                for (int64_t iw = v0; iw < v1; iw++) yr[iw + off] += sr[iw - a];
                            } else {
                                for (int64_t iw = v0; iw < v1; iw++)
                                    yr[iw * s->s[2] + off] += sr[iw - a];
                            }
                        }
                        p += len;
                    }
                    src += cols;
                }
    }
}

static void ct_task(void *arg, size_t task, int thread) {
    const ct_args *p = arg;
    const ct_state *s = p->s;
    size_t unit = task / s->n_mblocks, mbi = task % s->n_mblocks;
    size_t n = unit / (size_t)s->group, gi = unit % (size_t)s->group;
    size_t m0 = mbi * s->m_block;
    size_t n_m = s->cout_g - m0 < s->m_block ? s->cout_g - m0 : s->m_block;
    size_t wcols = s->cout_g * s->k_size; /* row length of W_g [cin_g, cout_g * k] */
    const float *x = p->x + (n * s->cin + gi * s->cin_g) * s->in_size;
    const float *w = p->w + gi * s->cin_g * wcols + m0 * s->k_size;
    size_t c0 = gi * s->cout_g + m0;
    float *y = p->y + (n * s->cout + c0) * s->out_size;
    for (size_t m = 0; m < n_m; m++) {
        float *ym = y + m * s->out_size;
        float bias = p->b ? p->b[c0 + m] : 0.0f;
        for (size_t i = 0; i < s->out_size; i++) ym[i] = bias;
    }
    if (s->cin_g == 0) return;
    size_t rows = n_m * s->k_size;
    float *col = p->scratch + (size_t)thread * s->slice_floats;
    for (size_t t = 0; t < s->n_tiles; t++) {
        size_t q0 = t * s->tile, cols = s->in_size - q0 < s->tile ? s->in_size - q0 : s->tile;
        /* col[rows][cols] = W_g[:, m0*k : (m0+n_m)*k]^T * X_g[:, q0 : q0+cols] */
        ei_sgemm(1, 0, rows, cols, s->cin_g, 1.0f, w, wcols, x + q0, s->in_size, 0.0f, col, cols);
        ct_col2im(s, col, n_m, q0, cols, y);
    }
}

static ei_status ct_run(ei_exec *ex, ei_node *node) {
    const ct_state *s = node->state;
    const ei_value *b = ei_node_in(ex, node, 2);
    ct_args p = {s, ei_node_in(ex, node, 0)->data, ei_node_in(ex, node, 1)->data,
                 b ? (const float *)b->data : NULL, ei_node_out(ex, node, 0)->data,
                 node->scratch};
    size_t n_tasks = s->n * (size_t)s->group * s->n_mblocks;
    if (n_tasks == 0) return EI_STATUS_OK;
    if (n_tasks == 1) ct_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, ct_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_conv_transpose = {ct_prepare, ct_infer, ct_run, free,
                                            .dtypes = "float32"};
