/*
 * onnx.c - ModelProto bytes -> ei_model: opset imports, graphs (recursively for
 * subgraph attributes), nodes, attributes, tensors (inline, typed or external data) and
 * value infos. Structure and sizes are validated here; op semantics are left to ops/,
 * and outer-scope references of subgraphs (EI_VALUE_FLAG_OUTER) to the session.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath, pread: also when built without CMake's definitions */
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise(MADV_DONTNEED): posix_madvise's is a no-op on glibc */
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#undef MAP_TYPE /* <sys/mman.h>'s flag mask; the name is TypeProto's field in onnx_fields.h */

#include "core/alloc.h"
#include "onnx/onnx.h"
#include "onnx/onnx_fields.h"
#include "onnx/pb.h"

/* ------------------------------------------------------- message descriptors */

#define EI_ONNX_MSG(var, label, LIST)                                                              \
    static const char *const var##_names[] = {LIST(EI_ONNX_NAME_)};                                \
    static const ei_pb_msg var = {label, var##_names,                                              \
                                  (uint32_t)(sizeof var##_names / sizeof var##_names[0])};

EI_ONNX_MSG(ei_msg_model, "ModelProto", EI_ONNX_MODEL_FIELDS)
EI_ONNX_MSG(ei_msg_opset, "OperatorSetIdProto", EI_ONNX_OPSET_FIELDS)
EI_ONNX_MSG(ei_msg_graph, "GraphProto", EI_ONNX_GRAPH_FIELDS)
EI_ONNX_MSG(ei_msg_node, "NodeProto", EI_ONNX_NODE_FIELDS)
EI_ONNX_MSG(ei_msg_attr, "AttributeProto", EI_ONNX_ATTR_FIELDS)
EI_ONNX_MSG(ei_msg_tensor, "TensorProto", EI_ONNX_TENSOR_FIELDS)
EI_ONNX_MSG(ei_msg_entry, "StringStringEntryProto", EI_ONNX_ENTRY_FIELDS)
EI_ONNX_MSG(ei_msg_value_info, "ValueInfoProto", EI_ONNX_VALUE_INFO_FIELDS)
EI_ONNX_MSG(ei_msg_type, "TypeProto", EI_ONNX_TYPE_FIELDS)
EI_ONNX_MSG(ei_msg_tensor_type, "TypeProto.Tensor", EI_ONNX_TENSOR_TYPE_FIELDS)
EI_ONNX_MSG(ei_msg_shape, "TensorShapeProto", EI_ONNX_SHAPE_FIELDS)
EI_ONNX_MSG(ei_msg_dim, "TensorShapeProto.Dimension", EI_ONNX_DIM_FIELDS)

typedef struct ei_onnx_ctx {
    /* The bytes are a read-only file mapping (ei_map_file): the pages of each tensor's
     * raw data are dropped once copied, so the file and the copies are not both
     * resident (a later read just faults them in again from the file). */
    bool release_raw;
    const ei_model *model; /* opset imports are read before the graph */
    const char *base_dir;  /* NULL: external data rejected */
} ei_onnx_ctx;

static ei_status ei_onnx_graph(const ei_onnx_ctx *cx, const ei_pb *r, const ei_pb_field *f,
                               ei_graph *outer, ei_graph **out);

static char *ei_onnx_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static ei_status ei_onnx_oom(const char *what) {
    return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory reading %s", what);
}

/* ------------------------------------------------------------------ dtypes */

/* 0: supported; 1: known to ONNX but not supported here; 2: not an ONNX type. */
static int ei_onnx_dtype_class(int32_t t) {
    switch (t) {
    case EI_DTYPE_F32:
    case EI_DTYPE_U8:
    case EI_DTYPE_I8:
    case EI_DTYPE_U16:
    case EI_DTYPE_I16:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_BOOL:
    case EI_DTYPE_F16:
    case EI_DTYPE_F64:
    case EI_DTYPE_U32:
    case EI_DTYPE_U64:
    case EI_DTYPE_BF16:
    case EI_DTYPE_F8E4M3FN:
    case EI_DTYPE_F8E4M3FNUZ:
    case EI_DTYPE_F8E5M2:
    case EI_DTYPE_F8E5M2FNUZ:
    case EI_DTYPE_F8E8M0:
    case EI_DTYPE_U4:
    case EI_DTYPE_I4:
    case EI_DTYPE_F4E2M1:
    case EI_DTYPE_U2:
    case EI_DTYPE_I2: return 0;
    default: return (t == 8 || (t >= 14 && t <= 15) || (t >= 17 && t <= 26)) ? 1 : 2;
    }
}

static const char *ei_onnx_dtype_label(int32_t t) {
    static const char *const names[] = {
        "UNDEFINED",      "FLOAT",    "UINT8",        "INT8",           "UINT16",
        "INT16",          "INT32",    "INT64",        "STRING",         "BOOL",
        "FLOAT16",        "DOUBLE",   "UINT32",       "UINT64",         "COMPLEX64",
        "COMPLEX128",     "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ", "UINT4",    "INT4",         "FLOAT4E2M1",     "FLOAT8E8M0",
        "UINT2",          "INT2"};
    if (t >= 0 && (size_t)t < sizeof names / sizeof names[0]) return names[t];
    return "unknown";
}

/* Allocates a constant's data (64-byte aligned, never NULL on success) once its size has
 * been checked against the bytes that back it. */
static ei_status ei_onnx_alloc_data(ei_value *v, size_t nbytes) {
    v->data = ei_aligned_alloc(nbytes);
    if (!v->data)
        return ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory for the %zu bytes of tensor '%s'",
                        nbytes, v->name);
    return EI_STATUS_OK;
}

/* ------------------------------------------------------------ external data */

static bool ei_onnx_parse_u64(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (!s[0]) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* Reads nbytes at offset of base_dir/location into a new aligned buffer *out, refusing
 * to leave base_dir. */
static ei_status ei_onnx_read_external(const char *base_dir, const char *tname,
                                       const char *location, uint64_t offset, size_t nbytes,
                                       void **out) {
    ei_status st = EI_STATUS_OK;
    char *real_base = NULL, *joined = NULL, *real = NULL;
    void *dst = NULL;
    int fd = -1;
    if (!base_dir) {
        return ei_error(EI_STATUS_INVALID_MODEL,
                        "tensor '%s': external data not allowed when loading from memory "
                        "without a base directory",
                        tname);
    }
    if (!location[0] || location[0] == '/' || location[0] == '\\')
        return ei_error(EI_STATUS_INVALID_MODEL,
                        "tensor '%s': external data location '%s' must be a relative path", tname,
                        location);
    for (const char *p = location; *p;) {
        size_t n = strcspn(p, "/\\");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return ei_error(EI_STATUS_INVALID_MODEL,
                            "tensor '%s': external data location '%s' may not contain '..'", tname,
                            location);
        p += n;
        if (*p) p++;
    }
    real_base = realpath(base_dir, NULL);
    if (!real_base) {
        st = ei_error(EI_STATUS_IO, "tensor '%s': cannot resolve base directory '%s': %s", tname,
                      base_dir, strerror(errno));
        goto cleanup;
    }
    size_t lb = strlen(real_base), ll = strlen(location);
    joined = malloc(lb + ll + 2);
    if (!joined) {
        st = ei_onnx_oom("an external data path");
        goto cleanup;
    }
    memcpy(joined, real_base, lb);
    joined[lb] = '/';
    memcpy(joined + lb + 1, location, ll + 1);
    real = realpath(joined, NULL);
    if (!real) {
        st = ei_error(EI_STATUS_IO, "tensor '%s': cannot open external data file '%s': %s", tname,
                      joined, strerror(errno));
        goto cleanup;
    }
    bool root = lb == 1 && real_base[0] == '/';
    if (!root && (strncmp(real, real_base, lb) != 0 || real[lb] != '/')) {
        st = ei_error(EI_STATUS_INVALID_MODEL,
                      "tensor '%s': external data file '%s' resolves to '%s', outside the model "
                      "directory '%s'",
                      tname, location, real, real_base);
        goto cleanup;
    }
    fd = open(real, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = ei_error(EI_STATUS_IO, "tensor '%s': cannot open external data file '%s': %s", tname,
                      real, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = ei_error(EI_STATUS_INVALID_MODEL,
                      "tensor '%s': external data '%s' is not a regular file", tname, real);
        goto cleanup;
    }
    uint64_t fsize = (uint64_t)sb.st_size;
    if (offset > fsize || (uint64_t)nbytes > fsize - offset) {
        st = ei_error(EI_STATUS_INVALID_MODEL,
                      "tensor '%s': external data offset %llu + length %zu runs past the end of "
                      "'%s' (%llu bytes)",
                      tname, (unsigned long long)offset, nbytes, location,
                      (unsigned long long)fsize);
        goto cleanup;
    }
    dst = ei_aligned_alloc(nbytes);
    if (!dst) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory for the %zu bytes of tensor '%s'",
                      nbytes, tname);
        goto cleanup;
    }
    size_t done = 0;
    while (done < nbytes) {
        size_t chunk = nbytes - done > ((size_t)1 << 30) ? ((size_t)1 << 30) : nbytes - done;
        ssize_t got = pread(fd, (char *)dst + done, chunk, (off_t)(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            st = ei_error(EI_STATUS_IO, "tensor '%s': reading external data file '%s': %s", tname,
                          real, got < 0 ? strerror(errno) : "unexpected end of file");
            goto cleanup;
        }
        done += (size_t)got;
    }
    *out = dst;
    dst = NULL;
cleanup:
    ei_aligned_free(dst);
    if (fd >= 0) close(fd);
    free(real_base);
    free(joined);
    free(real);
    return st;
}

/* ------------------------------------------------------------------ tensors */

/* Which typed field may carry which dtype (ONNX stores small types widened). */
static bool ei_onnx_typed_field_ok(uint32_t field, int32_t dt) {
    switch (field) {
    case EI_ONNX_TENSOR_FLOAT_DATA: return dt == EI_DTYPE_F32;
    case EI_ONNX_TENSOR_INT32_DATA:
        return dt == EI_DTYPE_I32 || dt == EI_DTYPE_I16 || dt == EI_DTYPE_I8 ||
               dt == EI_DTYPE_U16 || dt == EI_DTYPE_U8 || dt == EI_DTYPE_BOOL ||
               dt == EI_DTYPE_F16 || dt == EI_DTYPE_BF16 || dt == EI_DTYPE_F8E4M3FN ||
               dt == EI_DTYPE_F8E4M3FNUZ || dt == EI_DTYPE_F8E5M2 || dt == EI_DTYPE_F8E5M2FNUZ ||
               dt == EI_DTYPE_F8E8M0 || (ei_dtype_bits((ei_dtype)dt) & 7u) != 0 /* sub-byte */;
    case EI_ONNX_TENSOR_INT64_DATA: return dt == EI_DTYPE_I64;
    case EI_ONNX_TENSOR_DOUBLE_DATA: return dt == EI_DTYPE_F64;
    case EI_ONNX_TENSOR_UINT64_DATA: return dt == EI_DTYPE_U32 || dt == EI_DTYPE_U64;
    }
    return false;
}

static void ei_onnx_store(uint8_t *dst, ei_dtype dt, uint64_t u) {
    switch (ei_dtype_size(dt)) {
    case 1: {
        uint8_t b = dt == EI_DTYPE_BOOL ? (uint8_t)((uint32_t)u != 0) : (uint8_t)u;
        memcpy(dst, &b, 1);
        break;
    }
    case 2: {
        uint16_t h = (uint16_t)u;
        memcpy(dst, &h, 2);
        break;
    }
    case 4: {
        uint32_t w = (uint32_t)u;
        memcpy(dst, &w, 4);
        break;
    }
    default: memcpy(dst, &u, 8); break;
    }
}

typedef struct ei_onnx_tensor_fields {
    ei_pb_vec dims, typed;
    ei_pb_field dims_f, typed_f, raw_f, loc_f;
    uint32_t typed_field; /* which typed field holds data (0: none) */
    bool has_dtype, has_raw, has_dims, has_segment;
    int32_t dtype, location;
    const uint8_t *raw;
    size_t raw_len;
    char *ext_location, *ext_offset, *ext_length;
} ei_onnx_tensor_fields;

static ei_status ei_onnx_external_entry(const ei_pb *r, const ei_pb_field *f,
                                        ei_onnx_tensor_fields *tf) {
    ei_status st = EI_STATUS_OK;
    ei_pb e;
    ei_pb_field ef;
    bool more;
    char *key = NULL, *val = NULL;
    EI_TRY(ei_pb_enter(r, f, &ei_msg_entry, &e));
    while (1) {
        EI_TRY(ei_pb_next(&e, &ef, &more));
        if (!more) break;
        if (ef.number == EI_ONNX_ENTRY_KEY) EI_TRY(ei_pb_get_string(&e, &ef, &key));
        if (ef.number == EI_ONNX_ENTRY_VALUE) EI_TRY(ei_pb_get_string(&e, &ef, &val));
    }
    char **slot = NULL;
    if (key && strcmp(key, "location") == 0) slot = &tf->ext_location;
    if (key && strcmp(key, "offset") == 0) slot = &tf->ext_offset;
    if (key && strcmp(key, "length") == 0) slot = &tf->ext_length;
    if (slot) { /* other keys (checksum, ...) are ignored */
        free(*slot);
        *slot = val ? val : ei_onnx_strdup("");
        val = NULL;
        if (!*slot) st = ei_onnx_oom("external data");
    }
cleanup:
    free(key);
    free(val);
    return st;
}

static ei_status ei_onnx_tensor_scan(ei_pb *t, ei_onnx_tensor_fields *tf, char **name) {
    ei_pb_field f;
    bool more;
    while (1) {
        EI_CHECK(ei_pb_next(t, &f, &more));
        if (!more) return EI_STATUS_OK;
        switch (f.number) {
        case EI_ONNX_TENSOR_DIMS:
            tf->dims_f = f;
            tf->has_dims = true;
            EI_CHECK(ei_pb_append(t, &f, EI_PB_ELEM_VARINT, &tf->dims));
            break;
        case EI_ONNX_TENSOR_DATA_TYPE:
            EI_CHECK(ei_pb_get_int32(t, &f, &tf->dtype));
            tf->has_dtype = true;
            break;
        case EI_ONNX_TENSOR_SEGMENT: tf->has_segment = true; break;
        case EI_ONNX_TENSOR_NAME: EI_CHECK(ei_pb_get_string(t, &f, name)); break;
        case EI_ONNX_TENSOR_RAW_DATA:
            EI_CHECK(ei_pb_get_bytes(t, &f, &tf->raw, &tf->raw_len));
            tf->has_raw = true;
            tf->raw_f = f;
            break;
        case EI_ONNX_TENSOR_FLOAT_DATA:
        case EI_ONNX_TENSOR_INT32_DATA:
        case EI_ONNX_TENSOR_INT64_DATA:
        case EI_ONNX_TENSOR_DOUBLE_DATA:
        case EI_ONNX_TENSOR_UINT64_DATA: {
            ei_pb_elem kind = f.number == EI_ONNX_TENSOR_FLOAT_DATA    ? EI_PB_ELEM_I32
                              : f.number == EI_ONNX_TENSOR_DOUBLE_DATA ? EI_PB_ELEM_I64
                                                                       : EI_PB_ELEM_VARINT;
            if (tf->typed_field && tf->typed_field != f.number)
                return ei_pb_error(
                    t, &f, EI_STATUS_INVALID_MODEL, "tensor has data in both %s and %s",
                    ei_pb_field_name(t, tf->typed_field), ei_pb_field_name(t, f.number));
            tf->typed_field = f.number;
            tf->typed_f = f;
            EI_CHECK(ei_pb_append(t, &f, kind, &tf->typed));
            break;
        }
        case EI_ONNX_TENSOR_EXTERNAL_DATA: EI_CHECK(ei_onnx_external_entry(t, &f, tf)); break;
        case EI_ONNX_TENSOR_DATA_LOCATION:
            EI_CHECK(ei_pb_get_int32(t, &f, &tf->location));
            tf->loc_f = f;
            break;
        default: break; /* doc_string, metadata_props, unknown fields */
        }
    }
}

/* Drops the whole pages inside [p, p + n) of a read-only file mapping. */
static void ei_onnx_drop_pages(const void *p, size_t n) {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0) return;
    uintptr_t a = (uintptr_t)p, e = a + n, page = (uintptr_t)ps;
    uintptr_t lo = (a + page - 1) / page * page, hi = e / page * page;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* Parses the TensorProto in field f of r into a new standalone CONST value that owns
 * its 64-byte aligned data. */
static ei_status ei_onnx_tensor(const ei_onnx_ctx *cx, const ei_pb *r, const ei_pb_field *f,
                                ei_value **out) {
    ei_status st = EI_STATUS_OK;
    ei_onnx_tensor_fields tf;
    ei_value *v = NULL;
    char *name = NULL;
    ei_pb t;
    char shape[200];
    memset(&tf, 0, sizeof tf);
    *out = NULL;
    EI_TRY(ei_pb_enter(r, f, &ei_msg_tensor, &t));
    EI_TRY(ei_onnx_tensor_scan(&t, &tf, &name));
    const char *tn = name ? name : "";
    if (!tf.has_dtype || tf.dtype == 0) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "tensor '%s' has no data_type", tn);
        goto cleanup;
    }
    int cls = ei_onnx_dtype_class(tf.dtype);
    if (cls == 2) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "tensor '%s' has unknown data_type %d", tn,
                         (int)tf.dtype);
        goto cleanup;
    }
    if (cls == 1) { /* string tensors included */
        st = ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                         "tensor '%s' has data type %s (%d), which is not supported", tn,
                         ei_onnx_dtype_label(tf.dtype), (int)tf.dtype);
        goto cleanup;
    }
    if (tf.has_segment) {
        st = ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                         "tensor '%s' is segmented, which is not supported", tn);
        goto cleanup;
    }
    if (tf.dims.n > EI_MAX_RANK) {
        st = ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                         "tensor '%s' has rank %zu, above the supported %d", tn, tf.dims.n,
                         EI_MAX_RANK);
        goto cleanup;
    }
    int64_t dims[EI_MAX_RANK] = {0};
    int rank = (int)tf.dims.n;
    for (int i = 0; i < rank; i++) {
        dims[i] = ei_pb_u64_to_i64(tf.dims.data[i]);
        if (dims[i] < 0) {
            st = ei_pb_error(&t, &tf.dims_f, EI_STATUS_INVALID_MODEL,
                             "tensor '%s' has negative dimension %lld", tn, (long long)dims[i]);
            goto cleanup;
        }
    }
    ei_dtype dt = (ei_dtype)tf.dtype;
    size_t numel, nbytes;
    ei_shape_str(rank, dims, shape, sizeof shape);
    if (!ei_shape_numel(rank, dims, &numel) || !ei_dtype_nbytes(dt, numel, &nbytes)) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "tensor '%s' has a too large shape %s", tn,
                         shape);
        goto cleanup;
    }
    v = calloc(1, sizeof *v);
    if (!v) {
        st = ei_onnx_oom("a tensor");
        goto cleanup;
    }
    v->name = name ? name : ei_onnx_strdup("");
    name = NULL;
    if (!v->name) {
        st = ei_onnx_oom("a tensor");
        goto cleanup;
    }
    v->producer = -1;
    v->first_use = v->last_use = -1;
    v->flags = EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_OWNS_DATA;
    EI_TRY(ei_value_set_shape(v, dt, rank, dims));
    v->decl_dtype = dt;
    v->decl_rank = rank;
    memcpy(v->decl_dims, dims, sizeof dims);
    tn = v->name;
    bool external = tf.location == EI_ONNX_DATA_LOCATION_EXTERNAL;
    if (tf.location != EI_ONNX_DATA_LOCATION_DEFAULT && !external) {
        st = ei_pb_error(&t, &tf.loc_f, EI_STATUS_INVALID_MODEL,
                         "tensor '%s' has invalid data_location %d", tn, (int)tf.location);
        goto cleanup;
    }
    int sources = (tf.has_raw ? 1 : 0) + (tf.typed.n > 0 ? 1 : 0) + (external ? 1 : 0);
    if (sources > 1) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                         "tensor '%s' has data in more than one of raw_data, typed fields and "
                         "external data",
                         tn);
        goto cleanup;
    }
    if (external) {
        uint64_t off = 0, len = 0;
        if (!tf.ext_location) {
            st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                             "tensor '%s' has external data without a location", tn);
            goto cleanup;
        }
        if (tf.ext_offset && !ei_onnx_parse_u64(tf.ext_offset, &off)) {
            st =
                ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                            "tensor '%s' has invalid external data offset '%s'", tn, tf.ext_offset);
            goto cleanup;
        }
        if (tf.ext_length && (!ei_onnx_parse_u64(tf.ext_length, &len) || len != (uint64_t)nbytes)) {
            st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                             "tensor '%s' has external data length '%s', expected %zu for %s %s",
                             tn, tf.ext_length, nbytes, ei_dtype_name(dt), shape);
            goto cleanup;
        }
        EI_TRY(ei_onnx_read_external(cx->base_dir, tn, tf.ext_location, off, nbytes, &v->data));
    } else if (tf.has_raw) {
        if (tf.raw_len != nbytes) {
            st = ei_pb_error(&t, &tf.raw_f, EI_STATUS_INVALID_MODEL,
                             "tensor '%s' has %zu bytes of raw_data, expected %zu for %s %s", tn,
                             tf.raw_len, nbytes, ei_dtype_name(dt), shape);
            goto cleanup;
        }
        EI_TRY(ei_onnx_alloc_data(v, nbytes));
        if (nbytes) memcpy(v->data, tf.raw, nbytes);
        if (nbytes && cx->release_raw) ei_onnx_drop_pages(tf.raw, nbytes);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        size_t es = ei_dtype_size(dt);
        for (size_t i = 0; es > 1 && i < numel; i++) {
            uint8_t *e = (uint8_t *)v->data + i * es;
            for (size_t a = 0, b = es - 1; a < b; a++, b--) {
                uint8_t tmp = e[a];
                e[a] = e[b];
                e[b] = tmp;
            }
        }
#endif
    } else if (tf.typed.n > 0 || numel > 0) {
        if (tf.typed.n == 0) {
            st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "tensor '%s' (%s %s) has no data", tn,
                             ei_dtype_name(dt), shape);
            goto cleanup;
        }
        if (!ei_onnx_typed_field_ok(tf.typed_field, tf.dtype)) {
            st = ei_pb_error(&t, &tf.typed_f, EI_STATUS_INVALID_MODEL,
                             "tensor '%s' of type %s cannot hold its data in %s", tn,
                             ei_dtype_name(dt), ei_pb_field_name(&t, tf.typed_field));
            goto cleanup;
        }
        /* Sub-byte types keep their packed bytes in int32_data, one byte per entry. */
        bool packed = (ei_dtype_bits(dt) & 7u) != 0;
        size_t want = packed ? nbytes : numel;
        if (tf.typed.n != want) {
            st = ei_pb_error(&t, &tf.typed_f, EI_STATUS_INVALID_MODEL,
                             "tensor '%s' has %zu %s in %s, expected %zu for shape %s", tn,
                             tf.typed.n, packed ? "packed bytes" : "elements",
                             ei_pb_field_name(&t, tf.typed_field), want, shape);
            goto cleanup;
        }
        EI_TRY(ei_onnx_alloc_data(v, nbytes));
        if (packed) {
            for (size_t i = 0; i < nbytes; i++) ((uint8_t *)v->data)[i] = (uint8_t)tf.typed.data[i];
        } else {
            size_t es = ei_dtype_size(dt);
            for (size_t i = 0; i < numel; i++)
                ei_onnx_store((uint8_t *)v->data + i * es, dt, tf.typed.data[i]);
        }
    } else {
        EI_TRY(ei_onnx_alloc_data(v, 0)); /* empty: still 64 bytes, so the value is "known" */
    }
    *out = v;
    v = NULL;
