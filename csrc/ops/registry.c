/*
 * registry.c - the op table generated from ops.def, and lookup by (domain, op, opset).
 * Per-op semantics live in the op files; this file only maps names to them.
 */
#include <string.h>

#include "core/core.h"

#define EI_OP(domain, name, since, id) extern const ei_op_fns ei_op_fns_##id;
#include "ops/ops.def"
#undef EI_OP

static const ei_op ei_op_table[] = {
#define EI_OP(domain, name, since, id) {domain, #name, since, &ei_op_fns_##id},
#include "ops/ops.def"
#undef EI_OP
    {NULL, NULL, 0, NULL}};

#define EI_OP_TABLE_SIZE ((int)(sizeof ei_op_table / sizeof ei_op_table[0]) - 1)

int ei_op_count(void) { return EI_OP_TABLE_SIZE; }

const ei_op *ei_op_at(int i) {
    return (i >= 0 && i < EI_OP_TABLE_SIZE) ? &ei_op_table[i] : NULL;
}

const ei_op *ei_op_find(const char *domain, const char *op_type, int opset) {
    const ei_op *best = NULL;
    if (!domain || !op_type) return NULL;
    if (strcmp(domain, "ai.onnx") == 0) domain = "";
    for (int i = 0; i < EI_OP_TABLE_SIZE; i++) {
        const ei_op *op = &ei_op_table[i];
        if (strcmp(op->name, op_type) != 0 || strcmp(op->domain, domain) != 0) continue;
        if (op->since_version <= opset && (!best || op->since_version > best->since_version))
            best = op;
    }
    return best;
}
