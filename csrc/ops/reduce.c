/*
 * reduce.c - ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp over any set
 * of axes, with axes as an attribute (old opsets) or as a known input (ReduceSum 13+,
 * the others 18+), keepdims and noop_with_empty_axes. infer collapses the shape into
 * alternating kept/reduced runs; run either reduces contiguous rows (innermost run
 * reduced) or accumulates contiguous vectors (innermost run kept). float32 and float64
 * for all, int32/int64 for Sum, Max, Min and Prod, uint8/bool for Max and Min.
 */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef enum red_kind {
    RED_SUM,
    RED_MEAN,
    RED_MAX,
    RED_MIN,
    RED_PROD,
    RED_L1,
    RED_L2,
    RED_SUMSQ,
    RED_LOGSUM,
    RED_LOGSUMEXP
} red_kind;

typedef struct red_state {
    red_kind kind;
    bool axes_input;    /* opset where axes come as input 1 */
    int64_t *attr_axes; /* old opsets: the attribute (owned copy), or NULL */
    size_t n_attr_axes;
    int64_t keepdims, noop;

    /* Plan from the last infer. */
    bool row_mode; /* innermost collapsed run is reduced */
    size_t len;    /* row mode: reduced row length; column mode: kept inner length */
    int nk, nr;    /* outer kept / reduced runs (the innermost one excluded) */
    size_t kdim[EI_MAX_RANK], kstride[EI_MAX_RANK];
    size_t rdim[EI_MAX_RANK], rstride[EI_MAX_RANK];
    size_t n_groups;          /* row mode: outputs; column mode: outputs / len */
    size_t n_combos;          /* outer reduced positions per output */
    size_t out_numel, rcount; /* outputs, reduced elements per output */
} red_state;

static void red_destroy(void *p) {
    red_state *s = p;
    if (s) free(s->attr_axes);
    free(s);
}

static ei_status red_prepare_kind(ei_node *node, red_kind kind, int axes_input_since) {
    ei_status st = EI_STATUS_OK;
    red_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    s->kind = kind;
    s->axes_input = node->opset >= axes_input_since;
    EI_TRY(ei_elem_check_io(node, 1, s->axes_input ? 2 : 1, 1));
    EI_TRY(ei_node_attr_int(node, "keepdims", 1, &s->keepdims));
    if (s->axes_input) {
        if (ei_node_attr(node, "axes")) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'axes' is not allowed at opset %d: axes are input 1",
                               node->opset);
            goto cleanup;
        }
        EI_TRY(ei_node_attr_int(node, "noop_with_empty_axes", 0, &s->noop));
    } else {
        const int64_t *axes;
        EI_TRY(ei_node_attr_ints(node, "axes", &axes, &s->n_attr_axes));
        if (s->n_attr_axes > EI_MAX_RANK) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'axes' has %zu entries; at most %d allowed",
                               s->n_attr_axes, EI_MAX_RANK);
            goto cleanup;
        }
        if (s->n_attr_axes) {
            s->attr_axes = malloc(s->n_attr_axes * sizeof *s->attr_axes);
            if (!s->attr_axes) {
                st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
                goto cleanup;
            }
            memcpy(s->attr_axes, axes, s->n_attr_axes * sizeof *axes);
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    red_destroy(s);
    return st;
}

#define RED_PREPARE(name, kind, since)                                                             \
    static ei_status name##_prepare(ei_exec *ex, ei_node *node) {                                  \
        (void)ex;                                                                                  \
        return red_prepare_kind(node, kind, since);                                                \
    }
RED_PREPARE(reduce_sum, RED_SUM, 13)
RED_PREPARE(reduce_mean, RED_MEAN, 18)
RED_PREPARE(reduce_max, RED_MAX, 18)
RED_PREPARE(reduce_min, RED_MIN, 18)
RED_PREPARE(reduce_prod, RED_PROD, 18)
RED_PREPARE(reduce_l1, RED_L1, 18)
RED_PREPARE(reduce_l2, RED_L2, 18)
RED_PREPARE(reduce_sum_square, RED_SUMSQ, 18)
RED_PREPARE(reduce_log_sum, RED_LOGSUM, 18)
RED_PREPARE(reduce_log_sum_exp, RED_LOGSUMEXP, 18)

