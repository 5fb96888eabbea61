/*
 * lstm.c - ONNX LSTM (float32): forward, reverse, bidirectional; sequence_lens, initial
 * h/c, peepholes P, input_forget, clip, activations f/g/h, layout, outputs Y, Y_h, Y_c.
 * The sequence driver and attribute handling live in rnn_common.h; this file is the cell.
 * Gate order in W, R and B is i, o, f, c.
 */
#include "ops/rnn_common.h"

static const ei_rnn_kind lstm_kind = {"LSTM", 4, 3, {"Sigmoid", "Tanh", "Tanh"}, 8, 3};

static ei_status lstm_prepare(ei_exec *ex, ei_node *node) {
    EI_CHECK(ei_rnn_prepare(ex, node, &lstm_kind));
    ei_rnn_state *s = node->state;
    int64_t inf = 0;
    EI_CHECK(ei_node_attr_int(node, "input_forget", 0, &inf));
    if (inf != 0 && inf != 1)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'input_forget' = %lld, expected 0 or 1", (long long)inf);
    s->input_forget = (int)inf;
    return EI_STATUS_OK;
}

static void lstm_bias(const ei_rnn_state *s, const float *wb, const float *rb, float *out) {
    ei_kernels()->f32_vadd(s->G, wb, rb, out);
}

static void lstm_step(const ei_rnn_ctx *cx, size_t step) {
    const ei_rnn_state *s = cx->s;
    const ei_kernel_table *k = ei_kernels();
    size_t B = s->B, H = s->H, G = s->G, ldr = 0;
    /* gates = h * R^T + gx (the gx rows fused into the product when they line up). */
    const float *res = ei_rnn_step_residual(cx, step, 0, &ldr);
    ei_rnn_step_gemm(cx, 0, cx->h, H, cx->gh, G, res, ldr, NULL);
    for (size_t b = 0; b < B; b++) {
        size_t tb = ei_rnn_time(cx, b, step);
        if (tb == (size_t)-1) continue;
        float *g = cx->gh + b * G;
        if (!res) k->f32_vadd(G, g, cx->gx + ei_rnn_row(s, tb, b) * cx->ldgx, g);
        float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
        float *c = cx->c + b * H, *h = cx->h + b * H, *tmp = cx->tmp + b * H;
        const float *p = cx->p;
        if (p) {
            for (size_t j = 0; j < H; j++) {
                gi[j] += p[j] * c[j];
                gf[j] += p[2 * H + j] * c[j];
            }
            ei_rnn_clip(s, H, gi);
            ei_rnn_act_apply(&cx->act[0], H, gi);
            ei_rnn_clip(s, H, gf);
            ei_rnn_act_apply(&cx->act[0], H, gf);
        } else {
            /* i, o, f are contiguous and share f: one pass over 3H. */
            ei_rnn_clip(s, 3 * H, gi);
            ei_rnn_act_apply(&cx->act[0], 3 * H, gi);
        }
        if (s->input_forget) k->f32_vrsubc(H, gi, 1.0f, gf);
        ei_rnn_clip(s, H, gc);
        ei_rnn_act_apply(&cx->act[1], H, gc);
        /* c = f * c + i * g */
        k->f32_vmul(H, gf, c, c);
        k->f32_vmul(H, gi, gc, gc);
        k->f32_vadd(H, c, gc, c);
        if (p) {
            for (size_t j = 0; j < H; j++) go[j] += p[H + j] * c[j];
            ei_rnn_clip(s, H, go);
            ei_rnn_act_apply(&cx->act[0], H, go);
        }
        memcpy(tmp, c, H * sizeof(float));
        ei_rnn_act_apply(&cx->act[2], H, tmp);
        k->f32_vmul(H, go, tmp, h);
    }
}

static ei_status lstm_run(ei_exec *ex, ei_node *node) {
    return ei_rnn_run(ex, node, lstm_step, lstm_bias);
}

const ei_op_fns ei_op_fns_lstm = {lstm_prepare, ei_rnn_infer, lstm_run, ei_rnn_destroy,
                                  .dtypes = "float32"};
