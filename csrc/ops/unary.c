/*
 * unary.c - one-input elementwise math: Abs Neg Exp Log Sqrt Reciprocal Floor Ceil Round
 * Sign Erf, the trigonometric and hyperbolic functions and their inverses, and Not.
 * float32 and float64 use libm (Round is half to even via rint in the default rounding
 * mode) except float32 Exp and Erf, which use the f32_exp / f32_erf kernels; Abs, Neg and
 * Sign also take 8 to 64-bit integers (wrapping, so Abs/Neg of the minimum stay the
 * minimum as in onnxruntime); Not takes bool. Activations live elsewhere.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef enum un_kind {
    UN_ABS,
    UN_NEG,
    UN_SIGN, /* also integers */
    UN_EXP,
    UN_LOG,
    UN_SQRT,
    UN_RECIP,
    UN_FLOOR,
    UN_CEIL,
    UN_ROUND,
    UN_ERF,
    UN_SIN,
    UN_COS,
    UN_TAN,
    UN_ASIN,
    UN_ACOS,
    UN_ATAN,
    UN_SINH,
    UN_COSH,
    UN_ASINH,
    UN_ACOSH,
    UN_ATANH,
    UN_NOT
} un_kind;

typedef struct un_state {
    un_kind kind;
} un_state;

static ei_status un_prepare_kind(ei_node *node, un_kind kind) {
    EI_CHECK(ei_elem_check_io(node, 1, 1, 1));
    un_state *s = malloc(sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->kind = kind;
    node->state = s;
    return EI_STATUS_OK;
}

static bool un_is_int(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_I8:
    case EI_DTYPE_U8:
    case EI_DTYPE_I16:
    case EI_DTYPE_U16:
    case EI_DTYPE_I32:
    case EI_DTYPE_U32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U64: return true;
    default: return false;
    }
}

static ei_status un_infer(ei_exec *ex, ei_node *node) {
    const un_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    bool ok;
    const char *what;
    if (s->kind == UN_NOT) {
        ok = x->dtype == EI_DTYPE_BOOL;
        what = "bool";
    } else if (s->kind == UN_ABS || s->kind == UN_SIGN) {
        ok = x->dtype == EI_DTYPE_F32 || x->dtype == EI_DTYPE_F64 || un_is_int(x->dtype);
        what = "float32, float64 and 8 to 64-bit integers";
    } else if (s->kind == UN_NEG) {
        ok = x->dtype == EI_DTYPE_F32 || x->dtype == EI_DTYPE_F64 || x->dtype == EI_DTYPE_I8 ||
             x->dtype == EI_DTYPE_I16 || x->dtype == EI_DTYPE_I32 || x->dtype == EI_DTYPE_I64;
        what = "float32, float64 and signed integers";
    } else {
        ok = x->dtype == EI_DTYPE_F32 || x->dtype == EI_DTYPE_F64;
        what = "float32 and float64";
    }
    if (!ok)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has dtype %s; supported: %s",
                             x->name, ei_dtype_name(x->dtype), what);
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

/* Float loops: the switch is outside the loop so each loop is a tight libm call. */
#define UN_LOOP(EXPR)                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
        un_t v = x[i];                                                                             \
        y[i] = (EXPR);                                                                             \
    }                                                                                              \
    break

