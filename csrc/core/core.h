/*
 * core.h - the engine's internal model: error helpers, checked size arithmetic,
 * the graph IR (values, nodes, attributes, graphs), and the op vtable that ops/
 * implements. Nothing here knows protobuf (onnx/) or SIMD (kernels/).
 */
#ifndef EI_CORE_H
#define EI_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeinfer/edgeinfer.h"

#if defined(__GNUC__)
#define EI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EI_PRINTF(a, b)
#endif

/* ---------------------------------------------------------------- errors */

struct ei_node;

/* Sets the thread-local error message and returns code. */
ei_status ei_error(ei_status code, const char *fmt, ...) EI_PRINTF(2, 3);
/* Same, prefixed with "node 'NAME' (OpType): ". */
ei_status ei_node_error(const struct ei_node *node, ei_status code, const char *fmt, ...)
    EI_PRINTF(3, 4);
/* Prefixes the current message with "PREFIX: " (used to add context while unwinding). */
void ei_error_prefix(const char *fmt, ...) EI_PRINTF(1, 2);

#define EI_CHECK(expr)                                                                   \
    do {                                                                                 \
        ei_status ei_s_ = (expr);                                                        \
        if (ei_s_ != EI_STATUS_OK) return ei_s_;                                         \
    } while (0)

/* For functions with one cleanup label: `ei_status st = EI_STATUS_OK; ... cleanup:` */
#define EI_TRY(expr)                                                                     \
    do {                                                                                 \
        st = (expr);                                                                     \
        if (st != EI_STATUS_OK) goto cleanup;                                            \
    } while (0)

/* ------------------------------------------------------ checked arithmetic */

