/*
 * col2im.c - Col2Im (opset 18): the inverse of im2col. Input [N, C * prod(block), L] holds
 * one column per sliding block position; each element is added into image [N, C, *image]
 * at block_pos * stride - pad_begin + kernel_offset * dilation when inside the image.
 * N-D (image_shape of k >= 1 dims); image_shape and block_shape must be known at reshape or
 * are read when the node runs. float32/float64, accumulated in the output's type in
 * column order (like the ONNX reference).
 */
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"

#define C2I_MAX_K (EI_MAX_RANK - 2)
#define C2I_LIMIT ((int64_t)1 << 31) /* every size and attribute below 2^31: int64 math is safe */

typedef struct c2i_state {
    const int64_t *dil_attr, *pad_attr, *str_attr;
    size_t n_dil, n_pad, n_str;
    /* from the last infer */
    int k;
    int64_t img[C2I_MAX_K], blk[C2I_MAX_K], nb[C2I_MAX_K], dil[C2I_MAX_K], str[C2I_MAX_K],
        pad[C2I_MAX_K];
    size_t n, c, kernel, l, img_numel;
} c2i_state;

static ei_status c2i_prepare(ei_exec *ex, ei_node *node) {
    (void)ex;
    ei_status st = EI_STATUS_OK;
    c2i_state *s = NULL;
    EI_TRY(ei_elem_check_io(node, 3, 3, 1));
    s = calloc(1, sizeof *s);
    if (!s) {
        st = ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory");
        goto cleanup;
    }
    EI_TRY(ei_node_attr_ints(node, "dilations", &s->dil_attr, &s->n_dil));
    EI_TRY(ei_node_attr_ints(node, "pads", &s->pad_attr, &s->n_pad));
    EI_TRY(ei_node_attr_ints(node, "strides", &s->str_attr, &s->n_str));
    node->state = s;
    s = NULL;
cleanup:
    free(s);
    return st;
}

static ei_status c2i_infer(ei_exec *ex, ei_node *node) {
    c2i_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0), *iv = ei_node_in(ex, node, 1),
                   *bv = ei_node_in(ex, node, 2);
    int64_t dims[EI_MAX_RANK];
    size_t ni = 0, nbk = 0, kernel = 1, blocks = 1;
    char b[160];
    if (x->dtype != EI_DTYPE_F32 && x->dtype != EI_DTYPE_F64)
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "input '%s' has dtype %s; supported: float32, float64", x->name,
                             ei_dtype_name(x->dtype));
    if (x->rank != 3)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must be [N, C * prod(block_shape), L]", x->name,
                             ei_shape_str(x->rank, x->dims, b, sizeof b));
    if (!ei_input_ready(ex, iv) || !ei_input_ready(ex, bv)) {
        node->dynamic = true; /* fed at run time: known when it runs */
        return EI_STATUS_OK;
    }
    EI_CHECK(ei_elem_read_ints(node, iv, "image_shape", s->img, C2I_MAX_K, &ni));
    EI_CHECK(ei_elem_read_ints(node, bv, "block_shape", s->blk, C2I_MAX_K, &nbk));
    const int k = (int)ni;
    if (ni == 0 || ni != nbk)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "inputs '%s' (image_shape) and '%s' (block_shape) must hold the same "
                             "number (>= 1) of values, got %zu and %zu",
                             iv->name, bv->name, ni, nbk);
    if ((s->dil_attr && s->n_dil != ni) || (s->str_attr && s->n_str != ni) ||
        (s->pad_attr && s->n_pad != 2 * ni))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attributes 'dilations', 'strides' need %d values and 'pads' %d", k,
                             2 * k);
    s->k = k;
    for (int i = 0; i < k; i++) {
        s->dil[i] = s->dil_attr ? s->dil_attr[i] : 1;
        s->str[i] = s->str_attr ? s->str_attr[i] : 1;
        s->pad[i] = s->pad_attr ? s->pad_attr[i] : 0;
        int64_t pe = s->pad_attr ? s->pad_attr[i + k] : 0;
        if (s->img[i] < 0 || s->img[i] >= C2I_LIMIT || s->blk[i] < 1 || s->blk[i] >= C2I_LIMIT ||
            s->dil[i] < 1 || s->dil[i] >= C2I_LIMIT || s->str[i] < 1 || s->str[i] >= C2I_LIMIT ||
            s->pad[i] < 0 || s->pad[i] >= C2I_LIMIT || pe < 0 || pe >= C2I_LIMIT)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "dim %d: image %lld, block %lld, dilation %lld, stride %lld, pads "
                                 "%lld/%lld out of range (block, dilation, stride >= 1; pads >= 0)",
                                 i, (long long)s->img[i], (long long)s->blk[i],
                                 (long long)s->dil[i], (long long)s->str[i], (long long)s->pad[i],
                                 (long long)pe);
        int64_t span = s->img[i] + s->pad[i] + pe - s->dil[i] * (s->blk[i] - 1) - 1;
        s->nb[i] = span < 0 ? 0 : span / s->str[i] + 1;
        if (s->nb[i] < 1)
            return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                                 "dim %d: the dilated block (%lld, dilation %lld) does not fit the "
                                 "padded image (%lld)",
                                 i, (long long)s->blk[i], (long long)s->dil[i],
                                 (long long)(s->img[i] + s->pad[i] + pe));
        if (!ei_size_mul(kernel, (size_t)s->blk[i], &kernel) ||
            !ei_size_mul(blocks, (size_t)s->nb[i], &blocks))
            return ei_node_error(node, EI_STATUS_INVALID_MODEL, "block or image sizes overflow");
    }
    if ((size_t)x->dims[1] % kernel != 0 || (size_t)x->dims[2] != blocks)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input '%s' %s must be [N, C * %zu, %zu] for these image and block "
                             "shapes",
                             x->name, ei_shape_str(x->rank, x->dims, b, sizeof b), kernel, blocks);
    s->n = (size_t)x->dims[0];
    s->kernel = kernel;
    s->c = (size_t)x->dims[1] / kernel;
    s->l = blocks;
    dims[0] = x->dims[0];
    dims[1] = (int64_t)s->c;
    for (int i = 0; i < k; i++)
        dims[2 + i] = s->img[i];
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), x->dtype, k + 2, dims));
    s->img_numel = 1;
    for (int i = 0; i < k; i++)
        s->img_numel *= (size_t)s->img[i]; /* bounded by the output's element count */
    return EI_STATUS_OK;
}