#define UN_FLOAT_FN(NAME, T, S)                                                                    \
    static void NAME(un_kind k, const T *x, T *y, size_t n) {                                      \
        typedef T un_t;                                                                            \
        switch (k) {                                                                               \
        case UN_ABS: UN_LOOP(fabs##S(v));                                                          \
        case UN_NEG: UN_LOOP(-v);                                                                  \
        case UN_SIGN: UN_LOOP(v > 0 ? (T)1 : v < 0 ? (T) - 1 : v); /* 0 and NaN pass through */    \
        case UN_EXP: UN_LOOP(exp##S(v));                                                           \
        case UN_LOG: UN_LOOP(log##S(v));                                                           \
        case UN_SQRT: UN_LOOP(sqrt##S(v));                                                         \
        case UN_RECIP: UN_LOOP((T)1 / v);                                                          \
        case UN_FLOOR: UN_LOOP(floor##S(v));                                                       \
        case UN_CEIL: UN_LOOP(ceil##S(v));                                                         \
        case UN_ROUND: UN_LOOP(rint##S(v)); /* default mode: nearest, ties to even */              \
        case UN_ERF: UN_LOOP(erf##S(v));                                                           \
        case UN_SIN: UN_LOOP(sin##S(v));                                                           \
        case UN_COS: UN_LOOP(cos##S(v));                                                           \
        case UN_TAN: UN_LOOP(tan##S(v));                                                           \
        case UN_ASIN: UN_LOOP(asin##S(v));                                                         \
        case UN_ACOS: UN_LOOP(acos##S(v));                                                         \
        case UN_ATAN: UN_LOOP(atan##S(v));                                                         \
        case UN_SINH: UN_LOOP(sinh##S(v));                                                         \
        case UN_COSH: UN_LOOP(cosh##S(v));                                                         \
        case UN_ASINH: UN_LOOP(asinh##S(v));                                                       \
        case UN_ACOSH: UN_LOOP(acosh##S(v));                                                       \
        case UN_ATANH: UN_LOOP(atanh##S(v));                                                       \
        case UN_NOT: break;                                                                        \
        }                                                                                          \
    }

UN_FLOAT_FN(un_f32, float, f)
UN_FLOAT_FN(un_f64, double, )

/* A function, so that unsigned instantiations do not warn about an always-false test. */
static inline bool un_below0(int64_t v) {
    return v < 0;
}

/* Integers: negation in the unsigned type UT wraps (MIN stays MIN, as onnxruntime gives). */
#define UN_INT_FN(T, UT, SIGNED)                                                                   \
    static void un_##T(un_kind k, const void *xv, void *yv, size_t n) {                            \
        const T *x = xv;                                                                           \
        T *y = yv;                                                                                 \
        for (size_t i = 0; i < n; i++) {                                                           \
            T v = x[i];                                                                            \
            bool neg = SIGNED && un_below0((int64_t)v);                                            \
            switch (k) {                                                                           \
            case UN_ABS: y[i] = neg ? (T)(0 - (UT)v) : v; break;                                   \
            case UN_NEG: y[i] = (T)(0 - (UT)v); break;                                             \
            case UN_SIGN: y[i] = neg ? (T) - 1 : v > 0 ? (T)1 : (T)0; break;                       \
            default: y[i] = v; break;                                                              \
            }                                                                                      \
        }                                                                                          \
    }

UN_INT_FN(int8_t, uint32_t, 1)
UN_INT_FN(uint8_t, uint32_t, 0)
UN_INT_FN(int16_t, uint32_t, 1)
UN_INT_FN(uint16_t, uint32_t, 0)
UN_INT_FN(int32_t, uint32_t, 1)
UN_INT_FN(uint32_t, uint32_t, 0)
UN_INT_FN(int64_t, uint64_t, 1)
UN_INT_FN(uint64_t, uint64_t, 0)

typedef struct un_ctx {
    un_kind kind;
    ei_dtype dtype;
    const void *x;
    void *y;
    size_t n, n_tasks;
} un_ctx;

static void un_span(const un_ctx *c, size_t b, size_t e) {
    size_t n = e - b;
    switch (c->dtype) {
    case EI_DTYPE_F32: {
        const float *x = (const float *)c->x + b;
        float *y = (float *)c->y + b;
        /* Exp and Erf through the vector kernels (accuracy in kernels/x86/f32_exp_avx2.c) */
        if (c->kind == UN_EXP) ei_kernels()->f32_exp(n, x, y);
        else if (c->kind == UN_ERF) ei_kernels()->f32_erf(n, x, y);
        else un_f32(c->kind, x, y, n);
        break;
    }
    case EI_DTYPE_F64: un_f64(c->kind, (const double *)c->x + b, (double *)c->y + b, n); break;
    case EI_DTYPE_I8: un_int8_t(c->kind, (const int8_t *)c->x + b, (int8_t *)c->y + b, n); break;
    case EI_DTYPE_U8: un_uint8_t(c->kind, (const uint8_t *)c->x + b, (uint8_t *)c->y + b, n); break;
    case EI_DTYPE_I16:
        un_int16_t(c->kind, (const int16_t *)c->x + b, (int16_t *)c->y + b, n);
        break;
    case EI_DTYPE_U16:
        un_uint16_t(c->kind, (const uint16_t *)c->x + b, (uint16_t *)c->y + b, n);
        break;
    case EI_DTYPE_I32:
        un_int32_t(c->kind, (const int32_t *)c->x + b, (int32_t *)c->y + b, n);
        break;
    case EI_DTYPE_U32:
        un_uint32_t(c->kind, (const uint32_t *)c->x + b, (uint32_t *)c->y + b, n);
        break;
    case EI_DTYPE_I64:
        un_int64_t(c->kind, (const int64_t *)c->x + b, (int64_t *)c->y + b, n);
        break;
    case EI_DTYPE_U64:
        un_uint64_t(c->kind, (const uint64_t *)c->x + b, (uint64_t *)c->y + b, n);
        break;
    case EI_DTYPE_BOOL: {
        const uint8_t *x = (const uint8_t *)c->x + b;
        uint8_t *y = (uint8_t *)c->y + b;
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] == 0; /* any non-zero byte is true */
        break;
    }
    default: break;
    }
}

static void un_task(void *arg, size_t task, int thread) {
    (void)thread;
    const un_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (b < e) un_span(c, b, e);
}

static ei_status un_run(ei_exec *ex, ei_node *node) {
    const un_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    un_ctx c = {s->kind, x->dtype, x->data, y->data, ei_value_numel(x), 1};
    if (c.n == 0) return EI_STATUS_OK;
    c.n_tasks = ei_elem_tasks(ex, c.n, 8192);
    if (c.n_tasks == 1)
        un_span(&c, 0, c.n);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, un_task, &c);
    return EI_STATUS_OK;
}

#define UN_OP(id, KIND, DTYPES)                                                                    \
    static ei_status id##_prepare(ei_exec *ex, ei_node *node) {                                    \
        (void)ex;                                                                                  \
        return un_prepare_kind(node, KIND);                                                        \
    }                                                                                              \
    const ei_op_fns ei_op_fns_##id = {id##_prepare, un_infer, un_run, free, .dtypes = DTYPES};

UN_OP(abs, UN_ABS, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
UN_OP(neg, UN_NEG, "float32 float64 int8 int16 int32 int64")
UN_OP(sign, UN_SIGN, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
UN_OP(exp, UN_EXP, "float32 float64")
UN_OP(log, UN_LOG, "float32 float64")
UN_OP(sqrt, UN_SQRT, "float32 float64")
UN_OP(reciprocal, UN_RECIP, "float32 float64")
UN_OP(floor, UN_FLOOR, "float32 float64")
UN_OP(ceil, UN_CEIL, "float32 float64")
UN_OP(round, UN_ROUND, "float32 float64")
UN_OP(erf, UN_ERF, "float32 float64")
UN_OP(sin, UN_SIN, "float32 float64")
UN_OP(cos, UN_COS, "float32 float64")
UN_OP(tan, UN_TAN, "float32 float64")
UN_OP(asin, UN_ASIN, "float32 float64")
UN_OP(acos, UN_ACOS, "float32 float64")
UN_OP(atan, UN_ATAN, "float32 float64")
UN_OP(sinh, UN_SINH, "float32 float64")
UN_OP(cosh, UN_COSH, "float32 float64")
UN_OP(asinh, UN_ASINH, "float32 float64")
UN_OP(acosh, UN_ACOSH, "float32 float64")
UN_OP(atanh, UN_ATANH, "float32 float64")
UN_OP(not, UN_NOT, "bool")
