/*
 * test_profile.c - per-node profiling (records, subgraph bodies, reset, toggling), the
 * creation breakdown, and two run-time hygiene checks: run allocates nothing for a
 * static-shape model (malloc & co. counted by interposition), and no pool thread is left
 * spinning once run returns (process CPU time over an idle sleep). Models come from
 * tests/c/gen_profile_fixtures.py. No timing is asserted beyond "> 0" and the idle bound.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "data/onnx_fixtures.h"
#include "data/profile_fixtures.h"
#include "kernels/kernels.h"
#include "test_util.h"

/* ------------------------------------------------------- counting allocator
 * The test executable defines malloc, calloc, realloc and the aligned allocators, so
 * every allocation of the process (the engine is linked statically; OpenBLAS and libc
 * resolve these symbols to the executable's) goes through a counter before glibc's own
 * allocator (__libc_*). free stays glibc's: the memory is glibc's. This catches direct
 * malloc calls anywhere, not only those through core/alloc.c, with no hook in the
 * library. glibc only; off under sanitizers, which interpose these themselves. */
#if defined(__SANITIZE_ADDRESS__)
#define EI_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EI_TEST_SANITIZED 1
#endif
#endif
#if defined(__GLIBC__) && !defined(EI_TEST_SANITIZED)
#define EI_TEST_COUNT_ALLOCS 1
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_long allocs;

void *malloc(size_t size) {
    atomic_fetch_add(&allocs, 1);
    return __libc_malloc(size);
}
void *calloc(size_t n, size_t size) {
    atomic_fetch_add(&allocs, 1);
    return __libc_calloc(n, size);
}
void *realloc(void *p, size_t size) {
    atomic_fetch_add(&allocs, 1);
    return __libc_realloc(p, size);
}
int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add(&allocs, 1);
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t alignment, size_t size) {
    atomic_fetch_add(&allocs, 1);
    return __libc_memalign(alignment, size);
}
void *memalign(size_t alignment, size_t size);
void *memalign(size_t alignment, size_t size) {
    atomic_fetch_add(&allocs, 1);
    return __libc_memalign(alignment, size);
}
#endif

/* ---------------------------------------------------------------- helpers */

#define CNN_IN (1 * 8 * 32 * 32)

static ei_session *open_model(const unsigned char *bytes, size_t size, int threads, int profiling) {
    ei_options opt;
    ei_options_init(&opt);
    opt.num_threads = threads;
    opt.enable_profiling = profiling;
    ei_session *s = NULL;
    if (!CHECK_OK(ei_session_create_from_memory(bytes, size, NULL, &opt, &s))) return NULL;
    return s;
}

static float cnn_x[CNN_IN];

static ei_status run_cnn(ei_session *s, float *y) {
    ei_tensor in = {.name = "x", .dtype = EI_DTYPE_F32, .rank = 4, .dims = {1, 8, 32, 32},
                    .data = cnn_x, .nbytes = sizeof cnn_x};
    ei_tensor out = {.data = y, .nbytes = 10 * sizeof(float)};
    return ei_session_run(s, &in, 1, &out, 1);
}

static ei_status run_loop(ei_session *s, float *y) {
    static float x[4] = {0, 1, 2, 3};
    ei_tensor in = {.name = "x", .dtype = EI_DTYPE_F32, .rank = 1, .dims = {4}, .data = x,
                    .nbytes = sizeof x};
    ei_tensor out = {.data = y, .nbytes = 4 * sizeof(float)};
    return ei_session_run(s, &in, 1, &out, 1);
}

