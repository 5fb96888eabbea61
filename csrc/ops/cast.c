/*
 * cast.c - Cast and CastLike between every fixed-size numeric dtype and bool, float16 and
 * bfloat16 included (round to nearest even, NaN kept quiet, overflow to inf). Each element
 * is loaded as a double, int64 or uint64 and stored from that, so every integer<->float
 * pair rounds once. Float -> integer: truncation; NaN and out-of-range values give what
 * x86-64 onnxruntime gives (see cast_to_int). float8 types (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ,
 * E8M0) go through ops/lowbit.c: rounded once from the exact value, with the saturate
 * attribute (opset 19+) and round_mode (opset 24+, E8M0) as onnx's reference defines them.
 * Packed int4/uint4/int2/uint2 convert like int8 and keep the low bits (as ml_dtypes);
 * float4e2m1 rounds to nearest even and always saturates. string is UNSUPPORTED.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/lowbit.h"

typedef struct cast_state {
    ei_dtype to; /* Cast: the 'to' attribute; CastLike: set at infer */
    bool saturate;
    ei_e8m0_round round_mode;
} cast_state;

static bool cast_dtype_ok(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_F16:
    case EI_DTYPE_BF16:
    case EI_DTYPE_I8:
    case EI_DTYPE_U8:
    case EI_DTYPE_I16:
    case EI_DTYPE_U16:
    case EI_DTYPE_I32:
    case EI_DTYPE_U32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U64:
    case EI_DTYPE_BOOL:
    case EI_DTYPE_F8E4M3FN:
    case EI_DTYPE_F8E4M3FNUZ:
    case EI_DTYPE_F8E5M2:
    case EI_DTYPE_F8E5M2FNUZ:
    case EI_DTYPE_F8E8M0:
    case EI_DTYPE_U4:
    case EI_DTYPE_I4:
    case EI_DTYPE_F4E2M1:
    case EI_DTYPE_U2:
    case EI_DTYPE_I2: return true;
    default: return false;
    }
}

static const char *cast_dtype_str(int64_t t) {
    switch (t) {
    case 8: return "string";
    default: return ei_dtype_name((ei_dtype)t);
    }
}

static ei_status cast_prepare_common(ei_node *node, bool like) {
    ei_status st = EI_STATUS_OK;
    cast_state *s = NULL;
    int64_t to = 0, saturate = 1;
    EI_TRY(ei_elem_check_io(node, like ? 2 : 1, like ? 2 : 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset >= 19) EI_TRY(ei_node_attr_int(node, "saturate", 1, &saturate));
    s->saturate = saturate != 0;
    s->round_mode = EI_E8M0_ROUND_UP;
    if (node->opset >= 24) {
        const char *rm = NULL;
        EI_TRY(ei_node_attr_string(node, "round_mode", "up", &rm));
        if (strcmp(rm, "up") == 0) {
            s->round_mode = EI_E8M0_ROUND_UP;
        } else if (strcmp(rm, "down") == 0) {
            s->round_mode = EI_E8M0_ROUND_DOWN;
        } else if (strcmp(rm, "nearest") == 0) {
            s->round_mode = EI_E8M0_ROUND_NEAREST;
        } else {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'round_mode' = '%s', expected 'up', 'down' or 'nearest'",
                               rm);
            goto cleanup;
        }
    }
    if (!like) {
        if (!ei_node_attr(node, "to")) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'to' is required");
            goto cleanup;
        }
        EI_TRY(ei_node_attr_int(node, "to", 0, &to));
        if (to < 0 || to > 0x7fffffff || !cast_dtype_ok((ei_dtype)to)) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'to' = %lld (%s): casts to this dtype are not supported",
                               (long long)to, cast_dtype_str(to));
            goto cleanup;
        }
        s->to = (ei_dtype)to;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status cast_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return cast_prepare_common(node, false);
}
static ei_status cast_like_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return cast_prepare_common(node, true);
}

