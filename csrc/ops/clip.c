/*
 * clip.c - Clip: y = min(max(x, min), max). Opset 6 takes min/max as float attributes;
 * opset 11+ as optional scalar inputs: read at infer when known (constants, shape
 * arithmetic), else read from the fed tensor in run. float32 uses the clamp kernel; float64 and
 * 8/32/64-bit integers (opset 12+) use plain loops. When min > max every output is max, as ONNX
 * specifies.
 */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct clip_state {
    float attr_min, attr_max; /* opset < 11 */
    /* Bounds resolved at infer, in the representation the input's dtype uses. */
    float lo_f, hi_f;
    double lo_d, hi_d;
    int64_t lo_i, hi_i;
    bool at_run[3]; /* inputs 1 (min) / 2 (max) are read in run (not known at infer) */
} clip_state;

static ei_status clip_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    clip_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, node->opset < 11 ? 1 : 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset < 11) {
        EI_TRY(ei_node_attr_float(node, "min", -FLT_MAX, &s->attr_min));
        EI_TRY(ei_node_attr_float(node, "max", FLT_MAX, &s->attr_max));
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static bool clip_dtype_ok(ei_dtype t, int opset) {
    if (t == EI_DTYPE_F32) return true;
    if (opset < 11) return false;
    if (t == EI_DTYPE_F64) return true;
    if (opset < 12) return false;
    return t == EI_DTYPE_I8 || t == EI_DTYPE_U8 || t == EI_DTYPE_I32 || t == EI_DTYPE_I64;
}

/* Stores the scalar bound v (input i: 1 = min, 2 = max) into s's field for its dtype. */
static void clip_load_bound(const ei_value *v, int i, clip_state *s) {
    const void *p = v->data;
    switch (v->dtype) {
    case EI_DTYPE_F32: {
        float f;
        memcpy(&f, p, sizeof f);
        *(i == 1 ? &s->lo_f : &s->hi_f) = f;
        break;
    }
    case EI_DTYPE_F64: {
        double d;
        memcpy(&d, p, sizeof d);
        *(i == 1 ? &s->lo_d : &s->hi_d) = d;
        break;
    }
    case EI_DTYPE_I8: *(i == 1 ? &s->lo_i : &s->hi_i) = *(const int8_t *)p; break;
    case EI_DTYPE_U8: *(i == 1 ? &s->lo_i : &s->hi_i) = *(const uint8_t *)p; break;
    case EI_DTYPE_I32: {
        int32_t t;
        memcpy(&t, p, sizeof t);
        *(i == 1 ? &s->lo_i : &s->hi_i) = t;
        break;
    }
    case EI_DTYPE_I64: {
        int64_t t;
        memcpy(&t, p, sizeof t);
        *(i == 1 ? &s->lo_i : &s->hi_i) = t;
        break;
    }
    default: break;
    }
}

/* Validates bound input i if present; reads it now when known, else marks it for run. */
static ei_status clip_check_bound(ei_exec *ex, ei_node *node, clip_state *s, int i) {
    const ei_value *x = ei_node_in(ex, node, 0), *v = ei_node_in(ex, node, i);
    const char *what = i == 1 ? "min" : "max";
    s->at_run[i] = false;
    if (!v) return EI_STATUS_OK;
    if (v->dtype != x->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s) has dtype %s, expected %s like input '%s'", v->name,
                             what, ei_dtype_name(v->dtype), ei_dtype_name(x->dtype), x->name);
    if (ei_value_numel(v) != 1)
        return ei_node_error(
            node, ei_value_known(v) ? EI_STATUS_INVALID_MODEL : EI_STATUS_INVALID_ARGUMENT,
            "input '%s' (%s) must be a scalar, got %zu elements", v->name, what, ei_value_numel(v));
    if (ei_value_known(v) && v->nbytes >= ei_dtype_size(v->dtype))
        clip_load_bound(v, i, s);
    else
        s->at_run[i] = true;
    return EI_STATUS_OK;
}

