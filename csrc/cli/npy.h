/*
 * npy.h - a bounds-checked reader and writer of NumPy .npy files (format 1.0, 2.0, 3.0)
 * for the CLI. Only plain little-endian C-order arrays of the engine's numeric dtypes;
 * Fortran order, big-endian, object and structured dtypes are rejected with a message.
 * Not part of libedgeinfer: it uses only the public header's dtype enum.
 */
#ifndef EI_CLI_NPY_H
#define EI_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "edgeinfer/edgeinfer.h"

/* An array read from a .npy file. data is malloc'd (never NULL after a successful
 * load, even for zero elements) and freed by ei_npy_free. */
typedef struct ei_npy {
    ei_dtype dtype;
    int rank;
    int64_t dims[EI_MAX_RANK];
    void *data;
    size_t nbytes;
} ei_npy;

/* Parses a whole .npy file held in memory (data is copied). Returns 0 on success;
 * on failure returns -1, writes a message to err (always NUL-terminated when
 * err_size > 0) and leaves *out zeroed. */
int ei_npy_parse(const void *buf, size_t size, ei_npy *out, char *err, size_t err_size);

/* Reads and parses the file at path. Same contract as ei_npy_parse. */
int ei_npy_load(const char *path, ei_npy *out, char *err, size_t err_size);

/* Writes a C-order little-endian array. nbytes must equal numel * dtype size.
 * Returns 0, or -1 with a message (unsupported dtype, I/O error). */
int ei_npy_save(const char *path, ei_dtype dtype, int rank, const int64_t *dims, const void *data,
                size_t nbytes, char *err, size_t err_size);

/* Frees the data of a (possibly zeroed) ei_npy and zeroes it. Accepts NULL. */
void ei_npy_free(ei_npy *a);

/* NumPy's descr for dtype ("<f4", "|u1", ...) or NULL when NumPy has no such type. */
const char *ei_npy_descr(ei_dtype dtype);

#endif /* EI_CLI_NPY_H */