/* Index of the entry named name, or -1. */
static int find_entry(ei_session *s, const char *name, ei_profile_entry *out) {
    size_t n = ei_session_profile_count(s);
    for (size_t i = 0; i < n; i++) {
        ei_profile_entry e;
        if (ei_session_profile_entry(s, i, &e) != EI_STATUS_OK) return -1;
        if (strcmp(e.name, name) == 0) {
            if (out) *out = e;
            return (int)i;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ tests */

static void test_profile_off_records_nothing(void) {
    ei_session *s = open_model(ei_px_cnn, sizeof ei_px_cnn, 1, 0);
    if (!s) return;
    float y[10];
    for (int r = 0; r < 3; r++) CHECK_OK(run_cnn(s, y));
    CHECK_EQ_INT(ei_session_profile_count(s), 0);
    uint64_t runs = 99, ns = 99;
    CHECK_OK(ei_session_profile_runs(s, &runs, &ns));
    CHECK_EQ_INT(runs, 0);
    CHECK_EQ_INT(ns, 0);
    ei_profile_entry e;
    CHECK_STATUS(ei_session_profile_entry(s, 0, &e), EI_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(ei_last_error(), "out of range");
    ei_session_free(s);
}

static void test_profile_cnn(void) {
    ei_session *s = open_model(ei_px_cnn, sizeof ei_px_cnn, 1, 1);
    if (!s) return;
    float y[10];
    for (int i = 0; i < CNN_IN; i++) cnn_x[i] = (float)((i * 7) % 13) / 13.0f - 0.5f;
    const int runs = 5;
    for (int r = 0; r < runs; r++) CHECK_OK(run_cnn(s, y));

    size_t n = ei_session_profile_count(s);
    CHECK(n >= 5 && n <= 8); /* conv(+relu, maybe fused), gap, reshape, matmul(+add), softmax */
    uint64_t prof_runs = 0, run_ns = 0, self_sum = 0;
    CHECK_OK(ei_session_profile_runs(s, &prof_runs, &run_ns));
    CHECK_EQ_INT(prof_runs, runs);
    for (size_t i = 0; i < n; i++) {
        ei_profile_entry e;
        if (!CHECK_OK(ei_session_profile_entry(s, i, &e))) continue;
        CHECK_EQ_INT(e.count, runs);
        CHECK_EQ_INT(e.parent, -1);
        CHECK_EQ_INT(e.depth, 0);
        CHECK_EQ_INT(e.self_ns, e.total_ns);
        CHECK(e.name && e.op_type && e.domain);
        self_sum += e.self_ns;
        for (size_t j = 0; j < i; j++) { /* each node once */
            ei_profile_entry f;
            ei_session_profile_entry(s, j, &f);
            CHECK(strcmp(f.name, e.name) != 0);
        }
    }
    CHECK(self_sum <= run_ns); /* the nodes run inside the timed run */
    CHECK(self_sum > 0);
    /* Computed at plan, removed by the optimizer: no record. */
    CHECK_EQ_INT(find_entry(s, "shape", NULL), -1);
    CHECK_EQ_INT(find_entry(s, "gather", NULL), -1);
    CHECK_EQ_INT(find_entry(s, "concat", NULL), -1);
    CHECK_EQ_INT(find_entry(s, "ident", NULL), -1);
    ei_profile_entry e;
    if (CHECK(find_entry(s, "softmax", &e) >= 0)) {
        CHECK_STREQ(e.op_type, "Softmax");
        CHECK_STREQ(e.domain, "");
        CHECK_EQ_INT(e.dtype, EI_DTYPE_F32);
        CHECK_EQ_INT(e.rank, 2);
        CHECK_EQ_INT(e.dims[0], 1);
        CHECK_EQ_INT(e.dims[1], 10);
    }
    if (CHECK(find_entry(s, "gap", &e) >= 0)) CHECK(e.total_ns > 0);
    /* The conv runs under its own name, or inside a node the optimizer made. */
    bool conv_seen = false;
    for (size_t i = 0; i < n; i++) {
        ei_session_profile_entry(s, i, &e);
        if (strstr(e.op_type, "Conv")) {
            conv_seen = true;
            if (strcmp(e.op_type, "Conv") != 0) CHECK_STREQ(e.domain, "com.edgeinfer");
        }
    }
    CHECK(conv_seen);

    /* Off: records kept, not extended. */
    CHECK_OK(ei_session_set_profiling(s, 0));
    CHECK_OK(run_cnn(s, y));
    CHECK_EQ_INT(ei_session_profile_count(s), n);
    CHECK_OK(ei_session_profile_runs(s, &prof_runs, NULL));
    CHECK_EQ_INT(prof_runs, runs);
    /* Reset: nothing left; on again: one run, one record per node. */
    ei_session_profile_reset(s);
    CHECK_EQ_INT(ei_session_profile_count(s), 0);
    CHECK_OK(ei_session_profile_runs(s, &prof_runs, &run_ns));
    CHECK_EQ_INT(prof_runs, 0);
    CHECK_EQ_INT(run_ns, 0);
    CHECK_OK(ei_session_set_profiling(s, 1));
    CHECK_OK(run_cnn(s, y));
    CHECK_EQ_INT(ei_session_profile_count(s), n);
    CHECK_OK(ei_session_profile_entry(s, 0, &e));
    CHECK_EQ_INT(e.count, 1);

    CHECK_STATUS(ei_session_profile_entry(s, n, &e), EI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ei_session_profile_entry(s, 0, NULL), EI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ei_session_profile_entry(NULL, 0, &e), EI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ei_session_set_profiling(NULL, 1), EI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ei_session_profile_runs(NULL, NULL, NULL), EI_STATUS_INVALID_ARGUMENT);
    CHECK_EQ_INT(ei_session_profile_count(NULL), 0);
    ei_session_profile_reset(NULL);
    ei_session_free(s);
}

static void test_profile_loop_body(void) {
    ei_session *s = open_model(ei_px_loop, sizeof ei_px_loop, 1, 1);
    if (!s) return;
    float y[4];
    CHECK_OK(run_loop(s, y));
    CHECK_OK(run_loop(s, y));
    CHECK_NEAR(y[3], 3 + 3 * 6, 0); /* s = x + 3 * 2x */
    ei_profile_entry loop, body, pre, post;
    int li = find_entry(s, "loop", &loop);
    int bi = find_entry(s, "body_add", &body);
    int pi = find_entry(s, "pre", &pre);
    int qi = find_entry(s, "post", &post);
    if (!CHECK(li >= 0 && bi >= 0 && pi >= 0 && qi >= 0)) {
        ei_session_free(s);
        return;
    }
    CHECK(pi < li && li < qi && qi < bi); /* top level first, then the body */
    CHECK_EQ_INT(loop.count, 2);
    CHECK_EQ_INT(loop.depth, 0);
    CHECK_EQ_INT(loop.parent, -1);
    CHECK_EQ_INT(body.count, 6); /* 3 iterations x 2 runs */
    CHECK_EQ_INT(body.depth, 1);
    CHECK_EQ_INT(body.parent, li);
    CHECK_STREQ(body.op_type, "Add");
    CHECK(loop.total_ns >= body.total_ns);
    /* The Loop's self time excludes its body's nodes. */
    uint64_t children = 0;
    size_t n = ei_session_profile_count(s);
    for (size_t i = 0; i < n; i++) {
        ei_profile_entry e;
        ei_session_profile_entry(s, i, &e);
        if (e.parent == li) children += e.total_ns;
    }
    CHECK_EQ_INT(loop.self_ns, loop.total_ns - children);
    ei_session_profile_reset(s);
    CHECK_EQ_INT(ei_session_profile_count(s), 0);
    CHECK_OK(run_loop(s, y));
    CHECK(find_entry(s, "body_add", &body) >= 0);
    CHECK_EQ_INT(body.count, 3);
    ei_session_free(s);
}

static void test_creation_stats(void) {
    ei_session *s = open_model(ei_px_cnn, sizeof ei_px_cnn, 1, 0);
    if (!s) return;
    ei_creation_stats st;
    CHECK_OK(ei_session_creation_stats(s, &st));
    CHECK_EQ_INT(st.read_ns, 0); /* from memory */
    CHECK(st.parse_ns > 0 && st.prepare_ns > 0 && st.plan_ns > 0); /* static shapes: planned */
    CHECK(st.total_ns >= st.parse_ns + st.threads_ns + st.prepare_ns + st.optimize_ns + st.plan_ns);
    CHECK_STATUS(ei_session_creation_stats(s, NULL), EI_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ei_session_creation_stats(NULL, &st), EI_STATUS_INVALID_ARGUMENT);
    ei_session_free(s);

    /* Dynamic batch: no plan at creation; the first reshape records it, later ones do not. */
    s = open_model(ei_fx_mlp, sizeof ei_fx_mlp, 1, 0);
    if (!s) return;
    CHECK_OK(ei_session_creation_stats(s, &st));
    CHECK_EQ_INT(st.plan_ns, 0);
    float x[8] = {0};
    ei_tensor in = {.name = "X", .dtype = EI_DTYPE_F32, .rank = 2, .dims = {2, 4}, .data = x,
                    .nbytes = sizeof x};
    CHECK_OK(ei_session_reshape(s, &in, 1));
    CHECK_OK(ei_session_creation_stats(s, &st));
    CHECK(st.plan_ns > 0);
    uint64_t first = st.plan_ns;
    in.dims[0] = 1;
    CHECK_OK(ei_session_reshape(s, &in, 1));
    CHECK_OK(ei_session_creation_stats(s, &st));
    CHECK_EQ_INT(st.plan_ns, first);
    ei_session_free(s);

    /* From a file: the read is timed too. */
    ei_options opt;
    ei_options_init(&opt);
    CHECK_EQ_INT(opt.enable_profiling, 0);
    opt.num_threads = 1;
    if (CHECK_OK(ei_session_create_from_file("tests/c/example_model.onnx", &opt, &s))) {
        CHECK_OK(ei_session_creation_stats(s, &st));
        CHECK(st.read_ns > 0 && st.parse_ns > 0);
        CHECK(st.total_ns >= st.read_ns + st.parse_ns);
        ei_session_free(s);
    }
}

/* Allocations during runs after the first, for a static-shape model, with profiling off
 * and on, with one thread and two. */
static void test_no_allocation_in_run(void) {
#if defined(EI_TEST_COUNT_ALLOCS)
    /* The counter is live: creating a session allocates. */
    long before = atomic_load(&allocs);
    ei_session *s = open_model(ei_px_cnn, sizeof ei_px_cnn, 2, 0);
    if (!s) return;
    CHECK(atomic_load(&allocs) > before);
    float y[10];
    for (int profiling = 0; profiling <= 1; profiling++) {
        CHECK_OK(ei_session_set_profiling(s, profiling));
        CHECK_OK(run_cnn(s, y)); /* the first run may set things up (OpenBLAS buffers) */
        long start = atomic_load(&allocs);
        for (int r = 0; r < 5; r++) CHECK_OK(run_cnn(s, y));
        long during = atomic_load(&allocs) - start;
        if (during) fprintf(stderr, "%ld allocations in 5 runs (profiling %d)\n", during, profiling);
        CHECK_EQ_INT(during, 0);
    }
    /* The same model on one thread. */
    ei_session_free(s);
    s = open_model(ei_px_cnn, sizeof ei_px_cnn, 1, 1);
    if (!s) return;
    CHECK_OK(run_cnn(s, y));
    long start = atomic_load(&allocs);
    for (int r = 0; r < 5; r++) CHECK_OK(run_cnn(s, y));
    CHECK_EQ_INT(atomic_load(&allocs) - start, 0);
    /* Queries allocate nothing either. */
    ei_profile_entry e;
    CHECK_OK(ei_session_profile_entry(s, 0, &e));
    CHECK_EQ_INT(atomic_load(&allocs) - start, 0);
    ei_session_free(s);

    /* The Loop model (dynamic node: buffers sized at run, reused once big enough):
     * reported, not asserted. */
    s = open_model(ei_px_loop, sizeof ei_px_loop, 1, 0);
    if (!s) return;
    float y4[4];
    CHECK_OK(run_loop(s, y4));
    start = atomic_load(&allocs);
    for (int r = 0; r < 5; r++) CHECK_OK(run_loop(s, y4));
    printf("test_profile: Loop model: %ld allocations in 5 runs after the first\n",
           atomic_load(&allocs) - start);
    ei_session_free(s);
#else
    printf("test_profile: allocation counting needs glibc without sanitizers: skipped\n");
#endif
}

static double process_cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Burns 60 ms of its own CPU time. */
static void *spinner(void *arg) {
    (void)arg;
    struct timespec ts;
    do clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    while ((double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6 < 60.0);
    return NULL;
}

static void count_task(void *arg, size_t task, int thread) {
    (void)task;
    atomic_int *per_thread = arg;
    double t0 = process_cpu_ms();
    while (process_cpu_ms() - t0 < 0.2) {
    } /* some work, so a worker takes part */
    atomic_fetch_add(&per_thread[thread > 0], 1);
}

/* After run returns, pool workers sleep: the process burns (almost) no CPU while the
 * caller sleeps 200 ms. A spinning worker would burn ~200 ms. */
static void test_no_thread_spins_after_run(void) {
    /* The measure sees other threads' CPU time: a 60 ms spinner shows up in full. */
    double c0 = process_cpu_ms();
    pthread_t t;
    if (CHECK(pthread_create(&t, NULL, spinner, NULL) == 0)) {
        pthread_join(t, NULL);
        CHECK(process_cpu_ms() - c0 >= 60.0);
    }

    ei_session *s = open_model(ei_px_cnn, sizeof ei_px_cnn, 2, 0);
    if (!s) return;
    CHECK_EQ_INT(ei_session_num_threads(s), 2);
    float y[10];
    for (int r = 0; r < 20; r++) CHECK_OK(run_cnn(s, y));
    c0 = process_cpu_ms();
    sleep_ms(200);
    double idle = process_cpu_ms() - c0;
    printf("test_profile: CPU time over a 200 ms sleep after a 2-thread run: %.3f ms\n", idle);
    CHECK(idle < 50.0);
    ei_session_free(s);

    /* The pool directly, with tasks long enough that the worker takes part. */
    ei_threadpool *tp = NULL;
    if (!CHECK(ei_threadpool_create(2, &tp) == 0)) return;
    atomic_int per_thread[2] = {0, 0};
    ei_threadpool_run(tp, 32, count_task, per_thread);
    CHECK_EQ_INT(atomic_load(&per_thread[0]) + atomic_load(&per_thread[1]), 32);
    printf("test_profile: pool job of 32 tasks: %d on the caller, %d on the worker\n",
           atomic_load(&per_thread[0]), atomic_load(&per_thread[1]));
    c0 = process_cpu_ms();
    sleep_ms(200);
    idle = process_cpu_ms() - c0;
    printf("test_profile: CPU time over a 200 ms sleep after a pool job: %.3f ms\n", idle);
    CHECK(idle < 50.0);
    ei_threadpool_free(tp);
}

int main(void) {
    RUN_TEST(test_profile_off_records_nothing);
    RUN_TEST(test_profile_cnn);
    RUN_TEST(test_profile_loop_body);
    RUN_TEST(test_creation_stats);
    RUN_TEST(test_no_allocation_in_run);
    RUN_TEST(test_no_thread_spins_after_run);
    return TEST_REPORT("test_profile");
}
