/*
 * upsample.c - Upsample (opsets 7 and 9, deprecated at 10): nearest or (n-)linear with
 * asymmetric coordinates, scales >= 1 from the attribute (7) or the second input (9).
 * It parses its attributes into Resize's state and runs through Resize (resize.c),
 * whose opset-10 semantics are the same.
 */
#include <string.h>

#include "ops/elem_util.h"
#include "ops/resize_common.h"

static ei_status upsample_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_resize_state *s = NULL;
    const char *mode = NULL;
    if (node->opset >= 10)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "Upsample was removed in opset 10 (the model has %d): use Resize",
                             node->opset);
    if (node->opset < 9)
        EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    else
        EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_string(node, "mode", "nearest", &mode));
    if (strcmp(mode, "nearest") == 0)
        s->mode = EI_RESIZE_MODE_NEAREST;
    else if (strcmp(mode, "linear") == 0 || strcmp(mode, "bilinear") == 0)
        s->mode = EI_RESIZE_MODE_LINEAR;
    else {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED, "attribute 'mode' = '%s' is not supported",
                           mode);
        goto cleanup;
    }
    s->coord = EI_RESIZE_COORD_ASYMMETRIC;
    s->nearest = EI_RESIZE_NEAREST_SIMPLE;
    s->cubic_a = -0.75f;
    s->n_axes = -1;
    s->n_scales_attr = -1;
    s->in_roi = -1;
    s->in_sizes = -1;
    s->in_scales = -1;
    s->upsample = true;
    if (node->opset < 9) {
        const float *sc = NULL;
        size_t n = 0;
        EI_TRY(ei_node_attr_floats(node, "scales", &sc, &n));
        if (!sc) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'scales' is required");
            goto cleanup;
        }
        if (n > EI_MAX_RANK) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'scales' has %zu entries, more than %d", n, EI_MAX_RANK);
            goto cleanup;
        }
        memcpy(s->scales_attr, sc, n * sizeof *sc);
        s->n_scales_attr = (int)n;
    } else {
        s->in_scales = 1;
    }
    node->state = s;
    s = NULL;
cleanup:
    ei_resize_state_free(s);
    return st;
}

static ei_status upsample_infer(ei_exec *ex, ei_node *node) {
    return ei_op_fns_resize.infer(ex, node);
}

static ei_status upsample_run(ei_exec *ex, ei_node *node) {
    return ei_op_fns_resize.run(ex, node);
}

const ei_op_fns ei_op_fns_upsample = {upsample_prepare, upsample_infer, upsample_run,
                                      ei_resize_state_free, .dtypes = "any"};
