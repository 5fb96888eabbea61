/*
 * tile.c - Tile (opset 6+): repeats the input repeats[d] times along each dim, for any
 * fixed-size dtype. Repeats not known at infer make the node dynamic. The output is viewed
 * as [rep0, d0, rep1, d1, ...] read with strides [0, s0, 0, s1, ...]; the plan drops size-1
 * dims and merges neighbours, so inner steps copy contiguous blocks; rows go over the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

#define TILE_MAX_LOOP (2 * EI_MAX_RANK)

typedef struct tile_plan {
    int rank;
    int64_t dims[EI_MAX_RANK]; /* output */
    int n;                     /* loop dims (>= 1), the last is the inner loop */
    size_t count[TILE_MAX_LOOP];
    size_t stride[TILE_MAX_LOOP]; /* source bytes per step (0: repeated) */
    size_t block;                 /* contiguous bytes per inner step */
    size_t outer;
} tile_plan;

typedef struct tile_state {
    tile_plan plan; /* from the last infer when not dynamic */
} tile_state;

static ei_status tile_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    tile_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status tile_make_plan(const ei_exec *ex, const ei_node *node, tile_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0), *rv = ei_node_in(ex, node, 1);
    const int r = x->rank;
    int64_t rep[EI_MAX_RANK];
    size_t n_rep = 0;
    char b1[160], b2[160];
    EI_CHECK(ei_elem_read_ints(node, rv, "repeats", rep, EI_MAX_RANK, &n_rep));
    if (n_rep != (size_t)r)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (repeats) has %zu entries but input '%s' %s has rank %d",
                             rv->name, n_rep, x->name, ei_shape_str(r, x->dims, b1, sizeof b1), r);
    p->rank = r;
    for (int d = 0; d < r; d++) {
        if (rep[d] < 0 || __builtin_mul_overflow(x->dims[d], rep[d], &p->dims[d]))
            return ei_node_error(
                node, EI_STATUS_INVALID_ARGUMENT,
                "input '%s' (repeats) %s is negative or too large for input '%s' %s", rv->name,
                ei_shape_str(r, rep, b1, sizeof b1), x->name,
                ei_shape_str(r, x->dims, b2, sizeof b2));
    }
    /* Loop dims [rep0, d0, rep1, d1, ...] without size-1 ones, merged where possible. */
    size_t cd[TILE_MAX_LOOP], cs[TILE_MAX_LOOP], str[EI_MAX_RANK], acc = ei_dtype_size(x->dtype);
    for (int d = r - 1; d >= 0; d--) {
        str[d] = acc;
        acc *= (size_t)x->dims[d];
    }
    int m = 0;
    for (int k = 0; k < 2 * r; k++) {
        size_t dim = (size_t)(k % 2 ? x->dims[k / 2] : rep[k / 2]);
        size_t sk = k % 2 ? str[k / 2] : 0;
        if (dim == 1) continue;
        if (m > 0 && ((cs[m - 1] == 0 && sk == 0) || cs[m - 1] == sk * dim)) {
            cd[m - 1] *= dim;
            cs[m - 1] = sk;
            continue;
        }
        cd[m] = dim;
        cs[m] = sk;
        m++;
    }
    p->block = ei_dtype_size(x->dtype);
    if (m > 0 && cs[m - 1] == p->block) {
        p->block *= cd[m - 1];
        m--;
    }
    if (m == 0) {
        cd[0] = 1;
        cs[0] = 0;
        m = 1;
    }
    p->n = m;
    p->outer = 1;
    for (int k = 0; k < m; k++) {
        p->count[k] = cd[k];
        p->stride[k] = cs[k];
        if (k < m - 1) p->outer *= cd[k];
    }
    return EI_STATUS_OK;
}

static ei_status tile_infer(ei_exec *ex, ei_node *node) {
    tile_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *rv = ei_node_in(ex, node, 1);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (rv->dtype != EI_DTYPE_I64 || rv->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (repeats) must be a 1-D int64 tensor, got %s of rank %d",
                             rv->name, ei_dtype_name(rv->dtype), rv->rank);
    if (!ei_value_known(rv) && ei_value_numel(rv) > 0) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(tile_make_plan(ex, node, &s->plan));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, s->plan.rank, s->plan.dims);
}

typedef struct tile_ctx {
    const tile_plan *p;
    const char *x;
    char *y;
    size_t n_tasks;
} tile_ctx;

#define TILE_INNER(T)                                                                              \
    for (size_t j = 0; j < cnt; j++, dst += sizeof(T)) {                                           \
        T v;                                                                                       \
        memcpy(&v, src + j * str, sizeof(T));                                                      \
        memcpy(dst, &v, sizeof(T));                                                                \
    }

static void tile_task(void *arg, size_t task, int thread) {
    (void)thread;
    const tile_ctx *c = arg;
    const tile_plan *p = c->p;
    const size_t cnt = p->count[p->n - 1], str = p->stride[p->n - 1], blk = p->block;
    size_t per = (p->outer + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < p->outer ? b + per : p->outer;
    for (size_t o = b; o < e; o++) {
        size_t off = 0, rem = o;
        for (int k = p->n - 2; k >= 0; k--) {
            off += (rem % p->count[k]) * p->stride[k];
            rem /= p->count[k];
        }
        const char *src = c->x + off;
        char *dst = c->y + o * cnt * blk;
        switch (blk) {
        case 1: TILE_INNER(uint8_t) break;
        case 2: TILE_INNER(uint16_t) break;
        case 4: TILE_INNER(uint32_t) break;
        case 8: TILE_INNER(uint64_t) break;
        default:
            for (size_t j = 0; j < cnt; j++, dst += blk)
                memcpy(dst, src + j * str, blk);
        }
    }
}

static ei_status tile_run(ei_exec *ex, ei_node *node) {
    const tile_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    tile_plan local;
    const tile_plan *p = &s->plan;
    if (node->dynamic) {
        EI_CHECK(tile_make_plan(ex, node, &local));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, local.rank, local.dims));
        p = &local;
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    tile_ctx c = {p, x->data, y->data, 1};
    size_t t = ei_elem_tasks(ex, y->nbytes / 4, 32768);
    c.n_tasks = t < p->outer ? t : p->outer;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        tile_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, tile_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_tile = {tile_prepare, tile_infer, tile_run, free};
