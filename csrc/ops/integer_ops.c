/*
 * integer_ops.c - MatMulInteger and ConvInteger: uint8/int8 operands minus their zero
 * points, products summed into int32 (wrapping like onnxruntime's int32 accumulators, done
 * in uint32 so overflow is defined). Reference loops for now; fast int8 kernels come
 * later. Padded convolution taps contribute nothing (they equal the zero point).
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/conv_geometry.h"
#include "ops/elem_util.h"

/* ------------------------------------------------------------ shared helpers */

static bool iop_is_q8(ei_dtype t) { return t == EI_DTYPE_U8 || t == EI_DTYPE_I8; }

static inline int32_t iop_load(ei_dtype t, const void *p, size_t i) {
    return t == EI_DTYPE_U8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

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
    size_t m, n, k, batch;
    int br;
    int64_t bdims[EI_MAX_RANK];
    size_t astr[EI_MAX_RANK], bstr[EI_MAX_RANK]; /* in matrices; 0 = broadcast */
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
    char buf[128], buf2[128];
    if (!iop_is_q8(a->dtype) || !iop_is_q8(b->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs A '%s' (%s) and B '%s' (%s): only uint8 and int8 are "
                             "supported",
                             a->name, ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    if (a->rank < 1 || b->rank < 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs A '%s' %s and B '%s' %s must have rank >= 1", a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    int ra = a->rank < 2 ? 2 : a->rank, rb = b->rank < 2 ? 2 : b->rank;
    int64_t ad[EI_MAX_RANK], bd[EI_MAX_RANK];
    if (a->rank == 1) { ad[0] = 1; ad[1] = a->dims[0]; }
    else memcpy(ad, a->dims, (size_t)ra * sizeof(int64_t));
    if (b->rank == 1) { bd[0] = b->dims[0]; bd[1] = 1; }
    else memcpy(bd, b->dims, (size_t)rb * sizeof(int64_t));
    int64_t m = ad[ra - 2], k = ad[ra - 1], n = bd[rb - 1];
    if (k != bd[rb - 2])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inner dimensions differ: A '%s' %s and B '%s' %s", a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    int br = (ra > rb ? ra : rb) - 2;
    size_t as = 1, bs = 1, batch = 1;
    for (int i = br - 1; i >= 0; i--) {
        int ia = i - (br - (ra - 2)), ib = i - (br - (rb - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "batch dims of A '%s' %s and B '%s' %s do not broadcast",
                                 a->name, ei_shape_str(a->rank, a->dims, buf, sizeof buf),
                                 b->name, ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
        int64_t d = da > db ? da : db;
        if (da == 0 || db == 0) d = 0;
        s->bdims[i] = d;
        s->astr[i] = da == 1 ? 0 : as;
        s->bstr[i] = db == 1 ? 0 : bs;
        as *= (size_t)da;
        bs *= (size_t)db;
        batch *= (size_t)d;
    }
    int64_t od[EI_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < br; i++) od[orank++] = s->bdims[i];
    if (a->rank >= 2) od[orank++] = m;
    if (b->rank >= 2) od[orank++] = n;
    s->br = br;
    s->batch = batch;
    s->m = (size_t)m;
    s->n = (size_t)n;
    s->k = (size_t)k;
    EI_CHECK(iop_check_zp(ex, node, 2, "a_zero_point", a->dtype, s->m));
    EI_CHECK(iop_check_zp(ex, node, 3, "b_zero_point", b->dtype, s->n));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), EI_DTYPE_I32, orank, od));
    size_t rows = batch * s->m, work;
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
        size_t bi = r / s->m, i = r % s->m, rem = bi, ao = 0, bo = 0;
        for (int d = s->br - 1; d >= 0; d--) {
            size_t dd = (size_t)s->bdims[d], idx = rem % dd;
            rem /= dd;
            ao += idx * s->astr[d];
            bo += idx * s->bstr[d];
        }
        size_t arow = (ao * s->m + i) * k, bmat = bo * k * n;
        int32_t za = p->az ? iop_load(p->azt, p->az, p->n_az == 1 ? 0 : i) : 0;
        uint32_t *y = (uint32_t *)(p->y + r * n);
        memset(y, 0, n * sizeof *y);
        for (size_t kk = 0; kk < k; kk++) {
            int32_t av = iop_load(p->at, p->a, arow + kk) - za;
            if (av == 0) continue;
            const size_t boff = bmat + kk * n;
            if (p->bt == EI_DTYPE_U8) {
                const uint8_t *b = (const uint8_t *)p->b + boff;
                for (size_t j = 0; j < n; j++) y[j] += (uint32_t)(av * ((int32_t)b[j] - p->bz[j]));
            } else {
                const int8_t *b = (const int8_t *)p->b + boff;
                for (size_t j = 0; j < n; j++) y[j] += (uint32_t)(av * ((int32_t)b[j] - p->bz[j]));
            }
        }
    }
}

static ei_status mmi_run(ei_exec *ex, ei_node *node) {
    const mmi_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    const ei_value *az = ei_node_in(ex, node, 2), *bz = ei_node_in(ex, node, 3);
    int32_t *bzw = node->scratch;
    size_t nbz = bz ? ei_value_numel(bz) : 0;
    for (size_t j = 0; j < s->n; j++)
        bzw[j] = bz ? iop_load(bz->dtype, bz->data, nbz == 1 ? 0 : j) : 0;
    mmi_args p = {s,       a->dtype, b->dtype, az ? az->dtype : EI_DTYPE_U8,
                  a->data, b->data,  az ? az->data : NULL, az ? ei_value_numel(az) : 0,
                  bzw,     ei_node_out(ex, node, 0)->data};
    if (s->batch * s->m == 0 || s->n == 0) return EI_STATUS_OK;
    if (s->n_tasks <= 1) mmi_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, s->n_tasks, mmi_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_mat_mul_integer = {mmi_prepare, mmi_infer, mmi_run, free};

/* ------------------------------------------------------ integer convolution core */

/* Shapes shared by ConvInteger and (in qlinear.c, a copy) QLinearConv. */
typedef struct iconv_geom {
    ei_geom_attrs ga;
    int64_t group;
    ei_geom g;
    size_t n, cin, cout, cin_g, cout_g, n_tasks;
} iconv_geom;

/* Accumulator of output (od, oh, ow) for one filter: sum over the group's cin_g channels
 * and the in-bounds taps of (x - xz) * (w - wz), wrapping in uint32. */
static int32_t iconv_at(const iconv_geom *cg, const void *x, ei_dtype xt, int32_t xz, const void *w,
                        ei_dtype wt, int32_t wz, size_t x0, size_t w0, int64_t od, int64_t oh,
                        int64_t ow) {
    const ei_geom *g = &cg->g;
    int64_t st[3] = {od * g->s[0] - g->pb[0], oh * g->s[1] - g->pb[1], ow * g->s[2] - g->pb[2]};
    int64_t lo[3], hi[3];
    for (int j = 0; j < 3; j++) ei_geom_window_taps(st[j], g->d[j], g->in[j], g->k[j], &lo[j], &hi[j]);
    uint32_t acc = 0;
    for (size_t c = 0; c < cg->cin_g; c++) {
        size_t xc = x0 + c * g->in_size, wc = w0 + c * g->k_size;
        for (int64_t kd = lo[0]; kd < hi[0]; kd++) {
            size_t id = (size_t)(st[0] + kd * g->d[0]);
            for (int64_t kh = lo[1]; kh < hi[1]; kh++) {
                size_t ih = (size_t)(st[1] + kh * g->d[1]);
                size_t xr = xc + (id * (size_t)g->in[1] + ih) * (size_t)g->in[2];
                size_t wr = wc + ((size_t)kd * (size_t)g->k[1] + (size_t)kh) * (size_t)g->k[2];
                for (int64_t kw = lo[2]; kw < hi[2]; kw++) {
                    size_t iw = (size_t)(st[2] + kw * g->d[2]);
                    int32_t xv = iop_load(xt, x, xr + iw) - xz, wv = iop_load(wt, w, wr + (size_t)kw) - wz;
                    acc += (uint32_t)(xv * wv);
                }
            }
        }
    }
    return (int32_t)acc;
}

/* Validates x and w (inputs xi, wi) and resolves the geometry; sets the output shape. */
static ei_status iconv_infer_geom(ei_exec *ex, ei_node *node, iconv_geom *cg, int xi, int wi,
                                  ei_dtype out_dtype) {
    const ei_value *x = ei_node_in(ex, node, xi), *w = ei_node_in(ex, node, wi);
    char buf[128], buf2[128];
    if (!iop_is_q8(x->dtype) || !iop_is_q8(w->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs x '%s' (%s) and w '%s' (%s): only uint8 and int8 are "
                             "supported",
                             x->name, ei_dtype_name(x->dtype), w->name, ei_dtype_name(w->dtype));
    if (w->rank < 3 || w->rank > 5 || x->rank != w->rank)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "x '%s' %s and w '%s' %s must have the same rank, 3 to 5", x->name,
                             ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2));
    if (w->dims[0] % cg->group != 0 || x->dims[1] != w->dims[1] * cg->group)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "x '%s' %s and w '%s' %s do not agree with group=%lld", x->name,
                             ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2),
                             (long long)cg->group);
    int nsp = x->rank - 2;
    if (cg->ga.n_kernel) {
        bool same = cg->ga.n_kernel == (size_t)nsp;
        for (int i = 0; same && i < nsp; i++) same = cg->ga.kernel[i] == w->dims[2 + i];
        if (!same)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute 'kernel_shape' does not match w '%s' %s", w->name,
                                 ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    }
    EI_CHECK(ei_geom_resolve(node, &cg->ga, nsp, x->dims + 2, w->dims + 2, x->name, &cg->g));
    cg->n = (size_t)x->dims[0];
    cg->cin = (size_t)x->dims[1];
    cg->cout = (size_t)w->dims[0];
    cg->cin_g = (size_t)w->dims[1];
    cg->cout_g = cg->cout / (size_t)cg->group;
    int64_t od[EI_MAX_RANK] = {x->dims[0], w->dims[0]};
    for (int i = 0; i < nsp; i++) od[2 + i] = cg->g.out[3 - nsp + i];
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), out_dtype, x->rank, od));
    size_t planes = cg->n * cg->cout, work = 0;
    if (!ei_size_mul(planes * cg->g.out_size, cg->cin_g * cg->g.k_size, &work)) work = SIZE_MAX;
    cg->n_tasks = ei_elem_tasks(ex, work, 1 << 16);
    if (cg->n_tasks > planes) cg->n_tasks = planes ? planes : 1;
    return EI_STATUS_OK;
}

