/*
 * qlinear.c - QLinearMatMul and QLinearConv: uint8/int8 operands minus zero points,
 * int32 accumulation, then requantization as onnxruntime does it: the accumulator times
 * the float multiplier a_scale * b_scale[j] / y_scale, clamped to the output range less
 * its zero point, rounded half to even, plus the zero point; QLinearConv adds its int32
 * bias first and skips padded taps (they equal the zero point). Reference loops for now;
 * fast int8 kernels come in a later issue.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/int_conv.h"
#include "ops/matmul_shape.h"

/* Requantizes acc with multiplier mult into y[i] of dtype t with zero point zp. */
static inline void qln_store(ei_dtype t, void *y, size_t i, int32_t acc, float mult, int32_t zp) {
    float lo = t == EI_DTYPE_U8 ? 0.0f : -128.0f, hi = t == EI_DTYPE_U8 ? 255.0f : 127.0f;
    float v = (float)acc * mult;
    float vmin = lo - (float)zp, vmax = hi - (float)zp;
    v = v < vmin ? vmin : v > vmax ? vmax : v;
    if (v != v) v = 0.0f;
    int32_t q = (int32_t)nearbyintf(v) + zp;
    if (t == EI_DTYPE_U8) ((uint8_t *)y)[i] = (uint8_t)q;
    else ((int8_t *)y)[i] = (int8_t)q;
}

/* Checks a (scale, zero point) pair of inputs: float32 scale and a zero point of dtype t,
 * both with 1 element, or `per` elements when per != 0. */
static ei_status qln_check_param(const ei_exec *ex, const ei_node *node, int si, int zi,
                                 const char *what, ei_dtype t, size_t per) {
    const ei_value *sc = ei_node_in(ex, node, si), *z = ei_node_in(ex, node, zi);
    char buf[96];
    if (sc->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input %s_scale '%s' has dtype %s; only float32 is supported", what,
                             sc->name, ei_dtype_name(sc->dtype));
    size_t n = ei_value_numel(sc);
    if (sc->rank > 1 || (n != 1 && (per == 0 || n != per)))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input %s_scale '%s' has shape %s; expected a scalar%s", what,
                             sc->name, ei_shape_str(sc->rank, sc->dims, buf, sizeof buf),
                             per ? " or one value per output column/channel" : "");
    if (!z) return EI_STATUS_OK;
    if (z->dtype != t)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input %s_zero_point '%s' has dtype %s, expected %s", what, z->name,
                             ei_dtype_name(z->dtype), ei_dtype_name(t));
    if (z->rank > 1 || ei_value_numel(z) != n)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input %s_zero_point '%s' has shape %s, expected as many values as "
                             "%s_scale '%s'",
                             what, z->name, ei_shape_str(z->rank, z->dims, buf, sizeof buf), what,
                             sc->name);
    return EI_STATUS_OK;
}

/* ------------------------------------------------------------ QLinearMatMul */

/* Inputs: 0 a, 1 a_scale, 2 a_zero_point, 3 b, 4 b_scale, 5 b_zero_point, 6 y_scale,
 * 7 y_zero_point. */
typedef struct qmm_state {
    ei_matmul_shape ms;
    size_t m, n, k, batch; /* copies of ms's */
    size_t n_tasks;
    ei_dtype yt;
} qmm_state;

static ei_status qmm_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 8, 8, 1));
    for (int i = 0; i < 8; i++)
        if (node->inputs[i] < 0 && i != 2 && i != 5 && i != 7)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "required input %d is missing", i);
    qmm_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status qmm_infer(ei_exec *ex, ei_node *node) {
    qmm_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 3);
    const ei_value *yz = ei_node_in(ex, node, 7);
    if (!ei_q8_is(a->dtype) || !ei_q8_is(b->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs a '%s' (%s) and b '%s' (%s): only uint8 and int8 are "
                             "supported",
                             a->name, ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    s->yt = yz ? yz->dtype : EI_DTYPE_U8;
    if (!ei_q8_is(s->yt))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input y_zero_point '%s' has dtype %s; only uint8 and int8 are "
                             "supported",
                             yz->name, ei_dtype_name(yz->dtype));
    EI_CHECK(ei_matmul_shape_infer(node, a, b, "a", "b", &s->ms));
    s->batch = s->ms.batch;
    s->m = s->ms.m;
    s->n = s->ms.n;
    s->k = s->ms.k;
    EI_CHECK(qln_check_param(ex, node, 1, 2, "a", a->dtype, 0));
    EI_CHECK(qln_check_param(ex, node, 4, 5, "b", b->dtype, s->n));
    EI_CHECK(qln_check_param(ex, node, 6, 7, "y", s->yt, 0));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), s->yt, s->ms.orank, s->ms.odims));
    size_t rows = s->batch * s->m, work;
    if (!ei_size_mul(rows, s->n, &work) || !ei_size_mul(work, s->k ? s->k : 1, &work))
        work = SIZE_MAX;
    s->n_tasks = ei_elem_tasks(ex, work, 1 << 17);
    if (s->n_tasks > rows) s->n_tasks = rows ? rows : 1;
    /* [n] b zero points, [n] multipliers, then one int32 row accumulator per task. */
    size_t words;
    if (!ei_size_mul(s->n, 2 + s->n_tasks, &words) ||
        !ei_size_mul(words, sizeof(int32_t), &node->scratch_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "output too large");
    return EI_STATUS_OK;
}

