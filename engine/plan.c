/* plan.c - run a compiled plan (compile.h): forward over its forward
 * schedule, backward over its backward schedule, in its arena. */
#include "compile.h"

#include <limits.h>
#include <math.h>
#include <string.h>

static tg_status bind_leaves(tg_plan *p)
{
    tg_graph *g = p->g;
    if (g->count < p->n) return TG_ERR_STATE;
    for (int i = 0; i <= p->out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (r->op->leaf == TG_LEAF_INPUT) {
            if (!p->anc[i]) continue; /* reused regions' backward reads inputs too */
            if (!r->bound) {
                tg_fail(g, TG_ERR_STATE, "run: input '%s' is not bound (tg_bind)", r->name);
                return TG_ERR_STATE;
            }
            if (!p->f64 || r->dtype == TG_DT_I32) p->val[i] = (void *)(uintptr_t)r->bound;
        } else if (r->op->leaf == TG_LEAF_PARAM && !p->f64) {
            p->val[i] = tg_param_data(r->param);
        } else if (r->op->view && r->nin == 1 && p->anc[i]) {
            p->val[i] = p->val[r->in[0]]; /* a view is its input's memory (op.h) */
        }
    }
    return TG_OK;
}

void tg_plan_load64(tg_plan *p)
{
    tg_graph *g = p->g;
    for (int i = 0; i <= p->out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (!tg_is_leaf(r) || r->dtype != TG_DT_F32 || !p->val[i]) continue;
        const float *src = r->op->leaf == TG_LEAF_INPUT ? r->bound : tg_param_data(r->param);
        double *dst = p->val[i];
        if (src)
            for (size_t e = 0; e < r->numel; e++) dst[e] = src[e];
    }
}

static void setup_run(tg_plan *p, tg_run *r, int id)
{
    const tg_nrec *n = &p->g->n[id];
    memset(r, 0, sizeof *r);
    r->g = p->g;
    r->n = n;
    r->y = p->val[id];
    r->saved = p->saved[id];
    r->scratch = p->fscr[id];
    r->f64 = p->f64;
    r->ex = &p->ex;
    r->eval = p->eval;
    r->step = p->step;
    r->row0 = p->row0;
    r->bsum = p->bsum.fn ? &p->bsum : NULL;
    for (int k = 0; k < n->nin; k++) {
        r->in[k] = &p->g->n[n->in[k]];
        r->x[k] = p->val[n->in[k]];
    }
    r->epi.act = TG_ACT_NONE;
    if (p->fbias[id] >= 0) { /* the fused bias node (and activation) */
        r->epi.bias = p->val[p->g->n[p->fbias[id]].in[1]];
        if (p->fact[id] >= 0) {
            const tg_nrec *a = &p->g->n[p->fact[id]];
            r->epi.act = a->op->y_act(a, &r->epi.slope);
        }
    }
}

/* an op met bad data or a failed hook: the graph's error, and the status */
static tg_status run_fail(tg_plan *p, const tg_run *r)
{
    const tg_status s = r->err_status != TG_OK ? r->err_status : TG_ERR_ARG;
    tg_fail(p->g, s, "%s", r->err);
    return s;
}

static void run_op(const tg_opdesc *op, int pass, tg_run *r)
{
    void (*fn)(tg_run *) = pass ? op->bwd : op->fwd;
    if (tg_prof_on()) {
        double t0 = tg_prof_now();
        fn(r);
        tg_prof_add(op, pass, tg_prof_now() - t0);
    } else {
        fn(r);
    }
}

tg_status tg_plan_forward_raw(tg_plan *p)
{
    tg_status s = bind_leaves(p);
    if (s != TG_OK) return s;
    tg_run r;
    for (int t = 0; t < p->nfwd; t++) {
        int id = p->fwd[t];
        if (!p->eval) { /* for plans of the set that reuse this node */
            p->set->dstep[id] = p->step;
            p->set->drow[id] = p->row0;
        }
        if (p->fskip[id]) continue; /* done in a producer's epilogue */
        setup_run(p, &r, id);
        run_op(r.n->op, 0, &r);
        if (r.err) return run_fail(p, &r);
    }
    const tg_nrec *o = &p->g->n[p->out.id];
    p->loss = p->f64 ? ((double *)p->val[p->out.id])[0] : ((float *)p->val[p->out.id])[0];
    p->ran_forward = 1;
    if (o->numel == 1 && !isfinite(p->loss)) return TG_ERR_NONFINITE; /* not sticky */
    return TG_OK;
}