static ei_status iconv_parse(ei_node *node, iconv_geom *cg) {
    EI_CHECK(ei_geom_parse(node, true, false, &cg->ga));
    EI_CHECK(ei_node_attr_int(node, "group", 1, &cg->group));
    if (cg->group < 1 || cg->group > EI_GEOM_MAX_ATTR)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'group' = %lld, expected a positive value",
                             (long long)cg->group);
    return EI_STATUS_OK;
}

/* -------------------------------------------------------------- ConvInteger */

/* Inputs: 0 x, 1 w, 2 x_zero_point, 3 w_zero_point (scalar or [M]). */
static ei_status convi_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    EI_CHECK(ei_elem_check_io(node, 2, 4, 1));
    iconv_geom *cg = calloc(1, sizeof *cg);
    if (!cg) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    node->state = cg;
    return iconv_parse(node, cg);
}

static ei_status convi_infer(ei_exec *ex, ei_node *node) {
    iconv_geom *cg = node->state;
    EI_CHECK(iconv_infer_geom(ex, node, cg, 0, 1, EI_DTYPE_I32));
    EI_CHECK(iop_check_zp(ex, node, 2, "x_zero_point", ei_node_in(ex, node, 0)->dtype, 0));
    EI_CHECK(iop_check_zp(ex, node, 3, "w_zero_point", ei_node_in(ex, node, 1)->dtype, cg->cout));
    return EI_STATUS_OK;
}

