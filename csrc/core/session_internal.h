/*
 * session_internal.h - pieces of the session shared with opt/ (constant folding).
 */
#ifndef EI_SESSION_INTERNAL_H
#define EI_SESSION_INTERNAL_H

#include "core/core.h"

/* Runs node n now (its infer must have succeeded) with each present output in a
 * buffer from alloc(ctx, nbytes); on success adds flag to the outputs' flags. */
ei_status ei_session_eval_node(ei_exec *ex, ei_node *n, void *(*alloc)(void *ctx, size_t size),
                               void *ctx, uint32_t flag);

#endif /* EI_SESSION_INTERNAL_H */
