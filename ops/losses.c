/* losses.c - fused losses with closed-form backward, all mean-reduced to a
 * (1) scalar. Legend: x logits (n elements, or (B,C) for softmax), t targets.
 *
 *   bce_logits           L = mean[max(x,0) - x t + log1p(exp(-|x|))]
 *                        dL/dx = (sigmoid(x) - t)/n,  dL/dt = -x/n
 *   gen_loss             the same with t = 1: mean softplus(-x)
 *   gen_loss_saturating  L = -mean softplus(x) = -(bce with t = 0)
 *   softmax_xent         L = mean_i[logsumexp(x_i) - x_i[label_i]]
 *                        dL/dx_i = (softmax(x_i) - onehot(label_i))/B
 * Every formula is stable for any finite logit; nothing is clamped. */
#include "ops.h"

#include <math.h>
#include <stdio.h>

/* target constant and sign for the three BCE forms */
static void bce_form(const tg_nrec *n, float *t, double *sign)
{
    *t = n->op == &tg_op_bce_logits ? tg_attr(n)->target : n->op == &tg_op_gen_loss ? 1.0f : 0.0f;
    *sign = n->op == &tg_op_gen_loss_saturating ? -1.0 : 1.0;
}

static void bce_fwd(tg_run *r)
{
    size_t n = r->in[0]->numel;
    float tc;
    double sign, s = 0;
    bce_form(r->n, &tc, &sign);
    if (r->f64) {
        const double *x = r->x[0], *tv = r->n->nin > 1 ? r->x[1] : NULL;
        for (size_t i = 0; i < n; i++) s += tg_ref_bce(x[i], tv ? tv[i] : tc);
    } else {
        s = r->ex->k->bce_sum(r->x[0], r->n->nin > 1 ? r->x[1] : NULL, tc, n);
    }
    double v = sign * s / (double)n;
    if (r->f64) *(double *)r->y = v;
    else *(float *)r->y = (float)v;
}

static void bce_bwd(tg_run *r)
{
    size_t n = r->in[0]->numel;
    float tc;
    double sign;
    bce_form(r->n, &tc, &sign);
    if (r->f64) {
        const tg_nrec *nd = r->n;
        /* a fault-injection build's wrong formulas (fault.h) */
        if (TG_FAULT(nd, GEN_LOSS_SATURATING, sign_dropped)) sign = 1.0;
        const int nody = TG_FAULT(nd, GEN_LOSS, dy_ignored) || TG_FAULT(nd, GEN_LOSS_SATURATING, dy_ignored);
        const double dy = nody ? 1.0 : *(const double *)r->dy;
        const double s = sign * dy / (double)n;
        double st = s; /* the target's factor */
        if (TG_FAULT(nd, BCE_LOGITS, dt_sign)) st = -s;
        if (TG_FAULT(nd, BCE_LOGITS, dt_ignores_dy)) st = sign / (double)n;
        const int no_t = TG_FAULT(nd, BCE_LOGITS, t_dropped), chain = TG_FAULT(nd, GEN_LOSS, chain_sign_dropped);
        const int abs1 = TG_FAULT(nd, BCE_LOGITS, abs_sign_dropped);
        const double *x = r->x[0], *tv = r->n->nin > 1 ? r->x[1] : NULL;
        double *dx = r->dx[0], *dt = r->n->nin > 1 ? r->dx[1] : NULL;
        for (size_t i = 0; i < n; i++) {
            double p = tg_ref_sigmoid(x[i]), t = no_t ? 0.0 : tv ? tv[i] : tc;
            if (chain) p = 1.0 - p, t = 0.0; /* sigmoid(-x) - 0 */
            if (abs1) { /* max(x,0)' - |x|' e/(1+e), e = exp(-|x|), with |x|' = 1 */
                double e = exp(-fabs(x[i]));
                p = (x[i] > 0.0 ? 1.0 : 0.0) - e / (1.0 + e);
            }
            if (dx) dx[i] += s * (p - t);
            if (dt) dt[i] += -st * x[i];
        }
    } else if (r->dx[0] || (r->n->nin > 1 && r->dx[1])) {
        float s = (float)(sign * *(const float *)r->dy / (double)n);
        r->ex->k->bce_bwd(r->x[0], r->n->nin > 1 ? r->x[1] : NULL, tc, s, r->dx[0],
                          r->n->nin > 1 ? r->dx[1] : NULL, n);
    }
}

/* bce_logits with a constant target shows it */
static void bce_describe(const tg_nrec *n, char *buf, size_t len)
{
    if (n->nin == 1) snprintf(buf, len, "(t=%g)", (double)tg_attr(n)->target);
}

#define BCE_OP(lower, needs, desc)                                                                         \
    const tg_opdesc tg_op_##lower = {.name = #lower, .bwd_needs = (needs), .fwd = bce_fwd, .bwd = bce_bwd, \
                                     .describe = (desc)};
BCE_OP(bce_logits, TG_NEED_X0 | TG_NEED_X1, bce_describe)
BCE_OP(gen_loss, TG_NEED_X0, NULL)
BCE_OP(gen_loss_saturating, TG_NEED_X0, NULL)
#undef BCE_OP

static tg_node loss1(tg_graph *g, const tg_opdesc *op, tg_node x, float t)
{
    if (!tg_check_inputs(g, op->name, &x, 1)) return (tg_node){-1};
    if (!isfinite(t)) return tg_fail(g, TG_ERR_ARG, "%s: target %g is not finite", op->name, (double)t);
    return tg_push(g, op, &x, 1, 1, (int[]){1}, &(tg_attrs){.target = t});
}

