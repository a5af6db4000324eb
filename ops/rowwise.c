/* rowwise.c - bias over an axis (bias_add) and concat along the last axis.
 * Legend: the bias axis of x splits it into (OUTER, C, INNER): OUTER the
 * product of the dimensions before the axis, C = d[axis] (b's length),
 * INNER the product of those after it. y[o,c,i] = x[o,c,i] + b[c].
 * tg_bias_add is axis 1 of (B,N): OUTER = B rows, INNER = 1. A per-channel
 * bias of (N,C,H,W) is axis 1: OUTER = N, INNER = H*W. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

typedef struct bgeom { size_t outer, inner; int C; } bgeom;

static bgeom geom_of(const tg_nrec *n)
{
    const int axis = tg_attr(n)->axis;
    bgeom b = {1, 1, n->d[axis]};
    for (int k = 0; k < axis; k++) b.outer *= (size_t)n->d[k];
    for (int k = axis + 1; k < n->ndim; k++) b.inner *= (size_t)n->d[k];
    return b;
}

/* f32 pieces: rows [i0, i1) of the forward, columns [j0, j1) of db (INNER = 1) */
static void bias_fwd_rows(void *c, size_t i0, size_t i1)
{
    tg_run *r = c;
    const int N = geom_of(r->n).C;
    r->ex->k->bias_act((const float *)r->x[0] + i0 * N, r->x[1], TG_ACT_NONE, 0, (float *)r->y + i0 * N,
                       (int)(i1 - i0), N);
}

static void bias_db_cols(void *c, size_t j0, size_t j1)
{
    tg_run *r = c;
    const bgeom b = geom_of(r->n);
    r->ex->k->colsum_acc(r->dy, r->dx[1], (int)b.outer, b.C, (int)j0, (int)j1);
}

/* INNER > 1: planes [p0, p1) of (OUTER*C) planes of INNER elements */
static void bias_fwd_planes(void *c, size_t p0, size_t p1)
{
    tg_run *r = c;
    const bgeom b = geom_of(r->n);
    const float *x = r->x[0], *bias = r->x[1];
    float *y = r->y;
    for (size_t p = p0; p < p1; p++) {
        const float bc = bias[p % (size_t)b.C];
        for (size_t i = p * b.inner; i < (p + 1) * b.inner; i++) y[i] = x[i] + bc;
    }
}

/* INNER > 1: db[c] += sum over OUTER and INNER, in double (each plane with
 * the kernel's fixed-order sum, planes in order), channels [c0, c1) */
static void bias_db_channels(void *c, size_t c0, size_t c1)
{
    tg_run *r = c;
    const bgeom b = geom_of(r->n);
    const float *dy = r->dy;
    float *db = r->dx[1];
    for (size_t ch = c0; ch < c1; ch++) {
        double s = 0.0;
        for (size_t o = 0; o < b.outer; o++) s += r->ex->k->sum(dy + (o * (size_t)b.C + ch) * b.inner, b.inner);
        db[ch] = (float)((double)db[ch] + s);
    }
}

static void bias_fwd(tg_run *r)
{
    const bgeom b = geom_of(r->n);
    if (r->f64) {
        const double *x = r->x[0], *bias = r->x[1];
        double *y = r->y;
        for (size_t o = 0; o < b.outer; o++)
            for (int c = 0; c < b.C; c++)
                for (size_t i = 0; i < b.inner; i++) {
                    const size_t e = (o * (size_t)b.C + (size_t)c) * b.inner + i;
                    y[e] = x[e] + bias[c];
                }
    } else if (b.inner == 1) {
        tg_exec_range(r->ex, b.outer, 1, (size_t)b.C, bias_fwd_rows, r);
    } else {
        tg_exec_range(r->ex, b.outer * (size_t)b.C, 1, b.inner, bias_fwd_planes, r);
    }
}

/* f64: dx += dy, db[c] += sum dy over OUTER and INNER (with a fault-injection
 * build's wrong indices and overwrite, fault.h) */