static ei_status cast_infer(ei_exec *ex, ei_node *node) {
    cast_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    const ei_value *like = ei_node_in(ex, node, 1);
    if (like) {
        if (!cast_dtype_ok(like->dtype))
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input '%s' (target_type) has dtype %s; casts to it are not "
                                 "supported",
                                 like->name, cast_dtype_str(like->dtype));
        s->to = like->dtype;
    }
    if (!cast_dtype_ok(x->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; casts from it are not supported", x->name,
                             cast_dtype_str(x->dtype));
    return ei_elem_set_out(node, y, s->to, x->rank, x->dims);
}

/* ------------------------------------------------------ float16 / bfloat16 */

static uint16_t cast_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

static float cast_bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* ------------------------------------------------------------ conversions */

typedef enum cast_kind { CK_FLOAT, CK_SIGNED, CK_UNSIGNED } cast_kind;

typedef struct cast_val {
    cast_kind kind;
    double d;
    int64_t i;
    uint64_t u;
} cast_val;

static cast_val cast_load(ei_dtype t, const void *p, size_t i) {
    cast_val v = {CK_FLOAT, 0, 0, 0};
    switch (t) {
    case EI_DTYPE_F32: v.d = ((const float *)p)[i]; break;
    case EI_DTYPE_F64: v.d = ((const double *)p)[i]; break;
    case EI_DTYPE_F16: v.d = ei_elem_f16_to_f32(((const uint16_t *)p)[i]); break;
    case EI_DTYPE_BF16: v.d = cast_bf16_to_f32(((const uint16_t *)p)[i]); break;
    case EI_DTYPE_I8: v.kind = CK_SIGNED, v.i = ((const int8_t *)p)[i]; break;
    case EI_DTYPE_I16: v.kind = CK_SIGNED, v.i = ((const int16_t *)p)[i]; break;
    case EI_DTYPE_I32: v.kind = CK_SIGNED, v.i = ((const int32_t *)p)[i]; break;
    case EI_DTYPE_I64: v.kind = CK_SIGNED, v.i = ((const int64_t *)p)[i]; break;
    case EI_DTYPE_U8: v.kind = CK_UNSIGNED, v.u = ((const uint8_t *)p)[i]; break;
    case EI_DTYPE_U16: v.kind = CK_UNSIGNED, v.u = ((const uint16_t *)p)[i]; break;
    case EI_DTYPE_U32: v.kind = CK_UNSIGNED, v.u = ((const uint32_t *)p)[i]; break;
    case EI_DTYPE_U64: v.kind = CK_UNSIGNED, v.u = ((const uint64_t *)p)[i]; break;
    case EI_DTYPE_BOOL: v.kind = CK_UNSIGNED, v.u = ((const uint8_t *)p)[i] != 0; break;
    case EI_DTYPE_F8E8M0: v.d = ei_lowbit_e8m0_to_f64(((const uint8_t *)p)[i]); break;
    case EI_DTYPE_I4:
    case EI_DTYPE_I2: {
        unsigned bits = (unsigned)ei_dtype_bits(t);
        v.kind = CK_SIGNED, v.i = ei_lowbit_sext(ei_lowbit_get(p, i, bits), bits);
        break;
    }
    case EI_DTYPE_U4:
    case EI_DTYPE_U2: v.kind = CK_UNSIGNED, v.u = ei_lowbit_get(p, i, (unsigned)ei_dtype_bits(t)); break;
    case EI_DTYPE_F4E2M1: v.d = ei_lowbit_minifloat_to_f64(t, (uint8_t)ei_lowbit_get(p, i, 4)); break;
    default:
        if (ei_lowbit_is_minifloat(t)) v.d = ei_lowbit_minifloat_to_f64(t, ((const uint8_t *)p)[i]);
        break;
    }
    return v;
}

/* The value as float (one rounding from any integer). */
static float cast_as_f32(const cast_val *v) {
    return v->kind == CK_FLOAT ? (float)v->d : v->kind == CK_SIGNED ? (float)v->i : (float)v->u;
}