typedef struct qmm_args {
    const qmm_state *s;
    ei_dtype at, bt;
    const void *a, *b;
    int32_t za, zy;
    const int32_t *bz;
    const float *mult;
    int32_t *acc; /* n per task */
    void *y;
} qmm_args;

static void qmm_task(void *arg, size_t task, int thread) {
    (void)thread;
    const qmm_args *p = arg;
    const qmm_state *s = p->s;
    size_t rows = s->batch * s->m, per = (rows + s->n_tasks - 1) / s->n_tasks;
    size_t r0 = per * task, r1 = r0 + per < rows ? r0 + per : rows;
    size_t n = s->n, k = s->k;
    uint32_t *acc = (uint32_t *)(p->acc + task * n);
    for (size_t r = r0; r < r1; r++) {
        size_t i = r % s->m, ao, bo;
        ei_matmul_batch_offsets(&s->ms, r / s->m, &ao, &bo);
        size_t arow = (ao * s->m + i) * k, bmat = bo * k * n;
        ei_q8_gemm_row(p->at, p->a, arow, p->za, p->bt, p->b, bmat, p->bz, n, k, acc);
        for (size_t j = 0; j < n; j++)
            qln_store(s->yt, p->y, r * n + j, (int32_t)acc[j], p->mult[j], p->zy);
    }
}

static ei_status qmm_run(ei_exec *ex, ei_node *node) {
    const qmm_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 3);
    const ei_value *az = ei_node_in(ex, node, 2), *bz = ei_node_in(ex, node, 5);
    const ei_value *yz = ei_node_in(ex, node, 7);
    const ei_value *as = ei_node_in(ex, node, 1), *bs = ei_node_in(ex, node, 4);
    const ei_value *ys = ei_node_in(ex, node, 6);
    if (s->batch * s->m == 0 || s->n == 0) return EI_STATUS_OK;
    int32_t *bzw = node->scratch;
    float *mult = (float *)(bzw + s->n);
    size_t nb = ei_value_numel(bs);
    float asv = *(const float *)as->data, ysv = *(const float *)ys->data;
    for (size_t j = 0; j < s->n; j++) {
        bzw[j] = bz ? ei_q8_load(bz->dtype, bz->data, nb == 1 ? 0 : j) : 0;
        mult[j] = asv * ((const float *)bs->data)[nb == 1 ? 0 : j] / ysv;
    }
    qmm_args p = {s,
                  a->dtype,
                  b->dtype,
                  a->data,
                  b->data,
                  az ? ei_q8_load(az->dtype, az->data, 0) : 0,
                  yz ? ei_q8_load(yz->dtype, yz->data, 0) : 0,
                  bzw,
                  mult,
                  bzw + 2 * s->n,
                  ei_node_out(ex, node, 0)->data};
    if (s->n_tasks <= 1) qmm_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, s->n_tasks, qmm_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_q_linear_mat_mul = {qmm_prepare, qmm_infer, qmm_run, free,
                                              .dtypes = "uint8 int8"};

/* --------------------------------------------------------------- QLinearConv */

/* Inputs: 0 x, 1 x_scale, 2 x_zero_point, 3 w, 4 w_scale, 5 w_zero_point, 6 y_scale,
 * 7 y_zero_point, 8 B (int32 [M], optional). */
typedef struct qconv_state {
    ei_iconv_geom cg;
    ei_dtype yt;
} qconv_state;

static ei_status qconv_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 8, 9, 1));
    for (int i = 0; i < 8; i++)
        if (node->inputs[i] < 0 && i != 2 && i != 5 && i != 7)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "required input %d is missing", i);
    qconv_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    return ei_geom_parse_conv(node, &s->cg.ga, &s->cg.group);
}

