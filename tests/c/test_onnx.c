/*
 * test_onnx.c - tests of the protobuf wire reader (onnx/pb.c), the ONNX -> IR reader
 * (onnx/onnx.c) and graph construction (core/graph.c): hand-made wire bytes, small real
 * models from data/onnx_fixtures.h, invalid models, external data, and robustness
 * (every truncation and thousands of random byte flips must fail cleanly, never crash).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/core.h"
#include "data/onnx_fixtures.h"
#include "onnx/onnx.h"
#include "onnx/pb.h"
#include "test_util.h"

/* ------------------------------------------------------------ wire helpers */

typedef struct buf {
    uint8_t d[4096];
    size_t n;
} buf;

static void put_varint(buf *b, uint64_t v) {
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        if (v) byte |= 0x80;
        b->d[b->n++] = byte;
    } while (v);
}
static void put_tag(buf *b, uint32_t field, int wire) {
    put_varint(b, ((uint64_t)field << 3) | (unsigned)wire);
}
static void put_bytes(buf *b, const void *p, size_t n) {
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put_len(buf *b, uint32_t field, const void *p, size_t n) {
    put_tag(b, field, 2);
    put_varint(b, n);
    put_bytes(b, p, n);
}

static const char *const test_names[] = {[1] = "one", [9] = "raw_data"};
static const ei_pb_msg test_msg = {"TestProto", test_names, 10};

/* Reads all fields of b; returns the status of the first failure. */
static ei_status read_all(const buf *b, int *count) {
    ei_pb r;
    ei_pb_field f;
    bool more;
    *count = 0;
    ei_pb_init(&r, b->d, b->n, &test_msg);
    while (1) {
        ei_status st = ei_pb_next(&r, &f, &more);
        if (st != EI_STATUS_OK) return st;
        if (!more) return EI_STATUS_OK;
        (*count)++;
    }
}

static void test_pb_varint(void) {
    buf b = {.n = 0};
    ei_pb r;
    ei_pb_field f;
    bool more;
    int count;
    int64_t v;
    /* Largest varint: 10 bytes, last one 0x01. */
    put_tag(&b, 1, 0);
    put_varint(&b, UINT64_MAX);
    CHECK_EQ_INT(b.n, 11);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK(more);
    CHECK(f.u == UINT64_MAX);
    CHECK_OK(ei_pb_get_int64(&r, &f, &v));
    CHECK_EQ_INT(v, -1);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK(!more);

    /* 10th byte above 1 overflows 64 bits. */
    b.n = 0;
    put_tag(&b, 1, 0);
    for (int i = 0; i < 9; i++)
        b.d[b.n++] = 0xff;
    b.d[b.n++] = 0x02;
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "field 1 (one)");

    /* 11-byte (overlong) varint. */
    b.n = 0;
    put_tag(&b, 1, 0);
    for (int i = 0; i < 10; i++)
        b.d[b.n++] = 0x80;
    b.d[b.n++] = 0x00;
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);

    /* Overlong but valid 10-byte encoding of a small number is accepted (protobuf allows it). */
    b.n = 0;
    put_tag(&b, 1, 0);
    for (int i = 0; i < 9; i++)
        b.d[b.n++] = 0x81;
    b.d[b.n++] = 0x00;
    CHECK_OK(read_all(&b, &count));

    /* Truncated varint and truncated tag. */
    b.n = 0;
    put_tag(&b, 1, 0);
    b.d[b.n++] = 0x80;
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "truncated");
    b.n = 0;
    b.d[b.n++] = 0x88;
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);

    /* Field number 0. */
    b.n = 0;
    put_tag(&b, 0, 0);
    put_varint(&b, 1);
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "field number 0");

    /* int32 range check. */
    b.n = 0;
    put_tag(&b, 1, 0);
    put_varint(&b, (uint64_t)1 << 40);
    int32_t i32;
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_STATUS(ei_pb_get_int32(&r, &f, &i32), EI_STATUS_INVALID_MODEL);
    b.n = 0;
    put_tag(&b, 1, 0);
    put_varint(&b, (uint64_t)(int64_t)-5); /* negative int32: 10-byte sign-extended */
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_OK(ei_pb_get_int32(&r, &f, &i32));
    CHECK_EQ_INT(i32, -5);
}

