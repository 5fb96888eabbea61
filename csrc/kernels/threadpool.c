/*
 * threadpool.c - the persistent thread pool of kernels.h: n-1 workers plus the caller.
 * A job's tasks are claimed through one 64-bit atomic word holding (generation, next
 * task), so a worker can only take a task of the job that is current; the caller waits
 * for the tasks to be done, never for a worker to show up. A descheduled or sleeping
 * worker therefore costs nothing: the caller runs the tasks itself. Idle workers spin
 * briefly, then sleep on a condition variable (no spinning between runs).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels/kernels.h"

/* Polls before an idle worker sleeps: catches back-to-back jobs of consecutive small ops
 * without a futex wake, and stops well before a run could be said to leave threads
 * spinning. */
#define EI_TP_SPIN 4000

/* state = generation << EI_TP_TASK_BITS | next task index. */
#define EI_TP_TASK_BITS 24
#define EI_TP_MAX_TASKS ((uint64_t)1 << EI_TP_TASK_BITS)
#define EI_TP_SLOTS 4 /* job descriptors kept by generation: a late reader sees a stable one */

static inline void ei_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

typedef void (*ei_tp_fn)(void *arg, size_t task, int thread);

/* Fields are atomic (relaxed) because a stalled worker may read a slot while the caller
 * rewrites it for a later job; the claim on `state` then fails and the values are unused. */
typedef struct ei_tp_job {
    _Atomic(ei_tp_fn) fn;
    _Atomic(void *) arg;
    _Atomic uint64_t n_tasks;
} ei_tp_job;

typedef struct ei_tp_worker {
    struct ei_threadpool *tp;
    pthread_t thread;
    int index;
} ei_tp_worker;

/* Worker thread stack (see ei_threadpool_create). */
#define EI_TP_STACK_BYTES ((size_t)2 << 20)

struct ei_threadpool {
    int n_threads; /* including the caller */
    ei_tp_worker *workers;
    int n_started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* sleeping workers wait here for a new generation or shutdown */
    /* Workers about to sleep or sleeping. Changed under mu, read without it by the caller:
     * a worker counts itself before its last look at `state`, the caller publishes `state`
     * before reading this (both seq_cst), so one of them sees the other. */
    atomic_int sleepers;
    int shutdown;

    ei_tp_job jobs[EI_TP_SLOTS];
    _Atomic uint64_t state; /* (generation, next task) */
    atomic_size_t done;     /* tasks of the current job finished */
};

static inline uint64_t ei_tp_gen(uint64_t state) { return state >> EI_TP_TASK_BITS; }
static inline uint64_t ei_tp_idx(uint64_t state) { return state & (EI_TP_MAX_TASKS - 1); }

/* Claims and runs tasks of generation gen until none is left (or the job changed). */
static void ei_tp_work(struct ei_threadpool *tp, uint64_t gen, int thread) {
    ei_tp_job *job = &tp->jobs[gen % EI_TP_SLOTS];
    uint64_t s = atomic_load_explicit(&tp->state, memory_order_acquire);
    for (;;) {
        if (ei_tp_gen(s) != gen) return;
        uint64_t i = ei_tp_idx(s);
        /* The job's fields are read before the claim; a successful claim proves the job
         * was still current, so they belonged to it. */
        uint64_t n = atomic_load_explicit(&job->n_tasks, memory_order_relaxed);
        ei_tp_fn fn = atomic_load_explicit(&job->fn, memory_order_relaxed);
        void *arg = atomic_load_explicit(&job->arg, memory_order_relaxed);
        if (i >= n) return;
        if (!atomic_compare_exchange_weak_explicit(&tp->state, &s, s + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        fn(arg, (size_t)i, thread);
        atomic_fetch_add_explicit(&tp->done, 1, memory_order_release);
        s = atomic_load_explicit(&tp->state, memory_order_acquire);
    }
}

static void *ei_tp_main(void *p) {
    ei_tp_worker *w = p;
    struct ei_threadpool *tp = w->tp;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = ei_tp_gen(atomic_load_explicit(&tp->state, memory_order_acquire));
        for (int spin = 0; gen == seen && spin < EI_TP_SPIN; spin++) {
            ei_cpu_relax();
            gen = ei_tp_gen(atomic_load_explicit(&tp->state, memory_order_acquire));
        }
        if (gen == seen) {
            pthread_mutex_lock(&tp->mu);
            atomic_fetch_add(&tp->sleepers, 1);
            while (!tp->shutdown && (gen = ei_tp_gen(atomic_load(&tp->state))) == seen)
                pthread_cond_wait(&tp->wake, &tp->mu);
            atomic_fetch_sub(&tp->sleepers, 1);
            int stop = tp->shutdown;
            pthread_mutex_unlock(&tp->mu);
            if (stop) return NULL;
        }
        seen = gen;
        ei_tp_work(tp, gen, w->index);
    }
}

int ei_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) return 1;
    if (n > 4096) return 4096;
    return (int)n;
}

