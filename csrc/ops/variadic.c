/*
 * variadic.c - Min, Max, Mean, Sum over 1..N inputs with multidirectional broadcasting.
 * The output is first filled with input 0 broadcast to the output's shape, then folded with
 * each further input in place (one broadcast plan per input, built at infer). Min/Max
 * propagate NaN like onnxruntime; Mean divides the float sum by N at the end.
 * Min/Max take float32, float64, float16 and 8 to 64-bit integers; Sum/Mean float32 and
 * float64.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef enum var_kind { VAR_MIN, VAR_MAX, VAR_MEAN, VAR_SUM } var_kind;

typedef struct var_state {
    var_kind kind;
    int n;          /* inputs */
    ei_bcast *plan; /* [n]: 0 = input 0 -> output copy; k = output (op)= input k */
} var_state;

static void var_free(void *p) {
    var_state *s = p;
    if (!s) return;
    free(s->plan);
    free(s);
}

static ei_status var_prepare_kind(ei_node *node, var_kind kind) {
    int n = node->n_inputs;
    if (n < 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "expected at least 1 input, got 0");
    for (int i = 0; i < n; i++)
        if (node->inputs[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input %d is missing", i);
    if (node->n_outputs != 1 || node->outputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "expected 1 output, got %d",
                             node->n_outputs);
    var_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->plan = calloc((size_t)n, sizeof *s->plan);
    if (!s->plan) {
        free(s);
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    s->kind = kind;
    s->n = n;
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status var_infer(ei_exec *ex, ei_node *node) {
    var_state *s = node->state;
    const ei_value *x0 = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK], tmp[EI_MAX_RANK];
    int rank = x0->rank;
    char b1[160], b2[160];
    bool ok = x0->dtype == EI_DTYPE_F32 || x0->dtype == EI_DTYPE_F64;
    if (s->kind == VAR_MIN || s->kind == VAR_MAX) {
        switch (x0->dtype) {
        case EI_DTYPE_F16:
        case EI_DTYPE_I8:
        case EI_DTYPE_U8:
        case EI_DTYPE_I16:
        case EI_DTYPE_U16:
        case EI_DTYPE_I32:
        case EI_DTYPE_U32:
        case EI_DTYPE_I64:
        case EI_DTYPE_U64: ok = true; break;
        default: break;
        }
    }
    if (!ok)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has dtype %s; supported: %s",
                             x0->name, ei_dtype_name(x0->dtype),
                             s->kind == VAR_MIN || s->kind == VAR_MAX
                                 ? "float32, float64, float16 and 8 to 64-bit integers"
                                 : "float32 and float64");
    memcpy(dims, x0->dims, sizeof dims);
    for (int k = 1; k < s->n; k++) {
        const ei_value *x = ei_node_in(ex, node, k);
        if (x->dtype != x0->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' has dtype %s, expected %s like input '%s'", x->name,
                                 ei_dtype_name(x->dtype), ei_dtype_name(x0->dtype), x0->name);
        int r;
        if (!ei_broadcast_shape(rank, dims, x->rank, x->dims, &r, tmp))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' %s cannot be broadcast with the others (%s so far)",
                                 x->name, ei_shape_str(x->rank, x->dims, b1, sizeof b1),
                                 ei_shape_str(rank, dims, b2, sizeof b2));
        rank = r;
        memcpy(dims, tmp, sizeof dims);
    }
    EI_CHECK(ei_elem_set_out(node, y, x0->dtype, rank, dims));
    ei_bcast_init(&s->plan[0], x0->rank, x0->dims, rank, dims, rank, dims);
    for (int k = 1; k < s->n; k++) {
        const ei_value *x = ei_node_in(ex, node, k);
        ei_bcast_init(&s->plan[k], rank, dims, x->rank, x->dims, rank, dims);
    }
    return EI_STATUS_OK;
}

typedef struct var_ctx {
    var_kind kind;
    ei_dtype dtype;
    const ei_bcast *bc;
    const void *x; /* step 0: input 0; else input k */
    void *y;
    bool copy;
} var_ctx;

/* Max/Min with NaN propagation (a NaN on either side wins) for floats. */
#define VAR_ROW(T, FLOAT)                                                                          \
    static void var_row_##T(const var_ctx *c, size_t aoff, size_t boff, size_t yoff, size_t n) {   \
        const ei_bcast *bc = c->bc;                                                                \
        size_t ia = (size_t)bc->sa[bc->rank - 1], ib = (size_t)bc->sb[bc->rank - 1];               \
        T *y = (T *)c->y + yoff;                                                                   \
        if (c->copy) {                                                                             \
            const T *x = (const T *)c->x + aoff;                                                   \
            for (size_t i = 0; i < n; i++)                                                         \
                y[i] = x[i * ia];                                                                  \
            return;                                                                                \
        }                                                                                          \
        (void)aoff;                                                                                \
        const T *x = (const T *)c->x + boff;                                                       \
        switch (c->kind) {                                                                         \
        case VAR_MAX:                                                                              \
            for (size_t i = 0; i < n; i++) {                                                       \
                T a = y[i], b = x[i * ib];                                                         \
                y[i] = (FLOAT && a != a) ? a : (FLOAT && b != b) ? b : a < b ? b : a;              \
            }                                                                                      \
            break;                                                                                 \
        case VAR_MIN:                                                                              \
            for (size_t i = 0; i < n; i++) {                                                       \
                T a = y[i], b = x[i * ib];                                                         \
                y[i] = (FLOAT && a != a) ? a : (FLOAT && b != b) ? b : b < a ? b : a;              \
            }                                                                                      \
            break;                                                                                 \
        default:                                                                                   \
            for (size_t i = 0; i < n; i++)                                                         \
                y[i] = (T)(y[i] + x[i * ib]);                                                      \
            break;                                                                                 \
        }                                                                                          \
    }

