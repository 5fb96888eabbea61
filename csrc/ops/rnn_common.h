/*
 * rnn_common.h - what LSTM, GRU and RNN share: attribute parsing (direction, hidden_size,
 * activations with their alphas/betas, clip, layout), shape checks, output shapes, weights
 * packed for gemm.h (at infer when constant), scratch layout, and the run driver: X*W^T +
 * bias for all steps and directions in one product, then a per-step cell callback that each
 * op file supplies (gates = h*R^T + those rows, fused in the product). The two directions
 * run on two threads; batches past their sequence_lens keep their state, zeros in Y.
 */
#ifndef EI_OPS_RNN_COMMON_H
#define EI_OPS_RNN_COMMON_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "kernels/kernels.h"
#include "core/alloc.h"
#include "kernels/gemm.h"

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
    size_t G1;            /* columns of R's first packed piece: G, or 2H (GRU: z, r | h) */
    /* Packed weights (gemm.h, descriptor gk): W of all directions as one [I, D*G] operand;
     * R per direction as [H, G1] and [H, G - G1] pieces, rp_dir floats a direction, the
     * second piece at rp_piece1. In wp/rp when W/R are constants (packed at infer), else
     * packed into scratch at every run. */
    const ei_gemm_kernel *gk;
    size_t wp_floats, rp_dir, rp_piece1;
    float *wp, *rp;
    const void *wp_src, *rp_src; /* the data the packs in wp/rp were made from */
    size_t wp_key[2], rp_key[2]; /* ... and their (I, D*G), (H, D*G): repack on change */
    /* scratch, in floats: gx [T*B, D*G], bias [D*G], then per direction (dir_stride apart)
     * gh [B, G], h, c, tmp, tmp2 [B, H]; then packed W and R when not in state */
    size_t off_gx, off_bias, off_dir, dir_stride, off_wp, off_rp;
    size_t off_gh, off_h, off_c, off_tmp, off_tmp2; /* within a direction's block */
} ei_rnn_state;

/* One direction's view during run. */
typedef struct ei_rnn_ctx {
    const ei_exec *ex;
    const ei_rnn_state *s;
    int dir, reverse;
    int threaded;          /* steps may split their products over ex->pool */
    int uniform;           /* every batch runs every step (no shorter sequence_lens) */
    const int32_t *lens;   /* sequence_lens or NULL (all T) */
    const float *b, *p;    /* this direction's B [2G] or NULL, P [3H] or NULL */
    const float *rp;       /* this direction's packed R (both pieces) */
    const ei_rnn_act *act;
    float *gx;  /* gx of this direction: row i at gx + i * ldgx, G floats (X*W^T + bias) */
    size_t ldgx;
    float *gh;  /* [B, G] */
    float *h, *c; /* states [B, H] */
    float *tmp, *tmp2; /* [B, H] each */
} ei_rnn_ctx;

/* A step's product gets one more task per this many multiply-adds (up to the threads).
 * Batch-1 steps are GEMVs of 1-10 us bound by R's trip through L2; split by columns, each
 * thread keeps its half of R in its own L2 and the pool's workers spin between steps, so
 * [1,256]x[256,1024] went from 10.7 to 5.3 us and [1,128]x[128,512] from 2.3 to 1.4 us on
 * 2 idle cores. (On cores shared with other busy processes a descheduled worker stalls
 * each step instead: 2x slower there, as it is for onnxruntime.) */
#define EI_RNN_STEP_MIN_TASK_FLOPS ((size_t)1 << 15)
/* ... and the input projection (done once): as dense_gemm.h. */
#define EI_RNN_MIN_TASK_FLOPS ((size_t)1 << 17)

/* C = epilogue(A[M,K] * packed B[K,N]) split over a pool by rows or nr-column blocks. */
typedef struct ei_rnn_pgemm {
    const ei_gemm_kernel *gk;
    size_t m, n, k;
    const float *a;
    size_t lda;
    const float *pb;
    float *c;
    size_t ldc;
    ei_gemm_epilogue ep;
    size_t block;
    int split_rows;
} ei_rnn_pgemm;

