/*
 * alloc.h - 64-byte aligned allocation shared by the engine (constants, arenas, packed
 * weights). Memory from ei_aligned_alloc may be released with ei_aligned_free or plain
 * free(): it comes from posix_memalign, so EI_VALUE_FLAG_OWNS_DATA data is just free()'d.
 */
#ifndef EI_ALLOC_H
#define EI_ALLOC_H

#include <stddef.h>

#define EI_ALIGNMENT 64

/* At least max(size, 1) bytes aligned to EI_ALIGNMENT (size 0 still gives a unique,
 * non-NULL pointer); NULL when out of memory. Contents are uninitialized. */
void *ei_aligned_alloc(size_t size);
/* Same, zero-filled. */
void *ei_aligned_calloc(size_t size);
/* Accepts NULL. */
void ei_aligned_free(void *p);

#endif /* EI_ALLOC_H */
