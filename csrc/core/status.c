/*
 * status.c - the thread-local error message behind ei_last_error, status and dtype
 * names, and shape helpers shared by every module.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"

#define EI_ERROR_MAX 4096

static _Thread_local char ei_error_buf[EI_ERROR_MAX];

static void ei_error_vset(const char *prefix, const char *fmt, va_list ap) {
    size_t len = 0;
    if (prefix) {
        int w = snprintf(ei_error_buf, sizeof ei_error_buf, "%s", prefix);
        len = (w < 0) ? 0 : ((size_t)w >= sizeof ei_error_buf ? sizeof ei_error_buf - 1 : (size_t)w);
    }
    vsnprintf(ei_error_buf + len, sizeof ei_error_buf - len, fmt, ap);
}

ei_status ei_error(ei_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    ei_error_vset(NULL, fmt, ap);
    va_end(ap);
    return code;
}

ei_status ei_node_error(const ei_node *node, ei_status code, const char *fmt, ...) {
    char prefix[320];
    snprintf(prefix, sizeof prefix, "node '%s' (%s): ", node && node->name ? node->name : "?",
             node && node->op_type ? node->op_type : "?");
    va_list ap;
    va_start(ap, fmt);
    ei_error_vset(prefix, fmt, ap);
    va_end(ap);
    return code;
}

void ei_error_prefix(const char *fmt, ...) {
    char old[EI_ERROR_MAX];
    char prefix[512];
    memcpy(old, ei_error_buf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t plen = strlen(prefix);
    if (plen > EI_ERROR_MAX - 3) plen = EI_ERROR_MAX - 3;
    memcpy(ei_error_buf, prefix, plen);
    ei_error_buf[plen] = ':';
    ei_error_buf[plen + 1] = ' ';
    size_t rest = EI_ERROR_MAX - plen - 3;
    size_t olen = 0;
    while (olen < rest && old[olen]) olen++;
    memcpy(ei_error_buf + plen + 2, old, olen);
    ei_error_buf[plen + 2 + olen] = '\0';
}

const char *ei_last_error(void) { return ei_error_buf; }

const char *ei_status_name(ei_status status) {
    switch (status) {
    case EI_STATUS_OK: return "OK";
    case EI_STATUS_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case EI_STATUS_INVALID_MODEL: return "INVALID_MODEL";
    case EI_STATUS_UNSUPPORTED: return "UNSUPPORTED";
    case EI_STATUS_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case EI_STATUS_IO: return "IO";
    case EI_STATUS_INDEX_OUT_OF_RANGE: return "INDEX_OUT_OF_RANGE";
    case EI_STATUS_INTERNAL: return "INTERNAL";
    }
    return "UNKNOWN";
}

const char *ei_dtype_name(ei_dtype dtype) {
    switch (dtype) {
    case EI_DTYPE_UNDEFINED: return "undefined";
    case EI_DTYPE_F32: return "float32";
    case EI_DTYPE_U8: return "uint8";
    case EI_DTYPE_I8: return "int8";
    case EI_DTYPE_U16: return "uint16";
    case EI_DTYPE_I16: return "int16";
    case EI_DTYPE_I32: return "int32";
    case EI_DTYPE_I64: return "int64";
    case EI_DTYPE_STRING: return "string";
    case EI_DTYPE_BOOL: return "bool";
    case EI_DTYPE_F16: return "float16";
    case EI_DTYPE_F64: return "float64";
    case EI_DTYPE_U32: return "uint32";
    case EI_DTYPE_U64: return "uint64";
    case EI_DTYPE_BF16: return "bfloat16";
    case EI_DTYPE_F8E4M3FN: return "float8e4m3fn";
    case EI_DTYPE_F8E4M3FNUZ: return "float8e4m3fnuz";
    case EI_DTYPE_F8E5M2: return "float8e5m2";
    case EI_DTYPE_F8E5M2FNUZ: return "float8e5m2fnuz";
    case EI_DTYPE_F8E8M0: return "float8e8m0";
    case EI_DTYPE_U4: return "uint4";
    case EI_DTYPE_I4: return "int4";
    case EI_DTYPE_F4E2M1: return "float4e2m1";
    case EI_DTYPE_U2: return "uint2";
    case EI_DTYPE_I2: return "int2";
    }
    return "unknown";
}

size_t ei_dtype_size(ei_dtype dtype) {
    switch (dtype) {
    case EI_DTYPE_F32: case EI_DTYPE_I32: case EI_DTYPE_U32: return 4;
    case EI_DTYPE_U8: case EI_DTYPE_I8: case EI_DTYPE_BOOL: return 1;
    case EI_DTYPE_F8E4M3FN: case EI_DTYPE_F8E4M3FNUZ: case EI_DTYPE_F8E5M2:
    case EI_DTYPE_F8E5M2FNUZ: case EI_DTYPE_F8E8M0: return 1;
    case EI_DTYPE_U16: case EI_DTYPE_I16: case EI_DTYPE_F16: case EI_DTYPE_BF16: return 2;
    case EI_DTYPE_I64: case EI_DTYPE_F64: case EI_DTYPE_U64: return 8;
    case EI_DTYPE_UNDEFINED: case EI_DTYPE_STRING: return 0;
    case EI_DTYPE_U4: case EI_DTYPE_I4: case EI_DTYPE_F4E2M1: case EI_DTYPE_U2: case EI_DTYPE_I2:
        return 0; /* packed: see ei_dtype_bits */
    }
    return 0;
}