static void test_pb_length_and_wire(void) {
    buf b = {.n = 0};
    ei_pb r;
    ei_pb_field f;
    bool more;
    int count;
    /* Length past the end: message names field, name and offset. */
    put_tag(&b, 1, 0);
    put_varint(&b, 3);
    put_tag(&b, 9, 2);
    put_varint(&b, 5000);
    b.d[b.n++] = 'x';
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "TestProto field 9 (raw_data) at byte 2");
    CHECK_CONTAINS(ei_last_error(), "length 5000 runs past the end of the buffer (1 bytes left)");

    /* Groups and invalid wire types. */
    for (int wire = 3; wire <= 7; wire++) {
        if (wire == 5) continue;
        b.n = 0;
        put_tag(&b, 2, wire);
        put_varint(&b, 0);
        CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);
    }
    CHECK_CONTAINS(ei_last_error(), "wire type 7");

    /* Fixed fields truncated. */
    b.n = 0;
    put_tag(&b, 1, 1);
    put_bytes(&b, "1234567", 7);
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);
    b.n = 0;
    put_tag(&b, 1, 5);
    put_bytes(&b, "123", 3);
    CHECK_STATUS(read_all(&b, &count), EI_STATUS_INVALID_MODEL);

    /* Wrong wire type for a known field. */
    b.n = 0;
    put_len(&b, 1, "abc", 3);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    int64_t v;
    float fl;
    CHECK_STATUS(ei_pb_get_int64(&r, &f, &v), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "wire type 2 (length-delimited), expected 0 (varint)");
    CHECK_STATUS(ei_pb_get_float(&r, &f, &fl), EI_STATUS_INVALID_MODEL);
    char *s = NULL;
    CHECK_OK(ei_pb_get_string(&r, &f, &s));
    CHECK_STREQ(s, "abc");
    free(s);
    s = NULL;
    /* Embedded NUL in a string is rejected. */
    b.n = 0;
    put_len(&b, 1, "a\0b", 3);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_STATUS(ei_pb_get_string(&r, &f, &s), EI_STATUS_INVALID_MODEL);
    CHECK(s == NULL);

    /* Unknown fields of every wire type are skipped. */
    b.n = 0;
    put_tag(&b, 99, 0);
    put_varint(&b, 123456789);
    put_tag(&b, 98, 1);
    put_bytes(&b, "12345678", 8);
    put_tag(&b, 97, 5);
    put_bytes(&b, "1234", 4);
    put_len(&b, 96, "skip me", 7);
    put_tag(&b, 1, 0);
    put_varint(&b, 42);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    int seen = 0;
    int64_t val = 0;
    while (ei_pb_next(&r, &f, &more) == EI_STATUS_OK && more) {
        seen++;
        if (f.number == 1) CHECK_OK(ei_pb_get_int64(&r, &f, &val));
    }
    CHECK_EQ_INT(seen, 5);
    CHECK_EQ_INT(val, 42);
    CHECK(r.pos == r.end);

    /* Fixed-width values decode little-endian. */
    b.n = 0;
    put_tag(&b, 1, 5);
    float one = 1.0f;
    uint8_t le[4];
    uint32_t bits;
    memcpy(&bits, &one, 4);
    for (int i = 0; i < 4; i++)
        le[i] = (uint8_t)(bits >> (8 * i));
    put_bytes(&b, le, 4);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_OK(ei_pb_get_float(&r, &f, &fl));
    CHECK(fl == 1.0f);
}

static void test_pb_repeated(void) {
    buf b = {.n = 0};
    ei_pb r;
    ei_pb_field f;
    bool more;
    const int64_t vals[] = {1, -2, 300, INT64_MAX, INT64_MIN};
    /* Unpacked varints. */
    for (int i = 0; i < 5; i++) {
        put_tag(&b, 1, 0);
        put_varint(&b, (uint64_t)vals[i]);
    }
    /* Packed varints in a LEN field. */
    buf p = {.n = 0};
    for (int i = 0; i < 5; i++)
        put_varint(&p, (uint64_t)vals[i]);
    put_len(&b, 1, p.d, p.n);
    ei_pb_vec v = {0};
    ei_pb_init(&r, b.d, b.n, &test_msg);
    while (ei_pb_next(&r, &f, &more) == EI_STATUS_OK && more)
        CHECK_OK(ei_pb_append(&r, &f, EI_PB_ELEM_VARINT, &v));
    CHECK_EQ_INT(v.n, 10);
    for (size_t i = 0; i < v.n && i < 10; i++)
        CHECK_EQ_INT(ei_pb_u64_to_i64(v.data[i]), vals[i % 5]);
    free(v.data);

    /* Packed fixed32 with a length that is not a multiple of 4. */
    b.n = 0;
    put_len(&b, 1, "12345", 5);
    memset(&v, 0, sizeof v);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_STATUS(ei_pb_append(&r, &f, EI_PB_ELEM_I32, &v), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "not a multiple of 4");
    /* Packed fixed64 vs unpacked fixed64. */
    b.n = 0;
    put_len(&b, 1, "\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0", 16);
    put_tag(&b, 1, 1);
    put_bytes(&b, "\3\0\0\0\0\0\0\0", 8);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    while (ei_pb_next(&r, &f, &more) == EI_STATUS_OK && more)
        CHECK_OK(ei_pb_append(&r, &f, EI_PB_ELEM_I64, &v));
    CHECK_EQ_INT(v.n, 3);
    if (v.n == 3) CHECK(v.data[0] == 1 && v.data[1] == 2 && v.data[2] == 3);
    /* Wrong wire type for the element kind. */
    b.n = 0;
    put_tag(&b, 1, 5);
    put_bytes(&b, "1234", 4);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_STATUS(ei_pb_append(&r, &f, EI_PB_ELEM_VARINT, &v), EI_STATUS_INVALID_MODEL);
    /* Truncated varint inside a packed field. */
    b.n = 0;
    put_len(&b, 1, "\x01\x80", 2);
    ei_pb_init(&r, b.d, b.n, &test_msg);
    CHECK_OK(ei_pb_next(&r, &f, &more));
    CHECK_STATUS(ei_pb_append(&r, &f, EI_PB_ELEM_VARINT, &v), EI_STATUS_INVALID_MODEL);
    free(v.data);
}

static void test_pb_depth(void) {
    /* A chain of nested LEN fields deeper than the limit. */
    static uint8_t deep[4 * (EI_PB_MAX_DEPTH + 8)];
    size_t levels = EI_PB_MAX_DEPTH + 4, n = 0;
    for (size_t i = 0; i < levels; i++) {
        deep[n++] = (1 << 3) | 2;
        deep[n++] = (uint8_t)(2 * (levels - 1 - i)); /* each level holds the rest */
    }
    ei_pb r, sub;
    ei_pb_field f;
    bool more;
    ei_pb_init(&r, deep, n, &test_msg);
    ei_status st = EI_STATUS_OK;
    int depth = 0;
    while (st == EI_STATUS_OK) {
        st = ei_pb_next(&r, &f, &more);
        if (st != EI_STATUS_OK || !more) break;
        st = ei_pb_enter(&r, &f, &test_msg, &sub);
        if (st == EI_STATUS_OK) {
            r = sub;
            depth++;
        }
    }
    CHECK_STATUS(st, EI_STATUS_INVALID_MODEL);
    CHECK_EQ_INT(depth, EI_PB_MAX_DEPTH);
    CHECK_CONTAINS(ei_last_error(), "nested deeper");
}

