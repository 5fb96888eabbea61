/*
 * conv.c - ONNX Conv and the internal com.edgeinfer FusedConv (float32; 1-D, 2-D, 3-D;
 * groups, pads, strides, dilations, auto_pad, optional bias). FusedConv adds a residual Z
 * and an activation: Y = act(conv(X, W) + B + Z); Conv is the same code with no epilogue.
 * Paths: depthwise convs (groups == C_in == C_out) use the f32_dwconv2d kernel (3-D ones
 * a direct loop here); with constant W, stems with at most 4 input channels take the
 * direct kernel (conv_direct.h) and 3x3 stride-1 convs Winograd (conv_winograd.h) where
 * their heuristics say they win; 1x1/stride-1/no-pad convs are a GEMM straight on the
 * input; everything else is a GEMM per group over the im2col matrix: with packed weights and a
 * strided window or a narrow output, implicit (gemm_pa_conv gathers the patches from X
 * into its B blocks), else im2col into per-thread scratch tiles. Work is
 * split over (batch, group, output-pixel tile, output-channel chunk). Constant weights are
 * packed once, at planning, for the packed-A micro-kernel (kernels/gemm.h), which applies
 * bias, Z and the activation in its stores; otherwise ei_sgemm runs and conv_epilogue
 * follows on each tile while it is in cache.
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/core.h"
#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "ops/conv_geometry.h"
#include "ops/conv_direct.h"
#include "ops/conv_winograd.h"
#include "ops/fused_act.h"

enum { CONV_IM2COL = 0, CONV_DIRECT = 1, CONV_DEPTHWISE = 2, CONV_WINOGRAD = 3, CONV_FEWCH = 4 };

/* im2col tiles hold about this many floats (1 MiB), so they stay in L2/L3. */
#define CONV_TILE_FLOATS ((size_t)1 << 18)

typedef struct conv_state {
    ei_geom_attrs ga;
    int64_t group;
    bool fused;  /* FusedConv: optional input Z and the activation attributes */
    ei_act act;  /* the epilogue's activation (NONE for Conv) */
    /* infer */
    ei_geom g;
    int mode;
    size_t n, cin, cout, cin_g, cout_g, ck;
    size_t tile, n_tiles;    /* output pixels per task and tiles per (n, group) */
    size_t m_chunk, m_chunks; /* output channels per task and chunks per (n, group) */
    size_t slice_floats;     /* per-thread im2col slice, a multiple of 16 floats */
    /* depthwise: tasks are planes_per_task planes, all their rows or (when row_chunks > 1)
     * one of row_chunks pieces of chunk_rows rows */
    size_t planes_per_task, row_chunks, chunk_rows;
    bool dw_kernel;          /* 2-D (or 1-D) depthwise through the f32_dwconv2d slot */
    ei_dwconv2d_params dwp;  /* its geometry */
    ei_window_plan wp;       /* 3-D depthwise */
    /* Constant W packed per group by gk->pack_a (NULL: ei_sgemm on W as it is). */
    const ei_gemm_kernel *gk;
    float *packed;
    const void *packed_src;   /* W's data when packed: repacked only if it changes */
    size_t packed_group;      /* floats per group in packed */
    size_t packed_m, packed_k;
    /* CONV_IM2COL with packed W: implicit GEMM (gemm_pa_conv gathers the patches straight
     * from X into its B blocks), no im2col scratch; otherwise im2col tiles + a GEMM. */
    bool implicit;
    ei_gemm_conv cv;
    /* CONV_WINOGRAD (conv_winograd.h): its own packed weights, in place of `packed` */
    ei_conv_wino wino;
    /* CONV_FEWCH (conv_direct.h): few input channels, direct kernel, its own packing */
    ei_conv_direct direct;
} conv_state;

typedef struct conv_args {
    const conv_state *s;
    const float *x, *w, *b, *z;
    float *y, *scratch;
} conv_args;

/* Checks the weight tensor W on its own (prepare, when W is constant, and infer). */
static ei_status conv_check_weight(const ei_node *node, const conv_state *s, const ei_value *w) {
    char buf[128];
    if (w->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input W '%s' has dtype %s; only float32 is supported", w->name,
                             ei_dtype_name(w->dtype));
    if (w->rank < 3)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input W '%s' has shape %s, expected rank >= 3 [M, C/group, k...]",
                             w->name, ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    if (w->rank > 5)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input W '%s' has shape %s; only 1-D, 2-D and 3-D convolutions "
                             "are supported",
                             w->name, ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    int nsp = w->rank - 2;
    if (w->dims[0] % s->group != 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "group=%lld does not divide the %lld output channels of W '%s' %s",
                             (long long)s->group, (long long)w->dims[0], w->name,
                             ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    EI_CHECK(ei_geom_check_kernel(node, &s->ga, w, nsp));
    const ei_geom_attrs *ga = &s->ga;
    if ((ga->n_strides && ga->n_strides != (size_t)nsp) ||
        (ga->n_dilations && ga->n_dilations != (size_t)nsp) ||
        (ga->n_pads && ga->n_pads != 2 * (size_t)nsp))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "W '%s' has %d spatial dims but the attributes have strides %zu, "
                             "dilations %zu, pads %zu values (pads needs %d)",
                             w->name, nsp, ga->n_strides, ga->n_dilations, ga->n_pads,
                             2 * nsp);
    return EI_STATUS_OK;
}

