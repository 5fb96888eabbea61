/*
 * quantize_linear.c - QuantizeLinear and DequantizeLinear (float32 <-> uint8/int8/uint16/
 * int16, and int32 -> float32 for DequantizeLinear) with per-tensor, per-axis (opset 13+)
 * and blocked (opset 21+, block_size) scales and zero points, opsets 10 to 25. Quantization
 * rounds half to even and saturates, as onnxruntime's reference path, in float32 arithmetic.
 * float8/int4/float4/int2 types (and float16 inputs or scales) are rejected as unsupported.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

enum { QL_PER_TENSOR = 0, QL_PER_AXIS = 1, QL_BLOCKED = 2 };

typedef struct ql_state {
    int dequant;
    int64_t axis_attr, block_size, output_dtype;
    /* infer */
    int mode;
    ei_dtype qtype; /* the quantized type (output of Q, input of DQ) */
    size_t outer, len, inner, nb; /* x viewed as [outer, len, inner]; nb blocks along len */
} ql_state;

static bool ql_qtype_ok(ei_dtype t, bool dequant) {
    return t == EI_DTYPE_U8 || t == EI_DTYPE_I8 || t == EI_DTYPE_U16 || t == EI_DTYPE_I16 ||
           (dequant && t == EI_DTYPE_I32);
}

static const char *ql_dtype_name(int64_t t) {
    switch (t) {
    case 17: return "float8e4m3fn";
    case 18: return "float8e4m3fnuz";
    case 19: return "float8e5m2";
    case 20: return "float8e5m2fnuz";
    case 21: return "uint4";
    case 22: return "int4";
    case 23: return "float4e2m1";
    default: return t >= 0 && t <= 16 ? ei_dtype_name((ei_dtype)t) : "unknown";
    }
}

