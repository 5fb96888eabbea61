/*
 * deform_conv.c - DeformConv (opsets 19, 22), 2-D, float32: convolution whose kernel taps
 * are moved by per-position offsets [N, offset_group * kH * kW * 2, oH, oW] (dy, dx pairs)
 * and optionally scaled by mask, sampled bilinearly in pixel coordinates with zeros outside
 * the image (the ONNX reference's GridSample with align_corners=1). Per batch and group the
 * sampled columns go to scratch and one ei_sgemm applies the weights; bias is added after.
 * A NaN or far-out sampling position reads 0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct dc_state {
    int64_t group, offset_group;
    int64_t kshape[2], dil[2], pad[4], str[2];
    bool has_kshape;
    /* from the last infer */
    size_t n, c, h, w, oc, kh, kw, oh, ow, icg, ocg, icog;
} dc_state;

static ei_status dc_read_pair(const ei_node *node, const char *name, size_t want, int64_t def,
                              int64_t *out, bool *present) {
    const int64_t *v = NULL;
    size_t n = 0;
    EI_CHECK(ei_node_attr_ints(node, name, &v, &n));
    if (present) *present = v != NULL;
    if (!v) {
        for (size_t i = 0; i < want; i++)
            out[i] = def;
        return EI_STATUS_OK;
    }
    if (n != want)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "attribute '%s' has %zu values; only 2-D DeformConv (%zu values) is "
                             "supported",
                             name, n, want);
    for (size_t i = 0; i < want; i++)
        out[i] = v[i];
    return EI_STATUS_OK;
}

static ei_status dc_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    dc_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 3, 5, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "group", 1, &s->group));
    EI_TRY(ei_node_attr_int(node, "offset_group", 1, &s->offset_group));
    EI_TRY(dc_read_pair(node, "kernel_shape", 2, 0, s->kshape, &s->has_kshape));
    EI_TRY(dc_read_pair(node, "dilations", 2, 1, s->dil, NULL));
    EI_TRY(dc_read_pair(node, "strides", 2, 1, s->str, NULL));
    EI_TRY(dc_read_pair(node, "pads", 4, 0, s->pad, NULL));
    const int64_t lim = (int64_t)1 << 31;
    bool ok = s->group >= 1 && s->group < lim && s->offset_group >= 1 && s->offset_group < lim;
    for (int i = 0; i < 2; i++)
        ok = ok && s->dil[i] >= 1 && s->dil[i] < lim && s->str[i] >= 1 && s->str[i] < lim;
    for (int i = 0; i < 4; i++)
        ok = ok && s->pad[i] >= 0 && s->pad[i] < lim;
    if (!ok) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes group, offset_group, dilations, strides must be >= 1 and "
                           "pads >= 0 (all below 2^31)");
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status dc_infer(ei_exec *ex, ei_node *node) {
    dc_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *wt = ei_node_in(ex, node, 1),
                   *off = ei_node_in(ex, node, 2), *b = ei_node_in(ex, node, 3),
                   *mask = ei_node_in(ex, node, 4);
    char b1[160], b2[160];
    const ei_value *ins[5] = {x, wt, off, b, mask};
    for (int i = 0; i < 5; i++)
        if (ins[i] && ins[i]->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input '%s' has dtype %s; only float32 is supported", ins[i]->name,
                                 ei_dtype_name(ins[i]->dtype));
    if (x->rank != 4 || wt->rank != 4)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs '%s' %s and '%s' %s must be 4-D: only 2-D DeformConv is "
                             "supported",
                             x->name, ei_shape_str(x->rank, x->dims, b1, sizeof b1), wt->name,
                             ei_shape_str(wt->rank, wt->dims, b2, sizeof b2));
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->h = (size_t)x->dims[2];
    s->w = (size_t)x->dims[3];
    s->oc = (size_t)wt->dims[0];
    s->kh = (size_t)wt->dims[2];
    s->kw = (size_t)wt->dims[3];
    const size_t g = (size_t)s->group, og = (size_t)s->offset_group;
    size_t wc = 0;
    if ((s->has_kshape && (s->kshape[0] != wt->dims[2] || s->kshape[1] != wt->dims[3])) ||
        wt->dims[2] >= ((int64_t)1 << 31) || wt->dims[3] >= ((int64_t)1 << 31) ||
        !ei_size_mul((size_t)wt->dims[1], g, &wc) || wc != s->c || s->oc % g != 0 || s->c % og != 0)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (W) %s does not fit input '%s' %s with group %lld, "
                             "offset_group %lld and kernel_shape",
                             wt->name, ei_shape_str(wt->rank, wt->dims, b1, sizeof b1), x->name,
                             ei_shape_str(x->rank, x->dims, b2, sizeof b2), (long long)s->group,
                             (long long)s->offset_group);
    int64_t o[2];
    for (int i = 0; i < 2; i++) {
        int64_t kext = s->dil[i] * (wt->dims[2 + i] - 1) + 1;
        int64_t span = x->dims[2 + i] + s->pad[i] + s->pad[i + 2] - kext;
        o[i] = span < 0 ? 0 : span / s->str[i] + 1;
    }
    size_t kk = s->kh * s->kw, kko = 0, kko2 = 0; /* kernel dims < 2^31 each */
    if (!ei_size_mul(kk, og, &kko) || !ei_size_mul(kko, 2, &kko2) || off->rank != 4 ||
        off->dims[0] != x->dims[0] || (size_t)off->dims[1] != kko2 || off->dims[2] != o[0] ||
        off->dims[3] != o[1])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (offset) %s must be [N, offset_group * kH * kW * 2, "
                             "%lld, %lld]",
                             off->name, ei_shape_str(off->rank, off->dims, b1, sizeof b1),
                             (long long)o[0], (long long)o[1]);
    if (b && (b->rank != 1 || (size_t)b->dims[0] != s->oc))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' (B) %s must be [%zu]",
                             b->name, ei_shape_str(b->rank, b->dims, b1, sizeof b1), s->oc);
    if (mask && (mask->rank != 4 || mask->dims[0] != x->dims[0] || (size_t)mask->dims[1] != kko ||
                 mask->dims[2] != o[0] || mask->dims[3] != o[1]))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (mask) %s must be [N, offset_group * kH * kW, %lld, %lld]",
                             mask->name, ei_shape_str(mask->rank, mask->dims, b1, sizeof b1),
                             (long long)o[0], (long long)o[1]);
    s->oh = (size_t)o[0];
    s->ow = (size_t)o[1];
    s->icg = s->c / g;
    s->ocg = s->oc / g;
    s->icog = s->c / og;
    int64_t dims[4] = {x->dims[0], wt->dims[0], o[0], o[1]};
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 4, dims));
    /* columns of one group: icg * kk rows by oh * ow; each factor is bounded by an input's size */
    size_t rows, bytes;
    if (!ei_size_mul(s->icg, kk, &rows) || !ei_size_mul(rows, s->oh * s->ow, &bytes) ||
        !ei_size_mul(bytes, sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "the column buffer is too large");
    node->scratch_bytes = bytes;
    return EI_STATUS_OK;
}

