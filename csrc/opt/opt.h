/*
 * opt.h - graph -> graph passes run once at session creation, after every node's
 * prepare. Each pass has the same signature and reports whether it changed the graph;
 * ei_optimize runs them to a fixpoint.
 */
#ifndef EI_OPT_H
#define EI_OPT_H

#include "core/core.h"

typedef ei_status (*ei_pass_fn)(ei_exec *ex, bool *changed);

/* Computes nodes whose inputs are all constants, once; their outputs become constants. */
ei_status ei_pass_fold_constants(ei_exec *ex, bool *changed);
/* Removes Identity and inference-mode Dropout by wiring consumers to their input. */
ei_status ei_pass_eliminate_identity(ei_exec *ex, bool *changed);
/* Removes nodes none of whose outputs is used. */
ei_status ei_pass_eliminate_dead(ei_exec *ex, bool *changed);

/* level 0: nothing; level >= 1: every pass above. */
ei_status ei_optimize(ei_exec *ex, int level);

/* Removes nodes with remove[i] set (destroying their op state), compacts the node
 * array and recomputes every value's producer. */
ei_status ei_graph_remove_nodes(ei_graph *g, const bool *remove);
/* Number of node inputs (in g) that read value index v, plus one for each direct
 * subgraph of g's nodes that reads it by name as an outer-scope value. */
int ei_graph_count_uses(const ei_graph *g, int v);
/* Whether a subgraph attribute of node n reads value name as an outer-scope value. */
bool ei_node_subgraphs_read(const ei_node *n, const char *name);

#endif /* EI_OPT_H */