#define C2I_IMPL(NAME, T)                                                                          \
    static void NAME(const c2i_state *s, const T *x, T *y) {                                       \
        const int k = s->k;                                                                        \
        int64_t ko[C2I_MAX_K] = {0};                                                               \
        for (size_t kk = 0; kk < s->kernel; kk++) {                                                \
            int64_t bo[C2I_MAX_K] = {0};                                                           \
            for (size_t l = 0; l < s->l; l++) {                                                    \
                size_t off = 0;                                                                    \
                bool in = true;                                                                    \
                for (int i = 0; i < k && in; i++) {                                                \
                    int64_t p = bo[i] * s->str[i] - s->pad[i] + ko[i] * s->dil[i];                 \
                    if (p < 0 || p >= s->img[i]) in = false;                                       \
                    off = off * (size_t)s->img[i] + (size_t)p;                                     \
                }                                                                                  \
                if (in)                                                                            \
                    for (size_t n = 0; n < s->n; n++)                                              \
                        for (size_t c = 0; c < s->c; c++)                                          \
                            y[(n * s->c + c) * s->img_numel + off] +=                              \
                                x[((n * s->c + c) * s->kernel + kk) * s->l + l];                   \
                for (int i = k - 1; i >= 0; i--) { /* next block position */                       \
                    if (++bo[i] < s->nb[i]) break;                                                 \
                    bo[i] = 0;                                                                     \
                }                                                                                  \
            }                                                                                      \
            for (int i = k - 1; i >= 0; i--) { /* next kernel offset */                            \
                if (++ko[i] < s->blk[i]) break;                                                    \
                ko[i] = 0;                                                                         \
            }                                                                                      \
        }                                                                                          \
    }
C2I_IMPL(c2i_f32, float)
C2I_IMPL(c2i_f64, double)

static ei_status c2i_run(ei_exec *ex, ei_node *node) {
    const c2i_state *s = node->state;
    const ei_value *x = ei_node_in(ex, node, 0);
    ei_value *y = ei_node_out(ex, node, 0);
    if (y->nbytes) memset(y->data, 0, y->nbytes);
    if (s->n == 0 || s->c == 0 || s->img_numel == 0) return EI_STATUS_OK;
    if (x->dtype == EI_DTYPE_F32)
        c2i_f32(s, x->data, y->data);
    else
        c2i_f64(s, x->data, y->data);
    return EI_STATUS_OK;
}

const ei_op_fns ei_op_fns_col2im = {c2i_prepare, c2i_infer, c2i_run, free,
                                    .dtypes = "float32 float64"};
