/*
 * einsum.c - Einsum (opset 12): explicit and implicit outputs, ellipsis broadcasting and
 * repeated labels (diagonals, traces). A float32 product of two operands whose labels split
 * into batch / row / column / contracted groups runs as transposes into scratch plus one
 * GEMM per batch entry; everything else (float64, int32, int64, one or 3+ operands, diagonals,
 * broadcasting, labels summed within one operand) runs a generic strided loop.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/dense_gemm.h"
#include "ops/elem_util.h"

#define ES_LETTERS 52                        /* a-z -> 0..25, A-Z -> 26..51 */
#define ES_LABELS (ES_LETTERS + EI_MAX_RANK) /* then one label per ellipsis dim */
#define ES_MAX_IN 16

typedef struct es_term {
    int n; /* letters */
    int lab[EI_MAX_RANK];
    int ell; /* position of "..." among the letters, -1 when absent */
} es_term;

typedef struct es_plan {
    int n_out, n_sum; /* output labels, summed labels */
    int64_t out_dims[EI_MAX_RANK];
    int64_t sum_dims[ES_LABELS];
    size_t out_str[ES_MAX_IN][EI_MAX_RANK]; /* per input, per output label (elements) */
    size_t sum_str[ES_MAX_IN][ES_LABELS];
    /* GEMM path */
    bool gemm;
    size_t batch, m, n, k;
    int na, nb, nc; /* dims of A', B', C' */
    int64_t a_dims[EI_MAX_RANK], b_dims[EI_MAX_RANK], c_dims[EI_MAX_RANK];
    size_t a_src[EI_MAX_RANK], b_src[EI_MAX_RANK]; /* strides into A, B for A', B' dims */
    bool a_copy, b_copy, c_copy;
    int trans_a, trans_b;      /* A stored as [batch, k, m] / B as [batch, n, k]: no copy */
    size_t a_pad, b_pad;       /* floats of scratch before B' and before C' */
    size_t c_src[EI_MAX_RANK]; /* strides into C' for the output dims */
} es_plan;

typedef struct es_state {
    int n_in;
    es_term in[ES_MAX_IN];
    es_term out;
    bool explicit_out;
    es_plan plan;
} es_state;

static int es_letter(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    return -1;
}

/* Parses one term from s[0..len) (spaces already removed). */
static ei_status es_parse_term(const ei_node *node, const char *s, size_t len, es_term *t) {
    t->n = 0;
    t->ell = -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (t->ell >= 0 || i + 2 >= len + 0 || s[i + 1] != '.' || s[i + 2] != '.')
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "equation: malformed or repeated '...' in a term");
            t->ell = t->n;
            i += 2;
            continue;
        }
        int l = es_letter(s[i]);
        if (l < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "equation: invalid character '%c'",
                                 s[i]);
        if (t->n >= EI_MAX_RANK)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "equation: a term has more than %d labels", EI_MAX_RANK);
        t->lab[t->n++] = l;
    }
    return EI_STATUS_OK;
}

