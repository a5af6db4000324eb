/* reshape.c - reshape and flatten: the same elements in the same row-major
 * order under another shape (torch.reshape, torch.flatten(x, 1)).
 *   y = x,  dx += dy   (element e to element e)
 * A view (op.h): the plan gives y x's memory, so forward moves nothing,
 * and when the reshape is the only consumer of x's gradient, that gradient
 * is y's own buffer and backward moves nothing either. Otherwise (x is a
 * leaf, or has other consumers) backward copies or adds dy. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

static void reshape_fwd(tg_run *r)
{
    if (r->y != r->x[0]) /* never with the plan's binding; kept for safety */
        memcpy(r->y, r->x[0], r->n->numel * (r->f64 ? sizeof(double) : sizeof(float)));
}

/* f64 dx (+)= dy, or in a fault-injection build dy read as if the last two
 * axes of y were transposed (fault.h) */
static void bwd64(tg_run *r)
{
    const tg_nrec *n = r->n;
    const double *dy = r->dy;
    double *dx = r->dx[0];
    const int tr = TG_FAULT(n, RESHAPE, dx_transposed) && n->ndim >= 2;
    const size_t a = n->ndim >= 2 ? (size_t)n->d[n->ndim - 2] : 1, b = (size_t)n->d[n->ndim - 1];
    for (size_t e = 0; e < n->numel; e++) {
        const size_t blk = e / (a * b) * (a * b), p = e % (a * b) / b, q = e % b;
        const double v = dy[tr ? blk + q * a + p : e];
        dx[e] = r->fresh[0] ? v : dx[e] + v;
    }
}

static void reshape_bwd(tg_run *r)
{
    if (!r->dx[0]) return;
    if (r->f64) {
        if (r->dx[0] != r->dy) bwd64(r);
    } else if (r->dx[0] != r->dy) {
        if (r->fresh[0]) memcpy(r->dx[0], r->dy, r->n->numel * sizeof(float));
        else r->ex->k->axpy(r->dy, 1.0f, r->dx[0], r->n->numel);
    }
    /* dx == dy: the plan made x's gradient this node's own buffer */
}

const tg_opdesc tg_op_reshape = {
    .name = "reshape", .fwd = reshape_fwd, .bwd = reshape_bwd, .fresh_ok = 1, .view = 1};

tg_node tg_reshape(tg_graph *g, tg_node x, int ndim, const int *dims)
{
    if (!tg_check_inputs(g, "reshape", &x, 1)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x);
    char sx[64], sd[64] = "";
    if (!dims || ndim < 1 || ndim > TG_MAX_DIMS)
        return tg_fail(g, TG_ERR_ARG, "reshape: %d dimensions (1..%d allowed)", ndim, TG_MAX_DIMS);
    int d[TG_MAX_DIMS], infer = -1;
    size_t known = 1;
    for (int k = 0, o = 0; k < ndim; k++) {
        o += snprintf(sd + o, sizeof sd - (size_t)o, k ? "x%d" : "%d", dims[k]);
        if (o >= (int)sizeof sd) o = (int)sizeof sd - 1;
    }
    for (int k = 0; k < ndim; k++) {
        d[k] = dims[k];
        if (dims[k] == -1 && infer < 0) infer = k;
        else if (dims[k] > 0) known = known > a->numel / (size_t)dims[k] ? a->numel + 1 : known * (size_t)dims[k];
        else
            return tg_fail(g, TG_ERR_SHAPE, "reshape: x is %s but the shape %s has a dimension %d (want > 0, or "
                           "one -1)", tg_shape_str(a, sx, sizeof sx), sd, dims[k]);
    }
    if (infer >= 0 && known <= a->numel && a->numel % known == 0 && a->numel / known <= INT32_MAX)
        d[infer] = (int)(a->numel / known), known = a->numel;
    if (known != a->numel)
        return tg_fail(g, TG_ERR_SHAPE, "reshape: x is %s (%zu elements) but the shape %s does not hold %zu",
                       tg_shape_str(a, sx, sizeof sx), a->numel, sd, a->numel);
    return tg_push(g, &tg_op_reshape, &x, 1, ndim, d, NULL);
}

tg_node tg_flatten(tg_graph *g, tg_node x)
{
    if (!tg_check_inputs(g, "flatten", &x, 1)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x);
    if (a->ndim < 2) {
        char sx[64];
        return tg_fail(g, TG_ERR_SHAPE, "flatten: x is %s; want (N, ...) with at least 2 dimensions",
                       tg_shape_str(a, sx, sizeof sx));
    }
    const int n = a->d[0];
    return tg_reshape(g, x, 2, (int[]){n, (int)(a->numel / (size_t)n)});
}
