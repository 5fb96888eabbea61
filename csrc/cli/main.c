/*
 * main.c - `edgeinfer`, the device command-line tool: info, run and bench on an ONNX model.
 * It uses only the public API (edgeinfer.h) and npy.c for inputs/outputs; everything a
 * model or an input file controls is reported through ei_last_error() with a non-zero
 * exit code. Exit codes: 0 success, 1 error, 2 bad command line.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "cli/npy.h"
#include "edgeinfer/edgeinfer.h"

#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define MAX_ARGS 256

static const char usage_text[] =
    "usage: edgeinfer <command> model.onnx [options]\n"
    "\n"
    "commands:\n"
    "  info  model.onnx [--shape NAME=DIMS]...    inputs, outputs, ISA, BLAS, threads, arena\n"
    "  run   model.onnx -i NAME=FILE.npy... [-o OUTDIR]\n"
    "                                             run once; writes OUTDIR/<output>.npy\n"
    "                                             (prints a summary when -o is left out)\n"
    "  bench model.onnx [-i NAME=FILE.npy]... [--shape NAME=DIMS]... [--runs N] [--warmup N]\n"
    "        [--profile [--top N]]                creation time (and its phases) and latency\n"
    "                                             (ms); inputs not given are random\n"
    "\n"
    "options:\n"
    "  -i, --input NAME=FILE.npy   bind an input (FILE.npy alone binds the next input by "
    "position)\n"
    "  -o, --output-dir DIR        where run writes its outputs (created if missing)\n"
    "  --shape NAME=DIMS           shape for an input with dynamic dims, e.g. x=1x3x224x224\n"
    "  --threads N                 threads per run, the caller's included (0 = one per core)\n"
    "  --runs N, --warmup N        bench iterations (default 20 and 3)\n"
    "  --profile                   bench: time every node during the timed runs and print\n"
    "                              the top nodes and a per-op-type table\n"
    "  --top N                     bench --profile: nodes listed (default 20, 0 = all)\n"
    "  --version, --help\n"
    "\n"
    "environment: EI_ISA=ref|avx2|avx512|neon caps the SIMD level.\n"
    ".npy dtypes: float16/32/64, int8/16/32/64, uint8/16/32/64, bool; C order, little-endian.\n";

typedef struct cli_args {
    const char *cmd;
    const char *model;
    const char *inputs[MAX_ARGS];
    int n_inputs;
    const char *shapes[MAX_ARGS];
    int n_shapes;
    const char *outdir;
    long threads;
    long runs, warmup;
    bool profile;
    long top;
} cli_args;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("edgeinfer: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_ERROR;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("edgeinfer: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(run 'edgeinfer --help' for usage)\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Reports an engine failure with its status and message. */
static int engine_fail(const char *what, ei_status st) {
    return fail("%s: %s: %s", what, ei_status_name(st), ei_last_error());
}

static bool parse_long(const char *s, long lo, long hi, long *out) {
    if (!s || !*s) return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

/* "1x3x224x224" or "1,3,224,224"; an empty string is a scalar. */
static bool parse_dims(const char *s, int *rank, int64_t *dims) {
    int r = 0;
    const char *p = s;
    if (*p == '\0') {
        *rank = 0;
        return true;
    }
    for (;;) {
        if (r >= EI_MAX_RANK || *p < '0' || *p > '9') return false;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (errno != 0 || v < 0) return false;
        dims[r++] = (int64_t)v;
        p = end;
        if (*p == '\0') break;
        if (*p != 'x' && *p != 'X' && *p != ',') return false;
        p++;
    }
    *rank = r;
    return true;
}

static int parse_args(int argc, char **argv, cli_args *a) {
    memset(a, 0, sizeof *a);
    a->threads = -1;
    a->runs = 20;
    a->warmup = 3;
    a->top = 20;
    a->cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = NULL;
        const char *name = arg;
        char buf[32];
        if (!strcmp(arg, "--profile")) { /* the one flag without a value */
            a->profile = true;
            continue;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            /* --name=value or --name value / -x value */
            const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
            if (eq) {
                size_t n = (size_t)(eq - arg);
                if (n >= sizeof buf) return usage_error("unknown option '%s'", arg);
                memcpy(buf, arg, n);
                buf[n] = '\0';
                name = buf;
                val = eq + 1;
            } else {
                if (i + 1 >= argc) return usage_error("option '%s' needs a value", arg);
                val = argv[++i];
            }
            if (!strcmp(name, "--profile")) {
                return usage_error("--profile takes no value");
            } else if (!strcmp(name, "-i") || !strcmp(name, "--input")) {
                if (a->n_inputs >= MAX_ARGS) return usage_error("too many inputs");
                a->inputs[a->n_inputs++] = val;
            } else if (!strcmp(name, "-o") || !strcmp(name, "--output-dir")) {
                a->outdir = val;
            } else if (!strcmp(name, "--shape")) {
                if (a->n_shapes >= MAX_ARGS) return usage_error("too many --shape options");
                a->shapes[a->n_shapes++] = val;
            } else if (!strcmp(name, "--threads") || !strcmp(name, "-t")) {
                if (!parse_long(val, 0, 4096, &a->threads))
                    return usage_error("--threads expects an integer in [0, 4096], got '%s'", val);
            } else if (!strcmp(name, "--runs")) {
                if (!parse_long(val, 1, 1000000, &a->runs))
                    return usage_error("--runs expects a positive integer, got '%s'", val);
            } else if (!strcmp(name, "--warmup")) {
                if (!parse_long(val, 0, 1000000, &a->warmup))
                    return usage_error("--warmup expects a non-negative integer, got '%s'", val);
            } else if (!strcmp(name, "--top")) {
                if (!parse_long(val, 0, 1000000, &a->top))
                    return usage_error("--top expects a non-negative integer, got '%s'", val);
            } else {
                return usage_error("unknown option '%s'", name);
            }
        } else if (!a->model) {
            a->model = arg;
        } else {
            return usage_error("unexpected argument '%s'", arg);
        }
    }
    if (!a->model) return usage_error("%s: missing the model file", a->cmd);
    if (a->profile && strcmp(a->cmd, "bench") != 0)
        return usage_error("--profile is an option of bench");
    return 0;
}