static ei_status einsum_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    es_state *s = NULL;
    const char *eq = NULL;
    char *buf = NULL;
    if (node->n_inputs < 1 || node->n_inputs > ES_MAX_IN || node->n_outputs != 1 ||
        node->outputs[0] < 0) {
        return ei_node_error(
            node, node->n_inputs > ES_MAX_IN ? EI_STATUS_UNSUPPORTED : EI_STATUS_INVALID_MODEL,
            "expected 1 to %d inputs and 1 output, got %d and %d", ES_MAX_IN, node->n_inputs,
            node->n_outputs);
    }
    for (int i = 0; i < node->n_inputs; i++)
        if (node->inputs[i] < 0)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "input %d is missing", i);
    EI_TRY(ei_node_attr_string(node, "equation", NULL, &eq));
    if (!eq) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'equation' is required");
        goto cleanup;
    }
    s = calloc(1, sizeof *s);
    buf = malloc(strlen(eq) + 1);
    if (!s || !buf) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    size_t n = 0;
    for (const char *p = eq; *p; p++)
        if (*p != ' ' && *p != '\t') buf[n++] = *p;
    buf[n] = 0;
    const char *arrow = strstr(buf, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - buf) : n;
    if (arrow && strstr(arrow + 2, "->")) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "equation '%s' has more than one '->'",
                           eq);
        goto cleanup;
    }
    size_t start = 0;
    int terms = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || buf[i] == ',') {
            if (terms >= node->n_inputs) {
                terms++;
                break;
            }
            EI_TRY(es_parse_term(node, buf + start, i - start, &s->in[terms]));
            terms++;
            start = i + 1;
        }
    }
    if (terms != node->n_inputs) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "equation '%s' has %s terms than the node's %d inputs", eq,
                           terms > node->n_inputs ? "more" : "fewer", node->n_inputs);
        goto cleanup;
    }
    s->n_in = node->n_inputs;
    s->explicit_out = arrow != NULL;
    if (arrow) {
        EI_TRY(es_parse_term(node, arrow + 2, strlen(arrow + 2), &s->out));
        bool seen[ES_LETTERS] = {false};
        for (int j = 0; j < s->out.n; j++) {
            int l = s->out.lab[j];
            bool found = false;
            for (int i = 0; i < s->n_in && !found; i++)
                for (int q = 0; q < s->in[i].n; q++)
                    found = found || s->in[i].lab[q] == l;
            if (seen[l] || !found) {
                st = ei_node_error(
                    node, EI_STATUS_INVALID_MODEL, "equation '%s': output label '%c' is %s", eq,
                    l < 26 ? 'a' + l : 'A' + (l - 26), seen[l] ? "repeated" : "not in any input");
                goto cleanup;
            }
            seen[l] = true;
        }
    }
    node->state = s;
    s = NULL;
cleanup:
    free(buf);
    free(s);
    return st;
}

static bool es_is_float(ei_dtype dt) {
    return dt == EI_DTYPE_F32;
}

/* Whether labels labs[0..n), in this order, lie contiguously (row-major) in an operand whose
 * per-label strides are str (size-1 labels do not count). */
static bool es_contiguous(const int *labs, int n, const size_t *str, const int64_t *size) {
    size_t expect = 1;
    for (int q = n - 1; q >= 0; q--) {
        if (size[labs[q]] != 1 && str[labs[q]] != expect) return false;
        expect *= (size_t)size[labs[q]];
    }
    return true;
}

