/*
 * test_lowbit.c - the sub-byte packing helpers and the float8/float4/e8m0 codecs of
 * ops/lowbit.c: packing order (low bits first), tails, sign extension, every code's round
 * trip, rounding ties, saturation and the special values of each float8 flavour.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "edgeinfer/edgeinfer.h"
#include "ops/lowbit.h"
#include "test_util.h"

static void test_bits_and_nbytes(void) {
    CHECK_EQ_INT(ei_dtype_bits(EI_DTYPE_F32), 32);
    CHECK_EQ_INT(ei_dtype_bits(EI_DTYPE_F8E4M3FN), 8);
    CHECK_EQ_INT(ei_dtype_bits(EI_DTYPE_I4), 4);
    CHECK_EQ_INT(ei_dtype_bits(EI_DTYPE_F4E2M1), 4);
    CHECK_EQ_INT(ei_dtype_bits(EI_DTYPE_U2), 2);
    CHECK_EQ_INT(ei_dtype_bits(EI_DTYPE_STRING), 0);
    CHECK_EQ_INT(ei_dtype_size(EI_DTYPE_U4), 0); /* byte-copying ops must refuse packed types */
    CHECK_EQ_INT(ei_dtype_size(EI_DTYPE_F8E8M0), 1);
    CHECK_STREQ(ei_dtype_name(EI_DTYPE_I2), "int2");
    CHECK_STREQ(ei_dtype_name(EI_DTYPE_F8E5M2FNUZ), "float8e5m2fnuz");
    size_t nb = 0;
    CHECK(ei_dtype_nbytes(EI_DTYPE_I4, 3, &nb) && nb == 2);
    CHECK(ei_dtype_nbytes(EI_DTYPE_U2, 5, &nb) && nb == 2);
    CHECK(ei_dtype_nbytes(EI_DTYPE_U2, 8, &nb) && nb == 2);
    CHECK(ei_dtype_nbytes(EI_DTYPE_I4, 0, &nb) && nb == 0);
    CHECK(ei_dtype_nbytes(EI_DTYPE_F32, 3, &nb) && nb == 12);
    CHECK(!ei_dtype_nbytes(EI_DTYPE_F64, SIZE_MAX / 4, &nb));
    CHECK(!ei_dtype_nbytes(EI_DTYPE_I4, SIZE_MAX, &nb));
    ei_value v;
    memset(&v, 0, sizeof v);
    int64_t dims[2] = {3, 5};
    CHECK_EQ_INT(ei_value_set_shape(&v, EI_DTYPE_I4, 2, dims), EI_STATUS_OK);
    CHECK_EQ_INT(v.nbytes, 8);
}

static void test_pack_unpack(void) {
    /* onnx's layout: int4 [1, -2, 7] -> bytes 0xe1 0x07 (low nibble first) */
    uint8_t src[3] = {1, (uint8_t)-2, 7}, packed[4] = {0xaa, 0xaa, 0xaa, 0xaa}, back[3];
    ei_lowbit_pack(packed, src, 3, 4);
    CHECK_EQ_INT(packed[0], 0xe1);
    CHECK_EQ_INT(packed[1], 0x07); /* unused high nibble zeroed */
    CHECK_EQ_INT(packed[2], 0xaa); /* nothing past ceil(3 * 4 / 8) bytes touched */
    ei_lowbit_unpack(back, packed, 3, 4, true);
    CHECK_EQ_INT((int8_t)back[0], 1);
    CHECK_EQ_INT((int8_t)back[1], -2);
    CHECK_EQ_INT((int8_t)back[2], 7);
    ei_lowbit_unpack(back, packed, 3, 4, false);
    CHECK_EQ_INT(back[1], 14);
    /* 2-bit: four per byte, lowest bits first */
    uint8_t s2[5] = {0, 1, 2, 3, 1}, p2[2];
    ei_lowbit_pack(p2, s2, 5, 2);
    CHECK_EQ_INT(p2[0], 0xe4); /* 3<<6 | 2<<4 | 1<<2 | 0 */
    CHECK_EQ_INT(p2[1], 0x01);
    CHECK_EQ_INT(ei_lowbit_get(p2, 3, 2), 3);
    CHECK_EQ_INT(ei_lowbit_sext(ei_lowbit_get(p2, 2, 2), 2), -2);
    CHECK_EQ_INT(ei_lowbit_sext(1, 2), 1);
    CHECK_EQ_INT(ei_lowbit_sext(8, 4), -8);
    /* set leaves the neighbours alone */
    ei_lowbit_set(p2, 1, 2, 0);
    CHECK_EQ_INT(p2[0], 0xe0);
    ei_lowbit_set(p2, 4, 2, 0x7); /* only the low bits of the code are stored */
    CHECK_EQ_INT(p2[1], 0x03);
    /* every 4-bit code round-trips at every position */
    for (unsigned pos = 0; pos < 2; pos++)
        for (unsigned c = 0; c < 16; c++) {
            uint8_t b[1] = {0};
            ei_lowbit_set(b, pos, 4, c);
            CHECK_EQ_INT(ei_lowbit_get(b, pos, 4), c);
        }
}

