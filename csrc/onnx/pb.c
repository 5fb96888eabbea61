/*
 * pb.c - the protobuf wire reader: varints, fixed32/64, length-delimited fields and
 * packed/unpacked repeated scalars, every read checked against the end of its message.
 * Schema knowledge (which field is what) lives in onnx.c and onnx_fields.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/pb.h"

static const char *ei_pb_wire_name(unsigned wire) {
    switch (wire) {
    case EI_PB_WIRE_VARINT: return "varint";
    case EI_PB_WIRE_I64: return "fixed64";
    case EI_PB_WIRE_LEN: return "length-delimited";
    case EI_PB_WIRE_SGROUP: return "start-group";
    case EI_PB_WIRE_EGROUP: return "end-group";
    case EI_PB_WIRE_I32: return "fixed32";
    }
    return "invalid";
}

void ei_pb_init(ei_pb *r, const void *data, size_t size, const ei_pb_msg *msg) {
    r->base = (const uint8_t *)data;
    r->pos = r->base;
    r->end = r->base ? r->base + size : r->base;
    r->msg = msg;
    r->depth = 0;
}

const char *ei_pb_field_name(const ei_pb *r, uint32_t number) {
    if (r->msg && number < r->msg->n_field_names && r->msg->field_names[number])
        return r->msg->field_names[number];
    return "?";
}

static ei_status ei_pb_verror(const ei_pb *r, uint32_t number, size_t offset, ei_status code,
                              const char *fmt, va_list ap) {
    char detail[512];
    vsnprintf(detail, sizeof detail, fmt, ap);
    return ei_error(code, "%s field %u (%s) at byte %zu: %s", r->msg ? r->msg->name : "message",
                    (unsigned)number, ei_pb_field_name(r, number), offset, detail);
}

ei_status ei_pb_error(const ei_pb *r, const ei_pb_field *f, ei_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ei_status st = ei_pb_verror(r, f->number, f->offset, code, fmt, ap);
    va_end(ap);
    return st;
}

/* Error about the message itself, before a field number is known. */
static ei_status ei_pb_msg_error(const ei_pb *r, size_t offset, const char *fmt, ...)
    EI_PRINTF(3, 4);
static ei_status ei_pb_msg_error(const ei_pb *r, size_t offset, const char *fmt, ...) {
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return ei_error(EI_STATUS_INVALID_MODEL, "%s at byte %zu: %s",
                    r->msg ? r->msg->name : "message", offset, detail);
}

/* Decodes a varint in [*p, end). 0: ok, 1: truncated, 2: longer than 10 bytes or
 * overflowing 64 bits. */
static int ei_pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    const uint8_t *q = *p;
    for (int i = 0; i < 10; i++) {
        if (q >= end) return 1;
        uint8_t b = *q++;
        if (i == 9 && b > 1) return 2; /* only one bit left in a uint64 */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return 2;
}

static uint64_t ei_pb_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

ei_status ei_pb_next(ei_pb *r, ei_pb_field *f, bool *more) {
    *more = false;
    if (r->pos >= r->end) return EI_STATUS_OK;
    size_t off = (size_t)(r->pos - r->base);
    const uint8_t *p = r->pos;
    uint64_t tag;
    int vr = ei_pb_varint(&p, r->end, &tag);
    if (vr == 1) return ei_pb_msg_error(r, off, "field tag truncated at the end of the message");
    if (vr == 2) return ei_pb_msg_error(r, off, "field tag is an overlong or overflowing varint");
    uint64_t number = tag >> 3;
    unsigned wire = (unsigned)(tag & 7);
    if (number == 0 || number > 0x1fffffff)
        return ei_pb_msg_error(r, off, "invalid field number %llu", (unsigned long long)number);
    memset(f, 0, sizeof *f);
    f->number = (uint32_t)number;
    f->wire = (ei_pb_wire)wire;
    f->offset = off;
    size_t left;
    switch (wire) {
    case EI_PB_WIRE_VARINT:
        vr = ei_pb_varint(&p, r->end, &f->u);
        if (vr == 1)
            return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                               "varint truncated at the end of the message");
        if (vr == 2)
            return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                               "varint is longer than 10 bytes or overflows 64 bits");
        break;
    case EI_PB_WIRE_I64:
    case EI_PB_WIRE_I32: {
        int n = wire == EI_PB_WIRE_I64 ? 8 : 4;
        left = (size_t)(r->end - p);
        if (left < (size_t)n)
            return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                               "%d-byte value runs past the end of the message (%zu bytes left)", n,
                               left);
        f->u = ei_pb_le(p, n);
        p += n;
        break;
    }
    case EI_PB_WIRE_LEN: {
        uint64_t len;
        vr = ei_pb_varint(&p, r->end, &len);
        if (vr != 0)
            return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "%s length varint",
                               vr == 1 ? "truncated" : "overlong or overflowing");
        left = (size_t)(r->end - p);
        if (len > left)
            return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                               "length %llu runs past the end of the buffer (%zu bytes left)",
                               (unsigned long long)len, left);
        f->data = p;
        f->len = (size_t)len;
        p += (size_t)len;
        break;
    }
    case EI_PB_WIRE_SGROUP:
    case EI_PB_WIRE_EGROUP:
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "groups (wire type %u) are not supported",
                           wire);
    default: return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "invalid wire type %u", wire);
    }
    r->pos = p;
    *more = true;
    return EI_STATUS_OK;
}

static ei_status ei_pb_want(const ei_pb *r, const ei_pb_field *f, ei_pb_wire wire) {
    if (f->wire == wire) return EI_STATUS_OK;
    return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "wire type %u (%s), expected %u (%s)",
                       (unsigned)f->wire, ei_pb_wire_name(f->wire), (unsigned)wire,
                       ei_pb_wire_name(wire));
}

