/*
 * rnn_common.h - what LSTM, GRU and RNN share: attribute parsing (direction, hidden_size,
 * activations with their alphas/betas, clip, layout), shape checks of X, W, R, B,
 * sequence_lens, initial states and P, output shapes, scratch layout, and the run driver
 * (X*W for the whole sequence in one ei_sgemm, then a per-step cell callback that each op
 * file supplies). Each direction runs on its own; batches past their sequence_lens keep
 * their state and get zeros in Y.
 */
#ifndef EI_OPS_RNN_COMMON_H
#define EI_OPS_RNN_COMMON_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "ops/dense_gemm.h"

enum { EI_RNN_MAX_ACTS = 3 };

typedef enum ei_rnn_act_kind {
    EI_RNN_ACT_SIGMOID,
    EI_RNN_ACT_TANH,
    EI_RNN_ACT_RELU,
    EI_RNN_ACT_AFFINE,
    EI_RNN_ACT_LEAKY_RELU,
    EI_RNN_ACT_THRESHOLDED_RELU,
    EI_RNN_ACT_SCALED_TANH,
    EI_RNN_ACT_HARD_SIGMOID,
    EI_RNN_ACT_ELU,
    EI_RNN_ACT_SOFTSIGN,
    EI_RNN_ACT_SOFTPLUS
} ei_rnn_act_kind;

typedef struct ei_rnn_act {
    ei_rnn_act_kind kind;
    float alpha, beta;
} ei_rnn_act;

/* What differs between the three ops. */
typedef struct ei_rnn_kind {
    const char *name;
    int gates;                /* 4 (LSTM), 3 (GRU), 1 (RNN) */
    int n_acts;               /* activations per direction: 3, 2, 1 */
    const char *default_acts[EI_RNN_MAX_ACTS];
    int max_inputs, max_outputs; /* 8/3 (LSTM), 6/2 (GRU, RNN) */
} ei_rnn_kind;

typedef struct ei_rnn_state {
    const ei_rnn_kind *kind;
    int dirs;          /* 1 or 2 */
    int reverse;       /* direction == "reverse" (single direction) */
    int64_t hidden;    /* hidden_size attribute, 0 when absent */
    int layout;        /* 0: [T, B, ...]; 1: [B, T, ...] (opset >= 14) */
    int has_clip;
    float clip;
    int input_forget;        /* LSTM */
    int linear_before_reset; /* GRU */
    ei_rnn_act acts[2][EI_RNN_MAX_ACTS];
    /* infer */
    size_t T, B, I, H, G; /* G = gates * H */
    size_t off_gx, off_gh, off_h, off_c, off_tmp, off_tmp2, off_bias; /* scratch, in floats */
} ei_rnn_state;

/* One direction's view during run. */
typedef struct ei_rnn_ctx {
    const ei_exec *ex;
    const ei_rnn_state *s;
    int dir, reverse;
    const int32_t *lens;   /* sequence_lens or NULL (all T) */
    const float *w, *r, *b, *p; /* this direction's W [G, I], R [G, H], B [2G] or NULL, P [3H] or NULL */
    const ei_rnn_act *act;
    float *gx;  /* [T*B, G]: X*W^T + folded bias, rows in X's order */
    float *gh;  /* [B, G] */
    float *h, *c; /* states [B, H] */
    float *tmp, *tmp2; /* [B, H] each */
} ei_rnn_ctx;

/* c[m, n] = a[m, k] * b[n, k]^T (row-major, leading dims given), split over the session's
 * threads when the product is large enough (dense_gemm.h). */
static inline void ei_rnn_gemm(const ei_rnn_ctx *cx, size_t m, size_t n, size_t k,
                               const float *a, size_t lda, const float *b, size_t ldb, float *c,
                               size_t ldc) {
    ei_dense_gemm g;
    memset(&g, 0, sizeof g);
    g.trans_b = 1;
    g.m = m, g.n = n, g.k = k;
    g.alpha = 1.0f, g.beta = 0.0f;
    g.a = a, g.lda = lda, g.b = b, g.ldb = ldb, g.c = c, g.ldc = ldc;
    ei_dense_gemm_run(cx->ex, &g);
}

