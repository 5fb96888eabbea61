/*
 * binary.c - Add, Sub, Mul, Div with NumPy multidirectional broadcasting.
 * float32 goes through the vector kernels (contiguous runs from broadcast.c, split
 * across the thread pool when large); float64 and 8 to 64-bit integers use plain loops
 * (int64 is what shape arithmetic computes on). Integer Div by zero fails in run.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef enum bin_kind { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV } bin_kind;

typedef struct bin_state {
    bin_kind kind;
    ei_bcast bc; /* plan for the shapes of the last infer */
} bin_state;

static ei_status bin_prepare_kind(ei_node *node, bin_kind kind) {
    EI_CHECK(ei_elem_check_io(node, 2, 2, 1));
    bin_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->kind = kind;
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status add_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return bin_prepare_kind(node, BIN_ADD);
}
static ei_status sub_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return bin_prepare_kind(node, BIN_SUB);
}
static ei_status mul_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return bin_prepare_kind(node, BIN_MUL);
}
static ei_status div_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return bin_prepare_kind(node, BIN_DIV);
}

static ei_status bin_infer(ei_exec *ex, ei_node *node) {
    bin_state *s = node->state;
    ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    int rank;
    char sa[160], sb[160];
    if (a->dtype != b->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (%s) and '%s' (%s) must have the same dtype", a->name,
                             ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    switch (a->dtype) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_I8:
    case EI_DTYPE_U8:
    case EI_DTYPE_I16:
    case EI_DTYPE_U16:
    case EI_DTYPE_I32:
    case EI_DTYPE_U32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U64: break;
    default:
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64 and 8 to 64-bit "
                             "integers",
                             a->name, ei_dtype_name(a->dtype));
    }
    if (!ei_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &rank, dims))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs '%s' %s and '%s' %s cannot be broadcast", a->name,
                             ei_shape_str(a->rank, a->dims, sa, sizeof sa), b->name,
                             ei_shape_str(b->rank, b->dims, sb, sizeof sb));
    EI_CHECK(ei_elem_set_out(node, y, a->dtype, rank, dims));
    ei_bcast_init(&s->bc, a->rank, a->dims, b->rank, b->dims, rank, dims);
    return EI_STATUS_OK;
}

/* ---------------------------------------------------------------- float32 */

typedef struct f32_ctx {
    const ei_kernel_table *k;
    const bin_state *s;
    const float *a, *b;
    float *y;
    size_t n_tasks;
} f32_ctx;

static void f32_row(void *arg, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const f32_ctx *c = arg;
    const ei_kernel_table *k = c->k;
    const ei_bcast *bc = &c->s->bc;
    const float *a = c->a + aoff, *b = c->b + boff;
    float *y = c->y + yoff;
    bool va = bc->sa[bc->rank - 1] != 0, vb = bc->sb[bc->rank - 1] != 0;
    if (va && vb) {
        switch (c->s->kind) {
        case BIN_ADD: k->f32_vadd(n, a, b, y); break;
        case BIN_SUB: k->f32_vsub(n, a, b, y); break;
        case BIN_MUL: k->f32_vmul(n, a, b, y); break;
        case BIN_DIV: k->f32_vdiv(n, a, b, y); break;
        }
    } else if (va) {
        switch (c->s->kind) {
        case BIN_ADD: k->f32_vaddc(n, a, *b, y); break;
        case BIN_SUB: k->f32_vsubc(n, a, *b, y); break;
        case BIN_MUL: k->f32_vmulc(n, a, *b, y); break;
        case BIN_DIV: k->f32_vdivc(n, a, *b, y); break;
        }
    } else if (vb) {
        switch (c->s->kind) {
        case BIN_ADD: k->f32_vaddc(n, b, *a, y); break;
        case BIN_SUB: k->f32_vrsubc(n, b, *a, y); break;
        case BIN_MUL: k->f32_vmulc(n, b, *a, y); break;
        case BIN_DIV: k->f32_vrdivc(n, b, *a, y); break;
        }
    } else {
        float r = 0.0f;
        switch (c->s->kind) {
        case BIN_ADD: r = *a + *b; break;
        case BIN_SUB: r = *a - *b; break;
        case BIN_MUL: r = *a * *b; break;
        case BIN_DIV: r = *a / *b; break;
        }
        for (size_t i = 0; i < n; i++)
            y[i] = r;
    }
}

static void f32_task(void *arg, size_t task, int thread) {
    (void)thread;
    const f32_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->s->bc.numel, c->n_tasks, task, &b, &e);
    ei_bcast_for_range(&c->s->bc, b, e, f32_row, arg);
}

/* ------------------------------------------------------- other dtypes (plain) */

typedef struct gen_ctx {
    const bin_state *s;
    const void *a, *b;
    void *y;
    ei_dtype dtype;
} gen_ctx;

/* Integer arithmetic is done in the unsigned type WT (at least as wide as unsigned int, so
 * nothing is promoted to a signed int that could overflow) and wraps; division truncates
 * toward zero like onnxruntime, and a signed MIN / -1 wraps to MIN. Zero divisors were
 * rejected before the loop. */