/* ------------------------------------------------------------- real models */

static ei_value *val(const ei_graph *g, const char *name) {
    int i = ei_graph_find_value(g, name);
    return i >= 0 ? g->values[i] : NULL;
}

static const char *vname(const ei_graph *g, int idx) {
    return idx >= 0 ? g->values[idx]->name : "(none)";
}

static void test_model_mlp(void) {
    ei_model *m = NULL;
    if (!CHECK_OK(ei_onnx_parse(ei_fx_mlp, sizeof ei_fx_mlp, NULL, &m))) return;
    ei_graph *g = m->graph;
    CHECK_EQ_INT(m->ir_version, 8);
    CHECK_STREQ(m->producer_name, "edgeinfer-tests");
    CHECK_EQ_INT(ei_model_opset(m, ""), 17);
    CHECK_EQ_INT(ei_model_opset(m, "ai.onnx"), 17);
    CHECK_EQ_INT(ei_model_opset(m, "com.microsoft"), -1);
    CHECK_STREQ(g->name, "mlp");
    CHECK(g->parent == NULL);
    /* W is both input and initializer: a constant, not a graph input. */
    CHECK_EQ_INT(g->n_inputs, 1);
    ei_value *x = val(g, "X"), *w = val(g, "W"), *b = val(g, "B"), *y = val(g, "Y"),
             *h = val(g, "H");
    if (!CHECK(x && w && b && y && h)) goto done;
    CHECK_STREQ(vname(g, g->inputs[0]), "X");
    CHECK(x->flags & EI_VALUE_FLAG_INPUT);
    CHECK_EQ_INT(x->dtype, EI_DTYPE_F32);
    CHECK_EQ_INT(x->decl_dtype, EI_DTYPE_F32);
    CHECK_EQ_INT(x->rank, -1);
    CHECK_EQ_INT(x->decl_rank, 2);
    CHECK_EQ_INT(x->decl_dims[0], -1);
    CHECK_STREQ(x->decl_dim_names[0], "batch");
    CHECK_EQ_INT(x->decl_dims[1], 4);
    CHECK(x->decl_dim_names[1] == NULL);
    CHECK_EQ_INT(x->producer, -1);
    CHECK_EQ_INT(w->flags, EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_OWNS_DATA);
    CHECK_EQ_INT(w->dtype, EI_DTYPE_F32);
    CHECK_EQ_INT(w->rank, 2);
    CHECK_EQ_INT(w->dims[0], 4);
    CHECK_EQ_INT(w->dims[1], 3);
    CHECK_EQ_INT(w->nbytes, 48);
    CHECK(((uintptr_t)w->data % EI_ALIGNMENT) == 0);
    CHECK(ei_value_known(w));
    for (int i = 0; i < 12; i++)
        CHECK(((const float *)w->data)[i] == (float)i / 8);
    CHECK_EQ_INT(b->nbytes, 12);
    CHECK(((const float *)b->data)[0] == 0.5f && ((const float *)b->data)[1] == -1.0f &&
          ((const float *)b->data)[2] == 2.0f);
    CHECK_EQ_INT(g->n_outputs, 1);
    CHECK_STREQ(vname(g, g->outputs[0]), "Y");
    CHECK(y->flags & EI_VALUE_FLAG_OUTPUT);
    CHECK_EQ_INT(y->decl_rank, 2);
    CHECK_STREQ(y->decl_dim_names[0], "batch");
    CHECK_EQ_INT(y->decl_dims[1], 3);
    CHECK_EQ_INT(h->decl_rank, 2); /* from value_info */
    if (!CHECK_EQ_INT(g->n_nodes, 3)) goto done;
    CHECK_STREQ(g->nodes[0].name, "mm");
    CHECK_STREQ(g->nodes[1].name, "Add_1");
    CHECK_STREQ(g->nodes[2].name, "relu");
    CHECK_STREQ(g->nodes[1].op_type, "Add");
    CHECK_STREQ(g->nodes[0].domain, "");
    CHECK_EQ_INT(g->nodes[0].opset, 17);
    CHECK_EQ_INT(g->nodes[0].n_inputs, 2);
    CHECK_STREQ(vname(g, g->nodes[0].inputs[0]), "X");
    CHECK_STREQ(vname(g, g->nodes[0].inputs[1]), "W");
    CHECK_STREQ(vname(g, g->nodes[1].outputs[0]), "H2");
    CHECK_EQ_INT(h->producer, 0);
    CHECK_EQ_INT(y->producer, 2);
    CHECK_EQ_INT(val(g, "H2")->producer, 1);
done:
    ei_model_free(m);
}

static void test_model_unsorted(void) {
    ei_model *m = NULL;
    if (!CHECK_OK(ei_onnx_parse(ei_fx_mlp_unsorted, sizeof ei_fx_mlp_unsorted, NULL, &m))) return;
    ei_graph *g = m->graph;
    if (CHECK_EQ_INT(g->n_nodes, 3)) {
        CHECK_STREQ(g->nodes[0].op_type, "MatMul");
        CHECK_STREQ(g->nodes[1].op_type, "Add");
        CHECK_STREQ(g->nodes[2].op_type, "Relu");
        CHECK_EQ_INT(val(g, "Y")->producer, 2);
        CHECK_EQ_INT(val(g, "H")->producer, 0);
    }
    ei_model_free(m);
}

