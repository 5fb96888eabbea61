/*
 * test_npy.c - the CLI's .npy reader/writer (csrc/cli/npy.c, compiled into this test by
 * CMakeLists.txt): byte-exact agreement with what NumPy writes, round trips for every
 * dtype, clear rejections, and no crash on truncated or mutated files (run under ASan in CI).
 */
#include <stdlib.h>
#include <unistd.h>

#include "cli/npy.h"
#include "test_util.h"

static char err[1024];
static char tmp_path[256];

/* A scratch file outside the source tree, unique per process. */
static const char *scratch_path(void) {
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/test_npy_%ld.npy", dir && *dir ? dir : "/tmp",
             (long)getpid());
    return tmp_path;
}

/* What numpy.save writes for np.arange(6, dtype=np.float32).reshape(2, 3). */
static size_t numpy_f32_2x3(unsigned char *buf) {
    static const char head[] = "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
                               "'shape': (2, 3), }";
    size_t n = sizeof head - 1;
    memcpy(buf, head, n);
    while (n < 127)
        buf[n++] = ' ';
    buf[n++] = '\n';
    for (int i = 0; i < 6; i++) {
        float f = (float)i;
        memcpy(buf + n, &f, 4);
        n += 4;
    }
    return n; /* 152 */
}

/* Builds a v1 file from a header dict and data bytes. */
static size_t build(unsigned char *buf, const char *dict, const void *data, size_t nbytes) {
    size_t hl = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    memcpy(buf + 10, dict, hl);
    if (nbytes) memcpy(buf + 10 + hl, data, nbytes);
    return 10 + hl + nbytes;
}

static void test_parse_numpy_file(void) {
    unsigned char buf[256];
    size_t n = numpy_f32_2x3(buf);
    CHECK_EQ_INT(n, 152);
    ei_npy a;
    if (CHECK(ei_npy_parse(buf, n, &a, err, sizeof err) == 0)) {
        CHECK_EQ_INT(a.dtype, EI_DTYPE_F32);
        CHECK_EQ_INT(a.rank, 2);
        CHECK_EQ_INT(a.dims[0], 2);
        CHECK_EQ_INT(a.dims[1], 3);
        CHECK_EQ_INT(a.nbytes, 24);
        CHECK_NEAR(((float *)a.data)[5], 5.0, 0);
    }
    ei_npy_free(&a);
    CHECK(a.data == NULL);
}

static void test_save_matches_numpy(void) {
    unsigned char expect[256], got[256];
    size_t n = numpy_f32_2x3(expect);
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t dims[2] = {2, 3};
    const char *path = scratch_path();
    CHECK(ei_npy_save(path, EI_DTYPE_F32, 2, dims, x, sizeof x, err, sizeof err) == 0);
    FILE *f = fopen(path, "rb");
    if (CHECK(f != NULL)) {
        size_t m = fread(got, 1, sizeof got, f);
        fclose(f);
        CHECK_EQ_INT(m, n);
        CHECK(m == n && memcmp(got, expect, n) == 0);
    }
    remove(path);
}