static bool red_int_ok(red_kind k) {
    return k == RED_SUM || k == RED_MAX || k == RED_MIN || k == RED_PROD;
}

static ei_status red_infer(ei_exec *ex, ei_node *node) {
    red_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    ei_value *av = s->axes_input ? ei_node_in(ex, node, 1) : NULL;
    int64_t axes[EI_MAX_RANK];
    size_t n_axes = 0;
    bool mask[EI_MAX_RANK] = {false};
    int rank = x->rank;

    bool minmax = s->kind == RED_MAX || s->kind == RED_MIN;
    if (!(x->dtype == EI_DTYPE_F32 || x->dtype == EI_DTYPE_F64 ||
          (red_int_ok(s->kind) && (x->dtype == EI_DTYPE_I32 || x->dtype == EI_DTYPE_I64)) ||
          (minmax && (x->dtype == EI_DTYPE_U8 || x->dtype == EI_DTYPE_BOOL))))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64%s", x->name,
                             ei_dtype_name(x->dtype),
                             minmax                ? ", int32, int64, uint8, bool"
                             : red_int_ok(s->kind) ? ", int32, int64"
                                                   : "");
    if (av) {
        if (!ei_input_ready(ex, av)) { /* fed at run time: shapes known when it runs */
            node->dynamic = true;
            return EI_STATUS_OK;
        }
        EI_CHECK(ei_elem_read_ints(node, av, "axes", axes, EI_MAX_RANK, &n_axes));
    } else if (!s->axes_input) {
        n_axes = s->n_attr_axes;
        if (n_axes) memcpy(axes, s->attr_axes, n_axes * sizeof *axes);
    }
    if (n_axes == 0) {
        for (int i = 0; i < rank; i++)
            mask[i] = !s->noop;
    } else {
        for (size_t i = 0; i < n_axes; i++) {
            int a;
            if (!ei_elem_norm_axis(axes[i], rank, &a))
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "axis %lld is out of range for input '%s' of rank %d",
                                     (long long)axes[i], x->name, rank);
            if (mask[a])
                return ei_node_error(node, EI_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                     (long long)axes[i]);
            mask[a] = true;
        }
    }

    /* Output shape. */
    int64_t odims[EI_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < rank; i++) {
        if (!mask[i])
            odims[orank++] = x->dims[i];
        else if (s->keepdims)
            odims[orank++] = 1;
    }
    EI_CHECK(ei_elem_set_out(node, y, x->dtype, orank, odims));

    /* Collapse: drop size-1 dims, merge neighbours with the same mask. */
    size_t cd[EI_MAX_RANK];
    bool cr[EI_MAX_RANK];
    int m = 0;
    s->out_numel = 1;
    s->rcount = 1;
    for (int i = 0; i < rank; i++) {
        size_t d = (size_t)x->dims[i];
        if (mask[i])
            s->rcount *= d;
        else
            s->out_numel *= d;
        if (d == 1) continue;
        if (m > 0 && cr[m - 1] == mask[i])
            cd[m - 1] *= d;
        else {
            cd[m] = d;
            cr[m] = mask[i];
            m++;
        }
    }
    /* Strides (elements) of the collapsed runs; split off the innermost run. */
    size_t stride[EI_MAX_RANK], st = 1;
    for (int i = m - 1; i >= 0; i--) {
        stride[i] = st;
        st *= cd[i];
    }
    s->nk = s->nr = 0;
    s->row_mode = m > 0 && cr[m - 1];
    s->len = m > 0 ? cd[m - 1] : 1;
    for (int i = 0; i < m - 1; i++) {
        if (cr[i]) {
            s->rdim[s->nr] = cd[i];
            s->rstride[s->nr++] = stride[i];
        } else {
            s->kdim[s->nk] = cd[i];
            s->kstride[s->nk++] = stride[i];
        }
    }
    if (m == 0) s->row_mode = false; /* a single element: column mode with len 1 */
    s->n_groups = s->row_mode ? s->out_numel : (s->len ? s->out_numel / s->len : 0);
    s->n_combos = s->row_mode ? (s->len ? s->rcount / s->len : 0) : s->rcount;
    node->scratch_bytes = 0;
    if (s->kind == RED_LOGSUMEXP && !s->row_mode)
        node->scratch_bytes = s->out_numel * ei_dtype_size(x->dtype);
    return EI_STATUS_OK;
}

