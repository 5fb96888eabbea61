/*
 * quantize_linear.c - QuantizeLinear and DequantizeLinear (float32 <-> uint8/int8/uint16/
 * int16, and int32 -> float32 for DequantizeLinear) with per-tensor, per-axis (opset 13+)
 * and blocked (opset 21+, block_size) scales and zero points, opsets 10 to 25. Quantization
 * rounds half to even and saturates, as onnxruntime's reference path, in float32 arithmetic.
 * float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) quantized values (opset 19+): x / scale rounded
 * to the float8 type (saturating unless saturate=0); their zero point is ignored, as in onnx's
 * reference (it must be 0). Packed int4/uint4/int2/uint2 quantize like the byte types;
 * float4e2m1: Q rounds x / scale + zero point to float4 (saturating), DQ ignores the zero
 * point, both as onnx's reference. float16 scales only in DequantizeLinear.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/lowbit.h"

enum { QL_PER_TENSOR = 0, QL_PER_AXIS = 1, QL_BLOCKED = 2 };

typedef struct ql_state {
    int dequant;
    bool saturate;
    bool scale_f16;  /* DequantizeLinear: float16 scale */
    ei_dtype y_dtype; /* DequantizeLinear: float32 or float16 output */
    int64_t axis_attr, block_size, output_dtype;
    /* infer */
    int mode;
    ei_dtype qtype; /* the quantized type (output of Q, input of DQ) */
    size_t outer, len, inner, nb; /* x viewed as [outer, len, inner]; nb blocks along len */
} ql_state;

static bool ql_is_f8(ei_dtype t) {
    return t == EI_DTYPE_F8E4M3FN || t == EI_DTYPE_F8E4M3FNUZ || t == EI_DTYPE_F8E5M2 ||
           t == EI_DTYPE_F8E5M2FNUZ;
}

static bool ql_qtype_ok(ei_dtype t, bool dequant) {
    return t == EI_DTYPE_U8 || t == EI_DTYPE_I8 || t == EI_DTYPE_U16 || t == EI_DTYPE_I16 ||
           (dequant && t == EI_DTYPE_I32) || ql_is_f8(t) || t == EI_DTYPE_U4 ||
           t == EI_DTYPE_I4 || t == EI_DTYPE_U2 || t == EI_DTYPE_I2 || t == EI_DTYPE_F4E2M1;
}

static const char *ql_dtype_name(int64_t t) {
    switch (t) {
    default: return t >= 0 && t <= 26 ? ei_dtype_name((ei_dtype)t) : "unknown";
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
    int64_t saturate = 1;
    if (!s->dequant && node->opset >= 19) EI_TRY(ei_node_attr_int(node, "saturate", 1, &saturate));
    s->saturate = saturate != 0;
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
        bool ok = s->dequant ? s->output_dtype == EI_DTYPE_F32 || s->output_dtype == EI_DTYPE_F16
                             : s->output_dtype <= 24 &&
                                   ql_qtype_ok((ei_dtype)s->output_dtype, false);
        if (!ok) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'output_dtype' = %lld (%s) is not supported; "
                               "%s",
                               (long long)s->output_dtype, ql_dtype_name(s->output_dtype),
                               s->dequant ? "only float32 and float16 are"
                                          : "only uint8, int8, uint16, int16, float8, float4, int4/uint4 and "
                                            "int2/uint2 are");
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
                                 "input x '%s' has dtype %s; only uint8, int8, uint16, int16, "
                                 "int32, float8, float4, int4/uint4 and int2/uint2 are supported",
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
                                 "input y_zero_point '%s' has dtype %s; only uint8, int8, uint16, "
                                 "int16, float8, float4, int4/uint4 and int2/uint2 are supported",
                                 zp->name, ql_dtype_name(zp->dtype));
        if (zp && s->output_dtype && s->output_dtype != zp->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute 'output_dtype' (%s) differs from y_zero_point '%s' "
                                 "(%s)",
                                 ql_dtype_name(s->output_dtype), zp->name,
                                 ei_dtype_name(zp->dtype));
    }
    if (sc->dtype != EI_DTYPE_F32 && !(s->dequant && sc->dtype == EI_DTYPE_F16))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input scale '%s' has dtype %s; only float32 is supported%s",
                             sc->name, ei_dtype_name(sc->dtype),
                             s->dequant ? " (and float16 for DequantizeLinear)" : "");
    s->scale_f16 = sc->dtype == EI_DTYPE_F16;
    s->y_dtype = s->output_dtype ? (ei_dtype)s->output_dtype : sc->dtype;
    /* A scalar and a one-element vector both mean per-tensor (onnx's tests mix them). */
    bool both_single = zp && zp->rank <= 1 && sc->rank <= 1 && ei_value_numel(zp) == 1 &&
                       ei_value_numel(sc) == 1;
    if (zp && !both_single &&
        (zp->rank != sc->rank || memcmp(zp->dims, sc->dims, sizeof(int64_t) * (size_t)sc->rank)))
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
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), s->dequant ? s->y_dtype : qtype,
                           x->rank, x->dims);
}