static void conv_destroy(void *p) {
    conv_state *s = p;
    if (!s) return;
    ei_window_plan_free(&s->wp);
    ei_conv_wino_free(&s->wino);
    ei_conv_direct_free(&s->direct);
    ei_aligned_free(s->packed);
    free(s);
}

/* Drops the GEMM paths' packed W (when another path, or none, takes over). */
static void conv_drop_packed(conv_state *s) {
    ei_aligned_free(s->packed);
    s->packed = NULL;
    s->packed_src = NULL;
}

/* Packs a constant W [cout, cin_g * k] per group for the packed-A kernel, once (and again
 * only if W's data or shape changes). Done at infer, after the optimizer (which may rewrite
 * W, e.g. folding BatchNormalization), not at prepare. Leaves s->packed NULL when W is not
 * a constant (it is then read as it is, every run). */
static ei_status conv_pack_weights(ei_node *node, conv_state *s, const ei_value *w) {
    /* The executor freed W after we packed it (node->packed_inputs): keep the copy. */
    if (s->packed && !w->data && (w->flags & EI_VALUE_FLAG_CONST) && s->packed_m == s->cout_g &&
        s->packed_k == s->ck) {
        node->packed_inputs |= 2u;
        return EI_STATUS_OK;
    }
    node->packed_inputs &= ~2u;
    if (!(w->flags & EI_VALUE_FLAG_CONST) || !w->data || s->ck == 0 || s->cout_g == 0 ||
        !ei_gemm_packed_enabled()) {
        conv_drop_packed(s);
        return EI_STATUS_OK;
    }
    if (s->packed && s->packed_src == w->data && s->packed_m == s->cout_g &&
        s->packed_k == s->ck) {
        node->packed_inputs |= 2u;
        return EI_STATUS_OK;
    }
    ei_aligned_free(s->packed);
    s->packed = NULL;
    const ei_gemm_kernel *gk = ei_gemm_kernel_get();
    size_t per = gk->pack_a_size(s->cout_g, s->ck), total;
    if (!per || per % sizeof(float) || !ei_size_mul(per, (size_t)s->group, &total))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "W '%s' is too large to pack",
                             w->name);
    s->packed = ei_aligned_alloc(total);
    if (!s->packed)
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory packing W '%s'",
                             w->name);
    s->gk = gk;
    s->packed_group = per / sizeof(float);
    for (size_t gi = 0; gi < (size_t)s->group; gi++)
        gk->pack_a(s->cout_g, s->ck, (const float *)w->data + gi * s->cout_g * s->ck, s->ck, 0,
                   s->packed + gi * s->packed_group);
    s->packed_src = w->data;
    s->packed_m = s->cout_g;
    s->packed_k = s->ck;
    node->packed_inputs |= 2u;
    return EI_STATUS_OK;
}

/* Conv: X, W, optional B; FusedConv: also an optional Z. One output. */
static ei_status conv_check_io(const ei_node *node, bool fused) {
    if (!fused) return ei_geom_check_conv_io(node);
    if (node->n_inputs < 2 || node->n_inputs > 4 || node->n_outputs != 1 ||
        node->inputs[0] < 0 || node->inputs[1] < 0 || node->outputs[0] < 0)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "expected inputs X, W and optional B and Z and 1 output, got %d "
                             "inputs and %d outputs",
                             node->n_inputs, node->n_outputs);
    return EI_STATUS_OK;
}

static ei_status conv_prepare_common(ei_exec *ex, ei_node *node, bool fused) {
    ei_status st = EI_STATUS_OK;
    conv_state *s = NULL;
    EI_TRY(conv_check_io(node, fused));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->fused = fused;
    EI_TRY(ei_geom_parse_conv(node, &s->ga, &s->group));
    if (fused) EI_TRY(ei_fused_act_parse(node, &s->act));
    const ei_value *w = ei_node_in(ex, node, 1);
    if (ei_value_known(w) && w->rank >= 0) EI_TRY(conv_check_weight(node, s, w));
    node->state = s;
    s = NULL;
cleanup:
    conv_destroy(s);
    return st;
}

static ei_status conv_prepare(ei_exec *ex, ei_node *node) {
    return conv_prepare_common(ex, node, false);
}

static ei_status fused_conv_prepare(ei_exec *ex, ei_node *node) {
    return conv_prepare_common(ex, node, true);
}

