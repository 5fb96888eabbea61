/*
 * act.c - the fused-activation epilogue (ei_f32_act_apply): maps an ei_act onto the
 * activation kernel slots; the few activations without a slot of their own are built
 * from slots in stack-sized blocks, so nothing is allocated.
 */
#include <math.h>

#include "kernels/kernels.h"

/* Block for the two-step activations: 1 KiB of stack, fits L1 with the data. */
#define EI_ACT_BLOCK 256

void ei_f32_act_apply(const ei_act *act, size_t n, float *x) {
    const ei_kernel_table *k = ei_kernels();
    float t[EI_ACT_BLOCK];
    switch (act->kind) {
    case EI_ACT_KIND_NONE: return;
    case EI_ACT_KIND_RELU: k->f32_relu(n, x, x); return;
    case EI_ACT_KIND_CLIP: k->f32_clamp(n, x, act->alpha, act->beta, x); return;
    case EI_ACT_KIND_SIGMOID: k->f32_sigmoid(n, x, x); return;
    case EI_ACT_KIND_TANH: k->f32_tanh(n, x, x); return;
    case EI_ACT_KIND_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0.0f ? x[i] * act->alpha : x[i];
        return;
    case EI_ACT_KIND_HARD_SIGMOID:
        k->f32_vaffine(n, x, act->alpha, act->beta, x);
        k->f32_clamp(n, x, 0.0f, 1.0f, x);
        return;
    case EI_ACT_KIND_HARD_SWISH:
    case EI_ACT_KIND_SILU:
        for (size_t i = 0; i < n; i += EI_ACT_BLOCK) {
            size_t m = n - i < EI_ACT_BLOCK ? n - i : EI_ACT_BLOCK;
            if (act->kind == EI_ACT_KIND_SILU) {
                k->f32_sigmoid(m, x + i, t);
            } else {
                k->f32_vaffine(m, x + i, act->alpha, act->beta, t);
                k->f32_clamp(m, t, 0.0f, 1.0f, t);
            }
            k->f32_vmul(m, x + i, t, x + i);
        }
        return;
    case EI_ACT_KIND_GELU: k->f32_gelu(n, x, x); return;
    }
}
