/*
 * strided_copy.c - plans and runs the strided copies of Expand, Tile and Slice: loop-dim
 * collapsing for broadcast/repeat views, and the row loop with typed inner copies for
 * 1/2/4/8-byte blocks, and the prepare/infer/run around them. Output shapes and
 * validation of the ops' own inputs stay in the op files.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"
#include "ops/strided_copy.h"

void ei_strided_plan_collapse(ei_strided_plan *p, int nd, const size_t *dims, const size_t *strides,
                              size_t elem) {
    size_t cd[EI_STRIDED_MAX_LOOP], cs[EI_STRIDED_MAX_LOOP];
    int m = 0;
    for (int k = 0; k < nd; k++) {
        size_t dim = dims[k], sk = strides[k];
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
    p->block = elem;
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
    p->base = 0;
    for (int k = 0; k < m; k++) {
        p->count[k] = cd[k];
        p->stride[k] = (ptrdiff_t)cs[k];
    }
    ei_strided_plan_finish(p);
}

void ei_strided_plan_finish(ei_strided_plan *p) {
    p->outer = 1;
    for (int k = 0; k < p->n - 1; k++)
        p->outer *= p->count[k];
}

typedef struct strided_ctx {
    const ei_strided_plan *p;
    const char *x;
    char *y;
    size_t n_tasks;
} strided_ctx;

/* Source addresses are formed per element (never stepped past the buffer's start). */
#define STRIDED_INNER(T)                                                                           \
    for (size_t j = 0; j < cnt; j++, dst += sizeof(T)) {                                           \
        T v;                                                                                       \
        memcpy(&v, src + (ptrdiff_t)j * str, sizeof(T));                                           \
        memcpy(dst, &v, sizeof(T));                                                                \
    }

static void strided_task(void *arg, size_t task, int thread) {
    (void)thread;
    const strided_ctx *c = arg;
    const ei_strided_plan *p = c->p;
    const size_t cnt = p->count[p->n - 1], blk = p->block;
    const ptrdiff_t str = p->stride[p->n - 1];
    size_t per = (p->outer + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < p->outer ? b + per : p->outer;
    for (size_t o = b; o < e; o++) {
        ptrdiff_t off = p->base;
        size_t rem = o;
        for (int k = p->n - 2; k >= 0; k--) {
            off += (ptrdiff_t)(rem % p->count[k]) * p->stride[k];
            rem /= p->count[k];
        }
        const char *src = c->x + off;
        char *dst = c->y + o * cnt * blk;
        switch (blk) {
        case 1: STRIDED_INNER(uint8_t) break;
        case 2: STRIDED_INNER(uint16_t) break;
        case 4: STRIDED_INNER(uint32_t) break;
        case 8: STRIDED_INNER(uint64_t) break;
        default:
            for (size_t j = 0; j < cnt; j++, dst += blk)
                memcpy(dst, src + (ptrdiff_t)j * str, blk);
        }
    }
}

void ei_strided_copy_run(ei_exec *ex, const ei_strided_plan *p, const void *x, ei_value *y) {
    if (y->nbytes == 0) return;
    strided_ctx c = {p, x, y->data, 1};
    size_t t = ei_elem_tasks(ex, y->nbytes / 4, 32768);
    c.n_tasks = t < p->outer ? t : p->outer;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        strided_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, strided_task, &c);
    }
}

ei_status ei_strided_op_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_strided_op_plan *s = NULL;
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

ei_status ei_strided_op_infer(ei_exec *ex, ei_node *node, const char *what,
                              ei_strided_plan_fn make_plan) {
    ei_strided_op_plan *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *v = ei_node_in(ex, node, 1);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (v->dtype != EI_DTYPE_I64 || v->rank != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (%s) must be a 1-D int64 tensor, got %s of rank %d",
                             v->name, what, ei_dtype_name(v->dtype), v->rank);
    if (!ei_value_known(v) && ei_value_numel(v) > 0) {
        node->dynamic = true;
        return EI_STATUS_OK;
    }
    EI_CHECK(make_plan(ex, node, s));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, s->rank, s->dims);
}

ei_status ei_strided_op_run(ei_exec *ex, ei_node *node, const ei_strided_op_plan *planned,
                            ei_strided_plan_fn make_plan) {
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_strided_op_plan local;
    const ei_strided_op_plan *p = planned;
    if (node->dynamic) {
        EI_CHECK(make_plan(ex, node, &local));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, local.rank, local.dims));
        p = &local;
    }
    ei_strided_copy_run(ex, &p->copy, x->data, ei_node_out(ex, node, 0));
    return EI_STATUS_OK;
}