/* Per-step cell: updates h (and c) of the active batches; step in [0, T). */
typedef void (*ei_rnn_step_fn)(const ei_rnn_ctx *cx, size_t step);

static inline bool ei_rnn_lower_eq(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        if (x != *b) return false;
    }
    return *a == *b;
}

/* Parses one activation name; consumes an alpha/beta from the lists when the function
 * takes one (onnxruntime's order), else uses the ONNX operator's default. */
static inline ei_status ei_rnn_parse_act(const ei_node *node, const char *name,
                                         const float *alphas, size_t n_alpha, size_t *ia,
                                         const float *betas, size_t n_beta, size_t *ib,
                                         ei_rnn_act *out) {
    static const struct {
        const char *name;
        ei_rnn_act_kind kind;
        int use_a, use_b;
        float a, b;
    } table[] = {
        {"sigmoid", EI_RNN_ACT_SIGMOID, 0, 0, 0.0f, 0.0f},
        {"tanh", EI_RNN_ACT_TANH, 0, 0, 0.0f, 0.0f},
        {"relu", EI_RNN_ACT_RELU, 0, 0, 0.0f, 0.0f},
        {"affine", EI_RNN_ACT_AFFINE, 1, 1, 1.0f, 0.0f},
        {"leakyrelu", EI_RNN_ACT_LEAKY_RELU, 1, 0, 0.01f, 0.0f},
        {"thresholdedrelu", EI_RNN_ACT_THRESHOLDED_RELU, 1, 0, 1.0f, 0.0f},
        {"scaledtanh", EI_RNN_ACT_SCALED_TANH, 1, 1, 1.0f, 1.0f},
        {"hardsigmoid", EI_RNN_ACT_HARD_SIGMOID, 1, 1, 0.2f, 0.5f},
        {"elu", EI_RNN_ACT_ELU, 1, 0, 1.0f, 0.0f},
        {"softsign", EI_RNN_ACT_SOFTSIGN, 0, 0, 0.0f, 0.0f},
        {"softplus", EI_RNN_ACT_SOFTPLUS, 0, 0, 0.0f, 0.0f},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (!ei_rnn_lower_eq(name, table[i].name)) continue;
        out->kind = table[i].kind;
        out->alpha = table[i].a;
        out->beta = table[i].b;
        if (table[i].use_a && *ia < n_alpha) out->alpha = alphas[(*ia)++];
        if (table[i].use_b && *ib < n_beta) out->beta = betas[(*ib)++];
        return EI_STATUS_OK;
    }
    return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                         "activation '%s' is not supported (supported: Sigmoid, Tanh, Relu, "
                         "Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, "
                         "Softsign, Softplus)",
                         name);
}

/* x = act(x) over n floats, in place. */
static inline void ei_rnn_act_apply(const ei_rnn_act *a, size_t n, float *x) {
    const ei_kernel_table *k = ei_kernels();
    float al = a->alpha, be = a->beta;
    switch (a->kind) {
    case EI_RNN_ACT_SIGMOID: k->f32_sigmoid(n, x, x); break;
    case EI_RNN_ACT_TANH: k->f32_tanh(n, x, x); break;
    case EI_RNN_ACT_RELU: k->f32_relu(n, x, x); break;
    case EI_RNN_ACT_AFFINE:
        for (size_t i = 0; i < n; i++) x[i] = al * x[i] + be;
        break;
    case EI_RNN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] >= 0.0f ? x[i] : al * x[i];
        break;
    case EI_RNN_ACT_THRESHOLDED_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > al ? x[i] : 0.0f;
        break;
    case EI_RNN_ACT_SCALED_TANH:
        for (size_t i = 0; i < n; i++) x[i] = al * tanhf(be * x[i]);
        break;
    case EI_RNN_ACT_HARD_SIGMOID:
        for (size_t i = 0; i < n; i++) {
            float v = al * x[i] + be;
            x[i] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        }
        break;
    case EI_RNN_ACT_ELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] >= 0.0f ? x[i] : al * (expf(x[i]) - 1.0f);
        break;
    case EI_RNN_ACT_SOFTSIGN:
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + fabsf(x[i]));
        break;
    case EI_RNN_ACT_SOFTPLUS:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 20.0f ? x[i] : log1pf(expf(x[i]));
        break;
    }
}

