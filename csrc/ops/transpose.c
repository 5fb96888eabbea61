/*
 * transpose.c - Transpose for any fixed-size dtype. infer builds a copy plan: size-1
 * dims are dropped, output dims that are adjacent in the input are merged, and a
 * contiguous innermost run becomes one wider "element". run copies 32x32 tiles of the
 * last two plan dims (reads and writes both stay in cache), split over the thread pool;
 * tiles that are a true transpose of 32-bit elements go to the x32_transpose kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

#define TR_TILE 32

typedef struct transpose_state {
    int64_t perm_attr[EI_MAX_RANK];
    int n_perm; /* -1: attribute absent (reverse) */
    /* Plan from the last infer: output dims with input byte strides, rank >= 2. */
    int rank;
    size_t dims[EI_MAX_RANK];
    size_t strides[EI_MAX_RANK];
    size_t esize;    /* bytes per plan element */
    size_t outer;    /* product of dims[0 .. rank-3] */
    size_t n_blocks; /* row blocks of dims[rank-2] */
    size_t nbytes;   /* total bytes; 0 = nothing to do */
} transpose_state;

static ei_status transpose_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    transpose_state *s = NULL;
    const int64_t *perm = NULL;
    size_t n = 0;
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_ints(node, "perm", &perm, &n));
    s->n_perm = -1;
    if (perm) {
        if (n > EI_MAX_RANK) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute 'perm' has %zu entries, more than %d", n, EI_MAX_RANK);
            goto cleanup;
        }
        bool seen[EI_MAX_RANK] = {false};
        for (size_t i = 0; i < n; i++) {
            if (perm[i] < 0 || perm[i] >= (int64_t)n || seen[perm[i]]) {
                st = ei_node_error(
                    node, EI_STATUS_INVALID_MODEL,
                    "attribute 'perm' is not a permutation of 0..%zu (entry %zu = %lld)",
                    n ? n - 1 : 0, i, (long long)perm[i]);
                goto cleanup;
            }
            seen[perm[i]] = true;
            s->perm_attr[i] = perm[i];
        }
        s->n_perm = (int)n;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status transpose_infer(ei_exec *ex, ei_node *node) {
    transpose_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0), *y = ei_node_out(ex, node, 0);
    int r = x->rank, perm[EI_MAX_RANK];
    int64_t odims[EI_MAX_RANK];
    size_t istr[EI_MAX_RANK], es = ei_dtype_size(x->dtype);
    if (es == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (s->n_perm >= 0 && s->n_perm != r)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "attribute 'perm' has %d entries but input '%s' has rank %d",
                             s->n_perm, x->name, r);
    for (int i = 0; i < r; i++)
        perm[i] = s->n_perm >= 0 ? (int)s->perm_attr[i] : r - 1 - i;
    for (int i = 0; i < r; i++)
        odims[i] = x->dims[perm[i]];
    EI_CHECK(ei_elem_set_out(node, y, x->dtype, r, odims));

    size_t acc = es;
    for (int i = r - 1; i >= 0; i--) {
        istr[i] = acc;
        acc *= (size_t)x->dims[i];
    }
    /* Plan: drop size-1 dims, merge output neighbours that are adjacent in the input. */
    int cr = 0;
    size_t cd[EI_MAX_RANK], cs[EI_MAX_RANK];
    for (int k = 0; k < r; k++) {
        size_t d = (size_t)odims[k], st = istr[perm[k]];
        if (d == 1) continue;
        if (cr > 0 && cs[cr - 1] == st * d) {
            cd[cr - 1] *= d;
            cs[cr - 1] = st;
        } else {
            cd[cr] = d;
            cs[cr] = st;
            cr++;
        }
    }
    s->nbytes = y->nbytes;
    /* A contiguous innermost run becomes the element. */
    if (cr > 0 && cs[cr - 1] == es) {
        es *= cd[cr - 1];
        cr--;
    }
    /* Pad to rank 2 with leading dims of size 1. */
    int pad = cr < 2 ? 2 - cr : 0;
    for (int k = 0; k < pad; k++) {
        s->dims[k] = 1;
        s->strides[k] = 0;
    }
    for (int k = 0; k < cr; k++) {
        s->dims[pad + k] = cd[k];
        s->strides[pad + k] = cs[k];
    }
    s->rank = cr + pad;
    s->esize = es;
    s->outer = 1;
    for (int k = 0; k < s->rank - 2; k++)
        s->outer *= s->dims[k];
    s->n_blocks = (s->dims[s->rank - 2] + TR_TILE - 1) / TR_TILE;
    return EI_STATUS_OK;
}

