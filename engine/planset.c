/* planset.c - tg_plans_new: compile a set of plans over one graph, pass by
 * pass (compile.h), and the set they share. */
#include "compile.h"

#include <stdlib.h>
#include <string.h>

tg_status tg_compile_fail(tg_graph *g, tg_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tg_graph_failv(g, code, fmt, ap);
    va_end(ap);
    return code;
}

void tg_planset_release(tg_planset *s)
{
    if (!s || --s->refs > 0) return;
    for (int i = 0; s->kept && i < s->n; i++) tg_free(s->kept[i]);
    tg_free(s->kept);
    tg_free(s->needed);
    tg_free(s->unstored);
    tg_free(s->dstep);
    tg_free(s->drow);
    tg_free(s);
}

static tg_planset *set_new(int n)
{
    tg_planset *s = tg_zalloc(sizeof *s);
    if (!s) return NULL;
    s->n = n;
    s->needed = tg_zalloc((size_t)n);
    s->unstored = tg_zalloc((size_t)n);
    s->kept = tg_zalloc((size_t)n * sizeof *s->kept);
    s->dstep = tg_zalloc((size_t)n * sizeof *s->dstep);
    s->drow = tg_zalloc((size_t)n * sizeof *s->drow);
    if (!s->needed || !s->unstored || !s->kept || !s->dstep || !s->drow) {
        tg_planset_release(s);
        return NULL;
    }
    return s;
}

void tg_plan_free(tg_plan *p)
{
    if (!p) return;
    tg_free(p->fwdn); tg_free(p->anc); tg_free(p->hasg); tg_free(p->readable);
    tg_free(p->val); tg_free(p->grad); tg_free(p->saved); tg_free(p->fscr); tg_free(p->bscr); tg_free(p->gstart);
    tg_free(p->glast); tg_free(p->roff); tg_free(p->rnode);
    tg_free(p->fwd); tg_free(p->bwd); tg_free(p->fbias); tg_free(p->fact); tg_free(p->fskip);
    tg_free(p->bfuse); tg_free(p->bmask); tg_free(p->bact); tg_free(p->bskip);
    tg_free(p->ex.ws);
    tg_free(p->bsum.buf);
    tg_free(p->arena);
    tg_planset_release(p->set);
    tg_free(p);
}

static void cctx_free(tg_cctx *c)
{
    tg_free(c->reused); tg_free(c->req); tg_free(c->flow);
    tg_free(c->tfwd); tg_free(c->tbwd); tg_free(c->lastuse);
    tg_free(c->galias); tg_free(c->gcons); tg_free(c->bufs); tg_free(c->tmp);
    memset(c, 0, sizeof *c);
}

/* A plan and its compile scratch, every array zeroed; NULL on no memory. */
static tg_plan *plan_alloc(tg_graph *g, tg_node out, const tg_plan_opts *o, tg_planset *set, tg_cctx *c)
{
    const int n = g->count;
    const size_t ni = (size_t)n * sizeof(int);
    tg_plan *p = tg_zalloc(sizeof *p);
    if (!p) return NULL;
    *p = (tg_plan){.g = g, .set = set, .n = n, .out = out, .f64 = o->precision == TG_F64, .eval = o->eval,
                   .forward_only = o->forward_only};
    set->refs++;
    p->fwdn = tg_zalloc((size_t)n), p->anc = tg_zalloc((size_t)n), p->hasg = tg_zalloc((size_t)n);
    p->readable = tg_zalloc((size_t)n), p->fskip = tg_zalloc((size_t)n), p->bskip = tg_zalloc((size_t)n);
    p->val = tg_zalloc((size_t)n * sizeof(void *)), p->grad = tg_zalloc((size_t)n * sizeof(void *));
    p->saved = tg_zalloc((size_t)n * sizeof(void *));
    p->fscr = tg_zalloc((size_t)n * sizeof(void *)), p->bscr = tg_zalloc((size_t)n * sizeof(void *));
    p->gstart = tg_zalloc(ni), p->fwd = tg_zalloc(ni), p->bwd = tg_zalloc(ni);
    p->glast = tg_zalloc(ni), p->roff = tg_zalloc(ni + 2 * sizeof(int)), p->rnode = tg_zalloc(ni);
    p->fbias = tg_zalloc(ni), p->fact = tg_zalloc(ni);
    p->bfuse = tg_zalloc(ni), p->bmask = tg_zalloc(ni), p->bact = tg_zalloc(ni);
    *c = (tg_cctx){.p = p, .o = o};
    c->reused = tg_zalloc((size_t)n), c->req = tg_zalloc((size_t)n), c->flow = tg_zalloc((size_t)n);
    c->tfwd = tg_zalloc(ni), c->tbwd = tg_zalloc(ni), c->lastuse = tg_zalloc(ni);
    c->galias = tg_zalloc(ni), c->gcons = tg_zalloc(ni);
    /* per node: value, gradient, saved, forward and backward scratch */
    c->bufs = tg_zalloc((size_t)(5 * n + 1) * sizeof(tg_buf));
    c->tmp = tg_zalloc((size_t)(5 * n + 1) * sizeof(tg_buf *));
    if (!p->fwdn || !p->anc || !p->hasg || !p->readable || !p->fskip || !p->bskip || !p->val || !p->grad ||
        !p->saved || !p->fscr || !p->bscr || !p->gstart || !p->glast || !p->roff || !p->rnode || !p->fwd ||
        !p->bwd || !p->fbias || !p->fact || !p->bfuse || !p->bmask || !p->bact || !c->reused || !c->req ||
        !c->flow || !c->tfwd || !c->tbwd || !c->lastuse || !c->galias || !c->gcons || !c->bufs || !c->tmp) {
        cctx_free(c);
        tg_plan_free(p);
        return NULL;
    }
    return p;
}

