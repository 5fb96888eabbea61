/*
 * edgeinfer.h - the one public header of the edgeinfer inference engine.
 *
 * Usage (error handling shortened):
 *
 *     ei_options opt;
 *     ei_options_init(&opt);
 *     opt.num_threads = 2;
 *     ei_session *s = NULL;
 *     if (ei_session_create_from_file("model.onnx", &opt, &s) != EI_STATUS_OK) {
 *         fprintf(stderr, "%s\n", ei_last_error());
 *         return 1;
 *     }
 *     float x[1 * 3 * 32 * 32] = {0};
 *     ei_tensor in = {.name = "input", .dtype = EI_DTYPE_F32, .rank = 4,
 *                     .dims = {1, 3, 32, 32}, .data = x, .nbytes = sizeof x};
 *     ei_tensor out;                      // learn the output shape first...
 *     ei_session_reshape(s, &in, 1);
 *     ei_session_output_shape(s, 0, &out);
 *     out.data = malloc(out.nbytes);      // ...then pass your own buffer
 *     ei_session_run(s, &in, 1, &out, 1);
 *     free(out.data);
 *     ei_session_free(s);
 *
 * Lifecycle: create -> reshape (optional) -> run (many times) -> free.
 * Everything that can be decided before the first run is decided at create (or
 * at reshape when input shapes change); run only computes.
 *
 * Errors: every fallible function returns an ei_status; on failure
 * ei_last_error() returns a message naming the node, operator and tensor
 * involved. The message is thread-local and valid until the next failing call on
 * the same thread.
 *
 * Threads: one session may be run from several threads; runs of one session are
 * serialized internally. Different sessions run fully in parallel.
 */
#ifndef EDGEINFER_H
#define EDGEINFER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EI_VERSION_MAJOR 0
#define EI_VERSION_MINOR 1
#define EI_VERSION_PATCH 0

/* Largest tensor rank the engine handles. */
#define EI_MAX_RANK 8

typedef enum ei_status {
    EI_STATUS_OK = 0,
    EI_STATUS_INVALID_ARGUMENT = 1, /* the caller passed something wrong (input name, dtype, shape, NULL) */
    EI_STATUS_INVALID_MODEL = 2,    /* the model file is malformed or inconsistent */
    EI_STATUS_UNSUPPORTED = 3,      /* valid ONNX that this engine does not implement */
    EI_STATUS_OUT_OF_MEMORY = 4,
    EI_STATUS_IO = 5,               /* a file could not be read */
    EI_STATUS_INDEX_OUT_OF_RANGE = 6, /* data-dependent index (Gather indices, ...) out of bounds */
    EI_STATUS_INTERNAL = 7          /* a bug in edgeinfer: please report it */
} ei_status;

/* Element types. The values are ONNX's TensorProto.DataType numbers. */
typedef enum ei_dtype {
    EI_DTYPE_UNDEFINED = 0,
    EI_DTYPE_F32 = 1,
    EI_DTYPE_U8 = 2,
    EI_DTYPE_I8 = 3,
    EI_DTYPE_U16 = 4,
    EI_DTYPE_I16 = 5,
    EI_DTYPE_I32 = 6,
    EI_DTYPE_I64 = 7,
    EI_DTYPE_STRING = 8,
    EI_DTYPE_BOOL = 9,
    EI_DTYPE_F16 = 10,
    EI_DTYPE_F64 = 11,
    EI_DTYPE_U32 = 12,
    EI_DTYPE_U64 = 13,
    EI_DTYPE_BF16 = 16,
    EI_DTYPE_F8E4M3FN = 17,   /* float8: 4 exponent bits, 3 mantissa bits, no inf, NaN = S.1111.111 */
    EI_DTYPE_F8E4M3FNUZ = 18, /* float8: no inf, no -0, NaN = 0x80 */
    EI_DTYPE_F8E5M2 = 19,     /* float8: IEEE-like (inf and NaN) */
    EI_DTYPE_F8E5M2FNUZ = 20, /* float8: no inf, no -0, NaN = 0x80 */
    EI_DTYPE_U4 = 21,         /* sub-byte types are packed: see ei_dtype_bits */
    EI_DTYPE_I4 = 22,
    EI_DTYPE_F4E2M1 = 23,     /* float4: 2 exponent bits, 1 mantissa bit, no inf/NaN */
    EI_DTYPE_F8E8M0 = 24,     /* float8: exponent only (2^(e-127)), NaN = 0xff, unsigned */
    EI_DTYPE_U2 = 25,
    EI_DTYPE_I2 = 26
} ei_dtype;

/* A tensor passed across the API. All memory is the caller's. */
typedef struct ei_tensor {
    const char *name;           /* graph input/output name; NULL means "by position" */
    ei_dtype dtype;
    int rank;                   /* 0 for a scalar */
    int64_t dims[EI_MAX_RANK];
    void *data;                 /* dense, C order (row-major) */
    size_t nbytes;              /* size of the buffer at data, in bytes */
} ei_tensor;