static ei_status ql_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ql_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->dequant = strcmp(node->op_type, "DequantizeLinear") == 0;
    EI_TRY(ei_node_attr_int(node, "axis", 1, &s->axis_attr));
    EI_TRY(ei_node_attr_int(node, "block_size", 0, &s->block_size));
    EI_TRY(ei_node_attr_int(node, "output_dtype", 0, &s->output_dtype));
    int64_t precision = 0;
    EI_TRY(ei_node_attr_int(node, "precision", 0, &precision));
    if (precision != 0 && precision != EI_DTYPE_F32) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'precision' = %lld (%s); only float32 arithmetic is "
                           "supported",
                           (long long)precision, ql_dtype_name(precision));
        goto cleanup;
    }
    if (s->block_size < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'block_size' = %lld, expected a value >= 0",
                           (long long)s->block_size);
        goto cleanup;
    }
    if (s->output_dtype != 0) {
        bool ok = s->dequant ? s->output_dtype == EI_DTYPE_F32
                             : ql_qtype_ok((ei_dtype)s->output_dtype, false) &&
                                   s->output_dtype <= 16;
        if (!ok) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'output_dtype' = %lld (%s) is not supported; "
                               "%s",
                               (long long)s->output_dtype, ql_dtype_name(s->output_dtype),
                               s->dequant ? "only float32 is"
                                          : "only uint8, int8, uint16 and int16 are");
            goto cleanup;
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status ql_infer(ei_exec *ex, ei_node *node) {
    ql_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sc = ei_node_in(ex, node, 1);
    const ei_value *zp = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    ei_dtype qtype;
    if (s->dequant) {
        if (!ql_qtype_ok(x->dtype, true))
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input x '%s' has dtype %s; only uint8, int8, uint16, int16 "
                                 "and int32 are supported (float8 and int4 are not)",
                                 x->name, ql_dtype_name(x->dtype));
        qtype = x->dtype;
        if (zp && zp->dtype != x->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input x_zero_point '%s' has dtype %s, expected %s like x '%s'",
                                 zp->name, ei_dtype_name(zp->dtype), ei_dtype_name(x->dtype),
                                 x->name);
    } else {
        if (x->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input x '%s' has dtype %s; only float32 is supported", x->name,
                                 ei_dtype_name(x->dtype));
        qtype = zp ? zp->dtype : s->output_dtype ? (ei_dtype)s->output_dtype : EI_DTYPE_U8;
        if (zp && !ql_qtype_ok(zp->dtype, false))
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input y_zero_point '%s' has dtype %s; only uint8, int8, uint16 "
                                 "and int16 are supported (float8 and int4 are not)",
                                 zp->name, ql_dtype_name(zp->dtype));
        if (zp && s->output_dtype && s->output_dtype != zp->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute 'output_dtype' (%s) differs from y_zero_point '%s' "
                                 "(%s)",
                                 ql_dtype_name(s->output_dtype), zp->name,
                                 ei_dtype_name(zp->dtype));
    }
    if (sc->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input scale '%s' has dtype %s; only float32 is supported",
                             sc->name, ei_dtype_name(sc->dtype));
    if (zp && (zp->rank != sc->rank || memcmp(zp->dims, sc->dims, sizeof(int64_t) * (size_t)sc->rank)))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "zero point '%s' %s and scale '%s' %s must have the same shape",
                             zp->name, ei_shape_str(zp->rank, zp->dims, buf, sizeof buf),
                             sc->name, ei_shape_str(sc->rank, sc->dims, buf2, sizeof buf2));
    s->qtype = qtype;
    size_t sn = ei_value_numel(sc);
    s->outer = ei_value_numel(x);
    s->len = s->inner = 1;
    s->nb = 1;
    if ((sc->rank == 0 || (sc->rank == 1 && sn == 1)) && s->block_size == 0) {
        s->mode = QL_PER_TENSOR;
    } else {
        int axis;
        if (node->opset < 13)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "scale '%s' has shape %s; opset %d needs a scalar scale",
                                 sc->name, ei_shape_str(sc->rank, sc->dims, buf, sizeof buf),
                                 node->opset);
        if (x->rank == 0 || !ei_elem_norm_axis(s->axis_attr, x->rank, &axis))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute 'axis' = %lld is out of range for x '%s' of rank %d",
                                 (long long)s->axis_attr, x->name, x->rank);
        s->outer = 1;
        for (int i = 0; i < axis; i++) s->outer *= (size_t)x->dims[i];
        s->len = (size_t)x->dims[axis];
        for (int i = axis + 1; i < x->rank; i++) s->inner *= (size_t)x->dims[i];
        if (s->block_size == 0) {
            s->mode = QL_PER_AXIS;
            if (sc->rank != 1 || sc->dims[0] != x->dims[axis])
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "scale '%s' has shape %s; per-axis quantization along axis "
                                     "%d of x '%s' %s needs [%lld]",
                                     sc->name, ei_shape_str(sc->rank, sc->dims, buf, sizeof buf),
                                     axis, x->name, ei_shape_str(x->rank, x->dims, buf2, sizeof buf2),
                                     (long long)x->dims[axis]);
        } else {
            s->mode = QL_BLOCKED;
            int64_t nb = (x->dims[axis] + s->block_size - 1) / s->block_size;
            bool ok = sc->rank == x->rank;
            for (int i = 0; ok && i < x->rank; i++)
                ok = sc->dims[i] == (i == axis ? nb : x->dims[i]);
            if (!ok)
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "scale '%s' has shape %s, which does not match x '%s' %s "
                                     "with block_size %lld along axis %d",
                                     sc->name, ei_shape_str(sc->rank, sc->dims, buf, sizeof buf),
                                     x->name, ei_shape_str(x->rank, x->dims, buf2, sizeof buf2),
                                     (long long)s->block_size, axis);
            s->nb = (size_t)nb;
        }
    }
    if (qtype == EI_DTYPE_I32 && zp && ei_value_known(zp)) {
        const int32_t *z = zp->data;
        for (size_t i = 0; i < sn; i++)
            if (z[i] != 0)
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "x_zero_point '%s' must be 0 for int32 input", zp->name);
    }
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), s->dequant ? EI_DTYPE_F32 : qtype,
                           x->rank, x->dims);
}