static void test_minifloat_codes(void) {
    static const ei_dtype types[] = {EI_DTYPE_F8E4M3FN, EI_DTYPE_F8E4M3FNUZ, EI_DTYPE_F8E5M2,
                                     EI_DTYPE_F8E5M2FNUZ, EI_DTYPE_F4E2M1};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        ei_dtype t = types[k];
        unsigned n = t == EI_DTYPE_F4E2M1 ? 16 : 256;
        for (unsigned c = 0; c < n; c++) {
            double d = ei_lowbit_minifloat_to_f64(t, (uint8_t)c);
            if (isnan(d) || isinf(d)) continue;
            uint8_t back = ei_lowbit_minifloat_from_f64(t, d, false);
            bool neg_zero = d == 0.0 && c != 0; /* -0 */
            if (neg_zero && (t == EI_DTYPE_F8E4M3FNUZ || t == EI_DTYPE_F8E5M2FNUZ)) continue;
            if (!CHECK_EQ_INT(back, c)) break;
        }
    }
    /* known values */
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E4M3FN, 0x7e) == 448.0);
    CHECK(isnan(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E4M3FN, 0x7f)));
    CHECK(isnan(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E4M3FN, 0xff)));
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E4M3FNUZ, 0x7f) == 240.0);
    CHECK(isnan(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E4M3FNUZ, 0x80)));
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E5M2, 0x7c) == INFINITY);
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E5M2, 0x7b) == 57344.0);
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E5M2FNUZ, 0x7f) == 57344.0);
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F8E4M3FN, 0x01) == ldexp(1.0, -9));
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F4E2M1, 0x7) == 6.0);
    CHECK(ei_lowbit_minifloat_to_f64(EI_DTYPE_F4E2M1, 0x9) == -0.5);
    /* rounding: ties to even, overflow per type */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, 1.0625, true), 0x38); /* tie -> 1.0 */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, 1.1875, true), 0x3a); /* tie -> 1.25 */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, 464.0, false), 0x7e);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, 465.0, false), 0x7f);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, -465.0, true), 0xfe);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, INFINITY, true), 0x7e);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, -INFINITY, false), 0xff);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E5M2, 61440.0, false), 0x7c);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E5M2, 61440.0, true), 0x7b);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E5M2, NAN, true), 0x7e);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E5M2FNUZ, -INFINITY, false), 0x80);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FNUZ, -1e-30, false), 0x00);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, -1e-30, false), 0x80);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, 1e300, false), 0x7f);
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, ldexp(1.0, -10), true), 0x00); /* tie -> 0 */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F8E4M3FN, ldexp(3.0, -10), true), 0x02); /* tie -> 2 */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F4E2M1, 100.0, false), 0x7); /* saturates */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F4E2M1, -5.0, false), 0xe); /* tie -> -4 */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F4E2M1, 0.25, false), 0x0); /* tie -> 0 */
    CHECK_EQ_INT(ei_lowbit_minifloat_from_f64(EI_DTYPE_F32, 1.0, false), 0); /* not a minifloat */
}

static void test_e8m0(void) {
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(1.0f, true, EI_E8M0_ROUND_UP), 127);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(1.5f, true, EI_E8M0_ROUND_UP), 128);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(1.5f, true, EI_E8M0_ROUND_DOWN), 127);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(1.5f, true, EI_E8M0_ROUND_NEAREST), 128);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(1.25f, true, EI_E8M0_ROUND_NEAREST), 127);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(-4.0f, true, EI_E8M0_ROUND_UP), 129); /* sign dropped */
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(NAN, true, EI_E8M0_ROUND_UP), 0xff);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(INFINITY, true, EI_E8M0_ROUND_UP), 0xff);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(3.0e38f, true, EI_E8M0_ROUND_UP), 0xfe);
    CHECK_EQ_INT(ei_lowbit_e8m0_from_f32(3.0e38f, false, EI_E8M0_ROUND_UP), 0xff);
    CHECK(ei_lowbit_e8m0_to_f64(127) == 1.0);
    CHECK(ei_lowbit_e8m0_to_f64(0) == ldexp(1.0, -127));
    CHECK(isnan(ei_lowbit_e8m0_to_f64(0xff)));
}

int main(void) {
    RUN_TEST(test_bits_and_nbytes);
    RUN_TEST(test_pack_unpack);
    RUN_TEST(test_minifloat_codes);
    RUN_TEST(test_e8m0);
    return TEST_REPORT("test_lowbit");
}
