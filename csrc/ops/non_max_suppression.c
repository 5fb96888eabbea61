/*
 * non_max_suppression.c - NonMaxSuppression: per batch and class, boxes whose score
 * passes score_threshold are taken greedily by descending score (ties: lower box index
 * first, as onnxruntime) and kept unless their IoU with a box already kept exceeds
 * iou_threshold, up to max_output_boxes_per_class. The output [num_selected, 3] int64
 * (batch, class, box) has a data-dependent length, so the node is dynamic. NaN scores are
 * never selected.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct nms_state {
    int64_t center_point_box;
    size_t batches, classes, boxes;
} nms_state;

typedef struct nms_cand {
    float score;
    int64_t index;
} nms_cand;

static ei_status nms_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 2, 5, 1));
    int64_t cpb = 0;
    EI_CHECK(ei_node_attr_int(node, "center_point_box", 0, &cpb));
    if (cpb != 0 && cpb != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'center_point_box' = %lld, expected 0 or 1", (long long)cpb);
    nms_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->center_point_box = cpb;
    node->state = s;
    return EI_STATUS_OK;
}

/* Optional scalar (or 1-element) input i of dtype t. */
static ei_status nms_check_scalar(const ei_exec *ex, const ei_node *node, int i, const char *what,
                                  ei_dtype t) {
    const ei_value *v = ei_node_in(ex, node, i);
    char buf[96];
    if (!v) return EI_STATUS_OK;
    if (v->dtype != t)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input %s '%s' has dtype %s, expected %s",
                             what, v->name, ei_dtype_name(v->dtype), ei_dtype_name(t));
    if (v->rank > 1 || ei_value_numel(v) > 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input %s '%s' has shape %s, expected a scalar or [1]", what, v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf));
    return EI_STATUS_OK;
}

static ei_status nms_infer(ei_exec *ex, ei_node *node) {
    nms_state *s = node->state;
    const ei_value *b = ei_node_in(ex, node, 0), *sc = ei_node_in(ex, node, 1);
    char buf[128], buf2[128];
    if (b->dtype != EI_DTYPE_F32 || sc->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs boxes '%s' (%s) and scores '%s' (%s): only float32 is supported",
                             b->name, ei_dtype_name(b->dtype), sc->name, ei_dtype_name(sc->dtype));
    if (b->rank != 3 || b->dims[2] != 4 || sc->rank != 3 || sc->dims[0] != b->dims[0] ||
        sc->dims[2] != b->dims[1])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "boxes '%s' %s and scores '%s' %s must be [batches, boxes, 4] and "
                             "[batches, classes, boxes]",
                             b->name, ei_shape_str(b->rank, b->dims, buf, sizeof buf), sc->name,
                             ei_shape_str(sc->rank, sc->dims, buf2, sizeof buf2));
    EI_CHECK(nms_check_scalar(ex, node, 2, "max_output_boxes_per_class", EI_DTYPE_I64));
    EI_CHECK(nms_check_scalar(ex, node, 3, "iou_threshold", EI_DTYPE_F32));
    EI_CHECK(nms_check_scalar(ex, node, 4, "score_threshold", EI_DTYPE_F32));
    s->batches = (size_t)b->dims[0];
    s->classes = (size_t)sc->dims[1];
    s->boxes = (size_t)b->dims[1];
    /* Scratch: the candidates of one class, then every selected box index. */
    size_t cand, sel;
    if (!ei_size_mul(s->boxes, sizeof(nms_cand), &cand) ||
        !ei_size_mul(ei_value_numel(sc), sizeof(int64_t), &sel) ||
        !ei_size_add(cand, sel, &node->scratch_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "scores '%s' are too large", sc->name);
    node->dynamic = true;
    return EI_STATUS_OK;
}

