/*
 * trilu.c - Trilu (opset 14): keeps the upper (upper=1, j - i >= k) or lower (j - i <= k)
 * triangle of each trailing [N, M] matrix and zeroes the rest, for any fixed-size dtype.
 * k is an optional int64 scalar input read in run (it never changes the output's shape).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct trilu_state {
    int64_t upper;
} trilu_state;

static ei_status trilu_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    trilu_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 2, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "upper", 1, &s->upper));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status trilu_infer(ei_exec *ex, ei_node *node) {
    const ei_value *x = ei_node_in(ex, node, 0), *kv = ei_node_in(ex, node, 1);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (x->rank < 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' must have rank >= 2, got %d", x->name, x->rank);
    if (kv && (kv->dtype != EI_DTYPE_I64 || ei_value_numel(kv) != 1 || kv->rank > 1))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' (k) must be one int64 element, got %s with %zu elements",
                             kv->name, ei_dtype_name(kv->dtype), ei_value_numel(kv));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, x->rank, x->dims);
}

static ei_status trilu_run(ei_exec *ex, ei_node *node) {
    const trilu_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *kv = ei_node_in(ex, node, 1);
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    const int64_t N = x->dims[x->rank - 2], M = x->dims[x->rank - 1];
    const size_t es = ei_dtype_size(x->dtype), row = (size_t)M * es;
    const size_t mats = y->nbytes / ((size_t)N * row);
    int64_t k = 0;
    if (kv) memcpy(&k, kv->data, sizeof k);
    /* Beyond +-(N + M) every k gives the same result; clamping keeps i + k from overflowing. */
    if (k > N + M) k = N + M;
    if (k < -(N + M)) k = -(N + M);
    const char *src = x->data;
    char *dst = y->data;
    for (size_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < N; i++, src += row, dst += row) {
            /* Kept columns: upper [i + k, M), lower [0, i + k + 1), clamped to [0, M]. */
            int64_t lo = s->upper ? i + k : 0, hi = s->upper ? M : i + k + 1;
            lo = lo < 0 ? 0 : (lo > M ? M : lo);
            hi = hi < 0 ? 0 : (hi > M ? M : hi);
            if (hi < lo) hi = lo;
            if (dst != src)
                memcpy(dst + lo * (int64_t)es, src + lo * (int64_t)es, (size_t)(hi - lo) * es);
            memset(dst, 0, (size_t)lo * es);
            memset(dst + hi * (int64_t)es, 0, (size_t)(M - hi) * es);
        }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_trilu = {trilu_prepare, trilu_infer, trilu_run, free, .dtypes = "any"};