/* ------------------------------------------------------------------ float32 */

#define RED_BLOCK 256 /* floats in the stack blocks of derived values (-x, |x|, x^2) */

/* Partial reduction of one contiguous row, in the accumulator's domain. */
static float f32_row(const ei_kernel_table *k, red_kind kind, size_t n, const float *x,
                     float shift) {
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    switch (kind) {
    case RED_SUM:
    case RED_MEAN:
    case RED_LOGSUM: return k->f32_sum(n, x);
    case RED_MAX: return k->f32_max(n, x);
    case RED_MIN: { /* -max(-x), through the max kernel, in stack blocks */
        float tmp[RED_BLOCK], v = INFINITY;
        for (size_t b = 0; b < n; b += RED_BLOCK) {
            size_t m = n - b < RED_BLOCK ? n - b : RED_BLOCK;
            k->f32_vmulc(m, x + b, -1.0f, tmp);
            float mb = -k->f32_max(m, tmp);
            if (mb != mb) return mb;
            if (mb < v) v = mb;
        }
        return v;
    }
    case RED_PROD: {
        float v = 1.0f;
        for (; i < n; i++)
            v *= x[i];
        return v;
    }
    case RED_L1:
        for (; i + 4 <= n; i += 4) {
            a0 += fabsf(x[i]);
            a1 += fabsf(x[i + 1]);
            a2 += fabsf(x[i + 2]);
            a3 += fabsf(x[i + 3]);
        }
        for (; i < n; i++)
            a0 += fabsf(x[i]);
        return (a0 + a1) + (a2 + a3);
    case RED_L2:
    case RED_SUMSQ:
        for (; i + 4 <= n; i += 4) {
            a0 += x[i] * x[i];
            a1 += x[i + 1] * x[i + 1];
            a2 += x[i + 2] * x[i + 2];
            a3 += x[i + 3] * x[i + 3];
        }
        for (; i < n; i++)
            a0 += x[i] * x[i];
        return (a0 + a1) + (a2 + a3);
    case RED_LOGSUMEXP: return k->f32_exp_sum(n, x, shift, NULL);
    }
    return 0.0f;
}

static float f32_init(red_kind kind) {
    switch (kind) {
    case RED_MAX: return -INFINITY;
    case RED_MIN: return INFINITY;
    case RED_PROD: return 1.0f;
    default: return 0.0f;
    }
}

static float f32_combine(red_kind kind, float acc, float v) {
    switch (kind) {
    case RED_MAX: return (v > acc || v != v) ? v : acc;
    case RED_MIN: return (v < acc || v != v) ? v : acc;
    case RED_PROD: return acc * v;
    default: return acc + v;
    }
}

static float f32_finish(red_kind kind, float acc, size_t rcount) {
    switch (kind) {
    case RED_MEAN: return acc / (float)rcount;
    case RED_L2: return sqrtf(acc);
    case RED_LOGSUM: return logf(acc);
    default: return acc;
    }
}

/* acc[j] (op)= f(x[j]) for j < n: the column-mode inner step, through the vector kernels.
 * MIN accumulates -min (as a max of -x) so that it can use f32_vmax; f32_cols negates at
 * the end. L1 and squares go through a small stack block. */
static void f32_col(const ei_kernel_table *k, red_kind kind, size_t n, const float *x, float *acc,
                    const float *shift) {
    float tmp[RED_BLOCK];
    switch (kind) {
    case RED_MAX: k->f32_vmax(n, acc, x, acc); return;
    case RED_PROD: k->f32_vmul(n, acc, x, acc); return;
    case RED_SUM:
    case RED_MEAN:
    case RED_LOGSUM: k->f32_vadd(n, acc, x, acc); return;
    default: break;
    }
    for (size_t b = 0; b < n; b += RED_BLOCK) {
        size_t m = n - b < RED_BLOCK ? n - b : RED_BLOCK;
        const float *xb = x + b;
        float *ab = acc + b;
        switch (kind) {
        case RED_LOGSUMEXP:
            k->f32_vsub(m, xb, shift + b, tmp);
            k->f32_exp(m, tmp, tmp);
            k->f32_vadd(m, ab, tmp, ab);
            break;
        case RED_MIN:
            k->f32_vmulc(m, xb, -1.0f, tmp);
            k->f32_vmax(m, ab, tmp, ab);
            break;
        case RED_L1:
            k->f32_vmulc(m, xb, -1.0f, tmp);
            k->f32_vmax(m, xb, tmp, tmp);
            k->f32_vadd(m, ab, tmp, ab);
            break;
        default: /* L2, SUMSQ */
            k->f32_vmul(m, xb, xb, tmp);
            k->f32_vadd(m, ab, tmp, ab);
            break;
        }
    }
}