typedef struct convi_args {
    const iconv_geom *cg;
    ei_dtype xt, wt;
    const void *x, *w;
    int32_t xz;
    const ei_value *wz;
    int32_t *y;
} convi_args;

static void convi_task(void *arg, size_t task, int thread) {
    (void)thread;
    const convi_args *p = arg;
    const iconv_geom *cg = p->cg;
    const ei_geom *g = &cg->g;
    size_t planes = cg->n * cg->cout, per = (planes + cg->n_tasks - 1) / cg->n_tasks;
    size_t b = per * task, e = b + per < planes ? b + per : planes;
    for (size_t q = b; q < e; q++) {
        size_t n = q / cg->cout, m = q % cg->cout, gi = m / cg->cout_g;
        int32_t wz = 0;
        if (p->wz) wz = iop_load(p->wz->dtype, p->wz->data, ei_value_numel(p->wz) == 1 ? 0 : m);
        size_t x0 = (n * cg->cin + gi * cg->cin_g) * g->in_size, w0 = m * cg->cin_g * g->k_size;
        int32_t *y = p->y + q * g->out_size;
        size_t o = 0;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++)
                    y[o++] = iconv_at(cg, p->x, p->xt, p->xz, p->w, p->wt, wz, x0, w0, od, oh, ow);
    }
}

static ei_status convi_run(ei_exec *ex, ei_node *node) {
    const iconv_geom *cg = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *xz = ei_node_in(ex, node, 2);
    convi_args p = {cg,      x->dtype, w->dtype, x->data, w->data,
                    xz ? iop_load(xz->dtype, xz->data, 0) : 0, ei_node_in(ex, node, 3),
                    ei_node_out(ex, node, 0)->data};
    if (cg->n * cg->cout == 0 || cg->g.out_size == 0) return EI_STATUS_OK;
    if (cg->n_tasks <= 1) convi_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, cg->n_tasks, convi_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_conv_integer = {convi_prepare, convi_infer, convi_run, free};
