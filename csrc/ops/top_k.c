/*
 * top_k.c - TopK: the k largest (or smallest) elements along an axis and their int64
 * indices. k is an attribute at opset 1 and input 1 (known at reshape) from opset 10;
 * largest and sorted come at 11. Each line keeps a bounded heap of k entries in scratch
 * (O(n log k)) and is then heap-sorted best first, so sorted=0 also yields sorted
 * output. Order is total: NaN ranks above every number, ties go to the lower index
 * (as onnxruntime). float32/float64/int32/int64/uint64.
 */
#include <stdlib.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

typedef struct topk_state {
    int64_t k_attr, axis, largest, sorted;
    size_t outer, len, inner, k;
    size_t n_tasks, slot_bytes; /* scratch: n_tasks slots of k heap entries */
} topk_state;

static ei_status topk_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    topk_state *s = calloc(1, sizeof *s);
    if (!s) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
    if (node->opset < 10) {
        EI_TRY(ei_elem_check_io(node, 1, 1, 2));
        if (!ei_node_attr(node, "k")) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'k' is required");
            goto cleanup;
        }
        EI_TRY(ei_node_attr_int(node, "k", 0, &s->k_attr));
        if (s->k_attr < 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'k' = %lld must be >= 1",
                               (long long)s->k_attr);
            goto cleanup;
        }
    } else {
        EI_TRY(ei_elem_check_io(node, 2, 2, 2));
    }
    EI_TRY(ei_node_attr_int(node, "axis", -1, &s->axis));
    EI_TRY(ei_node_attr_int(node, "largest", 1, &s->largest));
    EI_TRY(ei_node_attr_int(node, "sorted", 1, &s->sorted));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status topk_infer(ei_exec *ex, ei_node *node) {
    topk_state *s = node->state;
    ei_value *x = ei_node_in(ex, node, 0);
    int64_t k = s->k_attr;
    int axis;
    switch (x->dtype) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U64: break;
    default:
        return ei_node_error(
            node, EI_STATUS_UNSUPPORTED,
            "input '%s' has dtype %s; supported: float32, float64, int32, int64, uint64", x->name,
            ei_dtype_name(x->dtype));
    }
    if (node->opset >= 10) {
        ei_value *kv = ei_node_in(ex, node, 1);
        size_t n = 0;
        if (!ei_input_ready(ex, kv)) { /* fed at run time: shapes known when it runs */
            node->dynamic = true;
            return EI_STATUS_OK;
        }
        EI_CHECK(ei_elem_read_ints(node, kv, "K", &k, 1, &n));
        if (n != 1)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (K) must hold exactly one value", kv->name);
    }
    if (x->rank == 0 || !ei_elem_norm_axis(s->axis, x->rank, &axis))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                             (long long)s->axis, x->name, x->rank);
    if (k < 0 || k > x->dims[axis])
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "k = %lld is out of range for input '%s': axis %d has size %lld",
                             (long long)k, x->name, axis, (long long)x->dims[axis]);
    s->k = (size_t)k;
    s->outer = s->inner = 1;
    int64_t od[EI_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        if (i < axis) s->outer *= (size_t)x->dims[i];
        if (i > axis) s->inner *= (size_t)x->dims[i];
        od[i] = i == axis ? k : x->dims[i];
    }
    s->len = (size_t)x->dims[axis];
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, od));
    ei_value *iv = ei_node_out(ex, node, 1);
    if (iv) EI_CHECK(ei_elem_set_out(node, iv, EI_DTYPE_I64, x->rank, od));

    size_t lines = s->outer * s->inner, total = 0;
    if (!ei_size_mul(lines, s->len, &total)) total = SIZE_MAX;
    s->n_tasks = ei_elem_tasks(ex, total, 16384);
    if (s->n_tasks > lines) s->n_tasks = lines;
    if (s->n_tasks == 0) s->n_tasks = 1;
    /* An entry is a value (<= 8 bytes) and an int64 index. */
    if (!ei_size_mul(s->k, 16, &s->slot_bytes) ||
        !ei_size_mul(s->slot_bytes, s->n_tasks, &node->scratch_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "k = %lld is too large", (long long)k);
    return EI_STATUS_OK;
}

typedef struct topk_ctx {
    const topk_state *s;
    const void *x;
    void *v;
    int64_t *idx;
    char *scratch;
    ei_dtype dtype;
} topk_ctx;

/* For each type: entry struct, "a ranks before b" (best first), sift-down on a heap
 * whose root is the worst kept entry, and the per-line driver. */