/* FusedConv's residual: float32 with exactly Y's shape (no broadcasting). */
static ei_status conv_check_residual(const ei_node *node, const ei_value *z, int rank,
                                     const int64_t *dims) {
    char buf[128], buf2[128];
    if (z->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input Z '%s' has dtype %s, expected float32", z->name,
                             ei_dtype_name(z->dtype));
    bool same = z->rank == rank;
    for (int i = 0; same && i < rank; i++) same = z->dims[i] == dims[i];
    if (!same)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input Z '%s' has shape %s, expected the output's shape %s",
                             z->name, ei_shape_str(z->rank, z->dims, buf, sizeof buf),
                             ei_shape_str(rank, dims, buf2, sizeof buf2));
    return EI_STATUS_OK;
}

/* Depthwise: kernel geometry and the task split. Planes go to tasks whole, a few per
 * task when there are many; when there are fewer planes than about two per thread
 * (few channels, large planes) each plane's rows are cut so every thread gets work. */
static void conv_depthwise_plan(conv_state *s, size_t threads) {
    const ei_geom *g = &s->g;
    /* The depth dim of the normalized geometry is trivial for 1-D and 2-D convs. */
    s->dw_kernel = g->in[0] == 1 && g->k[0] == 1 && g->out[0] == 1;
    if (s->dw_kernel) {
        ei_dwconv2d_params *d = &s->dwp;
        d->in_h = (size_t)g->in[1];
        d->in_w = (size_t)g->in[2];
        d->out_h = (size_t)g->out[1];
        d->out_w = (size_t)g->out[2];
        d->k_h = (size_t)g->k[1];
        d->k_w = (size_t)g->k[2];
        d->stride_h = (size_t)g->s[1];
        d->stride_w = (size_t)g->s[2];
        d->dil_h = (size_t)g->d[1];
        d->dil_w = (size_t)g->d[2];
        d->pad_t = (size_t)g->pb[1];
        d->pad_l = (size_t)g->pb[2];
        d->act = s->act;
    }
    size_t planes = s->n * s->cout;
    /* multiply-adds, saturating: only compared with small thresholds below */
    size_t work = planes * g->out_size, kn = g->k_size < 64 ? g->k_size : 64;
    work = work > SIZE_MAX / 64 ? SIZE_MAX / 64 : work;
    work *= kn;
    size_t t = work / 32768; /* tasks worth a thread's wake-up */
    if (t > 4 * threads) t = 4 * threads; /* a few per thread: the pool balances them */
    if (t < 1 || threads < 2) t = 1;
    s->row_chunks = 1;
    s->chunk_rows = (size_t)g->out[1];
    /* The kernel takes planes 16 at a time (channels as the vector lanes), so tasks get
     * whole blocks of 16 planes; with fewer blocks than tasks the rows are cut too. */
    const size_t blk = s->dw_kernel ? 16 : 1;
    size_t blocks = (planes + blk - 1) / blk;
    if (t > blocks && s->dw_kernel && planes && g->out[1] > 1) {
        size_t per = (t + blocks - 1) / blocks;
        if (per > (size_t)g->out[1]) per = (size_t)g->out[1];
        s->chunk_rows = ((size_t)g->out[1] + per - 1) / per;
        s->row_chunks = ((size_t)g->out[1] + s->chunk_rows - 1) / s->chunk_rows;
        s->planes_per_task = planes < blk ? planes : blk;
        return;
    }
    if (t > blocks) t = blocks;
    if (t < 1) t = 1;
    size_t per_task = (planes + t - 1) / t;
    per_task = (per_task + blk - 1) / blk * blk;
    s->planes_per_task = per_task ? per_task : 1;
}

