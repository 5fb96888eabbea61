/*
 * rnn.c - ONNX RNN (float32, Elman cell H = f(X*W^T + H*R^T + Wb + Rb)): forward,
 * reverse, bidirectional; sequence_lens, initial_h, clip, activation f, layout, outputs
 * Y and Y_h. The sequence driver and attribute handling live in rnn_common.h.
 */
#include "ops/rnn_common.h"

static const ei_rnn_kind rnn_kind = {"RNN", 1, 1, {"Tanh", NULL, NULL}, 6, 2};

static ei_status rnn_prepare(ei_exec *ex, ei_node *node) {
    return ei_rnn_prepare(ex, node, &rnn_kind);
}

static void rnn_bias(const ei_rnn_state *s, const float *wb, const float *rb, float *out) {
    ei_kernels()->f32_vadd(s->G, wb, rb, out);
}

static void rnn_step(const ei_rnn_ctx *cx, size_t step) {
    const ei_rnn_state *s = cx->s;
    size_t B = s->B, H = s->H, ldr = 0;
    const float *res = ei_rnn_step_residual(cx, step, 0, &ldr);
    ei_rnn_step_gemm(cx, 0, cx->h, H, cx->gh, H, res, ldr, NULL);
    for (size_t b = 0; b < B; b++) {
        size_t tb = ei_rnn_time(cx, b, step);
        if (tb == (size_t)-1) continue;
        float *g = cx->gh + b * H;
        if (!res) ei_kernels()->f32_vadd(H, g, cx->gx + ei_rnn_row(s, tb, b) * cx->ldgx, g);
        ei_rnn_clip(s, H, g);
        ei_rnn_act_apply(&cx->act[0], H, g);
        memcpy(cx->h + b * H, g, H * sizeof(float));
    }
}

static ei_status rnn_run(ei_exec *ex, ei_node *node) {
    return ei_rnn_run(ex, node, rnn_step, rnn_bias);
}

const ei_op_fns ei_op_fns_rnn = {rnn_prepare, ei_rnn_infer, rnn_run, ei_rnn_destroy,
                                 .dtypes = "float32"};
