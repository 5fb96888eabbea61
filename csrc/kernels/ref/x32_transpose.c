/*
 * ref/x32_transpose.c - reference transpose of a matrix of 32-bit elements (any dtype of
 * that size: bits are copied, never interpreted), the oracle for x86/x32_transpose_avx2.c
 * and arm/x32_transpose_neon.c. Used by ops/transpose.c for the innermost 2-D tile.
 */
#include "kernels/kernels.h"

void ei_x32_transpose__ref(size_t rows, size_t cols, const uint32_t *x, size_t ldx, uint32_t *y,
                           size_t ldy) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[c * ldy + r] = x[r * ldx + c];
}