static void check_bytes(const ei_graph *g, const char *name, ei_dtype dt, int rank, size_t nbytes,
                        const void *expect) {
    const ei_value *v = val(g, name);
    if (!CHECK(v != NULL)) return;
    CHECK_EQ_INT(v->dtype, dt);
    CHECK_EQ_INT(v->rank, rank);
    CHECK_EQ_INT(v->nbytes, nbytes);
    if (v->nbytes == nbytes && nbytes) CHECK(memcmp(v->data, expect, nbytes) == 0);
    CHECK(v->data != NULL && ((uintptr_t)v->data % EI_ALIGNMENT) == 0);
    CHECK(v->flags & EI_VALUE_FLAG_CONST);
}

static void test_model_dtypes(void) {
    ei_model *m = NULL;
    if (!CHECK_OK(ei_onnx_parse(ei_fx_dtypes, sizeof ei_fx_dtypes, NULL, &m))) return;
    const ei_graph *g = m->graph;
    const int8_t i8[] = {-128, 0, 127};
    const uint8_t u8[] = {0, 1, 255};
    const int16_t i16[] = {-32768, 32767};
    const uint16_t u16[] = {0, 65535};
    const int32_t i32[] = {INT32_MIN, INT32_MAX};
    const int64_t i64[] = {INT64_MIN, INT64_MAX};
    const uint8_t bl[] = {1, 0, 1};
    const uint16_t f16[] = {0x3c00, 0xc000};
    const uint16_t bf16[] = {0x3f80};
    const double f64[] = {1.5, -0.25};
    const uint32_t u32[] = {0, UINT32_MAX};
    const uint64_t u64[] = {0, UINT64_MAX};
    const int64_t raw_i64[] = {1, -2, 3, -4};
    const float scalar = 7.0f;
    check_bytes(g, "i8", EI_DTYPE_I8, 1, 3, i8);
    check_bytes(g, "u8", EI_DTYPE_U8, 1, 3, u8);
    check_bytes(g, "i16", EI_DTYPE_I16, 1, 4, i16);
    check_bytes(g, "u16", EI_DTYPE_U16, 1, 4, u16);
    check_bytes(g, "i32", EI_DTYPE_I32, 1, 8, i32);
    check_bytes(g, "i64", EI_DTYPE_I64, 1, 16, i64);
    check_bytes(g, "bool", EI_DTYPE_BOOL, 1, 3, bl);
    check_bytes(g, "f16", EI_DTYPE_F16, 1, 4, f16);
    check_bytes(g, "bf16", EI_DTYPE_BF16, 1, 2, bf16);
    check_bytes(g, "f64", EI_DTYPE_F64, 1, 16, f64);
    check_bytes(g, "u32", EI_DTYPE_U32, 1, 8, u32);
    check_bytes(g, "u64", EI_DTYPE_U64, 1, 16, u64);
    check_bytes(g, "raw_i64", EI_DTYPE_I64, 2, 32, raw_i64);
    check_bytes(g, "scalar", EI_DTYPE_F32, 0, 4, &scalar);
    check_bytes(g, "empty", EI_DTYPE_F32, 2, 0, NULL);
    const ei_value *e = val(g, "empty");
    if (e) CHECK(ei_value_known(e)); /* empty constants still have a data pointer */
    CHECK_EQ_INT(g->n_inputs, 0);
    CHECK_EQ_INT(g->n_outputs, 2);
    const ei_value *u = val(g, "u64");
    if (u) CHECK(u->flags & EI_VALUE_FLAG_OUTPUT);
    ei_model_free(m);
}

static void test_model_attrs(void) {
    ei_model *m = NULL;
    if (!CHECK_OK(ei_onnx_parse(ei_fx_attrs, sizeof ei_fx_attrs, NULL, &m))) return;
    ei_graph *g = m->graph;
    if (!CHECK_EQ_INT(g->n_nodes, 1)) goto done;
    const ei_node *n = &g->nodes[0];
    CHECK_STREQ(n->domain, "com.example");
    CHECK_EQ_INT(n->opset, 3);
    CHECK_EQ_INT(n->n_attrs, 10);
    int64_t i;
    float f;
    const char *s;
    const int64_t *ints;
    const float *floats;
    size_t cnt;
    const ei_value *t;
    CHECK_OK(ei_node_attr_int(n, "i", 0, &i));
    CHECK_EQ_INT(i, -7);
    CHECK_OK(ei_node_attr_int(n, "absent", 11, &i));
    CHECK_EQ_INT(i, 11);
    CHECK_OK(ei_node_attr_float(n, "f", 0, &f));
    CHECK(f == 1.5f);
    CHECK_OK(ei_node_attr_string(n, "s", NULL, &s));
    CHECK_STREQ(s, "hello");
    CHECK_OK(ei_node_attr_string(n, "nope", "dflt", &s));
    CHECK_STREQ(s, "dflt");
    CHECK_OK(ei_node_attr_ints(n, "ints", &ints, &cnt));
    if (CHECK_EQ_INT(cnt, 3)) CHECK(ints[0] == 1 && ints[1] == -2 && ints[2] == 3);
    CHECK_OK(ei_node_attr_floats(n, "floats", &floats, &cnt));
    if (CHECK_EQ_INT(cnt, 2)) CHECK(floats[0] == 0.5f && floats[1] == 0.25f);
    CHECK_OK(ei_node_attr_ints(n, "nope", &ints, &cnt));
    CHECK(ints == NULL && cnt == 0);
    CHECK_OK(ei_node_attr_tensor(n, "t", &t));
    if (CHECK(t != NULL)) {
        CHECK_STREQ(t->name, "t"); /* anonymous tensor named after the attribute */
        CHECK_EQ_INT(t->nbytes, 8);
        CHECK(((const float *)t->data)[1] == 2.0f);
    }
    /* Type mismatch names node, op and attribute. */
    CHECK_STATUS(ei_node_attr_int(n, "f", 0, &i), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "node 'foo' (Foo): attribute 'f' has type FLOAT, expected INT");
    const ei_attr *a = ei_node_attr(n, "strings");
    if (CHECK(a && a->type == EI_ATTR_TYPE_STRINGS && a->n == 2)) {
        CHECK_STREQ(a->strings[0].data, "a");
        CHECK_EQ_INT(a->strings[1].len, 2);
    }
    a = ei_node_attr(n, "tensors");
    if (CHECK(a && a->type == EI_ATTR_TYPE_TENSORS && a->n == 1))
        CHECK(((const int64_t *)a->tensors[0]->data)[0] == 9);
    a = ei_node_attr(n, "g");
    if (CHECK(a && a->type == EI_ATTR_TYPE_GRAPH && a->g)) {
        const ei_graph *sub = a->g;
        CHECK(sub->parent == g);
        CHECK_STREQ(sub->name, "body");
        const ei_value *xo = val(sub, "X");
        if (CHECK(xo != NULL)) CHECK(xo->flags & EI_VALUE_FLAG_OUTER);
        CHECK_EQ_INT(sub->n_nodes, 1);
        CHECK_EQ_INT(sub->n_outputs, 1);
    }
    a = ei_node_attr(n, "graphs");
    if (CHECK(a && a->type == EI_ATTR_TYPE_GRAPHS && a->n == 2)) {
        CHECK_STREQ(a->graphs[1]->name, "g1");
        CHECK(a->graphs[1]->parent == g);
    }
done:
    ei_model_free(m);
}