size_t ei_dtype_bits(ei_dtype dtype) {
    switch (dtype) {
    case EI_DTYPE_U4: case EI_DTYPE_I4: case EI_DTYPE_F4E2M1: return 4;
    case EI_DTYPE_U2: case EI_DTYPE_I2: return 2;
    default: return 8 * ei_dtype_size(dtype);
    }
}

bool ei_dtype_nbytes(ei_dtype dtype, size_t numel, size_t *out) {
    size_t bits;
    if (!ei_size_mul(numel, ei_dtype_bits(dtype), &bits) || bits > SIZE_MAX - 7) return false;
    *out = bits / 8 + (bits % 8 != 0);
    return true;
}

const char *ei_version(void) { return "0.1.0"; }

bool ei_shape_numel(int rank, const int64_t *dims, size_t *out) {
    size_t n = 1;
    if (rank < 0 || rank > EI_MAX_RANK) return false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return false;
#if SIZE_MAX < UINT64_MAX /* 32-bit targets: a dim may not fit size_t */
        if ((uint64_t)dims[i] > SIZE_MAX) return false;
#endif
        if (!ei_size_mul(n, (size_t)dims[i], &n)) return false;
    }
#if SIZE_MAX > (1ull << 62)
    if (n > ((size_t)1 << 62)) return false;
#endif
    *out = n;
    return true;
}

const char *ei_shape_str(int rank, const int64_t *dims, char *buf, size_t size) {
    size_t len = 0;
    if (size == 0) return buf;
    buf[0] = '\0';
    if (rank < 0) {
        snprintf(buf, size, "[unknown]");
        return buf;
    }
    len += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < rank && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}

size_t ei_value_numel(const ei_value *v) {
    size_t n = 1;
    for (int i = 0; i < v->rank; i++) n *= (size_t)v->dims[i];
    return n;
}

ei_status ei_value_set_shape(ei_value *v, ei_dtype dtype, int rank, const int64_t *dims) {
    size_t numel, nbytes;
    char buf[160];
    if (rank < 0 || rank > EI_MAX_RANK)
        return ei_error(EI_STATUS_UNSUPPORTED, "tensor '%s': rank %d is above the supported %d",
                        v->name ? v->name : "?", rank, EI_MAX_RANK);
    if (!ei_shape_numel(rank, dims, &numel) || !ei_dtype_nbytes(dtype, numel, &nbytes))
        return ei_error(EI_STATUS_INVALID_MODEL, "tensor '%s': invalid or too large shape %s",
                        v->name ? v->name : "?", ei_shape_str(rank, dims, buf, sizeof buf));
    v->dtype = dtype;
    v->rank = rank;
    for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
    v->nbytes = nbytes;
    return EI_STATUS_OK;
}