/* Bilinear sample of plane [h, w] at (py, px) in pixel units, zero outside. */
static float dc_sample(const float *p, size_t h, size_t w, double py, double px) {
    if (!(py > -1.0 && py < (double)h && px > -1.0 && px < (double)w)) return 0.0f;
    double fy = floor(py), fx = floor(px), ly = py - fy, lx = px - fx;
    int64_t y0 = (int64_t)fy, x0 = (int64_t)fx;
    double v = 0.0;
    for (int dy = 0; dy < 2; dy++) {
        int64_t yy = y0 + dy;
        if (yy < 0 || yy >= (int64_t)h) continue;
        double wy = dy ? ly : 1.0 - ly;
        for (int dx = 0; dx < 2; dx++) {
            int64_t xx = x0 + dx;
            if (xx < 0 || xx >= (int64_t)w) continue;
            v += wy * (dx ? lx : 1.0 - lx) * (double)p[(size_t)yy * w + (size_t)xx];
        }
    }
    return (float)v;
}

static ei_status dc_run(ei_exec *ex, ei_node *node) {
    const dc_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *wt = ei_node_in(ex, node, 1),
                   *off = ei_node_in(ex, node, 2), *b = ei_node_in(ex, node, 3),
                   *mask = ei_node_in(ex, node, 4);
    float *y = ei_node_out(ex, node, 0)->data, *col = node->scratch;
    const float *xd = x->data, *wd = wt->data, *od = off->data, *md = mask ? mask->data : NULL;
    const size_t kk = s->kh * s->kw, ohw = s->oh * s->ow, hw = s->h * s->w;
    const size_t og = (size_t)s->offset_group, g = (size_t)s->group;
    if (s->n == 0 || s->oc == 0 || ohw == 0) return EI_STATUS_OK;
    for (size_t n = 0; n < s->n; n++) {
        for (size_t gi = 0; gi < g; gi++) {
            float *yg = y + (n * s->oc + gi * s->ocg) * ohw;
            if (s->icg == 0 || kk == 0) {
                memset(yg, 0, s->ocg * ohw * sizeof *yg);
            } else {
                for (size_t ci = 0; ci < s->icg; ci++) {
                    const size_t c = gi * s->icg + ci, ogi = c / s->icog;
                    const float *plane = xd + (n * s->c + c) * hw;
                    for (size_t ki = 0; ki < s->kh; ki++)
                        for (size_t kj = 0; kj < s->kw; kj++) {
                            const size_t k = ki * s->kw + kj;
                            const float *oy = od + ((n * og + ogi) * kk + k) * 2 * ohw;
                            const float *ox = oy + ohw;
                            const float *mk = md ? md + ((n * og + ogi) * kk + k) * ohw : NULL;
                            float *cr = col + (ci * kk + k) * ohw;
                            for (size_t i = 0; i < s->oh; i++)
                                for (size_t j = 0; j < s->ow; j++) {
                                    const size_t q = i * s->ow + j;
                                    double py = (double)i * (double)s->str[0] - (double)s->pad[0] +
                                                (double)ki * (double)s->dil[0] + (double)oy[q];
                                    double px = (double)j * (double)s->str[1] - (double)s->pad[1] +
                                                (double)kj * (double)s->dil[1] + (double)ox[q];
                                    float v = dc_sample(plane, s->h, s->w, py, px);
                                    cr[q] = mk ? v * mk[q] : v;
                                }
                        }
                }
                ei_sgemm(0, 0, s->ocg, ohw, s->icg * kk, 1.0f, wd + gi * s->ocg * s->icg * kk,
                         s->icg * kk, col, ohw, 0.0f, yg, ohw);
            }
            if (b)
                for (size_t o = 0; o < s->ocg; o++) {
                    const float bv = ((const float *)b->data)[gi * s->ocg + o];
                    for (size_t q = 0; q < ohw; q++)
                        yg[o * ohw + q] += bv;
                }
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_deform_conv = {dc_prepare, dc_infer, dc_run, free, .dtypes = "float32"};