static ei_status einsum_infer(ei_exec *ex, ei_node *node) {
    es_state *s = node->state;
    es_plan *p = &s->plan;
    int64_t size[ES_LABELS];
    int count[ES_LABELS] = {0};
    int dlab[ES_MAX_IN][EI_MAX_RANK];
    int E = 0;
    char buf[128];
    const ei_value *x0 = ei_node_in(ex, node, 0);
    memset(p, 0, sizeof *p);
    for (int l = 0; l < ES_LABELS; l++)
        size[l] = -1;
    if (x0->dtype != EI_DTYPE_F32 && x0->dtype != EI_DTYPE_F64 && x0->dtype != EI_DTYPE_I32 &&
        x0->dtype != EI_DTYPE_I64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; float32, float64, int32 and int64 are "
                             "supported",
                             x0->name, ei_dtype_name(x0->dtype));
    for (int i = 0; i < s->n_in; i++) {
        const ei_value *x = ei_node_in(ex, node, i);
        const es_term *t = &s->in[i];
        if (x->dtype != x0->dtype)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' has dtype %s, input '%s' has %s", x->name,
                                 ei_dtype_name(x->dtype), x0->name, ei_dtype_name(x0->dtype));
        int e = x->rank - t->n;
        if (e < 0 || (t->ell < 0 && e != 0))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "input '%s' has shape %s, rank %d, but its equation term has %d "
                                 "labels%s",
                                 x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), x->rank,
                                 t->n, t->ell >= 0 ? " and '...'" : "");
        if (e > E) E = e;
    }
    for (int i = 0; i < s->n_in; i++) {
        const ei_value *x = ei_node_in(ex, node, i);
        const es_term *t = &s->in[i];
        int e = x->rank - t->n, d = 0;
        for (int q = 0; q <= t->n; q++) {
            if (q == t->ell)
                for (int k = 0; k < e; k++)
                    dlab[i][d++] = ES_LETTERS + (E - e) + k;
            if (q < t->n) dlab[i][d++] = t->lab[q];
        }
        for (d = 0; d < x->rank; d++) {
            int l = dlab[i][d];
            int64_t n = x->dims[d];
            count[l]++;
            if (size[l] < 0) {
                size[l] = n;
            } else if (size[l] != n) {
                if (l >= ES_LETTERS && n == 1) continue; /* broadcast */
                if (l >= ES_LETTERS && size[l] == 1) {
                    size[l] = n;
                    continue;
                }
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "input '%s' has shape %s: dimension %d (%lld) does not "
                                     "match the other dimensions of its label (%lld)",
                                     x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), d,
                                     (long long)n, (long long)size[l]);
            }
        }
    }
    /* Output labels. */
    int out_lab[EI_MAX_RANK + ES_LABELS], n_out = 0;
    bool in_out[ES_LABELS] = {false};
    if (s->explicit_out) {
        for (int q = 0; q <= s->out.n; q++) {
            if (q == s->out.ell)
                for (int k = 0; k < E; k++)
                    out_lab[n_out++] = ES_LETTERS + k;
            if (q < s->out.n) out_lab[n_out++] = s->out.lab[q];
        }
    } else {
        for (int k = 0; k < E; k++)
            out_lab[n_out++] = ES_LETTERS + k;
        for (int l = 26; l < ES_LETTERS; l++) /* ASCII order: upper case first */
            if (count[l] == 1) out_lab[n_out++] = l;
        for (int l = 0; l < 26; l++)
            if (count[l] == 1) out_lab[n_out++] = l;
    }
    if (n_out > EI_MAX_RANK)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "the output has rank %d, more than %d",
                             n_out, EI_MAX_RANK);
    p->n_out = n_out;
    for (int j = 0; j < n_out; j++) {
        in_out[out_lab[j]] = true;
        p->out_dims[j] = size[out_lab[j]];
    }
    int sum_lab[ES_LABELS];
    p->n_sum = 0;
    for (int l = 0; l < ES_LABELS; l++)
        if (size[l] >= 0 && !in_out[l]) {
            sum_lab[p->n_sum] = l;
            p->sum_dims[p->n_sum++] = size[l];
        }
    /* Strides per input and label (repeated labels add up: diagonals). */
    size_t lstr[ES_MAX_IN][ES_LABELS];
    bool repeated = false, bcast = false;
    for (int i = 0; i < s->n_in; i++) {
        const ei_value *x = ei_node_in(ex, node, i);
        int seen[ES_LABELS] = {0};
        memset(lstr[i], 0, sizeof lstr[i]);
        size_t acc = 1;
        for (int d = x->rank - 1; d >= 0; d--) {
            int l = dlab[i][d];
            if (x->dims[d] != 1 || size[l] == 1) lstr[i][l] += acc;
            if (x->dims[d] != size[l]) bcast = true;
            if (seen[l]++) repeated = true;
            acc *= (size_t)x->dims[d];
        }
        for (int j = 0; j < n_out; j++)
            p->out_str[i][j] = lstr[i][out_lab[j]];
        for (int j = 0; j < p->n_sum; j++)
            p->sum_str[i][j] = lstr[i][sum_lab[j]];
    }
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), x0->dtype, n_out, p->out_dims));
    node->scratch_bytes = 0;

    /* GEMM path: two float operands, every label in both and the output (batch), in one
     * operand and the output (rows / columns), or in both but not the output (contracted). */
    if (s->n_in != 2 || !es_is_float(x0->dtype) || repeated || bcast) return EI_STATUS_OK;
    const ei_value *a = ei_node_in(ex, node, 0), *b = ei_node_in(ex, node, 1);
    int ga[EI_MAX_RANK], gb[EI_MAX_RANK], gc[EI_MAX_RANK];
    int nbt = 0, nm = 0, nn = 0, nk = 0;
    int bt[EI_MAX_RANK], ml[EI_MAX_RANK], nl[EI_MAX_RANK], kl[EI_MAX_RANK];
    bool ina[ES_LABELS] = {false}, inb[ES_LABELS] = {false};
    for (int d = 0; d < a->rank; d++)
        ina[dlab[0][d]] = true;
    for (int d = 0; d < b->rank; d++)
        inb[dlab[1][d]] = true;
    for (int l = 0; l < ES_LABELS; l++) {
        if (size[l] < 0) continue;
        if (ina[l] && inb[l] && in_out[l])
            bt[nbt++] = l;
        else if (ina[l] && in_out[l])
            ml[nm++] = l;
        else if (inb[l] && in_out[l])
            nl[nn++] = l;
        else if (ina[l] && inb[l])
            kl[nk++] = l;
        else
            return EI_STATUS_OK; /* summed within one operand */
    }
    /* Keep batch, row and column labels in output order (fewer copies). */
    int order[ES_LABELS];
    for (int j = 0; j < n_out; j++)
        order[out_lab[j]] = j;
    for (int q = 1; q < nbt; q++)
        for (int r = q; r > 0 && order[bt[r]] < order[bt[r - 1]]; r--) {
            int t = bt[r];
            bt[r] = bt[r - 1];
            bt[r - 1] = t;
        }
    for (int q = 1; q < nm; q++)
        for (int r = q; r > 0 && order[ml[r]] < order[ml[r - 1]]; r--) {
            int t = ml[r];
            ml[r] = ml[r - 1];
            ml[r - 1] = t;
        }
    for (int q = 1; q < nn; q++)
        for (int r = q; r > 0 && order[nl[r]] < order[nl[r - 1]]; r--) {
            int t = nl[r];
            nl[r] = nl[r - 1];
            nl[r - 1] = t;
        }
    p->batch = p->m = p->n = p->k = 1;
    p->na = p->nb = p->nc = 0;
    for (int q = 0; q < nbt; q++) {
        ga[p->na++] = bt[q];
        gb[p->nb++] = bt[q];
        gc[p->nc++] = bt[q];
        p->batch *= (size_t)size[bt[q]];
    }
    for (int q = 0; q < nm; q++) {
        ga[p->na++] = ml[q];
        gc[p->nc++] = ml[q];
        p->m *= (size_t)size[ml[q]];
    }
    for (int q = 0; q < nk; q++) {
        ga[p->na++] = kl[q];
        gb[p->nb++] = kl[q];
        p->k *= (size_t)size[kl[q]];
    }
    for (int q = 0; q < nn; q++) {
        gb[p->nb++] = nl[q];
        gc[p->nc++] = nl[q];
        p->n *= (size_t)size[nl[q]];
    }
    /* Tiny products per batch entry (elementwise products, dot products of a few terms)
     * cost more in GEMM calls than the loop does. */
    size_t work = 0;
    if (!ei_size_mul(p->m, p->n, &work) || !ei_size_mul(work, p->k, &work) || work < 64)
        return EI_STATUS_OK;
    /* A' = A permuted to [batch, m, k]; a copy only if A is not already in that order. */
    p->a_copy = p->b_copy = p->c_copy = false;
    size_t expect = 1;
    for (int q = p->na - 1; q >= 0; q--) {
        p->a_dims[q] = size[ga[q]];
        p->a_src[q] = lstr[0][ga[q]];
        if (p->a_dims[q] != 1 && p->a_src[q] != expect) p->a_copy = true;
        expect *= (size_t)p->a_dims[q];
    }
    expect = 1;
    for (int q = p->nb - 1; q >= 0; q--) {
        p->b_dims[q] = size[gb[q]];
        p->b_src[q] = lstr[1][gb[q]];
        if (p->b_dims[q] != 1 && p->b_src[q] != expect) p->b_copy = true;
        expect *= (size_t)p->b_dims[q];
    }
    /* An operand stored with its two groups swapped is read transposed by the GEMM. */
    p->trans_a = p->trans_b = 0;
    if (p->a_copy) {
        int alt[EI_MAX_RANK], na = 0;
        for (int q = 0; q < nbt; q++)
            alt[na++] = bt[q];
        for (int q = 0; q < nk; q++)
            alt[na++] = kl[q];
        for (int q = 0; q < nm; q++)
            alt[na++] = ml[q];
        if (es_contiguous(alt, na, lstr[0], size)) {
            p->a_copy = false;
            p->trans_a = 1;
        }
    }
    if (p->b_copy) {
        int alt[EI_MAX_RANK], nb2 = 0;
        for (int q = 0; q < nbt; q++)
            alt[nb2++] = bt[q];
        for (int q = 0; q < nn; q++)
            alt[nb2++] = nl[q];
        for (int q = 0; q < nk; q++)
            alt[nb2++] = kl[q];
        if (es_contiguous(alt, nb2, lstr[1], size)) {
            p->b_copy = false;
            p->trans_b = 1;
        }
    }
    size_t cstr[ES_LABELS];
    expect = 1;
    for (int q = p->nc - 1; q >= 0; q--) {
        p->c_dims[q] = size[gc[q]];
        cstr[gc[q]] = expect;
        expect *= (size_t)p->c_dims[q];
    }
    expect = 1;
    for (int j = n_out - 1; j >= 0; j--) {
        p->c_src[j] = cstr[out_lab[j]];
        if (p->out_dims[j] != 1 && p->c_src[j] != expect) p->c_copy = true;
        expect *= (size_t)p->out_dims[j];
    }
    size_t sa = 0, sb = 0, sc = 0, tot = 0;
    if (p->a_copy) sa = ei_value_numel(a);
    if (p->b_copy) sb = ei_value_numel(b);
    if (p->c_copy) sc = ei_value_numel(ei_node_out(ex, node, 0));
    /* Each region rounded to 16 floats keeps the next one 64-byte aligned. */
    sa = (sa + 15) & ~(size_t)15;
    sb = (sb + 15) & ~(size_t)15;
    if (!ei_size_add(sa, sb, &tot) || !ei_size_add(tot, sc, &tot) ||
        !ei_size_mul(tot, sizeof(float), &tot))
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "scratch size overflows");
    node->scratch_bytes = tot;
    p->a_pad = sa;
    p->b_pad = sb;
    p->gemm = true;
    return EI_STATUS_OK;
}

