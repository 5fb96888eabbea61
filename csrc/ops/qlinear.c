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
#include "ops/conv_geometry.h"
#include "ops/elem_util.h"

static bool qln_is_q8(ei_dtype t) { return t == EI_DTYPE_U8 || t == EI_DTYPE_I8; }

static inline int32_t qln_load(ei_dtype t, const void *p, size_t i) {
    return t == EI_DTYPE_U8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

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
    size_t m, n, k, batch;
    int br;
    int64_t bdims[EI_MAX_RANK];
    size_t astr[EI_MAX_RANK], bstr[EI_MAX_RANK];
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
    char buf[128], buf2[128];
    if (!qln_is_q8(a->dtype) || !qln_is_q8(b->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs a '%s' (%s) and b '%s' (%s): only uint8 and int8 are "
                             "supported",
                             a->name, ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    s->yt = yz ? yz->dtype : EI_DTYPE_U8;
    if (!qln_is_q8(s->yt))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input y_zero_point '%s' has dtype %s; only uint8 and int8 are "
                             "supported",
                             yz->name, ei_dtype_name(yz->dtype));
    if (a->rank < 1 || b->rank < 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs a '%s' %s and b '%s' %s must have rank >= 1", a->name,
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
                             "inner dimensions differ: a '%s' %s and b '%s' %s", a->name,
                             ei_shape_str(a->rank, a->dims, buf, sizeof buf), b->name,
                             ei_shape_str(b->rank, b->dims, buf2, sizeof buf2));
    int br = (ra > rb ? ra : rb) - 2;
    size_t as = 1, bs = 1, batch = 1;
    for (int i = br - 1; i >= 0; i--) {
        int ia = i - (br - (ra - 2)), ib = i - (br - (rb - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "batch dims of a '%s' %s and b '%s' %s do not broadcast",
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
    EI_CHECK(qln_check_param(ex, node, 1, 2, "a", a->dtype, 0));
    EI_CHECK(qln_check_param(ex, node, 4, 5, "b", b->dtype, s->n));
    EI_CHECK(qln_check_param(ex, node, 6, 7, "y", s->yt, 0));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), s->yt, orank, od));
    size_t rows = batch * s->m, work;
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
        size_t bi = r / s->m, i = r % s->m, rem = bi, ao = 0, bo = 0;
        for (int d = s->br - 1; d >= 0; d--) {
            size_t dd = (size_t)s->bdims[d], idx = rem % dd;
            rem /= dd;
            ao += idx * s->astr[d];
            bo += idx * s->bstr[d];
        }
        size_t arow = (ao * s->m + i) * k, bmat = bo * k * n;
        memset(acc, 0, n * sizeof *acc);
        for (size_t kk = 0; kk < k; kk++) {
            int32_t av = qln_load(p->at, p->a, arow + kk) - p->za;
            if (av == 0) continue;
            const size_t boff = bmat + kk * n;
            if (p->bt == EI_DTYPE_U8) {
                const uint8_t *b = (const uint8_t *)p->b + boff;
                for (size_t j = 0; j < n; j++) acc[j] += (uint32_t)(av * ((int32_t)b[j] - p->bz[j]));
            } else {
                const int8_t *b = (const int8_t *)p->b + boff;
                for (size_t j = 0; j < n; j++) acc[j] += (uint32_t)(av * ((int32_t)b[j] - p->bz[j]));
            }
        }
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
        bzw[j] = bz ? qln_load(bz->dtype, bz->data, nb == 1 ? 0 : j) : 0;
        mult[j] = asv * ((const float *)bs->data)[nb == 1 ? 0 : j] / ysv;
    }
    qmm_args p = {s,
                  a->dtype,
                  b->dtype,
                  a->data,
                  b->data,
                  az ? qln_load(az->dtype, az->data, 0) : 0,
                  yz ? qln_load(yz->dtype, yz->data, 0) : 0,
                  bzw,
                  mult,
                  bzw + 2 * s->n,
                  ei_node_out(ex, node, 0)->data};
    if (s->n_tasks <= 1) qmm_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, s->n_tasks, qmm_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_q_linear_mat_mul = {qmm_prepare, qmm_infer, qmm_run, free};

/* ------------------------------------------------------ integer convolution core */

/* Shapes of QLinearConv (a copy of integer_ops.c's ConvInteger core). */
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
                    int32_t xv = qln_load(xt, x, xr + iw) - xz, wv = qln_load(wt, w, wr + (size_t)kw) - wz;
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
    if (!qln_is_q8(x->dtype) || !qln_is_q8(w->dtype))
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

/* --------------------------------------------------------------- QLinearConv */

/* Inputs: 0 x, 1 x_scale, 2 x_zero_point, 3 w, 4 w_scale, 5 w_zero_point, 6 y_scale,
 * 7 y_zero_point, 8 B (int32 [M], optional). */
typedef struct qconv_state {
    iconv_geom cg;
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
    return iconv_parse(node, &s->cg);
}

static ei_status qconv_infer(ei_exec *ex, ei_node *node) {
    qconv_state *s = node->state;
    const ei_value *yz = ei_node_in(ex, node, 7), *b = ei_node_in(ex, node, 8);
    char buf[96];
    s->yt = yz ? yz->dtype : EI_DTYPE_U8;
    if (!qln_is_q8(s->yt))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input y_zero_point '%s' has dtype %s; only uint8 and int8 are "
                             "supported",
                             yz->name, ei_dtype_name(yz->dtype));
    EI_CHECK(iconv_infer_geom(ex, node, &s->cg, 0, 3, s->yt));
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
    const iconv_geom *cg = &p->s->cg;
    const ei_geom *g = &cg->g;
    size_t planes = cg->n * cg->cout, per = (planes + cg->n_tasks - 1) / cg->n_tasks;
    size_t b = per * task, e = b + per < planes ? b + per : planes;
    for (size_t q = b; q < e; q++) {
        size_t n = q / cg->cout, m = q % cg->cout, gi = m / cg->cout_g;
        int32_t wz = 0;
        if (p->wz) wz = qln_load(p->wz->dtype, p->wz->data, ei_value_numel(p->wz) == 1 ? 0 : m);
        float ws = ((const float *)p->ws->data)[ei_value_numel(p->ws) == 1 ? 0 : m];
        float mult = p->xs * ws / p->ys;
        uint32_t bias = p->b ? (uint32_t)((const int32_t *)p->b->data)[m] : 0;
        size_t x0 = (n * cg->cin + gi * cg->cin_g) * g->in_size, w0 = m * cg->cin_g * g->k_size;
        size_t o = q * g->out_size;
        for (int64_t od = 0; od < g->out[0]; od++)
            for (int64_t oh = 0; oh < g->out[1]; oh++)
                for (int64_t ow = 0; ow < g->out[2]; ow++) {
                    int32_t acc = iconv_at(cg, p->x, p->xt, p->xz, p->w, p->wt, wz, x0, w0, od, oh, ow);
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
                    xz ? qln_load(xz->dtype, xz->data, 0) : 0,
                    yz ? qln_load(yz->dtype, yz->data, 0) : 0,
                    ei_node_in(ex, node, 5),
                    ei_node_in(ex, node, 4),
                    ei_node_in(ex, node, 8),
                    *(const float *)ei_node_in(ex, node, 1)->data,
                    *(const float *)ei_node_in(ex, node, 6)->data,
                    ei_node_out(ex, node, 0)->data};
    const iconv_geom *cg = &s->cg;
    if (cg->n * cg->cout == 0 || cg->g.out_size == 0) return EI_STATUS_OK;
    if (cg->n_tasks <= 1) qconv_task(&p, 0, 0);
    else ei_threadpool_run(ex->pool, cg->n_tasks, qconv_task, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_q_linear_conv = {qconv_prepare, qconv_infer, qconv_run, free};
