/*
 * int_conv.h - the integer convolution core that ConvInteger (integer_ops.c) and
 * QLinearConv (qlinear.c) share: shape checks and geometry, and the per-output
 * accumulator. Requantization and threading stay in the ops.
 */
#ifndef EI_OPS_INT_CONV_H
#define EI_OPS_INT_CONV_H

#include "ops/conv_geometry.h"
#include "ops/elem_util.h"
#include "ops/int_gemm.h"

/* Shapes of an integer convolution. */
typedef struct ei_iconv_geom {
    ei_geom_attrs ga;
    int64_t group;
    ei_geom g;
    size_t n, cin, cout, cin_g, cout_g, n_tasks;
} ei_iconv_geom;

/* Validates x and w (inputs xi, wi) and resolves the geometry; sets output 0's shape with
 * out_dtype and picks the task count (infer). */
ei_status ei_iconv_infer_geom(ei_exec *ex, ei_node *node, ei_iconv_geom *cg, int xi, int wi,
                              ei_dtype out_dtype);

/* Accumulator of output (od, oh, ow) for one filter: sum over the group's cin_g channels
 * and the in-bounds taps of (x - xz) * (w - wz), wrapping in uint32. */
static inline int32_t ei_iconv_at(const ei_iconv_geom *cg, const void *x, ei_dtype xt, int32_t xz,
                                  const void *w, ei_dtype wt, int32_t wz, size_t x0, size_t w0,
                                  int64_t od, int64_t oh, int64_t ow) {
    const ei_geom *g = &cg->g;
    int64_t st[3] = {od * g->s[0] - g->pb[0], oh * g->s[1] - g->pb[1], ow * g->s[2] - g->pb[2]};
    int64_t lo[3], hi[3];
    for (int j = 0; j < 3; j++)
        ei_geom_window_taps(st[j], g->d[j], g->in[j], g->k[j], &lo[j], &hi[j]);
    uint32_t acc = 0;
    for (size_t c = 0; c < cg->cin_g; c++) {
        size_t xc = x0 + c * g->in_size, wc = w0 + c * g->k_size;
        for (int64_t kd = lo[0]; kd < hi[0]; kd++) {
            size_t id = (size_t)(st[0] + kd * g->d[0]);
            for (int64_t kh = lo[1]; kh < hi[1]; kh++) {
                size_t ih = (size_t)(st[1] + kh * g->d[1]);
                size_t xr = xc + (id * (size_t)g->in[1] + ih) * (size_t)g->in[2];
                size_t wr = wc + ((size_t)kd * (size_t)g->k[1] + (size_t)kh) * (size_t)g->k[2];
                for (int64_t kw = lo[2]; kw < hi[2]; kw++) {
                    size_t iw = (size_t)(st[2] + kw * g->d[2]);
                    int32_t xv = ei_q8_load(xt, x, xr + iw) - xz;
                    int32_t wv = ei_q8_load(wt, w, wr + (size_t)kw) - wz;
                    acc += (uint32_t)(xv * wv);
                }
            }
        }
    }
    return (int32_t)acc;
}

#endif
