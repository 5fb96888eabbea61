/*
 * test_example.c - the C quickstart of README.md (the part between the README markers is
 * copied there verbatim; tests/python/test_readme.py keeps the two equal). It loads a tiny
 * model, y = Relu(x @ W + b), from an embedded byte array through the public API only,
 * runs it with a dynamic batch, and checks the result against a plain C computation.
 */
#include <stdlib.h>

#include "example_model.h" /* example_model_onnx[]: written by tests/c/gen_example_model.py */
#include "test_util.h"

/* README-BEGIN */
#include "edgeinfer/edgeinfer.h"
#include <stdio.h>
#include <stdlib.h>

/* Runs the model once on a batch of 2 rows of 4 floats; writes 2 x 3 floats to y. */
static int run_example(const void *model, size_t model_size, const float x[8], float y[6]) {
    ei_options opt;
    ei_options_init(&opt); /* defaults first, then the fields you care about */
    opt.num_threads = 1;

    ei_session *s = NULL;
    if (ei_session_create_from_memory(model, model_size, NULL, &opt, &s) != EI_STATUS_OK) {
        fprintf(stderr, "load failed: %s\n", ei_last_error());
        return -1;
    }
    ei_value_info in_info;
    ei_session_input_info(s, 0, &in_info); /* "x", float32, [batch, 4] */

    ei_tensor in = {.name = in_info.name,
                    .dtype = EI_DTYPE_F32,
                    .rank = 2,
                    .dims = {2, 4},
                    .data = (void *)x,
                    .nbytes = 8 * sizeof(float)};
    ei_tensor out;
    int rc = -1;
    if (ei_session_reshape(s, &in, 1) != EI_STATUS_OK || /* binds batch = 2 */
        ei_session_output_shape(s, 0, &out) != EI_STATUS_OK) {
        fprintf(stderr, "reshape failed: %s\n", ei_last_error());
        goto done;
    }
    if (out.nbytes != 6 * sizeof(float)) goto done; /* [2, 3] float32 */
    out.data = y;                                   /* our buffer, no copy */
    if (ei_session_run(s, &in, 1, &out, 1) != EI_STATUS_OK) {
        fprintf(stderr, "run failed: %s\n", ei_last_error());
        goto done;
    }
    rc = 0;
done:
    ei_session_free(s);
    return rc;
}
/* README-END */

/* The model's weights, as tests/c/gen_example_model.py defines them. */
static float w_at(int i, int j) {
    return 0.25f * (float)(i * 3 + j) - 1.0f;
}
static float b_at(int j) {
    return 0.5f * (float)j - 0.5f;
}

static void test_quickstart(void) {
    const float x[8] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
    float y[6] = {-1, -1, -1, -1, -1, -1};
    CHECK_EQ_INT(run_example(example_model_onnx, sizeof example_model_onnx, x, y), 0);
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++) {
            float acc = b_at(j);
            for (int i = 0; i < 4; i++)
                acc += x[r * 4 + i] * w_at(i, j);
            /* 4 products: float32 reassociation differs by a few ulps at most. */
            CHECK_NEAR(y[r * 3 + j], acc > 0 ? acc : 0, 1e-5);
        }
}

static void test_declared_io(void) {
    ei_session *s = NULL;
    if (!CHECK_OK(ei_session_create_from_memory(example_model_onnx, sizeof example_model_onnx, NULL,
                                                NULL, &s)))
        return;
    CHECK_EQ_INT(ei_session_input_count(s), 1);
    CHECK_EQ_INT(ei_session_output_count(s), 1);
    ei_value_info vi;
    if (CHECK_OK(ei_session_input_info(s, 0, &vi))) {
        CHECK_STREQ(vi.name, "x");
        CHECK_EQ_INT(vi.dtype, EI_DTYPE_F32);
        CHECK_EQ_INT(vi.rank, 2);
        CHECK_EQ_INT(vi.dims[0], -1);
        CHECK_STREQ(vi.dim_names[0], "batch");
        CHECK_EQ_INT(vi.dims[1], 4);
    }
    if (CHECK_OK(ei_session_output_info(s, 0, &vi))) {
        CHECK_STREQ(vi.name, "y");
        CHECK_EQ_INT(vi.rank, 2);
    }
    CHECK_STATUS(ei_session_input_info(s, 1, &vi), EI_STATUS_INVALID_ARGUMENT);

    /* Reshaping to batch 5 grows the output; the arena is planned. */
    ei_tensor in = {.name = "x", .dtype = EI_DTYPE_F32, .rank = 2, .dims = {5, 4}};
    ei_tensor out;
    if (CHECK_OK(ei_session_reshape(s, &in, 1)) && CHECK_OK(ei_session_output_shape(s, 0, &out))) {
        CHECK_EQ_INT(out.rank, 2);
        CHECK_EQ_INT(out.dims[0], 5);
        CHECK_EQ_INT(out.dims[1], 3);
        CHECK_EQ_INT(out.nbytes, 5 * 3 * sizeof(float));
        CHECK_EQ_INT(out.dtype, EI_DTYPE_F32);
    }
    CHECK(ei_session_num_threads(s) >= 1);
    ei_session_free(s);
}