cleanup:
    ei_value_free(v);
    free(name);
    free(tf.dims.data);
    free(tf.typed.data);
    free(tf.ext_location);
    free(tf.ext_offset);
    free(tf.ext_length);
    return st;
}

/* -------------------------------------------------------------- value infos */

typedef struct ei_onnx_vinfo {
    char *name;
    uint32_t kind;      /* TypeProto field of the type (0: none, 1: tensor) */
    int32_t elem_type;  /* 0: not given */
    int rank;           /* -1: no shape */
    size_t n_dims_seen; /* may exceed EI_MAX_RANK */
    int64_t dims[EI_MAX_RANK];
    char *dim_names[EI_MAX_RANK];
    size_t offset;
} ei_onnx_vinfo;

static void ei_onnx_vinfo_clear(ei_onnx_vinfo *vi) {
    free(vi->name);
    for (int i = 0; i < EI_MAX_RANK; i++)
        free(vi->dim_names[i]);
    memset(vi, 0, sizeof *vi);
}

static ei_status ei_onnx_dim(const ei_pb *r, const ei_pb_field *f, ei_onnx_vinfo *vi) {
    ei_pb d;
    ei_pb_field df;
    bool more;
    size_t i = vi->n_dims_seen++;
    int64_t value = -1;
    char *param = NULL;
    ei_status st = ei_pb_enter(r, f, &ei_msg_dim, &d);
    while (st == EI_STATUS_OK) {
        st = ei_pb_next(&d, &df, &more);
        if (st != EI_STATUS_OK || !more) break;
        if (df.number == EI_ONNX_DIM_DIM_VALUE) {
            st = ei_pb_get_int64(&d, &df, &value);
            free(param); /* oneof: the last one wins */
            param = NULL;
        } else if (df.number == EI_ONNX_DIM_DIM_PARAM) {
            st = ei_pb_get_string(&d, &df, &param);
            value = -1;
        }
    }
    if (st == EI_STATUS_OK && i < EI_MAX_RANK) {
        vi->dims[i] = value < 0 ? -1 : value;
        vi->dim_names[i] = param; /* NULL, or an owned name */
        param = NULL;
    }
    free(param);
    return st;
}