void ei_threadpool_free(ei_threadpool *tp) {
    if (!tp) return;
    pthread_mutex_lock(&tp->mu);
    tp->shutdown = 1;
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 0; i < tp->n_started; i++)
        pthread_join(tp->workers[i].thread, NULL);
    pthread_cond_destroy(&tp->wake);
    pthread_mutex_destroy(&tp->mu);
    free(tp->workers);
    free(tp);
}

int ei_threadpool_create(int n_threads, ei_threadpool **out) {
    if (!out) return -1;
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 1024) n_threads = 1024;
    ei_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) return -1;
    tp->n_threads = n_threads;
    if (pthread_mutex_init(&tp->mu, NULL) != 0) {
        free(tp);
        return -1;
    }
    if (pthread_cond_init(&tp->wake, NULL) != 0) {
        pthread_mutex_destroy(&tp->mu);
        free(tp);
        return -1;
    }
    atomic_init(&tp->state, (uint64_t)0);
    atomic_init(&tp->done, (size_t)0);
    atomic_init(&tp->sleepers, 0);
    if (n_threads > 1) {
        tp->workers = calloc((size_t)(n_threads - 1), sizeof *tp->workers);
        if (!tp->workers) goto fail;
        /* The kernels keep tiles on the stack (depthwise up to ~100 KiB, GEMM ~48 KiB):
         * ask for a stack that holds them whatever the C library's default (musl's is
         * 128 KiB, glibc's the stack rlimit, usually 8 MiB). */
        pthread_attr_t attr;
        int have_attr = pthread_attr_init(&attr) == 0;
        if (have_attr) (void)pthread_attr_setstacksize(&attr, EI_TP_STACK_BYTES);
        for (int i = 0; i < n_threads - 1; i++) {
            tp->workers[i].tp = tp;
            tp->workers[i].index = i + 1; /* the caller is thread 0 */
            if (pthread_create(&tp->workers[i].thread, have_attr ? &attr : NULL, ei_tp_main,
                               &tp->workers[i]) != 0) {
                if (have_attr) pthread_attr_destroy(&attr);
                goto fail;
            }
            tp->n_started++;
        }
        if (have_attr) pthread_attr_destroy(&attr);
    }
    *out = tp;
    return 0;
fail:
    ei_threadpool_free(tp);
    return -1;
}

int ei_threadpool_size(const ei_threadpool *tp) {
    return tp ? tp->n_threads : 1;
}

void ei_threadpool_run(ei_threadpool *tp, size_t n_tasks,
                       void (*fn)(void *arg, size_t task, int thread), void *arg) {
    if (n_tasks == 0) return;
    if (!tp || tp->n_started == 0 || n_tasks == 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    /* More tasks than the claim word holds (never seen in practice): the rest inline. */
    size_t chunk = n_tasks < (size_t)(EI_TP_MAX_TASKS - 1) ? n_tasks : (size_t)(EI_TP_MAX_TASKS - 1);
    uint64_t gen = ei_tp_gen(atomic_load_explicit(&tp->state, memory_order_relaxed)) + 1;
    ei_tp_job *job = &tp->jobs[gen % EI_TP_SLOTS];
    atomic_store_explicit(&job->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&job->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&job->n_tasks, (uint64_t)chunk, memory_order_relaxed);
    atomic_store_explicit(&tp->done, 0, memory_order_relaxed);
    /* Publishing the new generation (task index 0) releases the job's fields; seq_cst
     * orders it before the read of sleepers (see there). */
    atomic_store(&tp->state, gen << EI_TP_TASK_BITS);
    if (atomic_load(&tp->sleepers) > 0) {
        pthread_mutex_lock(&tp->mu);
        pthread_cond_broadcast(&tp->wake);
        pthread_mutex_unlock(&tp->mu);
    }

    ei_tp_work(tp, gen, 0);
    /* Every task is claimed now; wait only for those still running on workers. */
    for (int spin = 0; atomic_load_explicit(&tp->done, memory_order_acquire) < chunk; spin++) {
        if (spin < 1000) ei_cpu_relax();
        else sched_yield(); /* a worker mid-task may need this core */
    }
    for (size_t t = chunk; t < n_tasks; t++) fn(arg, t, 0);
}
