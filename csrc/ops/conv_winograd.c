/*
 * conv_winograd.c - the Winograd F(4x4, 3x3) path of Conv / FusedConv (see
 * conv_winograd.h for the scheme and kernels/wino43_impl.h for the transforms).
 */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "ops/conv_winograd.h"

/* G of F(4x4, 3x3) with points 0, +-1, +-2: U = G g G^T. */
static const double wino_g[6][3] = {
    {1.0 / 4, 0, 0},
    {-1.0 / 6, -1.0 / 6, -1.0 / 6},
    {-1.0 / 6, 1.0 / 6, -1.0 / 6},
    {1.0 / 24, 1.0 / 12, 1.0 / 6},
    {1.0 / 24, -1.0 / 12, 1.0 / 6},
    {0, 0, 1},
};

/* Tiles per block: as many as fit this many floats of V and M per thread (2 MiB), but
 * never fewer than 64: the GEMMs are only efficient with N >= 64 columns, and every
 * block reads all of U (36 cin x cout matrices, often from L3) once, so on wide layers
 * bigger blocks won even when V and M spilled out of L2 (AVX-512, 256 -> 256 channels on
 * 28x28: blocks of 16 tiles 8.8 ms, 64 tiles 4.0 ms). */
#define WINO_SCRATCH_FLOATS ((size_t)1 << 19)
#define WINO_MIN_BLOCK 64

bool ei_conv_wino_eligible(const ei_geom *g, int64_t group) {
    return group == 1 && g->nsp == 2 && g->k[0] == 1 && g->k[1] == 3 && g->k[2] == 3 &&
           g->s[1] == 1 && g->s[2] == 1 && g->d[1] == 1 && g->d[2] == 1 && g->in[1] > 0 &&
           g->in[2] > 0 && g->out[1] > 0 && g->out[2] > 0;
}

bool ei_conv_wino_wanted(const ei_geom *g, size_t cin, size_t cout) {
    const char *e = getenv("EI_CONV_WINOGRAD");
    if (e && strcmp(e, "0") == 0) return false;
    if (e && strcmp(e, "1") == 0) return true;
    /* Measured per layer against the im2col / implicit GEMM (AVX-512, 1 thread): with
     * 16+ channels in and out it wins from 16 tiles up (1.1x on 13x13 planes, 1.3-1.9x
     * from 20x20 up, 2.4x for 16 channels on 160x160, where the im2col GEMM's 16-row
     * panels are half empty), breaks even at 9 tiles (10x10) below 128 channels, and
     * loses on 7x7 planes (4 tiles: 0.73x on 512 channels). With 16 channels in and 64
     * out on 55x55 it only breaks even (K = 16 is too short a GEMM). */
    size_t tiles = (size_t)((g->out[1] + 3) / 4) * (size_t)((g->out[2] + 3) / 4);
    if (cin < 16 || cout < 16) return false;
    return tiles >= 16 || (tiles >= 9 && cin >= 128 && cout >= 64);
}

/* U = G g G^T of one 3x3 filter g, into u[xi * ld], xi = 6 a + j (in float: the
 * rounding is far below the transforms' own). */
static void wino_filter(const float *g, float *u, size_t ld) {
    float t[6][3];
    for (size_t a = 0; a < 6; a++)
        for (size_t s = 0; s < 3; s++)
            t[a][s] = (float)wino_g[a][0] * g[s] + (float)wino_g[a][1] * g[3 + s] +
                      (float)wino_g[a][2] * g[6 + s];
    for (size_t a = 0; a < 6; a++)
        for (size_t j = 0; j < 6; j++)
            u[(6 * a + j) * ld] = t[a][0] * (float)wino_g[j][0] + t[a][1] * (float)wino_g[j][1] +
                                  t[a][2] * (float)wino_g[j][2];
}