static ei_status ei_onnx_type(const ei_pb *r, const ei_pb_field *f, ei_onnx_vinfo *vi) {
    ei_pb ty, tt, sh;
    ei_pb_field a, b, c;
    bool more;
    EI_CHECK(ei_pb_enter(r, f, &ei_msg_type, &ty));
    while (1) {
        EI_CHECK(ei_pb_next(&ty, &a, &more));
        if (!more) return EI_STATUS_OK;
        if (a.number == EI_ONNX_TYPE_DENOTATION) continue;
        if (a.number != EI_ONNX_TYPE_TENSOR_TYPE) {
            if (a.number == EI_ONNX_TYPE_SEQUENCE_TYPE || a.number == EI_ONNX_TYPE_MAP_TYPE ||
                a.number == EI_ONNX_TYPE_OPAQUE_TYPE ||
                a.number == EI_ONNX_TYPE_SPARSE_TENSOR_TYPE ||
                a.number == EI_ONNX_TYPE_OPTIONAL_TYPE)
                vi->kind = a.number; /* not a dense tensor */
            continue;
        }
        vi->kind = EI_ONNX_TYPE_TENSOR_TYPE;
        EI_CHECK(ei_pb_enter(&ty, &a, &ei_msg_tensor_type, &tt));
        while (1) {
            EI_CHECK(ei_pb_next(&tt, &b, &more));
            if (!more) break;
            if (b.number == EI_ONNX_TENSOR_TYPE_ELEM_TYPE)
                EI_CHECK(ei_pb_get_int32(&tt, &b, &vi->elem_type));
            if (b.number != EI_ONNX_TENSOR_TYPE_SHAPE) continue;
            EI_CHECK(ei_pb_enter(&tt, &b, &ei_msg_shape, &sh));
            for (int i = 0; i < EI_MAX_RANK; i++) { /* a repeated shape field: the last one wins */
                free(vi->dim_names[i]);
                vi->dim_names[i] = NULL;
            }
            vi->n_dims_seen = 0;
            while (1) {
                EI_CHECK(ei_pb_next(&sh, &c, &more));
                if (!more) break;
                if (c.number == EI_ONNX_SHAPE_DIM) EI_CHECK(ei_onnx_dim(&sh, &c, vi));
            }
            vi->rank = vi->n_dims_seen > EI_MAX_RANK ? EI_MAX_RANK + 1 : (int)vi->n_dims_seen;
        }
    }
}