/*
 * The value as a 64-bit pattern for an integer destination of `bits` bits (the caller keeps
 * the low bits). Integers wrap. Floats truncate toward zero; NaN and values out of range give
 * what gcc/clang's conversions compile to on x86-64 (and so what onnxruntime's static_cast
 * produces there): 8/16/32-bit destinations go through a 32-bit cvtt (out of int32 range ->
 * INT32_MIN, whose low 8/16 bits are 0), int64 -> INT64_MIN; unsigned 32/64-bit ones convert
 * values >= 2^31 / 2^63 reduced by that power and set the top bit back (so NaN and negatives
 * out of range give 2^31 / 2^63, and values past the type's range 0).
 */
static uint64_t cast_to_int(const cast_val *v, ei_dtype dst) {
    if (v->kind == CK_SIGNED) return (uint64_t)v->i;
    if (v->kind == CK_UNSIGNED) return v->u;
    double d = v->d;
    switch (dst) {
    case EI_DTYPE_I8:
    case EI_DTYPE_U8:
    case EI_DTYPE_I16:
    case EI_DTYPE_U16:
    case EI_DTYPE_I32: return (uint64_t)(int64_t)ei_elem_f64_to_i32(d);
    case EI_DTYPE_U32:
        if (d >= 2147483648.0) return (uint32_t)ei_elem_f64_to_i32(d - 2147483648.0) ^ 0x80000000u;
        return (uint32_t)ei_elem_f64_to_i32(d);
    case EI_DTYPE_U64:
        if (d >= 9223372036854775808.0)
            return (uint64_t)ei_elem_f64_to_i64(d - 9223372036854775808.0) ^ 0x8000000000000000u;
        return (uint64_t)ei_elem_f64_to_i64(d);
    default: return (uint64_t)ei_elem_f64_to_i64(d);
    }
}

static double cast_as_f64(const cast_val *v) {
    return v->kind == CK_FLOAT ? v->d : v->kind == CK_SIGNED ? (double)v->i : (double)v->u;
}

/* Element i of a packed output. Elements are written in increasing order by one task, so
 * the first element of a byte writes the whole byte (no read of uninitialized memory). */
static void cast_store_packed(void *p, size_t i, unsigned bits, unsigned code) {
    unsigned per = 8u / bits;
    if (i % per == 0)
        ((uint8_t *)p)[i / per] = (uint8_t)(code & ((1u << bits) - 1u));
    else
        ei_lowbit_set(p, i, bits, code);
}

static void cast_store(const cast_state *s, ei_dtype t, void *p, size_t i, const cast_val *v) {
    switch (t) {
    case EI_DTYPE_F32: ((float *)p)[i] = cast_as_f32(v); break;
    case EI_DTYPE_F64:
        ((double *)p)[i] = v->kind == CK_FLOAT    ? v->d
                           : v->kind == CK_SIGNED ? (double)v->i
                                                  : (double)v->u;
        break;
    case EI_DTYPE_F16: ((uint16_t *)p)[i] = ei_elem_f32_to_f16(cast_as_f32(v)); break;
    case EI_DTYPE_BF16: ((uint16_t *)p)[i] = cast_f32_to_bf16(cast_as_f32(v)); break;
    case EI_DTYPE_BOOL:
        ((uint8_t *)p)[i] = v->kind == CK_FLOAT    ? v->d != 0
                            : v->kind == CK_SIGNED ? v->i != 0
                                                   : v->u != 0;
        break;
    case EI_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)(uint8_t)cast_to_int(v, t); break;
    case EI_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)cast_to_int(v, t); break;
    case EI_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)(uint16_t)cast_to_int(v, t); break;
    case EI_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)cast_to_int(v, t); break;
    case EI_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)cast_to_int(v, t); break;
    case EI_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)cast_to_int(v, t); break;
    case EI_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)cast_to_int(v, t); break;
    case EI_DTYPE_U64: ((uint64_t *)p)[i] = cast_to_int(v, t); break;
    case EI_DTYPE_U4:
    case EI_DTYPE_I4:
    case EI_DTYPE_U2:
    case EI_DTYPE_I2: /* like int8 (float truncated, integers wrap), low bits kept */
        cast_store_packed(p, i, (unsigned)ei_dtype_bits(t), (unsigned)cast_to_int(v, EI_DTYPE_I8));
        break;
    case EI_DTYPE_F4E2M1:
        cast_store_packed(p, i, 4, ei_lowbit_minifloat_from_f64(t, cast_as_f64(v), s->saturate));
        break;
    case EI_DTYPE_F8E8M0: /* onnx rounds from float32 */
        ((uint8_t *)p)[i] = ei_lowbit_e8m0_from_f32(cast_as_f32(v), s->saturate, s->round_mode);
        break;
    default:
        if (ei_lowbit_is_minifloat(t))
            ((uint8_t *)p)[i] = ei_lowbit_minifloat_from_f64(t, cast_as_f64(v), s->saturate);
        break;
    }
}

