/*
 * npy.c - NumPy .npy reader and writer for the CLI. The reader trusts nothing: every
 * length is checked against the bytes present, the header dict is tokenized (not
 * pattern-matched) and sizes are multiplied with overflow checks. Byte swapping is
 * done only on big-endian hosts; files are always little-endian.
 */
#include "cli/npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

static void set_err(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...) {
    if (!err || err_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------- dtype table */

typedef struct npy_type {
    char kind; /* NumPy kind character: f, i, u, b */
    int size;  /* bytes per element */
    ei_dtype dtype;
} npy_type;

static const npy_type npy_types[] = {
    {'f', 2, EI_DTYPE_F16}, {'f', 4, EI_DTYPE_F32}, {'f', 8, EI_DTYPE_F64}, {'i', 1, EI_DTYPE_I8},
    {'i', 2, EI_DTYPE_I16}, {'i', 4, EI_DTYPE_I32}, {'i', 8, EI_DTYPE_I64}, {'u', 1, EI_DTYPE_U8},
    {'u', 2, EI_DTYPE_U16}, {'u', 4, EI_DTYPE_U32}, {'u', 8, EI_DTYPE_U64}, {'b', 1, EI_DTYPE_BOOL},
};
#define NPY_N_TYPES (sizeof npy_types / sizeof npy_types[0])

static const npy_type *type_of_dtype(ei_dtype dtype) {
    for (size_t i = 0; i < NPY_N_TYPES; i++)
        if (npy_types[i].dtype == dtype) return &npy_types[i];
    return NULL;
}

const char *ei_npy_descr(ei_dtype dtype) {
    switch (dtype) {
    case EI_DTYPE_F16: return "<f2";
    case EI_DTYPE_F32: return "<f4";
    case EI_DTYPE_F64: return "<f8";
    case EI_DTYPE_I8: return "|i1";
    case EI_DTYPE_I16: return "<i2";
    case EI_DTYPE_I32: return "<i4";
    case EI_DTYPE_I64: return "<i8";
    case EI_DTYPE_U8: return "|u1";
    case EI_DTYPE_U16: return "<u2";
    case EI_DTYPE_U32: return "<u4";
    case EI_DTYPE_U64: return "<u8";
    case EI_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

static bool host_is_big_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 0;
}

static void swap_bytes(void *data, size_t nbytes, int size) {
    unsigned char *p = data;
    if (size <= 1) return;
    for (size_t off = 0; off + (size_t)size <= nbytes; off += (size_t)size)
        for (int i = 0; i < size / 2; i++) {
            unsigned char t = p[off + (size_t)i];
            p[off + (size_t)i] = p[off + (size_t)size - 1 - (size_t)i];
            p[off + (size_t)size - 1 - (size_t)i] = t;
        }
}

/* ------------------------------------------------------ header dict parsing */

/* A cursor over the header text [p, end). The text is not NUL-terminated. */
typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool accept(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A Python string literal in single or double quotes, without escapes, into out. */
static int parse_string(cursor *c, char *out, size_t out_size, char *err, size_t err_size) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) {
        set_err(err, err_size, "header: expected a quoted string");
        return -1;
    }
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '\\' || ch < 0x20 || ch >= 0x7f) {
            set_err(err, err_size, "header: unsupported character in a string");
            return -1;
        }
        if (n + 1 >= out_size) {
            set_err(err, err_size, "header: string too long");
            return -1;
        }
        out[n++] = (char)ch;
        c->p++;
    }
    if (c->p >= c->end) {
        set_err(err, err_size, "header: unterminated string");
        return -1;
    }
    c->p++; /* closing quote */
    out[n] = '\0';
    return 0;
}