static ei_status ei_onnx_value_info(const ei_pb *r, const ei_pb_field *f, ei_onnx_vinfo *vi) {
    ei_pb p;
    ei_pb_field vf;
    bool more;
    memset(vi, 0, sizeof *vi);
    vi->rank = -1;
    vi->offset = f->offset;
    EI_CHECK(ei_pb_enter(r, f, &ei_msg_value_info, &p));
    while (1) {
        EI_CHECK(ei_pb_next(&p, &vf, &more));
        if (!more) break;
        if (vf.number == EI_ONNX_VALUE_INFO_NAME) EI_CHECK(ei_pb_get_string(&p, &vf, &vi->name));
        if (vf.number == EI_ONNX_VALUE_INFO_TYPE) EI_CHECK(ei_onnx_type(&p, &vf, vi));
    }
    if (!vi->name || !vi->name[0])
        return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "value info has no name");
    return EI_STATUS_OK;
}

/* Copies the declared type into v. strict (graph inputs/outputs): types we cannot handle
 * are errors; otherwise (value_info hints) they are ignored. */
static ei_status ei_onnx_apply_vinfo(const ei_pb *r, const ei_pb_field *f, ei_onnx_vinfo *vi,
                                     ei_value *v, bool strict, const char *role) {
    if (vi->kind != 0 && vi->kind != EI_ONNX_TYPE_TENSOR_TYPE) {
        if (!strict) return EI_STATUS_OK;
        return ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                           "%s '%s' has non-tensor type %s; only tensors are supported", role,
                           vi->name, ei_pb_field_name(&(ei_pb){.msg = &ei_msg_type}, vi->kind));
    }
    if (vi->elem_type != 0) {
        int cls = ei_onnx_dtype_class(vi->elem_type);
        if (cls == 2)
            return ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "%s '%s' has unknown elem_type %d",
                               role, vi->name, (int)vi->elem_type);
        if (cls == 1) {
            if (!strict) return EI_STATUS_OK;
            return ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                               "%s '%s' has type %s (%d), which is not supported", role, vi->name,
                               ei_onnx_dtype_label(vi->elem_type), (int)vi->elem_type);
        }
    }
    if (vi->rank > EI_MAX_RANK) {
        if (!strict) return EI_STATUS_OK;
        return ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                           "%s '%s' has rank %zu, above the supported %d", role, vi->name,
                           vi->n_dims_seen, EI_MAX_RANK);
    }
    v->decl_dtype = (ei_dtype)vi->elem_type;
    v->decl_rank = vi->rank;
    for (int i = 0; i < EI_MAX_RANK; i++) {
        v->decl_dims[i] = i < vi->rank ? vi->dims[i] : 0;
        free(v->decl_dim_names[i]);
        v->decl_dim_names[i] = i < vi->rank ? vi->dim_names[i] : NULL;
        if (i < vi->rank) vi->dim_names[i] = NULL; /* moved */
    }
    return EI_STATUS_OK;
}

/* --------------------------------------------------------------- attributes */

typedef struct ei_onnx_attr_fields {
    ei_pb_vec floats, ints;
    ei_bytes *strings;
    ei_value **tensors;
    ei_graph **graphs;
    size_t n_strings, n_tensors, n_graphs;
    size_t cap_strings, cap_tensors, cap_graphs;
    uint32_t last_value_field; /* for IR v1 attributes without a type */
    bool unsupported_ref;
} ei_onnx_attr_fields;