typedef struct transpose_ctx {
    const transpose_state *s;
    const char *x;
    char *y;
    size_t n_tasks, n_units;
} transpose_ctx;

#define TR_TILE_COPY(T)                                                                            \
    for (size_t j0 = 0; j0 < d1; j0 += TR_TILE) {                                                  \
        size_t j1 = j0 + TR_TILE < d1 ? j0 + TR_TILE : d1;                                         \
        for (size_t i = i0; i < i1; i++) {                                                         \
            const char *src = xb + i * s2 + j0 * s1;                                               \
            char *dst = yb + (i * d1 + j0) * sizeof(T);                                            \
            for (size_t j = j0; j < j1; j++, src += s1, dst += sizeof(T)) {                        \
                T v;                                                                               \
                memcpy(&v, src, sizeof(T));                                                        \
                memcpy(dst, &v, sizeof(T));                                                        \
            }                                                                                      \
        }                                                                                          \
    }

/* Unit u: outer index u / n_blocks, row block u % n_blocks of the last two dims. */
static void transpose_unit(const transpose_ctx *c, size_t u) {
    const transpose_state *s = c->s;
    const int r = s->rank;
    const size_t d2 = s->dims[r - 2], d1 = s->dims[r - 1];
    const size_t s2 = s->strides[r - 2], s1 = s->strides[r - 1], es = s->esize;
    size_t o = u / s->n_blocks, blk = u % s->n_blocks;
    size_t i0 = blk * TR_TILE, i1 = i0 + TR_TILE < d2 ? i0 + TR_TILE : d2;
    size_t xoff = 0, rem = o;
    for (int k = r - 3; k >= 0; k--) {
        xoff += (rem % s->dims[k]) * s->strides[k];
        rem /= s->dims[k];
    }
    const char *xb = c->x + xoff;
    char *yb = c->y + o * d2 * d1 * es;
    if (es == 4 && s2 == 4 && s1 % 4 == 0 && ((uintptr_t)xb | (uintptr_t)yb) % 4 == 0) {
        /* A true transpose of 32-bit elements: the input rows are the output columns. */
        ei_kernels()->x32_transpose(d1, i1 - i0, (const uint32_t *)(const void *)(xb + i0 * 4),
                                    s1 / 4, (uint32_t *)(void *)(yb + i0 * d1 * 4), d1);
        return;
    }
    switch (es) {
    case 1: TR_TILE_COPY(uint8_t) break;
    case 2: TR_TILE_COPY(uint16_t) break;
    case 4: TR_TILE_COPY(uint32_t) break;
    case 8: TR_TILE_COPY(uint64_t) break;
    default:
        for (size_t i = i0; i < i1; i++)
            for (size_t j = 0; j < d1; j++)
                memcpy(yb + (i * d1 + j) * es, xb + i * s2 + j * s1, es);
        break;
    }
}

static void transpose_task(void *arg, size_t task, int thread) {
    (void)thread;
    const transpose_ctx *c = arg;
    size_t per = (c->n_units + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->n_units ? b + per : c->n_units;
    for (size_t u = b; u < e; u++)
        transpose_unit(c, u);
}

static ei_status transpose_run(ei_exec *ex, ei_node *node) {
    const transpose_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (s->nbytes == 0) return EI_STATUS_OK;
    transpose_ctx c = {s, x->data, y->data, 1, s->outer * s->n_blocks};
    size_t t = ei_elem_tasks(ex, s->nbytes / 4, 32768);
    c.n_tasks = t < c.n_units ? t : c.n_units;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        transpose_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, transpose_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_transpose = {transpose_prepare, transpose_infer, transpose_run, free,
                                       .dtypes = "any"};