/* A non-negative decimal integer (Python 2 files may append 'L'). */
static int parse_dim(cursor *c, int64_t *out, char *err, size_t err_size) {
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') {
        set_err(err, err_size, "header: shape must be a tuple of non-negative integers");
        return -1;
    }
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        int d = *c->p - '0';
        if (v > (INT64_MAX - d) / 10) {
            set_err(err, err_size, "header: shape dimension too large");
            return -1;
        }
        v = v * 10 + d;
        c->p++;
    }
    if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++;
    *out = v;
    return 0;
}

static int parse_bool(cursor *c, bool *out, char *err, size_t err_size) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *out = true;
        return 0;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *out = false;
        return 0;
    }
    set_err(err, err_size, "header: fortran_order must be True or False");
    return -1;
}

/* Maps a descr string ("<f4") to a dtype, with a message for what is not supported. */
static int parse_descr(const char *d, ei_dtype *dtype, int *size, char *err, size_t err_size) {
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        set_err(err, err_size, "unsupported dtype '%s'", d);
        return -1;
    }
    char kind = d[1];
    if (kind == 'O') {
        set_err(err, err_size, "object arrays (dtype '%s') are not supported: save a numeric array",
                d);
        return -1;
    }
    int sz = 0;
    const char *q = d + 2;
    if (*q == '\0') {
        set_err(err, err_size, "unsupported dtype '%s'", d);
        return -1;
    }
    for (; *q; q++) {
        if (*q < '0' || *q > '9' || sz > 1000) {
            set_err(err, err_size, "unsupported dtype '%s'", d);
            return -1;
        }
        sz = sz * 10 + (*q - '0');
    }
    const npy_type *t = NULL;
    for (size_t i = 0; i < NPY_N_TYPES; i++)
        if (npy_types[i].kind == kind && npy_types[i].size == sz) t = &npy_types[i];
    if (!t) {
        set_err(err, err_size,
                "unsupported dtype '%s' (supported: float16/32/64, int8/16/32/64, "
                "uint8/16/32/64, bool)",
                d);
        return -1;
    }
    bool native_big = host_is_big_endian();
    if (sz > 1 && (order == '>' || (order == '=' && native_big))) {
        set_err(err, err_size,
                "big-endian arrays (dtype '%s') are not supported: convert with "
                "a.astype(a.dtype.newbyteorder('<'))",
                d);
        return -1;
    }
    *dtype = t->dtype;
    *size = sz;
    return 0;
}

/* -------------------------------------------------------------- public */

