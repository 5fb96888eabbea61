/*
 * binary_ext.c - the wider set of broadcasting binary ops: comparisons (Equal Less
 * LessOrEqual Greater GreaterOrEqual -> bool) on every numeric dtype, And Or Xor on bool,
 * Pow (float/int base, float/int exponent), Mod (fmod attribute, Python or C sign rules;
 * also float16)
 * and BitShift (unsigned). Plain scalar loops over the runs of broadcast.c, split across the
 * thread pool for large outputs. Add/Sub/Mul/Div are in binary.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef enum bx_kind {
    BX_EQ,
    BX_LT,
    BX_LE,
    BX_GT,
    BX_GE, /* comparisons */
    BX_AND,
    BX_OR,
    BX_XOR, /* logic */
    BX_POW,
    BX_MOD,
    BX_SHL,
    BX_SHR
} bx_kind;

typedef struct bx_state {
    bx_kind kind;
    int64_t fmod; /* Mod */
    ei_bcast bc;
} bx_state;

static ei_status bx_prepare_kind(ei_node *node, bx_kind kind) {
    ei_status st = EI_STATUS_OK;
    bx_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->kind = kind;
    if (kind == BX_MOD) {
        EI_TRY(ei_node_attr_int(node, "fmod", 0, &s->fmod));
        if (s->fmod != 0 && s->fmod != 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'fmod' = %lld must be 0 or 1", (long long)s->fmod);
            goto cleanup;
        }
    }
    if (kind == BX_SHL) {
        const char *dir = "";
        EI_TRY(ei_node_attr_string(node, "direction", "", &dir));
        if (strcmp(dir, "RIGHT") == 0) {
            s->kind = BX_SHR;
        } else if (strcmp(dir, "LEFT") != 0) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'direction' = '%s' must be 'LEFT' or 'RIGHT'", dir);
            goto cleanup;
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static bool bx_is_int(ei_dtype t) {
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

static bool bx_is_numeric(ei_dtype t) {
    return t == EI_DTYPE_F32 || t == EI_DTYPE_F64 || bx_is_int(t);
}

static bool bx_is_pow_type(ei_dtype t) {
    return t == EI_DTYPE_F32 || t == EI_DTYPE_F64 || t == EI_DTYPE_I32 || t == EI_DTYPE_I64;
}

static ei_status bx_infer(ei_exec *ex, ei_node *node) {
    bx_state *s = node->state;
    ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    int rank;
    char sa[160], sb[160];
    bool ok;
    const char *what;
    ei_dtype out = a->dtype;
    if (s->kind != BX_POW && a->dtype != b->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (%s) and '%s' (%s) must have the same dtype", a->name,
                             ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    switch (s->kind) {
    case BX_EQ:
        ok = bx_is_numeric(a->dtype) || a->dtype == EI_DTYPE_BOOL;
        what = "bool, float32, float64 and 8 to 64-bit integers";
        out = EI_DTYPE_BOOL;
        break;
    case BX_LT:
    case BX_LE:
    case BX_GT:
    case BX_GE:
        ok = bx_is_numeric(a->dtype);
        what = "float32, float64 and 8 to 64-bit integers";
        out = EI_DTYPE_BOOL;
        break;
    case BX_AND:
    case BX_OR:
    case BX_XOR:
        ok = a->dtype == EI_DTYPE_BOOL;
        what = "bool";
        break;
    case BX_POW:
        ok = bx_is_pow_type(a->dtype) && bx_is_numeric(b->dtype);
        what = "base float32, float64, int32 or int64; exponent float32, float64 or an integer";
        break;
    case BX_MOD:
        ok = bx_is_numeric(a->dtype) || a->dtype == EI_DTYPE_F16;
        what = "float32, float64, float16 and 8 to 64-bit integers";
        if (ok && !bx_is_int(a->dtype) && s->fmod != 1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "fmod must be 1 for floating-point input '%s' (%s)", a->name,
                                 ei_dtype_name(a->dtype));
        break;
    default:
        ok = a->dtype == EI_DTYPE_U8 || a->dtype == EI_DTYPE_U16 || a->dtype == EI_DTYPE_U32 ||
             a->dtype == EI_DTYPE_U64;
        what = "uint8, uint16, uint32 and uint64";
        break;
    }
    if (!ok)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s (and '%s' %s); supported: %s", a->name,
                             ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype), what);
    if (!ei_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &rank, dims))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs '%s' %s and '%s' %s cannot be broadcast", a->name,
                             ei_shape_str(a->rank, a->dims, sa, sizeof sa), b->name,
                             ei_shape_str(b->rank, b->dims, sb, sizeof sb));
    EI_CHECK(ei_elem_set_out(node, y, out, rank, dims));
    ei_bcast_init(&s->bc, a->rank, a->dims, b->rank, b->dims, rank, dims);
    return EI_STATUS_OK;
}

