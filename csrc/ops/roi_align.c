/*
 * roi_align.c - RoiAlign (float32): each region of interest [x1, y1, x2, y2] (scaled by
 * spatial_scale, shifted by half a pixel in half_pixel mode, opset 16's default) is cut into
 * output_height x output_width bins, each sampled on a sampling_ratio^2 grid (adaptive
 * ceil(bin size) when 0) by bilinear interpolation, then averaged or max-ed the way
 * onnxruntime does (max of the four weighted corners per sample). ROIs are split across
 * the thread pool; batch indices are checked when the node runs.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

/* Samples per bin above this are refused (a ROI far larger than any image). */
#define ROI_MAX_SAMPLES ((int64_t)1 << 24)

typedef struct roi_state {
    int max_mode, half_pixel;
    int64_t oh, ow, sampling_ratio;
    float spatial_scale;
    size_t n, c, h, w, rois, n_tasks;
} roi_state;

static ei_status roi_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    roi_state *s = NULL;
    const char *mode = NULL, *ctm = NULL;
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_string(node, "mode", "avg", &mode));
    EI_TRY(ei_node_attr_string(node, "coordinate_transformation_mode",
                               node->opset >= 16 ? "half_pixel" : "output_half_pixel", &ctm));
    EI_TRY(ei_node_attr_int(node, "output_height", 1, &s->oh));
    EI_TRY(ei_node_attr_int(node, "output_width", 1, &s->ow));
    EI_TRY(ei_node_attr_int(node, "sampling_ratio", 0, &s->sampling_ratio));
    EI_TRY(ei_node_attr_float(node, "spatial_scale", 1.0f, &s->spatial_scale));
    if (strcmp(mode, "avg") != 0 && strcmp(mode, "max") != 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'mode' = '%s', expected 'avg' or 'max'", mode);
        goto cleanup;
    }
    if (strcmp(ctm, "half_pixel") != 0 && strcmp(ctm, "output_half_pixel") != 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'coordinate_transformation_mode' = '%s', expected "
                           "'half_pixel' or 'output_half_pixel'",
                           ctm);
        goto cleanup;
    }
    if (s->oh < 1 || s->ow < 1 || s->oh > INT32_MAX || s->ow > INT32_MAX || s->sampling_ratio < 0 ||
        s->sampling_ratio > 4096) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attributes output_height = %lld, output_width = %lld must be positive "
                           "and sampling_ratio = %lld in [0, 4096]",
                           (long long)s->oh, (long long)s->ow, (long long)s->sampling_ratio);
        goto cleanup;
    }
    s->max_mode = strcmp(mode, "max") == 0;
    s->half_pixel = strcmp(ctm, "half_pixel") == 0;
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status roi_infer(ei_exec *ex, ei_node *node) {
    roi_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *r = ei_node_in(ex, node, 1);
    const ei_value *bi = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    if (x->dtype != EI_DTYPE_F32 || r->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs X '%s' (%s) and rois '%s' (%s): only float32 is supported",
                             x->name, ei_dtype_name(x->dtype), r->name, ei_dtype_name(r->dtype));
    if (bi->dtype != EI_DTYPE_I64)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input batch_indices '%s' has dtype %s, expected int64", bi->name,
                             ei_dtype_name(bi->dtype));
    if (x->rank != 4 || r->rank != 2 || r->dims[1] != 4 || bi->rank != 1 ||
        bi->dims[0] != r->dims[0])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "X '%s' %s, rois '%s' %s and batch_indices '%s' must be [N, C, H, W], "
                             "[num_rois, 4] and [num_rois]",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), r->name,
                             ei_shape_str(r->rank, r->dims, buf2, sizeof buf2), bi->name);
    s->n = (size_t)x->dims[0];
    s->c = (size_t)x->dims[1];
    s->h = (size_t)x->dims[2];
    s->w = (size_t)x->dims[3];
    s->rois = (size_t)r->dims[0];
    int64_t od[4] = {r->dims[0], x->dims[1], s->oh, s->ow};
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_F32, 4, od));
    size_t per_roi = s->c * (size_t)s->oh * (size_t)s->ow * 4; /* bounded by the output size */
    s->n_tasks = ei_elem_tasks(ex, s->rois * per_roi, 1 << 14);
    if (s->n_tasks > s->rois) s->n_tasks = s->rois ? s->rois : 1;
    return EI_STATUS_OK;
}

typedef struct roi_args {
    const roi_state *s;
    const float *x, *rois;
    const int64_t *bidx;
    float *y;
} roi_args;

