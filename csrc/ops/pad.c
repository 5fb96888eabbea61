/*
 * pad.c - Pad for any fixed-size dtype: constant, reflect, edge and wrap modes. Pads come
 * from an attribute before opset 11 and from an input after (with optional 'axes' from 18);
 * negative pads crop first, then the other modes read the cropped input. Pads not known at
 * infer make the node dynamic. run maps each output row to its source row (or the constant),
 * copies the row's middle in one memcpy and maps only the padded edges element by element.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "ops/elem_util.h"

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };
static const char *const pad_mode_names[] = {"constant", "reflect", "edge", "wrap"};

typedef struct pad_plan {
    int rank;
    int64_t dims[EI_MAX_RANK];     /* output */
    int64_t crop[EI_MAX_RANK];     /* first input index kept */
    int64_t kept[EI_MAX_RANK];     /* input length kept after cropping */
    int64_t before[EI_MAX_RANK];   /* padding added before (>= 0) */
    size_t in_stride[EI_MAX_RANK]; /* input bytes per index */
    size_t rows;                   /* product of output dims but the last */
} pad_plan;

typedef struct pad_state {
    int mode;
    int64_t pads_attr[2 * EI_MAX_RANK]; /* opset < 11 */
    size_t n_pads_attr;
    float value_attr;
    pad_plan plan; /* from the last infer when not dynamic */
} pad_state;

static ei_status pad_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    pad_state *s = NULL;
    const char *mode = NULL;
    bool old = node->opset < 11;
    EI_TRY(ei_elem_check_io(node, old ? 1 : 2, old ? 1 : (node->opset < 18 ? 3 : 4), 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_string(node, "mode", "constant", &mode));
    s->mode = -1;
    for (int m = 0; m < 4; m++)
        if (strcmp(mode, pad_mode_names[m]) == 0) s->mode = m;
    if (s->mode < 0 || (s->mode == PAD_WRAP && node->opset < 19)) {
        st = ei_node_error(node, EI_STATUS_INVALID_MODEL,
                           "attribute 'mode' = '%s' is not one of constant, reflect, edge%s", mode,
                           node->opset < 19 ? "" : ", wrap");
        goto cleanup;
    }
    if (old) {
        const char *name = node->opset < 2 ? "paddings" : "pads";
        const int64_t *p = NULL;
        size_t n = 0;
        EI_TRY(ei_node_attr_ints(node, name, &p, &n));
        if (!p) {
            st = ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute '%s' is required", name);
            goto cleanup;
        }
        if (n > 2 * EI_MAX_RANK) {
            st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                               "attribute '%s' has %zu entries, more than %d", name, n,
                               2 * EI_MAX_RANK);
            goto cleanup;
        }
        if (n) memcpy(s->pads_attr, p, n * sizeof *p);
        s->n_pads_attr = n;
        EI_TRY(ei_node_attr_float(node, "value", 0.0f, &s->value_attr));
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

/* Builds the plan for input x from pads (2 * n_axes entries: all begins, then all ends). */
static ei_status pad_make_plan(const ei_exec *ex, const ei_node *node, const pad_state *s,
                               pad_plan *p) {
    const ei_value *x = ei_node_in(ex, node, 0);
    const int r = x->rank;
    int64_t pads[2 * EI_MAX_RANK], axes_in[EI_MAX_RANK], begin[EI_MAX_RANK] = {0},
                                                         end[EI_MAX_RANK] = {0};
    size_t n_pads = 0, n_axes = 0;
    bool seen[EI_MAX_RANK] = {false};
    char b1[160];
    const int64_t *axes = NULL;
    if (node->opset < 11) {
        memcpy(pads, s->pads_attr, sizeof pads);
        n_pads = s->n_pads_attr;
    } else {
        const ei_value *pv = ei_node_in(ex, node, 1), *av = ei_node_in(ex, node, 3);
        EI_CHECK(ei_elem_read_ints(node, pv, "pads", pads, 2 * EI_MAX_RANK, &n_pads));
        if (av) {
            EI_CHECK(ei_elem_read_ints(node, av, "axes", axes_in, EI_MAX_RANK, &n_axes));
            axes = axes_in;
        }
    }
    if (!axes) n_axes = (size_t)r;
    if (n_pads != 2 * n_axes)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "'pads' has %zu entries, expected %zu (2 per axis) for input '%s' %s",
                             n_pads, 2 * n_axes, x->name, ei_shape_str(r, x->dims, b1, sizeof b1));
    for (size_t i = 0; i < n_axes; i++) {
        int ax = (int)i;
        if (axes) {
            if (!ei_elem_norm_axis(axes[i], r, &ax))
                return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                     "axis %lld is out of range for input '%s' of rank %d",
                                     (long long)axes[i], x->name, r);
            if (seen[ax])
                return ei_node_error(node, EI_STATUS_INVALID_MODEL, "axis %lld is repeated",
                                     (long long)axes[i]);
            seen[ax] = true;
        }
        begin[ax] = pads[i];
        end[ax] = pads[n_axes + i];
    }
    p->rank = r;
    size_t acc = ei_dtype_size(x->dtype);
    for (int d = r - 1; d >= 0; d--) {
        int64_t n = x->dims[d], b = begin[d], e = end[d];
        /* |pad| beyond 2^61 cannot describe a real tensor; keeps the sums below from overflowing.
         */
        const int64_t lim = (int64_t)1 << 61;
        if (b < -lim || b > lim || e < -lim || e > lim || n + b + e < 0)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "pads %lld, %lld for axis %d of input '%s' %s give a negative or "
                                 "too large size",
                                 (long long)b, (long long)e, d, x->name,
                                 ei_shape_str(r, x->dims, b1, sizeof b1));
        int64_t cb = b < 0 ? -b : 0, ce = e < 0 ? -e : 0;
        p->crop[d] = cb;
        p->kept[d] = n - cb - ce > 0 ? n - cb - ce : 0;
        p->before[d] = b > 0 ? b : 0;
        p->dims[d] = n + b + e;
        p->in_stride[d] = acc;
        acc *= (size_t)n;
    }
    /* Edge, reflect and wrap read the input to fill the padding: an axis left empty cannot
     * feed a non-empty output. */
    size_t out_numel = 0;
    if (s->mode != PAD_CONSTANT && ei_shape_numel(r, p->dims, &out_numel) && out_numel > 0)
        for (int d = 0; d < r; d++)
            if (p->kept[d] == 0)
                return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                     "mode '%s' cannot pad axis %d of input '%s' %s: no elements "
                                     "are left to read",
                                     pad_mode_names[s->mode], d, x->name,
                                     ei_shape_str(r, x->dims, b1, sizeof b1));
    p->rows = 1;
    for (int d = 0; d < r - 1; d++)
        p->rows *= (size_t)p->dims[d];
    return EI_STATUS_OK;
}

