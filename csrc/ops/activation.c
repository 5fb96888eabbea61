/*
 * activation.c - Relu, Sigmoid and Tanh on float32 through the activation kernels,
 * split across the thread pool for large tensors (other dtypes UNSUPPORTED); the
 * parametric activations (HardSigmoid ... Shrink, Gelu) and PRelu on float32/float64
 * with scalar libm loops, except float32 Gelu (the f32_gelu kernel, or tanh and vector
 * slots for approximate = 'tanh'). Clip and Softmax live in their own files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef enum act_kind { ACT_RELU, ACT_SIGMOID, ACT_TANH } act_kind;

static ei_status act_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    return ei_elem_check_io(node, 1, 1, 1);
}

static ei_status act_infer(ei_exec *ex, ei_node *node) {
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

typedef struct act_ctx {
    const ei_kernel_table *k;
    act_kind kind;
    const float *x;
    float *y;
    size_t n, n_tasks;
} act_ctx;

static void act_task(void *arg, size_t task, int thread) {
    (void)thread;
    const act_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (b >= e) return;
    switch (c->kind) {
    case ACT_RELU: c->k->f32_relu(e - b, c->x + b, c->y + b); break;
    case ACT_SIGMOID: c->k->f32_sigmoid(e - b, c->x + b, c->y + b); break;
    case ACT_TANH: c->k->f32_tanh(e - b, c->x + b, c->y + b); break;
    }
}

static ei_status act_run(ei_exec *ex, ei_node *node, act_kind kind) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    act_ctx c = {ei_kernels(), kind, x->data, y->data, ei_value_numel(x), 1};
    if (c.n == 0) return EI_STATUS_OK;
    c.n_tasks = ei_elem_tasks(ex, c.n, c.kind == ACT_RELU ? 32768 : 8192);
    if (c.n_tasks == 1)
        act_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, act_task, &c);
    return EI_STATUS_OK;
}

static ei_status relu_run(ei_exec *ex, ei_node *node) {
    return act_run(ex, node, ACT_RELU);
}
static ei_status sigmoid_run(ei_exec *ex, ei_node *node) {
    return act_run(ex, node, ACT_SIGMOID);
}
static ei_status tanh_run(ei_exec *ex, ei_node *node) {
    return act_run(ex, node, ACT_TANH);
}

const ei_op_fns ei_op_fns_relu = {act_prepare, act_infer, relu_run, NULL, .dtypes = "float32"};
const ei_op_fns ei_op_fns_sigmoid = {act_prepare, act_infer, sigmoid_run, NULL,
                                     .dtypes = "float32"};
const ei_op_fns ei_op_fns_tanh = {act_prepare, act_infer, tanh_run, NULL, .dtypes = "float32"};

/* ------------------------------------------------ parametric activations (scalar loops) */
/*
 * HardSigmoid HardSwish LeakyRelu Elu Selu Celu Softplus Softsign Mish Gelu ThresholdedRelu
 * Shrink on float32 and float64 with plain libm loops; attributes are read in prepare with
 * the ONNX defaults. PRelu (slope broadcast to the input's shape) is below.
 */
typedef enum pact_kind {
    PACT_HARD_SIGMOID,
    PACT_HARD_SWISH,
    PACT_LEAKY_RELU,
    PACT_ELU,
    PACT_SELU,
    PACT_CELU,
    PACT_SOFTPLUS,
    PACT_SOFTSIGN,
    PACT_MISH,
    PACT_GELU,
    PACT_GELU_TANH,
    PACT_THRESHOLDED_RELU,
    PACT_SHRINK
} pact_kind;

typedef struct pact_state {
    pact_kind kind;
    double alpha, beta, gamma; /* the attributes, as floats widened (ONNX stores float) */
} pact_state;

static ei_status pact_attr(ei_node *node, const char *name, float def, double *out) {
    float f;
    EI_CHECK(ei_node_attr_float(node, name, def, &f));
    *out = f;
    return EI_STATUS_OK;
}