/* Clamps gate pre-activations to [-clip, clip] when the clip attribute is set. */
static inline void ei_rnn_clip(const ei_rnn_state *s, size_t n, float *x) {
    if (s->has_clip) ei_kernels()->f32_clamp(n, x, -s->clip, s->clip, x);
}

static inline void ei_rnn_destroy(void *p) { free(p); }

static inline ei_status ei_rnn_prepare(ei_exec *ex, ei_node *node, const ei_rnn_kind *kind) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    ei_rnn_state *s = NULL;
    if (node->n_inputs < 3 || node->n_inputs > kind->max_inputs || node->inputs[0] < 0 ||
        node->inputs[1] < 0 || node->inputs[2] < 0 || node->n_outputs > kind->max_outputs) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "expected inputs X, W, R and up to %d optional ones, and at most %d "
                           "outputs; got %d inputs and %d outputs",
                           kind->max_inputs - 3, kind->max_outputs, node->n_inputs,
                           node->n_outputs);
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->kind = kind;
    const char *dir = NULL;
    EI_TRY(ei_node_attr_string(node, "direction", "forward", &dir));
    if (strcmp(dir, "forward") == 0) s->dirs = 1;
    else if (strcmp(dir, "reverse") == 0) s->dirs = 1, s->reverse = 1;
    else if (strcmp(dir, "bidirectional") == 0) s->dirs = 2;
    else {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'direction' = '%s', expected forward, reverse or "
                           "bidirectional",
                           dir);
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "hidden_size", 0, &s->hidden));
    if (ei_node_attr(node, "hidden_size") && (s->hidden < 1 || s->hidden > ((int64_t)1 << 30))) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'hidden_size' = %lld, expected a positive value",
                           (long long)s->hidden);
        goto cleanup;
    }
    if (node->opset >= 14) {
        int64_t layout = 0;
        EI_TRY(ei_node_attr_int(node, "layout", 0, &layout));
        if (layout != 0 && layout != 1) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'layout' = %lld, expected 0 or 1", (long long)layout);
            goto cleanup;
        }
        s->layout = (int)layout;
    }
    if (ei_node_attr(node, "clip")) {
        EI_TRY(ei_node_attr_float(node, "clip", 0.0f, &s->clip));
        if (!(s->clip > 0.0f)) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'clip' = %g, expected a positive value",
                               (double)s->clip);
            goto cleanup;
        }
        s->has_clip = 1;
    }
    const float *alphas = NULL, *betas = NULL;
    size_t n_alpha = 0, n_beta = 0, ia = 0, ib = 0, n_names = 0;
    EI_TRY(ei_node_attr_floats(node, "activation_alpha", &alphas, &n_alpha));
    EI_TRY(ei_node_attr_floats(node, "activation_beta", &betas, &n_beta));
    const ei_attr *names = ei_node_attr(node, "activations");
    if (names) {
        if (names->type != EI_ATTR_TYPE_STRINGS) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'activations' must be a list of strings");
            goto cleanup;
        }
        n_names = names->n;
        if (n_names != (size_t)kind->n_acts && n_names != (size_t)(kind->n_acts * s->dirs)) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                               "attribute 'activations' has %zu names, expected %d (%d per "
                               "direction)",
                               n_names, kind->n_acts * s->dirs, kind->n_acts);
            goto cleanup;
        }
    }
    for (int d = 0; d < s->dirs; d++)
        for (int a = 0; a < kind->n_acts; a++) {
            const char *nm = kind->default_acts[a];
            if (names) {
                size_t idx = n_names == (size_t)kind->n_acts ? (size_t)a
                                                            : (size_t)(d * kind->n_acts + a);
                nm = names->strings[idx].data;
            }
            EI_TRY(ei_rnn_parse_act(node, nm, alphas, n_alpha, &ia, betas, n_beta, &ib,
                                    &s->acts[d][a]));
        }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* Checks that optional input i (when present) is float32 of shape dims[0..rank). */