/* dst (contiguous, dims) = src gathered with per-dim element strides. */
static void es_gather(int n, const int64_t *dims, const size_t *str, const float *src, float *dst) {
    size_t total = 1;
    for (int q = 0; q < n; q++)
        total *= (size_t)dims[q];
    if (total == 0) return;
    int64_t idx[EI_MAX_RANK] = {0};
    size_t off = 0;
    for (size_t i = 0; i < total; i++) {
        dst[i] = src[off];
        for (int q = n - 1; q >= 0; q--) {
            off += str[q];
            if (++idx[q] < dims[q]) break;
            off -= str[q] * (size_t)dims[q];
            idx[q] = 0;
        }
    }
}

static void es_run_gemm(ei_exec *ex, ei_node *node) {
    const es_plan *p = &((const es_state *)node->state)->plan;
    const float *a = ei_node_in(ex, node, 0)->data, *b = ei_node_in(ex, node, 1)->data;
    float *y = ei_node_out(ex, node, 0)->data;
    float *scr = node->scratch;
    const size_t sa = p->a_pad, sb = p->b_pad;
    if (p->a_copy) {
        es_gather(p->na, p->a_dims, p->a_src, a, scr);
        a = scr;
    }
    if (p->b_copy) {
        es_gather(p->nb, p->b_dims, p->b_src, b, scr + sa);
        b = scr + sa;
    }
    float *c = p->c_copy ? scr + sa + sb : y;
    for (size_t bi = 0; bi < p->batch; bi++) {
        ei_dense_gemm g = {.trans_a = p->trans_a,
                           .trans_b = p->trans_b,
                           .m = p->m,
                           .n = p->n,
                           .k = p->k,
                           .alpha = 1.0f,
                           .beta = 0.0f,
                           .a = a + bi * p->m * p->k,
                           .b = b + bi * p->k * p->n,
                           .lda = p->trans_a ? p->m : p->k,
                           .ldb = p->trans_b ? p->k : p->n,
                           .c = c + bi * p->m * p->n,
                           .ldc = p->n};
        ei_dense_gemm_run(ex, &g);
    }
    if (p->c_copy) es_gather(p->n_out, p->out_dims, p->c_src, c, y);
}

