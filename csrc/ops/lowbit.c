/*
 * lowbit.c - float8/float4 element codecs and sub-byte packing (see lowbit.h). Rounding is
 * done once, from the exact double value, so results match ml_dtypes' conversions (which
 * onnx's reference implementation uses) for float32, float16 and float64 sources.
 */
#include "ops/lowbit.h"

#include <math.h>
#include <string.h>

typedef struct lowbit_fmt {
    int ebits, mbits, bias;
    uint8_t maxcode;  /* largest finite magnitude code */
    uint8_t nan_code; /* positive NaN; 0 when the type has no NaN */
    bool has_inf;     /* E5M2 */
    bool fnuz;        /* single NaN 0x80, no -0 */
} lowbit_fmt;

static bool lowbit_fmt_of(ei_dtype t, lowbit_fmt *f) {
    switch (t) {
    case EI_DTYPE_F8E4M3FN: *f = (lowbit_fmt){4, 3, 7, 0x7e, 0x7f, false, false}; return true;
    case EI_DTYPE_F8E4M3FNUZ: *f = (lowbit_fmt){4, 3, 8, 0x7f, 0x80, false, true}; return true;
    case EI_DTYPE_F8E5M2: *f = (lowbit_fmt){5, 2, 15, 0x7b, 0x7e, true, false}; return true;
    case EI_DTYPE_F8E5M2FNUZ: *f = (lowbit_fmt){5, 2, 16, 0x7f, 0x80, false, true}; return true;
    case EI_DTYPE_F4E2M1: *f = (lowbit_fmt){2, 1, 1, 0x7, 0, false, false}; return true;
    default: return false;
    }
}

bool ei_lowbit_is_minifloat(ei_dtype t) {
    lowbit_fmt f;
    return lowbit_fmt_of(t, &f);
}

static double lowbit_decode(const lowbit_fmt *f, unsigned c) {
    unsigned nb = (unsigned)(f->ebits + f->mbits);
    unsigned sign = (c >> nb) & 1u, e = (c >> f->mbits) & ((1u << f->ebits) - 1u);
    unsigned m = c & ((1u << f->mbits) - 1u);
    if (f->fnuz && c == 0x80) return NAN;
    if (f->nan_code && !f->fnuz) {
        unsigned mag = c & ((1u << nb) - 1u);
        if (f->has_inf && e == (1u << f->ebits) - 1u)
            return m == 0 ? (sign ? -INFINITY : INFINITY) : NAN;
        if (!f->has_inf && mag == f->nan_code) return NAN;
    }
    double v = e == 0 ? ldexp((double)m, 1 - f->bias - f->mbits)
                      : ldexp((double)((1u << f->mbits) + m), (int)e - f->bias - f->mbits);
    return sign ? -v : v;
}

double ei_lowbit_minifloat_to_f64(ei_dtype t, uint8_t c) {
    lowbit_fmt f;
    if (!lowbit_fmt_of(t, &f)) return 0.0;
    return lowbit_decode(&f, c);
}

uint8_t ei_lowbit_minifloat_from_f64(ei_dtype t, double x, bool saturate) {
    lowbit_fmt f;
    if (!lowbit_fmt_of(t, &f)) return 0;
    unsigned nb = (unsigned)(f.ebits + f.mbits);
    bool neg = signbit(x) != 0;
    unsigned sign = neg ? 1u << nb : 0u;
    bool is_f4 = f.nan_code == 0;
    if (isnan(x)) {
        if (is_f4) return neg ? 0 : 0x8;
        return f.fnuz ? 0x80 : (uint8_t)(sign | f.nan_code);
    }
    double a = fabs(x);
    double maxv = lowbit_decode(&f, f.maxcode);
    if (!isinf(a)) {
        int k = 0;
        if (a == 0.0) return f.fnuz ? 0 : (uint8_t)sign;
        (void)frexp(a, &k);
        int e = k - 1; /* a in [2^e, 2^(e+1)) */
        if (e < 1 - f.bias) e = 1 - f.bias;
        if (e > 1024) e = 1024; /* far out of range anyway */
        double m = nearbyint(ldexp(a, f.mbits - e)); /* exact scaling, then round to even */
        if (m == 0.0) return f.fnuz ? 0 : (uint8_t)sign;
        double r = ldexp(m, e - f.mbits);
        if (r <= maxv) {
            unsigned mi = (unsigned)m;
            if (mi >= (2u << f.mbits)) { /* rounded up to the next binade */
                mi >>= 1;
                e++;
            }
            unsigned code = mi < (1u << f.mbits)
                                ? mi
                                : ((unsigned)(e + f.bias) << f.mbits) | (mi - (1u << f.mbits));
            return (uint8_t)(sign | code);
        }
    }
    /* overflow or infinity */
    if (saturate || is_f4) return (uint8_t)(sign | f.maxcode);
    if (f.has_inf) return (uint8_t)(sign | (((1u << f.ebits) - 1u) << f.mbits));
    return f.fnuz ? 0x80 : (uint8_t)(sign | f.nan_code);
}

uint8_t ei_lowbit_e8m0_from_f32(float x, bool saturate, ei_e8m0_round mode) {
    uint32_t b;
    memcpy(&b, &x, 4);
    unsigned e = (b >> 23) & 0xffu;
    if (e == 0xffu) return 0xff;
    bool up = false;
    if (mode == EI_E8M0_ROUND_UP) {
        up = (b & 0x7fffffu) != 0;
    } else if (mode == EI_E8M0_ROUND_NEAREST) {
        /* onnx's definition: guard bit set and (round or sticky or a non-zero exponent) */
        bool g = (b & 0x400000u) != 0, r = (b & 0x200000u) != 0, s = (b & 0x1fffffu) != 0;
        up = g && (r || s || e > 0);
    }
    if (up && saturate && e == 0xfeu) up = false;
    return (uint8_t)(e + (up ? 1u : 0u));
}

double ei_lowbit_e8m0_to_f64(uint8_t c) { return c == 0xff ? NAN : ldexp(1.0, (int)c - 127); }

void ei_lowbit_pack(uint8_t *dst, const uint8_t *src, size_t n, unsigned bits) {
    size_t nbytes = (n * bits + 7) / 8;
    memset(dst, 0, nbytes);
    for (size_t i = 0; i < n; i++) ei_lowbit_set(dst, i, bits, src[i]);
}

void ei_lowbit_unpack(uint8_t *dst, const uint8_t *src, size_t n, unsigned bits, bool is_signed) {
    for (size_t i = 0; i < n; i++) {
        unsigned c = ei_lowbit_get(src, i, bits);
        dst[i] = is_signed ? (uint8_t)(int8_t)ei_lowbit_sext(c, bits) : (uint8_t)c;
    }
}