typedef struct bx_ctx {
    const bx_state *s;
    ei_dtype ta, tb;
    const void *a, *b;
    void *y;
    size_t n_tasks;
} bx_ctx;

#define BX_LOOP(EXPR)                                                                              \
    for (size_t i = 0; i < n; i++) {                                                               \
        bx_t x = a[i * ia], d = b[i * ib];                                                         \
        y[i] = (EXPR);                                                                             \
    }                                                                                              \
    break

/* Comparisons of one dtype; NaN compares false (true for nothing but !=, which ONNX lacks). */
#define BX_CMP_FN(T)                                                                               \
    static void cmp_##T(bx_kind k, const T *a, size_t ia, const T *b, size_t ib, uint8_t *y,       \
                        size_t n) {                                                                \
        typedef T bx_t;                                                                            \
        switch (k) {                                                                               \
        case BX_EQ: BX_LOOP(x == d);                                                               \
        case BX_LT: BX_LOOP(x < d);                                                                \
        case BX_LE: BX_LOOP(x <= d);                                                               \
        case BX_GT: BX_LOOP(x > d);                                                                \
        case BX_GE: BX_LOOP(x >= d);                                                               \
        default: break;                                                                            \
        }                                                                                          \
    }

BX_CMP_FN(float)
BX_CMP_FN(double)
BX_CMP_FN(int8_t)
BX_CMP_FN(uint8_t)
BX_CMP_FN(int16_t)
BX_CMP_FN(uint16_t)
BX_CMP_FN(int32_t)
BX_CMP_FN(uint32_t)
BX_CMP_FN(int64_t)
BX_CMP_FN(uint64_t)

/* A function, so that unsigned instantiations do not warn about an always-false test. */
static inline bool bx_below0(int64_t v) {
    return v < 0;
}

/* Integer Mod without UB: a divisor of -1 gives 0 (MIN % -1 would trap); zero divisors were
 * rejected before the loop. fmod=0 gives the divisor's sign (Python), fmod=1 the dividend's. */
#define BX_MOD_FN(T, SIGNED)                                                                       \
    static void mod_##T(bool c_rule, const T *a, size_t ia, const T *b, size_t ib, T *y,           \
                        size_t n) {                                                                \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i * ia], d = b[i * ib], r;                                                     \
            if (d == 0 || (SIGNED && d == (T) - 1)) {                                              \
                r = 0;                                                                             \
            } else {                                                                               \
                r = (T)(x % d);                                                                    \
                if (SIGNED && !c_rule && r != 0 && bx_below0((int64_t)r) != bx_below0((int64_t)d)) \
                    r = (T)(r + d);                                                                \
            }                                                                                      \
            y[i] = r;                                                                              \
        }                                                                                          \
    }

BX_MOD_FN(int8_t, 1)
BX_MOD_FN(uint8_t, 0)
BX_MOD_FN(int16_t, 1)
BX_MOD_FN(uint16_t, 0)
BX_MOD_FN(int32_t, 1)
BX_MOD_FN(uint32_t, 0)
BX_MOD_FN(int64_t, 1)
BX_MOD_FN(uint64_t, 0)

