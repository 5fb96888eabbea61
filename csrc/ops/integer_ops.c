/*
 * integer_ops.c - MatMulInteger and ConvInteger: uint8/int8 operands minus their zero
 * points, products summed into int32 (wrapping like onnxruntime's int32 accumulators, done
 * in uint32 so overflow is defined). Reference loops for now; fast int8 kernels come
 * later. Padded convolution taps contribute nothing (they equal the zero point).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/int_conv.h"
#include "ops/matmul_shape.h"

/* ------------------------------------------------------------ shared helpers */

/* Zero point input i: absent, or uint8/int8 of the operand's dtype with 1 or `per` elements
 * (per = 0: only per-tensor allowed). */
static ei_status iop_check_zp(const ei_exec *ex, const ei_node *node, int i, const char *what,
                              ei_dtype t, size_t per) {
    const ei_value *z = ei_node_in(ex, node, i);
    char buf[96];
    if (!z) return EI_STATUS_OK;
    if (z->dtype != t)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input %s '%s' has dtype %s, expected %s like its operand", what,
                             z->name, ei_dtype_name(z->dtype), ei_dtype_name(t));
    size_t n = ei_value_numel(z);
    if (z->rank > 1 || (n != 1 && (per == 0 || n != per)))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input %s '%s' has shape %s; expected a scalar%s", what, z->name,
                             ei_shape_str(z->rank, z->dims, buf, sizeof buf),
                             per ? " or one value per row/column/channel" : "");
    return EI_STATUS_OK;
}

/* ------------------------------------------------------------ MatMulInteger */

typedef struct mmi_state {
    ei_matmul_shape ms;
    size_t m, n, k, batch; /* copies of ms's */
    size_t n_tasks;
} mmi_state;

static ei_status mmi_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 2, 4, 1));
    mmi_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = s;
    return EI_STATUS_OK;
}

static ei_status mmi_infer(ei_exec *ex, ei_node *node) {
    mmi_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    if (!ei_q8_is(a->dtype) || !ei_q8_is(b->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs A '%s' (%s) and B '%s' (%s): only uint8 and int8 are "
                             "supported",
                             a->name, ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    EI_CHECK(ei_matmul_shape_infer(node, a, b, "A", "B", &s->ms));
    s->batch = s->ms.batch;
    s->m = s->ms.m;
    s->n = s->ms.n;
    s->k = s->ms.k;
    EI_CHECK(iop_check_zp(ex, node, 2, "a_zero_point", a->dtype, s->m));
    EI_CHECK(iop_check_zp(ex, node, 3, "b_zero_point", b->dtype, s->n));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_I32, s->ms.orank,
                             s->ms.odims));
    size_t rows = s->batch * s->m, work;
    if (!ei_size_mul(rows, s->n, &work) || !ei_size_mul(work, s->k ? s->k : 1, &work))
        work = SIZE_MAX;
    s->n_tasks = ei_elem_tasks(ex, work, 1 << 17);
    if (s->n_tasks > rows) s->n_tasks = rows ? rows : 1;
    /* b's zero points widened to int32, once per run */
    if (!ei_size_mul(s->n, sizeof(int32_t), &node->scratch_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "output too large");
    return EI_STATUS_OK;
}

typedef struct mmi_args {
    const mmi_state *s;
    ei_dtype at, bt, azt;
    const void *a, *b, *az;
    size_t n_az;
    const int32_t *bz;
    int32_t *y;
} mmi_args;

static void mmi_task(void *arg, size_t task, int thread) {
    (void)thread;
    const mmi_args *p = arg;
    const mmi_state *s = p->s;
    size_t rows = s->batch * s->m, per = (rows + s->n_tasks - 1) / s->n_tasks;
    size_t r0 = per * task, r1 = r0 + per < rows ? r0 + per : rows;
    size_t n = s->n, k = s->k;
    for (size_t r = r0; r < r1; r++) {
        size_t i = r % s->m, ao, bo;
        ei_matmul_batch_offsets(&s->ms, r / s->m, &ao, &bo);
        size_t arow = (ao * s->m + i) * k, bmat = bo * k * n;
        int32_t za = p->az ? ei_q8_load(p->azt, p->az, p->n_az == 1 ? 0 : i) : 0;
        ei_q8_gemm_row(p->at, p->a, arow, za, p->bt, p->b, bmat, p->bz, n, k,
                       (uint32_t *)(p->y + r * n));
    }
}

static ei_status mmi_run(ei_exec *ex, ei_node *node) {
    const mmi_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    const ei_value *az = ei_node_in(ex, node, 2), *bz = ei_node_in(ex, node, 3);
    int32_t *bzw = node->scratch;
    size_t nbz = bz ? ei_value_numel(bz) : 0;
    for (size_t j = 0; j < s->n; j++)
        bzw[j] = bz ? ei_q8_load(bz->dtype, bz->data, nbz == 1 ? 0 : j) : 0;
    mmi_args p = {s,       a->dtype, b->dtype, az ? az->dtype : EI_DTYPE_U8,
                  a->data, b->data,  az ? az->data : NULL, az ? ei_value_numel(az) : 0,
                  bzw,     ei_node_out(ex, node, 0)->data};
    if (s->batch * s->m == 0 || s->n == 0) return EI_STATUS_OK;
    if (s->n_tasks <= 1) mmi_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, s->n_tasks, mmi_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_mat_mul_integer = {mmi_prepare, mmi_infer, mmi_run, free,
                                             .dtypes = "uint8 int8"};

/* -------------------------------------------------------------- ConvInteger */

/* Inputs: 0 x, 1 w, 2 x_zero_point, 3 w_zero_point (scalar or [M]). */
static ei_status convi_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 2, 4, 1));
    ei_iconv_geom *cg = calloc(1, sizeof *cg);
    if (!cg) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = cg;
    return ei_geom_parse_conv(node, &cg->ga, &cg->group);
}