static ei_status conv_infer(ei_exec *ex, ei_node *node) {
    conv_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *w = ei_node_in(ex, node, 1);
    const ei_value *b = ei_node_in(ex, node, 2);
    char buf[128], buf2[128];
    EI_CHECK(conv_check_weight(node, s, w));
    if (x->dtype != EI_DTYPE_F32)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input X '%s' has dtype %s; only float32 is supported", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank != w->rank)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s, expected rank %d to match W '%s' %s",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->rank,
                             w->name, ei_shape_str(w->rank, w->dims, buf2, sizeof buf2));
    if (x->dims[1] != w->dims[1] * s->group)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input X '%s' has shape %s with %lld channels, but W '%s' %s with "
                             "group=%lld expects %lld",
                             x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf),
                             (long long)x->dims[1], w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2),
                             (long long)s->group, (long long)(w->dims[1] * s->group));
    if (b) {
        if (b->dtype != EI_DTYPE_F32)
            return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                                 "input B '%s' has dtype %s; only float32 is supported",
                                 b->name, ei_dtype_name(b->dtype));
        if (b->rank != 1 || b->dims[0] != w->dims[0])
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "input B '%s' has shape %s, expected [%lld] (W's output "
                                 "channels)",
                                 b->name, ei_shape_str(b->rank, b->dims, buf, sizeof buf),
                                 (long long)w->dims[0]);
    }
    int nsp = x->rank - 2;
    EI_CHECK(ei_geom_resolve(node, &s->ga, nsp, x->dims + 2, w->dims + 2, x->name, &s->g));
    const ei_geom *g = &s->g;
    s->n = (size_t)x->dims[0];
    s->cin = (size_t)x->dims[1];
    s->cout = (size_t)w->dims[0];
    s->cin_g = (size_t)w->dims[1];
    s->cout_g = s->cout / (size_t)s->group;
    if (!ei_size_mul(s->cin_g, g->k_size, &s->ck))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "W '%s' is too large", w->name);
    int64_t od[EI_MAX_RANK] = {x->dims[0], w->dims[0]};
    for (int i = 0; i < nsp; i++) od[2 + i] = g->out[3 - nsp + i];
    const ei_value *z = s->fused ? ei_node_in(ex, node, 3) : NULL;
    if (z) EI_CHECK(conv_check_residual(node, z, x->rank, od));
    EI_CHECK(ei_value_set_shape(ei_node_out(ex, node, 0), EI_DTYPE_F32, x->rank, od));
    /* opt/shapes.c only wants the shape: packing and the path are the real plan's (the
     * passes may still rewrite W, e.g. folding BatchNormalization into it) */
    if (ex->shapes_only) return EI_STATUS_OK;

    size_t threads = ex->num_threads > 0 ? (size_t)ex->num_threads : 1;
    node->scratch_bytes = 0;
    s->slice_floats = 0;
    bool unit_window = g->k_size == 1;
    for (int i = 0; i < 3; i++)
        unit_window = unit_window && g->s[i] == 1 && g->pb[i] == 0 && g->pe[i] == 0;
    if (s->group > 1 && s->cin_g == 1 && s->cout_g == 1) {
        s->mode = CONV_DEPTHWISE;
        conv_depthwise_plan(s, threads);
        if (s->dw_kernel) return EI_STATUS_OK;
        return ei_window_plan_update(node, g, &s->wp);
    }
    /* W freed after packing for this path (node->packed_inputs): keep the path, whatever
     * the new shape (the other paths have nothing left to read) */
    bool direct_kept = !w->data && (w->flags & EI_VALUE_FLAG_CONST) && s->direct.packed &&
                       ei_conv_direct_eligible(g, s->group, s->cin, s->cout);
    if (direct_kept || ((w->flags & EI_VALUE_FLAG_CONST) && w->data && ei_gemm_packed_enabled() &&
                        ei_conv_direct_wanted(g, s->group, s->cin, s->cout))) {
        if (w->data) {
            EI_CHECK(ei_conv_direct_pack(node, &s->direct, w->data, s->cout, s->cin,
                                         (size_t)g->k[1], (size_t)g->k[2], w->name));
            conv_drop_packed(s); /* the other paths' packings of an earlier shape */
            ei_conv_wino_free(&s->wino);
        }
        node->packed_inputs |= 2u;
        s->mode = CONV_FEWCH;
        ei_conv_direct_plan(&s->direct, g, s->act, threads);
        return EI_STATUS_OK;
    }
    if (w->data) ei_conv_direct_free(&s->direct);
    if (ei_conv_wino_eligible(g, s->group) && s->cin > 0 && s->cout > 0) {
        bool use; /* W freed after packing: stay with the packing there is */
        if (!w->data && (w->flags & EI_VALUE_FLAG_CONST))
            use = s->wino.packed != NULL;
        else
            use = (w->flags & EI_VALUE_FLAG_CONST) && w->data && ei_gemm_packed_enabled() &&
                  ei_conv_wino_wanted(g, s->cin, s->cout);
        if (use) {
            if (w->data)
                EI_CHECK(ei_conv_wino_pack(node, &s->wino, w->data, s->cout, s->cin, w->name));
            conv_drop_packed(s); /* the GEMM packing of an earlier shape */
            node->packed_inputs |= 2u;
            s->mode = CONV_WINOGRAD;
            return ei_conv_wino_plan(node, &s->wino, g, s->act, threads, &node->scratch_bytes);
        }
        if (w->data) ei_conv_wino_free(&s->wino);
    }
    s->mode = unit_window ? CONV_DIRECT : CONV_IM2COL;
    EI_CHECK(conv_pack_weights(node, s, w));
    if (!s->packed && !w->data && (w->flags & EI_VALUE_FLAG_CONST) && s->ck && s->cout_g)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "W '%s' was released after packing for another convolution path, "
                             "which input X '%s' %s cannot take",
                             w->name, x->name, ei_shape_str(x->rank, x->dims, buf, sizeof buf));
    size_t out_sp = g->out_size, tile = out_sp;
    /* Implicit GEMM where it measured faster than im2col tiles (thread CPU time, AVX-512,
     * 1 thread): strided convs with a real window and narrow outputs (7x7, 14x14 planes,
     * where the tiles also cut badly). On wide stride-1 planes (and for 1x1 stride-2) the
     * short gathered runs cost more than im2col's long row copies.
     * EI_CONV_IM2COL=implicit|explicit (read when a session plans) forces one path, for
     * comparisons and tests. */
    s->implicit = s->mode == CONV_IM2COL && s->packed &&
                  ((g->k_size > 1 && (g->s[0] > 1 || g->s[1] > 1 || g->s[2] > 1)) ||
                   g->out[2] <= 16);
    if (s->mode == CONV_IM2COL && s->packed) {
        const char *e = getenv("EI_CONV_IM2COL");
        if (e && strcmp(e, "explicit") == 0) s->implicit = false;
        if (e && strcmp(e, "implicit") == 0) s->implicit = true;
    }
    if (s->implicit) {
        s->cv.channels = s->cin_g;
        for (int i = 0; i < 3; i++) {
            s->cv.in[i] = (size_t)g->in[i];
            s->cv.out[i] = (size_t)g->out[i];
            s->cv.k[i] = (size_t)g->k[i];
            s->cv.s[i] = (size_t)g->s[i];
            s->cv.d[i] = (size_t)g->d[i];
            s->cv.pad[i] = (size_t)g->pb[i];
        }
    }
    if (s->mode == CONV_IM2COL && !s->implicit) {
        size_t t = s->ck ? CONV_TILE_FLOATS / s->ck : out_sp;
        t = t / 16 * 16;
        if (t < 16) t = 16;
        if (t < tile) tile = t;
    }
    /* Tasks are (batch, group) units x pixel tiles x output-channel chunks. When they are
     * few, their count is raised to a multiple of the threads (an odd task out leaves a
     * thread idle for a whole tile): by cutting the pixels finer, or, when the tiles would
     * get narrow (7x7, 14x14 outputs), by cutting the output channels; the chunks then
     * redo the im2col of their tile, a small cost next to the GEMM. */
    size_t units = s->n * (size_t)s->group;
    size_t n_tiles = tile ? (out_sp + tile - 1) / tile : 1, m_chunks = 1;
    size_t tasks = units * n_tiles;
    if (threads > 1 && units && (tasks < threads || (tasks < 4 * threads && tasks % threads))) {
        size_t want = (tasks + threads - 1) / threads * threads;
        size_t per_unit = (want + units - 1) / units; /* pieces per unit */
        if (out_sp / per_unit < 256 && s->cout_g >= 16 * per_unit / n_tiles) {
            m_chunks = (per_unit + n_tiles - 1) / n_tiles;
        } else if (per_unit > n_tiles) {
            n_tiles = per_unit;
        }
    }
    tile = n_tiles ? (out_sp + n_tiles - 1) / n_tiles : out_sp;
    tile = (tile + 15) / 16 * 16;
    s->tile = tile ? tile : 1;
    s->n_tiles = (out_sp + s->tile - 1) / s->tile;
    s->m_chunk = (s->cout_g + m_chunks - 1) / m_chunks;
    if (s->packed) /* the packed kernel starts row ranges on a panel boundary */
        s->m_chunk = (s->m_chunk + s->gk->mr - 1) / s->gk->mr * s->gk->mr;
    if (s->m_chunk == 0) s->m_chunk = 1;
    s->m_chunks = (s->cout_g + s->m_chunk - 1) / s->m_chunk;
    if (s->m_chunks == 0) s->m_chunks = 1;
    if (s->mode == CONV_IM2COL && !s->implicit) {
        size_t slice, bytes;
        if (!ei_size_mul(s->ck, s->tile, &slice) || !ei_size_add(slice, 15, &slice) ||
            !ei_size_mul(slice / 16 * 16, threads * sizeof(float), &bytes))
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "im2col scratch size overflows for X '%s'", x->name);
        s->slice_floats = slice / 16 * 16;
        node->scratch_bytes = bytes;
    }
    return EI_STATUS_OK;
}