static void test_errors(void) {
    ei_session *s = NULL;
    /* A truncated model is rejected with a message, not a crash. */
    CHECK_STATUS(ei_session_create_from_memory(example_model_onnx, sizeof example_model_onnx / 2,
                                               NULL, NULL, &s),
                 EI_STATUS_INVALID_MODEL);
    CHECK(s == NULL);
    CHECK(ei_last_error()[0] != '\0');
    CHECK_STATUS(ei_session_create_from_file("/nonexistent/model.onnx", NULL, &s), EI_STATUS_IO);
    CHECK_CONTAINS(ei_last_error(), "/nonexistent/model.onnx");

    if (!CHECK_OK(ei_session_create_from_memory(example_model_onnx, sizeof example_model_onnx, NULL,
                                                NULL, &s)))
        return;
    float x[8] = {0}, y[6];
    ei_tensor out = {
        .dtype = EI_DTYPE_F32, .rank = 2, .dims = {2, 3}, .data = y, .nbytes = sizeof y};
    /* Unknown input name. */
    ei_tensor bad = {.name = "nope",
                     .dtype = EI_DTYPE_F32,
                     .rank = 2,
                     .dims = {2, 4},
                     .data = x,
                     .nbytes = sizeof x};
    CHECK_STATUS(ei_session_run(s, &bad, 1, &out, 1), EI_STATUS_INVALID_ARGUMENT);
    CHECK_CONTAINS(ei_last_error(), "nope");
    /* Wrong inner dimension. */
    ei_tensor wrong = {.name = "x",
                       .dtype = EI_DTYPE_F32,
                       .rank = 2,
                       .dims = {2, 5},
                       .data = x,
                       .nbytes = sizeof x};
    CHECK(ei_session_run(s, &wrong, 1, &out, 1) != EI_STATUS_OK);
    /* Wrong dtype. */
    ei_tensor wrong_type = {.name = "x",
                            .dtype = EI_DTYPE_I32,
                            .rank = 2,
                            .dims = {2, 4},
                            .data = x,
                            .nbytes = sizeof x};
    CHECK_STATUS(ei_session_run(s, &wrong_type, 1, &out, 1), EI_STATUS_INVALID_ARGUMENT);
    /* Output buffer too small. */
    ei_tensor in = {.name = "x",
                    .dtype = EI_DTYPE_F32,
                    .rank = 2,
                    .dims = {2, 4},
                    .data = x,
                    .nbytes = sizeof x};
    ei_tensor small = out;
    small.nbytes = sizeof y - 1;
    CHECK_STATUS(ei_session_run(s, &in, 1, &small, 1), EI_STATUS_INVALID_ARGUMENT);
    /* And the session still works afterwards. */
    CHECK_OK(ei_session_run(s, &in, 1, &out, 1));
    ei_session_free(s);
    ei_session_free(NULL);
}

static void test_version(void) {
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", EI_VERSION_MAJOR, EI_VERSION_MINOR,
             EI_VERSION_PATCH);
    CHECK_STREQ(ei_version(), expect);
    const char *isa = ei_isa_name();
    CHECK(isa && (!strcmp(isa, "ref") || !strcmp(isa, "avx2") || !strcmp(isa, "avx512") ||
                  !strcmp(isa, "neon")));
}

int main(void) {
    RUN_TEST(test_quickstart);
    RUN_TEST(test_declared_io);
    RUN_TEST(test_errors);
    RUN_TEST(test_version);
    return TEST_REPORT("test_example");
}