/* Shifts by the bit width or more give 0 (no UB). */
#define BX_SHIFT_FN(T)                                                                             \
    static void shift_##T(bool left, const T *a, size_t ia, const T *b, size_t ib, T *y,           \
                          size_t n) {                                                              \
        const T bits = (T)(sizeof(T) * 8);                                                         \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i * ia], d = b[i * ib];                                                        \
            y[i] = d >= bits ? 0 : left ? (T)((uint64_t)x << d) : (T)(x >> d);                     \
        }                                                                                          \
    }

BX_SHIFT_FN(uint8_t)
BX_SHIFT_FN(uint16_t)
BX_SHIFT_FN(uint32_t)
BX_SHIFT_FN(uint64_t)

static double bx_load_f64(ei_dtype t, const void *p, size_t i) {
    switch (t) {
    case EI_DTYPE_F32: return ((const float *)p)[i];
    case EI_DTYPE_F64: return ((const double *)p)[i];
    case EI_DTYPE_I8: return ((const int8_t *)p)[i];
    case EI_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EI_DTYPE_I16: return ((const int16_t *)p)[i];
    case EI_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EI_DTYPE_I32: return ((const int32_t *)p)[i];
    case EI_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EI_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    default: return (double)((const int64_t *)p)[i];
    }
}

