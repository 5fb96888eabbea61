/*
 * resize_common.h - the parsed state shared by Resize (resize.c) and the deprecated
 * Upsample (upsample.c). Upsample only parses its attributes into this state and then
 * runs through Resize's infer/run/destroy, which read the input layout from it.
 */
#ifndef EI_OPS_RESIZE_COMMON_H
#define EI_OPS_RESIZE_COMMON_H

#include <stdlib.h>

#include "core/core.h"

typedef enum ei_resize_mode {
    EI_RESIZE_MODE_NEAREST = 0,
    EI_RESIZE_MODE_LINEAR = 1,
    EI_RESIZE_MODE_CUBIC = 2
} ei_resize_mode;

typedef enum ei_resize_coord {
    EI_RESIZE_COORD_HALF_PIXEL = 0,
    EI_RESIZE_COORD_HALF_PIXEL_SYMMETRIC,
    EI_RESIZE_COORD_PYTORCH_HALF_PIXEL,
    EI_RESIZE_COORD_ALIGN_CORNERS,
    EI_RESIZE_COORD_ASYMMETRIC,
    EI_RESIZE_COORD_TF_HALF_PIXEL_FOR_NN,
    EI_RESIZE_COORD_TF_CROP_AND_RESIZE
} ei_resize_coord;

typedef enum ei_resize_nearest {
    EI_RESIZE_NEAREST_ROUND_PREFER_FLOOR = 0,
    EI_RESIZE_NEAREST_ROUND_PREFER_CEIL,
    EI_RESIZE_NEAREST_FLOOR,
    EI_RESIZE_NEAREST_CEIL,
    EI_RESIZE_NEAREST_SIMPLE /* opset < 11 (Upsample, Resize-10): floor, ceil when downsampling */
} ei_resize_nearest;

typedef enum ei_resize_policy {
    EI_RESIZE_POLICY_STRETCH = 0,
    EI_RESIZE_POLICY_NOT_LARGER,
    EI_RESIZE_POLICY_NOT_SMALLER
} ei_resize_policy;

/* 2-D lookup tables for the fast path (output axis -> taps), built at infer. */
typedef struct ei_resize_table {
    int64_t n_out;
    int64_t n_taps;
    int64_t *idx;    /* [n_out * n_taps], clamped input index */
    float *w;        /* [n_out * n_taps] */
    uint8_t *extrap; /* [n_out], 1 = outside the tf_crop_and_resize roi */
} ei_resize_table;

/* The geometry of one resize, from the input shape and the scales/sizes/roi values. */
typedef struct ei_resize_plan {
    int rank;
    int64_t in[EI_MAX_RANK], out[EI_MAX_RANK];
    double scale[EI_MAX_RANK]; /* as the coordinate transform uses it */
    double width[EI_MAX_RANK]; /* scale * in: the output length, possibly fractional */
    double roi0[EI_MAX_RANK], roi1[EI_MAX_RANK];
    bool ident[EI_MAX_RANK];   /* output == input along this axis */
    int64_t taps[EI_MAX_RANK]; /* input taps per output coordinate */
} ei_resize_plan;

typedef struct ei_resize_state {
    /* Attributes. */
    ei_resize_mode mode;
    ei_resize_coord coord;
    ei_resize_nearest nearest;
    ei_resize_policy policy;
    float cubic_a;
    float extrapolation;
    int exclude_outside;
    int antialias;
    int n_axes; /* -1: no axes attribute */
    int64_t axes[EI_MAX_RANK];
    /* Input layout: position of each optional input, -1 when the op has none. */
    int in_roi, in_scales, in_sizes;
    /* Upsample-7: scales from the attribute. */
    int n_scales_attr; /* -1: none */
    float scales_attr[EI_MAX_RANK];
    bool upsample; /* Upsample: scales must be >= 1 */
    /* From the last (non-dynamic) infer. */
    ei_resize_plan plan;
    bool fast;     /* resized axes within the last two: table path */
    int64_t outer; /* product of the dims before the last two */
    ei_resize_table th, tw;
    int64_t near_kw; /* nearest, no extrapolation, tw->idx[ox] == ox / near_kw: the width is
                      * an integer upsample (rows are repeats of each input element); else 0 */
} ei_resize_state;

static inline void ei_resize_table_clear(ei_resize_table *t) {
    free(t->idx);
    free(t->w);
    free(t->extrap);
    t->idx = NULL;
    t->w = NULL;
    t->extrap = NULL;
    t->n_out = t->n_taps = 0;
}

static inline void ei_resize_state_free(void *p) {
    ei_resize_state *s = (ei_resize_state *)p;
    if (!s) return;
    ei_resize_table_clear(&s->th);
    ei_resize_table_clear(&s->tw);
    free(s);
}

/* Resize's vtable: Upsample reuses its infer and run (resize.c). */
extern const ei_op_fns ei_op_fns_resize;

#endif /* EI_OPS_RESIZE_COMMON_H */