static void test_round_trip_all_dtypes(void) {
    static const ei_dtype types[] = {EI_DTYPE_F32, EI_DTYPE_F64, EI_DTYPE_I64,  EI_DTYPE_I32,
                                     EI_DTYPE_I8,  EI_DTYPE_U8,  EI_DTYPE_BOOL, EI_DTYPE_F16,
                                     EI_DTYPE_I16, EI_DTYPE_U16, EI_DTYPE_U32,  EI_DTYPE_U64};
    static const int sizes[] = {4, 8, 8, 4, 1, 1, 1, 2, 2, 2, 4, 8};
    static const int64_t shapes[][3] = {{0, 0, 0}, {5, 0, 0}, {2, 3, 4}, {3, 0, 2}};
    static const int ranks[] = {0, 1, 3, 3};
    const char *path = scratch_path();
    unsigned char data[256];
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (size_t s = 0; s < 4; s++) {
            size_t numel = 1;
            for (int d = 0; d < ranks[s]; d++)
                numel *= (size_t)shapes[s][d];
            size_t nbytes = numel * (size_t)sizes[t];
            for (size_t i = 0; i < nbytes; i++)
                data[i] =
                    types[t] == EI_DTYPE_BOOL ? (unsigned char)(i % 2) : (unsigned char)(i * 7 + 1);
            if (!CHECK(ei_npy_save(path, types[t], ranks[s], shapes[s], data, nbytes, err,
                                   sizeof err) == 0)) {
                fprintf(stderr, "%s\n", err);
                continue;
            }
            ei_npy a;
            if (CHECK(ei_npy_load(path, &a, err, sizeof err) == 0)) {
                CHECK_EQ_INT(a.dtype, types[t]);
                CHECK_EQ_INT(a.rank, ranks[s]);
                for (int d = 0; d < ranks[s]; d++)
                    CHECK_EQ_INT(a.dims[d], shapes[s][d]);
                CHECK_EQ_INT(a.nbytes, nbytes);
                CHECK(a.data != NULL && (nbytes == 0 || memcmp(a.data, data, nbytes) == 0));
            } else {
                fprintf(stderr, "%s\n", err);
            }
            ei_npy_free(&a);
        }
    }
    remove(path);
    /* No .npy equivalent. */
    int64_t d1 = 1;
    CHECK(ei_npy_save(path, EI_DTYPE_BF16, 1, &d1, data, 2, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "bfloat16");
    CHECK(ei_npy_save(path, EI_DTYPE_F32, 1, &d1, data, 3, err, sizeof err) != 0);
    remove(path);
}

