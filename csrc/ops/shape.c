/*
 * shape.c - Shape: the input's dims as a 1-D int64 tensor, optionally sliced by the
 * start/end attributes (opset 15+, clamped like Python slices). Reads only the input's
 * shape, never its data, so the session evaluates it during reshape.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct shape_state {
    int64_t start, end;
    bool has_end;
    int begin, count; /* slice from the last infer */
} shape_state;

static ei_status shape_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    shape_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset >= 15) {
        EI_TRY(ei_node_attr_int(node, "start", 0, &s->start));
        s->has_end = ei_node_attr(node, "end") != NULL;
        EI_TRY(ei_node_attr_int(node, "end", 0, &s->end));
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static int64_t shape_clamp(int64_t v, int r) {
    if (v < 0) v += r;
    if (v < 0) v = 0;
    if (v > r) v = r;
    return v;
}

static ei_status shape_infer(ei_exec *ex, ei_node *node) {
    shape_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    int r = x->rank;
    /* start/end may be any int64: compare before adding r to avoid overflow. */
    int64_t b = s->start < -(int64_t)r ? 0 : shape_clamp(s->start, r);
    int64_t e = !s->has_end ? r : (s->end < -(int64_t)r ? 0 : shape_clamp(s->end, r));
    s->begin = (int)b;
    s->count = e > b ? (int)(e - b) : 0;
    int64_t dims[1] = {s->count};
    return ei_elem_set_out(node, y, EI_DTYPE_I64, 1, dims);
}

static ei_status shape_run(ei_exec *ex, ei_node *node) {
    const shape_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->count) memcpy(y->data, x->dims + s->begin, (size_t)s->count * sizeof(int64_t));
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_shape = {shape_prepare, shape_infer, shape_run, free, .dtypes = "any"};