typedef struct cast_ctx {
    const cast_state *s;
    ei_dtype from, to;
    const void *x;
    void *y;
    size_t n, n_tasks;
} cast_ctx;

static void cast_span(const cast_ctx *c, size_t b, size_t e) {
    if (c->from == EI_DTYPE_F32 && c->to == EI_DTYPE_F16) { /* the common hot pair */
        const float *px = c->x;
        uint16_t *py = c->y;
        for (size_t i = b; i < e; i++)
            py[i] = ei_elem_f32_to_f16(px[i]);
        return;
    }
    for (size_t i = b; i < e; i++) {
        cast_val v = cast_load(c->from, c->x, i);
        cast_store(c->s, c->to, c->y, i, &v);
    }
}

static void cast_task(void *arg, size_t task, int thread) {
    (void)thread;
    const cast_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (b < e) cast_span(c, b, e);
}

static ei_status cast_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    size_t n = ei_value_numel(x);
    if (n == 0) return EI_STATUS_OK;
    /* Same type: a copy. 1-byte types take the element loop instead: bool is normalized to
     * 0/1, and same-type float8 casts still saturate (E5M2 inf -> max) or round through
     * float32 (E8M0 2^-127 -> 2^-126 with round_mode up), as onnx's reference does; packed
     * sub-byte types (size 0) too. */
    if (x->dtype == y->dtype && x->dtype != EI_DTYPE_BOOL && ei_dtype_size(x->dtype) > 1) {
        memcpy(y->data, x->data, y->nbytes);
        return EI_STATUS_OK;
    }
    cast_ctx c = {node->state, x->dtype, y->dtype, x->data, y->data, n, 1};
    /* A packed output is written by one task: tasks would share bytes at their edges. */
    c.n_tasks = ei_dtype_size(y->dtype) == 0 ? 1 : ei_elem_tasks(ex, n, 32768);
    if (c.n_tasks == 1)
        cast_span(&c, 0, n);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, cast_task, &c);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_cast = {cast_prepare, cast_infer, cast_run, free,
                                  .dtypes = "float32 float64 float16 bfloat16 int8 int16 int32 "
                                  "int64 uint8 uint16 uint32 uint64 bool float8e4m3fn "
                                  "float8e4m3fnuz float8e5m2 float8e5m2fnuz float8e8m0 int4 "
                                  "uint4 int2 uint2 float4e2m1"};
const ei_op_fns ei_op_fns_cast_like = {cast_like_prepare, cast_infer, cast_run, free,
                                       .dtypes = "float32 float64 float16 bfloat16 int8 int16 "
                                       "int32 int64 uint8 uint16 uint32 uint64 bool float8e4m3fn "
                                       "float8e4m3fnuz float8e5m2 float8e5m2fnuz float8e8m0 int4 "
                                       "uint4 int2 uint2 float4e2m1"};
