/*
 * planner.c - liveness-based arena planning (greedy by size, as in TFLite's and
 * XNNPACK's planners): the largest buffers are placed first, each at the lowest
 * aligned offset that does not collide with a placed buffer alive at the same time.
 * The session turns values and scratch requests into ei_plan_buffer lists.
 */
#include <stdlib.h>

#include "core/planner.h"

static int ei_plan_cmp_size_desc(const void *pa, const void *pb) {
    const ei_plan_buffer *a = *(const ei_plan_buffer *const *)pa;
    const ei_plan_buffer *b = *(const ei_plan_buffer *const *)pb;
    if (a->size != b->size) return a->size < b->size ? 1 : -1;
    if (a->first != b->first) return a->first < b->first ? -1 : 1;
    return (a < b) ? -1 : (a > b);
}

ei_status ei_plan_greedy(ei_plan_buffer *bufs, size_t n, size_t align, size_t *total) {
    ei_status st = EI_STATUS_OK;
    ei_plan_buffer **order = NULL, **placed = NULL;
    size_t n_placed = 0, end = 0;

    *total = 0;
    if (n == 0) return EI_STATUS_OK;
    order = malloc(n * sizeof *order);
    placed = malloc(n * sizeof *placed);
    if (!order || !placed) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "memory planner: out of memory for %zu buffers", n);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) order[i] = &bufs[i];
    qsort(order, n, sizeof *order, ei_plan_cmp_size_desc);

    for (size_t i = 0; i < n; i++) {
        ei_plan_buffer *b = order[i];
        size_t size, offset = 0;
        if (b->size == 0) {
            b->offset = 0;
            continue;
        }
        if (!ei_size_add(b->size, align - 1, &size)) {
            st = ei_error(EI_STATUS_INVALID_MODEL, "memory planner: buffer of %zu bytes is too large", b->size);
            goto cleanup;
        }
        size &= ~(align - 1);
        /* placed[] is kept sorted by offset: walk the gaps between live conflicts. */
        for (size_t j = 0; j < n_placed; j++) {
            const ei_plan_buffer *p = placed[j];
            if (p->last < b->first || p->first > b->last) continue; /* not alive together */
            if (p->offset >= offset + size) break;                  /* fits in the gap before p */
            size_t p_end = p->offset + ((p->size + align - 1) & ~(align - 1));
            if (p_end > offset) offset = p_end;
        }
        b->offset = offset;
        size_t b_end;
        if (!ei_size_add(offset, size, &b_end)) {
            st = ei_error(EI_STATUS_INVALID_MODEL, "memory planner: arena size overflows");
            goto cleanup;
        }
        if (b_end > end) end = b_end;
        /* insert keeping placed[] sorted by offset */
        size_t at = n_placed;
        while (at > 0 && placed[at - 1]->offset > b->offset) {
            placed[at] = placed[at - 1];
            at--;
        }
        placed[at] = b;
        n_placed++;
    }
    *total = end;

cleanup:
    free(order);
    free(placed);
    return st;
}