static ei_status qconv_infer(ei_exec *ex, ei_node *node) {
    qconv_state *s = node->state;
    const ei_value *yz = ei_node_in(ex, node, 7), *b = ei_node_in(ex, node, 8);
    char buf[96];
    s->yt = yz ? yz->dtype : EI_DTYPE_U8;
    if (!ei_q8_is(s->yt))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input y_zero_point '%s' has dtype %s; only uint8 and int8 are "
                             "supported",
                             yz->name, ei_dtype_name(yz->dtype));
    EI_CHECK(ei_iconv_infer_geom(ex, node, &s->cg, 0, 3, s->yt));
    EI_CHECK(qln_check_param(ex, node, 1, 2, "x", ei_node_in(ex, node, 0)->dtype, 0));
    EI_CHECK(qln_check_param(ex, node, 4, 5, "w", ei_node_in(ex, node, 3)->dtype, s->cg.cout));
    EI_CHECK(qln_check_param(ex, node, 6, 7, "y", s->yt, 0));
    if (b && (b->dtype != EI_DTYPE_I32 || b->rank != 1 || (size_t)b->dims[0] != s->cg.cout))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input B '%s' (%s %s) must be int32 [%zu]", b->name,
                             ei_dtype_name(b->dtype), ei_shape_str(b->rank, b->dims, buf, sizeof buf),
                             s->cg.cout);
    return EI_STATUS_OK;
}

typedef struct qconv_args {
    const qconv_state *s;
    ei_dtype xt, wt;
    const void *x, *w;
    int32_t xz, yz;
    const ei_value *wz, *ws, *b;
    float xs, ys;
    void *y;
} qconv_args;

static void qconv_task(void *arg, size_t task, int thread) {
    (void)thread;
    const qconv_args *p = arg;
    const ei_iconv_geom *cg = &p->s->cg;
    const ei_geom *g = &cg->g;
    size_t planes = cg->n * cg->cout, per = (planes + cg->n_tasks - 1) / cg->n_tasks;
    size_t b = per * task, e = b + per < planes ? b + per : planes;
    for (size_t q = b; q < e; q++) {
        size_t n = q / cg->cout, m = q % cg->cout, gi = m / cg->cout_g;
        int32_t wz = 0;
        if (p->wz) wz = ei_q8_load(p->wz->dtype, p->wz->data, ei_value_numel(p->wz) == 1 ? 0 : m);
        float ws = ((const float *)p->ws->data)[ei_value_numel(p->ws) == 1 ? 0 : m];
        float mult = p->xs * ws / p->ys;
        uint32_t bias = p->b ? (uint32_t)((const int32_t *)p->b->data)[m] : 0;
        size_t x0 = (n * cg->cin + gi * cg->cin_g) * g->in_size, w0 = m * cg->cin_g * g->k_size;
        size_t o = q * g->out_size;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++) {
                    int32_t acc = ei_iconv_at(cg, p->x, p->xt, p->xz, p->w, p->wt, wz, x0, w0,
                                              od, oh, ow);
                    acc = (int32_t)((uint32_t)acc + bias);
                    qln_store(p->s->yt, p->y, o++, acc, mult, p->yz);
                }
    }
}

static ei_status qconv_run(ei_exec *ex, ei_node *node) {
    const qconv_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 3);
    const ei_value *xz = ei_node_in(ex, node, 2), *yz = ei_node_in(ex, node, 7);
    qconv_args p = {s,
                    x->dtype,
                    w->dtype,
                    x->data,
                    w->data,
                    xz ? ei_q8_load(xz->dtype, xz->data, 0) : 0,
                    yz ? ei_q8_load(yz->dtype, yz->data, 0) : 0,
                    ei_node_in(ex, node, 5),
                    ei_node_in(ex, node, 4),
                    ei_node_in(ex, node, 8),
                    *(const float *)ei_node_in(ex, node, 1)->data,
                    *(const float *)ei_node_in(ex, node, 6)->data,
                    ei_node_out(ex, node, 0)->data};
    const ei_iconv_geom *cg = &s->cg;
    if (cg->n * cg->cout == 0 || cg->g.out_size == 0) return EI_STATUS_OK;
    if (cg->n_tasks <= 1) qconv_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, cg->n_tasks, qconv_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_q_linear_conv = {qconv_prepare, qconv_infer, qconv_run, free,
                                           .dtypes = "uint8 int8"};