/* Input offset of kept position g (row mode: an output; column mode: a group). */
static size_t red_base(const red_state *s, size_t g) {
    size_t off = 0;
    for (int d = s->nk - 1; d >= 0; d--) {
        off += (g % s->kdim[d]) * s->kstride[d];
        g /= s->kdim[d];
    }
    return off;
}

/* Advances the odometer over the outer reduced runs; returns the new offset. */
static size_t red_next(const red_state *s, size_t *idx, size_t off) {
    for (int d = s->nr - 1; d >= 0; d--) {
        off += s->rstride[d];
        if (++idx[d] < s->rdim[d]) return off;
        off -= s->rstride[d] * s->rdim[d];
        idx[d] = 0;
    }
    return off;
}

typedef struct red_ctx {
    const red_state *s;
    const ei_kernel_table *k;
    const void *x;
    void *y;
    void *tmp; /* LogSumExp column mode: sums, one per output */
    ei_dtype dtype;
    size_t n_units, chunks, chunk, n_tasks;
} red_ctx;

static float f32_reduce_one(const red_ctx *c, const float *x, red_kind kind, float shift) {
    const red_state *s = c->s;
    size_t idx[EI_MAX_RANK] = {0}, off = 0;
    float acc = f32_init(kind);
    for (size_t r = 0; r < s->n_combos; r++) {
        acc = f32_combine(kind, acc, f32_row(c->k, kind, s->len, x + off, shift));
        off = red_next(s, idx, off);
    }
    return acc;
}

/* Row mode: outputs [b, e). */
static void f32_rows(const red_ctx *c, size_t b, size_t e) {
    const red_state *s = c->s;
    const float *x = c->x;
    float *y = c->y;
    for (size_t o = b; o < e; o++) {
        const float *xo = x + red_base(s, o);
        if (s->kind == RED_LOGSUMEXP) {
            float mx = f32_reduce_one(c, xo, RED_MAX, 0.0f);
            if (isinf(mx) || mx != mx)
                y[o] = mx;
            else
                y[o] = mx + logf(f32_reduce_one(c, xo, RED_LOGSUMEXP, mx));
        } else {
            y[o] = f32_finish(s->kind, f32_reduce_one(c, xo, s->kind, 0.0f), s->rcount);
        }
    }
}

/* Column mode: group g, inner elements [j0, j1). */
static void f32_cols(const red_ctx *c, size_t g, size_t j0, size_t j1) {
    const red_state *s = c->s;
    const float *x = (const float *)c->x + red_base(s, g) + j0;
    float *y = (float *)c->y + g * s->len + j0;
    size_t n = j1 - j0;
    size_t idx[EI_MAX_RANK] = {0}, off = 0;
    red_kind kind = s->kind == RED_LOGSUMEXP ? RED_MAX : s->kind;
    float init = kind == RED_MIN ? -INFINITY : f32_init(kind);
    for (size_t j = 0; j < n; j++)
        y[j] = init;
    for (size_t r = 0; r < s->n_combos; r++) {
        f32_col(c->k, kind, n, x + off, y, NULL);
        off = red_next(s, idx, off);
    }
    if (kind == RED_MIN)
        for (size_t j = 0; j < n; j++)
            y[j] = -y[j];
    if (s->kind == RED_LOGSUMEXP) {
        float *t = (float *)c->tmp + g * s->len + j0;
        for (size_t j = 0; j < n; j++)
            t[j] = 0.0f;
        off = 0;
        for (size_t r = 0; r < s->n_combos; r++) {
            f32_col(c->k, RED_LOGSUMEXP, n, x + off, t, y);
            off = red_next(s, idx, off);
        }
        for (size_t j = 0; j < n; j++)
            if (!isinf(y[j]) && y[j] == y[j]) y[j] += logf(t[j]);
        return;
    }
    if (s->kind == RED_MEAN || s->kind == RED_L2 || s->kind == RED_LOGSUM)
        for (size_t j = 0; j < n; j++)
            y[j] = f32_finish(s->kind, y[j], s->rcount);
}

