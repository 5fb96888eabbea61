/*
 * softmax_cross_entropy_loss.c - SoftmaxCrossEntropyLoss (opsets 12, 13): log-softmax of
 * float32/float64 scores [N, C, d1..dk] over the class dim 1, then the negative log
 * likelihood of ops/nll_common.h (weights, ignore_index, reduction none/sum/mean).
 * The log-probabilities go to the optional second output, or to scratch when it is absent.
 */
#include <math.h>
#include <stdlib.h>

#include "ops/nll_common.h"

static ei_status sce_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_nll_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 2, 3, 2));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_nll_parse(node, s));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status sce_infer(ei_exec *ex, ei_node *node) {
    ei_nll_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *lp = ei_node_out(ex, node, 1);
    EI_CHECK(ei_nll_infer(node, s, x, ei_node_in(ex, node, 1), ei_node_in(ex, node, 2),
                          ei_node_out(ex, node, 0)));
    node->scratch_bytes = 0;
    if (lp) return ei_elem_set_out(node, lp, x->dtype, x->rank, x->dims);
    node->scratch_bytes = x->nbytes;
    return EI_STATUS_OK;
}

/* lp = x - max - log(sum(exp(x - max))) over c for each (n, d); the sum in double. */
#define SCE_LOG_SOFTMAX(NAME, T, EXP)                                                              \
    static void NAME(const ei_nll_state *s, const T *x, T *lp) {                                   \
        const size_t C = s->c, D = s->d;                                                           \
        for (size_t n = 0; n < s->n; n++) {                                                        \
            for (size_t d = 0; d < D; d++) {                                                       \
                const T *xl = x + n * C * D + d;                                                   \
                T *yl = lp + n * C * D + d;                                                        \
                T m = xl[0];                                                                       \
                for (size_t c = 1; c < C; c++)                                                     \
                    if (xl[c * D] > m || m != m) m = xl[c * D];                                    \
                double sum = 0.0;                                                                  \
                for (size_t c = 0; c < C; c++)                                                     \
                    sum += (double)EXP(xl[c * D] - m);                                             \
                T lse = (T)log(sum);                                                               \
                for (size_t c = 0; c < C; c++)                                                     \
                    yl[c * D] = xl[c * D] - m - lse;                                               \
            }                                                                                      \
        }                                                                                          \
    }
SCE_LOG_SOFTMAX(sce_lsm_f32, float, expf)
SCE_LOG_SOFTMAX(sce_lsm_f64, double, exp)

static ei_status sce_run(ei_exec *ex, ei_node *node) {
    const ei_nll_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *lpv = ei_node_out(ex, node, 1);
    void *lp = lpv ? lpv->data : node->scratch;
    if (s->c == 0) /* no classes: every target is out of range unless ignored */
        return ei_nll_compute(node, s, x->dtype, lp, ei_node_in(ex, node, 1),
                              ei_node_in(ex, node, 2), ei_node_out(ex, node, 0)->data);
    if (x->dtype == EI_DTYPE_F32)
        sce_lsm_f32(s, x->data, lp);
    else
        sce_lsm_f64(s, x->data, lp);
    return ei_nll_compute(node, s, x->dtype, lp, ei_node_in(ex, node, 1), ei_node_in(ex, node, 2),
                          ei_node_out(ex, node, 0)->data);
}

const ei_op_fns ei_op_fns_softmax_cross_entropy_loss = {sce_prepare, sce_infer, sce_run, free,
                                                        .dtypes = "float32 float64"};