/* Columns [p0, p0 + cols) of the im2col matrix of one (n, group) input block x:
 * col[ck][cols], row r = (c, kd, kh, kw). */
static void conv_im2col(const conv_state *s, const float *x, size_t p0, size_t cols,
                        float *col) {
    const ei_geom *g = &s->g;
    size_t o2 = (size_t)g->out[2], o1 = (size_t)g->out[1];
    float *dst = col;
    for (size_t c = 0; c < s->cin_g; c++) {
        const float *xc = x + c * g->in_size;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
            for (int64_t kh = 0; kh < g->k[1]; kh++)
                for (int64_t kw = 0; kw < g->k[2]; kw++) {
                    int64_t off = kw * g->d[2] - g->pb[2], lo, hi;
                    ei_geom_output_range(off, g->s[2], g->in[2], g->out[2], &lo, &hi);
                    size_t p = p0, end = p0 + cols;
                    while (p < end) {
                        size_t ow0 = p % o2, r = p / o2, oh = r % o1, od = r / o1;
                        size_t len = o2 - ow0 < end - p ? o2 - ow0 : end - p;
                        int64_t id = (int64_t)od * g->s[0] - g->pb[0] + kd * g->d[0];
                        int64_t ih = (int64_t)oh * g->s[1] - g->pb[1] + kh * g->d[1];
                        if (id < 0 || id >= g->in[0] || ih < 0 || ih >= g->in[1] || lo >= hi) {
                            memset(dst, 0, len * sizeof(float));
                        } else {
                            const float *xr = xc + ((size_t)id * (size_t)g->in[1] + (size_t)ih) *
                                                       (size_t)g->in[2];
                            int64_t a = (int64_t)ow0, e = (int64_t)(ow0 + len);
                            int64_t v0 = lo > a ? lo : a, v1 = hi < e ? hi : e;
                            if (v1 < v0) v1 = v0 = e;
                            size_t i = 0;
                            for (int64_t ow = a; ow < v0; ow++) dst[i++] = 0.0f;
                            if (v1 == v0) {
                                /* nothing in bounds */
                            } else if (g->s[2] == 1) {
                                memcpy(dst + i, xr + v0 + off, (size_t)(v1 - v0) * sizeof(float));
                                i += (size_t)(v1 - v0);
                            } else {
                                for (int64_t ow = v0; ow < v1; ow++)
                                    dst[i++] = xr[ow * g->s[2] + off];
                            }
                            for (int64_t ow = v1; ow < e; ow++) dst[i++] = 0.0f;
                        }
                        dst += len;
                        p += len;
                    }
                }
    }
}