#define TOPK_IMPL(T, ISNAN)                                                                        \
    typedef struct {                                                                               \
        T v;                                                                                       \
        int64_t i;                                                                                 \
    } T##_ent;                                                                                     \
    static bool T##_before(const T##_ent *a, const T##_ent *b, bool largest) {                     \
        bool an = ISNAN(a->v), bn = ISNAN(b->v);                                                   \
        if (an || bn) {                                                                            \
            if (an && bn) return a->i < b->i;                                                      \
            return largest ? an : bn;                                                              \
        }                                                                                          \
        if (a->v != b->v) return largest ? a->v > b->v : a->v < b->v;                              \
        return a->i < b->i;                                                                        \
    }                                                                                              \
    static void T##_sift(T##_ent *h, size_t n, size_t p, bool largest) {                           \
        for (;;) {                                                                                 \
            size_t l = 2 * p + 1, w = p;                                                           \
            if (l < n && T##_before(&h[w], &h[l], largest)) w = l;                                 \
            if (l + 1 < n && T##_before(&h[w], &h[l + 1], largest)) w = l + 1;                     \
            if (w == p) return;                                                                    \
            T##_ent t = h[p];                                                                      \
            h[p] = h[w];                                                                           \
            h[w] = t;                                                                              \
            p = w;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    static void T##_lines(const topk_ctx *c, size_t b, size_t e, T##_ent *h) {                     \
        const topk_state *s = c->s;                                                                \
        bool largest = s->largest != 0;                                                            \
        size_t k = s->k, in = s->inner;                                                            \
        for (size_t line = b; line < e; line++) {                                                  \
            size_t o = line / in, j = line % in;                                                   \
            const T *x = (const T *)c->x + o * s->len * in + j;                                    \
            for (size_t i = 0; i < k; i++) {                                                       \
                h[i].v = x[i * in];                                                                \
                h[i].i = (int64_t)i;                                                               \
            }                                                                                      \
            for (size_t p = k / 2; p-- > 0;)                                                       \
                T##_sift(h, k, p, largest);                                                        \
            for (size_t i = k; i < s->len; i++) {                                                  \
                T##_ent cand = {x[i * in], (int64_t)i};                                            \
                /* quick reject: no better than the worst kept (a tie loses: later index);         \
                 * false whenever a NaN is involved, which takes the full comparison */            \
                if (largest ? cand.v <= h[0].v : cand.v >= h[0].v) continue;                       \
                if (T##_before(&cand, &h[0], largest)) {                                           \
                    h[0] = cand;                                                                   \
                    T##_sift(h, k, 0, largest);                                                    \
                }                                                                                  \
            }                                                                                      \
            for (size_t n = k; n > 1; n--) {                                                       \
                T##_ent t = h[0];                                                                  \
                h[0] = h[n - 1];                                                                   \
                h[n - 1] = t;                                                                      \
                T##_sift(h, n - 1, 0, largest);                                                    \
            }                                                                                      \
            T *v = (T *)c->v + o * k * in + j;                                                     \
            int64_t *ix = c->idx ? c->idx + o * k * in + j : NULL;                                 \
            for (size_t i = 0; i < k; i++) {                                                       \
                v[i * in] = h[i].v;                                                                \
                if (ix) ix[i * in] = h[i].i;                                                       \
            }                                                                                      \
        }                                                                                          \
    }

#define TOPK_ISNAN(v) ((v) != (v))
#define TOPK_NEVER_NAN(v) ((void)(v), false)
TOPK_IMPL(float, TOPK_ISNAN)
TOPK_IMPL(double, TOPK_ISNAN)
TOPK_IMPL(int32_t, TOPK_NEVER_NAN)
TOPK_IMPL(int64_t, TOPK_NEVER_NAN)
TOPK_IMPL(uint64_t, TOPK_NEVER_NAN)

static void topk_task(void *arg, size_t task, int thread) {
    (void)thread;
    const topk_ctx *c = arg;
    const topk_state *s = c->s;
    size_t lines = s->outer * s->inner, per = (lines + s->n_tasks - 1) / s->n_tasks;
    size_t b = per * task, e = b + per;
    if (b > lines) b = lines;
    if (e > lines) e = lines;
    void *h = c->scratch + task * s->slot_bytes;
    switch (c->dtype) {
    case EI_DTYPE_F32: float_lines(c, b, e, h); break;
    case EI_DTYPE_F64: double_lines(c, b, e, h); break;
    case EI_DTYPE_I32: int32_t_lines(c, b, e, h); break;
    case EI_DTYPE_I64: int64_t_lines(c, b, e, h); break;
    case EI_DTYPE_U64: uint64_t_lines(c, b, e, h); break;
    default: break;
    }
}

static ei_status topk_run(ei_exec *ex, ei_node *node) {
    const topk_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *iv = ei_node_out(ex, node, 1);
    topk_ctx c = {
        s, x->data, ei_node_out(ex, node, 0)->data, iv ? iv->data : NULL, node->scratch, x->dtype};
    if (s->k == 0 || s->outer * s->inner == 0) return EI_STATUS_OK;
    if (s->n_tasks <= 1)
        topk_task(&c, 0, 0);
    else
        ei_threadpool_run(ex->pool, s->n_tasks, topk_task, &c);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_top_k = {topk_prepare, topk_infer, topk_run, free,
                                   .dtypes = "float32 float64 int32 int64 uint64"};