static void bias_bwd64(tg_run *r, const bgeom b)
{
    const double *dy = r->dy;
    double *dx = r->dx[0], *db = r->dx[1];
    const size_t o0 = (size_t)TG_FAULT(r->n, BIAS_ADD, db_skips_row0);
    const int jn = TG_FAULT(r->n, BIAS_ADD, db_next_column);
    const int over = TG_FAULT(r->n, BIAS_ADD, dx_overwrites);
    const size_t in1 = TG_FAULT(r->n, BIAS_ADD, db_first_inner) ? 1 : b.inner;
    for (size_t o = 0; o < b.outer; o++)
        for (int c = 0; c < b.C; c++)
            for (size_t i = 0; i < b.inner; i++) {
                const size_t e = (o * (size_t)b.C + (size_t)c) * b.inner + i;
                if (dx && !r->fresh[0]) dx[e] = over ? dy[e] : dx[e] + dy[e];
                const size_t en = (o * (size_t)b.C + (size_t)(c + 1) % (size_t)b.C) * b.inner + i;
                if (db && o >= o0 && i < in1) db[c] += dy[jn ? en : e];
            }
}

static void bias_bwd(tg_run *r)
{
    const bgeom b = geom_of(r->n);
    const size_t n = r->n->numel;
    size_t es = r->f64 ? sizeof(double) : sizeof(float);
    /* first writer: dx = dy is a copy - or nothing at all when the plan
     * made x's gradient this node's own buffer (its only consumer);
     * db starts from zero */
    if (r->dx[0] && r->fresh[0]) {
        if (r->dx[0] != r->dy) memcpy(r->dx[0], r->dy, n * es);
        if (!r->dx[1]) return;
    }
    if (r->dx[1] && r->fresh[1]) memset(r->dx[1], 0, (size_t)b.C * es);
    if (r->f64) {
        bias_bwd64(r, b);
        return;
    }
    if (r->dx[0] && !r->fresh[0]) r->ex->k->axpy(r->dy, 1.0f, r->dx[0], n);
    if (!r->dx[1]) return;
    if (b.inner == 1) tg_exec_range(r->ex, (size_t)b.C, 16, b.outer, bias_db_cols, r);
    else tg_exec_range(r->ex, (size_t)b.C, 1, b.outer * b.inner, bias_db_channels, r);
}

/* the axis the bias runs over (the fusion pass matches it with a
 * producer's epi_bias_axis) */
static int bias_axis(const tg_nrec *n) { return tg_attr(n)->axis; }

static void bias_describe(const tg_nrec *n, char *buf, size_t len)
{
    if (tg_attr(n)->axis != n->ndim - 1) snprintf(buf, len, "(axis=%d)", tg_attr(n)->axis);
}

const tg_opdesc tg_op_bias_add = {.name = "bias_add",
                                  .fwd = bias_fwd,
                                  .bwd = bias_bwd,
                                  .fresh_ok = 1,
                                  .describe = bias_describe,
                                  .bias_axis = bias_axis};

tg_node tg_bias_add(tg_graph *g, tg_node x, tg_node b)
{
    tg_node in[2] = {x, b};
    if (!tg_check_inputs(g, "bias_add", in, 2)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x), *c = tg_rec(g, b);
    char sa[64], sb[64];
    if (a->ndim != 2 || c->ndim != 1 || c->d[0] != a->d[1])
        return tg_fail(g, TG_ERR_SHAPE, "bias_add: x is %s but b is %s (want x (B,N) and b (N))",
                       tg_shape_str(a, sa, sizeof sa), tg_shape_str(c, sb, sizeof sb));
    return tg_push(g, &tg_op_bias_add, in, 2, 2, a->d, &(tg_attrs){.axis = 1});
}