static inline void ei_rnn_pgemm_task(void *arg, size_t task, int thread) {
    (void)thread;
    const ei_rnn_pgemm *g = (const ei_rnn_pgemm *)arg;
    size_t lo = task * g->block, ext = g->split_rows ? g->m : g->n;
    size_t hi = lo + g->block < ext ? lo + g->block : ext;
    if (g->split_rows)
        g->gk->gemm_pb(g->k, g->a, g->lda, g->pb, g->c, g->ldc, &g->ep, lo, hi, 0, g->n);
    else
        g->gk->gemm_pb(g->k, g->a, g->lda, g->pb, g->c, g->ldc, &g->ep, 0, g->m, lo, hi);
}

/* Runs g over pool with at most one task per min_flops multiply-adds and per thread;
 * pool NULL or threads <= 1: inline. */
static inline void ei_rnn_pgemm_run(ei_threadpool *pool, int threads, size_t min_flops,
                                    ei_rnn_pgemm *g) {
    if (!g->m || !g->n) return;
    size_t work = 0, t = 1;
    if (pool && threads > 1 && ei_size_mul(g->m, g->n, &work) &&
        ei_size_mul(work, g->k ? g->k : 1, &work)) {
        t = work / min_flops;
        if (t > (size_t)threads) t = (size_t)threads;
        if (!t) t = 1;
    }
    size_t nr = g->gk->nr, panels = (g->n + nr - 1) / nr;
    g->split_rows = g->m >= t * 4 || panels < t;
    size_t ext = g->split_rows ? g->m : panels;
    if (t > ext) t = ext;
    size_t block = (ext + t - 1) / t;
    size_t n_tasks = (ext + block - 1) / block;
    g->block = g->split_rows ? block : block * nr;
    if (n_tasks <= 1) ei_rnn_pgemm_task(g, 0, 0);
    else ei_threadpool_run(pool, n_tasks, ei_rnn_pgemm_task, g);
}

/* One step's product c[B, cols of piece] = a[B, H] * R piece (+ residual rows, + bias[n])
 * for this direction, threaded when the step is large and the context allows it. */
static inline void ei_rnn_step_gemm(const ei_rnn_ctx *cx, int piece, const float *a,
                                    size_t lda, float *c, size_t ldc, const float *res,
                                    size_t ldr, const float *bias) {
    const ei_rnn_state *s = cx->s;
    ei_rnn_pgemm g;
    memset(&g, 0, sizeof g);
    g.gk = s->gk;
    g.m = s->B;
    g.n = piece ? s->G - s->G1 : s->G1;
    g.k = s->H;
    g.a = a, g.lda = lda;
    g.pb = cx->rp + (piece ? s->rp_piece1 : 0);
    g.c = c, g.ldc = ldc;
    g.ep.bias = bias;
    g.ep.bias_per_col = 1;
    g.ep.residual = res;
    g.ep.ldr = ldr;
    g.ep.act.kind = EI_ACT_KIND_NONE;
    ei_rnn_pgemm_run(cx->threaded ? cx->ex->pool : NULL, cx->ex->num_threads,
                     EI_RNN_STEP_MIN_TASK_FLOPS, &g);
}

/* When every batch is at the same time index in this step (uniform lengths), the gx rows
 * of (that time, batch 0..B) as a residual for ei_rnn_step_gemm: pointer and row stride
 * (column col of the gates); NULL otherwise (the step adds gx per batch). */
