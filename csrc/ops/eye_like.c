/*
 * eye_like.c - EyeLike (opsets 9, 22): a 2-D tensor shaped like the input with ones on the
 * k-th diagonal and zeros elsewhere, in the 'dtype' attribute's type (the input's when
 * absent). Any numeric dtype or bool the engine holds, float16/bfloat16 included.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct eye_like_state {
    int64_t dtype; /* 0: the input's */
    int64_t k;
} eye_like_state;

/* The bytes of 1 in dtype t into out (at most 8); false for types without a one. */
static bool eye_like_one(ei_dtype t, unsigned char out[8]) {
    memset(out, 0, 8);
    switch (t) {
    case EI_DTYPE_F32: {
        float v = 1.0f;
        memcpy(out, &v, 4);
        return true;
    }
    case EI_DTYPE_F64: {
        double v = 1.0;
        memcpy(out, &v, 8);
        return true;
    }
    case EI_DTYPE_F16: {
        uint16_t v = 0x3c00u;
        memcpy(out, &v, 2);
        return true;
    }
    case EI_DTYPE_BF16: {
        uint16_t v = 0x3f80u;
        memcpy(out, &v, 2);
        return true;
    }
    case EI_DTYPE_BOOL:
    case EI_DTYPE_I8:
    case EI_DTYPE_U8: out[0] = 1; return true;
    case EI_DTYPE_I16:
    case EI_DTYPE_U16: {
        uint16_t v = 1;
        memcpy(out, &v, 2);
        return true;
    }
    case EI_DTYPE_I32:
    case EI_DTYPE_U32: {
        uint32_t v = 1;
        memcpy(out, &v, 4);
        return true;
    }
    case EI_DTYPE_I64:
    case EI_DTYPE_U64: {
        uint64_t v = 1;
        memcpy(out, &v, 8);
        return true;
    }
    default: return false;
    }
}

static ei_status eye_like_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    eye_like_state *s = NULL;
    unsigned char one[8];
    EI_TRY(ei_elem_check_io(node, 1, 1, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_int(node, "dtype", 0, &s->dtype));
    EI_TRY(ei_node_attr_int(node, "k", 0, &s->k));
    if (s->dtype != 0 &&
        (s->dtype < 0 || s->dtype > 64 || !eye_like_one((ei_dtype)s->dtype, one))) {
        st = ei_node_error(node, EI_STATUS_UNSUPPORTED,
                           "attribute 'dtype' = %lld is not a numeric or bool dtype this engine "
                           "supports",
                           (long long)s->dtype);
        goto cleanup;
    }
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status eye_like_infer(ei_exec *ex, ei_node *node) {
    const eye_like_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    unsigned char one[8];
    char b[160];
    ei_dtype t = s->dtype ? (ei_dtype)s->dtype : x->dtype;
    if (!eye_like_one(t, one))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED, "output dtype %s is not supported",
                             ei_dtype_name(t));
    if (x->rank != 2)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' %s must be 2-D", x->name,
                             ei_shape_str(x->rank, x->dims, b, sizeof b));
    return ei_elem_set_out(node, ei_node_out(ex, node, 0), t, 2, x->dims);
}

static ei_status eye_like_run(ei_exec *ex, ei_node *node) {
    const eye_like_state *s = node->state;
    ei_value *y = ei_node_out(ex, node, 0);
    unsigned char one[8];
    const size_t es = ei_dtype_size(y->dtype);
    const int64_t rows = y->dims[0], cols = y->dims[1];
    if (y->nbytes) memset(y->data, 0, y->nbytes);
    eye_like_one(y->dtype, one);
    if (s->k >= cols || s->k <= -rows) return EI_STATUS_OK; /* the diagonal misses the matrix */
    /* row i holds its one at column i + k while that is inside [0, cols). */
    for (int64_t i = s->k < 0 ? -s->k : 0; i < rows && i + s->k < cols; i++)
        memcpy((char *)y->data + ((size_t)i * (size_t)cols + (size_t)(i + s->k)) * es, one, es);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_eye_like = {
    eye_like_prepare, eye_like_infer, eye_like_run, free,
    .dtypes =
        "float16 bfloat16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool"};