/* Everything a plan can be told wrong before compiling. */
static tg_status check_request(tg_graph *g, tg_node out, const tg_plan_opts *o)
{
    if (!tg_node_valid(g, out)) return tg_compile_fail(g, TG_ERR_NODE, "plan: invalid output node");
    const tg_nrec *r = &g->n[out.id];
    if (!o->forward_only && r->numel != 1) {
        char s[64];
        return tg_compile_fail(g, TG_ERR_SHAPE, "plan: backward needs a scalar output, but %s node %d is %s",
                               r->op->name, out.id, tg_shape_str(r, s, sizeof s));
    }
    if (r->dtype != TG_DT_F32) return tg_compile_fail(g, TG_ERR_ARG, "plan: output is an integer input");
    if (o->n_reuse < 0 || (o->n_reuse && !o->reuse) || o->n_outputs < 0 || (o->n_outputs && !o->outputs))
        return tg_compile_fail(g, TG_ERR_ARG, "plan: reuse/outputs arrays are inconsistent");
    if (o->precision == TG_F64 && o->n_reuse)
        return tg_compile_fail(g, TG_ERR_ARG, "plan: f64 plans cannot reuse kept values");
    if (o->precision != TG_F64) {
        char km[192];
        if (tg_kernel_check(km, sizeof km) != TG_OK) return tg_compile_fail(g, TG_ERR_ARG, "plan: %s", km);
    }
    return TG_OK;
}

/* Every node a plan reuses is computed by another plan of the set. */
static tg_status check_reuse(tg_graph *g, int n, tg_plan **plans, const tg_plan_opts *const *o)
{
    for (int k = 0; k < n; k++)
        for (int r = 0; r < o[k]->n_reuse; r++) {
            const int id = o[k]->reuse[r].id;
            int computed = 0;
            for (int j = 0; j < n; j++) computed |= j != k && plans[j]->fwdn[id] && !plans[j]->f64;
            if (!computed)
                return tg_compile_fail(g, TG_ERR_ARG,
                                       "plan: plan %d reuses node %d, which no other plan of its set computes "
                                       "(compile them together: tg_plans_new)",
                                       k, id);
        }
    return TG_OK;
}

tg_status tg_plans_new(tg_graph *g, int n, const tg_node *outs, const tg_plan_opts *opts, tg_plan **plans)
{
    static const tg_plan_opts defaults = {0};
    if (!g || !plans || n < 1 || n > 64 || !outs) return TG_ERR_ARG;
    for (int k = 0; k < n; k++) plans[k] = NULL;
    if (g->err != TG_OK) return g->err;
    const tg_plan_opts *o[64];
    for (int k = 0; k < n; k++) {
        o[k] = opts ? &opts[k] : &defaults;
        tg_status s = check_request(g, outs[k], o[k]);
        if (s != TG_OK) return s;
    }
    tg_planset *set = set_new(g->count);
    tg_cctx c[64];
    memset(c, 0, sizeof c);
    tg_status s = set ? TG_OK : tg_compile_fail(g, TG_ERR_NOMEM, "plan: out of memory");
    int made = 0; /* plans holding the set */
    for (int k = 0; k < n && s == TG_OK; k++)
        if ((plans[k] = plan_alloc(g, outs[k], o[k], set, &c[k]))) made++;
        else s = tg_compile_fail(g, TG_ERR_NOMEM, "plan: out of memory");
    /* the set's `needed` is complete before any fusion decision reads it */
    for (int k = 0; k < n && s == TG_OK; k++) s = tg_pass_schedule(&c[k], set);
    if (s == TG_OK) s = check_reuse(g, n, plans, o);
    for (int k = 0; k < n && s == TG_OK; k++) s = tg_pass_fuse(&c[k], set);
    for (int k = 0; k < n && s == TG_OK; k++) s = tg_pass_place(&c[k], set);
    for (int k = 0; k < n && s == TG_OK; k++) s = tg_pass_bind(&c[k], set);
    for (int k = 0; k < n; k++) {
        cctx_free(&c[k]);
        if (s != TG_OK) {
            tg_plan_free(plans[k]);
            plans[k] = NULL;
        }
    }
    if (set && !made) tg_planset_release(set); /* no plan ever held it */
    return s;
}

tg_plan *tg_plan_new(tg_graph *g, tg_node out, const tg_plan_opts *opts)
{
    tg_plan *p = NULL;
    if (!g) return NULL;
    return tg_plans_new(g, 1, &out, opts, &p) == TG_OK ? p : NULL;
}