/* The epilogue of one output tile, run right after its GEMM while the tile is in cache:
 * rows [0, m) of y (row stride ld, cols wide) are consecutive output channels, with bias
 * b[r] (b may be NULL) and residual rows z + r * ld (z may be NULL):
 * y = act(y + b + z). Cut into column blocks so each block stays in L1 across the steps. */
#define CONV_EPI_BLOCK 512
static void conv_epilogue(const conv_state *s, const float *b, const float *z, float *y,
                          size_t ld, size_t m, size_t cols) {
    if (!b && !z && s->act.kind == EI_ACT_KIND_NONE) return;
    const ei_kernel_table *k = ei_kernels();
    for (size_t r = 0; r < m; r++) {
        for (size_t c0 = 0; c0 < cols; c0 += CONV_EPI_BLOCK) {
            size_t n = cols - c0 < CONV_EPI_BLOCK ? cols - c0 : CONV_EPI_BLOCK;
            float *row = y + r * ld + c0;
            if (b) k->f32_vaddc(n, row, b[r], row);
            if (z) k->f32_vadd(n, row, z + r * ld + c0, row);
            ei_f32_act_apply(&s->act, n, row);
        }
    }
}

static void conv_gemm_task(void *arg, size_t task, int thread) {
    const conv_args *p = arg;
    const conv_state *s = p->s;
    const ei_geom *g = &s->g;
    size_t mc = task % s->m_chunks;
    task /= s->m_chunks;
    size_t unit = task / s->n_tiles, tile = task % s->n_tiles;
    size_t n = unit / (size_t)s->group, gi = unit % (size_t)s->group;
    size_t in_sp = g->in_size, out_sp = g->out_size;
    const float *x = p->x + (n * s->cin + gi * s->cin_g) * in_sp;
    size_t m0 = mc * s->m_chunk, m = s->cout_g - m0 < s->m_chunk ? s->cout_g - m0 : s->m_chunk;
    /* W itself is NULL once the executor freed it after packing: only unpacked uses it. */
    const float *w = s->packed ? NULL : p->w + (gi * s->cout_g + m0) * s->ck;
    size_t yoff = (n * s->cout + gi * s->cout_g + m0) * out_sp;
    size_t p0 = tile * s->tile, cols = out_sp - p0 < s->tile ? out_sp - p0 : s->tile;
    float *y = p->y + yoff + p0;
    const float *b = p->b ? p->b + gi * s->cout_g + m0 : NULL;
    const float *z = p->z ? p->z + yoff + p0 : NULL;
    /* One GEMM per path: B operand (the input or its im2col tile) and its K. */
    if (s->implicit) {
        /* The group's whole output as C, pixel columns [p0, p0 + cols). */
        float *yg = p->y + (n * s->cout + gi * s->cout_g) * out_sp;
        const float *bg = p->b ? p->b + gi * s->cout_g : NULL;
        const float *zg = p->z ? p->z + (n * s->cout + gi * s->cout_g) * out_sp : NULL;
        ei_gemm_epilogue ep = {bg, 0, zg, out_sp, s->act};
        s->gk->gemm_pa_conv(&s->cv, s->packed + gi * s->packed_group, x, yg, out_sp, &ep, m0,
                            m0 + m, p0, p0 + cols);
        return;
    }
    const float *bm = x + p0;
    size_t k = s->cin_g, ldb = in_sp;
    if (s->mode == CONV_IM2COL) {
        float *col = p->scratch + (size_t)thread * s->slice_floats;
        conv_im2col(s, x, p0, cols, col);
        bm = col;
        k = s->ck;
        ldb = cols;
    }
    if (s->packed) {
        /* The tile as a whole matrix: rows [m0, m0 + m) of the group's output channels,
         * columns [0, cols) starting at pixel p0; the epilogue in the kernel's stores. */
        const float *bg = p->b ? p->b + gi * s->cout_g : NULL;
        ei_gemm_epilogue ep = {bg, 0, z ? z - m0 * out_sp : NULL, out_sp, s->act};
        s->gk->gemm_pa(k, s->packed + gi * s->packed_group, bm, ldb, y - m0 * out_sp, out_sp,
                       &ep, m0, m0 + m, 0, cols);
        return;
    }
    if (s->ck == 0) {
        for (size_t r = 0; r < m; r++) memset(y + r * out_sp, 0, cols * sizeof(float));
    } else {
        ei_sgemm(0, 0, m, cols, k, 1.0f, w, s->ck, bm, ldb, 0.0f, y, out_sp);
    }
    conv_epilogue(s, b, z, y, out_sp, m, cols);
}

