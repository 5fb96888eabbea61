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

/* Folds an inference BatchNormalization into the Conv before it (W and B rewritten). */
ei_status ei_pass_fold_batch_norm(ei_exec *ex, bool *changed);
/* A zero constant-mode Pad of the spatial dims before a Conv -> the Conv's own pads. */
ei_status ei_pass_fuse_pad(ei_exec *ex, bool *changed);
/* Conv [+ residual Add] [+ activation] -> com.edgeinfer FusedConv. */
ei_status ei_pass_fuse_conv(ei_exec *ex, bool *changed);
/* MatMul [+ bias Add] [+ activation] -> com.edgeinfer FusedMatMul; Gemm + activation ->
 * com.edgeinfer FusedGemm. */
ei_status ei_pass_fuse_matmul(ei_exec *ex, bool *changed);
/* The BERT-style attention spelled out in MatMul/Div/Add/Softmax/MatMul with the head
 * Reshape/Transposes -> com.edgeinfer FusedAttention over [B,S,H*D] q, k, v. */
ei_status ei_pass_fuse_attention(ei_exec *ex, bool *changed);
/* The erf form of GELU spelled out in elementwise nodes -> one Gelu node. */
ei_status ei_pass_fuse_gelu(ei_exec *ex, bool *changed);
/* LayerNorm spelled out in ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add -> LayerNormalization. */
ei_status ei_pass_fuse_layer_norm(ei_exec *ex, bool *changed);
/* Transpose pairs that cancel or compose, chains of shape-only ops ending in a Reshape,
 * shape ops (and Casts) whose output equals their input. */
ei_status ei_pass_eliminate_reshapes(ei_exec *ex, bool *changed);

/* level 0: nothing; level >= 1: every pass above, to a fixpoint, except those named in
 * the environment variable EI_OPT_DISABLE (comma-separated: "fuse_conv,fuse_gelu"). */
ei_status ei_optimize(ei_exec *ex, int level);

/* Removes nodes with remove[i] set (destroying their op state), compacts the node
 * array and recomputes every value's producer. */
ei_status ei_graph_remove_nodes(ei_graph *g, const bool *remove);
/* Number of node inputs (in g) that read value index v, plus one for each direct
 * subgraph of g's nodes that reads it by name as an outer-scope value. */
int ei_graph_count_uses(const ei_graph *g, int v);
/* Whether a subgraph attribute of node n reads value name as an outer-scope value. */
bool ei_node_subgraphs_read(const ei_node *n, const char *name);

/* ------------------------------------------- helpers for the passes (rewrite.c) */

/* Whether n is the ONNX-domain op op_type. */
bool ei_opt_is(const ei_node *n, const char *op_type);
/* uses[v] for every value (malloc'd, caller frees): node inputs reading it, subgraphs
 * reading it by name, and one more for a graph output. */
ei_status ei_opt_count_uses(const ei_graph *g, int **out);
/* Node inputs (of nodes not removed) that read v; the first max node indices go to nodes. */
int ei_opt_consumers(const ei_graph *g, const bool *removed, int v, int *nodes, int max);
/* The node that reads v when that is v's only use (no graph output, no subgraph), or -1. */
int ei_opt_sole_consumer(const ei_graph *g, const int *uses, const bool *removed, int v);
/* v's data when it is a float32 constant (NULL otherwise), with its element count. */
const float *ei_opt_const_f32(const ei_graph *g, int v, size_t *numel);
/* Whether v is a float32 constant of one element and rank <= max_rank. */
bool ei_opt_const_scalar(const ei_graph *g, int v, int max_rank, float *out);
/* Makes value index an owned float32 constant holding data (ei_aligned_alloc'd, taken in
 * every case; may be the value's own data, rewritten in place), freeing what it owned
 * before. The passes reuse values that their rewrite
 * frees instead of adding new ones: the executor sizes its per-value tables before the
 * passes run. */
