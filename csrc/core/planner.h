/*
 * planner.h - memory planning: offsets in one arena for buffers with known lifetimes.
 */
#ifndef EI_PLANNER_H
#define EI_PLANNER_H

#include "core/core.h"

typedef struct ei_plan_buffer {
    size_t size;     /* bytes; 0-sized buffers get offset 0 and take no room */
    int first, last; /* inclusive range of steps during which the buffer is live */
    size_t offset;   /* out */
} ei_plan_buffer;

/* Greedy by size: buffers are placed largest first at the lowest offset (a multiple of
 * align, a power of two) where they overlap no placed buffer whose lifetime
 * intersects theirs. *total receives the arena size. OUT_OF_MEMORY for scratch
 * allocation failure, INVALID_MODEL if sizes overflow. */
ei_status ei_plan_greedy(ei_plan_buffer *bufs, size_t n, size_t align, size_t *total);

#endif /* EI_PLANNER_H */