void ei_npy_free(ei_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

int ei_npy_parse(const void *buf, size_t size, ei_npy *out, char *err, size_t err_size) {
    const unsigned char *b = buf;
    if (out) memset(out, 0, sizeof *out);
    if (!b || !out) {
        set_err(err, err_size, "no data");
        return -1;
    }
    if (size < 10 || memcmp(b, NPY_MAGIC, NPY_MAGIC_LEN) != 0) {
        set_err(err, err_size, "not a .npy file (bad magic)");
        return -1;
    }
    int major = b[6];
    size_t preamble, header_len;
    if (major == 1) {
        preamble = 10;
        header_len = (size_t)b[8] | (size_t)b[9] << 8;
    } else if (major == 2 || major == 3) {
        if (size < 12) {
            set_err(err, err_size, "truncated .npy header");
            return -1;
        }
        preamble = 12;
        header_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    } else {
        set_err(err, err_size, "unsupported .npy format version %d.%d", major, b[7]);
        return -1;
    }
    if (header_len > size - preamble) {
        set_err(err, err_size, "truncated .npy header (%zu bytes declared, %zu present)",
                header_len, size - preamble);
        return -1;
    }

    cursor c = {(const char *)b + preamble, (const char *)b + preamble + header_len};
    char descr[64] = "";
    char key[32];
    bool fortran = false, have_descr = false, have_fortran = false, have_shape = false;
    int rank = 0;
    int64_t dims[EI_MAX_RANK] = {0};

    if (!accept(&c, '{')) {
        set_err(err, err_size, "header: expected a dict");
        return -1;
    }
    while (!accept(&c, '}')) {
        if (parse_string(&c, key, sizeof key, err, err_size) != 0) return -1;
        if (!accept(&c, ':')) {
            set_err(err, err_size, "header: expected ':' after '%s'", key);
            return -1;
        }
        if (strcmp(key, "descr") == 0 && !have_descr) {
            skip_ws(&c);
            if (c.p < c.end && *c.p == '[') {
                set_err(err, err_size, "structured dtypes are not supported");
                return -1;
            }
            if (parse_string(&c, descr, sizeof descr, err, err_size) != 0) return -1;
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (parse_bool(&c, &fortran, err, err_size) != 0) return -1;
            have_fortran = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!accept(&c, '(')) {
                set_err(err, err_size, "header: shape must be a tuple");
                return -1;
            }
            while (!accept(&c, ')')) {
                if (rank >= EI_MAX_RANK) {
                    set_err(err, err_size, "array rank exceeds the engine's maximum of %d",
                            EI_MAX_RANK);
                    return -1;
                }
                if (parse_dim(&c, &dims[rank], err, err_size) != 0) return -1;
                rank++;
                if (!accept(&c, ',')) {
                    if (accept(&c, ')')) break;
                    set_err(err, err_size, "header: expected ',' or ')' in shape");
                    return -1;
                }
            }
            have_shape = true;
        } else {
            set_err(err, err_size, "header: unexpected or repeated key '%s'", key);
            return -1;
        }
        if (!accept(&c, ',')) {
            if (accept(&c, '}')) break;
            set_err(err, err_size, "header: expected ',' or '}'");
            return -1;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) {
        set_err(err, err_size, "header: unexpected text after the dict");
        return -1;
    }
    if (!have_descr || !have_fortran || !have_shape) {
        set_err(err, err_size, "header: missing key '%s'",
                !have_descr     ? "descr"
                : !have_fortran ? "fortran_order"
                                : "shape");
        return -1;
    }
    if (fortran) {
        set_err(err, err_size,
                "Fortran-order arrays are not supported: save np.ascontiguousarray(a)");
        return -1;
    }
    ei_dtype dtype;
    int item;
    if (parse_descr(descr, &dtype, &item, err, err_size) != 0) return -1;

    size_t nbytes = (size_t)item;
    for (int i = 0; i < rank; i++) {
        if ((uint64_t)dims[i] > SIZE_MAX ||
            __builtin_mul_overflow(nbytes, (size_t)dims[i], &nbytes)) {
            set_err(err, err_size, "array too large");
            return -1;
        }
    }
    size_t present = size - preamble - header_len;
    if (present != nbytes) {
        set_err(err, err_size, "%s data: %zu bytes present, %zu expected from the header",
                present < nbytes ? "truncated" : "unexpected trailing", present, nbytes);
        return -1;
    }
    void *data = malloc(nbytes ? nbytes : 1);
    if (!data) {
        set_err(err, err_size, "out of memory (%zu bytes)", nbytes);
        return -1;
    }
    if (nbytes) memcpy(data, b + preamble + header_len, nbytes);
    if (host_is_big_endian()) swap_bytes(data, nbytes, item);
    if (dtype == EI_DTYPE_BOOL) {
        /* The engine expects 0/1; a crafted file may hold other bytes. */
        unsigned char *p = data;
        for (size_t i = 0; i < nbytes; i++)
            p[i] = p[i] != 0;
    }
    out->dtype = dtype;
    out->rank = rank;
    memcpy(out->dims, dims, sizeof dims);
    out->data = data;
    out->nbytes = nbytes;
    return 0;
}

/* Reads a whole file (regular file or pipe). */
static int read_all(const char *path, unsigned char **out, size_t *size, char *err,
                    size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    int rc = -1;
    if (!buf) {
        set_err(err, err_size, "%s: out of memory", path);
        goto cleanup;
    }
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) {
                set_err(err, err_size, "%s: file too large", path);
                goto cleanup;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                set_err(err, err_size, "%s: out of memory", path);
                goto cleanup;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                set_err(err, err_size, "%s: read error: %s", path, strerror(errno));
                goto cleanup;
            }
            break;
        }
    }
    *out = buf;
    *size = n;
    buf = NULL;
    rc = 0;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