/* Grows a pointer/struct array by one slot; elem is the element size. */
static ei_status ei_onnx_grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return EI_STATUS_OK;
    size_t nc = *cap ? *cap * 2 : 4, bytes;
    if (nc < *cap || !ei_size_mul(nc, elem, &bytes)) return ei_onnx_oom("an attribute");
    void *p = realloc(*arr, bytes);
    if (!p) return ei_onnx_oom("an attribute");
    *arr = p;
    *cap = nc;
    return EI_STATUS_OK;
}

static ei_status ei_onnx_copy_bytes(const ei_pb *r, const ei_pb_field *f, ei_bytes *b) {
    const uint8_t *d;
    size_t len;
    EI_CHECK(ei_pb_get_bytes(r, f, &d, &len));
    if (len == SIZE_MAX) return ei_onnx_oom("a string");
    char *s = malloc(len + 1);
    if (!s) return ei_onnx_oom("a string");
    if (len) memcpy(s, d, len);
    s[len] = '\0';
    free(b->data);
    b->data = s;
    b->len = len;
    return EI_STATUS_OK;
}

static ei_status ei_onnx_attr_scan(const ei_onnx_ctx *cx, ei_pb *p, ei_graph *g, ei_attr *a,
                                   ei_onnx_attr_fields *af, int32_t *type) {
    ei_pb_field f;
    bool more;
    char *ref = NULL;
    ei_status st = EI_STATUS_OK;
    while (1) {
        EI_TRY(ei_pb_next(p, &f, &more));
        if (!more) break;
        switch (f.number) {
        case EI_ONNX_ATTR_NAME: EI_TRY(ei_pb_get_string(p, &f, &a->name)); break;
        case EI_ONNX_ATTR_REF_ATTR_NAME:
            EI_TRY(ei_pb_get_string(p, &f, &ref));
            if (ref[0]) af->unsupported_ref = true;
            break;
        case EI_ONNX_ATTR_TYPE: EI_TRY(ei_pb_get_int32(p, &f, type)); break;
        case EI_ONNX_ATTR_F: EI_TRY(ei_pb_get_float(p, &f, &a->f)); break;
        case EI_ONNX_ATTR_I: EI_TRY(ei_pb_get_int64(p, &f, &a->i)); break;
        case EI_ONNX_ATTR_S: EI_TRY(ei_onnx_copy_bytes(p, &f, &a->s)); break;
        case EI_ONNX_ATTR_T:
            ei_value_free(a->t);
            a->t = NULL;
            EI_TRY(ei_onnx_tensor(cx, p, &f, &a->t));
            break;
        case EI_ONNX_ATTR_G:
            ei_graph_free(a->g);
            a->g = NULL;
            EI_TRY(ei_onnx_graph(cx, p, &f, g, &a->g));
            break;
        case EI_ONNX_ATTR_FLOATS: EI_TRY(ei_pb_append(p, &f, EI_PB_ELEM_I32, &af->floats)); break;
        case EI_ONNX_ATTR_INTS: EI_TRY(ei_pb_append(p, &f, EI_PB_ELEM_VARINT, &af->ints)); break;
        case EI_ONNX_ATTR_STRINGS:
            EI_TRY(ei_onnx_grow((void **)&af->strings, &af->cap_strings, af->n_strings,
                                sizeof(ei_bytes)));
            af->strings[af->n_strings] = (ei_bytes){NULL, 0};
            st = ei_onnx_copy_bytes(p, &f, &af->strings[af->n_strings]);
            if (st == EI_STATUS_OK) af->n_strings++;
            EI_TRY(st);
            break;
        case EI_ONNX_ATTR_TENSORS:
            EI_TRY(ei_onnx_grow((void **)&af->tensors, &af->cap_tensors, af->n_tensors,
                                sizeof(ei_value *)));
            EI_TRY(ei_onnx_tensor(cx, p, &f, &af->tensors[af->n_tensors]));
            af->n_tensors++;
            break;
        case EI_ONNX_ATTR_GRAPHS:
            EI_TRY(ei_onnx_grow((void **)&af->graphs, &af->cap_graphs, af->n_graphs,
                                sizeof(ei_graph *)));
            EI_TRY(ei_onnx_graph(cx, p, &f, g, &af->graphs[af->n_graphs]));
            af->n_graphs++;
            break;
        default: break;
        }
        if (f.number >= EI_ONNX_ATTR_F && f.number <= EI_ONNX_ATTR_GRAPHS)
            af->last_value_field = f.number;
        if (f.number == EI_ONNX_ATTR_TP || f.number == EI_ONNX_ATTR_TYPE_PROTOS ||
            f.number == EI_ONNX_ATTR_SPARSE_TENSOR || f.number == EI_ONNX_ATTR_SPARSE_TENSORS)
            af->last_value_field = f.number;
    }
cleanup:
    free(ref);
    return st;
}

/* Parses an AttributeProto into a (zeroed) *a; g is the graph of the attribute's node. */
static ei_status ei_onnx_attr(const ei_onnx_ctx *cx, const ei_pb *r, const ei_pb_field *f,
                              ei_graph *g, ei_attr *a) {
    ei_status st = EI_STATUS_OK;
    ei_onnx_attr_fields af;
    ei_pb p;
    int32_t type = 0;
    memset(&af, 0, sizeof af);
    EI_TRY(ei_pb_enter(r, f, &ei_msg_attr, &p));
    EI_TRY(ei_onnx_attr_scan(cx, &p, g, a, &af, &type));
    if (!a->name || !a->name[0]) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "attribute has no name");
        goto cleanup;
    }
    if (af.unsupported_ref) {
        st = ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                         "attribute '%s' refers to a function attribute (ref_attr_name), which "
                         "is not supported",
                         a->name);
        goto cleanup;
    }
    if (type == 0) { /* IR version 1: the type is implied by the field that is set */
        static const int32_t by_field[] = {
            [EI_ONNX_ATTR_F] = EI_ATTR_TYPE_FLOAT,
            [EI_ONNX_ATTR_I] = EI_ATTR_TYPE_INT,
            [EI_ONNX_ATTR_S] = EI_ATTR_TYPE_STRING,
            [EI_ONNX_ATTR_T] = EI_ATTR_TYPE_TENSOR,
            [EI_ONNX_ATTR_G] = EI_ATTR_TYPE_GRAPH,
            [EI_ONNX_ATTR_FLOATS] = EI_ATTR_TYPE_FLOATS,
            [EI_ONNX_ATTR_INTS] = EI_ATTR_TYPE_INTS,
            [EI_ONNX_ATTR_STRINGS] = EI_ATTR_TYPE_STRINGS,
            [EI_ONNX_ATTR_TENSORS] = EI_ATTR_TYPE_TENSORS,
            [EI_ONNX_ATTR_GRAPHS] = EI_ATTR_TYPE_GRAPHS,
            [EI_ONNX_ATTR_TP] = EI_ATTR_TYPE_TYPE_PROTO,
            [EI_ONNX_ATTR_TYPE_PROTOS] = EI_ATTR_TYPE_TYPE_PROTOS,
            [EI_ONNX_ATTR_SPARSE_TENSOR] = EI_ATTR_TYPE_SPARSE_TENSOR,
            [EI_ONNX_ATTR_SPARSE_TENSORS] = EI_ATTR_TYPE_SPARSE_TENSORS};
        if (af.last_value_field < sizeof by_field / sizeof by_field[0])
            type = by_field[af.last_value_field];
        if (type == 0) {
            st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                             "attribute '%s' has no type and no value", a->name);
            goto cleanup;
        }
    }
    if (type < 0 || type > EI_ATTR_TYPE_TYPE_PROTOS) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "attribute '%s' has unknown type %d",
                         a->name, (int)type);
        goto cleanup;
    }
    if (type >= EI_ATTR_TYPE_SPARSE_TENSOR) {
        st = ei_pb_error(r, f, EI_STATUS_UNSUPPORTED,
                         "attribute '%s' has type %d (sparse tensor or type proto), which is not "
                         "supported",
                         a->name, (int)type);
        goto cleanup;
    }
    a->type = (ei_attr_type)type;
    switch (a->type) {
    case EI_ATTR_TYPE_TENSOR:
        if (!a->t) {
            st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                             "attribute '%s' of type TENSOR has no tensor", a->name);
            goto cleanup;
        }
        if (!a->t->name[0]) { /* give anonymous tensors the attribute's name for messages */
            char *nm = ei_onnx_strdup(a->name);
            if (!nm) {
                st = ei_onnx_oom("an attribute");
                goto cleanup;
            }
            free(a->t->name);
            a->t->name = nm;
        }
        break;
    case EI_ATTR_TYPE_GRAPH:
        if (!a->g) {
            st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                             "attribute '%s' of type GRAPH has no graph", a->name);
            goto cleanup;
        }
        break;
    case EI_ATTR_TYPE_FLOATS:
        a->floats = malloc((af.floats.n + 1) * sizeof(float));
        if (!a->floats) {
            st = ei_onnx_oom("an attribute");
            goto cleanup;
        }
        for (size_t i = 0; i < af.floats.n; i++) {
            uint32_t bits = (uint32_t)af.floats.data[i];
            memcpy(&a->floats[i], &bits, sizeof bits);
        }
        a->n = af.floats.n;
        break;
    case EI_ATTR_TYPE_INTS:
        a->ints = malloc((af.ints.n + 1) * sizeof(int64_t));
        if (!a->ints) {
            st = ei_onnx_oom("an attribute");
            goto cleanup;
        }
        for (size_t i = 0; i < af.ints.n; i++)
            a->ints[i] = ei_pb_u64_to_i64(af.ints.data[i]);
        a->n = af.ints.n;
        break;
    case EI_ATTR_TYPE_STRINGS:
        a->strings = af.strings;
        a->n = af.n_strings;
        af.strings = NULL;
        af.n_strings = 0;
        break;
    case EI_ATTR_TYPE_TENSORS:
        a->tensors = af.tensors;
        a->n = af.n_tensors;
        af.tensors = NULL;
        af.n_tensors = 0;
        break;
    case EI_ATTR_TYPE_GRAPHS:
        a->graphs = af.graphs;
        a->n = af.n_graphs;
        af.graphs = NULL;
        af.n_graphs = 0;
        break;
    default: break;
    }
    /* Values that do not belong to the declared type are dropped. */
    if (a->type != EI_ATTR_TYPE_TENSOR) {
        ei_value_free(a->t);
        a->t = NULL;
    }
    if (a->type != EI_ATTR_TYPE_GRAPH) {
        ei_graph_free(a->g);
        a->g = NULL;
    }
