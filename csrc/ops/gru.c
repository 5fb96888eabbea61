/*
 * gru.c - ONNX GRU (float32): forward, reverse, bidirectional; sequence_lens, initial_h,
 * linear_before_reset 0 and 1, clip, activations f/g, layout, outputs Y and Y_h. The
 * sequence driver and attribute handling live in rnn_common.h; this file is the cell.
 * Gate order in W, R and B is z, r, h.
 */
#include "ops/rnn_common.h"

static const ei_rnn_kind gru_kind = {"GRU", 3, 2, {"Sigmoid", "Tanh", NULL}, 6, 2};

static ei_status gru_prepare(ei_exec *ex, ei_node *node) {
    EI_CHECK(ei_rnn_prepare(ex, node, &gru_kind));
    ei_rnn_state *s = node->state;
    int64_t lbr = 0;
    if (node->opset >= 3) EI_CHECK(ei_node_attr_int(node, "linear_before_reset", 0, &lbr));
    if (lbr != 0 && lbr != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'linear_before_reset' = %lld, expected 0 or 1",
                             (long long)lbr);
    s->linear_before_reset = (int)lbr;
    return EI_STATUS_OK;
}

/* Wb for all gates and Rb for z and r go into every row; Rb_h stays inside the reset. */
static void gru_bias(const ei_rnn_state *s, const float *wb, const float *rb, float *out) {
    size_t H = s->H;
    ei_kernels()->f32_vadd(2 * H, wb, rb, out);
    memcpy(out + 2 * H, wb + 2 * H, H * sizeof(float));
}

static void gru_step(const ei_rnn_ctx *cx, size_t step) {
    const ei_rnn_state *s = cx->s;
    const ei_kernel_table *k = ei_kernels();
    size_t B = s->B, H = s->H, G = s->G, ldr = 0, ldr_h = 0;
    const float *rbh = cx->b ? cx->b + G + 2 * H : NULL;
    int lbr = s->linear_before_reset;
    /* z and r: h * R_zr^T + gx (fused when the gx rows line up); h after the reset. */
    const float *res = ei_rnn_step_residual(cx, step, 0, &ldr);
    ei_rnn_step_gemm(cx, 0, cx->h, H, cx->gh, G, res, ldr, NULL);
    for (size_t b = 0; b < B; b++) {
        size_t tb = ei_rnn_time(cx, b, step);
        float *g = cx->gh + b * G, *rh = cx->tmp + b * H;
        if (tb == (size_t)-1) {
            if (!lbr) memset(rh, 0, H * sizeof(float));
            continue;
        }
        if (!res) k->f32_vadd(2 * H, g, cx->gx + ei_rnn_row(s, tb, b) * cx->ldgx, g);
        ei_rnn_clip(s, 2 * H, g);
        ei_rnn_act_apply(&cx->act[0], 2 * H, g);
        if (!lbr) k->f32_vmul(H, g + H, cx->h + b * H, rh);
    }
    /* lbr: tmp2 = h * R_h^T + Rb_h; else tmp2 = (r . h) * R_h^T + Rb_h (+ gx_h, fused). */
    const float *res_h = lbr ? NULL : ei_rnn_step_residual(cx, step, 2 * H, &ldr_h);
    ei_rnn_step_gemm(cx, 1, lbr ? cx->h : cx->tmp, H, cx->tmp2, H, res_h, ldr_h, rbh);
    for (size_t b = 0; b < B; b++) {
        size_t tb = ei_rnn_time(cx, b, step);
        if (tb == (size_t)-1) continue;
        const float *xh = cx->gx + ei_rnn_row(s, tb, b) * cx->ldgx + 2 * H;
        float *g = cx->gh + b * G, *z = g, *r = g + H, *hh = cx->tmp2 + b * H;
        float *h = cx->h + b * H;
        if (lbr) {
            k->f32_vmul(H, r, hh, hh);
            k->f32_vadd(H, hh, xh, hh);
        } else if (!res_h) {
            k->f32_vadd(H, hh, xh, hh);
        }
        ei_rnn_clip(s, H, hh);
        ei_rnn_act_apply(&cx->act[1], H, hh);
        for (size_t j = 0; j < H; j++) h[j] = (1.0f - z[j]) * hh[j] + z[j] * h[j];
    }
}

static ei_status gru_run(ei_exec *ex, ei_node *node) {
    return ei_rnn_run(ex, node, gru_step, gru_bias);
}

const ei_op_fns ei_op_fns_gru = {gru_prepare, ei_rnn_infer, gru_run, ei_rnn_destroy,
                                 .dtypes = "float32"};