/* Sub-byte dtypes (4-bit: uint4, int4, float4e2m1; 2-bit: uint2, int2) are packed as ONNX
 * stores them: element i sits in byte i*bits/8 at bit (i*bits)%8, low bits first (two 4-bit
 * values per byte, low nibble first), so a tensor takes ceil(numel*bits/8) bytes. */

/* What the model declares about one of its inputs or outputs.
 * Strings are owned by the session and live as long as it does. */
typedef struct ei_value_info {
    const char *name;
    ei_dtype dtype;
    int rank;                           /* -1 if the model does not declare a shape */
    int64_t dims[EI_MAX_RANK];          /* -1 for a dynamic dimension */
    const char *dim_names[EI_MAX_RANK]; /* symbolic name of a dynamic dim ("batch"), or NULL */
} ei_value_info;

typedef struct ei_options {
    int num_threads;        /* threads used by run, the caller's included; 0 = one per core (default) */
    int optimization_level; /* 0 = none, 1 = all graph optimizations (default) */
    int enable_profiling;   /* 1: record per-node times from the first run (see ei_session_profile_entry);
                               0 (default): off, ei_session_set_profiling turns it on later */
} ei_options;

typedef struct ei_session ei_session;

/* Fills *opt with defaults. Always call it before setting fields, so that
 * fields added later get their defaults. */
void ei_options_init(ei_options *opt);

/* Loads, validates, optimizes and (if all input shapes are static) plans a model.
 * opt may be NULL for defaults. On success *out owns the session; free it with
 * ei_session_free. External tensor data is resolved relative to the file's folder.
 * Returns EI_STATUS_IO, INVALID_MODEL, UNSUPPORTED, OUT_OF_MEMORY or INVALID_ARGUMENT. */
ei_status ei_session_create_from_file(const char *path, const ei_options *opt, ei_session **out);

/* As above, from a serialized ModelProto in memory. The bytes are copied where
 * needed and may be freed after the call. base_dir is the folder against which
 * external data is resolved; NULL rejects models with external data. */
ei_status ei_session_create_from_memory(const void *data, size_t size, const char *base_dir,
                                        const ei_options *opt, ei_session **out);

/* Frees a session and everything it owns. Accepts NULL. */
void ei_session_free(ei_session *s);

size_t ei_session_input_count(const ei_session *s);
size_t ei_session_output_count(const ei_session *s);

/* Declared name, dtype and shape of input/output i. Returns INVALID_ARGUMENT if
 * i is out of range. */
ei_status ei_session_input_info(const ei_session *s, size_t i, ei_value_info *out);
ei_status ei_session_output_info(const ei_session *s, size_t i, ei_value_info *out);

/* Binds input shapes: infers every shape and plans memory. Only name, dtype, rank
 * and dims of the inputs are read (data may be NULL). Inputs are matched by name,
 * or by position when every name is NULL. Nothing is re-planned when the shapes
 * equal those of the last reshape. */
ei_status ei_session_reshape(ei_session *s, const ei_tensor *inputs, size_t n_inputs);

/* After a successful reshape (or run): dtype, rank, dims and nbytes of output i.
 * name points at the session's copy; data is set to NULL. rank is -1 (and nbytes 0)
 * for an output whose shape depends on input data (after NonZero, If, Loop, ...):
 * it is known only after run. */
ei_status ei_session_output_shape(const ei_session *s, size_t i, ei_tensor *out);

/* Runs the model. inputs as for reshape, with data; they are only read.
 * outputs: exactly ei_session_output_count entries, in the model's output order
 * (their names are ignored); each data buffer is the caller's and must hold at
 * least the output's nbytes. An output whose data is NULL is kept by the session:
 * on return its data points at session memory, valid until the next reshape, run
 * or free of this session (use this for outputs of data-dependent shape).
 * On success name/rank/dims/dtype/nbytes of each output are written. If input
 * shapes differ from the last reshape, run reshapes first.
 * Returns INVALID_ARGUMENT for wrong inputs or too small output buffers,
 * INDEX_OUT_OF_RANGE for data-dependent index errors. */
ei_status ei_session_run(ei_session *s, const ei_tensor *inputs, size_t n_inputs,
                         ei_tensor *outputs, size_t n_outputs);

/* Bytes of the activation arena planned by the last reshape (0 before one). */
size_t ei_session_arena_bytes(const ei_session *s);

/* Threads the session runs with (the caller's included). */
int ei_session_num_threads(const ei_session *s);