VAR_ROW(float, 1)
VAR_ROW(double, 1)
VAR_ROW(int8_t, 0)
VAR_ROW(uint8_t, 0)
VAR_ROW(int16_t, 0)
VAR_ROW(uint16_t, 0)
VAR_ROW(int32_t, 0)
VAR_ROW(uint32_t, 0)
VAR_ROW(int64_t, 0)
VAR_ROW(uint64_t, 0)

/* float16 Min/Max: compared as float32 (exact), the winner's bits copied; NaN propagates. */
static void var_row_f16(const var_ctx *c, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const ei_bcast *bc = c->bc;
    size_t ia = (size_t)bc->sa[bc->rank - 1], ib = (size_t)bc->sb[bc->rank - 1];
    uint16_t *y = (uint16_t *)c->y + yoff;
    if (c->copy) {
        const uint16_t *x = (const uint16_t *)c->x + aoff;
        for (size_t i = 0; i < n; i++)
            y[i] = x[i * ia];
        return;
    }
    const uint16_t *x = (const uint16_t *)c->x + boff;
    for (size_t i = 0; i < n; i++) {
        uint16_t ha = y[i], hb = x[i * ib];
        float a = ei_elem_f16_to_f32(ha), b = ei_elem_f16_to_f32(hb);
        bool take_b = a == a && (b != b || (c->kind == VAR_MAX ? a < b : b < a));
        y[i] = take_b ? hb : ha;
    }
}

static void var_row(void *arg, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const var_ctx *c = arg;
    switch (c->dtype) {
    case EI_DTYPE_F16: var_row_f16(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_F32: var_row_float(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_F64: var_row_double(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I8: var_row_int8_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U8: var_row_uint8_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I16: var_row_int16_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U16: var_row_uint16_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I32: var_row_int32_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U32: var_row_uint32_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I64: var_row_int64_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U64: var_row_uint64_t(c, aoff, boff, yoff, n); break;
    default: break;
    }
}

static ei_status var_run(ei_exec *ex, ei_node *node) {
    const var_state *s = node->state;
    ei_value *y = ei_node_out(ex, node, 0);
    size_t numel = ei_value_numel(y);
    if (numel == 0) return EI_STATUS_OK;
    for (int k = 0; k < s->n; k++) {
        const ei_value *x = ei_node_in(ex, node, k);
        var_ctx c = {s->kind, y->dtype, &s->plan[k], x->data, y->data, k == 0};
        ei_bcast_for_range(&s->plan[k], 0, numel, var_row, &c);
    }
    if (s->kind == VAR_MEAN) {
        if (y->dtype == EI_DTYPE_F32) {
            float *p = y->data, inv = (float)s->n;
            for (size_t i = 0; i < numel; i++)
                p[i] /= inv;
        } else {
            double *p = y->data, inv = (double)s->n;
            for (size_t i = 0; i < numel; i++)
                p[i] /= inv;
        }
    }
    return EI_STATUS_OK;
}

#define VAR_OP(id, KIND, DTYPES)                                                                   \
    static ei_status id##_prepare(ei_exec *ex, ei_node *node) {                                    \
        (void)ex;                                                                                  \
        return var_prepare_kind(node, KIND);                                                       \
    }                                                                                              \
    const ei_op_fns ei_op_fns_##id = {id##_prepare, var_infer, var_run, var_free, .dtypes = DTYPES};

VAR_OP(min, VAR_MIN, "float32 float64 float16 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
VAR_OP(max, VAR_MAX, "float32 float64 float16 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
VAR_OP(mean, VAR_MEAN, "float32 float64")
VAR_OP(sum, VAR_SUM, "float32 float64")
