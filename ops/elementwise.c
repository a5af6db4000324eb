/* elementwise.c - add, sub, mul, scale: same-shape element-wise ops.
 * All tensors here are flat arrays of n = numel elements. */
#include "ops.h"

#include <math.h>
#include <stdio.h>

static const char *names[] = {"add", "sub", "mul"};

static tg_node binary(tg_graph *g, const tg_opdesc *op, const char *name, tg_node a, tg_node b)
{
    tg_node in[2] = {a, b};
    if (!tg_check_inputs(g, name, in, 2)) return (tg_node){-1};
    const tg_nrec *x = tg_rec(g, a), *y = tg_rec(g, b);
    int same = x->ndim == y->ndim;
    for (int k = 0; same && k < x->ndim; k++) same = x->d[k] == y->d[k];
    char sa[64], sb[64];
    if (!same)
        return tg_fail(g, TG_ERR_SHAPE, "%s: a is %s but b is %s (shapes must match)", name,
                       tg_shape_str(x, sa, sizeof sa), tg_shape_str(y, sb, sizeof sb));
    return tg_push(g, op, in, 2, x->ndim, x->d, NULL);
}

/* add (s = 1) and sub (s = -1) */
static void addsub_fwd(tg_run *r, float s)
{
    size_t n = r->n->numel;
    if (r->f64) {
        const double *a = r->x[0], *b = r->x[1];
        double *y = r->y;
        for (size_t i = 0; i < n; i++) y[i] = a[i] + s * b[i];
    } else {
        r->ex->k->add(r->x[0], r->x[1], s, r->y, n);
    }
}

static void addsub_bwd(tg_run *r, float s)
{
    size_t n = r->n->numel;
    for (int k = 0; k < 2; k++) {
        if (!r->dx[k]) continue;
        float sk = k ? s : 1.0f;
        /* a fault-injection build's wrong signs and aliasing (fault.h) */
        if (k && TG_FAULT(r->n, ADD, b_negated)) sk = -1.0f;
        if (k && r->dx[1] == r->dx[0] && TG_FAULT(r->n, ADD, alias_once)) continue;
        if (k && TG_FAULT(r->n, SUB, b_sign_dropped)) sk = 1.0f;
        if (TG_FAULT(r->n, SUB, sign_on_a)) sk = k ? 1.0f : s;
        if (r->f64) {
            const double *dy = r->dy;
            double *dx = r->dx[k];
            for (size_t i = 0; i < n; i++) dx[i] += sk * dy[i];
        } else {
            r->ex->k->axpy(r->dy, sk, r->dx[k], n);
        }
    }
}

static void add_fwd(tg_run *r) { addsub_fwd(r, 1.0f); }
static void add_bwd(tg_run *r) { addsub_bwd(r, 1.0f); }
static void sub_fwd(tg_run *r) { addsub_fwd(r, -1.0f); }
static void sub_bwd(tg_run *r) { addsub_bwd(r, -1.0f); }

const tg_opdesc tg_op_add = {.name = "add", .fwd = add_fwd, .bwd = add_bwd};
const tg_opdesc tg_op_sub = {.name = "sub", .fwd = sub_fwd, .bwd = sub_bwd};

tg_node tg_add(tg_graph *g, tg_node a, tg_node b) { return binary(g, &tg_op_add, names[0], a, b); }
tg_node tg_sub(tg_graph *g, tg_node a, tg_node b) { return binary(g, &tg_op_sub, names[1], a, b); }

/* mul: y = a b;  da += dy b, db += dy a */
static void mul_fwd(tg_run *r)
{
    size_t n = r->n->numel;
    if (r->f64) {
        const double *a = r->x[0], *b = r->x[1];
        double *y = r->y;
        for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
    } else {
        r->ex->k->mul(r->x[0], r->x[1], r->y, n);
    }
}

static void mul_bwd(tg_run *r)
{
    size_t n = r->n->numel;
    for (int k = 0; k < 2; k++) {
        if (!r->dx[k]) continue;
        const void *o = r->x[1 - k]; /* the other factor */
        if (TG_FAULT(r->n, MUL, own_factor)) o = r->x[k];
        if (TG_FAULT(r->n, MUL, b_for_both)) o = r->x[1];
        if (r->f64) {
            const double *dy = r->dy, *ov = o;
            double *dx = r->dx[k];
            for (size_t i = 0; i < n; i++) dx[i] += dy[i] * ov[i];
        } else {
            r->ex->k->mul_acc(r->dy, o, r->dx[k], n);
        }
    }
}

const tg_opdesc tg_op_mul = {
    .name = "mul", .bwd_needs = TG_NEED_X0 | TG_NEED_X1, .fwd = mul_fwd, .bwd = mul_bwd};

tg_node tg_mul(tg_graph *g, tg_node a, tg_node b) { return binary(g, &tg_op_mul, names[2], a, b); }

/* scale: y = s x;  dx += s dy */
static void scale_fwd(tg_run *r)
{
    size_t n = r->n->numel;
    float s = tg_attr(r->n)->scale;
    if (r->f64) {
        const double *x = r->x[0];
        double *y = r->y;
        for (size_t i = 0; i < n; i++) y[i] = (double)s * x[i];
    } else {
        r->ex->k->scale(r->x[0], s, r->y, n);
    }
}

static void scale_bwd(tg_run *r)
{
    size_t n = r->n->numel;
    float s = TG_FAULT(r->n, SCALE, factor_dropped) ? 1.0f : tg_attr(r->n)->scale;
    if (r->f64) {
        const double *dy = r->dy;
        double *dx = r->dx[0];
        for (size_t i = 0; i < n; i++) dx[i] += (double)s * dy[i];
    } else {
        r->ex->k->axpy(r->dy, s, r->dx[0], n);
    }
}

static void scale_describe(const tg_nrec *n, char *buf, size_t len)
{
    snprintf(buf, len, "(%g)", (double)tg_attr(n)->scale);
}

const tg_opdesc tg_op_scale = {.name = "scale", .fwd = scale_fwd, .bwd = scale_bwd, .describe = scale_describe};

tg_node tg_scale(tg_graph *g, tg_node x, float s)
{
    if (!tg_check_inputs(g, "scale", &x, 1)) return (tg_node){-1};
    if (!isfinite(s)) return tg_fail(g, TG_ERR_ARG, "scale: factor %g is not finite", (double)s);
    const tg_nrec *a = tg_rec(g, x);
    return tg_push(g, &tg_op_scale, &x, 1, a->ndim, a->d, &(tg_attrs){.scale = s});
}