static void test_model_if_outer(void) {
    ei_model *m = NULL;
    if (!CHECK_OK(ei_onnx_parse(ei_fx_if_outer, sizeof ei_fx_if_outer, NULL, &m))) return;
    ei_graph *g = m->graph;
    if (!CHECK_EQ_INT(g->n_nodes, 2)) goto done;
    /* The If reads C through its branches, so C's producer must come first. */
    CHECK_STREQ(g->nodes[0].name, "make_c");
    CHECK_STREQ(g->nodes[1].name, "if");
    const ei_attr *a = ei_node_attr(&g->nodes[1], "then_branch");
    if (!CHECK(a && a->g)) goto done;
    const ei_graph *then_g = a->g;
    /* The nested If's reads of X and C are lifted into the then-branch as OUTER values. */
    const ei_value *c = val(then_g, "C"), *x = val(then_g, "X");
    CHECK(c && (c->flags & EI_VALUE_FLAG_OUTER));
    CHECK(x && (x->flags & EI_VALUE_FLAG_OUTER));
    CHECK(val(then_g, "cond") && (val(then_g, "cond")->flags & EI_VALUE_FLAG_OUTER));
    if (CHECK_EQ_INT(then_g->n_nodes, 1)) {
        const ei_attr *inner = ei_node_attr(&then_g->nodes[0], "then_branch");
        if (CHECK(inner && inner->g)) CHECK(inner->g->parent == then_g);
    }
done:
    ei_model_free(m);
}

static void test_model_attr_notype(void) {
    ei_model *m = NULL;
    if (!CHECK_OK(ei_onnx_parse(ei_fx_attr_notype, sizeof ei_fx_attr_notype, NULL, &m))) return;
    const ei_node *n = &m->graph->nodes[0];
    float f = 0;
    const int64_t *ints = NULL;
    size_t cnt = 0;
    CHECK_OK(ei_node_attr_float(n, "alpha", 0.0f, &f));
    CHECK(f == 0.5f);
    CHECK_OK(ei_node_attr_ints(n, "ints", &ints, &cnt));
    if (CHECK_EQ_INT(cnt, 2)) CHECK(ints[0] == 4 && ints[1] == 5);
    CHECK_EQ_INT(m->ir_version, 3);
    ei_model_free(m);
}

/* ---------------------------------------------------------- invalid models */

