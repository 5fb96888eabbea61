/*
 * pb.h - a bounds-checked protobuf wire-format reader over (pointer, length).
 * It knows wire types, not schemas: onnx.c walks fields with ei_pb_next and reads
 * them with the typed getters, which check the wire type and report errors naming
 * the message, the field number and name, and the byte offset in the whole buffer.
 */
#ifndef EI_PB_H
#define EI_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Deepest nesting of length-delimited messages (nested graphs recurse through
 * Graph -> Node -> Attribute -> Graph); a hostile file cannot go deeper. */
#define EI_PB_MAX_DEPTH 48

/* Describes a message type for error messages. field_names is indexed by field
 * number (entries may be NULL), n_field_names is its length. */
typedef struct ei_pb_msg {
    const char *name;
    const char *const *field_names;
    uint32_t n_field_names;
} ei_pb_msg;

typedef enum ei_pb_wire {
    EI_PB_WIRE_VARINT = 0,
    EI_PB_WIRE_I64 = 1,
    EI_PB_WIRE_LEN = 2,
    EI_PB_WIRE_SGROUP = 3,
    EI_PB_WIRE_EGROUP = 4,
    EI_PB_WIRE_I32 = 5
} ei_pb_wire;

/* A reader positioned inside one message. */
typedef struct ei_pb {
    const uint8_t *base; /* start of the whole buffer: error offsets count from here */
    const uint8_t *pos;
    const uint8_t *end;
    const ei_pb_msg *msg;
    int depth;
} ei_pb;

/* One field as read by ei_pb_next. */
typedef struct ei_pb_field {
    uint32_t number;
    ei_pb_wire wire;
    uint64_t u;          /* VARINT value, or I32/I64 bits (little-endian decoded) */
    const uint8_t *data; /* LEN payload (inside the buffer) */
    size_t len;
    size_t offset; /* offset of the field's tag from base */
} ei_pb_field;

/* Scalar element kinds of repeated fields (packed or not). */
typedef enum ei_pb_elem {
    EI_PB_ELEM_VARINT, /* int32/int64/uint64/bool/enum: stored as the raw uint64 */
    EI_PB_ELEM_I32,    /* float/fixed32: stored as the 32 bits, zero-extended */
    EI_PB_ELEM_I64     /* double/fixed64: stored as the 64 bits */
} ei_pb_elem;

/* A growing array of repeated scalars; free data with free(). */
typedef struct ei_pb_vec {
    uint64_t *data;
    size_t n, cap;
} ei_pb_vec;

/* A reader over a whole top-level message. */
void ei_pb_init(ei_pb *r, const void *data, size_t size, const ei_pb_msg *msg);

/* Reads the next field. *more = false (and OK) at the end of the message. Rejects
 * overlong/overflowing varints, field number 0, groups, invalid wire types and
 * lengths running past the end of the message. Unknown fields need no special
 * handling: their value has been consumed, so the caller simply ignores them. */
ei_status ei_pb_next(ei_pb *r, ei_pb_field *f, bool *more);

/* Formats "<Msg> field N (name) at byte X: <fmt>" as the error and returns code. */
ei_status ei_pb_error(const ei_pb *r, const ei_pb_field *f, ei_status code, const char *fmt, ...)
    EI_PRINTF(4, 5);

/* Field name from the message table, or "?". */
const char *ei_pb_field_name(const ei_pb *r, uint32_t number);

/* Opens the LEN field f as an embedded message msg (depth-limited). */
ei_status ei_pb_enter(const ei_pb *r, const ei_pb_field *f, const ei_pb_msg *msg, ei_pb *sub);

/* Typed getters: INVALID_MODEL if f has the wrong wire type or the value is out of range. */
ei_status ei_pb_get_int64(const ei_pb *r, const ei_pb_field *f, int64_t *out);
ei_status ei_pb_get_int32(const ei_pb *r, const ei_pb_field *f, int32_t *out);
ei_status ei_pb_get_float(const ei_pb *r, const ei_pb_field *f, float *out);
ei_status ei_pb_get_bytes(const ei_pb *r, const ei_pb_field *f, const uint8_t **data, size_t *len);
/* Copies a string field into a malloc'd NUL-terminated string, freeing *out first.
 * Strings with embedded NUL bytes are rejected. */
ei_status ei_pb_get_string(const ei_pb *r, const ei_pb_field *f, char **out);

/* Appends the value(s) of a repeated scalar field: one element for the unpacked
 * encoding, all of them for the packed one (a LEN payload of elements). */
ei_status ei_pb_append(const ei_pb *r, const ei_pb_field *f, ei_pb_elem kind, ei_pb_vec *v);

/* uint64 bits -> int64 without implementation-defined conversion. */
static inline int64_t ei_pb_u64_to_i64(uint64_t u) {
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

#endif /* EI_PB_H */