#define EI_BIN_INT_ROW(T, WT, SIGNED)                                                              \
    static void row_##T(const gen_ctx *c, size_t aoff, size_t boff, size_t yoff, size_t n) {       \
        const T *a = (const T *)c->a + aoff, *b = (const T *)c->b + boff;                          \
        T *y = (T *)c->y + yoff;                                                                   \
        size_t ia = (size_t)c->s->bc.sa[c->s->bc.rank - 1];                                        \
        size_t ib = (size_t)c->s->bc.sb[c->s->bc.rank - 1];                                        \
        switch (c->s->kind) {                                                                      \
        case BIN_ADD:                                                                              \
            for (size_t i = 0; i < n; i++)                                                         \
                y[i] = (T)((WT)a[i * ia] + (WT)b[i * ib]);                                         \
            break;                                                                                 \
        case BIN_SUB:                                                                              \
            for (size_t i = 0; i < n; i++)                                                         \
                y[i] = (T)((WT)a[i * ia] - (WT)b[i * ib]);                                         \
            break;                                                                                 \
        case BIN_MUL:                                                                              \
            for (size_t i = 0; i < n; i++)                                                         \
                y[i] = (T)((WT)a[i * ia] * (WT)b[i * ib]);                                         \
            break;                                                                                 \
        case BIN_DIV:                                                                              \
            for (size_t i = 0; i < n; i++) {                                                       \
                T x = a[i * ia], d = b[i * ib];                                                    \
                if (SIGNED && d == (T)(-1))                                                        \
                    y[i] = (T)(0 - (WT)x);                                                         \
                else                                                                               \
                    y[i] = d == 0 ? 0 : (T)(x / d);                                                \
            }                                                                                      \
            break;                                                                                 \
        }                                                                                          \
    }

EI_BIN_INT_ROW(int8_t, uint32_t, 1)
EI_BIN_INT_ROW(uint8_t, uint32_t, 0)
EI_BIN_INT_ROW(int16_t, uint32_t, 1)
EI_BIN_INT_ROW(uint16_t, uint32_t, 0)
EI_BIN_INT_ROW(int32_t, uint32_t, 1)
EI_BIN_INT_ROW(uint32_t, uint32_t, 0)
EI_BIN_INT_ROW(int64_t, uint64_t, 1)
EI_BIN_INT_ROW(uint64_t, uint64_t, 0)

static void row_double(const gen_ctx *c, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const double *a = (const double *)c->a + aoff, *b = (const double *)c->b + boff;
    double *y = (double *)c->y + yoff;
    size_t ia = (size_t)c->s->bc.sa[c->s->bc.rank - 1];
    size_t ib = (size_t)c->s->bc.sb[c->s->bc.rank - 1];
    for (size_t i = 0; i < n; i++) {
        double x = a[i * ia], d = b[i * ib];
        switch (c->s->kind) {
        case BIN_ADD: y[i] = x + d; break;
        case BIN_SUB: y[i] = x - d; break;
        case BIN_MUL: y[i] = x * d; break;
        case BIN_DIV: y[i] = x / d; break;
        }
    }
}

static void gen_row(void *arg, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const gen_ctx *c = arg;
    switch (c->dtype) {
    case EI_DTYPE_I8: row_int8_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U8: row_uint8_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I16: row_int16_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U16: row_uint16_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I32: row_int32_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U32: row_uint32_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_I64: row_int64_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_U64: row_uint64_t(c, aoff, boff, yoff, n); break;
    case EI_DTYPE_F64: row_double(c, aoff, boff, yoff, n); break;
    default: break;
    }
}

/* Integer Div: every element of b is used when the output is not empty, so any zero
 * in b is a division by zero. */
static ei_status div_check_zero(const ei_node *node, const ei_value *b) {
    static const unsigned char zero[8] = {0};
    size_t n = ei_value_numel(b), es = ei_dtype_size(b->dtype);
    for (size_t i = 0; i < n; i++) {
        /* An integer is zero exactly when all its bytes are. */
        if (memcmp((const unsigned char *)b->data + i * es, zero, es) == 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "integer division by zero: divisor '%s' is 0 at flat index %zu",
                                 b->name, i);
    }
    return EI_STATUS_OK;
}

static ei_status bin_run(ei_exec *ex, ei_node *node) {
    const bin_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->bc.numel == 0) return EI_STATUS_OK;
    if (a->dtype == EI_DTYPE_F32) {
        f32_ctx c = {ei_kernels(), s, a->data, b->data, y->data, 1};
        /* 8192 floats: ~1 us of streaming, several times a worker's wake-up (~0.2 us) */
        c.n_tasks = ei_elem_tasks(ex, s->bc.numel, 8192);
        if (c.n_tasks == 1)
            ei_bcast_for_range(&s->bc, 0, s->bc.numel, f32_row, &c);
        else
            ei_threadpool_run(ex->pool, c.n_tasks, f32_task, &c);
        return EI_STATUS_OK;
    }
    if (s->kind == BIN_DIV && a->dtype != EI_DTYPE_F64) EI_CHECK(div_check_zero(node, b));
    gen_ctx c = {s, a->data, b->data, y->data, a->dtype};
    ei_bcast_for_range(&s->bc, 0, s->bc.numel, gen_row, &c);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_add = {add_prepare, bin_infer, bin_run, free,
                                 .dtypes = "float32 float64 int8 int16 int32 int64 uint8 uint16 "
                                 "uint32 uint64"};
const ei_op_fns ei_op_fns_sub = {sub_prepare, bin_infer, bin_run, free,
                                 .dtypes = "float32 float64 int8 int16 int32 int64 uint8 uint16 "
                                 "uint32 uint64"};
const ei_op_fns ei_op_fns_mul = {mul_prepare, bin_infer, bin_run, free,
                                 .dtypes = "float32 float64 int8 int16 int32 int64 uint8 uint16 "
                                 "uint32 uint64"};
const ei_op_fns ei_op_fns_div = {div_prepare, bin_infer, bin_run, free,
                                 .dtypes = "float32 float64 int8 int16 int32 int64 uint8 uint16 "
                                 "uint32 uint64"};