static inline bool ei_size_mul(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool ei_size_add(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}
/* Element count of a shape; false if a dim is negative or the product overflows
 * (or exceeds 2^62 elements). rank 0 -> 1. */
bool ei_shape_numel(int rank, const int64_t *dims, size_t *out);
/* "[1,3,224,224]" into buf (always NUL-terminated); returns buf. */
const char *ei_shape_str(int rank, const int64_t *dims, char *buf, size_t size);

/* ------------------------------------------------------------------ values */

enum {
    EI_VALUE_FLAG_CONST = 1u << 0,     /* data known at creation (initializer, Constant, folded) */
    EI_VALUE_FLAG_INPUT = 1u << 1,     /* graph input: data bound by the caller at run */
    EI_VALUE_FLAG_OUTPUT = 1u << 2,    /* graph output: written into the caller's buffer */
    EI_VALUE_FLAG_OWNS_DATA = 1u << 3, /* data is malloc'd and freed with the value */
    EI_VALUE_FLAG_KNOWN = 1u << 4,     /* data computed during reshape (shape arithmetic); not CONST */
    EI_VALUE_FLAG_OUTER = 1u << 5      /* a subgraph's reference to an outer-scope value */
};

/* A tensor of the graph: input, initializer, or output of a node. */
typedef struct ei_value {
    char *name;
    ei_dtype dtype;            /* EI_DTYPE_UNDEFINED until known */
    int rank;                  /* -1 until inferred */
    int64_t dims[EI_MAX_RANK]; /* concrete after reshape */
    void *data;                /* const: its data; activations: set by the planner; inputs/outputs: bound at run */
    size_t nbytes;             /* bytes at data (numel * dtype size) */
    uint32_t flags;            /* EI_VALUE_FLAG_* */
    int producer;              /* index of the node that writes it, -1 for inputs and constants */

    /* What the model's ValueInfoProto declares (graph inputs/outputs, value_info). */
    ei_dtype decl_dtype;
    int decl_rank;                      /* -1: no shape declared */
    int64_t decl_dims[EI_MAX_RANK];     /* -1: dynamic */
    char *decl_dim_names[EI_MAX_RANK];  /* dim_param, owned, or NULL */

    /* Memory planner. */
    int first_use, last_use;   /* node indices of the live range */
    size_t arena_offset;
} ei_value;

static inline bool ei_value_known(const ei_value *v) {
    return v && (v->flags & (EI_VALUE_FLAG_CONST | EI_VALUE_FLAG_KNOWN)) && v->data;
}
/* Element count (1 for rank 0). Assumes rank >= 0 and a validated shape. */
size_t ei_value_numel(const ei_value *v);
/* Bytes of numel elements of dtype, packed (ceil(numel * bits / 8)); false on overflow. */
bool ei_dtype_nbytes(ei_dtype dtype, size_t numel, size_t *out);

/* Sets dtype, rank and dims, computes nbytes; INVALID_MODEL on overflow / negative dims. */
ei_status ei_value_set_shape(ei_value *v, ei_dtype dtype, int rank, const int64_t *dims);

/* -------------------------------------------------------------- attributes */

/* Values are ONNX's AttributeProto.AttributeType numbers. */
typedef enum ei_attr_type {
    EI_ATTR_TYPE_UNDEFINED = 0,
    EI_ATTR_TYPE_FLOAT = 1,
    EI_ATTR_TYPE_INT = 2,
    EI_ATTR_TYPE_STRING = 3,
    EI_ATTR_TYPE_TENSOR = 4,
    EI_ATTR_TYPE_GRAPH = 5,
    EI_ATTR_TYPE_FLOATS = 6,
    EI_ATTR_TYPE_INTS = 7,
    EI_ATTR_TYPE_STRINGS = 8,
    EI_ATTR_TYPE_TENSORS = 9,
    EI_ATTR_TYPE_GRAPHS = 10,
    EI_ATTR_TYPE_SPARSE_TENSOR = 11,
    EI_ATTR_TYPE_SPARSE_TENSORS = 12,
    EI_ATTR_TYPE_TYPE_PROTO = 13,
    EI_ATTR_TYPE_TYPE_PROTOS = 14
} ei_attr_type;

struct ei_graph;

typedef struct ei_bytes {
    char *data; /* owned, NUL-terminated for convenience (len excludes the NUL) */
    size_t len;
} ei_bytes;

typedef struct ei_attr {
    char *name;
    ei_attr_type type;
    float f;
    int64_t i;
    ei_bytes s;
    ei_value *t;              /* TENSOR: a standalone CONST value, owned */
    struct ei_graph *g;       /* GRAPH: owned */
    float *floats;            /* FLOATS */
    int64_t *ints;            /* INTS */
    ei_bytes *strings;        /* STRINGS */
    ei_value **tensors;       /* TENSORS */
    struct ei_graph **graphs; /* GRAPHS */
    size_t n;                 /* element count of the list types */
} ei_attr;

/* ------------------------------------------------------------------- nodes */

struct ei_op;

typedef struct ei_node {
    char *name;       /* never NULL: the reader names unnamed nodes "OpType_<index>" */
    char *op_type;
    char *domain;     /* "" for the default ONNX domain ("ai.onnx" is normalized to "") */
    int opset;        /* the model's opset version for this node's domain */
    int *inputs;      /* value indices; -1 = optional input left out */
    int n_inputs;
    int *outputs;     /* value indices; -1 = optional output left out */
    int n_outputs;
    ei_attr *attrs;
    int n_attrs;

    /* Filled at session creation. */
    const struct ei_op *op;
    void *state;          /* op-owned, freed with op->destroy */
    bool folded;          /* outputs computed before run (constant / shape arithmetic): run skips it */
    bool dynamic;         /* set by infer: output shapes depend on input data; run sets them
                             with ei_node_alloc_output (NonZero, If, Loop, ...) */
    size_t scratch_bytes; /* requested by op->infer; placed in the arena by the planner */
    uint32_t packed_inputs; /* set by infer: bit i = the op keeps its own packed copy of
                               constant input i and never reads that input's data again, so
                               the executor may free it (weights held once, not twice) */
    void *scratch;        /* 64-byte aligned, valid during run */
} ei_node;

/* ------------------------------------------------------------------ graphs */

typedef struct ei_graph {
    char *name;
    ei_value **values; /* owned; indices are stable */
    int n_values, cap_values;
    ei_node *nodes;    /* topologically sorted once ei_graph_toposort succeeded */
    int n_nodes, cap_nodes;
    int *inputs;       /* graph inputs that are not initializers */
    int n_inputs;
    int *outputs;
    int n_outputs;
    struct ei_graph *parent; /* enclosing graph for subgraphs, NULL at top level */
    void *name_index;        /* private hash map name -> value index */
} ei_graph;

typedef struct ei_opset_import {
    char *domain; /* "" for ai.onnx */
    int64_t version;
} ei_opset_import;

typedef struct ei_model {
    int64_t ir_version;
    ei_opset_import *opsets;
    int n_opsets;
    char *producer_name;
    ei_graph *graph;
    void *file_data;  /* owned bytes the model's constants may point into (NULL if none) */
    size_t file_size;
} ei_model;

/* Graph construction (graph.c). All functions copy the strings they are given. */
ei_status ei_graph_create(const char *name, ei_graph **out);
void ei_graph_free(ei_graph *g);
/* Index of the value named name in g, or -1. Does not look into parents. */
int ei_graph_find_value(const ei_graph *g, const char *name);
/* Adds a value (or returns the existing one's index with *created = false). */
ei_status ei_graph_add_value(ei_graph *g, const char *name, int *index, bool *created);
/* Appends a node with room for n_inputs/n_outputs/n_attrs (zeroed); returns its index. */
ei_status ei_graph_add_node(ei_graph *g, const char *name, const char *op_type,
                            const char *domain, int n_inputs, int n_outputs, int n_attrs,
                            int *index);
/* Sorts nodes topologically (stable for already sorted graphs). INVALID_MODEL on a cycle,
 * on a value produced twice, or on a node input that nothing produces. */
ei_status ei_graph_toposort(ei_graph *g);
void ei_value_free(ei_value *v);
void ei_attr_clear(ei_attr *a);
void ei_model_free(ei_model *m);
/* The model's opset version for domain ("" or "ai.onnx" for the default), or -1. */
int64_t ei_model_opset(const ei_model *m, const char *domain);

/* Attribute readers. Absent -> default. Present with another type -> INVALID_MODEL
 * naming node, op and attribute. */
const ei_attr *ei_node_attr(const ei_node *n, const char *name);
ei_status ei_node_attr_int(const ei_node *n, const char *name, int64_t def, int64_t *out);
ei_status ei_node_attr_float(const ei_node *n, const char *name, float def, float *out);
/* *out borrowed from the node (def when absent). */
ei_status ei_node_attr_string(const ei_node *n, const char *name, const char *def,
                              const char **out);
/* Absent -> *out = NULL, *count = 0. */
ei_status ei_node_attr_ints(const ei_node *n, const char *name, const int64_t **out,
                            size_t *count);
ei_status ei_node_attr_floats(const ei_node *n, const char *name, const float **out,
                              size_t *count);
ei_status ei_node_attr_tensor(const ei_node *n, const char *name, const ei_value **out);

/* ---------------------------------------------------------------- ops */

struct ei_threadpool;

/* What an op sees of the session while it prepares, infers and runs. */
typedef struct ei_exec {
    ei_graph *graph;
    struct ei_threadpool *pool;
    int num_threads;
    /* Gives output `index` of a dynamic node its shape and a buffer (v->data); set by the
     * executor. Ops call it through ei_node_alloc_output. */
    ei_status (*alloc_output)(struct ei_exec *ex, ei_node *n, int index, ei_dtype dtype, int rank,
                              const int64_t *dims);
    void *owner; /* the executor running this graph */
    /* True while infer is called again right before a dynamic node runs: every input's
     * data is readable then (see ei_input_ready). */
    bool inputs_have_data;
    /* True while opt/shapes.c runs infer only to learn shapes: ops skip work kept for
     * running (packing constant weights), which the real plan does once, after the passes
     * have rewritten the graph. */
    bool shapes_only;
} ei_exec;

/* Whether an op's infer may read input v's data: constants and shape arithmetic always;
 * any input when infer is re-run just before a dynamic node runs. An op whose output
 * shape depends on such an input (Reshape's shape, Reduce's axes, TopK's K) sets
 * node->dynamic when it is not ready; infer is then called again at run time, with
 * the data, and the executor sizes the outputs from that call. */
static inline bool ei_input_ready(const ei_exec *ex, const ei_value *v) {
    return v && (ei_value_known(v) || (ex->inputs_have_data && v->data));
}

/* Input/output value i of node n, or NULL when it is absent/omitted. */
static inline ei_value *ei_node_in(const ei_exec *ex, const ei_node *n, int i) {
    return (i >= 0 && i < n->n_inputs && n->inputs[i] >= 0) ? ex->graph->values[n->inputs[i]]
                                                            : NULL;
}
static inline ei_value *ei_node_out(const ei_exec *ex, const ei_node *n, int i) {
    return (i >= 0 && i < n->n_outputs && n->outputs[i] >= 0)
               ? ex->graph->values[n->outputs[i]]
               : NULL;
}

/*
 * The three phases of an operator.
 *  prepare: once, at session creation. Parse and validate attributes and input/output
 *           counts, check constant inputs (weights) whose data is known, prepack them,
 *           keep parsed state in node->state. Input shapes may not be known yet.
 *  infer:   at every reshape, in topological order. Input dtypes/shapes are concrete;
 *           inputs that are ei_value_known() have data. Validate dtypes and shapes
 *           (errors name node, op and tensor), set every output's dtype and shape with
 *           ei_value_set_shape, and set node->scratch_bytes.
 *  run:     compute. Pointers are valid, shapes are those of the last infer.
 *           Only data-dependent checks remain (indices). No allocation.
 * destroy frees node->state (may be NULL if the op keeps no state).
 * Ops whose output shapes depend on input data set node->dynamic in infer instead of
 * output shapes. Just before such a node runs, the executor calls infer again with
 * ex->inputs_have_data set: if infer then sets the output shapes (ops whose shapes follow
 * from small inputs: Reshape, Reduce axes, TopK K), the executor gives them buffers;
 * if it sets node->dynamic again (NonZero, If, Loop: shapes known only by computing),
 * run gives each output its shape and buffer with ei_node_alloc_output. Nodes after a dynamic node are inferred and
 * planned when its output shapes are known, and re-planned only when they change.
 * Each op file exports one `const ei_op_fns ei_op_fns_<id>` and nothing else.
 */
typedef struct ei_op_fns {
    ei_status (*prepare)(ei_exec *ex, ei_node *node);
    ei_status (*infer)(ei_exec *ex, ei_node *node);
    ei_status (*run)(ei_exec *ex, ei_node *node);
    void (*destroy)(void *state); /* may be NULL */
    /* Space-separated ONNX-style names of the dtypes the op accepts for its main data
     * input(s), as its infer checks them ("float32 float64 int32 int64"; "any" for pure data
     * movement that copies bytes of every fixed-size dtype). Index and shape inputs are not
     * listed unless they are the op's data. Set in the op file with a designated initializer
     * after the positional ones (NULL if unset); python/tools/gen_op_table.py reads it into
     * README.md's operator table. */
    const char *dtypes;
} ei_op_fns;

/* One row of the op table (ops/ops.def). Several rows (opset versions) may share fns;
 * the op reads node->opset where semantics differ between versions. */
typedef struct ei_op {
    const char *domain; /* "" = ai.onnx */
    const char *name;
    int since_version;
    const ei_op_fns *fns;
} ei_op;

/* For dynamic nodes, in run: sets output `index`'s shape and points its data at a buffer
 * that the executor owns (reused across runs). The output must exist. */
static inline ei_status ei_node_alloc_output(ei_exec *ex, ei_node *n, int index, ei_dtype dtype,
                                             int rank, const int64_t *dims) {
    return ex->alloc_output(ex, n, index, dtype, rank, dims);
}

/* Finds the implementation of (domain, op_type) for the given opset: the entry with the
 * largest since_version <= opset. NULL if there is none. (ops/registry.c, from ops.def) */
const ei_op *ei_op_find(const char *domain, const char *op_type, int opset);

/* Number of entries in the op table and entry i (for listings). */
int ei_op_count(void);
const ei_op *ei_op_at(int i);

#endif /* EI_CORE_H */
