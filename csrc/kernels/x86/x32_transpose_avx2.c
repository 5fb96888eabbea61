/*
 * x86/x32_transpose_avx2.c - AVX2 transpose of 32-bit elements: 8x8 blocks in registers
 * (unpack, shuffle, 128-bit lane permute), 4x4 SSE blocks for the remaining rows or
 * columns, scalar for the last few. Bits are moved, never interpreted (NaN payloads kept).
 * Contract: any sizes, unaligned, reads exactly the rows x cols elements; x and y must not
 * overlap.
 */
#include <immintrin.h>

#include "kernels/kernels_isa.h"

static inline void ei_t8x8(const float *x, size_t ldx, float *y, size_t ldy) {
    __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + ldx);
    __m256 r2 = _mm256_loadu_ps(x + 2 * ldx), r3 = _mm256_loadu_ps(x + 3 * ldx);
    __m256 r4 = _mm256_loadu_ps(x + 4 * ldx), r5 = _mm256_loadu_ps(x + 5 * ldx);
    __m256 r6 = _mm256_loadu_ps(x + 6 * ldx), r7 = _mm256_loadu_ps(x + 7 * ldx);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(y, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(y + ldy, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(y + 2 * ldy, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(y + 3 * ldy, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(y + 4 * ldy, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(y + 5 * ldy, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(y + 6 * ldy, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(y + 7 * ldy, _mm256_permute2f128_ps(s3, s7, 0x31));
}

static inline void ei_t4x4(const float *x, size_t ldx, float *y, size_t ldy) {
    __m128 r0 = _mm_loadu_ps(x), r1 = _mm_loadu_ps(x + ldx);
    __m128 r2 = _mm_loadu_ps(x + 2 * ldx), r3 = _mm_loadu_ps(x + 3 * ldx);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(y, r0);
    _mm_storeu_ps(y + ldy, r1);
    _mm_storeu_ps(y + 2 * ldy, r2);
    _mm_storeu_ps(y + 3 * ldy, r3);
}

void ei_x32_transpose__avx2(size_t rows, size_t cols, const uint32_t *xu, size_t ldx, uint32_t *yu,
                            size_t ldy) {
    const float *x = (const float *)(const void *)xu;
    float *y = (float *)(void *)yu;
    size_t r = 0;
    for (; r + 8 <= rows; r += 8) {
        size_t c = 0;
        for (; c + 8 <= cols; c += 8)
            ei_t8x8(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
        for (; c + 4 <= cols; c += 4) {
            ei_t4x4(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
            ei_t4x4(x + (r + 4) * ldx + c, ldx, y + c * ldy + r + 4, ldy);
        }
        for (; c < cols; c++)
            for (size_t i = r; i < r + 8; i++)
                yu[c * ldy + i] = xu[i * ldx + c];
    }
    for (; r + 4 <= rows; r += 4) {
        size_t c = 0;
        for (; c + 4 <= cols; c += 4)
            ei_t4x4(x + r * ldx + c, ldx, y + c * ldy + r, ldy);
        for (; c < cols; c++)
            for (size_t i = r; i < r + 4; i++)
                yu[c * ldy + i] = xu[i * ldx + c];
    }
    for (; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            yu[c * ldy + r] = xu[r * ldx + c];
}
