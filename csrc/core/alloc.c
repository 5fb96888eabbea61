/*
 * alloc.c - 64-byte aligned allocation on top of posix_memalign, so that the memory is
 * released with free() and any module can free data it did not allocate itself.
 */
#if !defined(_POSIX_C_SOURCE) && !defined(_XOPEN_SOURCE)
#define _POSIX_C_SOURCE 200809L /* posix_memalign */
#endif
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

void *ei_aligned_alloc(size_t size) {
    void *p = NULL;
    if (size == 0) size = 1;
    if (posix_memalign(&p, EI_ALIGNMENT, size) != 0) return NULL;
    return p;
}

void *ei_aligned_calloc(size_t size) {
    void *p = ei_aligned_alloc(size);
    if (p) memset(p, 0, size);
    return p;
}

void ei_aligned_free(void *p) {
    free(p);
}