ei_status ei_pb_enter(const ei_pb *r, const ei_pb_field *f, const ei_pb_msg *msg, ei_pb *sub) {
    EI_CHECK(ei_pb_want(r, f, EI_PB_WIRE_LEN));
    if (r->depth + 1 > EI_PB_MAX_DEPTH)
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "messages nested deeper than %d levels",
                           EI_PB_MAX_DEPTH);
    sub->base = r->base;
    sub->pos = f->data;
    sub->end = f->data + f->len;
    sub->msg = msg;
    sub->depth = r->depth + 1;
    return EI_STATUS_OK;
}

ei_status ei_pb_get_int64(const ei_pb *r, const ei_pb_field *f, int64_t *out) {
    EI_CHECK(ei_pb_want(r, f, EI_PB_WIRE_VARINT));
    *out = ei_pb_u64_to_i64(f->u);
    return EI_STATUS_OK;
}

ei_status ei_pb_get_int32(const ei_pb *r, const ei_pb_field *f, int32_t *out) {
    int64_t v;
    EI_CHECK(ei_pb_get_int64(r, f, &v));
    if (v < INT32_MIN || v > INT32_MAX)
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "value %lld is out of int32 range",
                           (long long)v);
    *out = (int32_t)v;
    return EI_STATUS_OK;
}

ei_status ei_pb_get_float(const ei_pb *r, const ei_pb_field *f, float *out) {
    EI_CHECK(ei_pb_want(r, f, EI_PB_WIRE_I32));
    uint32_t bits = (uint32_t)f->u;
    memcpy(out, &bits, sizeof *out);
    return EI_STATUS_OK;
}

ei_status ei_pb_get_bytes(const ei_pb *r, const ei_pb_field *f, const uint8_t **data, size_t *len) {
    EI_CHECK(ei_pb_want(r, f, EI_PB_WIRE_LEN));
    *data = f->data;
    *len = f->len;
    return EI_STATUS_OK;
}

ei_status ei_pb_get_string(const ei_pb *r, const ei_pb_field *f, char **out) {
    EI_CHECK(ei_pb_want(r, f, EI_PB_WIRE_LEN));
    if (f->len > 0 && memchr(f->data, '\0', f->len))
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "string contains a NUL byte");
    if (f->len == SIZE_MAX) return ei_error(EI_STATUS_OUT_OF_MEMORY, "string too long");
    char *s = malloc(f->len + 1);
    if (!s)
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory reading a %zu-byte string", f->len);
    if (f->len) memcpy(s, f->data, f->len);
    s[f->len] = '\0';
    free(*out);
    *out = s;
    return EI_STATUS_OK;
}

static ei_status ei_pb_vec_reserve(ei_pb_vec *v, size_t extra) {
    size_t need;
    if (!ei_size_add(v->n, extra, &need))
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "repeated field too long");
    if (need <= v->cap) return EI_STATUS_OK;
    /* Double for one-at-a-time (unpacked) growth; exact for a large packed run. */
    size_t cap;
    if (!ei_size_mul(v->cap ? v->cap : 4, 2, &cap) || cap < need) cap = need;
    size_t bytes;
    if (!ei_size_mul(cap, sizeof(uint64_t), &bytes))
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "repeated field too long");
    uint64_t *d = realloc(v->data, bytes);
    if (!d) return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory reading a repeated field");
    v->data = d;
    v->cap = cap;
    return EI_STATUS_OK;
}

ei_status ei_pb_append(const ei_pb *r, const ei_pb_field *f, ei_pb_elem kind, ei_pb_vec *v) {
    ei_pb_wire scalar = kind == EI_PB_ELEM_VARINT ? EI_PB_WIRE_VARINT
                        : kind == EI_PB_ELEM_I32  ? EI_PB_WIRE_I32
                                                  : EI_PB_WIRE_I64;
    if (f->wire == scalar) {
        EI_CHECK(ei_pb_vec_reserve(v, 1));
        v->data[v->n++] = f->u;
        return EI_STATUS_OK;
    }
    if (f->wire != EI_PB_WIRE_LEN)
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                           "wire type %u (%s), expected %u (%s) or 2 (packed)", (unsigned)f->wire,
                           ei_pb_wire_name(f->wire), (unsigned)scalar, ei_pb_wire_name(scalar));
    const uint8_t *p = f->data, *end = f->data + f->len;
    if (kind == EI_PB_ELEM_VARINT) {
        size_t count = 0;
        for (const uint8_t *q = p; q < end; q++)
            count += !(*q & 0x80);
        EI_CHECK(ei_pb_vec_reserve(v, count));
        while (p < end) {
            uint64_t x;
            int vr = ei_pb_varint(&p, end, &x);
            if (vr != 0)
                return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "packed varint at byte %zu is %s",
                                   (size_t)(p - r->base),
                                   vr == 1 ? "truncated" : "overlong or overflowing");
            v->data[v->n++] = x;
        }
        return EI_STATUS_OK;
    }
    int w = kind == EI_PB_ELEM_I32 ? 4 : 8;
    if (f->len % (size_t)w != 0)
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                           "packed length %zu is not a multiple of %d", f->len, w);
    size_t count = f->len / (size_t)w;
    EI_CHECK(ei_pb_vec_reserve(v, count));
    for (size_t i = 0; i < count; i++)
        v->data[v->n++] = ei_pb_le(p + i * (size_t)w, w);
    return EI_STATUS_OK;
}