static inline ei_status ei_rnn_check_input(const ei_exec *ex, const ei_node *node, int i,
                                           const char *what, ei_dtype dtype, int rank,
                                           const int64_t *dims) {
    const ei_value *v = ei_node_in(ex, node, i);
    char buf[128], buf2[128];
    if (!v) return EI_STATUS_OK;
    bool ok = v->dtype == dtype && v->rank == rank;
    for (int k = 0; ok && k < rank; k++) ok = v->dims[k] == dims[k];
    if (!ok)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input %s '%s' has shape %s (%s), expected %s %s", what, v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf),
                             ei_dtype_name(v->dtype), ei_dtype_name(dtype),
                             ei_shape_str(rank, dims, buf2, sizeof buf2));
    return EI_STATUS_OK;
}

static inline ei_status ei_rnn_infer(ei_exec *ex, ei_node *node) {
    ei_rnn_state *s = node->state;
    const ei_rnn_kind *kind = s->kind;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *r = ei_node_in(ex, node, 2);
    char buf[128];
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank != 3)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s, expected rank 3 (%s)", x->name,
                             ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                             s->layout ? "[batch, seq, input]" : "[seq, batch, input]");
    int64_t T = s->layout ? x->dims[1] : x->dims[0], B = s->layout ? x->dims[0] : x->dims[1];
    int64_t I = x->dims[2], D = s->dirs, gates = kind->gates;
    if (w->dtype != EI_DTYPE_F32 || w->rank != 3 || w->dims[0] != D ||
        w->dims[1] % gates != 0 || w->dims[1] < gates || w->dims[2] != I)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input W '%s' has shape %s (%s), expected float32 [%lld, %lld*hidden, "
                             "%lld]",
                             w->name, ei_shape_str(w->rank, w->dims, buf, sizeof buf),
                             ei_dtype_name(w->dtype), (long long)D, (long long)gates,
                             (long long)I);
    int64_t H = w->dims[1] / gates;
    if (s->hidden && s->hidden != H)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'hidden_size' = %lld but W '%s' has %lld rows (%d gates)",
                             (long long)s->hidden, w->name, (long long)w->dims[1], kind->gates);
    int64_t rd[3] = {D, gates * H, H}, bd[2] = {D, 2 * gates * H}, sd[1] = {B};
    int64_t hd[3] = {D, B, H}, pd[2] = {D, 3 * H};
    if (s->layout) hd[0] = B, hd[1] = D;
    EI_CHECK(ei_rnn_check_input(ex, node, 2, "R", EI_DTYPE_F32, 3, rd));
    (void)r;
    EI_CHECK(ei_rnn_check_input(ex, node, 3, "B", EI_DTYPE_F32, 2, bd));
    EI_CHECK(ei_rnn_check_input(ex, node, 4, "sequence_lens", EI_DTYPE_I32, 1, sd));
    EI_CHECK(ei_rnn_check_input(ex, node, 5, "initial_h", EI_DTYPE_F32, 3, hd));
    if (kind->gates == 4) {
        EI_CHECK(ei_rnn_check_input(ex, node, 6, "initial_c", EI_DTYPE_F32, 3, hd));
        EI_CHECK(ei_rnn_check_input(ex, node, 7, "P", EI_DTYPE_F32, 2, pd));
    }
    s->T = (size_t)T;
    s->B = (size_t)B;
    s->I = (size_t)I;
    s->H = (size_t)H;
    s->G = (size_t)(gates * H);
    int64_t yd[4] = {T, D, B, H};
    if (s->layout) yd[0] = B, yd[1] = T, yd[2] = D;
    ei_value *y = ei_node_out(ex, node, 0), *yh = ei_node_out(ex, node, 1);
    ei_value *yc = ei_node_out(ex, node, 2);
    if (y) EI_CHECK(ei_value_set_shape(y, EI_DTYPE_F32, 4, yd));
    if (yh) EI_CHECK(ei_value_set_shape(yh, EI_DTYPE_F32, 3, hd));
    if (kind->gates == 4 && yc) EI_CHECK(ei_value_set_shape(yc, EI_DTYPE_F32, 3, hd));
    /* Scratch: gx [T*B, G], gh [B, G], h, c, tmp, tmp2 [B, H], bias [G]; each 16-aligned.
     * W's and R's element counts bound G*I and G*H; the rest is checked. */
    size_t sizes[7], off = 0, total = 0, tb = 0;
    bool ok = ei_size_mul(s->T, s->B, &tb) && ei_size_mul(tb, s->G, &sizes[0]) &&
              ei_size_mul(s->B, s->G, &sizes[1]);
    size_t bh = 0;
    ok = ok && ei_size_mul(s->B, s->H, &bh);
    sizes[2] = sizes[3] = sizes[4] = sizes[5] = bh;
    sizes[6] = s->G;
    size_t *offs[7] = {&s->off_gx, &s->off_gh, &s->off_h, &s->off_c, &s->off_tmp, &s->off_tmp2,
                       &s->off_bias};
    for (int i = 0; ok && i < 7; i++) {
        *offs[i] = off;
        ok = ei_size_add(sizes[i], 15, &total) && ei_size_add(off, total / 16 * 16, &off);
    }
    if (!ok || !ei_size_mul(off, sizeof(float), &node->scratch_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s': scratch size overflows", x->name);
    return EI_STATUS_OK;
}

/* gx row of (time t, batch b) in X's order. */
static inline size_t ei_rnn_row(const ei_rnn_state *s, size_t t, size_t b) {
    return s->layout ? b * s->T + t : t * s->B + b;
}

/* Time index that batch b processes at loop step `step`, or SIZE_MAX when b is done. */
static inline size_t ei_rnn_time(const ei_rnn_ctx *cx, size_t b, size_t step) {
    size_t len = cx->lens ? (size_t)cx->lens[b] : cx->s->T;
    if (step >= len) return (size_t)-1;
    return cx->reverse ? len - 1 - step : step;
}

/* Element offset of (t, dir, b) in Y, or of (dir, b) in Y_h / Y_c. */
static inline size_t ei_rnn_y_off(const ei_rnn_state *s, size_t t, size_t d, size_t b) {
    size_t D = (size_t)s->dirs;
    return (s->layout ? (b * s->T + t) * D + d : (t * D + d) * s->B + b) * s->H;
}
static inline size_t ei_rnn_yh_off(const ei_rnn_state *s, size_t d, size_t b) {
    return (s->layout ? b * (size_t)s->dirs + d : d * s->B + b) * s->H;
}

/* bias_fold(G floats of Wb, G floats of Rb, out): the part of B added to every gx row. */
typedef void (*ei_rnn_bias_fn)(const ei_rnn_state *s, const float *wb, const float *rb,
                               float *out);

static inline ei_status ei_rnn_run(ei_exec *ex, ei_node *node, ei_rnn_step_fn step,
                                   ei_rnn_bias_fn bias_fold) {
    const ei_rnn_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *r = ei_node_in(ex, node, 2), *bv = ei_node_in(ex, node, 3);
    const ei_value *lv = ei_node_in(ex, node, 4), *h0 = ei_node_in(ex, node, 5);
    const ei_value *c0 = s->kind->gates == 4 ? ei_node_in(ex, node, 6) : NULL;
    const ei_value *pv = s->kind->gates == 4 ? ei_node_in(ex, node, 7) : NULL;
    ei_value *y = ei_node_out(ex, node, 0), *yh = ei_node_out(ex, node, 1);
    ei_value *yc = s->kind->gates == 4 ? ei_node_out(ex, node, 2) : NULL;
    const int32_t *lens = lv ? (const int32_t *)lv->data : NULL;
    size_t T = s->T, B = s->B, H = s->H, G = s->G, I = s->I;
    for (size_t b = 0; lens && b < B; b++)
        if (lens[b] < 0 || (size_t)lens[b] > T)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input sequence_lens '%s'[%zu] = %d is outside [0, %zu]",
                                 lv->name, b, (int)lens[b], T);
    float *sc = node->scratch;
    float *yd = y ? (float *)y->data : NULL;
    if (yd && y->nbytes) memset(yd, 0, y->nbytes);
    for (int d = 0; d < s->dirs; d++) {
        ei_rnn_ctx cx = {ex, s, d, s->dirs == 2 ? d : s->reverse, lens,
                         (const float *)w->data + (size_t)d * G * I,
                         (const float *)r->data + (size_t)d * G * H,
                         bv ? (const float *)bv->data + (size_t)d * 2 * G : NULL,
                         pv ? (const float *)pv->data + (size_t)d * 3 * H : NULL,
                         s->acts[d], sc + s->off_gx, sc + s->off_gh, sc + s->off_h,
                         sc + s->off_c, sc + s->off_tmp, sc + s->off_tmp2};
        float *bias = sc + s->off_bias;
        size_t rows = T * B;
        if (rows && G) {
            ei_rnn_gemm(&cx, rows, G, I, (const float *)x->data, I, cx.w, I, cx.gx, G);
            if (cx.b) {
                bias_fold(s, cx.b, cx.b + G, bias);
                const ei_kernel_table *k = ei_kernels();
                for (size_t i = 0; i < rows; i++) k->f32_vadd(G, cx.gx + i * G, bias, cx.gx + i * G);
            }
        }
        for (size_t b = 0; b < B; b++) {
            size_t o = ei_rnn_yh_off(s, (size_t)d, b);
            if (h0) memcpy(cx.h + b * H, (const float *)h0->data + o, H * sizeof(float));
            else memset(cx.h + b * H, 0, H * sizeof(float));
            if (c0) memcpy(cx.c + b * H, (const float *)c0->data + o, H * sizeof(float));
            else memset(cx.c + b * H, 0, H * sizeof(float));
        }
        for (size_t t = 0; t < T && B > 0; t++) {
            step(&cx, t);
            if (!yd) continue;
            for (size_t b = 0; b < B; b++) {
                size_t tb = ei_rnn_time(&cx, b, t);
                if (tb == (size_t)-1) continue;
                memcpy(yd + ei_rnn_y_off(s, tb, (size_t)d, b), cx.h + b * H, H * sizeof(float));
            }
        }
        for (size_t b = 0; b < B; b++) {
            size_t o = ei_rnn_yh_off(s, (size_t)d, b);
            /* A batch with sequence length 0 reports zero states, as onnxruntime does. */
            if (lens && lens[b] == 0) {
                if (yh) memset((float *)yh->data + o, 0, H * sizeof(float));
                if (yc) memset((float *)yc->data + o, 0, H * sizeof(float));
                continue;
            }
            if (yh) memcpy((float *)yh->data + o, cx.h + b * H, H * sizeof(float));
            if (yc) memcpy((float *)yc->data + o, cx.c + b * H, H * sizeof(float));
        }
    }
    return EI_STATUS_OK;
}

#endif /* EI_OPS_RNN_COMMON_H */
