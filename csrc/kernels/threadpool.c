/*
 * threadpool.c - the persistent thread pool of kernels.h: n-1 workers plus the caller.
 * A run publishes a job under the mutex and bumps a generation counter; tasks are taken
 * with an atomic counter; the last thread to finish signals the caller. Idle workers
 * spin briefly, then sleep on a condition variable (no spinning between runs).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "kernels/kernels.h"

/* Polls of the generation counter before a worker goes to sleep: a few microseconds,
 * enough to catch back-to-back runs of consecutive small ops without a futex wake. */
#define EI_TP_SPIN 2000

/* Tells the core (and an SMT sibling) that this is a spin-wait. */
static inline void ei_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

typedef struct ei_tp_worker {
    struct ei_threadpool *tp;
    pthread_t thread;
    int index;
} ei_tp_worker;

struct ei_threadpool {
    int n_threads; /* including the caller */
    ei_tp_worker *workers;
    int n_started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers wait here for a new generation or shutdown */
    pthread_cond_t done; /* the caller waits here for workers to finish */
    atomic_uint generation;
    int shutdown;

    /* The current job: written by the caller before generation is bumped. */
    void (*fn)(void *arg, size_t task, int thread);
    void *arg;
    size_t n_tasks;
    atomic_size_t next;   /* next task to hand out */
    atomic_int remaining; /* workers still inside this job */
};

static void ei_tp_work(struct ei_threadpool *tp, int thread) {
    const size_t n = tp->n_tasks;
    void (*fn)(void *, size_t, int) = tp->fn;
    void *arg = tp->arg;
    for (;;) {
        size_t t = atomic_fetch_add_explicit(&tp->next, 1, memory_order_relaxed);
        if (t >= n) break;
        fn(arg, t, thread);
    }
}

static void *ei_tp_main(void *p) {
    ei_tp_worker *w = p;
    struct ei_threadpool *tp = w->tp;
    unsigned seen = 0;
    for (;;) {
        unsigned gen = atomic_load_explicit(&tp->generation, memory_order_acquire);
        for (int spin = 0; gen == seen && spin < EI_TP_SPIN; spin++) {
            ei_cpu_relax();
            gen = atomic_load_explicit(&tp->generation, memory_order_acquire);
        }
        if (gen == seen) {
            pthread_mutex_lock(&tp->mu);
            while (!tp->shutdown &&
                   (gen = atomic_load_explicit(&tp->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&tp->wake, &tp->mu);
            int stop = tp->shutdown;
            pthread_mutex_unlock(&tp->mu);
            if (stop) return NULL;
        }
        seen = gen;
        ei_tp_work(tp, w->index);
        if (atomic_fetch_sub_explicit(&tp->remaining, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&tp->mu);
            pthread_cond_signal(&tp->done);
            pthread_mutex_unlock(&tp->mu);
        }
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
    pthread_cond_destroy(&tp->done);
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
    if (pthread_cond_init(&tp->done, NULL) != 0) {
        pthread_cond_destroy(&tp->wake);
        pthread_mutex_destroy(&tp->mu);
        free(tp);
        return -1;
    }
    atomic_init(&tp->generation, 0u);
    atomic_init(&tp->next, (size_t)0);
    atomic_init(&tp->remaining, 0);
    if (n_threads > 1) {
        tp->workers = calloc((size_t)(n_threads - 1), sizeof *tp->workers);
        if (!tp->workers) goto fail;
        for (int i = 0; i < n_threads - 1; i++) {
            tp->workers[i].tp = tp;
            tp->workers[i].index = i + 1; /* the caller is thread 0 */
            if (pthread_create(&tp->workers[i].thread, NULL, ei_tp_main, &tp->workers[i]) != 0)
                goto fail;
            tp->n_started++;
        }
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
    if (!tp || tp->n_threads == 1 || n_tasks == 1) {
        for (size_t t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    tp->fn = fn;
    tp->arg = arg;
    tp->n_tasks = n_tasks;
    atomic_store_explicit(&tp->next, 0, memory_order_relaxed);
    atomic_store_explicit(&tp->remaining, tp->n_started, memory_order_relaxed);
    /* The release publishes the job; spinning workers see it without the lock, sleeping
     * ones are woken. Bumping under the mutex closes the check-then-wait race. */
    pthread_mutex_lock(&tp->mu);
    atomic_fetch_add_explicit(&tp->generation, 1u, memory_order_release);
    pthread_cond_broadcast(&tp->wake);
    pthread_mutex_unlock(&tp->mu);

    ei_tp_work(tp, 0);

    /* Every worker joins every generation (possibly finding no task left), so the job's
     * fields stay valid until all have left ei_tp_work. */
    if (atomic_load_explicit(&tp->remaining, memory_order_acquire) != 0) {
        for (int spin = 0; spin < EI_TP_SPIN; spin++) {
            if (atomic_load_explicit(&tp->remaining, memory_order_acquire) == 0) return;
            ei_cpu_relax();
        }
        pthread_mutex_lock(&tp->mu);
        while (atomic_load_explicit(&tp->remaining, memory_order_acquire) != 0)
            pthread_cond_wait(&tp->done, &tp->mu);
        pthread_mutex_unlock(&tp->mu);
    }
}