/* Output (od, oh, ow) of a depthwise plane whose window crosses the border. */
static float conv_depthwise_border(const conv_state *s, const float *x, const float *w,
                                   float bias, int64_t od, int64_t oh, int64_t ow) {
    const ei_geom *g = &s->g;
    int64_t st[3] = {od * g->s[0] - g->pb[0], oh * g->s[1] - g->pb[1],
                     ow * g->s[2] - g->pb[2]};
    const int64_t *td = ei_window_plan_taps(&s->wp, 0, od);
    const int64_t *th = ei_window_plan_taps(&s->wp, 1, oh);
    const int64_t *tw = ei_window_plan_taps(&s->wp, 2, ow);
    float acc = bias;
    for (int64_t kd = td[0]; kd < td[1]; kd++) {
        int64_t id = st[0] + kd * g->d[0];
        for (int64_t kh = th[0]; kh < th[1]; kh++) {
            int64_t ih = st[1] + kh * g->d[1];
            const float *xr = x + (id * g->in[1] + ih) * g->in[2];
            const float *wr = w + (kd * g->k[1] + kh) * g->k[2];
            for (int64_t kw = tw[0]; kw < tw[1]; kw++)
                acc += wr[kw] * xr[st[2] + kw * g->d[2]];
        }
    }
    return acc;
}

/* EI_DW_BLOCK outputs (stride s2, first window at p0) into y. The fixed-size arrays and
 * loops let the compiler keep the sums in vector registers with no ISA flags. */
#define EI_DW_BLOCK(width)                                                               \
    do {                                                                                 \
        float acc[width];                                                                \
        for (int j = 0; j < (width); j++) acc[j] = bias;                                 \
        if (s2 == 1) {                                                                   \
            for (size_t t = 0; t < kn; t++) {                                            \
                const float *p = p0 + off[t];                                            \
                float wv = w[t];                                                         \
                for (int j = 0; j < (width); j++) acc[j] += wv * p[j];                   \
            }                                                                            \
        } else {                                                                         \
            for (size_t t = 0; t < kn; t++) {                                            \
                const float *p = p0 + off[t];                                            \
                float wv = w[t];                                                         \
                for (int j = 0; j < (width); j++) acc[j] += wv * p[j * s2];              \
            }                                                                            \
        }                                                                                \
        memcpy(y + i, acc, sizeof acc);                                                  \
    } while (0)

/* Interior outputs [a, b) of row (od, oh): no bounds checks, taps at fixed offsets,
 * outputs in blocks. */
static void conv_depthwise_interior(const conv_state *s, const float *x, const float *w,
                                    float bias, int64_t od, int64_t oh, int64_t a, int64_t b,
                                    float *y) {
    const ei_geom *g = &s->g;
    const int64_t *off = s->wp.off, s2 = g->s[2];
    const float *base = x + ei_geom_window_origin(g, od, oh, a);
    size_t n = (size_t)(b - a), kn = g->k_size, i = 0;
    /* Blocks of 16, the last one shifted back to end at n (recomputing a few outputs
     * beats a scalar tail); rows shorter than 16 take blocks of 8 the same way. */
    size_t width = n >= 16 ? 16 : n >= 8 ? 8 : 0;
    for (size_t done = 0; width && done < n; done += width) {
        i = done + width <= n ? done : n - width;
        const float *p0 = base + (int64_t)i * s2;
        if (width == 16) EI_DW_BLOCK(16);
        else EI_DW_BLOCK(8);
    }
    for (i = width ? n : 0; i < n; i++) {
        const float *p = base + (int64_t)i * s2;
        float acc = bias;
        for (size_t t = 0; t < kn; t++) acc += w[t] * p[off[t]];
        y[i] = acc;
    }
}
#undef EI_DW_BLOCK

