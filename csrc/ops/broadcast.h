/*
 * broadcast.h - NumPy multidirectional broadcasting shared by the binary ops: the
 * output shape of two inputs, and an iteration plan that drops size-1 dims and merges
 * neighbours with the same broadcast pattern, so the innermost run is as long as
 * possible and each input's inner stride is 1 (full) or 0 (repeated scalar).
 */
#ifndef EI_OPS_BROADCAST_H
#define EI_OPS_BROADCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeinfer/edgeinfer.h"

/* Output shape of broadcasting a (ra, da) with b (rb, db). false if incompatible.
 * *rank_out = max(ra, rb). */
bool ei_broadcast_shape(int ra, const int64_t *da, int rb, const int64_t *db, int *rank_out,
                        int64_t *dims_out);

/* Element strides of an input (ri, di) read at each dim of the output (ro, dout) it was
 * broadcast to: 0 where the input repeats (missing or size-1 dims). */
void ei_broadcast_strides(int ri, const int64_t *di, int ro, const int64_t *dout, int64_t *strides);

/* An iteration plan over the output of a broadcast binary op. */
typedef struct ei_bcast {
    int rank;                  /* collapsed rank (>= 1) */
    int64_t dims[EI_MAX_RANK]; /* collapsed output dims; the last is the inner run */
    int64_t sa[EI_MAX_RANK];   /* element strides of a per collapsed dim (0 = repeated) */
    int64_t sb[EI_MAX_RANK];
    size_t numel; /* output elements */
    size_t inner; /* dims[rank-1] */
} ei_bcast;

/* Builds the plan; (ro, dout) must be the result of ei_broadcast_shape for a and b. */
void ei_bcast_init(ei_bcast *bc, int ra, const int64_t *da, int rb, const int64_t *db, int ro,
                   const int64_t *dout);

/* One contiguous run of output: y[yoff .. yoff+n) from a at aoff with stride
 * bc->sa[rank-1] and b at boff with stride bc->sb[rank-1] (each 0 or 1). */
typedef void (*ei_bcast_fn)(void *ctx, size_t aoff, size_t boff, size_t yoff, size_t n);

/* Calls fn for the runs covering output elements [begin, end), in order. */
void ei_bcast_for_range(const ei_bcast *bc, size_t begin, size_t end, ei_bcast_fn fn, void *ctx);

#endif /* EI_OPS_BROADCAST_H */
