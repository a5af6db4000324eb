/* gradcheck.c - analytic gradients against central differences, in double
 * precision through the f64 reference kernels. */
#include "op.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void tg_gc_report_free(tg_gc_report *rep)
{
    if (!rep) return;
    tg_free(rep->e);
    memset(rep, 0, sizeof *rep);
}

tg_status tg_gradcheck(tg_graph *g, tg_node loss, const tg_gc_opts *opts, tg_gc_report *rep)
{
    static const tg_gc_opts defaults = {0};
    if (!g || !rep) return TG_ERR_ARG;
    memset(rep, 0, sizeof *rep);
    if (!opts) opts = &defaults;
    const double h = opts->h > 0 ? opts->h : 1e-6;
    const double tol = opts->tol > 0 ? opts->tol : 1e-5;
    const double ffrac = opts->floor_frac > 0 ? opts->floor_frac : 1e-3;
    tg_plan_opts po = {.groups = opts->groups ? opts->groups : "*",
                       .input_grads = !opts->skip_inputs,
                       .eval = opts->eval != 0,
                       .precision = TG_F64};
    tg_plan *p = tg_plan_new(g, loss, &po);
    if (!p) return g->err != TG_OK ? g->err : TG_ERR_STATE;

    tg_status st = tg_plan_forward(p); /* loads f32 sources, advances dropout once */
    if (st == TG_OK) st = tg_plan_backward(p);
    /* leaves with a gradient, in tape order */
    int nleaf = 0;
    size_t maxn = 0;
    for (int i = 0; st == TG_OK && i <= loss.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (r->op->leaf != TG_LEAF_NONE && tg_plan_grad64(p, (tg_node){i})) {
            nleaf++;
            if (r->numel > maxn) maxn = r->numel;
        }
    }
    double *ana = st == TG_OK ? tg_zalloc((maxn ? maxn : 1) * sizeof(double)) : NULL;
    double *num = st == TG_OK ? tg_zalloc((maxn ? maxn : 1) * sizeof(double)) : NULL;
    rep->e = st == TG_OK ? tg_zalloc((size_t)(nleaf ? nleaf : 1) * sizeof *rep->e) : NULL;
    double **grads = st == TG_OK ? tg_zalloc((size_t)(nleaf ? nleaf : 1) * sizeof(double *)) : NULL;
    if (st == TG_OK && (!ana || !num || !rep->e || !grads)) st = TG_ERR_NOMEM;

    /* the analytic gradients live in an arena that forward reuses: copy them */
    int k = 0;
    for (int i = 0; st == TG_OK && i <= loss.id; i++) {
        double *gr = tg_plan_grad64(p, (tg_node){i});
        const tg_nrec *r = &g->n[i];
        if (r->op->leaf == TG_LEAF_NONE || !gr) continue;
        grads[k] = tg_zalloc(r->numel * sizeof(double));
        if (!grads[k]) {
            st = TG_ERR_NOMEM;
            break;
        }
        memcpy(grads[k++], gr, r->numel * sizeof(double));
    }

    k = 0;
    for (int i = 0; st == TG_OK && i <= loss.id; i++) {
        const tg_nrec *r = &g->n[i];
        double *v = tg_plan_value64(p, (tg_node){i});
        if (r->op->leaf == TG_LEAF_NONE || !tg_plan_grad64(p, (tg_node){i})) continue;
        tg_gc_entry *e = &rep->e[k];
        if (r->op->leaf == TG_LEAF_PARAM) snprintf(e->name, sizeof e->name, "%s/%s", tg_param_group(r->param), tg_param_name(r->param));
        else snprintf(e->name, sizeof e->name, "input:%s", r->name);
        e->numel = r->numel;
        memcpy(ana, grads[k], r->numel * sizeof(double));
        double nmax = 0;
        for (size_t j = 0; st == TG_OK && j < r->numel; j++) {
            double keep = v[j];
            v[j] = keep + h;
            st = tg_plan_forward_raw(p);
            double lp = tg_plan_loss(p);
            v[j] = keep - h;
            if (st == TG_OK) st = tg_plan_forward_raw(p);
            double lm = tg_plan_loss(p);
            v[j] = keep;
            num[j] = (lp - lm) / (2 * h);
            if (isfinite(num[j]) && fabs(num[j]) > nmax) nmax = fabs(num[j]);
        }
        double floor = ffrac * nmax > 1e-300 ? ffrac * nmax : 1e-300;
        for (size_t j = 0; st == TG_OK && j < r->numel; j++) {
            double d = fabs(ana[j] - num[j]);
            double den = fmax(fmax(fabs(ana[j]), fabs(num[j])), floor);
            double rel = d / den;
            if (!isfinite(ana[j]) || !isfinite(num[j])) d = rel = INFINITY; /* NaN must fail */
            if (d > e->max_abs) e->max_abs = d;
            if (j == 0 || rel > e->max_rel) {
                e->max_rel = rel;
                e->worst = j;
                e->analytic = ana[j];
                e->numeric = num[j];
            }
        }
        if (e->max_rel > rep->max_rel) rep->max_rel = e->max_rel;
        k++;
    }
    rep->n = k;
    rep->pass = st == TG_OK && rep->max_rel <= tol;
    for (int j = 0; grads && j < nleaf; j++) tg_free(grads[j]);
    tg_free(grads);
    tg_free(ana);
    tg_free(num);
    tg_plan_free(p);
    if (st != TG_OK) tg_gc_report_free(rep);
    return st;
}