ei_status ei_conv_wino_pack(const ei_node *node, ei_conv_wino *w, const float *wdata, size_t cout,
                            size_t cin, const char *wname) {
    if (w->packed && w->src == wdata && w->cout == cout && w->cin == cin) return EI_STATUS_OK;
    ei_conv_wino_free(w);
    const ei_gemm_kernel *gk = ei_gemm_kernel_get();
    /* Output channels are transformed a chunk of whole panels at a time (36 x rows x cin
     * floats of scratch, ~1 MiB), then each xi's rows packed into their panels. The 36
     * matrices of a chunk sit 16 floats more than rows x cin apart: at a power-of-two
     * distance the 36 store streams of wino_filter evict each other from L1. */
    size_t mr = gk->mr, rows = WINO_SCRATCH_FLOATS / 2 / 36 / cin / mr * mr;
    if (rows < mr) rows = mr;
    if (rows > cout) rows = cout;
    size_t per = gk->pack_a_size(cout, cin), total, chunk, tmp_bytes;
    if (!per || per % sizeof(float) || !ei_size_mul(per, 36, &total) ||
        !ei_size_mul(rows, cin, &chunk) || !ei_size_add(chunk, 16, &chunk) ||
        !ei_size_mul(chunk, 36 * sizeof(float), &tmp_bytes))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "W '%s' is too large to pack", wname);
    float *packed = ei_aligned_alloc(total), *u = malloc(tmp_bytes);
    if (!packed || !u) {
        ei_aligned_free(packed);
        free(u);
        return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory packing W '%s'", wname);
    }
    size_t per_f = per / sizeof(float);
    for (size_t o0 = 0; o0 < cout; o0 += rows) {
        size_t nr = cout - o0 < rows ? cout - o0 : rows;
        for (size_t i = 0; i < nr * cin; i++)
            wino_filter(wdata + (o0 * cin + i) * 9, u + i, chunk);
        /* rows o0.. start panel o0 / mr (o0 is a multiple of mr), at o0 * cin floats */
        for (size_t xi = 0; xi < 36; xi++)
            gk->pack_a(nr, cin, u + xi * chunk, cin, 0, packed + xi * per_f + o0 * cin);
    }
    free(u);
    w->gk = gk;
    w->packed = packed;
    w->packed_xi = per_f;
    w->cout = cout;
    w->cin = cin;
    w->src = wdata;
    return EI_STATUS_OK;
}

ei_status ei_conv_wino_plan(const ei_node *node, ei_conv_wino *w, const ei_geom *g, ei_act act,
                            size_t threads, size_t *scratch_bytes) {
    ei_wino_params *p = &w->p;
    p->in_h = (size_t)g->in[1];
    p->in_w = (size_t)g->in[2];
    p->out_h = (size_t)g->out[1];
    p->out_w = (size_t)g->out[2];
    p->pad_t = (size_t)g->pb[1];
    p->pad_l = (size_t)g->pb[2];
    p->tiles_h = (p->out_h + 3) / 4;
    p->tiles_w = (p->out_w + 3) / 4;
    p->act = act;
    if (!ei_size_mul(p->tiles_h, p->tiles_w, &w->tiles))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "output too large");
    /* block: the most tiles whose V and M fit the scratch target, in multiples of 16 */
    size_t per_tile = 36 * (w->cin + w->cout);
    size_t block = WINO_SCRATCH_FLOATS / per_tile / 32 * 32;
    if (block < WINO_MIN_BLOCK) block = WINO_MIN_BLOCK;
    const char *e = getenv("EI_WINO_BLOCK"); /* for tuning runs */
    if (e && atoi(e) > 0) block = (size_t)atoi(e);
    if (block > w->tiles) block = w->tiles;
    /* Balance: a multiple of the threads of blocks (when they are few), with the same
     * number of tiles in each. Rounding the block up to the micro-kernel's 32 columns
     * would leave a short last block (49 tiles in two: 32 + 17), so one thread would
     * idle a third of the time; the kernel handles any width. Blocks of fewer than 16
     * tiles starve the GEMMs (a 14x14 plane's 16 tiles in two: 1.2x from 2 threads):
     * then the output channels are split instead, below. */
    size_t blocks = (w->tiles + block - 1) / block;
    if (threads > 1 && blocks % threads && blocks < 8 * threads) {
        size_t even = (blocks + threads - 1) / threads * threads;
        if (w->tiles / even >= 16) blocks = even;
    }
    block = (w->tiles + blocks - 1) / blocks;
    if (block > w->tiles) block = w->tiles;
    w->block = block;
    w->blocks = (w->tiles + block - 1) / block;
    /* Too few blocks for the threads: also split the output channels (in whole panels). */
    w->m_chunks = 1;
    if (threads > 1 && w->blocks < threads) {
        size_t want = (threads + w->blocks - 1) / w->blocks;
        size_t mr = w->gk->mr, panels = (w->cout + mr - 1) / mr;
        w->m_chunks = want < panels ? want : panels;
    }
    size_t mr = w->gk->mr;
    w->m_chunk = (w->cout + w->m_chunks - 1) / w->m_chunks;
    w->m_chunk = (w->m_chunk + mr - 1) / mr * mr;
    w->m_chunks = (w->cout + w->m_chunk - 1) / w->m_chunk;
    size_t vf, mf, tf, bytes;
    if (!ei_size_mul(36 * block, w->cin, &vf) || !ei_size_mul(36 * block, w->cout, &mf) ||
        !ei_size_add(vf, mf, &tf) || !ei_size_add(tf, 15, &tf) ||
        !ei_size_mul(tf / 16 * 16, threads * sizeof(float), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "Winograd scratch overflows");
    w->v_floats = vf;
    w->thread_floats = tf / 16 * 16;
    *scratch_bytes = bytes;
    return EI_STATUS_OK;
}