tg_status tg_plan_forward(tg_plan *p)
{
    if (!p) return TG_ERR_ARG;
    if (p->g->err != TG_OK) return TG_ERR_STATE;
    tg_status s = bind_leaves(p);
    if (s != TG_OK) return s;
    if (p->f64) tg_plan_load64(p);
    if (!p->eval) p->step = p->g->dstep++;
    if (p->f64) return tg_plan_forward_raw(p); /* gradient checks keep IEEE doubles */
    tg_fpmode m = tg_fp_enter();
    s = tg_plan_forward_raw(p);
    tg_fp_leave(m);
    return s;
}

/* dropout masks: this plan's own forward step for nodes it computed
 * (another plan may have run over them since), the step the set recorded
 * for nodes it reuses */
static uint64_t step_of(const tg_plan *p, int id) { return p->fwdn[id] ? p->step : p->set->dstep[id]; }
/* and their row offset, likewise */
static int64_t row_of(const tg_plan *p, int id) { return p->fwdn[id] ? p->row0 : p->set->drow[id]; }

/* the backward epilogue of node id's input-gradient: the fused activation
 * (and mask) backward, writing the gradient below them */
static void setup_bwd_epilogue(tg_plan *p, tg_run *r, int id)
{
    const tg_graph *g = p->g;
    const int d = p->bmask[id], a = p->bact[id];
    r->dx[0] = p->grad[p->bfuse[id]];
    r->fresh[0] = 1;
    r->bepi.on = 1;
    r->bepi.act = g->n[a].op->y_act(&g->n[a], &r->bepi.slope);
    r->bepi.y = p->val[a];
    tg_mask m;
    if (d >= 0 && !p->eval && g->n[d].op->mask(g, &g->n[d], step_of(p, d), row_of(p, d), p->eval, &m)) {
        r->bepi.mask_on = 1;
        r->bepi.key = m.key;
        r->bepi.off = m.off;
        r->bepi.thr = m.thr;
        r->bepi.scale = m.scale;
    }
}

/* the gradient-ready hook: the parameters whose gradient is final after
 * backward step slot - 1 (slot 0: before the first step) */
static void ready(tg_plan *p, int slot)
{
    if (!p->ready_fn) return;
    for (int q = p->roff[slot]; q < p->roff[slot + 1]; q++) p->ready_fn(p->ready_ctx, p->g->n[p->rnode[q]].param);
}

tg_status tg_plan_on_grad_ready(tg_plan *p, tg_grad_ready_fn fn, void *ctx)
{
    if (!p) return TG_ERR_ARG;
    if (fn && (p->f64 || p->forward_only)) return TG_ERR_ARG; /* no tg_param_grad to report */
    p->ready_fn = fn;
    p->ready_ctx = fn ? ctx : NULL;
    return TG_OK;
}

tg_status tg_plan_set_row_offset(tg_plan *p, int64_t row0)
{
    if (!p || row0 < 0) return TG_ERR_ARG;
    p->row0 = row0;
    return TG_OK;
}

int64_t tg_plan_row_offset(const tg_plan *p) { return p ? p->row0 : 0; }

tg_status tg_plan_on_batch_sums(tg_plan *p, tg_batch_sum_fn fn, void *ctx)
{
    if (!p) return TG_ERR_ARG;
    if (fn && p->f64) return TG_ERR_ARG;
    if (!fn) {
        p->bsum.fn = NULL;
        p->bsum.ctx = NULL;
        return TG_OK;
    }
    /* the largest buffer a node of this plan hands the hook */
    size_t need = 0;
    for (int i = 0; i <= p->out.id; i++) {
        const tg_opdesc *op = p->g->n[i].op;
        if (!p->anc[i] || !op->batch_sums) continue;
        const size_t k = op->batch_sums(&p->g->n[i]);
        if (k > need) need = k;
    }
    if (need > (size_t)INT_MAX) return TG_ERR_ARG; /* the hook counts in int */
    if (need > p->bsum_cap) {
        double *buf = tg_zalloc(need * sizeof(double));
        if (!buf) return TG_ERR_NOMEM;
        tg_free(p->bsum.buf);
        p->bsum.buf = buf;
        p->bsum_cap = need;
    }
    p->bsum.fn = fn;
    p->bsum.ctx = ctx;
    return TG_OK;
}

