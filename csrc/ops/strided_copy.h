/*
 * strided_copy.h - the gather-by-strides copy that Expand, Tile and Slice share: a plan of
 * loop dims (count and source byte stride each, the last the inner loop) copying `block`
 * contiguous bytes per inner step, and its run over the thread pool. Each op builds the
 * plan from its own view of the output. Also a strided row copy (DepthToSpace, SpaceToDepth).
 */
#ifndef EI_OPS_STRIDED_COPY_H
#define EI_OPS_STRIDED_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"

#define EI_STRIDED_MAX_LOOP (2 * EI_MAX_RANK)

typedef struct ei_strided_plan {
    int n; /* loop dims (>= 1), the last is the inner loop */
    size_t count[EI_STRIDED_MAX_LOOP];
    ptrdiff_t stride[EI_STRIDED_MAX_LOOP]; /* source bytes per step (0: repeated) */
    size_t block;                          /* contiguous bytes per inner step */
    ptrdiff_t base;                        /* source offset of the first element */
    size_t outer;                          /* product of count[0 .. n-2] */
} ei_strided_plan;

/* Builds a plan (base 0) from nd loop dims, outermost first, with non-negative source
 * strides (0: repeated) for elements of elem bytes: drops size-1 dims, merges a dim into
 * its inner neighbour when both repeat or when it steps exactly over the neighbour's span,
 * and folds a contiguous innermost dim into the block. */
void ei_strided_plan_collapse(ei_strided_plan *p, int nd, const size_t *dims, const size_t *strides,
                              size_t elem);

/* Sets p->outer from p->count (after p->n and p->count are filled). */
void ei_strided_plan_finish(ei_strided_plan *p);

/* Copies n elements of es bytes from src, one every sstep elements, to dst, one every
 * dstep elements (typed moves for 1/2/4/8-byte elements). */
#define EI_COPY_ELEMS(T)                                                                           \
    for (size_t i = 0; i < n; i++) {                                                               \
        T v;                                                                                       \
        memcpy(&v, src + i * sstep * sizeof(T), sizeof(T));                                        \
        memcpy(dst + i * dstep * sizeof(T), &v, sizeof(T));                                        \
    }
static inline void ei_copy_elems(char *dst, size_t dstep, const char *src, size_t sstep, size_t n,
                                 size_t es) {
    switch (es) {
    case 1: EI_COPY_ELEMS(uint8_t) break;
    case 2: EI_COPY_ELEMS(uint16_t) break;
    case 4: EI_COPY_ELEMS(uint32_t) break;
    case 8: EI_COPY_ELEMS(uint64_t) break;
    default:
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * dstep * es, src + i * sstep * es, es);
    }
}
#undef EI_COPY_ELEMS

/* Copies y->nbytes bytes into y from x following p, rows spread over the pool. */
void ei_strided_copy_run(ei_exec *ex, const ei_strided_plan *p, const void *x, ei_value *y);

/* ---- op level: an output shape with the copy that fills it from input 0 */

typedef struct ei_strided_op_plan {
    int rank;
    int64_t dims[EI_MAX_RANK]; /* output */
    ei_strided_plan copy;
} ei_strided_op_plan;

/* Builds an op's plan from its inputs (which must have data). */
typedef ei_status (*ei_strided_plan_fn)(const ei_exec *ex, const ei_node *node,
                                        ei_strided_op_plan *p);

/* Expand and Tile: inputs x and a 1-D int64 tensor (named what: "shape", "repeats"); the
 * state is an ei_strided_op_plan, made at infer when that input is known, else in run
 * (the node is dynamic). */
ei_status ei_strided_op_prepare(ei_exec *ex, ei_node *node);
ei_status ei_strided_op_infer(ei_exec *ex, ei_node *node, const char *what,
                              ei_strided_plan_fn make_plan);

/* Run: copies input 0 into output 0 by `planned`, or when the node is dynamic by a plan
 * made now (allocating the output). */
ei_status ei_strided_op_run(ei_exec *ex, ei_node *node, const ei_strided_op_plan *planned,
                            ei_strided_plan_fn make_plan);

#endif
