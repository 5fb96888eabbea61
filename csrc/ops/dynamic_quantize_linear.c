/*
 * dynamic_quantize_linear.c - DynamicQuantizeLinear: float32 -> uint8 with a scale and zero
 * point computed from the data's range (extended to include 0), as onnxruntime does:
 * scale = (max - min) / 255, zero_point = round(clamp(-min / scale)), y = sat(round(x /
 * scale) + zero_point), rounding half to even. An all-zero input gets scale 1 (not 0/0).
 */
#include <math.h>
#include <stdlib.h>

#include "ops/elem_util.h"

static ei_status dql_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 1, 1, 3));
    return EI_STATUS_OK;
}

static ei_status dql_infer(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input x '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_U8, x->rank, x->dims));
    ei_value *ys = ei_node_out(ex, node, 1), *yz = ei_node_out(ex, node, 2);
    if (ys) EI_CHECK(ei_elem_set_out(node, ys, EI_DTYPE_F32, 0, NULL));
    if (yz) EI_CHECK(ei_elem_set_out(node, yz, EI_DTYPE_U8, 0, NULL));
    return EI_STATUS_OK;
}

static ei_status dql_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *ys = ei_node_out(ex, node, 1), *yz = ei_node_out(ex, node, 2);
    const float *xd = x->data;
    uint8_t *y = ei_node_out(ex, node, 0)->data;
    size_t n = ei_value_numel(x);
    float lo = 0.0f, hi = 0.0f;
    for (size_t i = 0; i < n; i++) {
        /* NaN compares false both ways and is left out of the range. */
        if (xd[i] < lo) lo = xd[i];
        if (xd[i] > hi) hi = xd[i];
    }
    if (isinf(lo)) lo = -3.402823466e38f;
    if (isinf(hi)) hi = 3.402823466e38f;
    float scale = hi == lo ? 1.0f : (hi - lo) / 255.0f;
    if (!(scale > 0.0f) || isinf(scale)) scale = isinf(scale) ? 3.402823466e38f : 1.0f;
    float zf = 0.0f - lo / scale;
    zf = zf < 0.0f ? 0.0f : zf > 255.0f ? 255.0f : zf;
    uint8_t zp = (uint8_t)nearbyintf(zf);
    for (size_t i = 0; i < n; i++) {
        float v = nearbyintf(xd[i] / scale) + (float)zp;
        if (v != v) v = (float)zp;
        v = v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
        y[i] = (uint8_t)v;
    }
    if (ys) *(float *)ys->data = scale;
    if (yz) *(uint8_t *)yz->data = zp;
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_dynamic_quantize_linear = {dql_prepare, dql_infer, dql_run, NULL,
                                                     .dtypes = "float32"};