static tg_status backward_run(tg_plan *p)
{
    if (p->forward_only || !p->ran_forward) return TG_ERR_STATE;
    tg_graph *g = p->g;
    const size_t esz = p->f64 ? sizeof(double) : sizeof(float);
    if (p->hasg[p->out.id]) {
        if (p->f64) ((double *)p->grad[p->out.id])[0] = 1.0;
        else ((float *)p->grad[p->out.id])[0] = 1.0f;
    }
    ready(p, 0);
    tg_run r;
    for (int j = 0; j < p->nbwd; j++) {
        int id = p->bwd[j], t = p->nfwd + j;
        if (p->bskip[id]) { /* run in a consumer's input-gradient epilogue */
            ready(p, j + 1);
            continue;
        }
        setup_run(p, &r, id);
        r.scratch = p->bscr[id];
        r.step = step_of(p, id);
        r.row0 = row_of(p, id);
        r.dy = p->grad[id];
        /* a gradient buffer starts at its first writer: ops that can
         * overwrite get it fresh (no zeroing pass), others get it zeroed */
        const int can_fresh = r.n->op->fresh_ok;
        for (int k = 0; k < r.n->nin; k++) {
            int in = r.n->in[k];
            if (!p->hasg[in]) continue;
            r.dx[k] = p->grad[in];
            if (p->gstart[in] != t) continue;
            int first = 1; /* the same input twice (x*x): only its first slot starts it */
            for (int q = 0; q < k; q++) first &= r.n->in[q] != in;
            if (!first) continue;
            if (can_fresh) r.fresh[k] = 1;
            else memset(p->grad[in], 0, g->n[in].numel * esz);
        }
        if (p->bfuse[id] >= 0) setup_bwd_epilogue(p, &r, id);
        run_op(r.n->op, 1, &r);
        if (r.err) return run_fail(p, &r);
        ready(p, j + 1);
    }
    return TG_OK;
}

tg_status tg_plan_backward(tg_plan *p)
{
    if (!p) return TG_ERR_ARG;
    if (p->f64) return backward_run(p);
    tg_fpmode m = tg_fp_enter();
    tg_status s = backward_run(p);
    tg_fp_leave(m);
    return s;
}

const float *tg_plan_value(const tg_plan *p, tg_node n)
{
    if (!p || p->f64 || n.id < 0 || n.id >= p->n || !p->readable[n.id]) return NULL;
    return p->val[n.id];
}

const float *tg_plan_grad(const tg_plan *p, tg_node n)
{
    if (!p || p->f64 || n.id < 0 || n.id >= p->n || !p->hasg[n.id]) return NULL;
    if (p->g->n[n.id].op->leaf != TG_LEAF_INPUT && n.id != p->out.id) return NULL;
    return p->grad[n.id];
}

double tg_plan_loss(const tg_plan *p) { return p ? p->loss : NAN; }
size_t tg_plan_arena_bytes(const tg_plan *p) { return p ? p->arena_bytes : 0; }
size_t tg_plan_naive_bytes(const tg_plan *p) { return p ? p->naive_bytes : 0; }
int tg_plan_forward_len(const tg_plan *p) { return p ? p->nfwd - p->nskip : 0; }
int tg_plan_backward_len(const tg_plan *p) { return p ? p->nbwd - p->nbskip : 0; }

int tg_plan_has_param_grad(const tg_plan *p, const tg_param *param)
{
    if (!p) return 0;
    for (int i = 0; i <= p->out.id; i++)
        if (p->g->n[i].op->leaf == TG_LEAF_PARAM && p->g->n[i].param == param) return p->hasg[i];
    return 0;
}

double *tg_plan_value64(tg_plan *p, tg_node n)
{
    return p && p->f64 && n.id >= 0 && n.id < p->n ? p->val[n.id] : NULL;
}
double *tg_plan_grad64(tg_plan *p, tg_node n)
{
    return p && p->f64 && n.id >= 0 && n.id < p->n && p->hasg[n.id] ? p->grad[n.id] : NULL;
}
