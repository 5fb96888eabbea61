/*
 * fft.c - the one-signal discrete Fourier transform that DFT and STFT share: double
 * arithmetic, a radix-2 FFT when the length is a power of two and twiddles and a work
 * buffer are given, a direct O(n^2) sum otherwise; and the planning both ops do at infer.
 * Shapes, attributes and the split of signals over tasks are left to the op files.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/fft.h"

/* Sample j of the sequence being transformed: x[j] (times the window), zero past n; or,
 * for a Hermitian (irfft) input, bin j of the full spectrum rebuilt from the one-sided bins
 * x[0..n): X[L - k] = conj(X[k]), imaginary parts of DC and Nyquist ignored (as numpy). */
static inline void fft_load(const float *x, size_t sx, size_t n, int c_in, const float *win,
                            size_t L, int herm, size_t j, double *re, double *im) {
    size_t k = j;
    bool conj = false;
    if (herm && j > L / 2) {
        k = L - j;
        conj = true;
    }
    if (k >= n) {
        *re = *im = 0.0;
        return;
    }
    double w = win ? (double)win[k] : 1.0;
    *re = (double)x[k * sx] * w;
    *im = c_in == 2 ? (double)x[k * sx + 1] * w : 0.0;
    if (herm && (k == 0 || 2 * k == L)) *im = 0.0;
    if (conj) *im = -*im;
}

/* See fft.h. */
void ei_fft_signal(const float *x, size_t sx, size_t n_avail, int c_in, const float *win,
                   size_t win_len, size_t L, size_t n_out, int inverse, int herm, int c_out,
                   const double *tw, double *work, float *y, size_t sy) {
    size_t n = n_avail;
    if (win && win_len < n) n = win_len;
    if (!herm && n > L) n = L;
    size_t n_src = herm ? L : n; /* samples that may be non-zero */
    double sign = inverse ? 1.0 : -1.0, scale = inverse ? 1.0 / (double)L : 1.0;
    bool pow2 = L > 0 && (L & (L - 1)) == 0;
    if (tw && work && pow2) {
        /* Load in bit-reversed order, then butterflies. */
        int bits = 0;
        while (((size_t)1 << bits) < L)
            bits++;
        memset(work, 0, 2 * L * sizeof(double));
        for (size_t j = 0; j < n_src; j++) {
            size_t r = 0;
            for (int b = 0; b < bits; b++)
                r |= ((j >> b) & 1u) << (bits - 1 - b);
            fft_load(x, sx, n, c_in, win, L, herm, j, &work[2 * r], &work[2 * r + 1]);
        }
        for (size_t len = 2; len <= L; len <<= 1) {
            size_t half = len / 2, step = L / len;
            for (size_t base = 0; base < L; base += len) {
                for (size_t t = 0; t < half; t++) {
                    double wr = tw[2 * t * step], wi = sign * tw[2 * t * step + 1];
                    double *a = work + 2 * (base + t), *b = work + 2 * (base + t + half);
                    double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                    b[0] = a[0] - br;
                    b[1] = a[1] - bi;
                    a[0] += br;
                    a[1] += bi;
                }
            }
        }
        for (size_t k = 0; k < n_out; k++) {
            y[k * sy] = (float)(work[2 * k] * scale);
            if (c_out == 2) y[k * sy + 1] = (float)(work[2 * k + 1] * scale);
        }
        return;
    }
    for (size_t k = 0; k < n_out; k++) {
        double re = 0.0, im = 0.0;
        for (size_t j = 0; j < n_src; j++) {
            size_t m = (size_t)(((uint64_t)k * (uint64_t)j) % (uint64_t)L);
            double c, s, xr, xi;
            if (tw) {
                c = tw[2 * m];
                s = sign * tw[2 * m + 1];
            } else {
                double a = 6.283185307179586476925 * (double)m / (double)L;
                c = cos(a);
                s = sign * sin(a);
            }
            fft_load(x, sx, n, c_in, win, L, herm, j, &xr, &xi);
            re += xr * c - xi * s;
            im += xr * s + xi * c;
        }
        y[k * sy] = (float)(re * scale);
        if (c_out == 2) y[k * sy + 1] = (float)(im * scale);
    }
}

/* See fft.h. */
void ei_fft_twiddles(double *tw, size_t L) {
    for (size_t m = 0; m < L; m++) {
        double a = 6.283185307179586476925 * (double)m / (double)L;
        tw[2 * m] = cos(a);
        tw[2 * m + 1] = sin(a);
    }
}

ei_status ei_fft_read_scalar(const ei_node *node, const ei_value *v, const char *what, bool *known,
                             int64_t *out) {
    char buf[96];
    if (v->dtype != EI_DTYPE_I64 && v->dtype != EI_DTYPE_I32)
        return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                             "input %s '%s' has dtype %s, expected int64 or int32", what, v->name,
                             ei_dtype_name(v->dtype));
    if (v->rank > 1 || ei_value_numel(v) != 1)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "input %s '%s' has shape %s, expected a scalar", what, v->name,
                             ei_shape_str(v->rank, v->dims, buf, sizeof buf));
    *known = ei_value_known(v);
    if (*known)
        *out = v->dtype == EI_DTYPE_I64 ? *(const int64_t *)v->data : *(const int32_t *)v->data;
    return EI_STATUS_OK;
}

ei_status ei_fft_plan(ei_exec *ex, ei_node *node, size_t signals, size_t L, const char *len_name,
                      double **tw, size_t *tw_len, size_t *n_tasks) {
    size_t work;
    size_t flops; /* about 8 flops per sample (FFT) - only used to pick a task count */
    if (!ei_size_mul(signals, L, &flops) || !ei_size_mul(flops, 8, &flops)) flops = SIZE_MAX;
    *n_tasks = ei_elem_tasks(ex, flops, 1 << 15);
    if (*n_tasks > signals) *n_tasks = signals ? signals : 1;
    if (*tw_len != L) {
        double *t = realloc(*tw, L * 2 * sizeof(double));
        if (!t) return ei_node_error(node, EI_STATUS_OUT_OF_MEMORY, "out of memory for twiddles");
        *tw = t;
        *tw_len = L;
        ei_fft_twiddles(t, L);
    }
    if (!ei_size_mul(L * 2 * sizeof(double), *n_tasks, &work))
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT, "%s is too large", len_name);
    node->scratch_bytes = work;
    return EI_STATUS_OK;
}
