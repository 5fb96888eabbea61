/*
 * fused_act.h - reads the fused-activation attributes that the fusion passes put on
 * edgeinfer's internal fused nodes (domain "com.edgeinfer"):
 *   activation: string, one of Relu, Clip, Sigmoid, Tanh, LeakyRelu, HardSigmoid,
 *               HardSwish, SiLU, Gelu (absent or "" = none)
 *   activation_params: floats - Clip [min, max], LeakyRelu [alpha],
 *               HardSigmoid [alpha, beta]; others none.
 */
#ifndef EI_OPS_FUSED_ACT_H
#define EI_OPS_FUSED_ACT_H

#include "core/core.h"
#include "kernels/kernels.h"

/* Domain of the internal fused ops. */
#define EI_DOMAIN_EDGEINFER "com.edgeinfer"

/* Fills *out from node's attributes (kind NONE when there is no activation attribute);
 * INVALID_MODEL naming the node on an unknown activation or a wrong parameter count. */
ei_status ei_fused_act_parse(const ei_node *node, ei_act *out);

/* The ONNX op name of an activation kind ("Relu", ...), "" for NONE. */
const char *ei_fused_act_name(ei_act_kind kind);

#endif /* EI_OPS_FUSED_ACT_H */