/* ------------------------------------------------------------ int32 / int64 */

/* Integer sums and products wrap (computed in the unsigned type). */
#define RED_INT(T, UT, TMIN, TMAX)                                                                 \
    static T T##_init(red_kind kind) {                                                             \
        return kind == RED_MAX ? TMIN : kind == RED_MIN ? TMAX : kind == RED_PROD ? 1 : 0;         \
    }                                                                                              \
    static T T##_comb(red_kind kind, T a, T v) {                                                   \
        switch (kind) {                                                                            \
        case RED_MAX: return v > a ? v : a;                                                        \
        case RED_MIN: return v < a ? v : a;                                                        \
        case RED_PROD: return (T)((UT)a * (UT)v);                                                  \
        default: return (T)((UT)a + (UT)v);                                                        \
        }                                                                                          \
    }                                                                                              \
    static void T##_rows(const red_ctx *c, size_t b, size_t e) {                                   \
        const red_state *s = c->s;                                                                 \
        for (size_t o = b; o < e; o++) {                                                           \
            const T *x = (const T *)c->x + red_base(s, o);                                         \
            size_t idx[EI_MAX_RANK] = {0}, off = 0;                                                \
            T acc = T##_init(s->kind);                                                             \
            for (size_t r = 0; r < s->n_combos; r++) {                                             \
                for (size_t i = 0; i < s->len; i++)                                                \
                    acc = T##_comb(s->kind, acc, x[off + i]);                                      \
                off = red_next(s, idx, off);                                                       \
            }                                                                                      \
            ((T *)c->y)[o] = acc;                                                                  \
        }                                                                                          \
    }                                                                                              \
    static void T##_cols(const red_ctx *c, size_t g, size_t j0, size_t j1) {                       \
        const red_state *s = c->s;                                                                 \
        const T *x = (const T *)c->x + red_base(s, g) + j0;                                        \
        T *y = (T *)c->y + g * s->len + j0;                                                        \
        size_t idx[EI_MAX_RANK] = {0}, off = 0;                                                    \
        for (size_t j = 0; j < j1 - j0; j++)                                                       \
            y[j] = T##_init(s->kind);                                                              \
        for (size_t r = 0; r < s->n_combos; r++) {                                                 \
            for (size_t j = 0; j < j1 - j0; j++)                                                   \
                y[j] = T##_comb(s->kind, y[j], x[off + j]);                                        \
            off = red_next(s, idx, off);                                                           \
        }                                                                                          \
    }

RED_INT(int32_t, uint32_t, INT32_MIN, INT32_MAX)
RED_INT(int64_t, uint64_t, INT64_MIN, INT64_MAX)
RED_INT(uint8_t, uint8_t, 0, UINT8_MAX) /* uint8 and bool: Max/Min only (Max = any, Min = all) */

/* ------------------------------------------------------------------ float64 */

/* Plain loops, every kind; LogSumExp subtracts the maximum like the float32 path. */
static double f64_init(red_kind kind) {
    return kind == RED_MAX ? -INFINITY : kind == RED_MIN ? INFINITY : kind == RED_PROD ? 1.0 : 0.0;
}
static double f64_step(red_kind kind, double acc, double v, double shift) {
    switch (kind) {
    case RED_MAX: return (v > acc || v != v) ? v : acc;
    case RED_MIN: return (v < acc || v != v) ? v : acc;
    case RED_PROD: return acc * v;
    case RED_L1: return acc + fabs(v);
    case RED_L2:
    case RED_SUMSQ: return acc + v * v;
    case RED_LOGSUMEXP: return acc + exp(v - shift);
    default: return acc + v;
    }
}
static double f64_finish(red_kind kind, double acc, size_t rcount) {
    switch (kind) {
    case RED_MEAN: return acc / (double)rcount;
    case RED_L2: return sqrt(acc);
    case RED_LOGSUM: return log(acc);
    default: return acc;
    }
}

