/*
 * affine_grid.c - AffineGrid (opset 20): the sampling grid [N, H, W, 2] (or [N, D, H, W, 3])
 * of affine matrices theta [N, 2, 3] (or [N, 3, 4]) applied to the normalized pixel centers
 * (align_corners 0) or corners (1) of an image of the given size [N, C, H, W] (or
 * [N, C, D, H, W]), which must be known at reshape or is read when the node runs.
 * float32/float64; coordinates and products in double. Pairs with GridSample.
 */
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct affine_grid_state {
    int64_t align;
    int k;           /* 2 or 3 spatial dims, from the last infer */
    size_t n, sp[3]; /* batch and spatial sizes (D, H, W or H, W) */
} affine_grid_state;

static ei_status affine_grid_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    affine_grid_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "align_corners", 0, &s->align));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status affine_grid_infer(ei_exec *ex, ei_node *node) {
    affine_grid_state *s = node->state;
    const ei_value *th = ei_node_in(ex, node, 0), *sz = ei_node_in(ex, node, 1);
    int64_t size[5], dims[EI_MAX_RANK];
    size_t n = 0;
    char b[160];
    if (th->dtype != EI_DTYPE_F32 && th->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' (theta) has dtype %s; supported: float32, float64",
                             th->name, ei_dtype_name(th->dtype));
    if (!ei_input_ready(ex, sz)) { /* fed at run time: known when it runs */
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(ei_elem_read_ints(node, sz, "size", size, 5, &n));
    if (n != 4 && n != 5)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (size) has %zu values, expected 4 ([N, C, H, W]) or 5",
                             sz->name, n);
    s->k = (int)n - 2;
    for (size_t i = 0; i < n; i++)
        if (size[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (size) value %lld is negative", sz->name,
                                 (long long)size[i]);
    if (th->rank != 3 || th->dims[0] != size[0] || th->dims[1] != s->k || th->dims[2] != s->k + 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (theta) %s must be [N, %d, %d] with N = %lld from '%s'",
                             th->name, ei_shape_str(th->rank, th->dims, b, sizeof b), s->k,
                             s->k + 1, (long long)size[0], sz->name);
    s->n = (size_t)size[0];
    dims[0] = size[0];
    for (int i = 0; i < s->k; i++) {
        dims[1 + i] = size[2 + i];
        s->sp[i] = (size_t)size[2 + i];
    }
    dims[1 + s->k] = s->k;
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), th->dtype, s->k + 2, dims);
}

/* Normalized coordinate of index i of a dim of length len. A single aligned step sits at -1
 * as in the ONNX reference (engines disagree there: onnxruntime 1.32 puts it at 1, PyTorch
 * at 0). */
static double affine_grid_base(size_t i, size_t len, bool align) {
    if (align) return len > 1 ? -1.0 + 2.0 * (double)i / (double)(len - 1) : -1.0;
    return -1.0 + (2.0 * (double)i + 1.0) / (double)len;
}

static ei_status affine_grid_run(ei_exec *ex, ei_node *node) {
    const affine_grid_state *s = node->state;
    const ei_value *th = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    const int k = s->k, cols = k + 1;
    const bool f32 = th->dtype == EI_DTYPE_F32, al = s->align != 0;
    const size_t d = k == 3 ? s->sp[0] : 1, h = s->sp[k - 2], w = s->sp[k - 1];
    size_t o = 0;
    for (size_t n = 0; n < s->n; n++) {
        double t[12];
        for (int i = 0; i < k * cols; i++)
            t[i] = f32 ? (double)((const float *)th->data)[n * (size_t)(k * cols) + (size_t)i]
                       : ((const double *)th->data)[n * (size_t)(k * cols) + (size_t)i];
        for (size_t zi = 0; zi < d; zi++) {
            double z = k == 3 ? affine_grid_base(zi, d, al) : 0.0;
            for (size_t yi = 0; yi < h; yi++) {
                double yy = affine_grid_base(yi, h, al);
                for (size_t xi = 0; xi < w; xi++) {
                    double p[4] = {affine_grid_base(xi, w, al), yy, k == 3 ? z : 1.0, 1.0};
                    for (int r = 0; r < k; r++, o++) {
                        double v = 0.0;
                        for (int c = 0; c < cols; c++)
                            v += t[r * cols + c] * p[c];
                        if (f32)
                            ((float *)y->data)[o] = (float)v;
                        else
                            ((double *)y->data)[o] = v;
                    }
                }
            }
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_affine_grid = {affine_grid_prepare, affine_grid_infer, affine_grid_run,
                                         free, .dtypes = "float32 float64"};
