/*
 * where.c - Where: y = cond ? x : y with three-way NumPy broadcasting, any fixed-size dtype
 * (elements are copied as 1/2/4/8-byte words). An odometer walks the output's outer dims;
 * the inner dim is a loop with per-input strides (0 where broadcast).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef struct where_state {
    int rank;
    int64_t dims[EI_MAX_RANK];
    int64_t st[3][EI_MAX_RANK]; /* element strides of cond, x, y per output dim */
    size_t numel;
} where_state;

static ei_status where_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 3, 3, 1));
    where_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status where_infer(ei_exec *ex, ei_node *node) {
    where_state *s = node->state;
    const ei_value *in[3] = {ei_node_in(ex, node, 0), ei_node_in(ex, node, 1),
                             ei_node_in(ex, node, 2)};
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t d1[EI_MAX_RANK];
    int r1;
    char b0[160], b1[160], b2[160];
    if (in[0]->dtype != EI_DTYPE_BOOL)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (condition) must be bool, got %s", in[0]->name,
                             ei_dtype_name(in[0]->dtype));
    if (in[1]->dtype != in[2]->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (%s) and '%s' (%s) must have the same dtype", in[1]->name,
                             ei_dtype_name(in[1]->dtype), in[2]->name, ei_dtype_name(in[2]->dtype));
    size_t es = ei_dtype_size(in[1]->dtype);
    if (es != 1 && es != 2 && es != 4 && es != 8)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             in[1]->name, ei_dtype_name(in[1]->dtype));
    if (!ei_broadcast_shape(in[0]->rank, in[0]->dims, in[1]->rank, in[1]->dims, &r1, d1) ||
        !ei_broadcast_shape(r1, d1, in[2]->rank, in[2]->dims, &s->rank, s->dims))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs '%s' %s, '%s' %s and '%s' %s cannot be broadcast", in[0]->name,
                             ei_shape_str(in[0]->rank, in[0]->dims, b0, sizeof b0), in[1]->name,
                             ei_shape_str(in[1]->rank, in[1]->dims, b1, sizeof b1), in[2]->name,
                             ei_shape_str(in[2]->rank, in[2]->dims, b2, sizeof b2));
    EI_CHECK(ei_elem_set_out(node, y, in[1]->dtype, s->rank, s->dims));
    for (int k = 0; k < 3; k++)
        ei_broadcast_strides(in[k]->rank, in[k]->dims, s->rank, s->dims, s->st[k]);
    s->numel = ei_value_numel(y);
    return EI_STATUS_OK;
}

#define WHERE_LOOP(T)                                                                              \
    do {                                                                                           \
        const T *px = x, *py = yv;                                                                 \
        T *po = out;                                                                               \
        for (size_t i = 0; i < inner; i++)                                                         \
            po[o + i] = c[oc + i * sc] ? px[ox + i * sx] : py[oy + i * sy];                        \
    } while (0)

static ei_status where_run(ei_exec *ex, ei_node *node) {
    const where_state *s = node->state;
    const ei_value *cv = ei_node_in(ex, node, 0), *xv = ei_node_in(ex, node, 1),
                   *yvv = ei_node_in(ex, node, 2);
    ei_value *ov = ei_node_out(ex, node, 0);
    if (s->numel == 0) return EI_STATUS_OK;
    const uint8_t *c = cv->data;
    const void *x = xv->data, *yv = yvv->data;
    void *out = ov->data;
    size_t es = ei_dtype_size(xv->dtype);
    int r = s->rank;
    size_t inner = r > 0 ? (size_t)s->dims[r - 1] : 1;
    size_t sc = r > 0 ? (size_t)s->st[0][r - 1] : 0, sx = r > 0 ? (size_t)s->st[1][r - 1] : 0,
           sy = r > 0 ? (size_t)s->st[2][r - 1] : 0;
    int64_t idx[EI_MAX_RANK] = {0};
    size_t oc = 0, ox = 0, oy = 0;
    for (size_t o = 0; o < s->numel; o += inner) {
        switch (es) {
        case 1: WHERE_LOOP(uint8_t); break;
        case 2: WHERE_LOOP(uint16_t); break;
        case 4: WHERE_LOOP(uint32_t); break;
        default: WHERE_LOOP(uint64_t); break;
        }
        for (int k = r - 2; k >= 0; k--) { /* odometer over the outer dims */
            idx[k]++;
            oc += (size_t)s->st[0][k];
            ox += (size_t)s->st[1][k];
            oy += (size_t)s->st[2][k];
            if (idx[k] < s->dims[k]) break;
            oc -= (size_t)s->st[0][k] * (size_t)s->dims[k];
            ox -= (size_t)s->st[1][k] * (size_t)s->dims[k];
            oy -= (size_t)s->st[2][k] * (size_t)s->dims[k];
            idx[k] = 0;
        }
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_where = {where_prepare, where_infer, where_run, free, .dtypes = "any"};