/* ----------------------------------------------------------- formatting */

static void format_decl_shape(const ei_value_info *vi, char *buf, size_t size) {
    if (vi->rank < 0) {
        snprintf(buf, size, "(unknown shape)");
        return;
    }
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int d = 0; d < vi->rank && d < EI_MAX_RANK && n < size; d++) {
        const char *sep = d ? "," : "";
        if (vi->dims[d] >= 0)
            n += (size_t)snprintf(buf + n, size - n, "%s%lld", sep, (long long)vi->dims[d]);
        else
            n += (size_t)snprintf(buf + n, size - n, "%s%s", sep,
                                  vi->dim_names[d] ? vi->dim_names[d] : "?");
    }
    if (n < size) snprintf(buf + n, size - n, "]");
}

static void format_dims(int rank, const int64_t *dims, char *buf, size_t size) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, size - n, "[");
    for (int d = 0; d < rank && d < EI_MAX_RANK && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? "," : "", (long long)dims[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

static bool decl_is_static(const ei_value_info *vi) {
    if (vi->rank < 0) return false;
    for (int d = 0; d < vi->rank; d++)
        if (vi->dims[d] < 0) return false;
    return true;
}

/* "1x3x224x224": the declared shape with every dynamic dim set to 1 (a --shape example). */
static void format_shape_example(const ei_value_info *vi, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    if (vi->rank < 0) {
        snprintf(buf, size, "1x3x224x224");
        return;
    }
    for (int d = 0; d < vi->rank && d < EI_MAX_RANK && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%lld", d ? "x" : "",
                              (long long)(vi->dims[d] >= 0 ? vi->dims[d] : 1));
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void print_engine_line(const ei_session *s) {
    printf("edgeinfer %s  isa: %s  blas: %s  threads: %d\n", ei_version(), ei_isa_name(),
           ei_has_blas() ? "openblas" : "builtin", ei_session_num_threads(s));
}

/* --------------------------------------------------------- session setup */

static int open_session(const cli_args *a, ei_session **s, double *create_ms) {
    ei_options opt;
    ei_options_init(&opt);
    if (a->threads >= 0) opt.num_threads = (int)a->threads;
    double t0 = now_ms();
    ei_status st = ei_session_create_from_file(a->model, &opt, s);
    if (create_ms) *create_ms = now_ms() - t0;
    if (st != EI_STATUS_OK) {
        *s = NULL;
        char what[600];
        snprintf(what, sizeof what, "cannot load '%s'", a->model);
        return engine_fail(what, st);
    }
    return 0;
}

/* The inputs of one invocation: either read from .npy, random, or shape-only. */
typedef struct bound_inputs {
    size_t n;
    ei_value_info *info;
    ei_tensor *tensors;
    ei_npy *arrays; /* from -i */
    bool *from_file;
    bool *have_shape; /* from a file or --shape */
    void **owned;     /* random buffers */
} bound_inputs;

static void bound_free(bound_inputs *b) {
    if (!b) return;
    for (size_t i = 0; i < b->n; i++) {
        if (b->arrays) ei_npy_free(&b->arrays[i]);
        if (b->owned) free(b->owned[i]);
    }
    free(b->info);
    free(b->tensors);
    free(b->arrays);
    free(b->from_file);
    free(b->have_shape);
    free(b->owned);
    memset(b, 0, sizeof *b);
}

static int find_input(const bound_inputs *b, const char *name, size_t len) {
    for (size_t i = 0; i < b->n; i++)
        if (strlen(b->info[i].name) == len && strncmp(b->info[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static void list_inputs(const bound_inputs *b, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < b->n && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s'%s'", i ? ", " : "", b->info[i].name);
}

/* Reads the session's input declarations, the -i files and the --shape options. */
static int bind_inputs(const cli_args *a, ei_session *s, bound_inputs *b) {
    char err[1024], names[1024];
    memset(b, 0, sizeof *b);
    b->n = ei_session_input_count(s);
    size_t n = b->n ? b->n : 1;
    b->info = calloc(n, sizeof *b->info);
    b->tensors = calloc(n, sizeof *b->tensors);
    b->arrays = calloc(n, sizeof *b->arrays);
    b->from_file = calloc(n, sizeof *b->from_file);
    b->have_shape = calloc(n, sizeof *b->have_shape);
    b->owned = calloc(n, sizeof *b->owned);
    if (!b->info || !b->tensors || !b->arrays || !b->from_file || !b->have_shape || !b->owned)
        return fail("out of memory");
    for (size_t i = 0; i < b->n; i++) {
        ei_status st = ei_session_input_info(s, i, &b->info[i]);
        if (st != EI_STATUS_OK) return engine_fail("input info", st);
        b->tensors[i].name = b->info[i].name;
        b->tensors[i].dtype = b->info[i].dtype;
    }
    list_inputs(b, names, sizeof names);

    size_t next_pos = 0;
    for (int k = 0; k < a->n_inputs; k++) {
        const char *spec = a->inputs[k];
        const char *path = spec;
        int idx = -1;
        /* NAME=PATH: the NAME is the longest prefix before a '=' that names an input. */
        for (const char *eq = strchr(spec, '='); eq; eq = strchr(eq + 1, '=')) {
            int j = find_input(b, spec, (size_t)(eq - spec));
            if (j >= 0) {
                idx = j;
                path = eq + 1;
            }
        }
        if (idx < 0) {
            const char *eq = strchr(spec, '=');
            if (eq)
                return fail("-i %s: the model has no input named '%.*s' (inputs: %s)", spec,
                            (int)(eq - spec), spec, names);
            while (next_pos < b->n && b->from_file[next_pos])
                next_pos++;
            if (next_pos >= b->n)
                return fail("-i %s: more input files than the model's %zu inputs (%s)", spec, b->n,
                            names);
            idx = (int)next_pos;
        }
        if (b->from_file[idx]) return fail("input '%s' is given twice", b->info[idx].name);
        if (ei_npy_load(path, &b->arrays[idx], err, sizeof err) != 0) return fail("%s", err);
        ei_tensor *t = &b->tensors[idx];
        t->dtype = b->arrays[idx].dtype;
        t->rank = b->arrays[idx].rank;
        memcpy(t->dims, b->arrays[idx].dims, sizeof t->dims);
        t->data = b->arrays[idx].data;
        t->nbytes = b->arrays[idx].nbytes;
        b->from_file[idx] = true;
        b->have_shape[idx] = true;
    }

    for (int k = 0; k < a->n_shapes; k++) {
        const char *spec = a->shapes[k];
        const char *eq = strrchr(spec, '=');
        if (!eq)
            return usage_error("--shape expects NAME=DIMS (e.g. x=1x3x224x224), got '%s'", spec);
        int idx = find_input(b, spec, (size_t)(eq - spec));
        if (idx < 0)
            return fail("--shape %s: the model has no input named '%.*s' (inputs: %s)", spec,
                        (int)(eq - spec), spec, names);
        if (b->from_file[idx])
            return fail("--shape %s: input '%s' is already read from a file", spec,
                        b->info[idx].name);
        ei_tensor *t = &b->tensors[idx];
        if (!parse_dims(eq + 1, &t->rank, t->dims))
            return fail("--shape %s: expected dims like 1x3x224x224 (at most %d)", spec,
                        EI_MAX_RANK);
        b->have_shape[idx] = true;
    }

    /* Declared static shapes fill in the rest. */
    for (size_t i = 0; i < b->n; i++) {
        if (b->have_shape[i] || !decl_is_static(&b->info[i])) continue;
        b->tensors[i].rank = b->info[i].rank;
        memcpy(b->tensors[i].dims, b->info[i].dims, sizeof b->tensors[i].dims);
        b->have_shape[i] = true;
    }
    return 0;
}

/* Index of the first input whose shape is still unknown, or -1. */
static int first_unshaped(const bound_inputs *b) {
    for (size_t i = 0; i < b->n; i++)
        if (!b->have_shape[i]) return (int)i;
    return -1;
}

static uint64_t rng_next(uint64_t *state) {
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* Fills every input not read from a file with random data of its shape. */
static int make_random_inputs(bound_inputs *b) {
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < b->n; i++) {
        if (b->from_file[i]) continue;
        ei_tensor *t = &b->tensors[i];
        size_t item = ei_dtype_size(t->dtype), numel = 1;
        if (item == 0)
            return fail("input '%s' has dtype %s: random data of that type is not supported; "
                        "pass -i %s=FILE.npy",
                        t->name, ei_dtype_name(t->dtype), t->name);
        for (int d = 0; d < t->rank; d++)
            if (t->dims[d] < 0 || __builtin_mul_overflow(numel, (size_t)t->dims[d], &numel))
                return fail("input '%s': shape too large", t->name);
        size_t nbytes;
        if (__builtin_mul_overflow(numel, item, &nbytes))
            return fail("input '%s': shape too large", t->name);
        unsigned char *p = malloc(nbytes ? nbytes : 1);
        if (!p) return fail("input '%s': out of memory (%zu bytes)", t->name, nbytes);
        b->owned[i] = p;
        for (size_t e = 0; e < numel; e++) {
            uint64_t r = rng_next(&rng);
            double u = (double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0; /* [-1, 1) */
            switch (t->dtype) {
            case EI_DTYPE_F32: {
                float f = (float)u;
                memcpy(p + e * 4, &f, 4);
                break;
            }
            case EI_DTYPE_F64: memcpy(p + e * 8, &u, 8); break;
            case EI_DTYPE_F16: {
                uint16_t h = (uint16_t)(0x3800u | (r & 0x3ffu) | ((r >> 20) & 1u) << 15);
                memcpy(p + e * 2, &h, 2); /* +-[0.5, 1) */
                break;
            }
            case EI_DTYPE_BF16: {
                float f = (float)u;
                uint32_t bits;
                memcpy(&bits, &f, 4);
                uint16_t h = (uint16_t)(bits >> 16);
                memcpy(p + e * 2, &h, 2);
                break;
            }
            case EI_DTYPE_BOOL: p[e] = (unsigned char)(r & 1u); break;
            default: {
                /* Integers: small non-negative values, so that index-like inputs stay valid
                 * for small axes. Written little-endian-agnostically via the native type. */
                uint64_t v = r % 4u;
                switch (item) {
                case 1: p[e] = (unsigned char)v; break;
                case 2: {
                    uint16_t x = (uint16_t)v;
                    memcpy(p + e * 2, &x, 2);
                    break;
                }
                case 4: {
                    uint32_t x = (uint32_t)v;
                    memcpy(p + e * 4, &x, 4);
                    break;
                }
                default: memcpy(p + e * 8, &v, 8); break;
                }
            }
            }
        }
        t->data = p;
        t->nbytes = nbytes;
    }
    return 0;
}

/* Output buffers sized from the last reshape. An output whose shape is known only after
 * the run (data-dependent) gets no buffer: the session keeps it and run points data at
 * it. owned[i] is the buffer this tool allocated (NULL for session-kept outputs). */
static int alloc_outputs(ei_session *s, ei_tensor **outs, void ***owned, size_t *n_out) {
    *n_out = ei_session_output_count(s);
    *outs = calloc(*n_out ? *n_out : 1, sizeof **outs);
    *owned = calloc(*n_out ? *n_out : 1, sizeof **owned);
    if (!*outs || !*owned) return fail("out of memory");
    for (size_t i = 0; i < *n_out; i++) {
        ei_status st = ei_session_output_shape(s, i, &(*outs)[i]);
        if (st != EI_STATUS_OK) return engine_fail("output shape", st);
        if ((*outs)[i].rank < 0) continue; /* kept by the session */
        (*owned)[i] = malloc((*outs)[i].nbytes ? (*outs)[i].nbytes : 1);
        if (!(*owned)[i])
            return fail("output '%s': out of memory (%zu bytes)", (*outs)[i].name,
                        (*outs)[i].nbytes);
        (*outs)[i].data = (*owned)[i];
    }
    return 0;
}

/* Before each run: session-kept outputs are asked for again (their memory is the session's). */
static void rebind_outputs(ei_tensor *outs, void **owned, size_t n_out) {
    for (size_t i = 0; i < n_out; i++)
        if (!owned[i]) {
            outs[i].data = NULL;
            outs[i].nbytes = 0;
        }
}

static void free_outputs(ei_tensor *outs, void **owned, size_t n_out) {
    if (owned)
        for (size_t i = 0; i < n_out; i++)
            free(owned[i]);
    free(owned);
    free(outs);
}

/* --------------------------------------------------------------- commands */

static int cmd_info(const cli_args *a) {
    ei_session *s = NULL;
    bound_inputs b;
    memset(&b, 0, sizeof b);
    char buf[512];
    int rc = open_session(a, &s, NULL);
    if (rc) return rc;
    if (a->n_inputs) {
        rc = usage_error("info takes no -i (use --shape NAME=DIMS)");
        goto cleanup;
    }
    rc = bind_inputs(a, s, &b);
    if (rc) goto cleanup;

    printf("model: %s\n", a->model);
    print_engine_line(s);
    printf("inputs (%zu):\n", b.n);
    for (size_t i = 0; i < b.n; i++) {
        format_decl_shape(&b.info[i], buf, sizeof buf);
        printf("  %-24s %-8s %s\n", b.info[i].name, ei_dtype_name(b.info[i].dtype), buf);
    }
    size_t n_out = ei_session_output_count(s);
    printf("outputs (%zu):\n", n_out);
    for (size_t i = 0; i < n_out; i++) {
        ei_value_info vi;
        ei_status st = ei_session_output_info(s, i, &vi);
        if (st != EI_STATUS_OK) {
            rc = engine_fail("output info", st);
            goto cleanup;
        }
        format_decl_shape(&vi, buf, sizeof buf);
        printf("  %-24s %-8s %s\n", vi.name, ei_dtype_name(vi.dtype), buf);
    }

    int missing = first_unshaped(&b);
    if (missing >= 0) {
        format_shape_example(&b.info[missing], buf, sizeof buf);
        printf("arena: unknown until input shapes are bound (e.g. --shape %s=%s)\n",
               b.info[missing].name, buf);
    } else {
        ei_status st = ei_session_reshape(s, b.tensors, b.n);
        if (st != EI_STATUS_OK) {
            rc = engine_fail("reshape", st);
            goto cleanup;
        }
        if (a->n_shapes) {
            printf("output shapes for the given input shapes:\n");
            for (size_t i = 0; i < n_out; i++) {
                ei_tensor t;
                st = ei_session_output_shape(s, i, &t);
                if (st != EI_STATUS_OK) {
                    rc = engine_fail("output shape", st);
                    goto cleanup;
                }
                if (t.rank < 0) snprintf(buf, sizeof buf, "(depends on the input data: known after run)");
                else format_dims(t.rank, t.dims, buf, sizeof buf);
                printf("  %-24s %-8s %s\n", t.name, ei_dtype_name(t.dtype), buf);
            }
        }
        printf("arena: %zu bytes\n", ei_session_arena_bytes(s));
    }
cleanup:
    bound_free(&b);
    ei_session_free(s);
    return rc;
}

/* A file name for an output: [A-Za-z0-9._-] kept, the rest '_', never hidden or empty;
 * made unique among the outputs with a "_<index>" suffix. */
static void output_file_name(const char *name, size_t index, char *buf, size_t size) {
    size_t n = 0;
    for (const char *p = name; *p && n + 24 < size && n < 200; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        buf[n++] = ok ? c : '_';
    }
    buf[n] = '\0';
    if (n == 0 || buf[0] == '.') {
        memmove(buf + 1, buf, n + 1);
        buf[0] = '_';
        n++;
    }
    if (n == 1 && buf[0] == '_') snprintf(buf, size, "output_%zu", index);
}

static int make_dirs(const char *path) {
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp) return fail("-o: invalid directory '%s'", path);
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char saved = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return fail("-o: cannot create directory '%s': %s", tmp, strerror(errno));
        tmp[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fail("-o: '%s' is not a directory", path);
    return 0;
}

static void print_values(const ei_tensor *t) {
    size_t item = ei_dtype_size(t->dtype);
    size_t n = item ? t->nbytes / item : 0, shown = n < 8 ? n : 8;
    const unsigned char *p = t->data;
    printf("   ");
    for (size_t e = 0; e < shown; e++) {
        switch (t->dtype) {
        case EI_DTYPE_F32: {
            float v;
            memcpy(&v, p + e * 4, 4);
            printf(" %.6g", (double)v);
            break;
        }
        case EI_DTYPE_F64: {
            double v;
            memcpy(&v, p + e * 8, 8);
            printf(" %.6g", v);
            break;
        }
        case EI_DTYPE_I64: {
            int64_t v;
            memcpy(&v, p + e * 8, 8);
            printf(" %lld", (long long)v);
            break;
        }
        case EI_DTYPE_I32: {
            int32_t v;
            memcpy(&v, p + e * 4, 4);
            printf(" %d", (int)v);
            break;
        }
        case EI_DTYPE_I8: printf(" %d", (int)(signed char)p[e]); break;
        case EI_DTYPE_U8: printf(" %u", (unsigned)p[e]); break;
        case EI_DTYPE_BOOL: printf(" %s", p[e] ? "True" : "False"); break;
        default: printf(" ?"); break;
        }
    }
    printf("%s\n", shown < n ? " ..." : "");
}

static int cmd_run(const cli_args *a) {
    ei_session *s = NULL;
    bound_inputs b;
    memset(&b, 0, sizeof b);
    ei_tensor *outs = NULL;
    void **owned = NULL;
    size_t n_out = 0;
    char buf[512], err[1024];
    char (*files)[256] = NULL; /* the file name chosen for each output */
    int rc = open_session(a, &s, NULL);
    if (rc) return rc;
    if (a->n_shapes) {
        rc =
            usage_error("run takes its shapes from the .npy inputs; --shape is for info and bench");
        goto cleanup;
    }
    rc = bind_inputs(a, s, &b);
    if (rc) goto cleanup;
    for (size_t i = 0; i < b.n; i++) {
        if (b.from_file[i]) continue;
        format_decl_shape(&b.info[i], buf, sizeof buf);
        rc = fail("missing input '%s' (%s %s): pass -i %s=FILE.npy", b.info[i].name,
                  ei_dtype_name(b.info[i].dtype), buf, b.info[i].name);
        goto cleanup;
    }
    ei_status st = ei_session_reshape(s, b.tensors, b.n);
    if (st != EI_STATUS_OK) {
        rc = engine_fail("reshape", st);
        goto cleanup;
    }
    rc = alloc_outputs(s, &outs, &owned, &n_out);
    if (rc) goto cleanup;
    files = calloc(n_out ? n_out : 1, sizeof *files);
    if (!files) {
        rc = fail("out of memory");
        goto cleanup;
    }
    st = ei_session_run(s, b.tensors, b.n, outs, n_out);
    if (st != EI_STATUS_OK) {
        rc = engine_fail("run", st);
        goto cleanup;
    }
    if (a->outdir) {
        rc = make_dirs(a->outdir);
        if (rc) goto cleanup;
    }
    for (size_t i = 0; i < n_out; i++) {
        ei_value_info vi;
        st = ei_session_output_info(s, i, &vi);
        if (st != EI_STATUS_OK) {
            rc = engine_fail("output info", st);
            goto cleanup;
        }
        format_dims(outs[i].rank, outs[i].dims, buf, sizeof buf);
        if (!a->outdir) {
            printf("%s: %s %s\n", vi.name, ei_dtype_name(outs[i].dtype), buf);
            print_values(&outs[i]);
            continue;
        }
        char *file = files[i], base[256], path[4400];
        output_file_name(vi.name, i, base, sizeof base);
        /* Names that sanitize alike (or "y" next to a sanitized "y_1") stay apart: add a
         * counter until the name is unused (at most i tries: only i names are taken). */
        snprintf(file, sizeof files[i], "%s", base);
        for (size_t k = 1, j = 0; j < i; j++) {
            if (strcmp(files[j], file) != 0) continue;
            snprintf(file, sizeof files[i], "%s_%zu", base, k++);
            j = (size_t)-1; /* compare with every taken name again */
        }
        int len = snprintf(path, sizeof path, "%s/%s.npy", a->outdir, file);
        if (len < 0 || (size_t)len >= sizeof path) {
            rc = fail("-o: path too long: %s/%s.npy", a->outdir, file);
            goto cleanup;
        }
        if (ei_npy_save(path, outs[i].dtype, outs[i].rank, outs[i].dims, outs[i].data,
                        outs[i].nbytes, err, sizeof err) != 0) {
            rc = fail("output '%s': %s", vi.name, err);
            goto cleanup;
        }
        printf("%s -> %s (%s %s)\n", vi.name, path, ei_dtype_name(outs[i].dtype), buf);
    }
cleanup:
    free(files);
    free_outputs(outs, owned, n_out);
    bound_free(&b);
    ei_session_free(s);
    return rc;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* "create phases ms: read 0.012  parse 0.345 ..." (plan: the first reshape). */
static int print_creation_stats(const ei_session *s) {
    ei_creation_stats cs;
    ei_status st = ei_session_creation_stats(s, &cs);
    if (st != EI_STATUS_OK) return engine_fail("creation stats", st);
    printf("create phases ms: read %.3f  parse %.3f  threads %.3f  prepare %.3f  optimize %.3f  "
           "plan %.3f\n",
           (double)cs.read_ns / 1e6, (double)cs.parse_ns / 1e6, (double)cs.threads_ns / 1e6,
           (double)cs.prepare_ns / 1e6, (double)cs.optimize_ns / 1e6, (double)cs.plan_ns / 1e6);
    return 0;
}

typedef struct prof_row {
    ei_profile_entry e;
    char label[72]; /* "loop/body_add" for nodes of subgraphs */
} prof_row;

typedef struct op_row {
    const char *op_type;
    const char *domain;
    uint64_t ns;
    size_t nodes;
} op_row;

/* Appends str to buf (holding *len chars), cutting it to fit; buf stays NUL-terminated. */
static void append_cut(char *buf, size_t size, size_t *len, const char *str) {
    size_t n = strlen(str);
    if (n > size - 1 - *len) n = size - 1 - *len;
    memcpy(buf + *len, str, n);
    *len += n;
    buf[*len] = '\0';
}

static int cmp_prof_row(const void *x, const void *y) {
    const prof_row *a = x, *b = y;
    return (a->e.self_ns < b->e.self_ns) - (a->e.self_ns > b->e.self_ns); /* descending */
}

static int cmp_op_row(const void *x, const void *y) {
    const op_row *a = x, *b = y;
    return (a->ns < b->ns) - (a->ns > b->ns);
}

/* Per-node table (top N by self time, mean ms per run, share of all nodes' time) and a
 * per-op-type table. Self time: a control-flow node's excludes its subgraph's nodes, which
 * are listed (and counted) themselves, so shares add up to 100%. */
static int print_profile(const ei_session *s, long top) {
    size_t n = ei_session_profile_count(s);
    uint64_t runs = 0, run_ns = 0, sum = 0;
    char shape[96];
    ei_status st = ei_session_profile_runs(s, &runs, &run_ns);
    if (st != EI_STATUS_OK) return engine_fail("profile", st);
    if (n == 0 || runs == 0) {
        printf("profile: no node ran while profiling\n");
        return 0;
    }
    prof_row *rows = calloc(n, sizeof *rows);
    op_row *ops = calloc(n, sizeof *ops);
    if (!rows || !ops) {
        free(rows);
        free(ops);
        return fail("out of memory");
    }
    size_t n_ops = 0;
    for (size_t i = 0; i < n; i++) {
        st = ei_session_profile_entry(s, i, &rows[i].e);
        if (st != EI_STATUS_OK) {
            free(rows);
            free(ops);
            return engine_fail("profile entry", st);
        }
        const ei_profile_entry *e = &rows[i].e;
        /* The label: the parent's label (computed already: parents come first) + name. */
        size_t len = 0;
        if (e->parent >= 0 && (size_t)e->parent < i) {
            append_cut(rows[i].label, sizeof rows[i].label, &len, rows[e->parent].label);
            append_cut(rows[i].label, sizeof rows[i].label, &len, "/");
        }
        append_cut(rows[i].label, sizeof rows[i].label, &len, e->name);
        sum += e->self_ns;
        size_t k = 0;
        while (k < n_ops && (strcmp(ops[k].op_type, e->op_type) || strcmp(ops[k].domain, e->domain))) k++;
        if (k == n_ops) {
            ops[n_ops].op_type = e->op_type;
            ops[n_ops].domain = e->domain;
            n_ops++;
        }
        ops[k].ns += e->self_ns;
        ops[k].nodes++;
    }
    qsort(rows, n, sizeof *rows, cmp_prof_row);
    qsort(ops, n_ops, sizeof *ops, cmp_op_row);
    double per_run = 1e6 * (double)runs, total = sum ? (double)sum : 1.0;
    size_t shown = top > 0 && (size_t)top < n ? (size_t)top : n;
    printf("\nprofile: %llu runs, %zu nodes; per run: %.4f ms in nodes, %.4f ms in the engine\n",
           (unsigned long long)runs, n, (double)sum / per_run, (double)run_ns / per_run);
    printf("top %zu nodes by time (ms: mean per run; a control-flow node's excludes its subgraph):\n", shown);
    printf("  %4s  %-32s %-20s %-20s %10s %7s %7s\n", "rank", "node", "op", "output", "ms", "share",
           "calls");
    for (size_t i = 0; i < shown; i++) {
        const ei_profile_entry *e = &rows[i].e;
        if (e->rank >= 0) format_dims(e->rank, e->dims, shape, sizeof shape);
        else snprintf(shape, sizeof shape, "?");
        printf("  %4zu  %-32.32s %-20.20s %-20.20s %10.4f %6.1f%% %7.4g\n", i + 1, rows[i].label, e->op_type,
               shape, (double)e->self_ns / per_run, 100.0 * (double)e->self_ns / total,
               (double)e->count / (double)runs);
    }
    printf("by op type:\n");
    printf("  %-28s %6s %10s %7s\n", "op", "nodes", "ms", "share");
    for (size_t k = 0; k < n_ops; k++) {
        char op[96];
        if (ops[k].domain[0]) snprintf(op, sizeof op, "%s (%s)", ops[k].op_type, ops[k].domain);
        else snprintf(op, sizeof op, "%s", ops[k].op_type);
        printf("  %-28.28s %6zu %10.4f %6.1f%%\n", op, ops[k].nodes, (double)ops[k].ns / per_run,
               100.0 * (double)ops[k].ns / total);
    }
    free(rows);
    free(ops);
    return 0;
}

static int cmd_bench(const cli_args *a) {
    ei_session *s = NULL;
    bound_inputs b;
    memset(&b, 0, sizeof b);
    ei_tensor *outs = NULL;
    void **owned = NULL;
    size_t n_out = 0;
    double *times = NULL;
    double create_ms = 0;
    char buf[512];
    int rc = open_session(a, &s, &create_ms);
    if (rc) return rc;
    rc = bind_inputs(a, s, &b);
    if (rc) goto cleanup;
    int missing = first_unshaped(&b);
    if (missing >= 0) {
        char example[256];
        format_decl_shape(&b.info[missing], buf, sizeof buf);
        format_shape_example(&b.info[missing], example, sizeof example);
        rc = fail("input '%s' has dynamic shape %s: pass --shape %s=DIMS (e.g. %s) "
                  "or -i %s=FILE.npy",
                  b.info[missing].name, buf, b.info[missing].name, example, b.info[missing].name);
        goto cleanup;
    }
    rc = make_random_inputs(&b);
    if (rc) goto cleanup;
    ei_status st = ei_session_reshape(s, b.tensors, b.n);
    if (st != EI_STATUS_OK) {
        rc = engine_fail("reshape", st);
        goto cleanup;
    }
    rc = alloc_outputs(s, &outs, &owned, &n_out);
    if (rc) goto cleanup;
    times = malloc((size_t)a->runs * sizeof *times);
    if (!times) {
        rc = fail("out of memory");
        goto cleanup;
    }

    printf("model: %s\n", a->model);
    print_engine_line(s);
    for (size_t i = 0; i < b.n; i++) {
        format_dims(b.tensors[i].rank, b.tensors[i].dims, buf, sizeof buf);
        printf("input %s: %s %s (%s)\n", b.info[i].name, ei_dtype_name(b.tensors[i].dtype), buf,
               b.from_file[i] ? "file" : "random");
    }
    printf("create: %.3f ms\n", create_ms);
    rc = print_creation_stats(s);
    if (rc) goto cleanup;
    printf("arena: %zu bytes\n", ei_session_arena_bytes(s));

    for (long r = 0; r < a->warmup + a->runs; r++) {
        if (a->profile && r == a->warmup) { /* the timed runs only */
            st = ei_session_set_profiling(s, 1);
            if (st != EI_STATUS_OK) {
                rc = engine_fail("profiling", st);
                goto cleanup;
            }
        }
        double t0 = now_ms();
        rebind_outputs(outs, owned, n_out);
        st = ei_session_run(s, b.tensors, b.n, outs, n_out);
        double dt = now_ms() - t0;
        if (st != EI_STATUS_OK) {
            rc = engine_fail("run", st);
            goto cleanup;
        }
        if (r >= a->warmup) times[r - a->warmup] = dt;
    }
    size_t n = (size_t)a->runs;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += times[i];
    qsort(times, n, sizeof *times, cmp_double);
    double median = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
    size_t p90 = (size_t)ceil(0.9 * (double)n);
    p90 = p90 ? p90 - 1 : 0;
    printf("runs: %zu (warmup %ld)%s\n", n, a->warmup, a->profile ? ", profiling on" : "");
    printf("latency ms: min %.4f  median %.4f  p90 %.4f  mean %.4f\n", times[0], median, times[p90],
           sum / (double)n);
    if (a->profile) rc = print_profile(s, a->top);
cleanup:
    free(times);
    free_outputs(outs, owned, n_out);
    bound_free(&b);
    ei_session_free(s);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("edgeinfer %s (isa %s, blas %s)\n", ei_version(), ei_isa_name(),
               ei_has_blas() ? "openblas" : "builtin");
        return 0;
    }
    if (strcmp(cmd, "info") && strcmp(cmd, "run") && strcmp(cmd, "bench"))
        return usage_error("unknown command '%s'", cmd);
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return 0;
        }
    cli_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    if (!strcmp(cmd, "info"))
        rc = cmd_info(&a);
    else if (!strcmp(cmd, "run"))
        rc = cmd_run(&a);
    else
        rc = cmd_bench(&a);
    fflush(stdout);
    return rc;
}