/* One (n, c) plane of a depthwise conv: y = bias + sum over taps of w * x. */
static void conv_depthwise_plane(const conv_state *s, const float *x, const float *w, float bias,
                                 float *y) {
    const ei_geom *g = &s->g;
    const ei_window_plan *wp = &s->wp;
    for (int64_t od = 0; od < g->out[0]; od++)
        for (int64_t oh = 0; oh < g->out[1]; oh++) {
            int64_t a = g->out[2], b = g->out[2];
            if (wp->interior && od >= wp->lo[0] && od < wp->hi[0] && oh >= wp->lo[1] &&
                oh < wp->hi[1]) {
                a = wp->lo[2];
                b = wp->hi[2];
            }
            for (int64_t ow = 0; ow < g->out[2]; ow++) {
                if (ow == a && a < b) {
                    conv_depthwise_interior(s, x, w, bias, od, oh, a, b, y + a);
                    ow = b - 1;
                    continue;
                }
                y[ow] = conv_depthwise_border(s, x, w, bias, od, oh, ow);
            }
            y += g->out[2];
        }
}

static void conv_depthwise_task(void *arg, size_t task, int thread) {
    (void)thread;
    const conv_args *p = arg;
    const conv_state *s = p->s;
    const ei_kernel_table *k = ei_kernels();
    size_t planes = s->n * s->cout, in_sp = s->g.in_size, out_sp = s->g.out_size;
    size_t lo = task / s->row_chunks * s->planes_per_task, r0 = 0, r1 = s->dwp.out_h;
    size_t hi = lo + s->planes_per_task < planes ? lo + s->planes_per_task : planes;
    if (s->row_chunks > 1) { /* a range of the planes' rows */
        r0 = task % s->row_chunks * s->chunk_rows;
        r1 = r0 + s->chunk_rows < s->dwp.out_h ? r0 + s->chunk_rows : s->dwp.out_h;
    }
    while (s->dw_kernel && lo < hi) { /* runs of channels within one image per call */
        size_t c = lo % s->cout, n = s->cout - c < hi - lo ? s->cout - c : hi - lo;
        k->f32_dwconv2d(&s->dwp, n, p->x + lo * in_sp, p->w + c * s->g.k_size,
                        p->b ? p->b + c : NULL, p->z ? p->z + lo * out_sp : NULL,
                        p->y + lo * out_sp, r0, r1);
        lo += n;
    }
    for (size_t i = lo; i < hi; i++) {
        size_t c = i % s->cout;
        const float *x = p->x + i * in_sp, *w = p->w + c * s->g.k_size;
        const float *z = p->z ? p->z + i * out_sp : NULL;
        float *y = p->y + i * out_sp, bias = p->b ? p->b[c] : 0.0f;
        conv_depthwise_plane(s, x, w, bias, y); /* 3-D: the direct loop */
        conv_epilogue(s, NULL, z, y, out_sp, 1, out_sp);
    }
}

static void conv_fewch_task(void *arg, size_t task, int thread) {
    (void)thread;
    const conv_args *p = arg;
    ei_conv_direct_task(&p->s->direct, task, p->x, p->b, p->z, p->y);
}

static void conv_wino_task(void *arg, size_t task, int thread) {
    const conv_args *p = arg;
    ei_conv_wino_task(&p->s->wino, task, thread, p->x, p->b, p->z, p->y, p->scratch);
}

static ei_status conv_run(ei_exec *ex, ei_node *node) {
    const conv_state *s = node->state;
    const ei_value *b = ei_node_in(ex, node, 2);
    const ei_value *z = s->fused ? ei_node_in(ex, node, 3) : NULL;
    conv_args p = {s,
                   ei_node_in(ex, node, 0)->data,
                   ei_node_in(ex, node, 1)->data,
                   b ? (const float *)b->data : NULL,
                   z ? (const float *)z->data : NULL,
                   ei_node_out(ex, node, 0)->data,
                   node->scratch};
    if (s->n == 0 || s->cout == 0) return EI_STATUS_OK;
    size_t n_tasks;
    void (*fn)(void *, size_t, int);
    if (s->mode == CONV_DEPTHWISE) {
        size_t planes = s->n * s->cout;
        n_tasks = (planes + s->planes_per_task - 1) / s->planes_per_task * s->row_chunks;
        fn = conv_depthwise_task;
    } else if (s->mode == CONV_FEWCH) {
        n_tasks = ei_conv_direct_tasks(&s->direct, s->n);
        fn = conv_fewch_task;
    } else if (s->mode == CONV_WINOGRAD) {
        n_tasks = ei_conv_wino_tasks(&s->wino, s->n);
        fn = conv_wino_task;
    } else {
        n_tasks = s->n * (size_t)s->group * s->n_tiles * s->m_chunks;
        fn = conv_gemm_task;
    }
    if (n_tasks == 1) fn(&p, 0, 0);
    else ei_threadpool_run(ex->pool, n_tasks, fn, &p);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_conv = {conv_prepare, conv_infer, conv_run, conv_destroy,
                                  .dtypes = "float32"};
const ei_op_fns ei_op_fns_fused_conv = {fused_conv_prepare, conv_infer, conv_run, conv_destroy,
                                        .dtypes = "float32"};
