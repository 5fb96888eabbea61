/*
 * expand.c - Expand: broadcasts the input to the shape input (NumPy rules both ways, so a
 * 1 in the shape keeps the input's dim), for any fixed-size dtype. A shape not known at
 * infer makes the node dynamic. The copy plan drops size-1 dims and merges neighbours, so
 * each inner step copies a contiguous block or repeats one; rows go over the thread pool.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef struct expand_plan {
    int rank;
    int64_t dims[EI_MAX_RANK]; /* output */
    int n;                     /* loop dims (>= 1), the last is the inner loop */
    size_t count[EI_MAX_RANK];
    size_t stride[EI_MAX_RANK]; /* source bytes per step (0: repeated) */
    size_t block;               /* contiguous bytes per inner step */
    size_t outer;
} expand_plan;

typedef struct expand_state {
    expand_plan plan; /* from the last infer when not dynamic */
} expand_state;

static ei_status expand_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    expand_state *s = NULL;
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

static ei_status expand_make_plan(const ei_exec *ex, const ei_node *node, expand_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0), *sv = ei_node_in(ex, node, 1);
    int64_t shape[EI_MAX_RANK];
    size_t n_shape = 0;
    char b1[160], b2[160];
    EI_CHECK(ei_elem_read_ints(node, sv, "shape", shape, EI_MAX_RANK, &n_shape));
    for (size_t i = 0; i < n_shape; i++)
        if (shape[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' (shape) %s has a negative dim", sv->name,
                                 ei_shape_str((int)n_shape, shape, b1, sizeof b1));
    if (!ei_broadcast_shape(x->rank, x->dims, (int)n_shape, shape, &p->rank, p->dims))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s cannot be broadcast to input '%s' (shape) %s", x->name,
                             ei_shape_str(x->rank, x->dims, b1, sizeof b1), sv->name,
                             ei_shape_str((int)n_shape, shape, b2, sizeof b2));
    /* Source strides per output dim (0 where the input is broadcast). */
    const int r = p->rank, off = r - x->rank;
    size_t str[EI_MAX_RANK], acc = ei_dtype_size(x->dtype);
    for (int d = r - 1; d >= 0; d--) {
        int xd = d - off;
        if (xd >= 0 && x->dims[xd] != 1) {
            str[d] = acc;
            acc *= (size_t)x->dims[xd];
        } else {
            str[d] = 0;
        }
    }
    /* Collapse: drop size-1 dims, merge a dim into its inner neighbour when both repeat or
     * when it steps exactly over the neighbour's span. */
    size_t cd[EI_MAX_RANK], cs[EI_MAX_RANK];
    int n = 0;
    for (int d = 0; d < r; d++) {
        size_t dim = (size_t)p->dims[d];
        if (dim == 1) continue;
        cd[n] = dim;
        cs[n] = str[d];
        n++;
    }
    int m = 0;
    for (int k = 0; k < n; k++) {
        if (m > 0 && ((cs[m - 1] == 0 && cs[k] == 0) || cs[m - 1] == cs[k] * cd[k])) {
            cd[m - 1] *= cd[k];
            cs[m - 1] = cs[k];
            continue;
        }
        cd[m] = cd[k];
        cs[m] = cs[k];
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

static ei_status expand_infer(ei_exec *ex, ei_node *node) {
    expand_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *sv = ei_node_in(ex, node, 1);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (sv->dtype != EI_DTYPE_I64 || sv->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (shape) must be a 1-D int64 tensor, got %s of rank %d",
                             sv->name, ei_dtype_name(sv->dtype), sv->rank);
    if (!ei_value_known(sv) && ei_value_numel(sv) > 0) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(expand_make_plan(ex, node, &s->plan));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, s->plan.rank, s->plan.dims);
}

typedef struct expand_ctx {
    const expand_plan *p;
    const char *x;
    char *y;
    size_t n_tasks;
} expand_ctx;

#define EXPAND_INNER(T)                                                                            \
    for (size_t j = 0; j < cnt; j++, dst += sizeof(T)) {                                           \
        T v;                                                                                       \
        memcpy(&v, src + j * str, sizeof(T));                                                      \
        memcpy(dst, &v, sizeof(T));                                                                \
    }

static void expand_task(void *arg, size_t task, int thread) {
    (void)thread;
    const expand_ctx *c = arg;
    const expand_plan *p = c->p;
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
        case 1: EXPAND_INNER(uint8_t) break;
        case 2: EXPAND_INNER(uint16_t) break;
        case 4: EXPAND_INNER(uint32_t) break;
        case 8: EXPAND_INNER(uint64_t) break;
        default:
            for (size_t j = 0; j < cnt; j++, dst += blk)
                memcpy(dst, src + j * str, blk);
        }
    }
}

static ei_status expand_run(ei_exec *ex, ei_node *node) {
    const expand_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    expand_plan local;
    const expand_plan *p = &s->plan;
    if (node->dynamic) {
        EI_CHECK(expand_make_plan(ex, node, &local));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, local.rank, local.dims));
        p = &local;
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    expand_ctx c = {p, x->data, y->data, 1};
    size_t t = ei_elem_tasks(ex, y->nbytes / 4, 32768);
    c.n_tasks = t < p->outer ? t : p->outer;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        expand_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, expand_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_expand = {expand_prepare, expand_infer, expand_run, free};
