/*
 * test_util.h - a tiny C test harness shared by every tests/c/test_*.c.
 *
 *     static void test_something(void) {
 *         CHECK(1 + 1 == 2);
 *         CHECK_EQ_INT(x, 3);
 *         CHECK_OK(ei_foo(...));                         // prints ei_last_error() on failure
 *         CHECK_STATUS(ei_bar(...), EI_STATUS_INVALID_MODEL);
 *         CHECK_CONTAINS(ei_last_error(), "field 9");
 *     }
 *     int main(void) {
 *         RUN_TEST(test_something);
 *         return TEST_REPORT("test_foo");   // prints "test_foo: 42 passed, 0 failed"
 *     }
 *
 * Counts are per CHECK. A failing CHECK prints file:line and the expression, and lets the
 * test go on (so one run shows every failure). The exit code is 0 only if nothing failed.
 * Include it from exactly one translation unit per test executable.
 */
#ifndef EI_TEST_UTIL_H
#define EI_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "edgeinfer/edgeinfer.h"

static int ei_test_passed_;
static int ei_test_failed_;
static int ei_test_failed_in_current_;    /* failures inside the RUN_TEST being run */
static const char *ei_test_current_ = ""; /* name of the RUN_TEST being run */

static inline int ei_test_record_(int ok, const char *file, int line, const char *what) {
    if (ok) {
        ei_test_passed_++;
    } else {
        ei_test_failed_++;
        ei_test_failed_in_current_++;
        fprintf(stderr, "%s:%d: [%s] FAILED: %s\n", file, line, ei_test_current_, what);
    }
    return ok;
}

/* Plain condition. Evaluates to 1/0 so it can guard follow-up checks:
 * `if (CHECK(p != NULL)) { ...use p... }`. */
#define CHECK(cond) ei_test_record_((cond) ? 1 : 0, __FILE__, __LINE__, #cond)

/* Integer equality (any integer types, compared as long long); prints both sides. */
#define CHECK_EQ_INT(a, b)                                                                         \
    ei_test_check_eq_int_((long long)(a), (long long)(b), __FILE__, __LINE__, #a " == " #b)
static inline int ei_test_check_eq_int_(long long a, long long b, const char *file, int line,
                                        const char *what) {
    if (a != b) {
        fprintf(stderr, "%s:%d: [%s] %lld != %lld\n", file, line, ei_test_current_, a, b);
    }
    return ei_test_record_(a == b, file, line, what);
}

/* |a - b| <= tol (NaN fails). */
#define CHECK_NEAR(a, b, tol)                                                                      \
    ei_test_check_near_((double)(a), (double)(b), (double)(tol), __FILE__, __LINE__, #a " ~= " #b)
static inline int ei_test_check_near_(double a, double b, double tol, const char *file, int line,
                                      const char *what) {
    int ok = fabs(a - b) <= tol;
    if (!ok)
        fprintf(stderr, "%s:%d: [%s] %.9g vs %.9g (tol %g)\n", file, line, ei_test_current_, a, b,
                tol);
    return ei_test_record_(ok, file, line, what);
}

/* String equality (NULL only equals NULL). */
#define CHECK_STREQ(a, b) ei_test_check_streq_((a), (b), __FILE__, __LINE__, #a " == " #b)
static inline int ei_test_check_streq_(const char *a, const char *b, const char *file, int line,
                                       const char *what) {
    int ok = (a == NULL || b == NULL) ? (a == b) : strcmp(a, b) == 0;
    if (!ok)
        fprintf(stderr, "%s:%d: [%s] \"%s\" != \"%s\"\n", file, line, ei_test_current_,
                a ? a : "(null)", b ? b : "(null)");
    return ei_test_record_(ok, file, line, what);
}

/* haystack contains needle (e.g. an error message fragment). */
#define CHECK_CONTAINS(hay, needle)                                                                \
    ei_test_check_contains_((hay), (needle), __FILE__, __LINE__, #hay " contains " #needle)
static inline int ei_test_check_contains_(const char *hay, const char *needle, const char *file,
                                          int line, const char *what) {
    int ok = hay && needle && strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "%s:%d: [%s] \"%s\" does not contain \"%s\"\n", file, line,
                ei_test_current_, hay ? hay : "(null)", needle ? needle : "(null)");
    return ei_test_record_(ok, file, line, what);
}

/* An ei_status expression equals the expected status; prints names and ei_last_error(). */
#define CHECK_STATUS(expr, expected)                                                               \
    ei_test_check_status_((int)(expr), (int)(expected), __FILE__, __LINE__, #expr)
#define CHECK_OK(expr) CHECK_STATUS((expr), EI_STATUS_OK)
static inline int ei_test_check_status_(int got, int expected, const char *file, int line,
                                        const char *what) {
    int ok = got == expected;
    if (!ok)
        fprintf(stderr, "%s:%d: [%s] status %s, expected %s; last error: %s\n", file, line,
                ei_test_current_, ei_status_name((ei_status)got),
                ei_status_name((ei_status)expected), ei_last_error());
    return ei_test_record_(ok, file, line, what);
}

/* Runs one test function and reports it by name if any of its checks failed. */
#define RUN_TEST(fn)                                                                               \
    do {                                                                                           \
        ei_test_current_ = #fn;                                                                    \
        ei_test_failed_in_current_ = 0;                                                            \
        fn();                                                                                      \
        if (ei_test_failed_in_current_)                                                            \
            fprintf(stderr, "FAIL %s (%d failed checks)\n", #fn, ei_test_failed_in_current_);      \
        ei_test_current_ = "";                                                                     \
    } while (0)

/* Prints "NAME: P passed, F failed" and returns the exit code (0 iff F == 0). */
#define TEST_REPORT(name) ei_test_report_(name)
static inline int ei_test_report_(const char *name) {
    printf("%s: %d passed, %d failed\n", name, ei_test_passed_, ei_test_failed_);
    fflush(stdout);
    return ei_test_failed_ ? 1 : 0;
}

#endif /* EI_TEST_UTIL_H */