cleanup:
    free(af.floats.data);
    free(af.ints.data);
    for (size_t i = 0; i < af.n_strings; i++)
        free(af.strings[i].data);
    free(af.strings);
    for (size_t i = 0; i < af.n_tensors; i++)
        ei_value_free(af.tensors[i]);
    free(af.tensors);
    for (size_t i = 0; i < af.n_graphs; i++)
        ei_graph_free(af.graphs[i]);
    free(af.graphs);
    return st;
}

/* -------------------------------------------------------------------- nodes */

typedef struct ei_onnx_node_head {
    char *name, *op_type, *domain;
    int n_inputs, n_outputs, n_attrs;
} ei_onnx_node_head;

static ei_status ei_onnx_node_head_scan(ei_pb p, ei_onnx_node_head *h) {
    ei_pb_field f;
    bool more;
    while (1) {
        EI_CHECK(ei_pb_next(&p, &f, &more));
        if (!more) return EI_STATUS_OK;
        int *count = f.number == EI_ONNX_NODE_INPUT       ? &h->n_inputs
                     : f.number == EI_ONNX_NODE_OUTPUT    ? &h->n_outputs
                     : f.number == EI_ONNX_NODE_ATTRIBUTE ? &h->n_attrs
                                                          : NULL;
        if (count) {
            if (f.wire != EI_PB_WIRE_LEN)
                return ei_pb_error(&p, &f, EI_STATUS_INVALID_MODEL,
                                   "expected a length-delimited field");
            /* Attribute names are checked for duplicates pairwise: keep that cheap. */
            if (*count >= (count == &h->n_attrs ? 4096 : (1 << 24)))
                return ei_pb_error(&p, &f, EI_STATUS_INVALID_MODEL, "too many entries");
            (*count)++;
        }
        if (f.number == EI_ONNX_NODE_NAME) EI_CHECK(ei_pb_get_string(&p, &f, &h->name));
        if (f.number == EI_ONNX_NODE_OP_TYPE) EI_CHECK(ei_pb_get_string(&p, &f, &h->op_type));
        if (f.number == EI_ONNX_NODE_DOMAIN) EI_CHECK(ei_pb_get_string(&p, &f, &h->domain));
    }
}

/* Adds the NodeProto in field f to g. */
static ei_status ei_onnx_node(const ei_onnx_ctx *cx, const ei_pb *r, const ei_pb_field *f,
                              ei_graph *g) {
    ei_status st = EI_STATUS_OK;
    ei_onnx_node_head h;
    ei_pb p;
    ei_pb_field nf;
    bool more;
    char *s = NULL;
    int ni = -1, ki = 0, ko = 0, ka = 0;
    memset(&h, 0, sizeof h);
    EI_TRY(ei_pb_enter(r, f, &ei_msg_node, &p));
    EI_TRY(ei_onnx_node_head_scan(p, &h));
    if (!h.op_type || !h.op_type[0]) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "node '%s' has no op_type",
                         h.name ? h.name : "");
        goto cleanup;
    }
    EI_TRY(
        ei_graph_add_node(g, h.name, h.op_type, h.domain, h.n_inputs, h.n_outputs, h.n_attrs, &ni));
    int64_t opset = ei_model_opset(cx->model, g->nodes[ni].domain);
    if (opset < 0) {
        st = ei_node_error(&g->nodes[ni], EI_STATUS_INVALID_MODEL,
                           "domain '%s' has no opset_import in the model", g->nodes[ni].domain);
        goto cleanup;
    }
    g->nodes[ni].opset = (int)opset;
    while (1) {
        EI_TRY(ei_pb_next(&p, &nf, &more));
        if (!more) break;
        if (nf.number == EI_ONNX_NODE_INPUT || nf.number == EI_ONNX_NODE_OUTPUT) {
            bool is_in = nf.number == EI_ONNX_NODE_INPUT;
            int idx = -1;
            EI_TRY(ei_pb_get_string(&p, &nf, &s));
            if (s[0]) EI_TRY(ei_graph_add_value(g, s, &idx, NULL));
            if (!is_in && idx >= 0 && (g->values[idx]->flags & EI_VALUE_FLAG_CONST)) {
                st = ei_node_error(&g->nodes[ni], EI_STATUS_INVALID_MODEL,
                                   "output '%s' has the name of an initializer", s);
                goto cleanup;
            }
            if (is_in)
                g->nodes[ni].inputs[ki++] = idx;
            else
                g->nodes[ni].outputs[ko++] = idx;
        } else if (nf.number == EI_ONNX_NODE_ATTRIBUTE) {
            ei_attr *a = &g->nodes[ni].attrs[ka++];
            st = ei_onnx_attr(cx, &p, &nf, g, a);
            if (st != EI_STATUS_OK) {
                ei_error_prefix("node '%s' (%s): attribute '%s'", g->nodes[ni].name,
                                g->nodes[ni].op_type, a->name ? a->name : "?");
                goto cleanup;
            }
            for (int k = 0; k + 1 < ka; k++)
                if (strcmp(g->nodes[ni].attrs[k].name, a->name) == 0) {
                    st = ei_node_error(&g->nodes[ni], EI_STATUS_INVALID_MODEL,
                                       "attribute '%s' appears twice", a->name);
                    goto cleanup;
                }
        }
    }
cleanup:
    free(s);
    free(h.name);
    free(h.op_type);
    free(h.domain);
    return st;
}

/* After all nodes of g are read: lifts the outer-scope names of g's subgraphs into g (as
 * OUTER values in a subgraph, an error at top level) and resolves node inputs nothing in g
 * produces the same way. */
