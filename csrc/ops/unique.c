/*
 * unique.c - Unique (opset 11): the distinct elements (or, with 'axis', the distinct slices
 * along it, compared lexicographically) of a numeric tensor, sorted ascending (sorted=1) or
 * in order of first occurrence, with the optional outputs indices (first occurrence),
 * inverse_indices and counts as int64. The output size depends on the data: the node is
 * dynamic and sizes its outputs when it runs. A stable merge sort of slice numbers in
 * scratch keeps first occurrences first; NaNs sort last and compare equal to each other.
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

typedef struct unique_state {
    bool has_axis;
    int64_t axis_attr, sorted;
    /* from the last infer */
    int axis;
    size_t outer, len, inner;
} unique_state;

static ei_status unique_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    unique_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 1, 1, 4));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    s->has_axis = ei_node_attr(node, "axis") != NULL;
    EI_TRY(ei_node_attr_int(node, "axis", 0, &s->axis_attr));
    EI_TRY(ei_node_attr_int(node, "sorted", 1, &s->sorted));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static bool unique_dtype_ok(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_F32:
    case EI_DTYPE_F64:
    case EI_DTYPE_I8:
    case EI_DTYPE_I16:
    case EI_DTYPE_I32:
    case EI_DTYPE_I64:
    case EI_DTYPE_U8:
    case EI_DTYPE_U16:
    case EI_DTYPE_U32:
    case EI_DTYPE_U64: return true;
    default: return false;
    }
}

static ei_status unique_infer(ei_exec *ex, ei_node *node) {
    unique_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    size_t bytes;
    if (!unique_dtype_ok(x->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64 and 8 to 64-bit "
                             "integers",
                             x->name, ei_dtype_name(x->dtype));
    s->outer = s->inner = 1;
    if (s->has_axis) {
        if (x->rank == 0 || !ei_elem_norm_axis(s->axis_attr, x->rank, &s->axis))
            return ei_node_error(
                node, EI_STATUS_INVALID_MODEL,
                "attribute 'axis' = %lld is out of range for input '%s' of rank %d",
                (long long)s->axis_attr, x->name, x->rank);
        for (int i = 0; i < x->rank; i++) {
            if (i < s->axis) s->outer *= (size_t)x->dims[i];
            if (i > s->axis) s->inner *= (size_t)x->dims[i];
        }
        s->len = (size_t)x->dims[s->axis];
    } else {
        s->len = ei_value_numel(x);
    }
    /* order, tmp, first, count, remap: five size_t per slice */
    if (!ei_size_mul(s->len, 5 * sizeof(size_t), &bytes))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "input '%s' is too large", x->name);
    node->scratch_bytes = bytes;
    node->dynamic = true; /* the number of distinct values is known only by computing */
    return EI_STATUS_OK;
}

/* Three-way comparison of slices a and b (element by element in (outer, inner) order). */
#define UNIQUE_CMP(NAME, T, ISNAN)                                                                 \
    static int NAME(const unique_state *s, const void *data, size_t a, size_t b) {                 \
        const T *x = data;                                                                         \
        for (size_t o = 0; o < s->outer; o++) {                                                    \
            const T *pa = x + (o * s->len + a) * s->inner, *pb = x + (o * s->len + b) * s->inner;  \
            for (size_t j = 0; j < s->inner; j++) {                                                \
                T u = pa[j], v = pb[j];                                                            \
                bool nu = ISNAN(u), nv = ISNAN(v);                                                 \
                if (nu || nv) {                                                                    \
                    if (nu && nv) continue;                                                        \
                    return nu ? 1 : -1;                                                            \
                }                                                                                  \
                if (u < v) return -1;                                                              \
                if (u > v) return 1;                                                               \
            }                                                                                      \
        }                                                                                          \
        return 0;                                                                                  \
    }
#define UNIQUE_FNAN(v) ((v) != (v))
#define UNIQUE_NONAN(v) ((void)(v), false)
UNIQUE_CMP(unique_cmp_f32, float, UNIQUE_FNAN)
UNIQUE_CMP(unique_cmp_f64, double, UNIQUE_FNAN)
UNIQUE_CMP(unique_cmp_i8, int8_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_i16, int16_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_i32, int32_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_i64, int64_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_u8, uint8_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_u16, uint16_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_u32, uint32_t, UNIQUE_NONAN)
UNIQUE_CMP(unique_cmp_u64, uint64_t, UNIQUE_NONAN)

typedef int (*unique_cmp_fn)(const unique_state *, const void *, size_t, size_t);