static double f64_reduce_one(const red_state *s, const double *x, red_kind kind, double shift) {
    size_t idx[EI_MAX_RANK] = {0}, off = 0;
    double acc = f64_init(kind);
    for (size_t r = 0; r < s->n_combos; r++) {
        for (size_t i = 0; i < s->len; i++)
            acc = f64_step(kind, acc, x[off + i], shift);
        off = red_next(s, idx, off);
    }
    return acc;
}

static void f64_rows(const red_ctx *c, size_t b, size_t e) {
    const red_state *s = c->s;
    double *y = c->y;
    for (size_t o = b; o < e; o++) {
        const double *x = (const double *)c->x + red_base(s, o);
        if (s->kind == RED_LOGSUMEXP) {
            double mx = f64_reduce_one(s, x, RED_MAX, 0.0);
            y[o] = (isinf(mx) || mx != mx) ? mx : mx + log(f64_reduce_one(s, x, RED_LOGSUMEXP, mx));
        } else {
            y[o] = f64_finish(s->kind, f64_reduce_one(s, x, s->kind, 0.0), s->rcount);
        }
    }
}

static void f64_cols(const red_ctx *c, size_t g, size_t j0, size_t j1) {
    const red_state *s = c->s;
    const double *x = (const double *)c->x + red_base(s, g) + j0;
    double *y = (double *)c->y + g * s->len + j0;
    size_t n = j1 - j0, idx[EI_MAX_RANK] = {0}, off = 0;
    red_kind kind = s->kind == RED_LOGSUMEXP ? RED_MAX : s->kind;
    for (size_t j = 0; j < n; j++)
        y[j] = f64_init(kind);
    for (size_t r = 0; r < s->n_combos; r++) {
        for (size_t j = 0; j < n; j++)
            y[j] = f64_step(kind, y[j], x[off + j], 0.0);
        off = red_next(s, idx, off);
    }
    if (s->kind == RED_LOGSUMEXP) {
        double *t = (double *)c->tmp + g * s->len + j0;
        for (size_t j = 0; j < n; j++)
            t[j] = 0.0;
        off = 0;
        for (size_t r = 0; r < s->n_combos; r++) {
            for (size_t j = 0; j < n; j++)
                t[j] = f64_step(RED_LOGSUMEXP, t[j], x[off + j], y[j]);
            off = red_next(s, idx, off);
        }
        for (size_t j = 0; j < n; j++)
            if (!isinf(y[j]) && y[j] == y[j]) y[j] += log(t[j]);
        return;
    }
    for (size_t j = 0; j < n; j++)
        y[j] = f64_finish(s->kind, y[j], s->rcount);
}

/* ---------------------------------------------------------------------- run */

static void red_units(const red_ctx *c, size_t b, size_t e) {
    const red_state *s = c->s;
    if (s->row_mode) {
        switch (c->dtype) {
        case EI_DTYPE_I32: int32_t_rows(c, b, e); break;
        case EI_DTYPE_I64: int64_t_rows(c, b, e); break;
        case EI_DTYPE_U8:
        case EI_DTYPE_BOOL: uint8_t_rows(c, b, e); break;
        case EI_DTYPE_F64: f64_rows(c, b, e); break;
        default: f32_rows(c, b, e); break;
        }
        return;
    }
    for (size_t u = b; u < e; u++) {
        size_t g = u / c->chunks, ch = u % c->chunks;
        size_t j0 = ch * c->chunk, j1 = j0 + c->chunk;
        if (j1 > s->len) j1 = s->len;
        if (j0 >= j1) continue;
        switch (c->dtype) {
        case EI_DTYPE_I32: int32_t_cols(c, g, j0, j1); break;
        case EI_DTYPE_I64: int64_t_cols(c, g, j0, j1); break;
        case EI_DTYPE_U8:
        case EI_DTYPE_BOOL: uint8_t_cols(c, g, j0, j1); break;
        case EI_DTYPE_F64: f64_cols(c, g, j0, j1); break;
        default: f32_cols(c, g, j0, j1); break;
        }
    }
}