static void test_invalid_models(void) {
    static const struct {
        const char *name;
        ei_status status;
        const char *fragment;
    } expect[] = {
        {"cycle", EI_STATUS_INVALID_MODEL, "cycle"},
        {"dup_producer", EI_STATUS_INVALID_MODEL, "also produced by node 'p1'"},
        {"unknown_input", EI_STATUS_INVALID_MODEL,
         "node 'adder' (Add): input 'Zzz' is not produced"},
        {"bad_output", EI_STATUS_INVALID_MODEL, "graph output 'Qqq' is not produced"},
        {"no_opset_domain", EI_STATUS_INVALID_MODEL,
         "node 'gelu' (Gelu): domain 'com.microsoft' has no opset_import"},
        {"sparse_init", EI_STATUS_UNSUPPORTED, "sparse_initializer"},
        {"string_tensor", EI_STATUS_UNSUPPORTED, "tensor 'strs' has data type STRING"},
        {"raw_size", EI_STATUS_INVALID_MODEL,
         "tensor 'short' has 10 bytes of raw_data, expected 12"},
        {"unknown_dtype", EI_STATUS_INVALID_MODEL, "tensor 'weird' has unknown data_type 99"},
        {"complex64", EI_STATUS_UNSUPPORTED, "tensor 'c64' has data type COMPLEX64"},
        {"seq_input", EI_STATUS_UNSUPPORTED,
         "graph input 'seq_in' has non-tensor type sequence_type"},
        {"typed_count", EI_STATUS_INVALID_MODEL,
         "tensor 'cnt' has 2 elements in float_data, expected 3"},
        {"dup_init", EI_STATUS_INVALID_MODEL, "duplicate initializer 'dup'"},
        {"ref_attr", EI_STATUS_UNSUPPORTED, "ref_attr_name"},
        {"typed_wrong_field", EI_STATUS_INVALID_MODEL, "cannot hold its data in float_data"},
        {"if_undefined_outer", EI_STATUS_INVALID_MODEL, "uses 'Nope', which is not defined"},
        {"dup_attr", EI_STATUS_INVALID_MODEL,
         "node 'dupattr' (LeakyRelu): attribute 'alpha' appears twice"},
        {"output_is_input", EI_STATUS_INVALID_MODEL,
         "node 'back' (Relu): output 'X' is also a graph input"},
        {"output_is_init", EI_STATUS_INVALID_MODEL,
         "node 'overwrite' (Relu): output 'K' has the name of an initializer"},
        {"opset_conflict", EI_STATUS_INVALID_MODEL,
         "domain '' is imported with both opset 17 and 18"},
        {"negative_dim", EI_STATUS_INVALID_MODEL, "tensor 'neg' has negative dimension -1"},
        {"huge_shape", EI_STATUS_INVALID_MODEL,
         "tensor 'huge' has a too large shape [2147483648,2147483648,2147483648]"},
        {"rank9", EI_STATUS_UNSUPPORTED, "tensor 'rank9' has rank 9"},
        {"no_data", EI_STATUS_INVALID_MODEL, "tensor 'nodata' (float32 [2]) has no data"},
    };
    size_t n = sizeof ei_fx_invalid / sizeof ei_fx_invalid[0];
    CHECK_EQ_INT(n, sizeof expect / sizeof expect[0]);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
            if (strcmp(expect[k].name, ei_fx_invalid[i].name) != 0) continue;
            ei_model *m = NULL;
            ei_status st = ei_onnx_parse(ei_fx_invalid[i].data, ei_fx_invalid[i].size, NULL, &m);
            if (!CHECK_STATUS(st, expect[k].status))
                fprintf(stderr, "  model %s\n", expect[k].name);
            if (!CHECK_CONTAINS(ei_last_error(), expect[k].fragment))
                fprintf(stderr, "  model %s\n", expect[k].name);
            CHECK(m == NULL);
            ei_model_free(m);
        }
    }
    /* Empty and garbage buffers. */
    ei_model *m = NULL;
    CHECK_STATUS(ei_onnx_parse("", 0, NULL, &m), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "invalid model: ModelProto has no graph");
    CHECK_STATUS(ei_onnx_parse(NULL, 5, NULL, &m), EI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ei_onnx_parse("\x3a\x05\x0a", 3, NULL, &m), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "ModelProto field 7 (graph) at byte 0");
}

/* Deeply nested subgraphs (Node -> Attribute -> Graph, repeated) must be refused, not
 * overflow the stack. */
