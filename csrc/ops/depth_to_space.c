/*
 * depth_to_space.c - DepthToSpace on [N, C, H, W] for any fixed-size dtype: moves blocks of
 * b*b channels into b x b spatial tiles -> [N, C/(b*b), H*b, W*b]. Mode DCR (default) takes
 * channel (i*b + j)*C' + c for output channel c and tile offset (i, j); CRD (opset 11+) takes
 * c*b*b + i*b + j. run writes each output row in b interleaved passes over input rows.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/space_depth.h"
#include "ops/strided_copy.h"

typedef struct depth_to_space_state {
    int64_t block;
    bool crd;
} depth_to_space_state;

static ei_status depth_to_space_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    depth_to_space_state *s = NULL;
    const char *mode = "DCR";
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_space_depth_blocksize(node, &s->block));
    if (node->opset >= 11) EI_TRY(ei_node_attr_string(node, "mode", "DCR", &mode));
    if (strcmp(mode, "DCR") != 0 && strcmp(mode, "CRD") != 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'mode' = '%s' is not DCR or CRD", mode);
        goto cleanup;
    }
    s->crd = strcmp(mode, "CRD") == 0;
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status depth_to_space_infer(ei_exec *ex, ei_node *node) {
    const depth_to_space_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    const int64_t b = s->block;
    int64_t dims[4];
    char buf[160];
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (x->rank != 4 || x->dims[1] % (b * b) != 0 ||
        __builtin_mul_overflow(x->dims[2], b, &dims[2]) ||
        __builtin_mul_overflow(x->dims[3], b, &dims[3]))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must be [N, C, H, W] with C divisible by blocksize^2 "
                             "= %lld",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                             (long long)(b * b));
    dims[0] = x->dims[0];
    dims[1] = x->dims[1] / (b * b);
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, 4, dims);
}

static ei_status depth_to_space_run(ei_exec *ex, ei_node *node) {
    const depth_to_space_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    const size_t es = ei_dtype_size(x->dtype), b = (size_t)s->block;
    const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], H = (size_t)x->dims[2],
                 W = (size_t)x->dims[3], Co = C / (b * b);
    const char *xd = x->data;
    char *yd = y->data;
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < Co; c++)
            for (size_t h = 0; h < H; h++)
                for (size_t i = 0; i < b; i++) {
                    char *row = yd + (((n * Co + c) * H + h) * b + i) * W * b * es;
                    for (size_t j = 0; j < b; j++) {
                        size_t ch = s->crd ? c * b * b + i * b + j : (i * b + j) * Co + c;
                        const char *src = xd + ((n * C + ch) * H + h) * W * es;
                        char *dst = row + j * es;
                        ei_copy_elems(dst, b, src, 1, W, es);
                    }
                }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_depth_to_space = {depth_to_space_prepare, depth_to_space_infer,
                                            depth_to_space_run, free, .dtypes = "any"};
