/*
 * int_conv.c - shape and geometry validation of the integer convolutions (ConvInteger,
 * QLinearConv); attributes come from conv_geometry.h, the accumulator loop is inline in
 * int_conv.h.
 */
#include <stdint.h>

#include "ops/int_conv.h"

/* See int_conv.h. */
ei_status ei_iconv_infer_geom(ei_exec *ex, ei_node *node, ei_iconv_geom *cg, int xi, int wi,
                              ei_dtype out_dtype) {
    const ei_value *x = ei_node_in(ex, node, xi), *w = ei_node_in(ex, node, wi);
    char buf[128], buf2[128];
    if (!ei_q8_is(x->dtype) || !ei_q8_is(w->dtype))
        return ei_node_error(node, EI_STATUS_UNSUPPORTED,
                             "inputs x '%s' (%s) and w '%s' (%s): only uint8 and int8 are "
                             "supported",
                             x->name, ei_dtype_name(x->dtype), w->name, ei_dtype_name(w->dtype));
    if (w->rank < 3 || w->rank > 5 || x->rank != w->rank)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "x '%s' %s and w '%s' %s must have the same rank, 3 to 5", x->name,
                             ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2));
    if (w->dims[0] % cg->group != 0 || x->dims[1] != w->dims[1] * cg->group)
        return ei_node_error(node, EI_STATUS_INVALID_ARGUMENT,
                             "x '%s' %s and w '%s' %s do not agree with group=%lld", x->name,
                             ei_shape_str(x->rank, x->dims, buf, sizeof buf), w->name,
                             ei_shape_str(w->rank, w->dims, buf2, sizeof buf2),
                             (long long)cg->group);
    int nsp = x->rank - 2;
    if (cg->ga.n_kernel) {
        bool same = cg->ga.n_kernel == (size_t)nsp;
        for (int i = 0; same && i < nsp; i++)
            same = cg->ga.kernel[i] == w->dims[2 + i];
        if (!same)
            return ei_node_error(node, EI_STATUS_INVALID_MODEL,
                                 "attribute 'kernel_shape' does not match w '%s' %s", w->name,
                                 ei_shape_str(w->rank, w->dims, buf, sizeof buf));
    }
    EI_CHECK(ei_geom_resolve(node, &cg->ga, nsp, x->dims + 2, w->dims + 2, x->name, &cg->g));
    cg->n = (size_t)x->dims[0];
    cg->cin = (size_t)x->dims[1];
    cg->cout = (size_t)w->dims[0];
    cg->cin_g = (size_t)w->dims[1];
    cg->cout_g = cg->cout / (size_t)cg->group;
    int64_t od[EI_MAX_RANK] = {x->dims[0], w->dims[0]};
    for (int i = 0; i < nsp; i++)
        od[2 + i] = cg->g.out[3 - nsp + i];
    EI_CHECK(ei_elem_set_out(node, ei_node_out(ex, node, 0), out_dtype, x->rank, od));
    size_t planes = cg->n * cg->cout, work = 0;
    if (!ei_size_mul(planes * cg->g.out_size, cg->cin_g * cg->g.k_size, &work)) work = SIZE_MAX;
    cg->n_tasks = ei_elem_tasks(ex, work, 1 << 16);
    if (cg->n_tasks > planes) cg->n_tasks = planes ? planes : 1;
    return EI_STATUS_OK;
}
