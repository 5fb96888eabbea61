/*
 * test_threadpool.c - the persistent pool of kernels.h: every task runs exactly once with
 * a valid thread index, for 1, 2, 4 and 7 threads; many back-to-back runs; runs after the
 * workers have gone to sleep (and that such a run wakes one); create/free loops; a NULL
 * pool runs inline.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"
#include "test_util.h"

typedef struct job {
    size_t n;
    atomic_int *hits;      /* per task */
    atomic_long sum;       /* sum of task indices */
    atomic_int bad_thread; /* thread index out of range */
    int size;
} job;

static void job_fn(void *arg, size_t task, int thread) {
    job *j = arg;
    atomic_fetch_add(&j->hits[task], 1);
    atomic_fetch_add(&j->sum, (long)task);
    if (thread < 0 || thread >= j->size) atomic_fetch_add(&j->bad_thread, 1);
}

/* Runs n tasks on tp and checks each ran once; returns 1 on success. */
static int run_once(ei_threadpool *tp, size_t n) {
    job j;
    j.n = n;
    j.hits = calloc(n ? n : 1, sizeof *j.hits);
    if (!j.hits) return 0;
    atomic_init(&j.sum, 0);
    atomic_init(&j.bad_thread, 0);
    j.size = ei_threadpool_size(tp);
    ei_threadpool_run(tp, n, job_fn, &j);
    int ok =
        atomic_load(&j.bad_thread) == 0 && atomic_load(&j.sum) == (long)(n * (n ? n - 1 : 0) / 2);
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&j.hits[i]) != 1) ok = 0;
    free(j.hits);
    return ok;
}

static void test_null_pool(void) {
    CHECK_EQ_INT(ei_threadpool_size(NULL), 1);
    CHECK(run_once(NULL, 0));
    CHECK(run_once(NULL, 1));
    CHECK(run_once(NULL, 100));
    ei_threadpool_free(NULL);
}

static void test_sizes(void) {
    static const int threads[] = {1, 2, 4, 7};
    static const size_t tasks[] = {0, 1, 2, 3, 4, 5, 8, 63, 1000};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        ei_threadpool *tp = NULL;
        if (!CHECK(ei_threadpool_create(threads[t], &tp) == 0 && tp)) continue;
        CHECK_EQ_INT(ei_threadpool_size(tp), threads[t]);
        int ok = 1;
        for (int rep = 0; rep < 200; rep++)
            for (size_t k = 0; k < sizeof tasks / sizeof tasks[0]; k++)
                ok &= run_once(tp, tasks[k]);
        CHECK(ok);
        ei_threadpool_free(tp);
    }
}

/* Runs separated by sleeps, so workers are parked on the condition variable. */
static void test_wake_after_sleep(void) {
    ei_threadpool *tp = NULL;
    if (!CHECK(ei_threadpool_create(4, &tp) == 0)) return;
    int ok = 1;
    for (int rep = 0; rep < 10; rep++) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        ok &= run_once(tp, 17);
    }
    CHECK(ok);
    ei_threadpool_free(tp);
}

/* A job posted while the workers sleep must wake one: task 0 (on whichever thread takes
 * it) waits, up to 2 s, for a task to start on another thread. A lost wake-up (the
 * caller's lock-free look at the sleeper count racing a worker going to sleep) would
 * leave the job to the caller alone and time out. */
typedef struct meet_job {
    atomic_int started; /* tasks begun */
    atomic_int met;     /* task 0 saw another task begin */
} meet_job;

static void meet_fn(void *arg, size_t task, int thread) {
    (void)thread;
    meet_job *j = arg;
    atomic_fetch_add(&j->started, 1);
    if (task != 0) return;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        if (atomic_load(&j->started) > 1) {
            atomic_store(&j->met, 1);
            return;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 2000000000L);
}

static void test_wake_is_not_lost(void) {
    ei_threadpool *tp = NULL;
    if (!CHECK(ei_threadpool_create(2, &tp) == 0)) return;
    int met = 0;
    for (int rep = 0; rep < 40; rep++) {
        /* 0.05 .. 2 ms: both sides of the workers' spin before sleeping (~0.1 ms) */
        struct timespec ts = {0, (50 + 50 * (rep % 40)) * 1000L};
        nanosleep(&ts, NULL);
        meet_job j;
        atomic_init(&j.started, 0);
        atomic_init(&j.met, 0);
        ei_threadpool_run(tp, 2, meet_fn, &j);
        met += atomic_load(&j.met);
    }
    CHECK_EQ_INT(met, 40);
    ei_threadpool_free(tp);
}

static void test_create_free_loop(void) {
    int ok = 1;
    for (int rep = 0; rep < 100; rep++) {
        ei_threadpool *tp = NULL;
        if (ei_threadpool_create(1 + rep % 4, &tp) != 0) {
            ok = 0;
            continue;
        }
        if (rep % 3) ok &= run_once(tp, (size_t)rep);
        ei_threadpool_free(tp); /* also right after create, with workers just starting */
    }
    CHECK(ok);
    ei_threadpool *tp = NULL;
    CHECK(ei_threadpool_create(0, &tp) == 0 && ei_threadpool_size(tp) == 1); /* clamped to 1 */
    ei_threadpool_free(tp);
    CHECK(ei_threadpool_create(2, NULL) != 0);
    CHECK(ei_cpu_count() >= 1);
}

/* Two pools driven from the main thread alternately. */
static void test_two_pools(void) {
    ei_threadpool *a = NULL, *b = NULL;
    if (!CHECK(ei_threadpool_create(3, &a) == 0 && ei_threadpool_create(2, &b) == 0)) {
        ei_threadpool_free(a);
        ei_threadpool_free(b);
        return;
    }
    int ok = 1;
    for (int rep = 0; rep < 300; rep++)
        ok &= run_once(rep % 2 ? a : b, 10 + (size_t)rep % 7);
    CHECK(ok);
    ei_threadpool_free(a);
    ei_threadpool_free(b);
}

int main(void) {
    RUN_TEST(test_null_pool);
    RUN_TEST(test_sizes);
    RUN_TEST(test_wake_after_sleep);
    RUN_TEST(test_wake_is_not_lost);
    RUN_TEST(test_create_free_loop);
    RUN_TEST(test_two_pools);
    return TEST_REPORT("test_threadpool");
}