static ei_status pact_prepare_kind(ei_node *node, pact_kind kind) {
    ei_status st = EI_STATUS_OK;
    pact_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->kind = kind;
    switch (kind) {
    case PACT_HARD_SIGMOID:
        EI_TRY(pact_attr(node, "alpha", 0.2f, &s->alpha));
        EI_TRY(pact_attr(node, "beta", 0.5f, &s->beta));
        break;
    case PACT_LEAKY_RELU: EI_TRY(pact_attr(node, "alpha", 0.01f, &s->alpha)); break;
    case PACT_ELU:
    case PACT_CELU:
    case PACT_THRESHOLDED_RELU: EI_TRY(pact_attr(node, "alpha", 1.0f, &s->alpha)); break;
    case PACT_SELU:
        EI_TRY(pact_attr(node, "alpha", 1.67326319217681884765625f, &s->alpha));
        EI_TRY(pact_attr(node, "gamma", 1.05070102214813232421875f, &s->gamma));
        break;
    case PACT_SHRINK:
        EI_TRY(pact_attr(node, "bias", 0.0f, &s->beta));
        EI_TRY(pact_attr(node, "lambd", 0.5f, &s->alpha));
        break;
    case PACT_GELU: {
        const char *approx = "none";
        EI_TRY(ei_node_attr_string(node, "approximate", "none", &approx));
        if (strcmp(approx, "tanh") == 0) {
            s->kind = PACT_GELU_TANH;
        } else if (strcmp(approx, "none") != 0) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'approximate' = '%s' must be 'none' or 'tanh'", approx);
            goto cleanup;
        }
        break;
    }
    default: break;
    }
    if (kind == PACT_CELU && s->alpha == 0.0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'alpha' must not be 0");
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status pact_infer(ei_exec *ex, ei_node *node) {
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32 and float64", x->name,
                             ei_dtype_name(x->dtype));
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

#define PACT_LOOP(EXPR)                                                                            \
    for (size_t i = 0; i < n; i++) {                                                               \
        pact_t v = x[i];                                                                           \
        y[i] = (pact_t)(EXPR);                                                                     \
    }                                                                                              \
    break

/* Softplus as log(1 + e^x) without overflow: x + log1p(e^-x) for x > 0. */
#define PACT_FN(NAME, T, S)                                                                        \
    static void NAME(const pact_state *s, const T *x, T *y, size_t n) {                            \
        typedef T pact_t;                                                                          \
        const T a = (T)s->alpha, b = (T)s->beta, g = (T)s->gamma;                                  \
        switch (s->kind) {                                                                         \
        case PACT_HARD_SIGMOID: PACT_LOOP(fmax##S(0, fmin##S(1, a * v + b)));                      \
        case PACT_HARD_SWISH: PACT_LOOP(v * fmax##S(0, fmin##S(1, v / 6 + (T)0.5)));               \
        case PACT_LEAKY_RELU: PACT_LOOP(v < 0 ? a * v : v);                                        \
        case PACT_ELU: PACT_LOOP(v < 0 ? a * (exp##S(v) - 1) : v);                                 \
        case PACT_SELU: PACT_LOOP(v <= 0 ? g * (a * exp##S(v) - a) : g * v);                       \
        case PACT_CELU: PACT_LOOP(fmax##S(0, v) + fmin##S(0, a * expm1##S(v / a)));                \
        case PACT_SOFTPLUS: PACT_LOOP(v > 0 ? v + log1p##S(exp##S(-v)) : log1p##S(exp##S(v)));     \
        case PACT_SOFTSIGN: PACT_LOOP(v / (1 + fabs##S(v)));                                       \
        case PACT_MISH:                                                                            \
            PACT_LOOP(v * tanh##S(v > 0 ? v + log1p##S(exp##S(-v)) : log1p##S(exp##S(v))));        \
        case PACT_GELU: PACT_LOOP((T)0.5 * v * (1 + erf##S(v * (T)0.70710678118654752440)));       \
        case PACT_GELU_TANH:                                                                       \
            PACT_LOOP((T)0.5 * v *                                                                 \
                      (1 + tanh##S((T)0.79788456080286535588 * (v + (T)0.044715 * v * v * v))));   \
        case PACT_THRESHOLDED_RELU: PACT_LOOP(v > a ? v : 0);                                      \
        case PACT_SHRINK: PACT_LOOP(v < -a ? v + b : v > a ? v - b : 0);                           \
        }                                                                                          \
    }

PACT_FN(pact_f32, float, f)
PACT_FN(pact_f64, double, )

typedef struct pact_ctx {
    const pact_state *s;
    ei_dtype dtype;
    const void *x;
    void *y;
    size_t n, n_tasks;
} pact_ctx;

/* float32 GELU through the kernels: exact form by the f32_gelu slot; the tanh form as
 * x/2 (1 + tanh(x (c0 + c1 x^2))) in stack blocks through the vector slots. */
#define PACT_BLOCK 256
static void pact_gelu_f32(const pact_state *s, const float *x, float *y, size_t n) {
    const ei_kernel_table *k = ei_kernels();
    if (s->kind == PACT_GELU) {
        k->f32_gelu(n, x, y);
        return;
    }
    float t[PACT_BLOCK];
    const float c0 = 0.79788456080286535588f, c1 = 0.79788456080286535588f * 0.044715f;
    for (size_t i = 0; i < n; i += PACT_BLOCK) {
        size_t m = n - i < PACT_BLOCK ? n - i : PACT_BLOCK;
        k->f32_vmul(m, x + i, x + i, t);
        k->f32_vaffine(m, t, c1, c0, t);
        k->f32_vmul(m, t, x + i, t);
        k->f32_tanh(m, t, t);
        k->f32_vaffine(m, t, 0.5f, 0.5f, t);
        k->f32_vmul(m, x + i, t, y + i);
    }
}

static void pact_task(void *arg, size_t task, int thread) {
    (void)thread;
    const pact_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->n, c->n_tasks, task, &b, &e);
    if (b >= e) return;
    if (c->dtype == EI_DTYPE_F32 && (c->s->kind == PACT_GELU || c->s->kind == PACT_GELU_TANH))
        pact_gelu_f32(c->s, (const float *)c->x + b, (float *)c->y + b, e - b);
    else if (c->dtype == EI_DTYPE_F32)
        pact_f32(c->s, (const float *)c->x + b, (float *)c->y + b, e - b);
    else
        pact_f64(c->s, (const double *)c->x + b, (double *)c->y + b, e - b);
}

static ei_status pact_run(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    pact_ctx c = {node->state, x->dtype, x->data, y->data, ei_value_numel(x), 1};
    if (c.n == 0) return EI_STATUS_OK;
    c.n_tasks = ei_elem_tasks(ex, c.n, 8192);
    if (c.n_tasks == 1)
        pact_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, pact_task, &c);
    return EI_STATUS_OK;
}

#define PACT_OP(id, KIND, DTYPES)                                                                  \
    static ei_status id##_prepare(ei_exec *ex, ei_node *node) {                                    \
        (void)ex;                                                                                  \
        return pact_prepare_kind(node, KIND);                                                      \
    }                                                                                              \
    const ei_op_fns ei_op_fns_##id = {id##_prepare, pact_infer, pact_run, free, .dtypes = DTYPES};

PACT_OP(hard_sigmoid, PACT_HARD_SIGMOID, "float32 float64")
PACT_OP(hard_swish, PACT_HARD_SWISH, "float32 float64")
PACT_OP(leaky_relu, PACT_LEAKY_RELU, "float32 float64")
PACT_OP(elu, PACT_ELU, "float32 float64")
PACT_OP(selu, PACT_SELU, "float32 float64")
PACT_OP(celu, PACT_CELU, "float32 float64")
PACT_OP(softplus, PACT_SOFTPLUS, "float32 float64")
PACT_OP(softsign, PACT_SOFTSIGN, "float32 float64")
PACT_OP(mish, PACT_MISH, "float32 float64")
PACT_OP(gelu, PACT_GELU, "float32 float64")
PACT_OP(thresholded_relu, PACT_THRESHOLDED_RELU, "float32 float64")
PACT_OP(shrink, PACT_SHRINK, "float32 float64")

/* ------------------------------------------------------------------------ PRelu */
/* y = x < 0 ? slope * x : x, slope broadcast to x's shape (unidirectional). */

typedef struct prelu_state {
    ei_bcast bc;
} prelu_state;

static ei_status prelu_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 2, 2, 1));
    prelu_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status prelu_infer(ei_exec *ex, ei_node *node) {
    prelu_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *sl = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    int64_t dims[EI_MAX_RANK];
    int rank;
    char b1[160], b2[160];
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32 and float64", x->name,
                             ei_dtype_name(x->dtype));
    if (sl->dtype != x->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (slope) has dtype %s, expected %s like input '%s'",
                             sl->name, ei_dtype_name(sl->dtype), ei_dtype_name(x->dtype), x->name);
    bool ok =
        ei_broadcast_shape(x->rank, x->dims, sl->rank, sl->dims, &rank, dims) && rank == x->rank;
    for (int i = 0; ok && i < rank; i++)
        ok = dims[i] == x->dims[i];
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (slope) %s cannot be broadcast to input '%s' %s", sl->name,
                             ei_shape_str(sl->rank, sl->dims, b1, sizeof b1), x->name,
                             ei_shape_str(x->rank, x->dims, b2, sizeof b2));
    ei_bcast_init(&s->bc, x->rank, x->dims, sl->rank, sl->dims, x->rank, x->dims);
    return ei_elem_set_out(node, y, x->dtype, x->rank, x->dims);
}

typedef struct prelu_ctx {
    const prelu_state *s;
    ei_dtype dtype;
    const void *x, *sl;
    void *y;
} prelu_ctx;

static void prelu_row(void *arg, size_t xoff, size_t soff, size_t yoff, size_t n) {
    const prelu_ctx *c = arg;
    size_t ix = (size_t)c->s->bc.sa[c->s->bc.rank - 1], is = (size_t)c->s->bc.sb[c->s->bc.rank - 1];
    if (c->dtype == EI_DTYPE_F32) {
        const float *x = (const float *)c->x + xoff, *sl = (const float *)c->sl + soff;
        float *y = (float *)c->y + yoff;
        for (size_t i = 0; i < n; i++) {
            float v = x[i * ix];
            y[i] = v < 0 ? sl[i * is] * v : v;
        }
    } else {
        const double *x = (const double *)c->x + xoff, *sl = (const double *)c->sl + soff;
        double *y = (double *)c->y + yoff;
        for (size_t i = 0; i < n; i++) {
            double v = x[i * ix];
            y[i] = v < 0 ? sl[i * is] * v : v;
        }
    }
}

static ei_status prelu_run(ei_exec *ex, ei_node *node) {
    const prelu_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sl = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    prelu_ctx c = {s, x->dtype, x->data, sl->data, y->data};
    ei_bcast_for_range(&s->bc, 0, s->bc.numel, prelu_row, &c);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_prelu = {prelu_prepare, prelu_infer, prelu_run, free,
                                   .dtypes = "float32 float64"};