tg_node tg_bce_logits_const(tg_graph *g, tg_node logits, float t) { return loss1(g, &tg_op_bce_logits, logits, t); }
tg_node tg_gen_loss(tg_graph *g, tg_node x) { return loss1(g, &tg_op_gen_loss, x, 1.0f); }
tg_node tg_gen_loss_saturating(tg_graph *g, tg_node x) { return loss1(g, &tg_op_gen_loss_saturating, x, 0.0f); }

tg_node tg_bce_logits(tg_graph *g, tg_node logits, tg_node target)
{
    tg_node in[2] = {logits, target};
    if (!tg_check_inputs(g, "bce_logits", in, 2)) return (tg_node){-1};
    const tg_nrec *x = tg_rec(g, logits), *t = tg_rec(g, target);
    int same = x->ndim == t->ndim;
    for (int k = 0; same && k < x->ndim; k++) same = x->d[k] == t->d[k];
    char sa[64], sb[64];
    if (!same)
        return tg_fail(g, TG_ERR_SHAPE, "bce_logits: logits are %s but targets are %s",
                       tg_shape_str(x, sa, sizeof sa), tg_shape_str(t, sb, sizeof sb));
    return tg_push(g, &tg_op_bce_logits, in, 2, 1, (int[]){1}, NULL);
}

/* ---- softmax cross-entropy; saved = softmax probabilities (B,C) ---- */
static size_t xent_saved(const tg_graph *g, const tg_nrec *n, int f64)
{
    return g->n[n->in[0]].numel * (f64 ? sizeof(double) : sizeof(float)); /* (B,C) */
}

static void xent_fwd(tg_run *r)
{
    int B = r->in[0]->d[0], C = r->in[0]->d[1];
    const int32_t *lab = r->x[1];
    for (int i = 0; i < B; i++)
        if (lab[i] < 0 || lab[i] >= C) {
            snprintf(r->errbuf, sizeof r->errbuf, "softmax_xent: label %d at row %d is outside [0, %d)",
                     (int)lab[i], i, C);
            r->err = r->errbuf;
            return;
        }
    double s = 0;
    if (r->f64) {
        const double *x = r->x[0];
        double *p = r->saved;
        for (int i = 0; i < B; i++) {
            const double *xi = x + (size_t)i * C;
            double m = xi[0], z = 0;
            for (int j = 1; j < C; j++) m = xi[j] > m ? xi[j] : m;
            for (int j = 0; j < C; j++) z += exp(xi[j] - m);
            for (int j = 0; j < C; j++) p[(size_t)i * C + j] = exp(xi[j] - m) / z;
            s += m + log(z) - xi[lab[i]];
        }
        *(double *)r->y = s / B;
    } else {
        s = r->ex->k->softmax_xent(r->x[0], lab, r->saved, B, C);
        *(float *)r->y = (float)(s / B);
    }
}

static void xent_bwd(tg_run *r)
{
    int B = r->in[0]->d[0], C = r->in[0]->d[1];
    const int32_t *lab = r->x[1];
    for (int i = 0; i < B; i++)
        for (int j = 0; j < C; j++) {
            size_t e = (size_t)i * C + j;
            int cls = lab[i];
            /* a fault-injection build's wrong class and factor (fault.h) */
            if (TG_FAULT(r->n, SOFTMAX_XENT, hot_next_class)) cls = (cls + 1) % C;
            if (TG_FAULT(r->n, SOFTMAX_XENT, row0_label)) cls = lab[0];
            double hot = j == cls;
            if (r->f64) {
                double s = (TG_FAULT(r->n, SOFTMAX_XENT, dy_ignored) ? 1.0 : *(const double *)r->dy) / B;
                ((double *)r->dx[0])[e] += s * (((const double *)r->saved)[e] - hot);
            } else {
                float s = *(const float *)r->dy / (float)B;
                ((float *)r->dx[0])[e] += s * (((const float *)r->saved)[e] - (float)hot);
            }
        }
}

const tg_opdesc tg_op_softmax_xent = {
    .name = "softmax_xent", .bwd_needs = TG_NEED_X1, .saved_bytes = xent_saved, .fwd = xent_fwd, .bwd = xent_bwd};

tg_node tg_softmax_xent(tg_graph *g, tg_node logits, tg_node labels)
{
    if (!tg_check_inputs(g, "softmax_xent", &logits, 1)) return (tg_node){-1};
    if (!tg_node_valid(g, labels)) return tg_fail(g, TG_ERR_NODE, "softmax_xent: input 1 is not a valid node of this graph");
    if (g->n[labels.id].dtype != TG_DT_I32)
        return tg_fail(g, TG_ERR_ARG, "softmax_xent: labels must be an int32 input (tg_input_labels)");
    const tg_nrec *x = tg_rec(g, logits), *l = tg_rec(g, labels);
    char sa[64], sb[64];
    if (x->ndim != 2 || l->d[0] != x->d[0])
        return tg_fail(g, TG_ERR_SHAPE, "softmax_xent: logits are %s but labels are %s (want (B,C) and (B))",
                       tg_shape_str(x, sa, sizeof sa), tg_shape_str(l, sb, sizeof sb));
    return tg_push(g, &tg_op_softmax_xent, (tg_node[]){logits, labels}, 2, 1, (int[]){1}, NULL);
}