static int32_t ql_load(ei_dtype t, const void *p, size_t i) {
    switch (t) {
    case EI_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EI_DTYPE_I8: return ((const int8_t *)p)[i];
    case EI_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EI_DTYPE_I16: return ((const int16_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

static void ql_range(ei_dtype t, float *lo, float *hi) {
    switch (t) {
    case EI_DTYPE_U8: *lo = 0.0f; *hi = 255.0f; break;
    case EI_DTYPE_I8: *lo = -128.0f; *hi = 127.0f; break;
    case EI_DTYPE_U16: *lo = 0.0f; *hi = 65535.0f; break;
    default: *lo = -32768.0f; *hi = 32767.0f; break;
    }
}

typedef struct ql_args {
    const ql_state *s;
    const void *x, *zp;
    const float *scale;
    void *y;
    size_t rows, n_tasks; /* rows = outer * len, each of inner elements */
} ql_args;

static void ql_task(void *arg, size_t task, int thread) {
    (void)thread;
    const ql_args *a = arg;
    const ql_state *s = a->s;
    size_t per = (a->rows + a->n_tasks - 1) / a->n_tasks;
    size_t r0 = per * task, r1 = r0 + per < a->rows ? r0 + per : a->rows;
    float lo = 0.0f, hi = 0.0f;
    if (!s->dequant) ql_range(s->qtype, &lo, &hi);
    for (size_t r = r0; r < r1; r++) {
        size_t o = r / s->len, l = r % s->len;
        size_t base = r * s->inner;
        for (size_t i = 0; i < s->inner; i++) {
            size_t pi = s->mode == QL_PER_TENSOR ? 0
                        : s->mode == QL_PER_AXIS ? l
                                                 : (o * s->nb + l / (size_t)s->block_size) * s->inner + i;
            float scale = a->scale[pi];
            int32_t z = a->zp ? ql_load(s->qtype, a->zp, pi) : 0;
            size_t e = base + i;
            if (s->dequant) {
                int64_t d = (int64_t)ql_load(s->qtype, a->x, e) - z;
                ((float *)a->y)[e] = (float)d * scale;
                continue;
            }
            float v = nearbyintf(((const float *)a->x)[e] / scale) + (float)z;
            if (v != v) v = (float)z; /* NaN: no defined quantized value; keep the zero point */
            v = v < lo ? lo : v > hi ? hi : v;
            switch (s->qtype) {
            case EI_DTYPE_U8: ((uint8_t *)a->y)[e] = (uint8_t)v; break;
            case EI_DTYPE_I8: ((int8_t *)a->y)[e] = (int8_t)v; break;
            case EI_DTYPE_U16: ((uint16_t *)a->y)[e] = (uint16_t)v; break;
            default: ((int16_t *)a->y)[e] = (int16_t)v; break;
            }
        }
    }
}

static ei_status ql_run(ei_exec *ex, ei_node *node) {
    const ql_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *zp = ei_node_in(ex, node, 2);
    ql_args a = {s, x->data, zp ? zp->data : NULL, ei_node_in(ex, node, 1)->data,
                 ei_node_out(ex, node, 0)->data, s->outer * s->len, 1};
    if (a.rows == 0 || s->inner == 0) return EI_STATUS_OK;
    size_t t = ei_elem_tasks(ex, a.rows * s->inner, 16384);
    a.n_tasks = t < a.rows ? t : a.rows;
    if (a.n_tasks <= 1) {
        a.n_tasks = 1;
        ql_task(&a, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, a.n_tasks, ql_task, &a);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_quantize_linear = {ql_prepare, ql_infer, ql_run, free};
const ei_op_fns ei_op_fns_dequantize_linear = {ql_prepare, ql_infer, ql_run, free};
