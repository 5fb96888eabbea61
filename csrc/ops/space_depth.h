/*
 * space_depth.h - the `blocksize` attribute that DepthToSpace and SpaceToDepth share
 * (required, 1 to 2^20). Their shapes and copies stay in the op files.
 */
#ifndef EI_OPS_SPACE_DEPTH_H
#define EI_OPS_SPACE_DEPTH_H

#include "core/core.h"

static inline ei_status ei_space_depth_blocksize(const ei_node *node, int64_t *block) {
    if (!ei_node_attr(node, "blocksize"))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL, "attribute 'blocksize' is required");
    EI_CHECK(ei_node_attr_int(node, "blocksize", 0, block));
    if (*block < 1 || *block > (1 << 20))
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "attribute 'blocksize' = %lld must be >= 1", (long long)*block);
    return EI_STATUS_OK;
}

#endif