int ei_npy_load(const char *path, ei_npy *out, char *err, size_t err_size) {
    unsigned char *buf = NULL;
    size_t size = 0;
    if (out) memset(out, 0, sizeof *out);
    if (read_all(path, &buf, &size, err, err_size) != 0) return -1;
    char msg[512];
    int rc = ei_npy_parse(buf, size, out, msg, sizeof msg);
    if (rc != 0) set_err(err, err_size, "%s: %s", path, msg);
    free(buf);
    return rc;
}

int ei_npy_save(const char *path, ei_dtype dtype, int rank, const int64_t *dims, const void *data,
                size_t nbytes, char *err, size_t err_size) {
    const npy_type *t = type_of_dtype(dtype);
    const char *descr = ei_npy_descr(dtype);
    if (!t || !descr) {
        set_err(err, err_size, "%s: dtype %s has no .npy equivalent", path, ei_dtype_name(dtype));
        return -1;
    }
    if (rank < 0 || rank > EI_MAX_RANK || (rank > 0 && !dims)) {
        set_err(err, err_size, "%s: invalid rank %d", path, rank);
        return -1;
    }
    size_t expect = (size_t)t->size;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (uint64_t)dims[i] > SIZE_MAX ||
            __builtin_mul_overflow(expect, (size_t)dims[i], &expect)) {
            set_err(err, err_size, "%s: invalid shape", path);
            return -1;
        }
    }
    if (expect != nbytes || (nbytes && !data)) {
        set_err(err, err_size, "%s: %zu bytes given for a shape that holds %zu", path, nbytes,
                expect);
        return -1;
    }

    /* Header: the dict, padded with spaces and a final newline so that the data starts
     * at a multiple of 64 bytes, as NumPy writes it. */
    char header[512];
    int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                       descr);
    for (int i = 0; i < rank; i++)
        len += snprintf(header + len, sizeof header - (size_t)len, "%lld%s", (long long)dims[i],
                        (rank == 1 || i + 1 < rank) ? ", " : "");
    len += snprintf(header + len, sizeof header - (size_t)len, "), }");
    if (len < 0 || (size_t)len + 80 > sizeof header) {
        set_err(err, err_size, "%s: header too long", path);
        return -1;
    }
    /* "(1, )" reads better as "(1,)": drop the space NumPy would not write. */
    if (rank == 1) {
        char *sp = strstr(header, ", ), }");
        if (sp) {
            memmove(sp + 1, sp + 2, strlen(sp + 2) + 1);
            len--;
        }
    }
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    memset(header + len, ' ', pad);
    header[(size_t)len + pad] = '\n';
    size_t hlen = (size_t)len + pad + 1;

    unsigned char pre[10];
    memcpy(pre, NPY_MAGIC, NPY_MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    FILE *f = fopen(path, "wb");
    if (!f) {
        set_err(err, err_size, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    bool ok = fwrite(pre, 1, sizeof pre, f) == sizeof pre && fwrite(header, 1, hlen, f) == hlen;
    if (ok && nbytes) {
        if (host_is_big_endian() && t->size > 1) {
            unsigned char *tmp = malloc(nbytes);
            if (!tmp) {
                ok = false;
            } else {
                memcpy(tmp, data, nbytes);
                swap_bytes(tmp, nbytes, t->size);
                ok = fwrite(tmp, 1, nbytes, f) == nbytes;
                free(tmp);
            }
        } else {
            ok = fwrite(data, 1, nbytes, f) == nbytes;
        }
    }
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        set_err(err, err_size, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
