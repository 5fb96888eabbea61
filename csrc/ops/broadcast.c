/*
 * broadcast.c - NumPy broadcasting: output shapes and the collapsed iteration plan
 * used by the binary ops (see broadcast.h). Knows nothing of dtypes: callers do the
 * arithmetic on the runs it hands them.
 */
#include "ops/broadcast.h"

bool ei_broadcast_shape(int ra, const int64_t *da, int rb, const int64_t *db, int *rank_out,
                        int64_t *dims_out) {
    int ro = ra > rb ? ra : rb;
    if (ro > EI_MAX_RANK || ra < 0 || rb < 0) return false;
    for (int i = 0; i < ro; i++) {
        int ia = i - (ro - ra), ib = i - (ro - rb);
        int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
        if (x == y || y == 1)
            dims_out[i] = x;
        else if (x == 1)
            dims_out[i] = y;
        else
            return false;
    }
    *rank_out = ro;
    return true;
}

void ei_bcast_init(ei_bcast *bc, int ra, const int64_t *da, int rb, const int64_t *db, int ro,
                   const int64_t *dout) {
    int r = 0;
    bool pa_prev = false, pb_prev = false;
    size_t numel = 1;
    for (int i = 0; i < ro; i++)
        numel *= (size_t)dout[i]; /* validated by the caller */
    bc->numel = numel;
    if (numel == 0) {
        bc->rank = 1;
        bc->dims[0] = 0;
        bc->sa[0] = bc->sb[0] = 0;
        bc->inner = 0;
        return;
    }
    bool pa[EI_MAX_RANK], pb[EI_MAX_RANK];
    for (int i = 0; i < ro; i++) {
        if (dout[i] == 1) continue; /* contributes nothing to the iteration */
        int ia = i - (ro - ra), ib = i - (ro - rb);
        bool fa = ia >= 0 && da[ia] == dout[i];
        bool fb = ib >= 0 && db[ib] == dout[i];
        if (r > 0 && fa == pa_prev && fb == pb_prev) {
            bc->dims[r - 1] *= dout[i];
        } else {
            bc->dims[r] = dout[i];
            pa[r] = fa;
            pb[r] = fb;
            r++;
        }
        pa_prev = fa;
        pb_prev = fb;
    }
    if (r == 0) { /* every dim is 1: a single element */
        bc->rank = 1;
        bc->dims[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
        bc->inner = 1;
        return;
    }
    int64_t acc_a = 1, acc_b = 1;
    for (int i = r - 1; i >= 0; i--) {
        bc->sa[i] = pa[i] ? acc_a : 0;
        bc->sb[i] = pb[i] ? acc_b : 0;
        if (pa[i]) acc_a *= bc->dims[i];
        if (pb[i]) acc_b *= bc->dims[i];
    }
    bc->rank = r;
    bc->inner = (size_t)bc->dims[r - 1];
}

void ei_bcast_for_range(const ei_bcast *bc, size_t begin, size_t end, ei_bcast_fn fn, void *ctx) {
    if (end > bc->numel) end = bc->numel;
    if (begin >= end) return;
    const int r = bc->rank;
    const size_t inner = bc->inner;
    const size_t sa_in = (size_t)bc->sa[r - 1], sb_in = (size_t)bc->sb[r - 1];
    int64_t idx[EI_MAX_RANK] = {0};
    size_t outer = begin / inner, j = begin % inner;
    size_t abase = 0, bbase = 0;
    for (int k = r - 2; k >= 0; k--) {
        size_t d = (size_t)bc->dims[k];
        idx[k] = (int64_t)(outer % d);
        outer /= d;
        abase += (size_t)idx[k] * (size_t)bc->sa[k];
        bbase += (size_t)idx[k] * (size_t)bc->sb[k];
    }
    size_t pos = begin;
    while (pos < end) {
        size_t n = inner - j;
        if (n > end - pos) n = end - pos;
        fn(ctx, abase + j * sa_in, bbase + j * sb_in, pos, n);
        pos += n;
        j = 0;
        if (pos >= end) break;
        /* odometer over the outer dims */
        for (int k = r - 2; k >= 0; k--) {
            idx[k]++;
            abase += (size_t)bc->sa[k];
            bbase += (size_t)bc->sb[k];
            if (idx[k] < bc->dims[k]) break;
            abase -= (size_t)bc->sa[k] * (size_t)bc->dims[k];
            bbase -= (size_t)bc->sb[k] * (size_t)bc->dims[k];
            idx[k] = 0;
        }
    }
}

void ei_broadcast_strides(int ri, const int64_t *di, int ro, const int64_t *dout,
                          int64_t *strides) {
    int64_t acc = 1;
    for (int i = ro - 1; i >= 0; i--) {
        int k = i - (ro - ri);
        if (k >= 0 && di[k] == dout[i] && dout[i] != 1) {
            strides[i] = acc;
            acc *= di[k];
        } else {
            strides[i] = 0;
        }
    }
}