ei_status ei_opt_set_const_f32(ei_graph *g, int index, int rank, const int64_t *dims, float *data);

/* A new attribute: INT (i), FLOAT (f), STRING (s), FLOATS (floats, n) or INTS (ints, n). */
typedef struct ei_opt_attr {
    const char *name;
    ei_attr_type type;
    int64_t i;
    float f;
    const char *s;
    const float *floats;
    const int64_t *ints;
    size_t n;
} ei_opt_attr;

/* What replaces a node: one output; attributes copied from a node and/or new ones. */
typedef struct ei_opt_node {
    const char *name, *domain, *op_type;
    int opset;
    const int *inputs;
    int n_inputs;
    int output;
    const ei_node *copy_attrs_from;
    const ei_opt_attr *attrs;
    int n_attrs;
} ei_opt_node;

/* Replaces node `index` by spec, resolved in the op table and prepared now. When the op
 * is not there or its prepare refuses the spec, nothing changes and *done is false;
 * errors are returned only for out of memory. The new node keeps position `index`: the
 * caller puts it where all its inputs are already produced. */
ei_status ei_opt_replace_node(ei_exec *ex, int index, const ei_opt_node *spec, bool *done);
/* Points every input reading value from (in nodes not removed) at value to. */
void ei_opt_rewire(ei_graph *g, const bool *removed, int from, int to);
/* Removes the marked nodes if there are any and sets *changed. */
ei_status ei_opt_finish(ei_graph *g, const bool *removed, int n_removed, bool *changed);

/* -------------------------------------------- static shapes (shapes.c) */

typedef struct ei_opt_shape {
    ei_dtype dtype;
    int rank;
    int64_t dims[EI_MAX_RANK];
} ei_opt_shape;

typedef struct ei_opt_shapes {
    int n;
    bool *known;
    ei_opt_shape *v;
} ei_opt_shapes;

/* When every graph input of a top-level graph has a static declared shape, the shape of
 * each value that follows from them by the ops' infer (all unknown otherwise); the
 * graph itself is left as it was. Free with ei_opt_shapes_free. */
ei_status ei_opt_infer_shapes(ei_exec *ex, ei_opt_shapes *out);
void ei_opt_shapes_free(ei_opt_shapes *s);
/* Shape of v: constants always, others from s when known. */
bool ei_opt_shape_of(const ei_opt_shapes *s, const ei_graph *g, int v, int *rank, const int64_t **dims);
/* Whether a and b are both known and have the same shape. */
bool ei_opt_same_shape(const ei_opt_shapes *s, const ei_graph *g, int a, int b);

/* ------------------------------------- activation patterns (match_act.c) */

#define EI_OPT_ACT_MAX_NODES 8

/* An activation found after a value: the fused-activation attributes for it, the nodes
 * it consists of and the value it produces. */
typedef struct ei_opt_act {
    const char *name; /* activation attribute ("Relu", ...) */
    float params[2];
    int n_params;
    int nodes[EI_OPT_ACT_MAX_NODES];
    int n_nodes;
    int output;
} ei_opt_act;

/* Whether the readers of float32 value y are exactly an activation that the fused-act
 * epilogue computes: Relu, Clip (constant bounds), Sigmoid, Tanh, LeakyRelu, HardSigmoid,
 * HardSwish, Gelu (exact), x*Sigmoid(x) (SiLU), the erf GELU spelled out. y_rank_ge1:
 * y is known to have rank >= 1 (so [1]-shaped constants do not broadcast it up). */
bool ei_opt_match_act(const ei_graph *g, const int *uses, const bool *removed, int y,
                      bool y_rank_ge1, ei_opt_act *out);
/* The erf GELU over x: x*0.5*(1+Erf(x/sqrt(2))) in the orders exporters write it. */
bool ei_opt_match_gelu_erf(const ei_graph *g, const int *uses, const bool *removed, int x,
                           bool x_rank_ge1, ei_opt_act *out);

#endif /* EI_OPT_H */
