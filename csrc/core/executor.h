/*
 * executor.h - runs one graph: resolve ops, prepare, optimize, infer + plan (by segments
 * split at data-dependent nodes), run. The session wraps one for the model's graph;
 * control-flow ops (If, Loop, Scan) create one per subgraph.
 */
#ifndef EI_EXECUTOR_H
#define EI_EXECUTOR_H

#include "core/core.h"

struct ei_threadpool;
typedef struct ei_executor ei_executor;

typedef struct ei_executor_config {
    struct ei_threadpool *pool;
    int num_threads;
    int optimization_level;
    /* true: graph outputs are written to buffers the caller binds with
     * ei_executor_bind_output (the session's case); false: the executor keeps them. */
    bool outputs_external;
    /* For subgraphs: the graph whose values the subgraph's outer-scope references name. */
    const ei_graph *parent;
} ei_executor_config;

/* Resolves every node's op (one error lists every unsupported node), prepares them,
 * binds outer-scope references to the parent's values, and optimizes the graph.
 * The graph stays owned by the caller and must outlive the executor. */
ei_status ei_executor_create(ei_graph *g, const ei_executor_config *cfg, ei_executor **out);
/* Destroys op states and buffers (not the graph). Accepts NULL. */
void ei_executor_free(ei_executor *e);

/* Infers shapes and plans memory for the shapes now set on the graph's input values
 * (dtype, rank, dims) and outer-scope values. Does nothing when they equal those of the
 * last successful plan. */
ei_status ei_executor_plan(ei_executor *e);
/* Whether a plan is current. */
bool ei_executor_planned(const ei_executor *e);
/* Sum of the arenas of the segments planned so far. */
size_t ei_executor_arena_bytes(const ei_executor *e);

/* Whether graph output k's shape follows from the planned input shapes alone (false when
 * it is computed after a data-dependent node, so known only after run). */
bool ei_executor_output_shape_known(const ei_executor *e, int k);

/* outputs_external executors: binds graph output k to a caller buffer for the next run
 * (NULL: the executor keeps that output in a buffer of its own). */
void ei_executor_bind_output(ei_executor *e, int k, void *data, size_t nbytes);

/* Runs the graph: input values (and outer values) must have data. Plans first if needed.
 * Afterwards every graph output value holds its shape and data (valid until the next
 * plan or run). */
ei_status ei_executor_run(ei_executor *e);

/* Monotonic clock, in nanoseconds (profiling and creation timings). */
uint64_t ei_now_ns(void);

/* Time ei_executor_create spent resolving ops + preparing nodes (subgraph executors
 * created by If/Loop/Scan prepare included) and running the graph passes. */
void ei_executor_creation_times(const ei_executor *e, uint64_t *prepare_ns, uint64_t *optimize_ns);

/* Per-node profiling, driven from the top-level executor (the one created without a
 * parent). While on, each run adds every executed node's wall time (from the previous
 * node's end to its own: output binding, dynamic re-infer and the op's run) to a per-node
 * record sized at creation; subgraph executors run inside a profiled run record their
 * nodes too and link themselves (no allocation) into the top-level executor's list on
 * their first profiled run. Off: one predictable branch per node. */
void ei_executor_set_profiling(ei_executor *e, bool on);
/* Records with count > 0: the top-level graph's nodes in order, then each subgraph
 * executor's (in the order they first ran), so a parent precedes its body's nodes. */
size_t ei_executor_profile_count(const ei_executor *e);
/* false when i is out of range. */
bool ei_executor_profile_entry(const ei_executor *e, size_t i, ei_profile_entry *out);
/* Profiled runs of the top-level graph and their summed wall time. */
void ei_executor_profile_runs(const ei_executor *e, uint64_t *runs, uint64_t *total_ns);
/* Zeroes every record (subgraphs' included) and the run counter. */
void ei_executor_profile_reset(ei_executor *e);

#endif /* EI_EXECUTOR_H */
