/*
 * arg_max.c - ArgMax and ArgMin along one axis (keepdims, select_last_index from opset
 * 12), int64 indices out, float32/float64/int32/int64/uint8 in. The input is viewed as
 * [outer, len, inner]; for inner > 1 the output row doubles as the running index, so
 * the scan stays contiguous. Ties keep the first (or, with select_last_index, the last)
 * position; a NaN wins over numbers like NumPy's argmax.
 */
#include <math.h>
#include <stdlib.h>

#include "ops/elem_util.h"

typedef struct arg_state {
    bool is_max;
    int64_t axis, keepdims, last;
    size_t outer, len, inner;
} arg_state;

static ei_status arg_prepare_kind(ei_node *node, bool is_max) {
    ei_status st = EI_STATUS_OK;
    arg_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->is_max = is_max;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis));
    EI_TRY(ei_node_attr_int(node, "keepdims", 1, &s->keepdims));
    EI_TRY(ei_node_attr_int(node, "select_last_index", 0, &s->last));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status arg_max_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return arg_prepare_kind(node, true);
}
static ei_status arg_min_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return arg_prepare_kind(node, false);
}

static ei_status arg_infer(ei_exec *ex, ei_node *node) {
    arg_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    int axis;
    switch (x->dtype) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U8: break;
    default:
        return ei_node_error(
            node, EI_STATUS_UNSUPPORTED,
            "input '%s' has dtype %s; supported: float32, float64, int32, int64, uint8", x->name,
            ei_dtype_name(x->dtype));
    }
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis, x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis, x->name, x->rank);
    if (x->dims[axis] == 0)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' has size 0 along axis %d: no element to select", x->name,
                             axis);
    int64_t od[EI_MAX_RANK];
    int orank = 0;
    s->outer = s->inner = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= (size_t)x->dims[i];
        if (i > axis) s->inner *= (size_t)x->dims[i];
        if (i != axis)
            od[orank++] = x->dims[i];
        else if (s->keepdims)
            od[orank++] = 1;
    }
    s->len = (size_t)x->dims[axis];
    return ei_elem_set_out(node, y, EI_DTYPE_I64, orank, od);
}

/* better(v, b): v replaces the current best b. NaN beats numbers (first NaN kept unless
 * select_last_index). */
#define ARG_IMPL(NAME, T, ISNAN)                                                                   \
    static void NAME(const arg_state *s, const T *x, int64_t *y) {                                 \
        bool mx = s->is_max, last = s->last != 0;                                                  \
        if (s->inner == 1) { /* contiguous rows: keep the best value in a register */              \
            for (size_t o = 0; o < s->outer; o++) {                                                \
                const T *xo = x + o * s->len;                                                      \
                T b = xo[0];                                                                       \
                size_t bi = 0;                                                                     \
                for (size_t r = 1; r < s->len; r++) {                                              \
                    T v = xo[r];                                                                   \
                    bool take;                                                                     \
                    if (ISNAN(b))                                                                  \
                        take = last && ISNAN(v);                                                   \
                    else if (ISNAN(v))                                                             \
                        take = true;                                                               \
                    else                                                                           \
                        take = mx ? (v > b || (last && v == b)) : (v < b || (last && v == b));     \
                    if (take) {                                                                    \
                        b = v;                                                                     \
                        bi = r;                                                                    \
                    }                                                                              \
                }                                                                                  \
                y[o] = (int64_t)bi;                                                                \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (size_t o = 0; o < s->outer; o++) {                                                    \
            const T *xo = x + o * s->len * s->inner;                                               \
            int64_t *yo = y + o * s->inner;                                                        \
            for (size_t j = 0; j < s->inner; j++)                                                  \
                yo[j] = 0;                                                                         \
            for (size_t r = 1; r < s->len; r++) {                                                  \
                const T *row = xo + r * s->inner;                                                  \
                for (size_t j = 0; j < s->inner; j++) {                                            \
                    T v = row[j], b = xo[(size_t)yo[j] * s->inner + j];                            \
                    bool take;                                                                     \
                    if (ISNAN(b))                                                                  \
                        take = last && ISNAN(v);                                                   \
                    else if (ISNAN(v))                                                             \
                        take = true;                                                               \
                    else                                                                           \
                        take = mx ? (v > b || (last && v == b)) : (v < b || (last && v == b));     \
                    if (take) yo[j] = (int64_t)r;                                                  \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

#define ARG_NEVER_NAN(v) ((void)(v), false)
#define ARG_ISNAN(v) ((v) != (v))
ARG_IMPL(arg_f32, float, ARG_ISNAN)
ARG_IMPL(arg_f64, double, ARG_ISNAN)
ARG_IMPL(arg_i32, int32_t, ARG_NEVER_NAN)
ARG_IMPL(arg_i64, int64_t, ARG_NEVER_NAN)
ARG_IMPL(arg_u8, uint8_t, ARG_NEVER_NAN)

static ei_status arg_run(ei_exec *ex, ei_node *node) {
    const arg_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->outer == 0 || s->inner == 0) return EI_STATUS_OK;
    switch (x->dtype) {
    case EI_DTYPE_F32: arg_f32(s, x->data, y->data); break;
    case EI_DTYPE_F64: arg_f64(s, x->data, y->data); break;
    case EI_DTYPE_I32: arg_i32(s, x->data, y->data); break;
    case EI_DTYPE_I64: arg_i64(s, x->data, y->data); break;
    case EI_DTYPE_U8: arg_u8(s, x->data, y->data); break;
    default: break;
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_arg_max = {arg_max_prepare, arg_infer, arg_run, free,
                                     .dtypes = "float32 float64 int32 int64 uint8"};
const ei_op_fns ei_op_fns_arg_min = {arg_min_prepare, arg_infer, arg_run, free,
                                     .dtypes = "float32 float64 int32 int64 uint8"};