/* ------------------------------------------------------------ profiling
 *
 *     opt.enable_profiling = 1;               // or ei_session_set_profiling(s, 1)
 *     ... ei_session_run(...) several times ...
 *     for (size_t i = 0; i < ei_session_profile_count(s); i++) {
 *         ei_profile_entry e;
 *         ei_session_profile_entry(s, i, &e);
 *         printf("%-20s %-12s %.3f ms\n", e.name, e.op_type, e.total_ns / 1e6 / e.count);
 *     }
 *
 * While profiling is on, every run adds each executed node's wall time (monotonic clock)
 * to that node's record; the records are sized at creation, so run still allocates
 * nothing. Nodes computed before run (constants, shape arithmetic) or removed by the
 * optimizer have no record; nodes the optimizer created (domain "com.edgeinfer", e.g.
 * FusedConv) have their own. Nodes of If/Loop/Scan subgraphs get records too, linked to
 * the control-flow node by `parent`. Off, the cost is one branch per node. */

/* One node's record. Strings are owned by the session and live as long as it does. */
typedef struct ei_profile_entry {
    const char *name;    /* the node's name ("OpType_<index>" for unnamed nodes) */
    const char *op_type; /* "Conv", ... or an optimizer-made op ("FusedConv") */
    const char *domain;  /* "" for ai.onnx; "com.edgeinfer" for optimizer-made nodes */
    int parent;          /* index of the entry (If/Loop/Scan) whose subgraph holds this node; -1 at top level */
    int depth;           /* 0 at top level, 1 in a subgraph, 2 in a subgraph's subgraph, ... */
    uint64_t count;      /* times the node ran (once per run at top level; per iteration in a Loop body) */
    uint64_t total_ns;   /* wall time summed over those runs; a control-flow node's includes its subgraph */
    uint64_t self_ns;    /* total_ns less that of the entries whose parent this one is */
    ei_dtype dtype;      /* dtype and shape of the node's first output at its last run */
    int rank;            /* -1 if unknown */
    int64_t dims[EI_MAX_RANK];
} ei_profile_entry;

/* Turns per-node profiling on (enable != 0) or off for the next runs. Records are kept
 * when it is turned off. Returns INVALID_ARGUMENT for a NULL session. */
ei_status ei_session_set_profiling(ei_session *s, int enable);

/* Number of records: nodes that ran at least once while profiling was on (0 if it never
 * was). Top-level nodes come first, in execution order; a subgraph's nodes come after the
 * node that holds it. */
size_t ei_session_profile_count(const ei_session *s);

/* Record i (0 <= i < ei_session_profile_count). Returns INVALID_ARGUMENT if i is out of
 * range or an argument is NULL. */
ei_status ei_session_profile_entry(const ei_session *s, size_t i, ei_profile_entry *out);

/* Profiled runs since creation or the last reset, and their summed wall time inside the
 * engine (binding, planning checks and every node: the nodes' total is a little less).
 * Either pointer may be NULL. Returns INVALID_ARGUMENT for a NULL session. */
ei_status ei_session_profile_runs(const ei_session *s, uint64_t *runs, uint64_t *total_ns);

/* Zeroes every record and the run counter (profiling stays on or off). Accepts NULL. */
void ei_session_profile_reset(ei_session *s);

/* Where the time of ei_session_create_* went (the cold start, less the first run). */
typedef struct ei_creation_stats {
    uint64_t read_ns;     /* reading the model file (0 when created from memory) */
    uint64_t parse_ns;    /* protobuf -> graph, external data included */
    uint64_t threads_ns;  /* starting the thread pool */
    uint64_t prepare_ns;  /* resolving ops and preparing nodes (attributes, weight prepacking) */
    uint64_t optimize_ns; /* graph passes (folding, fusion, elimination) */
    uint64_t plan_ns;     /* the first reshape: shape inference + memory plan. At creation when every
                             input shape is static; otherwise 0 until the first reshape or run */
    uint64_t total_ns;    /* the whole create call (plan_ns included when it happened there) */
} ei_creation_stats;

/* Fills *out. Returns INVALID_ARGUMENT if an argument is NULL. */
ei_status ei_session_creation_stats(const ei_session *s, ei_creation_stats *out);

/* The message of the last failure on this thread ("" if none). */
const char *ei_last_error(void);

/* "OK", "INVALID_ARGUMENT", ... */
const char *ei_status_name(ei_status status);

/* "float32", "int64", ... ; "unknown" for values outside the enum. */
const char *ei_dtype_name(ei_dtype dtype);

/* Bytes per element, 0 for types the engine cannot hold in memory (string, undefined) and
 * for the packed sub-byte types (see ei_dtype_bits). */
size_t ei_dtype_size(ei_dtype dtype);

/* Bits per element: 8 * ei_dtype_size for byte-sized types, 4 or 2 for the sub-byte ones,
 * 0 for string and undefined. */
size_t ei_dtype_bits(ei_dtype dtype);

/* The SIMD level kernels were picked for: "ref", "avx2", "avx512" or "neon".
 * The environment variable EI_ISA (ref|avx2|avx512|neon) caps it. */
const char *ei_isa_name(void);

/* "0.1.0" */
const char *ei_version(void);

/* Whether matrix products go through OpenBLAS (1) or the built-in GEMM (0). */
int ei_has_blas(void);

#ifdef __cplusplus
}
#endif

#endif /* EDGEINFER_H */