size_t ei_conv_wino_tasks(const ei_conv_wino *w, size_t n) {
    return n * w->blocks * w->m_chunks;
}

void ei_conv_wino_task(const ei_conv_wino *w, size_t task, int thread, const float *x,
                       const float *b, const float *z, float *y, float *scratch) {
    const ei_kernel_table *k = ei_kernels();
    const ei_wino_params *p = &w->p;
    size_t mc = task % w->m_chunks;
    task /= w->m_chunks;
    size_t blk = task % w->blocks, n = task / w->blocks;
    size_t in_sp = p->in_h * p->in_w, out_sp = p->out_h * p->out_w;
    size_t blkf = w->block, cin = w->cin, cout = w->cout;
    size_t t0 = blk * blkf, t1 = t0 + blkf < w->tiles ? t0 + blkf : w->tiles;
    size_t m0 = mc * w->m_chunk, m1 = m0 + w->m_chunk < cout ? m0 + w->m_chunk : cout;
    float *v = scratch + (size_t)thread * w->thread_floats, *m = v + w->v_floats;
    x += n * cin * in_sp;
    y += n * cout * out_sp;
    if (z) z += n * cout * out_sp;
    for (size_t c = 0; c < cin; c++)
        k->f32_wino43_in(p, x + c * in_sp, t0, t1, v + c * blkf, cin * blkf);
    for (size_t xi = 0; xi < 36; xi++)
        w->gk->gemm_pa(cin, w->packed + xi * w->packed_xi, v + xi * cin * blkf, blkf,
                       m + xi * cout * blkf, blkf, NULL, m0, m1, 0, t1 - t0);
    size_t tw = p->tiles_w;
    for (size_t o = m0; o < m1; o++) {
        float *yo = y + o * out_sp;
        k->f32_wino43_out(p, m + o * blkf, cout * blkf, t0, t1, b ? b[o] : 0.0f,
                          z ? z + o * out_sp : NULL, yo);
        if (p->act.kind == EI_ACT_KIND_NONE) continue;
        /* the activation on exactly the pixels of tiles [t0, t1), tile row by tile row */
        for (size_t t = t0; t < t1;) {
            size_t ty = t / tw, tx = t % tw, nt = tw - tx < t1 - t ? tw - tx : t1 - t;
            size_t c0 = 4 * tx, c1 = 4 * (tx + nt) < p->out_w ? 4 * (tx + nt) : p->out_w;
            for (size_t r = 4 * ty; r < 4 * ty + 4 && r < p->out_h; r++)
                ei_f32_act_apply(&p->act, c1 - c0, yo + r * p->out_w + c0);
            t += nt;
        }
    }
}

void ei_conv_wino_free(ei_conv_wino *w) {
    if (!w) return;
    ei_aligned_free(w->packed);
    w->packed = NULL;
    w->src = NULL;
}