static ei_status ei_onnx_resolve_scope(ei_graph *g, bool top) {
    ei_status st = EI_STATUS_OK;
    bool *produced = NULL;
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *n = &g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++) {
            const ei_attr *at = &n->attrs[a];
            size_t ng = at->type == EI_ATTR_TYPE_GRAPH    ? 1
                        : at->type == EI_ATTR_TYPE_GRAPHS ? at->n
                                                          : 0;
            for (size_t k = 0; k < ng; k++) {
                const ei_graph *sub = at->type == EI_ATTR_TYPE_GRAPH ? at->g : at->graphs[k];
                for (int v = 0; sub && v < sub->n_values; v++) {
                    const ei_value *sv = sub->values[v];
                    if (!(sv->flags & EI_VALUE_FLAG_OUTER) || ei_graph_find_value(g, sv->name) >= 0)
                        continue;
                    if (top)
                        return ei_node_error(n, EI_STATUS_INVALID_MODEL,
                                             "subgraph '%s' uses '%s', which is not defined in any "
                                             "enclosing graph",
                                             at->name, sv->name);
                    int idx;
                    EI_CHECK(ei_graph_add_value(g, sv->name, &idx, NULL));
                    g->values[idx]->flags |= EI_VALUE_FLAG_OUTER;
                }
            }
        }
    }
    produced = calloc((size_t)g->n_values + 1, sizeof *produced);
    if (!produced) return ei_onnx_oom("a graph");
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (g->nodes[i].outputs[k] >= 0) produced[g->nodes[i].outputs[k]] = true;
    for (int i = 0; i < g->n_nodes; i++) {
        const ei_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0 || produced[v]) continue;
            ei_value *val = g->values[v];
            if (val->flags & (EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_INPUT | EI_VALUE_FLAG_OUTER))
                continue;
            if (top) {
                st = ei_node_error(n, EI_STATUS_INVALID_MODEL,
                                   "input '%s' is not produced by any node and is not a graph "
                                   "input or initializer",
                                   val->name);
                goto cleanup;
            }
            val->flags |= EI_VALUE_FLAG_OUTER;
        }
    }
cleanup:
    free(produced);
    return st;
}

/* ------------------------------------------------------------------- graphs */

static ei_status ei_onnx_push(int **arr, int *n, int v) {
    if (*n >= (1 << 26)) return ei_error(EI_STATUS_INVALID_MODEL, "too many graph inputs/outputs");
    int *p = realloc(*arr, ((size_t)*n + 1) * sizeof(int));
    if (!p) return ei_onnx_oom("a graph");
    p[(*n)++] = v;
    *arr = p;
    return EI_STATUS_OK;
}

/* One pass over the graph's fields handling only the field number `which`. */
static ei_status ei_onnx_graph_pass(const ei_onnx_ctx *cx, ei_pb p, ei_graph *g, uint32_t which) {
    ei_status st = EI_STATUS_OK;
    ei_pb_field f;
    bool more;
    ei_value *t = NULL;
    ei_onnx_vinfo vi;
    memset(&vi, 0, sizeof vi);
    bool top = g->parent == NULL;
    while (1) {
        EI_TRY(ei_pb_next(&p, &f, &more));
        if (!more) break;
        if (f.number != which) continue;
        int idx = -1;
        bool created = false;
        switch (which) {
        case EI_ONNX_GRAPH_NAME: EI_TRY(ei_pb_get_string(&p, &f, &g->name)); break;
        case EI_ONNX_GRAPH_SPARSE_INITIALIZER:
            st =
                ei_pb_error(&p, &f, EI_STATUS_UNSUPPORTED,
                            "graph '%s' has a sparse_initializer, which is not supported", g->name);
            goto cleanup;
        case EI_ONNX_GRAPH_INITIALIZER:
            EI_TRY(ei_onnx_tensor(cx, &p, &f, &t));
            if (!t->name[0]) {
                st = ei_pb_error(&p, &f, EI_STATUS_INVALID_MODEL, "initializer has no name");
                goto cleanup;
            }
            EI_TRY(ei_graph_add_value(g, t->name, &idx, &created));
            if (!created) {
                st = ei_pb_error(&p, &f, EI_STATUS_INVALID_MODEL, "duplicate initializer '%s'",
                                 t->name);
                goto cleanup;
            }
            /* Swap in the parsed value; its name equals the placeholder's, so the name
             * index stays valid. */
            ei_value_free(g->values[idx]);
            g->values[idx] = t;
            t = NULL;
            break;
        case EI_ONNX_GRAPH_INPUT:
            EI_TRY(ei_onnx_value_info(&p, &f, &vi));
            idx = ei_graph_find_value(g, vi.name);
            if (idx >= 0 && (g->values[idx]->flags & EI_VALUE_FLAG_CONST)) {
                ei_onnx_vinfo_clear(&vi); /* an initializer listed as input: a constant */
                break;
            }
            if (idx >= 0) {
                st = ei_pb_error(&p, &f, EI_STATUS_INVALID_MODEL, "duplicate graph input '%s'",
                                 vi.name);
                goto cleanup;
            }
            EI_TRY(ei_graph_add_value(g, vi.name, &idx, NULL));
            EI_TRY(ei_onnx_apply_vinfo(&p, &f, &vi, g->values[idx], true, "graph input"));
            g->values[idx]->flags |= EI_VALUE_FLAG_INPUT;
            g->values[idx]->dtype = g->values[idx]->decl_dtype;
            EI_TRY(ei_onnx_push(&g->inputs, &g->n_inputs, idx));
            ei_onnx_vinfo_clear(&vi);
            break;
        case EI_ONNX_GRAPH_NODE: EI_TRY(ei_onnx_node(cx, &p, &f, g)); break;
        case EI_ONNX_GRAPH_OUTPUT:
            EI_TRY(ei_onnx_value_info(&p, &f, &vi));
            idx = ei_graph_find_value(g, vi.name);
            if (idx < 0 && top) {
                st = ei_pb_error(&p, &f, EI_STATUS_INVALID_MODEL,
                                 "graph output '%s' is not produced by any node and is not an "
                                 "input or initializer",
                                 vi.name);
                goto cleanup;
            }
            if (idx < 0) { /* a subgraph may return an outer-scope value */
                EI_TRY(ei_graph_add_value(g, vi.name, &idx, NULL));
                g->values[idx]->flags |= EI_VALUE_FLAG_OUTER;
            }
            EI_TRY(ei_onnx_apply_vinfo(&p, &f, &vi, g->values[idx], true, "graph output"));
            g->values[idx]->flags |= EI_VALUE_FLAG_OUTPUT;
            EI_TRY(ei_onnx_push(&g->outputs, &g->n_outputs, idx));
            ei_onnx_vinfo_clear(&vi);
            break;
        case EI_ONNX_GRAPH_VALUE_INFO:
            EI_TRY(ei_onnx_value_info(&p, &f, &vi));
            idx = ei_graph_find_value(g, vi.name);
            if (idx >= 0 && g->values[idx]->decl_rank < 0 &&
                g->values[idx]->decl_dtype == EI_DTYPE_UNDEFINED)
                EI_TRY(ei_onnx_apply_vinfo(&p, &f, &vi, g->values[idx], false, "value_info"));
            ei_onnx_vinfo_clear(&vi);
            break;
        default: break;
        }
    }
cleanup:
    ei_value_free(t);
    ei_onnx_vinfo_clear(&vi);
    return st;
}

