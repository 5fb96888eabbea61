/*
 * hardmax.c - Hardmax on float32: 1 at the first maximum of each line, 0 elsewhere.
 * Opset < 13 coerces the input to 2-D at axis (default 1) and takes each flattened row
 * as a line; opset 13+ uses lines along one axis (default -1). A NaN counts as the
 * maximum (first NaN wins).
 */
#include <stdlib.h>

#include "ops/softmax_axis.h"

static ei_status hm_run(ei_exec *ex, ei_node *node) {
    const ei_softmax_axis *s = node->state;
    const float *x = ei_node_in(ex, node, 0)->data;
    float *y = ei_node_out(ex, node, 0)->data;
    if (s->len == 0) return EI_STATUS_OK;
    for (size_t o = 0; o < s->outer; o++) {
        for (size_t j = 0; j < s->inner; j++) {
            size_t base = o * s->len * s->inner + j, best = 0;
            float m = x[base];
            for (size_t i = 0; i < s->len; i++) {
                float v = x[base + i * s->inner];
                if (m != m) break;
                if (v > m || v != v) {
                    m = v;
                    best = i;
                }
            }
            for (size_t i = 0; i < s->len; i++)
                y[base + i * s->inner] = 0.0f;
            y[base + best * s->inner] = 1.0f;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_hardmax = {ei_softmax_axis_prepare, ei_softmax_axis_infer, hm_run, free,
                                     .dtypes = "float32"};