static ei_status pad_infer(ei_exec *ex, ei_node *node) {
    pad_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    if (ei_dtype_size(x->dtype) == 0)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "input '%s' has unsupported dtype %s",
                             x->name, ei_dtype_name(x->dtype));
    if (node->opset < 11 && x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64 &&
        x->dtype != EI_DTYPE_F16)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input '%s' has dtype %s; opset %d Pad takes float types only",
                             x->name, ei_dtype_name(x->dtype), node->opset);
    if (node->opset >= 11) {
        const ei_value *cv = ei_node_in(ex, node, 2);
        if (cv && (cv->dtype != x->dtype || ei_value_numel(cv) > 1))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input '%s' (constant_value) must be one %s element, got %s with "
                                 "%zu elements",
                                 cv->name, ei_dtype_name(x->dtype), ei_dtype_name(cv->dtype),
                                 ei_value_numel(cv));
        for (int i = 1; i < 4; i += 2) {
            const ei_value *v = ei_node_in(ex, node, i);
            if (v && !ei_value_known(v) && ei_value_numel(v) > 0) {
                node->dynamic = true;
                return EI_STATUS_OK;
            }
        }
    }
    EI_CHECK(pad_make_plan(ex, node, s, &s->plan));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, s->plan.rank, s->plan.dims);
}

/* float -> IEEE half / bfloat16, round to nearest even (NaN stays NaN). */
static uint16_t pad_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu, m = x & 0x7fffffu;
    if (e == 0xffu) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    int32_t he = (int32_t)e - 127 + 15;
    if (he >= 0x1f) return (uint16_t)(sign | 0x7c00u);
    if (he <= 0) {
        if (he < -10) return (uint16_t)sign;
        m |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - he), half = m >> shift, rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)he << 10) | (m >> 13), rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)h;
}

/* The constant element's bytes (opset < 11: the float attribute converted to x's dtype). */
static void pad_constant(const ei_exec *ex, const ei_node *node, const pad_state *s,
                         const ei_value *x, unsigned char *out) {
    size_t es = ei_dtype_size(x->dtype);
    memset(out, 0, 16);
    if (node->opset < 11) {
        float f = s->value_attr;
        if (x->dtype == EI_DTYPE_F32) {
            memcpy(out, &f, 4);
        } else if (x->dtype == EI_DTYPE_F64) {
            double d = f;
            memcpy(out, &d, 8);
        } else {
            uint16_t h = pad_f32_to_f16(f);
            memcpy(out, &h, 2);
        }
        return;
    }
    const ei_value *cv = ei_node_in(ex, node, 2);
    if (cv && cv->data && ei_value_numel(cv) == 1 && es <= 16) memcpy(out, cv->data, es);
}