static unique_cmp_fn unique_cmp_for(ei_dtype t) {
    switch (t) {
    case EI_DTYPE_F32: return unique_cmp_f32;
    case EI_DTYPE_F64: return unique_cmp_f64;
    case EI_DTYPE_I8: return unique_cmp_i8;
    case EI_DTYPE_I16: return unique_cmp_i16;
    case EI_DTYPE_I32: return unique_cmp_i32;
    case EI_DTYPE_I64: return unique_cmp_i64;
    case EI_DTYPE_U8: return unique_cmp_u8;
    case EI_DTYPE_U16: return unique_cmp_u16;
    case EI_DTYPE_U32: return unique_cmp_u32;
    default: return unique_cmp_u64;
    }
}

/* Stable bottom-up merge sort of the slice numbers a[0..n) (tmp holds n) by cmp on their
 * slices; with cmp NULL the numbers themselves are compared. */
static void unique_sort(size_t *a, size_t *tmp, size_t n, unique_cmp_fn cmp, const unique_state *s,
                        const void *data) {
    size_t *src = a, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                bool take_right = cmp ? cmp(s, data, src[j], src[i]) < 0 : src[j] < src[i];
                dst[k++] = take_right ? src[j++] : src[i++];
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        size_t *t = src;
        src = dst;
        dst = t;
        if (w > n / 2) break;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

static ei_status unique_run(ei_exec *ex, ei_node *node) {
    const unique_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    const size_t len = s->len, es = ei_dtype_size(x->dtype);
    static size_t none[1]; /* stands in for the scratch of an empty input */
    size_t *order = len ? (size_t *)node->scratch : none;
    size_t *tmp = len ? order + len : none, *first = len ? tmp + len : none,
           *count = len ? first + len : none, *remap = len ? count + len : none;
    unique_cmp_fn cmp = unique_cmp_for(x->dtype);
    size_t groups = 0;
    int64_t dims[EI_MAX_RANK];
    /* Empty slices (inner or outer 0) all compare equal: one group if len > 0. */
    for (size_t i = 0; i < len; i++)
        order[i] = i;
    if (len > 1) unique_sort(order, tmp, len, cmp, s, x->data);
    /* Groups in sorted order: first occurrence (stable sort: the group's first entry) and
     * count; tmp[slice] = its sorted group number. */
    for (size_t i = 0; i < len; i++) {
        if (i == 0 || cmp(s, x->data, order[i - 1], order[i]) != 0) {
            first[groups] = order[i];
            count[groups] = 0;
            groups++;
        }
        count[groups - 1]++;
        tmp[order[i]] = groups - 1;
    }
    /* Output order of the groups: remap[out] = sorted group; order[sorted group] = out. */
    for (size_t g = 0; g < groups; g++)
        remap[g] = g;
    if (!s->sorted) {
        /* Sort the first occurrences (distinct slice numbers) and map each back to its group. */
        for (size_t g = 0; g < groups; g++)
            order[g] = first[g];
        unique_sort(order, remap, groups, NULL, s, NULL);
        for (size_t g = 0; g < groups; g++)
            remap[g] = tmp[order[g]]; /* group of that first occurrence */
    }
    for (size_t g = 0; g < groups; g++)
        order[remap[g]] = g;

    /* Y */
    int rank = 1;
    if (s->has_axis) {
        rank = x->rank;
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
        dims[s->axis] = (int64_t)groups;
    } else {
        dims[0] = (int64_t)groups;
    }
    EI_CHECK(ei_node_alloc_output(ex, node, 0, x->dtype, rank, dims));
    {
        char *y = ei_node_out(ex, node, 0)->data;
        const char *xd = x->data;
        const size_t row = s->inner * es;
        if (row)
            for (size_t o = 0; o < s->outer; o++)
                for (size_t g = 0; g < groups; g++)
                    memcpy(y + (o * groups + g) * row, xd + (o * len + first[remap[g]]) * row, row);
    }
    int64_t gd = (int64_t)groups, ld = (int64_t)len;
    if (ei_node_out(ex, node, 1)) {
        EI_CHECK(ei_node_alloc_output(ex, node, 1, EI_DTYPE_I64, 1, &gd));
        int64_t *p = ei_node_out(ex, node, 1)->data;
        for (size_t g = 0; g < groups; g++)
            p[g] = (int64_t)first[remap[g]];
    }
    if (ei_node_out(ex, node, 2)) {
        EI_CHECK(ei_node_alloc_output(ex, node, 2, EI_DTYPE_I64, 1, &ld));
        int64_t *p = ei_node_out(ex, node, 2)->data;
        for (size_t i = 0; i < len; i++)
            p[i] = (int64_t)order[tmp[i]];
    }
    if (ei_node_out(ex, node, 3)) {
        EI_CHECK(ei_node_alloc_output(ex, node, 3, EI_DTYPE_I64, 1, &gd));
        int64_t *p = ei_node_out(ex, node, 3)->data;
        for (size_t g = 0; g < groups; g++)
            p[g] = (int64_t)count[remap[g]];
    }
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_unique = {
    unique_prepare, unique_infer, unique_run, free,
    .dtypes = "float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64"};