static inline const float *ei_rnn_step_residual(const ei_rnn_ctx *cx, size_t step, size_t col,
                                                size_t *ldr) {
    const ei_rnn_state *s = cx->s;
    if (!cx->uniform) return NULL;
    size_t t = cx->reverse ? s->T - 1 - step : step;
    *ldr = s->layout ? s->T * cx->ldgx : cx->ldgx;
    return cx->gx + (s->layout ? t : t * s->B) * cx->ldgx + col;
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

static inline void ei_rnn_destroy(void *p) {
    ei_rnn_state *s = (ei_rnn_state *)p;
    if (!s) return;
    ei_aligned_free(s->wp);
    ei_aligned_free(s->rp);
    free(s);
}

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

/* Places n floats at *off (returned in *at) and advances *off to the next multiple of 16
 * floats; false on overflow. */
static inline bool ei_rnn_take(size_t *off, size_t n, size_t *at) {
    size_t r = 0;
    *at = *off;
    return ei_size_add(n, 15, &r) && ei_size_add(*off, r / 16 * 16, off);
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
    /* Packed weights. R's element count bounds D*G*H (H >= 1), W's D*G*I. */
    const ei_gemm_kernel *gk = ei_gemm_kernel_get();
    size_t DG = (size_t)D * s->G, H_ = s->H, I_ = s->I;
    s->gk = gk;
    s->G1 = kind->gates == 3 ? 2 * H_ : s->G;
    size_t wpb = I_ ? gk->pack_b_size(I_, DG) : 0, rp0 = gk->pack_b_size(H_, s->G1);
    size_t rp1 = s->G > s->G1 ? gk->pack_b_size(H_, s->G - s->G1) : 0;
    if ((I_ && !wpb) || !rp0 || (s->G > s->G1 && !rp1))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input W '%s': packed weight size overflows", w->name);
    size_t rp_bytes = 0;
    s->wp_floats = wpb / sizeof(float);
    s->rp_piece1 = (rp0 / sizeof(float) + 15) / 16 * 16;
    s->rp_dir = s->rp_piece1 + (rp1 / sizeof(float) + 15) / 16 * 16;
    if (s->rp_dir < s->rp_piece1 || !ei_size_mul(s->rp_dir, (size_t)D * sizeof(float), &rp_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input R '%s': packed weight size overflows", r->name);
    /* Constants are packed once here (again only when their data or shape changes). */
    if ((w->flags & EI_VALUE_FLAG_CONST) && w->data && I_) {
        if (!s->wp || s->wp_src != w->data || s->wp_key[0] != I_ || s->wp_key[1] != DG) {
            ei_aligned_free(s->wp);
            s->wp = ei_aligned_alloc(wpb);
            s->wp_src = NULL;
            if (!s->wp)
                return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY,
                                     "out of memory packing input W '%s'", w->name);
            gk->pack_b(I_, DG, (const float *)w->data, I_, 1, s->wp);
            s->wp_src = w->data;
            s->wp_key[0] = I_, s->wp_key[1] = DG;
        }
    } else {
        ei_aligned_free(s->wp);
        s->wp = NULL;
    }
    if ((r->flags & EI_VALUE_FLAG_CONST) && r->data) {
        if (!s->rp || s->rp_src != r->data || s->rp_key[0] != H_ || s->rp_key[1] != DG) {
            ei_aligned_free(s->rp);
            s->rp = ei_aligned_alloc(rp_bytes);
            s->rp_src = NULL;
            if (!s->rp)
                return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY,
                                     "out of memory packing input R '%s'", r->name);
            for (int64_t d = 0; d < D; d++) {
                const float *rd = (const float *)r->data + (size_t)d * s->G * H_;
                float *dst = s->rp + (size_t)d * s->rp_dir;
                gk->pack_b(H_, s->G1, rd, H_, 1, dst);
                if (s->G > s->G1)
                    gk->pack_b(H_, s->G - s->G1, rd + s->G1 * H_, H_, 1, dst + s->rp_piece1);
            }
            s->rp_src = r->data;
            s->rp_key[0] = H_, s->rp_key[1] = DG;
        }
    } else {
        ei_aligned_free(s->rp);
        s->rp = NULL;
    }
    /* Scratch, each part 16-float aligned: gx, bias, the directions' blocks, then the
     * packed weights that are not constants. */
    size_t off = 0, tb = 0, n_gx = 0, bg = 0, bh = 0, dirs_f = 0, rp_all = 0;
    bool ok = ei_size_mul(s->T, s->B, &tb) && ei_size_mul(tb, DG, &n_gx) &&
              ei_size_mul(s->B, s->G, &bg) && ei_size_mul(s->B, H_, &bh);
    /* Offsets inside a direction's block: gh, h, c, tmp, tmp2. */
    {
        size_t o = 0;
        ok = ok && ei_rnn_take(&o, bg, &s->off_gh) && ei_rnn_take(&o, bh, &s->off_h) &&
             ei_rnn_take(&o, bh, &s->off_c) && ei_rnn_take(&o, bh, &s->off_tmp) &&
             ei_rnn_take(&o, bh, &s->off_tmp2);
        s->dir_stride = o;
    }
    ok = ok && ei_size_mul(s->dir_stride, (size_t)D, &dirs_f) &&
         ei_size_mul(s->rp_dir, (size_t)D, &rp_all);
    ok = ok && ei_rnn_take(&off, n_gx, &s->off_gx) && ei_rnn_take(&off, DG, &s->off_bias) &&
         ei_rnn_take(&off, dirs_f, &s->off_dir) &&
         ei_rnn_take(&off, s->wp || !I_ ? 0 : s->wp_floats, &s->off_wp) &&
         ei_rnn_take(&off, s->rp ? 0 : rp_all, &s->off_rp);
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

/* What one direction needs besides its context. */
typedef struct ei_rnn_job {
    ei_rnn_ctx cx[2];
    ei_rnn_step_fn step;
    const ei_value *h0, *c0;
    ei_value *yh, *yc;
    float *yd;
} ei_rnn_job;

/* Runs direction d over the whole sequence: initial states, steps, Y, Y_h, Y_c. */
static inline void ei_rnn_direction(const ei_rnn_job *job, size_t d) {
    const ei_rnn_ctx *cx = &job->cx[d];
    const ei_rnn_state *s = cx->s;
    size_t T = s->T, B = s->B, H = s->H;
    for (size_t b = 0; b < B; b++) {
        size_t o = ei_rnn_yh_off(s, d, b);
        if (job->h0) memcpy(cx->h + b * H, (const float *)job->h0->data + o, H * sizeof(float));
        else memset(cx->h + b * H, 0, H * sizeof(float));
        if (job->c0) memcpy(cx->c + b * H, (const float *)job->c0->data + o, H * sizeof(float));
        else memset(cx->c + b * H, 0, H * sizeof(float));
    }
    for (size_t t = 0; t < T && B > 0; t++) {
        job->step(cx, t);
        if (!job->yd) continue;
        for (size_t b = 0; b < B; b++) {
            size_t tb = ei_rnn_time(cx, b, t);
            if (tb == (size_t)-1) continue;
            memcpy(job->yd + ei_rnn_y_off(s, tb, d, b), cx->h + b * H, H * sizeof(float));
        }
    }
    for (size_t b = 0; b < B; b++) {
        size_t o = ei_rnn_yh_off(s, d, b);
        float *yh = job->yh ? (float *)job->yh->data + o : NULL;
        float *yc = job->yc ? (float *)job->yc->data + o : NULL;
        /* A batch with sequence length 0 reports zero states, as onnxruntime does. */
        if (cx->lens && cx->lens[b] == 0) {
            if (yh) memset(yh, 0, H * sizeof(float));
            if (yc) memset(yc, 0, H * sizeof(float));
            continue;
        }
        if (yh) memcpy(yh, cx->h + b * H, H * sizeof(float));
        if (yc) memcpy(yc, cx->c + b * H, H * sizeof(float));
    }
}

static inline void ei_rnn_direction_task(void *arg, size_t task, int thread) {
    (void)thread;
    ei_rnn_direction((const ei_rnn_job *)arg, task);
}

static inline ei_status ei_rnn_run(ei_exec *ex, ei_node *node, ei_rnn_step_fn step,
                                   ei_rnn_bias_fn bias_fold) {
    const ei_rnn_state *s = node->state;
    const ei_gemm_kernel *gk = s->gk;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *r = ei_node_in(ex, node, 2), *bv = ei_node_in(ex, node, 3);
    const ei_value *lv = ei_node_in(ex, node, 4);
    const ei_value *pv = s->kind->gates == 4 ? ei_node_in(ex, node, 7) : NULL;
    ei_value *y = ei_node_out(ex, node, 0);
    const int32_t *lens = lv ? (const int32_t *)lv->data : NULL;
    size_t T = s->T, B = s->B, H = s->H, G = s->G, I = s->I, D = (size_t)s->dirs;
    size_t DG = D * G, rows = T * B;
    int uniform = 1;
    for (size_t b = 0; lens && b < B; b++) {
        if (lens[b] < 0 || (size_t)lens[b] > T)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input sequence_lens '%s'[%zu] = %d is outside [0, %zu]",
                                 lv->name, b, (int)lens[b], T);
        if ((size_t)lens[b] != T) uniform = 0;
    }
    float *sc = node->scratch;
    ei_rnn_job job;
    memset(&job, 0, sizeof job);
    job.step = step;
    job.h0 = ei_node_in(ex, node, 5);
    job.c0 = s->kind->gates == 4 ? ei_node_in(ex, node, 6) : NULL;
    job.yh = ei_node_out(ex, node, 1);
    job.yc = s->kind->gates == 4 ? ei_node_out(ex, node, 2) : NULL;
    job.yd = y ? (float *)y->data : NULL;
    /* Steps past a batch's length leave zeros in Y; otherwise every row is written. */
    if (job.yd && y->nbytes && !uniform) memset(job.yd, 0, y->nbytes);
    /* Weights that are not constants are packed for this run. */
    const float *wp = s->wp, *rp = s->rp;
    if (!wp && I) {
        gk->pack_b(I, DG, (const float *)w->data, I, 1, sc + s->off_wp);
        wp = sc + s->off_wp;
    }
    if (!rp) {
        float *dst = sc + s->off_rp;
        for (size_t d = 0; d < D; d++) {
            const float *rd = (const float *)r->data + d * G * H;
            gk->pack_b(H, s->G1, rd, H, 1, dst + d * s->rp_dir);
            if (G > s->G1)
                gk->pack_b(H, G - s->G1, rd + s->G1 * H, H, 1, dst + d * s->rp_dir + s->rp_piece1);
        }
        rp = dst;
    }
    /* gx = X * W^T + folded bias for every time step and direction in one product. */
    float *bias = bv ? sc + s->off_bias : NULL, *gx = sc + s->off_gx;
    for (size_t d = 0; bias && d < D; d++) {
        const float *bd = (const float *)bv->data + d * 2 * G;
        bias_fold(s, bd, bd + G, bias + d * G);
    }
    if (rows && DG && I) {
        ei_rnn_pgemm g;
        memset(&g, 0, sizeof g);
        g.gk = gk;
        g.m = rows, g.n = DG, g.k = I;
        g.a = (const float *)x->data, g.lda = I;
        g.pb = wp;
        g.c = gx, g.ldc = DG;
        g.ep.bias = bias;
        g.ep.bias_per_col = 1;
        g.ep.act.kind = EI_ACT_KIND_NONE;
        ei_rnn_pgemm_run(ex->pool, ex->num_threads, EI_RNN_MIN_TASK_FLOPS, &g);
    } else if (rows && DG) {
        for (size_t i = 0; i < rows; i++) {
            if (bias) memcpy(gx + i * DG, bias, DG * sizeof(float));
            else memset(gx + i * DG, 0, DG * sizeof(float));
        }
    }
    /* Two directions are independent: one thread each, for the whole sequence, beats
     * splitting every small step. */
    int par_dirs = D == 2 && ex->pool && ex->num_threads >= 2 && B > 0 && T > 0;
    for (size_t d = 0; d < D; d++) {
        ei_rnn_ctx *cx = &job.cx[d];
        float *blk = sc + s->off_dir + d * s->dir_stride;
        cx->ex = ex;
        cx->s = s;
        cx->dir = (int)d;
        cx->reverse = s->dirs == 2 ? (int)d : s->reverse;
        cx->threaded = !par_dirs;
        cx->uniform = uniform;
        cx->lens = lens;
        cx->b = bv ? (const float *)bv->data + d * 2 * G : NULL;
        cx->p = pv ? (const float *)pv->data + d * 3 * H : NULL;
        cx->rp = rp + d * s->rp_dir;
        cx->act = s->acts[d];
        cx->gx = gx + d * G;
        cx->ldgx = DG;
        cx->gh = blk + s->off_gh;
        cx->h = blk + s->off_h;
        cx->c = blk + s->off_c;
        cx->tmp = blk + s->off_tmp;
        cx->tmp2 = blk + s->off_tmp2;
    }
    if (par_dirs) ei_threadpool_run(ex->pool, 2, ei_rnn_direction_task, &job);
    else
        for (size_t d = 0; d < D; d++) ei_rnn_direction(&job, d);
    return EI_STATUS_OK;
}

#endif /* EI_OPS_RNN_COMMON_H */
