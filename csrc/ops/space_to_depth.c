/*
 * space_to_depth.c - SpaceToDepth on [N, C, H, W] for any fixed-size dtype, the inverse of
 * DepthToSpace in DCR mode: each b x b spatial tile becomes b*b channel blocks ->
 * [N, C*b*b, H/b, W/b], output channel (i*b + j)*C + c for tile offset (i, j).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/space_depth.h"
#include "ops/strided_copy.h"

typedef struct space_to_depth_state {
    int64_t block;
} space_to_depth_state;

static ei_status space_to_depth_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    space_to_depth_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_space_depth_blocksize(node, &s->block));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status space_to_depth_infer(ei_exec *ex, ei_node *node) {
    const space_to_depth_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    const int64_t b = s->block;
    int64_t dims[4];
    char buf[160];
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (x->rank != 4 || x->dims[2] % b != 0 || x->dims[3] % b != 0 ||
        __builtin_mul_overflow(x->dims[1], b * b, &dims[1]))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must be [N, C, H, W] with H and W divisible by "
                             "blocksize = %lld",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                             (long long)b);
    dims[0] = x->dims[0];
    dims[2] = x->dims[2] / b;
    dims[3] = x->dims[3] / b;
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, 4, dims);
}

static ei_status space_to_depth_run(ei_exec *ex, ei_node *node) {
    const space_to_depth_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    const size_t es = ei_dtype_size(x->dtype), b = (size_t)s->block;
    const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], H = (size_t)x->dims[2],
                 W = (size_t)x->dims[3], Ho = H / b, Wo = W / b;
    const char *xd = x->data;
    char *yd = y->data;
    for (size_t n = 0; n < N; n++)
        for (size_t i = 0; i < b; i++)
            for (size_t j = 0; j < b; j++)
                for (size_t c = 0; c < C; c++)
                    for (size_t h = 0; h < Ho; h++) {
                        size_t ch = (i * b + j) * C + c;
                        char *dst = yd + ((n * C * b * b + ch) * Ho + h) * Wo * es;
                        const char *src = xd + (((n * C + c) * H + h * b + i) * W + j) * es;
                        ei_copy_elems(dst, 1, src, b, Wo, es);
                    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_space_to_depth = {space_to_depth_prepare, space_to_depth_infer,
                                            space_to_depth_run, free, .dtypes = "any"};