static void red_task(void *arg, size_t task, int thread) {
    (void)thread;
    const red_ctx *c = arg;
    size_t per = (c->n_units + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per;
    if (b > c->n_units) b = c->n_units;
    if (e > c->n_units) e = c->n_units;
    red_units(c, b, e);
}

/* Fills the outputs of a reduction over no elements. */
static void red_fill_empty(const red_state *s, ei_dtype dt, void *y) {
    for (size_t i = 0; i < s->out_numel; i++) {
        if (dt == EI_DTYPE_I32)
            ((int32_t *)y)[i] = int32_t_init(s->kind);
        else if (dt == EI_DTYPE_I64)
            ((int64_t *)y)[i] = int64_t_init(s->kind);
        else if (dt == EI_DTYPE_U8 || dt == EI_DTYPE_BOOL)
            ((uint8_t *)y)[i] = uint8_t_init(s->kind);
        else if (dt == EI_DTYPE_F64)
            ((double *)y)[i] = s->kind == RED_LOGSUM || s->kind == RED_LOGSUMEXP ? -INFINITY
                               : s->kind == RED_MEAN ? NAN
                                                     : f64_init(s->kind);
        else if (s->kind == RED_LOGSUM || s->kind == RED_LOGSUMEXP)
            ((float *)y)[i] = -INFINITY;
        else if (s->kind == RED_MEAN)
            ((float *)y)[i] = NAN;
        else
            ((float *)y)[i] = f32_init(s->kind);
    }
}

static ei_status red_run(ei_exec *ex, ei_node *node) {
    const red_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->out_numel == 0) return EI_STATUS_OK;
    if (s->rcount == 0) {
        red_fill_empty(s, x->dtype, y->data);
        return EI_STATUS_OK;
    }
    red_ctx c = {s, ei_kernels(), x->data, y->data, node->scratch, x->dtype, 0, 1, s->len, 1};
    size_t total;
    if (!ei_size_mul(s->out_numel, s->rcount, &total)) total = SIZE_MAX;
    size_t want = ei_elem_tasks(ex, total, 32768);
    if (s->row_mode) {
        c.n_units = s->n_groups;
    } else {
        /* Split the kept inner run into chunks when there are fewer groups than tasks. */
        if (want > s->n_groups) {
            size_t per_group = (want + s->n_groups - 1) / s->n_groups;
            size_t max_chunks = (s->len + 63) / 64;
            c.chunks = per_group < max_chunks ? per_group : max_chunks;
            if (c.chunks == 0) c.chunks = 1;
            c.chunk = (s->len + c.chunks - 1) / c.chunks;
        }
        c.n_units = s->n_groups * c.chunks;
    }
    c.n_tasks = want < c.n_units ? want : c.n_units;
    if (c.n_tasks <= 1) {
        red_units(&c, 0, c.n_units);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, red_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_reduce_sum = {reduce_sum_prepare, red_infer, red_run, red_destroy,
                                        .dtypes = "float32 float64 int32 int64"};
const ei_op_fns ei_op_fns_reduce_mean = {reduce_mean_prepare, red_infer, red_run, red_destroy,
                                         .dtypes = "float32 float64"};
const ei_op_fns ei_op_fns_reduce_max = {reduce_max_prepare, red_infer, red_run, red_destroy,
                                        .dtypes = "float32 float64 int32 int64 uint8 bool"};
const ei_op_fns ei_op_fns_reduce_min = {reduce_min_prepare, red_infer, red_run, red_destroy,
                                        .dtypes = "float32 float64 int32 int64 uint8 bool"};
const ei_op_fns ei_op_fns_reduce_prod = {reduce_prod_prepare, red_infer, red_run, red_destroy,
                                         .dtypes = "float32 float64 int32 int64"};
const ei_op_fns ei_op_fns_reduce_l1 = {reduce_l1_prepare, red_infer, red_run, red_destroy,
                                       .dtypes = "float32 float64"};
const ei_op_fns ei_op_fns_reduce_l2 = {reduce_l2_prepare, red_infer, red_run, red_destroy,
                                       .dtypes = "float32 float64"};
const ei_op_fns ei_op_fns_reduce_sum_square = {reduce_sum_square_prepare, red_infer, red_run,
                                               red_destroy, .dtypes = "float32 float64"};
const ei_op_fns ei_op_fns_reduce_log_sum = {reduce_log_sum_prepare, red_infer, red_run,
                                            red_destroy, .dtypes = "float32 float64"};
const ei_op_fns ei_op_fns_reduce_log_sum_exp = {reduce_log_sum_exp_prepare, red_infer, red_run,
                                                red_destroy, .dtypes = "float32 float64"};
