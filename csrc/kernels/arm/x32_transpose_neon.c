/*
 * arm/x32_transpose_neon.c - NEON (aarch64) transpose of 32-bit elements: 4x4 blocks in
 * registers (vtrn1/vtrn2 on 32- then 64-bit lanes), scalar for the edges. Bits are moved,
 * never interpreted. Contract: any sizes, unaligned, reads exactly the rows x cols
 * elements; x and y must not overlap.
 */
#include <arm_neon.h>

#include "kernels/kernels_isa.h"

static inline void ei_t4x4(const uint32_t *x, size_t ldx, uint32_t *y, size_t ldy) {
    uint32x4_t r0 = vld1q_u32(x), r1 = vld1q_u32(x + ldx);
    uint32x4_t r2 = vld1q_u32(x + 2 * ldx), r3 = vld1q_u32(x + 3 * ldx);
    uint32x4_t a0 = vtrn1q_u32(r0, r1), a1 = vtrn2q_u32(r0, r1);
    uint32x4_t a2 = vtrn1q_u32(r2, r3), a3 = vtrn2q_u32(r2, r3);
    uint64x2_t b0 = vreinterpretq_u64_u32(a0), b1 = vreinterpretq_u64_u32(a1);
    uint64x2_t b2 = vreinterpretq_u64_u32(a2), b3 = vreinterpretq_u64_u32(a3);
    vst1q_u32(y, vreinterpretq_u32_u64(vtrn1q_u64(b0, b2)));
    vst1q_u32(y + ldy, vreinterpretq_u32_u64(vtrn1q_u64(b1, b3)));
    vst1q_u32(y + 2 * ldy, vreinterpretq_u32_u64(vtrn2q_u64(b0, b2)));
    vst1q_u32(y + 3 * ldy, vreinterpretq_u32_u64(vtrn2q_u64(b1, b3)));
}

void ei_x32_transpose__neon(size_t rows, size_t cols, const uint32_t *x, size_t ldx, uint32_t *y,
                            size_t ldy) {
    size_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        size_t c = 0;
        for (; c + 4 <= cols; c += 4)
            ei_t4x4(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
        for (; c < cols; c++)
            for (size_t i = r; i < r + 4; i++)
                y[c * ldy + i] = x[i * ldx + c];
    }
    for (; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            y[c * ldy + r] = x[r * ldx + c];
}
