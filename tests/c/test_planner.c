/*
 * test_planner.c - the arena planner: buffers alive at the same time never overlap,
 * offsets are aligned, reuse happens, and the arena is no larger than the sum of sizes.
 */
#include <stdlib.h>

#include "core/planner.h"
#include "test_util.h"

static int overlaps(const ei_plan_buffer *a, const ei_plan_buffer *b) {
    if (a->size == 0 || b->size == 0) return 0;
    if (a->last < b->first || b->last < a->first) return 0;
    return a->offset < b->offset + b->size && b->offset < a->offset + a->size;
}

static void check_plan(ei_plan_buffer *bufs, size_t n, size_t align) {
    size_t total = 0, sum = 0, peak = 0;
    CHECK_OK(ei_plan_greedy(bufs, n, align, &total));
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (bufs[i].size + align - 1) & ~(align - 1);
        if (bufs[i].offset % align) bad++;
        if (bufs[i].size && bufs[i].offset + bufs[i].size > total) bad++;
        for (size_t j = i + 1; j < n; j++)
            if (overlaps(&bufs[i], &bufs[j])) bad++;
    }
    /* Lower bound: the bytes alive at the busiest step. */
    for (int t = 0; t < 64; t++) {
        size_t live = 0;
        for (size_t i = 0; i < n; i++)
            if (bufs[i].first <= t && t <= bufs[i].last) live += bufs[i].size;
        if (live > peak) peak = live;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(total <= sum);
    CHECK(total >= peak);
}

static void test_chain_reuses_memory(void) {
    /* A chain a->b->c->d: each buffer lives for two steps, so two slots suffice. */
    ei_plan_buffer b[4] = {{1000, 0, 1, 0}, {1000, 1, 2, 0}, {1000, 2, 3, 0}, {1000, 3, 4, 0}};
    size_t total = 0;
    CHECK_OK(ei_plan_greedy(b, 4, 64, &total));
    CHECK_EQ_INT(total, 2 * 1024);
    check_plan(b, 4, 64);
}

static void test_empty_and_zero_sized(void) {
    size_t total = 123;
    CHECK_OK(ei_plan_greedy(NULL, 0, 64, &total));
    CHECK_EQ_INT(total, 0);
    ei_plan_buffer b[3] = {{0, 0, 5, 7}, {64, 0, 5, 0}, {0, 2, 3, 0}};
    CHECK_OK(ei_plan_greedy(b, 3, 64, &total));
    CHECK_EQ_INT(total, 64);
    CHECK_EQ_INT(b[0].offset, 0);
}

static void test_random_lifetimes(void) {
    unsigned seed = 12345;
    for (int round = 0; round < 200; round++) {
        ei_plan_buffer b[40];
        size_t n = 1 + (size_t)(round % 40);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            int first = (int)((seed >> 16) % 60);
            seed = seed * 1103515245u + 12345u;
            int len = (int)((seed >> 16) % 6);
            seed = seed * 1103515245u + 12345u;
            b[i].size = (seed >> 16) % 5000;
            b[i].first = first;
            b[i].last = first + len;
            b[i].offset = 0;
        }
        check_plan(b, n, round % 2 ? 64 : 16);
    }
}

static void test_overflow_is_an_error(void) {
    ei_plan_buffer b[2] = {{SIZE_MAX - 10, 0, 1, 0}, {100, 0, 1, 0}};
    size_t total = 0;
    CHECK(ei_plan_greedy(b, 2, 64, &total) != EI_STATUS_OK);
}

int main(void) {
    RUN_TEST(test_chain_reuses_memory);
    RUN_TEST(test_empty_and_zero_sized);
    RUN_TEST(test_random_lifetimes);
    RUN_TEST(test_overflow_is_an_error);
    return TEST_REPORT("test_planner");
}
