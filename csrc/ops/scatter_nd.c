/*
 * scatter_nd.c - ScatterND: a copy of data with each update slice written (or reduced:
 * add, mul from opset 16; max, min from 18) at the position its index tuple gives, in
 * tuple order. Reductions work on float, double and the integer types (integers wrap);
 * plain writes on any fixed-size dtype. Every index is checked in run before any write.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

enum { SND_NONE, SND_ADD, SND_MUL, SND_MAX, SND_MIN };

typedef struct scatter_nd_state {
    int reduction;
    /* From the last infer. */
    size_t tuples, k, slice_elems;
    size_t stride[EI_MAX_RANK]; /* bytes per index of data dims 0 .. k-1 */
} scatter_nd_state;

static ei_status scatter_nd_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    scatter_nd_state *s = NULL;
    const char *red = "none";
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    if (node->opset >= 16) EI_TRY(ei_node_attr_string(node, "reduction", "none", &red));
    static const char *const names[] = {"none", "add", "mul", "max", "min"};
    s->reduction = -1;
    for (int i = 0; i < (node->opset >= 18 ? 5 : 3); i++)
        if (strcmp(red, names[i]) == 0) s->reduction = i;
    if (s->reduction < 0) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'reduction' = '%s' is not one of none, add, mul%s", red,
                           node->opset >= 18 ? ", max, min" : "");
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static bool scatter_nd_reducible(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
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

static ei_status scatter_nd_infer(ei_exec *ex, ei_node *node) {
    scatter_nd_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1),
                   *u = ei_node_in(ex, node, 2);
    const int r = d->rank, q = ind->rank;
    char b1[160], b2[160], b3[160];
    if (ei_dtype_size(d->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             d->name, ei_dtype_name(d->dtype));
    if (s->reduction != SND_NONE && !scatter_nd_reducible(d->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "reduction on input '%s' of dtype %s is not supported", d->name,
                             ei_dtype_name(d->dtype));
    if (ind->dtype != EI_DTYPE_I64 && ind->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (indices) must be int64, got %s", ind->name,
                             ei_dtype_name(ind->dtype));
    if (u->dtype != d->dtype)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (updates) has dtype %s, expected %s like input '%s'",
                             u->name, ei_dtype_name(u->dtype), ei_dtype_name(d->dtype), d->name);
    /* updates must be indices.shape[:-1] + data.shape[k:]. */
    bool ok = r >= 1 && q >= 1 && ind->dims[q - 1] <= r;
    const int k = ok ? (int)ind->dims[q - 1] : 0;
    ok = ok && u->rank == q - 1 + r - k;
    for (int i = 0; ok && i < q - 1; i++)
        if (u->dims[i] != ind->dims[i]) ok = false;
    for (int i = k; ok && i < r; i++)
        if (u->dims[q - 1 + i - k] != d->dims[i]) ok = false;
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' (indices) %s and '%s' (updates) %s do not fit input '%s' "
                             "%s",
                             ind->name, ei_shape_str(q, ind->dims, b1, sizeof b1), u->name,
                             ei_shape_str(u->rank, u->dims, b2, sizeof b2), d->name,
                             ei_shape_str(r, d->dims, b3, sizeof b3));
    s->k = (size_t)k;
    s->tuples = 1;
    for (int i = 0; i < q - 1; i++)
        s->tuples *= (size_t)ind->dims[i];
    s->slice_elems = 1;
    for (int i = k; i < r; i++)
        s->slice_elems *= (size_t)d->dims[i];
    size_t acc = s->slice_elems * ei_dtype_size(d->dtype);
    for (int i = k - 1; i >= 0; i--) {
        s->stride[i] = acc;
        acc *= (size_t)d->dims[i];
    }
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), d->dtype, r, d->dims);
}

