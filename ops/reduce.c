/* reduce.c - sum and mean over all elements -> a (1) scalar. */
#include "ops.h"

static double total(const tg_run *r)
{
    size_t n = r->in[0]->numel;
    if (!r->f64) return r->ex->k->sum(r->x[0], n);
    const double *x = r->x[0];
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

/* y = k * sum x, dx += k dy;  k = 1 (sum) or 1/n (mean) */
static double factor(const tg_run *r)
{
    return r->n->op == &tg_op_mean ? 1.0 / (double)r->in[0]->numel : 1.0;
}

static void reduce_fwd(tg_run *r)
{
    double v = total(r) * factor(r);
    if (r->f64) *(double *)r->y = v;
    else *(float *)r->y = (float)v;
}

static void reduce_bwd(tg_run *r)
{
    size_t n = r->in[0]->numel;
    double k = factor(r);
    /* a fault-injection build's wrong factors (fault.h) */
    if (TG_FAULT(r->n, SUM, mean_factor)) k = 1.0 / (double)n;
    if (TG_FAULT(r->n, MEAN, n_dropped)) k = 1.0;
    if (TG_FAULT(r->n, MEAN, rows_not_numel)) k = 1.0 / r->in[0]->d[0];
    if (r->f64) {
        double dyv = TG_FAULT(r->n, SUM, dy_ignored) ? 1.0 : *(const double *)r->dy;
        double s = dyv * k, *dx = r->dx[0];
        for (size_t i = 0; i < n; i++) dx[i] += s;
    } else {
        float s = (float)(*(const float *)r->dy * k);
        float *dx = r->dx[0]; /* a broadcast add: plain loop, vectorized by the compiler */
        for (size_t i = 0; i < n; i++) dx[i] += s;
    }
}

const tg_opdesc tg_op_sum = {.name = "sum", .fwd = reduce_fwd, .bwd = reduce_bwd};
const tg_opdesc tg_op_mean = {.name = "mean", .fwd = reduce_fwd, .bwd = reduce_bwd};

static tg_node reduce(tg_graph *g, const tg_opdesc *op, tg_node x)
{
    if (!tg_check_inputs(g, op->name, &x, 1)) return (tg_node){-1};
    return tg_push(g, op, &x, 1, 1, (int[]){1}, NULL);
}

tg_node tg_sum(tg_graph *g, tg_node x) { return reduce(g, &tg_op_sum, x); }
tg_node tg_mean(tg_graph *g, tg_node x) { return reduce(g, &tg_op_mean, x); }