tg_node tg_bias_add_axis(tg_graph *g, tg_node x, tg_node b, int axis)
{
    tg_node in[2] = {x, b};
    if (!tg_check_inputs(g, "bias_add", in, 2)) return (tg_node){-1};
    const tg_nrec *a = tg_rec(g, x), *c = tg_rec(g, b);
    char sa[64], sb[64];
    if (axis < 0 || axis >= a->ndim)
        return tg_fail(g, TG_ERR_ARG, "bias_add: axis %d is outside x's %d axes (x is %s)", axis, a->ndim,
                       tg_shape_str(a, sa, sizeof sa));
    if (c->ndim != 1 || c->d[0] != a->d[axis])
        return tg_fail(g, TG_ERR_SHAPE, "bias_add: x is %s but b is %s (want b (%d), x's axis %d)",
                       tg_shape_str(a, sa, sizeof sa), tg_shape_str(c, sb, sizeof sb), a->d[axis], axis);
    return tg_push(g, &tg_op_bias_add, in, 2, a->ndim, a->d, &(tg_attrs){.axis = axis});
}

/* ---- concat: y = [a b] on the last axis; a (B,Na), b (B,Nb) ---- */
static void concat_fwd(tg_run *r)
{
    size_t es = r->f64 ? sizeof(double) : sizeof(float);
    int B = r->n->d[0], Na = r->in[0]->d[1], Nb = r->in[1]->d[1], N = Na + Nb;
    char *y = r->y;
    const char *a = r->x[0], *b = r->x[1];
    for (int i = 0; i < B; i++) {
        memcpy(y + (size_t)i * N * es, a + (size_t)i * Na * es, (size_t)Na * es);
        memcpy(y + ((size_t)i * N + Na) * es, b + (size_t)i * Nb * es, (size_t)Nb * es);
    }
}

static void concat_bwd(tg_run *r)
{
    int B = r->n->d[0], Na = r->in[0]->d[1], Nb = r->in[1]->d[1], N = Na + Nb;
    for (int i = 0; i < B; i++) {
        if (r->f64) {
            const double *dy = (const double *)r->dy + (size_t)i * N;
            double *da = r->dx[0], *db = r->dx[1];
            /* a fault-injection build's wrong stride and offset (fault.h) */
            const double *dya = TG_FAULT(r->n, CONCAT, da_row_stride) ? (const double *)r->dy + (size_t)i * Na : dy;
            const int ob = Na - TG_FAULT(r->n, CONCAT, db_offset_by_one);
            for (int j = 0; da && j < Na; j++) da[(size_t)i * Na + j] += dya[j];
            for (int j = 0; db && j < Nb; j++) db[(size_t)i * Nb + j] += dy[ob + j];
        } else {
            const float *dy = (const float *)r->dy + (size_t)i * N;
            if (r->dx[0]) r->ex->k->axpy(dy, 1.0f, (float *)r->dx[0] + (size_t)i * Na, (size_t)Na);
            if (r->dx[1]) r->ex->k->axpy(dy + Na, 1.0f, (float *)r->dx[1] + (size_t)i * Nb, (size_t)Nb);
        }
    }
}

const tg_opdesc tg_op_concat = {.name = "concat", .fwd = concat_fwd, .bwd = concat_bwd};

tg_node tg_concat(tg_graph *g, tg_node a, tg_node b)
{
    tg_node in[2] = {a, b};
    if (!tg_check_inputs(g, "concat", in, 2)) return (tg_node){-1};
    const tg_nrec *x = tg_rec(g, a), *y = tg_rec(g, b);
    char sa[64], sb[64];
    if (x->ndim != 2 || y->ndim != 2 || x->d[0] != y->d[0])
        return tg_fail(g, TG_ERR_SHAPE, "concat: a is %s but b is %s (want (B,Na) and (B,Nb))",
                       tg_shape_str(x, sa, sizeof sa), tg_shape_str(y, sb, sizeof sb));
    return tg_push(g, &tg_op_concat, in, 2, 2, (int[]){x->d[0], x->d[1] + y->d[1]}, NULL);
}