static int32_t ql_load(ei_dtype t, const void *p, size_t i) {
    switch (t) {
    case EI_DTYPE_U4: return (int32_t)ei_lowbit_get(p, i, 4);
    case EI_DTYPE_I4: return ei_lowbit_sext(ei_lowbit_get(p, i, 4), 4);
    case EI_DTYPE_U2: return (int32_t)ei_lowbit_get(p, i, 2);
    case EI_DTYPE_I2: return ei_lowbit_sext(ei_lowbit_get(p, i, 2), 2);
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
    case EI_DTYPE_U4: *lo = 0.0f; *hi = 15.0f; break;
    case EI_DTYPE_I4: *lo = -8.0f; *hi = 7.0f; break;
    case EI_DTYPE_U2: *lo = 0.0f; *hi = 3.0f; break;
    case EI_DTYPE_I2: *lo = -2.0f; *hi = 1.0f; break;
    default: *lo = -32768.0f; *hi = 32767.0f; break;
    }
}

static inline void ql_store_y(const ql_state *s, void *y, size_t e, float v) {
    if (s->y_dtype == EI_DTYPE_F16)
        ((uint16_t *)y)[e] = ei_elem_f32_to_f16(v);
    else
        ((float *)y)[e] = v;
}

/* Element e of a packed output; one task writes elements in increasing order, so the first
 * element of a byte writes the whole byte. */
static inline void ql_store_packed(void *y, size_t e, unsigned bits, unsigned code) {
    unsigned per = 8u / bits;
    if (e % per == 0)
        ((uint8_t *)y)[e / per] = (uint8_t)(code & ((1u << bits) - 1u));
    else
        ei_lowbit_set(y, e, bits, code);
}

typedef struct ql_args {
    const ql_state *s;
    const void *x, *zp;
    const void *scale;
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
    bool f8 = ql_is_f8(s->qtype), f4 = s->qtype == EI_DTYPE_F4E2M1;
    unsigned bits = (unsigned)ei_dtype_bits(s->qtype);
    if (!s->dequant && !f8 && !f4) ql_range(s->qtype, &lo, &hi);
    for (size_t r = r0; r < r1; r++) {
        size_t o = r / s->len, l = r % s->len;
        size_t base = r * s->inner;
        for (size_t i = 0; i < s->inner; i++) {
            size_t pi = s->mode == QL_PER_TENSOR ? 0
                        : s->mode == QL_PER_AXIS ? l
                                                 : (o * s->nb + l / (size_t)s->block_size) * s->inner + i;
            float scale = s->scale_f16 ? ei_elem_f16_to_f32(((const uint16_t *)a->scale)[pi])
                                       : ((const float *)a->scale)[pi];
            size_t e = base + i;
            if (f8) { /* zero point ignored (must be 0), as in onnx's reference */
                if (s->dequant) {
                    ql_store_y(s, a->y, e,
                               (float)ei_lowbit_minifloat_to_f64(s->qtype, ((const uint8_t *)a->x)[e]) *
                                   scale);
                } else {
                    float q = ((const float *)a->x)[e] / scale;
                    ((uint8_t *)a->y)[e] = ei_lowbit_minifloat_from_f64(s->qtype, q, s->saturate);
                }
                continue;
            }
            if (f4) { /* as onnx's reference: Q adds the (float4) zero point, DQ ignores it */
                if (s->dequant) {
                    unsigned c = ei_lowbit_get(a->x, e, 4);
                    ql_store_y(s, a->y, e, (float)ei_lowbit_minifloat_to_f64(s->qtype, (uint8_t)c) * scale);
                } else {
                    float z = a->zp ? (float)ei_lowbit_minifloat_to_f64(
                                          s->qtype, (uint8_t)ei_lowbit_get(a->zp, pi, 4))
                                    : 0.0f;
                    float q = ((const float *)a->x)[e] / scale + z;
                    ql_store_packed(a->y, e, 4, ei_lowbit_minifloat_from_f64(s->qtype, q, true));
                }
                continue;
            }
            int32_t z = a->zp ? ql_load(s->qtype, a->zp, pi) : 0;
            if (s->dequant) {
                int64_t d = (int64_t)ql_load(s->qtype, a->x, e) - z;
                ql_store_y(s, a->y, e, (float)d * scale);
                continue;
            }
            float v = nearbyintf(((const float *)a->x)[e] / scale) + (float)z;
            if (v != v) v = (float)z; /* NaN: no defined quantized value; keep the zero point */
            v = v < lo ? lo : v > hi ? hi : v;
            switch (s->qtype) {
            case EI_DTYPE_U8: ((uint8_t *)a->y)[e] = (uint8_t)v; break;
            case EI_DTYPE_I8: ((int8_t *)a->y)[e] = (int8_t)v; break;
            case EI_DTYPE_U16: ((uint16_t *)a->y)[e] = (uint16_t)v; break;
            case EI_DTYPE_I16: ((int16_t *)a->y)[e] = (int16_t)v; break;
            default: ql_store_packed(a->y, e, bits, (unsigned)(int32_t)v); break; /* 4/2-bit */
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
    /* A packed output is written by one task: tasks would share bytes at their edges. */
    if (!s->dequant && ei_dtype_size(s->qtype) == 0) a.n_tasks = 1;
    if (a.n_tasks <= 1) {
        a.n_tasks = 1;
        ql_task(&a, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, a.n_tasks, ql_task, &a);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_quantize_linear = {ql_prepare, ql_infer, ql_run, free,
                                             .dtypes = "float32"};
const ei_op_fns ei_op_fns_dequantize_linear = {ql_prepare, ql_infer, ql_run, free,
                                               .dtypes = "int8 uint8 int16 uint16 int32 "
                                               "float8e4m3fn float8e4m3fnuz float8e5m2 "
                                               "float8e5m2fnuz int4 uint4 int2 uint2 float4e2m1"};