/* dst[i] = dst[i] (op) src[i] for n elements. Integer arithmetic wraps (done unsigned). */
#define SND_LOOP(T, ADD, MUL)                                                                      \
    for (size_t i = 0; i < n; i++) {                                                               \
        T a, b;                                                                                    \
        memcpy(&a, dst + i * sizeof(T), sizeof a);                                                 \
        memcpy(&b, src + i * sizeof(T), sizeof b);                                                 \
        switch (red) {                                                                             \
        case SND_ADD: a = (T)(ADD); break;                                                         \
        case SND_MUL: a = (T)(MUL); break;                                                         \
        case SND_MAX: a = b > a ? b : a; break;                                                    \
        default: a = b < a ? b : a; break;                                                         \
        }                                                                                          \
        memcpy(dst + i * sizeof(T), &a, sizeof a);                                                 \
    }
#define SND_F(T) SND_LOOP(T, a + b, a * b)
#define SND_I(T) SND_LOOP(T, (uint64_t)a + (uint64_t)b, (uint64_t)a * (uint64_t)b)

static void scatter_nd_apply(ei_dtype t, int red, char *dst, const char *src, size_t n, size_t es) {
    switch (red == SND_NONE ? EI_DTYPE_UNDEFINED : t) {
    case EI_DTYPE_F32: SND_F(float) break;
    case EI_DTYPE_F64: SND_F(double) break;
    case EI_DTYPE_I8: SND_I(int8_t) break;
    case EI_DTYPE_I16: SND_I(int16_t) break;
    case EI_DTYPE_I32: SND_I(int32_t) break;
    case EI_DTYPE_I64: SND_I(int64_t) break;
    case EI_DTYPE_U8: SND_I(uint8_t) break;
    case EI_DTYPE_U16: SND_I(uint16_t) break;
    case EI_DTYPE_U32: SND_I(uint32_t) break;
    case EI_DTYPE_U64: SND_I(uint64_t) break;
    default: memcpy(dst, src, n * es); break;
    }
}

static inline int64_t scatter_nd_index(const ei_value *ind, size_t k) {
    return ind->dtype == EI_DTYPE_I64 ? ((const int64_t *)ind->data)[k]
                                      : ((const int32_t *)ind->data)[k];
}

static ei_status scatter_nd_run(ei_exec *ex, ei_node *node) {
    const scatter_nd_state *s = node->state;
    const ei_value *d = ei_node_in(ex, node, 0), *ind = ei_node_in(ex, node, 1),
                   *u = ei_node_in(ex, node, 2);
    ei_value *y = ei_node_out(ex, node, 0);
    const size_t es = ei_dtype_size(d->dtype), slice = s->slice_elems * es;
    char buf[160];
    for (size_t t = 0; t < s->tuples; t++)
        for (size_t j = 0; j < s->k; j++) {
            int64_t v = scatter_nd_index(ind, t * s->k + j), n = d->dims[j];
            if (v < -n || v >= n)
                return ei_node_error(node, EI_STATUS_INDEX_OUT_OF_RANGE,
                                     "index %lld in input '%s' is out of range [%lld, %lld] for "
                                     "axis %zu of input '%s' %s",
                                     (long long)v, ind->name, (long long)-n, (long long)(n - 1), j,
                                     d->name, ei_shape_str(d->rank, d->dims, buf, sizeof buf));
        }
    if (y->nbytes && y->data != d->data) memcpy(y->data, d->data, y->nbytes);
    if (slice == 0) return EI_STATUS_OK;
    const char *src = u->data;
    char *out = y->data;
    for (size_t t = 0; t < s->tuples; t++, src += slice) {
        size_t off = 0;
        for (size_t j = 0; j < s->k; j++) {
            int64_t v = scatter_nd_index(ind, t * s->k + j);
            if (v < 0) v += d->dims[j];
            off += (size_t)v * s->stride[j];
        }
        scatter_nd_apply(d->dtype, s->reduction, out + off, src, s->slice_elems, es);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_scatter_nd = {scatter_nd_prepare, scatter_nd_infer, scatter_nd_run, free};