static ei_status convi_infer(ei_exec *ex, ei_node *node) {
    ei_iconv_geom *cg = node->state;
    EI_CHECK(ei_iconv_infer_geom(ex, node, cg, 0, 1, EI_DTYPE_I32));
    EI_CHECK(iop_check_zp(ex, node, 2, "x_zero_point", ei_node_in(ex, node, 0)->dtype, 0));
    EI_CHECK(iop_check_zp(ex, node, 3, "w_zero_point", ei_node_in(ex, node, 1)->dtype, cg->cout));
    return EI_STATUS_OK;
}

typedef struct convi_args {
    const ei_iconv_geom *cg;
    ei_dtype xt, wt;
    const void *x, *w;
    int32_t xz;
    const ei_value *wz;
    int32_t *y;
} convi_args;

static void convi_task(void *arg, size_t task, int thread) {
    (void)thread;
    const convi_args *p = arg;
    const ei_iconv_geom *cg = p->cg;
    const ei_geom *g = &cg->g;
    size_t planes = cg->n * cg->cout, per = (planes + cg->n_tasks - 1) / cg->n_tasks;
    size_t b = per * task, e = b + per < planes ? b + per : planes;
    for (size_t q = b; q < e; q++) {
        size_t n = q / cg->cout, m = q % cg->cout, gi = m / cg->cout_g;
        int32_t wz = 0;
        if (p->wz) wz = ei_q8_load(p->wz->dtype, p->wz->data, ei_value_numel(p->wz) == 1 ? 0 : m);
        size_t x0 = (n * cg->cin + gi * cg->cin_g) * g->in_size, w0 = m * cg->cin_g * g->k_size;
        int32_t *y = p->y + q * g->out_size;
        size_t o = 0;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++)
                    y[o++] = ei_iconv_at(cg, p->x, p->xt, p->xz, p->w, p->wt, wz, x0, w0, od,
                                         oh, ow);
    }
}

static ei_status convi_run(ei_exec *ex, ei_node *node) {
    const ei_iconv_geom *cg = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *xz = ei_node_in(ex, node, 2);
    convi_args p = {cg,      x->dtype, w->dtype, x->data, w->data,
                    xz ? ei_q8_load(xz->dtype, xz->data, 0) : 0, ei_node_in(ex, node, 3),
                    ei_node_out(ex, node, 0)->data};
    if (cg->n * cg->cout == 0 || cg->g.out_size == 0) return EI_STATUS_OK;
    if (cg->n_tasks <= 1) convi_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, cg->n_tasks, convi_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_conv_integer = {convi_prepare, convi_infer, convi_run, free,
                                          .dtypes = "uint8 int8"};
