/*
 * fft.h - what DFT and STFT share (fft.c): the one-signal transform, twiddles, the
 * planning of tasks, twiddles and work buffers at infer, and reading their scalar inputs.
 */
#ifndef EI_OPS_FFT_H
#define EI_OPS_FFT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

/* The transform of one signal.
 * x: n_avail complex (c_in = 2) or real (c_in = 1) samples, sample j at x[j * sx];
 * win: NULL or a window multiplied into the first samples (win_len of them, 0 beyond);
 * L: transform length (samples past n_avail are zero); herm: x holds one-sided bins of a
 * Hermitian spectrum (inverse onesided DFT). Writes bins [0, n_out) to y, bin k at
 * y[k * sy]: (re, im) when c_out = 2, re only when 1. tw: NULL or L twiddles (cos, sin of
 * 2 pi m / L); work: NULL or 2 L doubles. inverse: conjugate twiddles, scale by 1 / L. */
void ei_fft_signal(const float *x, size_t sx, size_t n_avail, int c_in, const float *win,
                   size_t win_len, size_t L, size_t n_out, int inverse, int herm, int c_out,
                   const double *tw, double *work, float *y, size_t sy);

/* Fills tw with L twiddles (cos, sin of 2 pi m / L): 2 L doubles. */
void ei_fft_twiddles(double *tw, size_t L);

/* Scalar int input v (int64 or int32, one element) named what in messages; *known says
 * whether its value is known yet, and then *out holds it. */
ei_status ei_fft_read_scalar(const ei_node *node, const ei_value *v, const char *what, bool *known,
                             int64_t *out);

/* Plans `signals` transforms of length L: the task count (*n_tasks), L twiddles cached in
 * *tw (*tw_len: the length they were made for; the op's state owns and frees them) and
 * one 2 L-double work buffer per task as the node's scratch. len_name names the length
 * in the "too large" message. */
ei_status ei_fft_plan(ei_exec *ex, ei_node *node, size_t signals, size_t L, const char *len_name,
                      double **tw, size_t *tw_len, size_t *n_tasks);

#endif