static void bx_row(void *arg, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const bx_ctx *c = arg;
    const bx_state *s = c->s;
    size_t ia = (size_t)s->bc.sa[s->bc.rank - 1], ib = (size_t)s->bc.sb[s->bc.rank - 1];
    size_t ea = ei_dtype_size(c->ta), eb = ei_dtype_size(c->tb);
    const void *a = (const char *)c->a + aoff * ea, *b = (const char *)c->b + boff * eb;
    void *yv = (char *)c->y + yoff * (s->kind <= BX_XOR ? 1 : ea);
    switch (s->kind) {
    case BX_EQ:
    case BX_LT:
    case BX_LE:
    case BX_GT:
    case BX_GE:
        switch (c->ta) {
        case EI_DTYPE_F32: cmp_float(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_F64: cmp_double(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I8: cmp_int8_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_BOOL: /* bytes 0/1 like uint8 */
        case EI_DTYPE_U8: cmp_uint8_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I16: cmp_int16_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U16: cmp_uint16_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I32: cmp_int32_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U32: cmp_uint32_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I64: cmp_int64_t(s->kind, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U64: cmp_uint64_t(s->kind, a, ia, b, ib, yv, n); break;
        default: break;
        }
        break;
    case BX_AND:
    case BX_OR:
    case BX_XOR: {
        const uint8_t *pa = a, *pb = b;
        uint8_t *y = yv;
        for (size_t i = 0; i < n; i++) {
            bool x = pa[i * ia] != 0, d = pb[i * ib] != 0;
            y[i] = s->kind == BX_AND ? (x && d) : s->kind == BX_OR ? (x || d) : (x != d);
        }
        break;
    }
    case BX_POW:
        for (size_t i = 0; i < n; i++) {
            double e = bx_load_f64(c->tb, b, i * ib);
            switch (c->ta) {
            case EI_DTYPE_F32: {
                float x = ((const float *)a)[i * ia];
                ((float *)yv)[i] = c->tb == EI_DTYPE_F32 ? powf(x, (float)e) : (float)pow(x, e);
                break;
            }
            case EI_DTYPE_F64: ((double *)yv)[i] = pow(((const double *)a)[i * ia], e); break;
            case EI_DTYPE_I32:
                ((int32_t *)yv)[i] = ei_elem_f64_to_i32(pow(((const int32_t *)a)[i * ia], e));
                break;
            default:
                ((int64_t *)yv)[i] =
                    ei_elem_f64_to_i64(pow((double)((const int64_t *)a)[i * ia], e));
                break;
            }
        }
        break;
    case BX_MOD: {
        bool c_rule = s->fmod == 1;
        switch (c->ta) {
        case EI_DTYPE_F32: {
            const float *pa = a, *pb = b;
            for (size_t i = 0; i < n; i++)
                ((float *)yv)[i] = fmodf(pa[i * ia], pb[i * ib]);
            break;
        }
        case EI_DTYPE_F64: {
            const double *pa = a, *pb = b;
            for (size_t i = 0; i < n; i++)
                ((double *)yv)[i] = fmod(pa[i * ia], pb[i * ib]);
            break;
        }
        case EI_DTYPE_F16: { /* fmod is exact, so the float32 result is a float16 value */
            const uint16_t *pa = a, *pb = b;
            for (size_t i = 0; i < n; i++)
                ((uint16_t *)yv)[i] = ei_elem_f32_to_f16(
                    fmodf(ei_elem_f16_to_f32(pa[i * ia]), ei_elem_f16_to_f32(pb[i * ib])));
            break;
        }
        case EI_DTYPE_I8: mod_int8_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U8: mod_uint8_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I16: mod_int16_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U16: mod_uint16_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I32: mod_int32_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U32: mod_uint32_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_I64: mod_int64_t(c_rule, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U64: mod_uint64_t(c_rule, a, ia, b, ib, yv, n); break;
        default: break;
        }
        break;
    }
    case BX_SHL:
    case BX_SHR: {
        bool left = s->kind == BX_SHL;
        switch (c->ta) {
        case EI_DTYPE_U8: shift_uint8_t(left, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U16: shift_uint16_t(left, a, ia, b, ib, yv, n); break;
        case EI_DTYPE_U32: shift_uint32_t(left, a, ia, b, ib, yv, n); break;
        default: shift_uint64_t(left, a, ia, b, ib, yv, n); break;
        }
        break;
    }
    }
}

static void bx_task(void *arg, size_t task, int thread) {
    (void)thread;
    const bx_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->s->bc.numel, c->n_tasks, task, &b, &e);
    ei_bcast_for_range(&c->s->bc, b, e, bx_row, arg);
}

static ei_status bx_run(ei_exec *ex, ei_node *node) {
    const bx_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->bc.numel == 0) return EI_STATUS_OK;
    if (s->kind == BX_MOD && bx_is_int(b->dtype)) {
        /* Every element of b is used when the output is not empty. */
        static const unsigned char zero[8] = {0};
        size_t n = ei_value_numel(b), es = ei_dtype_size(b->dtype);
        for (size_t i = 0; i < n; i++)
            if (memcmp((const unsigned char *)b->data + i * es, zero, es) == 0)
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "integer modulo by zero: divisor '%s' is 0 at flat index %zu",
                                     b->name, i);
    }
    bx_ctx c = {s, a->dtype, b->dtype, a->data, b->data, y->data, 1};
    c.n_tasks = ei_elem_tasks(ex, s->bc.numel, 32768);
    if (c.n_tasks == 1)
        ei_bcast_for_range(&s->bc, 0, s->bc.numel, bx_row, &c);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, bx_task, &c);
    return EI_STATUS_OK;
}

#define BX_OP(id, KIND, DTYPES)                                                                    \
    static ei_status id##_prepare(ei_exec *ex, ei_node *node) {                                    \
        (void)ex;                                                                                  \
        return bx_prepare_kind(node, KIND);                                                        \
    }                                                                                              \
    const ei_op_fns ei_op_fns_##id = {id##_prepare, bx_infer, bx_run, free, .dtypes = DTYPES};

BX_OP(equal, BX_EQ, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool")
BX_OP(less, BX_LT, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
BX_OP(less_or_equal, BX_LE, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
BX_OP(greater, BX_GT, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
BX_OP(greater_or_equal, BX_GE, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64")
BX_OP(and, BX_AND, "bool")
BX_OP(or, BX_OR, "bool")
BX_OP(xor, BX_XOR, "bool")
BX_OP(pow, BX_POW, "float32 float64 int32 int64")
BX_OP(mod, BX_MOD, "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16")
BX_OP(bit_shift, BX_SHL, "uint8 uint16 uint32 uint64")