static ei_status ei_onnx_graph(const ei_onnx_ctx *cx, const ei_pb *r, const ei_pb_field *f,
                               ei_graph *outer, ei_graph **out) {
    ei_status st = EI_STATUS_OK;
    ei_graph *g = NULL;
    ei_pb p;
    static const uint32_t passes[] = {EI_ONNX_GRAPH_NAME, EI_ONNX_GRAPH_SPARSE_INITIALIZER,
                                      EI_ONNX_GRAPH_INITIALIZER, EI_ONNX_GRAPH_INPUT,
                                      EI_ONNX_GRAPH_NODE};
    static const uint32_t late_passes[] = {EI_ONNX_GRAPH_OUTPUT, EI_ONNX_GRAPH_VALUE_INFO};
    *out = NULL;
    EI_TRY(ei_pb_enter(r, f, &ei_msg_graph, &p));
    EI_TRY(ei_graph_create("", &g));
    g->parent = outer;
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
        EI_TRY(ei_onnx_graph_pass(cx, p, g, passes[i]));
    EI_TRY(ei_onnx_resolve_scope(g, outer == NULL));
    for (size_t i = 0; i < sizeof late_passes / sizeof late_passes[0]; i++)
        EI_TRY(ei_onnx_graph_pass(cx, p, g, late_passes[i]));
    st = ei_graph_toposort(g);
    if (st != EI_STATUS_OK) {
        ei_error_prefix("graph '%s'", g->name);
        goto cleanup;
    }
    *out = g;
    g = NULL;
cleanup:
    ei_graph_free(g);
    return st;
}

/* -------------------------------------------------------------------- model */

static ei_status ei_onnx_opset(ei_model *m, const ei_pb *r, const ei_pb_field *f) {
    ei_status st = EI_STATUS_OK;
    ei_pb p;
    ei_pb_field of;
    bool more;
    char *domain = NULL;
    int64_t version = -1;
    EI_TRY(ei_pb_enter(r, f, &ei_msg_opset, &p));
    while (1) {
        EI_TRY(ei_pb_next(&p, &of, &more));
        if (!more) break;
        if (of.number == EI_ONNX_OPSET_DOMAIN) EI_TRY(ei_pb_get_string(&p, &of, &domain));
        if (of.number == EI_ONNX_OPSET_VERSION) EI_TRY(ei_pb_get_int64(&p, &of, &version));
    }
    if (!domain || strcmp(domain, "ai.onnx") == 0) {
        free(domain);
        domain = ei_onnx_strdup("");
        if (!domain) {
            st = ei_onnx_oom("the model");
            goto cleanup;
        }
    }
    if (version < 0 || version > INT_MAX) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                         "opset_import for domain '%s' has version %lld", domain,
                         (long long)version);
        goto cleanup;
    }
    int64_t prev = ei_model_opset(m, domain);
    if (prev >= 0) {
        if (prev == version) goto cleanup;
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL,
                         "domain '%s' is imported with both opset %lld and %lld", domain,
                         (long long)prev, (long long)version);
        goto cleanup;
    }
    if (m->n_opsets >= 4096) {
        st = ei_pb_error(r, f, EI_STATUS_INVALID_MODEL, "too many opset imports");
        goto cleanup;
    }
    ei_opset_import *o = realloc(m->opsets, ((size_t)m->n_opsets + 1) * sizeof *o);
    if (!o) {
        st = ei_onnx_oom("the model");
        goto cleanup;
    }
    m->opsets = o;
    o[m->n_opsets].domain = domain;
    o[m->n_opsets].version = version;
    m->n_opsets++;
    domain = NULL;
cleanup:
    free(domain);
    return st;
}

ei_status ei_onnx_parse(const void *data, size_t size, const char *base_dir, ei_model **out) {
    return ei_onnx_parse_ex(data, size, base_dir, false, out);
}

ei_status ei_onnx_parse_ex(const void *data, size_t size, const char *base_dir, bool mapped,
                           ei_model **out) {
    ei_status st = EI_STATUS_OK;
    ei_model *m = NULL;
    ei_pb r;
    ei_pb_field f, graph_f = {0};
    bool more, has_graph = false;
    if (!out) return ei_error(EI_STATUS_INVALID_ARGUMENT, "ei_onnx_parse: out is NULL");
    *out = NULL;
    if (!data && size) return ei_error(EI_STATUS_INVALID_ARGUMENT, "ei_onnx_parse: data is NULL");
    m = calloc(1, sizeof *m);
    if (!m) return ei_onnx_oom("the model");
    ei_onnx_ctx cx = {mapped, m, base_dir};
    ei_pb_init(&r, data, size, &ei_msg_model);
    while (1) {
        EI_TRY(ei_pb_next(&r, &f, &more));
        if (!more) break;
        switch (f.number) {
        case EI_ONNX_MODEL_IR_VERSION: EI_TRY(ei_pb_get_int64(&r, &f, &m->ir_version)); break;
        case EI_ONNX_MODEL_PRODUCER_NAME:
            EI_TRY(ei_pb_get_string(&r, &f, &m->producer_name));
            break;
        case EI_ONNX_MODEL_OPSET_IMPORT: EI_TRY(ei_onnx_opset(m, &r, &f)); break;
        case EI_ONNX_MODEL_GRAPH:
            if (has_graph) {
                st = ei_pb_error(&r, &f, EI_STATUS_INVALID_MODEL,
                                 "the model has more than one graph");
                goto cleanup;
            }
            has_graph = true;
            graph_f = f;
            break;
        default: break; /* metadata, functions, training info: not needed to run */
        }
    }
    if (!has_graph) {
        st = ei_error(EI_STATUS_INVALID_MODEL, "ModelProto has no graph (field 7) in %zu bytes",
                      size);
        goto cleanup;
    }
    if (!m->producer_name) {
        m->producer_name = ei_onnx_strdup("");
        if (!m->producer_name) {
            st = ei_onnx_oom("the model");
            goto cleanup;
        }
    }
    EI_TRY(ei_onnx_graph(&cx, &r, &graph_f, NULL, &m->graph));
    *out = m;
    m = NULL;
cleanup:
    if (st == EI_STATUS_INVALID_MODEL) ei_error_prefix("invalid model");
    ei_model_free(m);
    return st;
}

/* --------------------------------------------------------------------- files */

bool ei_map_file(const char *path, void **out, size_t *size) {
    struct stat sb;
    *out = NULL;
    *size = 0;
    int fd = path ? open(path, O_RDONLY) : -1;
    if (fd < 0) return false;
    bool ok = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
              (uint64_t)sb.st_size < (uint64_t)SIZE_MAX;
    void *p = ok ? mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
    close(fd);
    if (p == MAP_FAILED) return false;
    *out = p;
    *size = (size_t)sb.st_size;
    return true;
}

void ei_unmap_file(void *data, size_t size) {
    if (data) munmap(data, size);
}

ei_status ei_read_file(const char *path, void **out, size_t *size) {
    ei_status st = EI_STATUS_OK;
    int fd = -1;
    char *buf = NULL;
    struct stat sb;
    *out = NULL;
    *size = 0;
    if (!path) return ei_error(EI_STATUS_INVALID_ARGUMENT, "ei_read_file: path is NULL");
    fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        st = ei_error(EI_STATUS_IO, "cannot open '%s': %s", path, strerror(errno));
        goto cleanup;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = ei_error(EI_STATUS_IO, "cannot read '%s': %s", path, strerror(EISDIR));
        goto cleanup;
    }
    if (!S_ISREG(sb.st_mode)) { /* a FIFO or device could feed us forever */
        st = ei_error(EI_STATUS_IO, "cannot read '%s': not a regular file", path);
        goto cleanup;
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size >= (uint64_t)SIZE_MAX) {
        st = ei_error(EI_STATUS_IO, "cannot read '%s': file too large", path);
        goto cleanup;
    }
    size_t cap = (size_t)sb.st_size, len = 0;
    buf = malloc(cap + 1);
    if (!buf) {
        st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory reading '%s' (%zu bytes)", path, cap);
        goto cleanup;
    }
    while (1) { /* read to EOF: the size may differ from fstat's for special files */
        if (len == cap) {
            if (cap > SIZE_MAX / 2 - 1) {
                st = ei_error(EI_STATUS_IO, "cannot read '%s': file too large", path);
                goto cleanup;
            }
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                st = ei_error(EI_STATUS_OUT_OF_MEMORY, "out of memory reading '%s'", path);
                goto cleanup;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            st = ei_error(EI_STATUS_IO, "cannot read '%s': %s", path, strerror(errno));
            goto cleanup;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    *out = buf;
    *size = len;
    buf = NULL;
cleanup:
    if (fd >= 0) close(fd);
    free(buf);
    return st;
}