/* Returns prefix + field(LEN, payload) in a new heap buffer; frees payload. */
static uint8_t *wrap(const void *prefix, size_t pn, uint32_t field, uint8_t *payload, size_t n,
                     size_t *out_n) {
    uint8_t *d = malloc(pn + n + 16);
    if (!d) {
        free(payload);
        return NULL;
    }
    size_t k = pn;
    memcpy(d, prefix, pn);
    uint64_t tag = ((uint64_t)field << 3) | 2, len = n;
    do {
        d[k++] = (uint8_t)((tag & 0x7f) | (tag > 0x7f ? 0x80 : 0));
        tag >>= 7;
    } while (tag);
    do {
        d[k++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
        len >>= 7;
    } while (len);
    if (n) memcpy(d + k, payload, n);
    free(payload);
    *out_n = k + n;
    return d;
}

static void test_deep_nesting(void) {
    /* graph { node { op_type "If" attribute { name "g" type GRAPH g { ... } } } } */
    static const uint8_t attr_head[] = {0x0a, 0x01, 'g', 0xa0, 0x01, 0x05};
    static const uint8_t node_head[] = {0x22, 0x02, 'I', 'f'};
    static const uint8_t model_head[] = {0x42, 0x02, 0x10, 17}; /* opset_import {version 17} */
    size_t n = 0;
    uint8_t *d = malloc(1);
    for (int i = 0; i < 200 && d; i++) {
        d = wrap(attr_head, sizeof attr_head, 6, d, n, &n);
        if (d) d = wrap(node_head, sizeof node_head, 5, d, n, &n);
        if (d) d = wrap("", 0, 1, d, n, &n);
    }
    if (d) d = wrap(model_head, sizeof model_head, 7, d, n, &n);
    if (!CHECK(d != NULL)) return;
    ei_model *m = NULL;
    CHECK_STATUS(ei_onnx_parse(d, n, NULL, &m), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "nested deeper");
    ei_model_free(m);
    free(d);
}

/* ------------------------------------------------------------ robustness */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Parses bytes; returns 1 if the result was OK, 0 on a clean failure, -1 on a failure
 * without a message or with an unexpected status. */
static int parse_outcome(const uint8_t *d, size_t n) {
    ei_model *m = NULL;
    ei_status st = ei_onnx_parse(d, n, NULL, &m);
    if (st == EI_STATUS_OK) {
        int ok = m != NULL;
        ei_model_free(m);
        return ok ? 1 : -1;
    }
    if (m != NULL) return -1;
    if (st != EI_STATUS_INVALID_MODEL && st != EI_STATUS_UNSUPPORTED &&
        st != EI_STATUS_OUT_OF_MEMORY)
        return -1;
    return ei_last_error()[0] ? 0 : -1;
}

static void test_truncations(void) {
    size_t nv = sizeof ei_fx_valid / sizeof ei_fx_valid[0];
    for (size_t i = 0; i < nv; i++) {
        int bad = 0, ok = 0;
        /* Exact-size heap copies, so ASan sees any read past the end. */
        for (size_t len = 0; len < ei_fx_valid[i].size; len++) {
            uint8_t *copy = malloc(len ? len : 1);
            if (!copy) continue;
            memcpy(copy, ei_fx_valid[i].data, len);
            int r = parse_outcome(copy, len);
            bad += r < 0;
            ok += r > 0;
            free(copy);
        }
        if (!CHECK_EQ_INT(bad, 0)) fprintf(stderr, "  fixture %s\n", ei_fx_valid[i].name);
        CHECK(ok < (int)ei_fx_valid[i].size); /* most prefixes must fail */
        CHECK_EQ_INT(parse_outcome(ei_fx_valid[i].data, ei_fx_valid[i].size), 1);
    }
}

static void test_random_flips(void) {
    size_t nv = sizeof ei_fx_valid / sizeof ei_fx_valid[0];
    int bad = 0, failures = 0, total = 0;
    /* EI_TEST_FLIPS=N runs a longer fuzz locally; CI keeps the default. */
    const char *env = getenv("EI_TEST_FLIPS");
    long iters = env ? strtol(env, NULL, 10) : 4000;
    if (env && getenv("EI_TEST_SEED"))
        rng_state = (uint64_t)strtoull(getenv("EI_TEST_SEED"), NULL, 10) | 1;
    for (long iter = 0; iter < iters; iter++) {
        const ei_fx *fx = &ei_fx_valid[(size_t)iter % nv];
        uint8_t *copy = malloc(fx->size);
        if (!copy) continue;
        memcpy(copy, fx->data, fx->size);
        int flips = 1 + (int)(rng() % 4);
        for (int k = 0; k < flips; k++) {
            size_t pos = rng() % fx->size;
            if (rng() & 1)
                copy[pos] ^= (uint8_t)(1u << (rng() % 8));
            else
                copy[pos] = (uint8_t)rng();
        }
        int r = parse_outcome(copy, fx->size);
        bad += r < 0;
        failures += r == 0;
        total++;
        free(copy);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(failures > total / 10); /* flips must usually be detected */
}

/* --------------------------------------------------------- external data */

static char tmp_root[256], tmp_outside[256];

static int write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(d, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static void test_external_data(void) {
    char path[600];
    snprintf(tmp_root, sizeof tmp_root, "/tmp/ei_test_onnx_XXXXXX");
    snprintf(tmp_outside, sizeof tmp_outside, "/tmp/ei_test_onnx_out_XXXXXX");
    if (!CHECK(mkdtemp(tmp_root) != NULL) || !CHECK(mkdtemp(tmp_outside) != NULL)) return;
    float w[10] = {0};
    const float vals[6] = {1, 2, 3, 4, 5, 6};
    memcpy(w + 4, vals, sizeof vals); /* offset 16, then 24 bytes; 40 bytes in all */
    snprintf(path, sizeof path, "%s/w.bin", tmp_root);
    CHECK(write_file(path, w, sizeof w) == 0);
    snprintf(path, sizeof path, "%s/sub", tmp_root);
    CHECK(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/sub/w0.bin", tmp_root);
    CHECK(write_file(path, vals, sizeof vals) == 0);
    snprintf(path, sizeof path, "%s/w.bin", tmp_outside);
    CHECK(write_file(path, w, sizeof w) == 0);
    char link[600];
    snprintf(link, sizeof link, "%s/link.bin", tmp_root);
    CHECK(symlink(path, link) == 0);

    ei_model *m = NULL;
    if (CHECK_OK(ei_onnx_parse(ei_fx_ext_ok, sizeof ei_fx_ext_ok, tmp_root, &m))) {
        const ei_value *v = val(m->graph, "W");
        if (CHECK(v && v->nbytes == 24)) CHECK(memcmp(v->data, vals, 24) == 0);
        ei_model_free(m);
        m = NULL;
    }
    if (CHECK_OK(ei_onnx_parse(ei_fx_ext_no_offset, sizeof ei_fx_ext_no_offset, tmp_root, &m))) {
        const ei_value *v = val(m->graph, "W");
        if (CHECK(v && v->nbytes == 24)) CHECK(memcmp(v->data, vals, 24) == 0);
        ei_model_free(m);
        m = NULL;
    }
    CHECK_STATUS(ei_onnx_parse(ei_fx_ext_ok, sizeof ei_fx_ext_ok, NULL, &m),
                 EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(),
                   "external data not allowed when loading from memory without a base directory");
    static const struct {
        const unsigned char *d;
        size_t n;
        ei_status st;
        const char *frag;
    } bad[] = {
        {ei_fx_ext_abs, sizeof ei_fx_ext_abs, EI_STATUS_INVALID_MODEL, "must be a relative path"},
        {ei_fx_ext_dotdot, sizeof ei_fx_ext_dotdot, EI_STATUS_INVALID_MODEL,
         "may not contain '..'"},
        {ei_fx_ext_dotdot_inner, sizeof ei_fx_ext_dotdot_inner, EI_STATUS_INVALID_MODEL, "'..'"},
        {ei_fx_ext_symlink, sizeof ei_fx_ext_symlink, EI_STATUS_INVALID_MODEL,
         "outside the model directory"},
        {ei_fx_ext_past_end, sizeof ei_fx_ext_past_end, EI_STATUS_INVALID_MODEL,
         "runs past the end"},
        {ei_fx_ext_bad_length, sizeof ei_fx_ext_bad_length, EI_STATUS_INVALID_MODEL,
         "external data length '20'"},
        {ei_fx_ext_missing_file, sizeof ei_fx_ext_missing_file, EI_STATUS_IO, "nothere.bin"},
        {ei_fx_ext_no_location, sizeof ei_fx_ext_no_location, EI_STATUS_INVALID_MODEL,
         "without a location"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = NULL;
        if (!CHECK_STATUS(ei_onnx_parse(bad[i].d, bad[i].n, tmp_root, &m), bad[i].st))
            fprintf(stderr, "  external case %zu\n", i);
        if (!CHECK_CONTAINS(ei_last_error(), bad[i].frag))
            fprintf(stderr, "  external case %zu\n", i);
        ei_model_free(m);
    }
    /* A base directory that does not exist. */
    snprintf(path, sizeof path, "%s/nodir", tmp_root);
    CHECK_STATUS(ei_onnx_parse(ei_fx_ext_ok, sizeof ei_fx_ext_ok, path, &m), EI_STATUS_IO);

    /* ei_read_file. */
    void *data = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/w.bin", tmp_root);
    if (CHECK_OK(ei_read_file(path, &data, &size))) {
        CHECK_EQ_INT(size, sizeof w);
        CHECK(memcmp(data, w, sizeof w) == 0);
        free(data);
    }
    snprintf(path, sizeof path, "%s/missing.onnx", tmp_root);
    CHECK_STATUS(ei_read_file(path, &data, &size), EI_STATUS_IO);
    CHECK_CONTAINS(ei_last_error(), "missing.onnx");
    CHECK_CONTAINS(ei_last_error(), strerror(ENOENT));
    CHECK_STATUS(ei_read_file(tmp_root, &data, &size), EI_STATUS_IO);

    /* Clean up. */
    unlink(link);
    snprintf(path, sizeof path, "%s/w.bin", tmp_root);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub/w0.bin", tmp_root);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub", tmp_root);
    rmdir(path);
    rmdir(tmp_root);
    snprintf(path, sizeof path, "%s/w.bin", tmp_outside);
    unlink(path);
    rmdir(tmp_outside);
}

/* ------------------------------------------------------------ graph API */

static void test_graph_api(void) {
    ei_graph *g = NULL;
    if (!CHECK_OK(ei_graph_create("g", &g))) return;
    int idx = -1, idx2 = -1;
    bool created = false;
    char name[32];
    int add_fail = 0;
    for (int i = 0; i < 2000; i++) { /* forces several rehashes */
        snprintf(name, sizeof name, "v%d", i);
        add_fail +=
            ei_graph_add_value(g, name, &idx, &created) != EI_STATUS_OK || idx != i || !created;
    }
    CHECK_EQ_INT(add_fail, 0);
    int misses = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "v%d", i);
        misses += ei_graph_find_value(g, name) != i;
    }
    CHECK_EQ_INT(misses, 0);
    CHECK_EQ_INT(ei_graph_find_value(g, "nope"), -1);
    CHECK_OK(ei_graph_add_value(g, "v7", &idx2, &created));
    CHECK_EQ_INT(idx2, 7);
    CHECK(!created);
    CHECK_EQ_INT(g->values[7]->rank, -1);
    CHECK_EQ_INT(g->values[7]->producer, -1);
    ei_graph_free(g);

    /* A chain added in reverse is sorted; a self-loop is a cycle. */
    g = NULL;
    if (!CHECK_OK(ei_graph_create("chain", &g))) return;
    int in = -1;
    CHECK_OK(ei_graph_add_value(g, "in", &in, NULL));
    g->values[in]->flags |= EI_VALUE_FLAG_INPUT;
    enum { N = 5000 };
    for (int i = N - 1; i >= 0; i--) {
        int ni, a, b;
        char an[32], bn[32];
        snprintf(an, sizeof an, i == 0 ? "in" : "c%d", i - 1);
        snprintf(bn, sizeof bn, "c%d", i);
        if (ei_graph_add_value(g, an, &a, NULL) != EI_STATUS_OK ||
            ei_graph_add_value(g, bn, &b, NULL) != EI_STATUS_OK ||
            ei_graph_add_node(g, NULL, "Relu", "ai.onnx", 1, 1, 0, &ni) != EI_STATUS_OK)
            break;
        g->nodes[ni].inputs[0] = a;
        g->nodes[ni].outputs[0] = b;
    }
    CHECK_EQ_INT(g->n_nodes, N);
    CHECK_STREQ(g->nodes[0].name, "Relu_0");
    CHECK_STREQ(g->nodes[0].domain, "");
    if (CHECK_OK(ei_graph_toposort(g))) {
        int sorted = 1;
        for (int i = 0; i < g->n_nodes; i++) {
            snprintf(name, sizeof name, "c%d", i);
            sorted &= g->nodes[i].outputs[0] == ei_graph_find_value(g, name);
            sorted &= g->values[g->nodes[i].outputs[0]]->producer == i;
        }
        CHECK(sorted);
    }
    int ni, loop;
    CHECK_OK(ei_graph_add_value(g, "loop", &loop, NULL));
    CHECK_OK(ei_graph_add_node(g, "selfloop", "Add", "", 2, 1, 0, &ni));
    g->nodes[ni].inputs[0] = in;
    g->nodes[ni].inputs[1] = loop;
    g->nodes[ni].outputs[0] = loop;
    CHECK_STATUS(ei_graph_toposort(g), EI_STATUS_INVALID_MODEL);
    CHECK_CONTAINS(ei_last_error(), "cycle");
    ei_graph_free(g);
    ei_graph_free(NULL);
    ei_model_free(NULL);
    ei_value_free(NULL);
    ei_attr_clear(NULL);
}

int main(void) {
    RUN_TEST(test_pb_varint);
    RUN_TEST(test_pb_length_and_wire);
    RUN_TEST(test_pb_repeated);
    RUN_TEST(test_pb_depth);
    RUN_TEST(test_model_mlp);
    RUN_TEST(test_model_unsorted);
    RUN_TEST(test_model_dtypes);
    RUN_TEST(test_model_attrs);
    RUN_TEST(test_model_if_outer);
    RUN_TEST(test_model_attr_notype);
    RUN_TEST(test_invalid_models);
    RUN_TEST(test_deep_nesting);
    RUN_TEST(test_truncations);
    RUN_TEST(test_random_flips);
    RUN_TEST(test_external_data);
    RUN_TEST(test_graph_api);
    return TEST_REPORT("test_onnx");
}