static void test_header_variants(void) {
    unsigned char buf[512];
    int64_t v[3] = {1, 2, 3};
    ei_npy a;
    /* Double quotes, no trailing comma, keys in another order, Python 2 long, no spaces. */
    const char *ok[] = {
        "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i8\"}\n",
        "{'descr':'<i8','fortran_order':False,'shape':(3L,),}",
        "{ 'descr' : '<i8' , 'fortran_order' : False , 'shape' : ( 3 , ) , }   \n",
        "{'descr': '=i8', 'fortran_order': False, 'shape': (3,)}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = build(buf, ok[i], v, sizeof v);
        if (CHECK(ei_npy_parse(buf, n, &a, err, sizeof err) == 0)) {
            CHECK_EQ_INT(a.dtype, EI_DTYPE_I64);
            CHECK_EQ_INT(a.rank, 1);
            CHECK_EQ_INT(a.dims[0], 3);
        } else {
            fprintf(stderr, "variant %zu: %s\n", i, err);
        }
        ei_npy_free(&a);
    }
    /* Format 2.0: 4-byte header length. */
    const char *dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n";
    size_t hl = strlen(dict);
    memcpy(buf, "\x93NUMPY\x02\x00", 8);
    buf[8] = (unsigned char)hl;
    buf[9] = buf[10] = buf[11] = 0;
    memcpy(buf + 12, dict, hl);
    memcpy(buf + 12 + hl, v, sizeof v);
    CHECK(ei_npy_parse(buf, 12 + hl + sizeof v, &a, err, sizeof err) == 0);
    ei_npy_free(&a);
    /* bool bytes other than 0/1 are normalized. */
    unsigned char bools[3] = {0, 2, 255};
    size_t n = build(buf, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", bools, 3);
    if (CHECK(ei_npy_parse(buf, n, &a, err, sizeof err) == 0)) {
        const unsigned char *p = a.data;
        CHECK(p[0] == 0 && p[1] == 1 && p[2] == 1);
    }
    ei_npy_free(&a);
}

static void expect_reject(const char *dict, size_t data_bytes, const char *fragment) {
    unsigned char buf[1024] = {0};
    unsigned char data[64] = {0};
    size_t n = build(buf, dict, data, data_bytes);
    ei_npy a;
    err[0] = '\0';
    CHECK(ei_npy_parse(buf, n, &a, err, sizeof err) != 0);
    CHECK(a.data == NULL);
    CHECK_CONTAINS(err, fragment);
}

static void test_rejections(void) {
    expect_reject("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8, "Fortran");
    expect_reject("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "big-endian");
    expect_reject("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "object");
    expect_reject("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8,
                  "structured");
    expect_reject("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16,
                  "unsupported dtype");
    expect_reject("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", 24,
                  "unsupported dtype");
    expect_reject("{'descr': '<f4', 'shape': (2,), }", 8, "fortran_order");
    expect_reject("{'descr': '<f4', 'fortran_order': False, }", 8, "shape");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "'x'");
    expect_reject("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
                  "repeated");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7, "truncated");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, "trailing");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 0, "non-negative");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
                  "rank");
    expect_reject("{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (4294967296, 4294967296, 4294967296), }",
                  0, "too large");
    expect_reject("{'descr': '<f4', 'fortran_order': False, "
                  "'shape': (99999999999999999999,), }",
                  0, "too large");
    expect_reject("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, "True or False");
    expect_reject("{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", 8, "expected");
    expect_reject("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk", 8, "after");
    expect_reject("['descr', '<f4']", 8, "dict");
    expect_reject("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", 8, "");

    unsigned char buf[64] = "NOTNPY....";
    ei_npy a;
    CHECK(ei_npy_parse(buf, 10, &a, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "magic");
    CHECK(ei_npy_parse(buf, 0, &a, err, sizeof err) != 0);
    memcpy(buf, "\x93NUMPY\x01\x00\xff\xff{", 11);
    CHECK(ei_npy_parse(buf, 11, &a, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "truncated");
    memcpy(buf, "\x93NUMPY\x09\x00\x01\x00{", 11);
    CHECK(ei_npy_parse(buf, 11, &a, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "version");
    CHECK(ei_npy_load("/nonexistent/dir/x.npy", &a, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "cannot open");
    CHECK(ei_npy_load(".", &a, err, sizeof err) != 0);
}

/* Every truncation and many single-byte mutations of valid files parse or fail cleanly
 * (the point is that nothing reads out of bounds: CI runs this under ASan). */
static void test_corruption_does_not_crash(void) {
    unsigned char good[256], buf[256];
    size_t n = numpy_f32_2x3(good);
    int accepted = 0;
    for (size_t len = 0; len <= n; len++) {
        unsigned char *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
        if (!copy) continue;
        memcpy(copy, good, len);
        ei_npy a;
        if (ei_npy_parse(copy, len, &a, err, sizeof err) == 0) accepted++;
        ei_npy_free(&a);
        free(copy);
    }
    CHECK_EQ_INT(accepted, 1); /* only the whole file */

    static const unsigned char values[] = {0,   1,   '\'', '"', '(',  ')',  ',',  ':',
                                           '{', '}', '9',  ' ', '\\', 0x7f, 0x80, 0xff};
    uint32_t rng = 12345;
    for (size_t pos = 0; pos < 128; pos++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(buf, good, n);
            buf[pos] = values[v];
            unsigned char *copy = malloc(n);
            if (!copy) continue;
            memcpy(copy, buf, n);
            ei_npy a;
            if (ei_npy_parse(copy, n, &a, err, sizeof err) == 0) {
                CHECK(a.data != NULL && a.nbytes <= n);
            }
            ei_npy_free(&a);
            free(copy);
        }
    }
    /* Random garbage after a valid magic. */
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = 10 + (size_t)(iter % 120);
        unsigned char *copy = malloc(len);
        if (!copy) continue;
        memcpy(copy, "\x93NUMPY\x01\x00", 8);
        for (size_t i = 8; i < len; i++) {
            rng = rng * 1103515245u + 12345u;
            copy[i] = (unsigned char)(rng >> 16);
        }
        copy[9] = 0;
        ei_npy a;
        (void)ei_npy_parse(copy, len, &a, err, sizeof err);
        ei_npy_free(&a);
        free(copy);
    }
}

int main(void) {
    RUN_TEST(test_parse_numpy_file);
    RUN_TEST(test_save_matches_numpy);
    RUN_TEST(test_round_trip_all_dtypes);
    RUN_TEST(test_header_variants);
    RUN_TEST(test_rejections);
    RUN_TEST(test_corruption_does_not_crash);
    return TEST_REPORT("test_npy");
}