static ei_status clip_infer(ei_exec *ex, ei_node *node) {
    clip_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    if (!clip_dtype_ok(x->dtype, node->opset))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s, not supported by Clip-%d", x->name,
                             ei_dtype_name(x->dtype), node->opset);
    if (node->opset < 11) {
        s->lo_f = s->attr_min;
        s->hi_f = s->attr_max;
    } else {
        s->lo_f = -FLT_MAX;
        s->hi_f = FLT_MAX;
        s->lo_d = -DBL_MAX;
        s->hi_d = DBL_MAX;
        switch (x->dtype) {
        case EI_DTYPE_I8: s->lo_i = INT8_MIN, s->hi_i = INT8_MAX; break;
        case EI_DTYPE_U8: s->lo_i = 0, s->hi_i = UINT8_MAX; break;
        case EI_DTYPE_I32: s->lo_i = INT32_MIN, s->hi_i = INT32_MAX; break;
        default: s->lo_i = INT64_MIN, s->hi_i = INT64_MAX; break;
        }
        EI_CHECK(clip_check_bound(ex, node, s, 1));
        EI_CHECK(clip_check_bound(ex, node, s, 2));
    }
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

typedef struct clip_ctx {
    const ei_kernel_table *k;
    const float *x;
    float *y;
    float lo, hi;
    size_t n, n_tasks;
} clip_ctx;

static void clip_task(void *arg, size_t task, int thread) {
    (void)thread;
    const clip_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (b < e) c->k->f32_clamp(e - b, c->x + b, c->lo, c->hi, c->y + b);
}

#define EI_CLIP_LOOP(T, LO, HI)                                                                    \
    do {                                                                                           \
        const T *xp = x->data;                                                                     \
        T *yp = y->data;                                                                           \
        const T lo = (T)(LO), hi = (T)(HI);                                                        \
        for (size_t i = 0; i < n; i++) {                                                           \
            T v = xp[i] < lo ? lo : xp[i];                                                         \
            yp[i] = v > hi ? hi : v;                                                               \
        }                                                                                          \
    } while (0)

static ei_status clip_run(ei_exec *ex, ei_node *node) {
    clip_state bounds = *(const clip_state *)node->state; /* run does not write the state */
    const clip_state *s = &bounds;
    const ei_value *x = ei_node_in(ex, node, 0);
    for (int i = 1; i <= 2; i++)
        if (bounds.at_run[i]) clip_load_bound(ei_node_in(ex, node, i), i, &bounds);
    ei_value *y = ei_node_out(ex, node, 0);
    size_t n = ei_value_numel(x);
    if (n == 0) return EI_STATUS_OK;
    switch (x->dtype) {
    case EI_DTYPE_F32: {
        clip_ctx c = {ei_kernels(), x->data, y->data, s->lo_f, s->hi_f, n, 1};
        c.n_tasks = ei_elem_tasks(ex, n, 32768);
        if (c.n_tasks == 1)
            clip_task(&c, 0, 0);
        else
            ei_threadpool_run(ex->pool, c.n_tasks, clip_task, &c);
        break;
    }
    case EI_DTYPE_F64: {
        /* NaN propagates like the float32 kernel: comparisons with NaN are false. */
        EI_CLIP_LOOP(double, s->lo_d, s->hi_d);
        break;
    }
    case EI_DTYPE_I8: EI_CLIP_LOOP(int8_t, s->lo_i, s->hi_i); break;
    case EI_DTYPE_U8: EI_CLIP_LOOP(uint8_t, s->lo_i, s->hi_i); break;
    case EI_DTYPE_I32: EI_CLIP_LOOP(int32_t, s->lo_i, s->hi_i); break;
    case EI_DTYPE_I64: EI_CLIP_LOOP(int64_t, s->lo_i, s->hi_i); break;
    default:
        return ei_node_error(node, EI_STATUS_INTERNAL, "unexpected dtype %s",
                             ei_dtype_name(x->dtype));
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_clip = {clip_prepare, clip_infer, clip_run, free,
                                  .dtypes = "float32 float64 int8 uint8 int32 int64"};