typedef struct es_ctx {
    const es_state *s;
    const void *x[ES_MAX_IN];
    void *y;
    ei_dtype dt;
    size_t total, n_tasks;
} es_ctx;

/* Generic loop: for each output element, sum over the summed labels of the product. */
static void es_generic_task(void *arg, size_t task, int thread) {
    (void)thread;
    const es_ctx *c = arg;
    const es_state *s = c->s;
    const es_plan *p = &s->plan;
    const int ni = s->n_in;
    size_t per = (c->total + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < c->total ? b + per : c->total;
    size_t n_sum = 1;
    for (int j = 0; j < p->n_sum; j++)
        n_sum *= (size_t)p->sum_dims[j];
    for (size_t o = b; o < e; o++) {
        size_t base[ES_MAX_IN] = {0}, rem = o;
        for (int j = p->n_out - 1; j >= 0; j--) {
            size_t id = rem % (size_t)p->out_dims[j];
            rem /= (size_t)p->out_dims[j];
            for (int i = 0; i < ni; i++)
                base[i] += id * p->out_str[i][j];
        }
        size_t off[ES_MAX_IN];
        int64_t idx[ES_LABELS] = {0};
        memcpy(off, base, sizeof off);
        float accf = 0.0f;
        double accd = 0.0;
        uint64_t acci = 0;
        for (size_t q = 0; q < n_sum; q++) {
            if (c->dt == EI_DTYPE_F32) {
                float prod = 1.0f;
                for (int i = 0; i < ni; i++)
                    prod *= ((const float *)c->x[i])[off[i]];
                accf += prod;
            } else if (c->dt == EI_DTYPE_F64) {
                double prod = 1.0;
                for (int i = 0; i < ni; i++)
                    prod *= ((const double *)c->x[i])[off[i]];
                accd += prod;
            } else if (c->dt == EI_DTYPE_I64) {
                uint64_t prod = 1;
                for (int i = 0; i < ni; i++)
                    prod *= (uint64_t)((const int64_t *)c->x[i])[off[i]];
                acci += prod;
            } else {
                uint32_t prod = 1;
                for (int i = 0; i < ni; i++)
                    prod *= (uint32_t)((const int32_t *)c->x[i])[off[i]];
                acci += prod;
            }
            for (int j = p->n_sum - 1; j >= 0; j--) {
                for (int i = 0; i < ni; i++)
                    off[i] += p->sum_str[i][j];
                if (++idx[j] < p->sum_dims[j]) break;
                for (int i = 0; i < ni; i++)
                    off[i] -= p->sum_str[i][j] * (size_t)p->sum_dims[j];
                idx[j] = 0;
            }
        }
        if (c->dt == EI_DTYPE_F32) {
            ((float *)c->y)[o] = accf;
        } else if (c->dt == EI_DTYPE_F64) {
            ((double *)c->y)[o] = accd;
        } else if (c->dt == EI_DTYPE_I64) {
            int64_t v;
            memcpy(&v, &acci, sizeof v);
            ((int64_t *)c->y)[o] = v;
        } else {
            uint32_t u = (uint32_t)acci;
            int32_t v;
            memcpy(&v, &u, sizeof v);
            ((int32_t *)c->y)[o] = v;
        }
    }
}

static ei_status einsum_run(ei_exec *ex, ei_node *node) {
    const es_state *s = node->state;
    ei_value *y = ei_node_out(ex, node, 0);
    size_t total = ei_value_numel(y);
    if (total == 0) return EI_STATUS_OK;
    if (s->plan.gemm) {
        es_run_gemm(ex, node);
        return EI_STATUS_OK;
    }
    es_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    for (int i = 0; i < s->n_in; i++)
        c.x[i] = ei_node_in(ex, node, i)->data;
    c.y = y->data;
    c.dt = y->dtype;
    c.total = total;
    size_t t = ei_elem_tasks(ex, total, 4096);
    c.n_tasks = t < total ? t : total;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        es_generic_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, es_generic_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_einsum = {einsum_prepare, einsum_infer, einsum_run, free,
                                    .dtypes = "float32 float64 int32 int64"};
