/*
 * bitwise.c - BitwiseAnd, BitwiseOr, BitwiseXor (broadcasting) and BitwiseNot (opset 18)
 * on 8- to 64-bit signed and unsigned integers. The bit patterns are combined as unsigned
 * words of the element's width, so signedness does not matter. Broadcast runs come from
 * ops/broadcast.h, split across the thread pool for large outputs.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/broadcast.h"
#include "ops/elem_util.h"

typedef enum bw_kind { BW_AND = 0, BW_OR = 1, BW_XOR = 2, BW_NOT = 3 } bw_kind;

typedef struct bw_state {
    bw_kind kind;
    ei_bcast bc; /* binary ops, from the last infer */
    size_t numel;
} bw_state;

static ei_status bw_prepare_kind(ei_node *node, bw_kind kind) {
    ei_status st = EI_STATUS_OK;
    bw_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, kind == BW_NOT ? 1 : 2, kind == BW_NOT ? 1 : 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->kind = kind;
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static bool bw_is_int(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_I8:
    case EI_DTYPE_I16:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U8:
    case EI_DTYPE_U16:
    case EI_DTYPE_U32:
    case EI_DTYPE_U64: return true;
    default: return false;
    }
}

static ei_status bw_infer(ei_exec *ex, ei_node *node) {
    bw_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    int64_t dims[EI_MAX_RANK];
    int rank;
    char sa[160], sb[160];
    if (!bw_is_int(a->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: 8 to 64-bit integers", a->name,
                             ei_dtype_name(a->dtype));
    if (s->kind == BW_NOT) {
        s->numel = ei_value_numel(a);
        return ei_elem_set_out(node, ei_node_out(ex, node, 0), a->dtype, a->rank, a->dims);
    }
    if (a->dtype != b->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (%s) and '%s' (%s) must have the same dtype", a->name,
                             ei_dtype_name(a->dtype), b->name, ei_dtype_name(b->dtype));
    if (!ei_broadcast_shape(a->rank, a->dims, b->rank, b->dims, &rank, dims))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "inputs '%s' %s and '%s' %s cannot be broadcast together", a->name,
                             ei_shape_str(a->rank, a->dims, sa, sizeof sa), b->name,
                             ei_shape_str(b->rank, b->dims, sb, sizeof sb));
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), a->dtype, rank, dims));
    ei_bcast_init(&s->bc, a->rank, a->dims, b->rank, b->dims, rank, dims);
    s->numel = s->bc.numel;
    return EI_STATUS_OK;
}

typedef struct bw_ctx {
    const bw_state *s;
    size_t es;
    const char *a, *b;
    char *y;
    size_t n_tasks;
} bw_ctx;

#define BW_LOOP(T, EXPR)                                                                           \
    do {                                                                                           \
        const T *pa = (const T *)(const void *)a, *pb = (const T *)(const void *)b;                \
        T *py = (T *)(void *)y;                                                                    \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = pa[i * ia], d = pb[i * ib];                                                      \
            (void)d;                                                                               \
            py[i] = (T)(EXPR);                                                                     \
        }                                                                                          \
    } while (0)

#define BW_KINDS(T)                                                                                \
    switch (kind) {                                                                                \
    case BW_AND: BW_LOOP(T, x & d); break;                                                         \
    case BW_OR: BW_LOOP(T, x | d); break;                                                          \
    case BW_XOR: BW_LOOP(T, x ^ d); break;                                                         \
    case BW_NOT: BW_LOOP(T, ~x); break;                                                            \
    }

/* n elements; a steps by ia, b by ib (0 or 1); y contiguous. For Not, b = a. */
static void bw_apply(bw_kind kind, size_t es, const char *a, size_t ia, const char *b, size_t ib,
                     char *y, size_t n) {
    switch (es) {
    case 1: BW_KINDS(uint8_t) break;
    case 2: BW_KINDS(uint16_t) break;
    case 4: BW_KINDS(uint32_t) break;
    default: BW_KINDS(uint64_t) break;
    }
}

static void bw_row(void *arg, size_t aoff, size_t boff, size_t yoff, size_t n) {
    const bw_ctx *c = arg;
    const ei_bcast *bc = &c->s->bc;
    bw_apply(c->s->kind, c->es, c->a + aoff * c->es, (size_t)bc->sa[bc->rank - 1],
             c->b + boff * c->es, (size_t)bc->sb[bc->rank - 1], c->y + yoff * c->es, n);
}

static void bw_task(void *arg, size_t task, int thread) {
    (void)thread;
    const bw_ctx *c = arg;
    size_t b, e;
    ei_elem_task_range(c->s->numel, c->n_tasks, task, &b, &e);
    if (b >= e) return;
    if (c->s->kind == BW_NOT)
        bw_apply(BW_NOT, c->es, c->a + b * c->es, 1, c->a + b * c->es, 1, c->y + b * c->es, e - b);
    else
        ei_bcast_for_range(&c->s->bc, b, e, bw_row, (void *)c);
}

static ei_status bw_run(ei_exec *ex, ei_node *node) {
    const bw_state *s = node->state;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    bw_ctx c = {
        s, ei_dtype_size(a->dtype), a->data, b ? b->data : NULL, ei_node_out(ex, node, 0)->data, 1};
    if (s->numel == 0) return EI_STATUS_OK;
    c.n_tasks = ei_elem_tasks(ex, s->numel, 32768);
    if (c.n_tasks == 1)
        bw_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, c.n_tasks, bw_task, &c);
    return EI_STATUS_OK;
}

#define BW_OP(id, KIND)                                                                            \
    static ei_status id##_prepare(ei_exec *ex, ei_node *node) {                                    \
        (void)ex;                                                                                  \
        return bw_prepare_kind(node, KIND);                                                        \
    }                                                                                              \
    const ei_op_fns ei_op_fns_##id = {id##_prepare, bw_infer, bw_run, free,                        \
                                      .dtypes =                                                    \
                                          "int8 int16 int32 int64 uint8 uint16 uint32 uint64"};

BW_OP(bitwise_and, BW_AND)
BW_OP(bitwise_or, BW_OR)
BW_OP(bitwise_xor, BW_XOR)
BW_OP(bitwise_not, BW_NOT)
