/*
 * fused_act.c - parses the activation/activation_params attributes of fused nodes into
 * an ei_act (kernels/kernels.h), which the producing op applies in its epilogue.
 */
#include <string.h>

#include "ops/fused_act.h"

static const struct {
    const char *name;
    ei_act_kind kind;
    size_t n_params; /* required count; defaults below when 0 params are given */
} ei_fused_acts[] = {
    {"Relu", EI_ACT_KIND_RELU, 0},           {"Clip", EI_ACT_KIND_CLIP, 2},
    {"Sigmoid", EI_ACT_KIND_SIGMOID, 0},     {"Tanh", EI_ACT_KIND_TANH, 0},
    {"LeakyRelu", EI_ACT_KIND_LEAKY_RELU, 1}, {"HardSigmoid", EI_ACT_KIND_HARD_SIGMOID, 2},
    {"HardSwish", EI_ACT_KIND_HARD_SWISH, 0}, {"SiLU", EI_ACT_KIND_SILU, 0},
    {"Gelu", EI_ACT_KIND_GELU, 0},
};

const char *ei_fused_act_name(ei_act_kind kind) {
    for (size_t i = 0; i < sizeof ei_fused_acts / sizeof ei_fused_acts[0]; i++)
        if (ei_fused_acts[i].kind == kind) return ei_fused_acts[i].name;
    return "";
}

ei_status ei_fused_act_parse(const ei_node *node, ei_act *out) {
    const char *name = "";
    const float *p = NULL;
    size_t np = 0;
    memset(out, 0, sizeof *out);
    EI_CHECK(ei_node_attr_string(node, "activation", "", &name));
    EI_CHECK(ei_node_attr_floats(node, "activation_params", &p, &np));
    if (!name[0]) {
        if (np)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "activation_params given without an activation");
        return EI_STATUS_OK;
    }
    for (size_t i = 0; i < sizeof ei_fused_acts / sizeof ei_fused_acts[0]; i++) {
        if (strcmp(name, ei_fused_acts[i].name) != 0) continue;
        if (np != ei_fused_acts[i].n_params)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "activation '%s' takes %zu activation_params, got %zu", name,
                                 ei_fused_acts[i].n_params, np);
        out->kind = ei_fused_acts[i].kind;
        if (out->kind == EI_ACT_KIND_HARD_SWISH) {
            out->alpha = 1.0f / 6.0f;
            out->beta = 0.5f;
        }
        if (np > 0) out->alpha = p[0];
        if (np > 1) out->beta = p[1];
        return EI_STATUS_OK;
    }
    return ei_node_error(node, EI_STATUS_INVALID_MODEL, "unknown fused activation '%s'", name);
}