static int nms_cmp(const void *pa, const void *pb) {
    const nms_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Corners (x0, y0, x1, y1) with x0 <= x1, y0 <= y1. */
static void nms_corners(const float *p, int64_t cpb, float *c) {
    if (cpb == 0) {
        /* [y1, x1, y2, x2], either corner order */
        c[0] = p[1] < p[3] ? p[1] : p[3];
        c[2] = p[1] < p[3] ? p[3] : p[1];
        c[1] = p[0] < p[2] ? p[0] : p[2];
        c[3] = p[0] < p[2] ? p[2] : p[0];
    } else {
        /* [x_center, y_center, width, height] */
        float hw = p[2] / 2, hh = p[3] / 2;
        c[0] = p[0] - hw;
        c[2] = p[0] + hw;
        c[1] = p[1] - hh;
        c[3] = p[1] + hh;
    }
}

/* Whether box b (corners) suppresses box a: IoU > threshold. */
static bool nms_suppress(const float *a, const float *b, float thr) {
    float ix0 = a[0] > b[0] ? a[0] : b[0], ix1 = a[2] < b[2] ? a[2] : b[2];
    if (ix1 <= ix0) return false;
    float iy0 = a[1] > b[1] ? a[1] : b[1], iy1 = a[3] < b[3] ? a[3] : b[3];
    if (iy1 <= iy0) return false;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    if (inter <= 0.0f) return false;
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    float uni = area_a + area_b - inter;
    if (area_a <= 0.0f || area_b <= 0.0f || uni <= 0.0f) return false;
    return inter / uni > thr;
}

static ei_status nms_run(ei_exec *ex, ei_node *node) {
    const nms_state *s = node->state;
    const ei_value *bv = ei_node_in(ex, node, 0), *sv = ei_node_in(ex, node, 1);
    const ei_value *mv = ei_node_in(ex, node, 2), *iv = ei_node_in(ex, node, 3);
    const ei_value *tv = ei_node_in(ex, node, 4);
    int64_t max_out = mv && ei_value_numel(mv) ? *(const int64_t *)mv->data : 0;
    float iou = iv && ei_value_numel(iv) ? *(const float *)iv->data : 0.0f;
    bool has_thr = tv && ei_value_numel(tv);
    float thr = has_thr ? *(const float *)tv->data : 0.0f;
    if (!(iou >= 0.0f && iou <= 1.0f))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "iou_threshold '%s' = %g, expected a value in [0, 1]", iv->name,
                             (double)iou);
    nms_cand *cand = node->scratch;
    /* Each selection as group * boxes + box (group = batch * classes + class): below
     * numel(scores), and in output order. */
    int64_t *sel = (int64_t *)((char *)node->scratch + s->boxes * sizeof(nms_cand));
    size_t total = 0, nb = s->boxes;
    const float *boxes = bv->data, *scores = sv->data;
    size_t limit = max_out <= 0 ? 0 : (uint64_t)max_out > nb ? nb : (size_t)max_out;
    size_t n_groups = s->batches * s->classes;
    for (size_t gi = 0; gi < n_groups && limit > 0; gi++) {
        const float *sc = scores + gi * nb;
        const float *bx = boxes + gi / s->classes * nb * 4;
        size_t n = 0;
        for (size_t i = 0; i < nb; i++) {
            float v = sc[i];
            if (v != v || (has_thr && !(v > thr))) continue;
            cand[n].score = v;
            cand[n].index = (int64_t)i;
            n++;
        }
        qsort(cand, n, sizeof *cand, nms_cmp);
        size_t first = total;
        for (size_t c = 0; c < n && total - first < limit; c++) {
            float a[4];
            nms_corners(bx + (size_t)cand[c].index * 4, s->center_point_box, a);
            bool keep = true;
            for (size_t k = first; k < total && keep; k++) {
                float b[4];
                nms_corners(bx + (size_t)sel[k] % nb * 4, s->center_point_box, b);
                keep = !nms_suppress(a, b, iou);
            }
            if (keep) sel[total++] = (int64_t)(gi * nb) + cand[c].index;
        }
    }
    int64_t dims[2] = {(int64_t)total, 3};
    EI_CHECK(ei_node_alloc_output(ex, node, 0, EI_DTYPE_I64, 2, dims));
    int64_t *y = ei_node_out(ex, node, 0)->data;
    for (size_t k = 0; k < total; k++) {
        size_t v = (size_t)sel[k], gi = v / nb;
        y[3 * k] = (int64_t)(gi / s->classes);
        y[3 * k + 1] = (int64_t)(gi % s->classes);
        y[3 * k + 2] = (int64_t)(v % nb);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_non_max_suppression = {nms_prepare, nms_infer, nms_run, free,
                                                 .dtypes = "float32"};
