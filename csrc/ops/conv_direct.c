/*
 * conv_direct.c - the direct convolution path of Conv / FusedConv for few input channels
 * (see conv_direct.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/conv_direct.h"

bool ei_conv_direct_eligible(const ei_geom *g, int64_t group, size_t cin, size_t cout) {
    if (!(group == 1 && g->nsp == 2 && g->k[0] == 1 && g->in[0] == 1 && g->d[1] == 1 &&
          g->d[2] == 1 && cin > 0 && cout > 0 && g->out[1] > 0 && g->out[2] > 0))
        return false;
    /* the kernel's int64 pixel arithmetic and 32-bit masks: far inside these */
    return g->in[1] <= (1 << 24) && g->in[2] <= (1 << 24) && g->k[1] <= 64 && g->k[2] <= 64;
}

bool ei_conv_direct_wanted(const ei_geom *g, int64_t group, size_t cin, size_t cout) {
    if (!ei_conv_direct_eligible(g, group, cin, cout)) return false;
    const char *e = getenv("EI_CONV_DIRECT");
    if (e && strcmp(e, "0") == 0) return false;
    if (e && strcmp(e, "1") == 0) return true;
    ei_isa isa = ei_kernels_isa();
    /* Rows narrower than a 16-pixel block leave lanes idle: DS-CNN's 1 -> 276 10x4 stem
     * on 25x10 outputs took 0.167 ms here against 0.070 on the GEMM path. */
    return (isa == EI_ISA_AVX2 || isa == EI_ISA_AVX512) && cin <= 4 && cout >= 8 && g->out[2] >= 16;
}

ei_status ei_conv_direct_pack(const ei_node *node, ei_conv_direct *d, const float *w, size_t cout,
                              size_t cin, size_t k_h, size_t k_w, const char *wname) {
    if (d->packed && d->src == w && d->cout == cout && d->cin == cin && d->k_h == k_h &&
        d->k_w == k_w)
        return EI_STATUS_OK;
    ei_conv_direct_free(d);
    size_t blocks = (cout + 15) / 16, taps = cin * k_h * k_w, bytes;
    if (!ei_size_mul(blocks * 16, taps, &bytes) || !ei_size_mul(bytes, sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "W '%s' is too large to pack", wname);
    float *pk = ei_aligned_alloc(bytes);
    if (!pk)
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory packing W '%s'", wname);
    for (size_t ob = 0; ob < blocks; ob++)
        for (size_t t = 0; t < taps; t++)
            for (size_t o = 0; o < 16; o++) {
                size_t oc = 16 * ob + o;
                pk[(ob * taps + t) * 16 + o] = oc < cout ? w[oc * taps + t] : 0.0f;
            }
    d->packed = pk;
    d->src = w;
    d->cout = cout;
    d->cin = cin;
    d->k_h = k_h;
    d->k_w = k_w;
    return EI_STATUS_OK;
}

void ei_conv_direct_plan(ei_conv_direct *d, const ei_geom *g, ei_act act, size_t threads) {
    ei_conv2d_direct_params *p = &d->p;
    p->cin = d->cin;
    p->cout = d->cout;
    p->in_h = (size_t)g->in[1];
    p->in_w = (size_t)g->in[2];
    p->out_h = (size_t)g->out[1];
    p->out_w = (size_t)g->out[2];
    p->k_h = (size_t)g->k[1];
    p->k_w = (size_t)g->k[2];
    p->stride_h = (size_t)g->s[1];
    p->stride_w = (size_t)g->s[2];
    p->pad_t = (size_t)g->pb[1];
    p->pad_l = (size_t)g->pb[2];
    p->act = act;
    d->blocks = (d->cout + 15) / 16;
    /* about 4 tasks per thread (the pool balances them), rows cut evenly */
    size_t want = threads > 1 ? 4 * threads : 1;
    size_t per_block = (want + d->blocks - 1) / d->blocks;
    if (per_block > p->out_h) per_block = p->out_h;
    if (per_block < 1) per_block = 1;
    d->row_chunk = (p->out_h + per_block - 1) / per_block;
    d->row_chunks = (p->out_h + d->row_chunk - 1) / d->row_chunk;
}

size_t ei_conv_direct_tasks(const ei_conv_direct *d, size_t n) {
    return n * d->blocks * d->row_chunks;
}

void ei_conv_direct_task(const ei_conv_direct *d, size_t task, const float *x, const float *b,
                         const float *z, float *y) {
    const ei_conv2d_direct_params *p = &d->p;
    size_t rc = task % d->row_chunks;
    task /= d->row_chunks;
    size_t ob = task % d->blocks, n = task / d->blocks;
    size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w;
    size_t oy0 = rc * d->row_chunk,
           oy1 = oy0 + d->row_chunk < p->out_h ? oy0 + d->row_chunk : p->out_h;
    x += n * p->cin * in_sp;
    y += n * p->cout * out_sp;
    if (z) z += n * p->cout * out_sp;
    ei_kernels()->f32_conv2d_direct(p, d->packed, b, x, z, y, ob, oy0, oy1);
    ei_act_kind k = p->act.kind;
    if (k == EI_ACT_KIND_NONE || k == EI_ACT_KIND_RELU || k == EI_ACT_KIND_CLIP) return;
    size_t oc1 = 16 * ob + 16 < p->cout ? 16 * ob + 16 : p->cout;
    for (size_t oc = 16 * ob; oc < oc1; oc++) /* the rows just written, in one piece each */
        ei_f32_act_apply(&p->act, (oy1 - oy0) * p->out_w, y + oc * out_sp + oy0 * p->out_w);
}

void ei_conv_direct_free(ei_conv_direct *d) {
    if (!d) return;
    ei_aligned_free(d->packed);
    d->packed = NULL;
    d->src = NULL;
}