/* Source index along an axis for output index o, or -1 for the constant. */
static int64_t pad_map(const pad_plan *p, int d, int mode, int64_t o) {
    int64_t n = p->kept[d], t = o - p->before[d];
    if (t >= 0 && t < n) return p->crop[d] + t;
    switch (mode) {
    case PAD_EDGE: t = t < 0 ? 0 : n - 1; break;
    case PAD_WRAP:
        t %= n;
        if (t < 0) t += n;
        break;
    case PAD_REFLECT:
        if (n == 1) {
            t = 0;
        } else {
            int64_t period = 2 * (n - 1);
            t %= period;
            if (t < 0) t += period;
            if (t >= n) t = period - t;
        }
        break;
    default: return -1;
    }
    return p->crop[d] + t;
}

typedef struct pad_ctx {
    const pad_plan *p;
    int mode;
    size_t es;
    const unsigned char *cval;
    bool zero; /* the constant is all zero bytes */
    const char *x;
    char *y;
    size_t n_tasks;
} pad_ctx;

static void pad_fill(char *dst, size_t count, const pad_ctx *c) {
    if (c->zero) {
        memset(dst, 0, count * c->es);
        return;
    }
    for (size_t i = 0; i < count; i++)
        memcpy(dst + i * c->es, c->cval, c->es);
}

static void pad_task(void *arg, size_t task, int thread) {
    (void)thread;
    const pad_ctx *c = arg;
    const pad_plan *p = c->p;
    const int r = p->rank, last = r - 1;
    const size_t es = c->es;
    const size_t w = r > 0 ? (size_t)p->dims[last] : 1;
    size_t per = (p->rows + c->n_tasks - 1) / c->n_tasks;
    size_t b = per * task, e = b + per < p->rows ? b + per : p->rows;
    for (size_t row = b; row < e; row++) {
        char *dst = c->y + row * w * es;
        size_t off = 0, rem = row;
        bool constant = false;
        for (int d = r - 2; d >= 0; d--) {
            int64_t o = (int64_t)(rem % (size_t)p->dims[d]);
            rem /= (size_t)p->dims[d];
            int64_t src = pad_map(p, d, c->mode, o);
            if (src < 0) {
                constant = true;
                break;
            }
            off += (size_t)src * p->in_stride[d];
        }
        if (constant) {
            pad_fill(dst, w, c);
            continue;
        }
        if (r == 0) {
            memcpy(dst, c->x, es);
            continue;
        }
        const char *src = c->x + off;
        int64_t before = p->before[last], kept = p->kept[last];
        int64_t mid_end = before + kept < (int64_t)w ? before + kept : (int64_t)w;
        for (int64_t o = 0; o < (int64_t)w; o++) {
            if (o == before && kept > 0) {
                memcpy(dst + (size_t)o * es, src + (size_t)p->crop[last] * es,
                       (size_t)(mid_end - o) * es);
                o = mid_end - 1;
                continue;
            }
            int64_t si = pad_map(p, last, c->mode, o);
            if (si < 0) {
                /* Constant run up to the middle or the end of the row. */
                int64_t stop = o < before ? before : (int64_t)w;
                if (stop > (int64_t)w) stop = (int64_t)w;
                pad_fill(dst + (size_t)o * es, (size_t)(stop - o), c);
                o = stop - 1;
                continue;
            }
            memcpy(dst + (size_t)o * es, src + (size_t)si * es, es);
        }
    }
}

static ei_status pad_run(ei_exec *ex, ei_node *node) {
    const pad_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    pad_plan local;
    const pad_plan *p = &s->plan;
    if (node->dynamic) {
        EI_CHECK(pad_make_plan(ex, node, s, &local));
        EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, local.rank, local.dims));
        p = &local;
    }
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes == 0) return EI_STATUS_OK;
    unsigned char cval[16];
    pad_constant(ex, node, s, x, cval);
    pad_ctx c = {p, s->mode, ei_dtype_size(x->dtype), cval, true, x->data, y->data, 1};
    for (size_t i = 0; i < c.es; i++)
        if (cval[i]) c.zero = false;
    size_t t = ei_elem_tasks(ex, y->nbytes / 4, 32768);
    c.n_tasks = t < p->rows ? t : p->rows;
    if (c.n_tasks <= 1) {
        c.n_tasks = 1;
        pad_task(&c, 0, 0);
    } else {
        ei_threadpool_run(ex->pool, c.n_tasks, pad_task, &c);
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_pad = {pad_prepare, pad_infer, pad_run, free, .dtypes = "any"};