static void roi_task(void *arg, size_t task, int thread) {
    (void)thread;
    const roi_args *p = arg;
    const roi_state *s = p->s;
    size_t per = (s->rois + s->n_tasks - 1) / s->n_tasks;
    size_t r0 = per * task, r1 = r0 + per < s->rois ? r0 + per : s->rois;
    size_t oh = (size_t)s->oh, ow = (size_t)s->ow, plane = oh * ow, hw = s->h * s->w;
    float height = (float)s->h, width = (float)s->w;
    for (size_t r = r0; r < r1; r++) {
        const float *roi = p->rois + 4 * r;
        const float *xb = p->x + (size_t)p->bidx[r] * s->c * hw;
        float *y = p->y + r * s->c * plane;
        float off = s->half_pixel ? 0.5f : 0.0f;
        float sw = roi[0] * s->spatial_scale - off, sh = roi[1] * s->spatial_scale - off;
        float ew = roi[2] * s->spatial_scale - off, eh = roi[3] * s->spatial_scale - off;
        float rw = ew - sw, rh = eh - sh;
        if (!s->half_pixel) {
            rw = rw > 1.0f ? rw : 1.0f;
            rh = rh > 1.0f ? rh : 1.0f;
        }
        float bh = rh / (float)oh, bw = rw / (float)ow;
        /* grid sizes were validated in run */
        int64_t gh = s->sampling_ratio > 0 ? s->sampling_ratio : (int64_t)ceilf(rh / (float)oh);
        int64_t gw = s->sampling_ratio > 0 ? s->sampling_ratio : (int64_t)ceilf(rw / (float)ow);
        int64_t count = gh * gw > 1 ? gh * gw : 1;
        for (size_t ph = 0; ph < oh; ph++) {
            for (size_t pw = 0; pw < ow; pw++) {
                size_t o = ph * ow + pw;
                for (size_t c = 0; c < s->c; c++) y[c * plane + o] = 0.0f;
                bool first = true;
                for (int64_t iy = 0; iy < gh; iy++) {
                    float yy = sh + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh;
                    for (int64_t ix = 0; ix < gw; ix++) {
                        float xx = sw + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw;
                        float w1 = 0, w2 = 0, w3 = 0, w4 = 0;
                        size_t p1 = 0, p2 = 0, p3 = 0, p4 = 0;
                        if (!(yy < -1.0f || yy > height || xx < -1.0f || xx > width)) {
                            float yv = yy <= 0 ? 0 : yy, xv = xx <= 0 ? 0 : xx;
                            size_t yl = (size_t)yv, xl = (size_t)xv, yh, xh;
                            if (yl >= s->h - 1) {
                                yh = yl = s->h - 1;
                                yv = (float)yl;
                            } else {
                                yh = yl + 1;
                            }
                            if (xl >= s->w - 1) {
                                xh = xl = s->w - 1;
                                xv = (float)xl;
                            } else {
                                xh = xl + 1;
                            }
                            float ly = yv - (float)yl, lx = xv - (float)xl;
                            float hy = 1.0f - ly, hx = 1.0f - lx;
                            w1 = hy * hx;
                            w2 = hy * lx;
                            w3 = ly * hx;
                            w4 = ly * lx;
                            p1 = yl * s->w + xl;
                            p2 = yl * s->w + xh;
                            p3 = yh * s->w + xl;
                            p4 = yh * s->w + xh;
                        }
                        for (size_t c = 0; c < s->c; c++) {
                            const float *xc = xb + c * hw;
                            float *yo = y + c * plane + o;
                            if (s->max_mode) {
                                float v = w1 * xc[p1];
                                v = fmaxf(v, w2 * xc[p2]);
                                v = fmaxf(v, w3 * xc[p3]);
                                v = fmaxf(v, w4 * xc[p4]);
                                *yo = first ? v : fmaxf(*yo, v);
                            } else {
                                *yo += w1 * xc[p1] + w2 * xc[p2] + w3 * xc[p3] + w4 * xc[p4];
                            }
                        }
                        first = false;
                    }
                }
                if (!s->max_mode)
                    for (size_t c = 0; c < s->c; c++) y[c * plane + o] /= (float)count;
            }
        }
    }
}

static ei_status roi_run(ei_exec *ex, ei_node *node) {
    const roi_state *s = node->state;
    const ei_value *bv = ei_node_in(ex, node, 2), *rv = ei_node_in(ex, node, 1);
    roi_args p = {s, ei_node_in(ex, node, 0)->data, rv->data, bv->data,
                  ei_node_out(ex, node, 0)->data};
    for (size_t r = 0; r < s->rois; r++) {
        if (p.bidx[r] < 0 || (uint64_t)p.bidx[r] >= s->n)
            return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                 "batch_indices '%s'[%zu] = %lld is out of range for %zu images",
                                 bv->name, r, (long long)p.bidx[r], s->n);
        const float *roi = p.rois + 4 * r;
        bool ok = true;
        for (int k = 0; k < 4; k++) ok = ok && isfinite(roi[k] * s->spatial_scale);
        if (ok && s->sampling_ratio == 0) {
            float rw = (roi[2] - roi[0]) * s->spatial_scale, rh = (roi[3] - roi[1]) * s->spatial_scale;
            float gh = ceilf(rh / (float)s->oh), gw = ceilf(rw / (float)s->ow);
            float lim = (float)ROI_MAX_SAMPLES;
            ok = fabsf(gh) <= lim && fabsf(gw) <= lim && fabsf(gh * gw) <= lim;
        }
        if (!ok)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "rois '%s'[%zu] = [%g, %g, %g, %g] is not finite or too large",
                                 rv->name, r, (double)roi[0], (double)roi[1], (double)roi[2],
                                 (double)roi[3]);
    }
    if (s->rois == 0 || s->c == 0) return EI_STATUS_OK;
    if (s->h == 0 || s->w == 0) {
        memset(p.y, 0, s->rois * s->c * (size_t)s->oh * (size_t)s->ow * sizeof(float));
        return EI_STATUS_OK;
    }
    if (s->n_tasks <= 1) roi_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, s->n_tasks, roi_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_roi_align = {roi_prepare, roi_infer, roi_run, free, .dtypes = "float32"};
