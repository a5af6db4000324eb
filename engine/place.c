/* place.c - compile passes 3 and 4: place every buffer in one arena, then
 * bind every slot to its memory.
 *
 * place: each value, gradient and op-private (saved) buffer gets a lifetime
 * on one time line (forward steps, then backward steps): from the step that
 * first writes it to the last that reads it. A greedy best-fit placement
 * packs them, largest first, each at the lowest offset that does not
 * collide with an already placed buffer whose lifetime overlaps. Kept values
 * (shared by a set of plans) and parameters' gradients live outside the
 * arena; so do values fused away (they share the buffer of the node whose
 * epilogue computes them) and views (op.h: a view's value is its input's
 * buffer, whose lifetime the schedule extended to the view's last reader).
 * An op's per-step scratch (scratch_bytes) lives during that step only.
 *
 * bind: allocate the arena (plus one GEMM workspace per thread after it)
 * and the set's kept values, and point every slot at its memory. */
#include "compile.h"

#include <stdlib.h>
#include <string.h>

static int by_size_desc(const void *a, const void *b)
{
    const tg_buf *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->start - y->start;
}
static int by_off(const void *a, const void *b)
{
    const tg_buf *x = *(tg_buf *const *)a, *y = *(tg_buf *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Returns the arena size. */
static size_t best_fit(tg_buf *b, int nb, tg_buf **tmp)
{
    size_t total = 0;
    qsort(b, (size_t)nb, sizeof *b, by_size_desc);
    for (int i = 0; i < nb; i++) {
        int nt = 0;
        for (int j = 0; j < i; j++)
            if (b[j].start <= b[i].end && b[i].start <= b[j].end) tmp[nt++] = &b[j];
        qsort(tmp, (size_t)nt, sizeof *tmp, by_off);
        size_t off = 0;
        for (int j = 0; j < nt; j++) {
            if (tmp[j]->off >= off + b[i].size) break;
            if (tmp[j]->off + tmp[j]->size > off) off = tmp[j]->off + tmp[j]->size;
        }
        b[i].off = off;
        if (off + b[i].size > total) total = off + b[i].size;
    }
    return total;
}

static void add_buf(tg_cctx *c, size_t bytes, int start, int end, void **slot)
{
    c->bufs[c->nb++] = (tg_buf){tg_align64(bytes), 0, start, end, slot};
}

static int is_bias(const tg_nrec *r) { return r->op->bias_axis != NULL; }
static int is_view(const tg_nrec *r) { return r->op->view && r->nin == 1; }

/* a bias node whose producer's epilogue also runs the activation after it:
 * its value is never stored */
static int bias_fused_away(const tg_plan *p, int i)
{
    return p->fskip[i] && is_bias(&p->g->n[i]) && tg_fused_act(p, i) >= 0;
}

static void value_buffer(tg_cctx *c, tg_planset *set, int i)
{
    tg_plan *p = c->p;
    const tg_nrec *r = &p->g->n[i];
    const size_t esz = p->f64 ? sizeof(double) : sizeof(float);
    const int leaf = tg_is_leaf(r);
    if (is_view(r)) { /* input 0's memory, bound at run time (plan.c) */
        if (!p->f64 && (r->flags & TG_NF_KEPT) && p->anc[i]) p->readable[i] = p->readable[r->in[0]];
        return;
    }
    if (!p->f64 && (r->flags & TG_NF_KEPT) && !leaf && p->anc[i]) {
        /* the set's memory; not readable if it lives only in an epilogue,
         * in this plan or in the set's plan that computes it */
        p->readable[i] = p->fwdn[i] ? p->fbias[i] < 0 && !bias_fused_away(p, i) : !set->unstored[i];
    } else if (leaf) {
        p->readable[i] = p->anc[i] && !p->f64;
        if (p->f64 && p->anc[i] && r->dtype == TG_DT_F32) /* loaded at start, live throughout */
            add_buf(c, r->numel * esz, 0, T_END, &p->val[i]);
    } else if (p->fwdn[i] && p->fbias[i] < 0 && !bias_fused_away(p, i)) {
        /* a node fused into a producer's epilogue is written at the
         * producer's step */
        int start = c->tfwd[i];
        if (p->fskip[i]) start = c->tfwd[is_bias(r) ? r->in[0] : p->g->n[r->in[0]].in[0]];
        add_buf(c, r->numel * esz, start, c->lastuse[i] > c->tfwd[i] ? c->lastuse[i] : c->tfwd[i], &p->val[i]);
    }
}

static void gradient_buffer(tg_cctx *c, int i)
{
    tg_plan *p = c->p;
    const tg_nrec *r = &p->g->n[i];
    const size_t esz = p->f64 ? sizeof(double) : sizeof(float);
    const int leaf = tg_is_leaf(r);
    if (!p->hasg[i] || p->gstart[i] < 0 || c->galias[i] >= 0) return;
    if (leaf && !p->f64 && r->op->leaf == TG_LEAF_PARAM) {
        p->grad[i] = tg_param_grad(r->param);
        return;
    }
    int end = leaf ? T_END : (c->tbwd[i] >= 0 ? c->tbwd[i] : p->gstart[i]);
    if (i == p->out.id && c->tbwd[i] < 0) end = T_END;
    /* a node whose gradient aliases this one (the input of bias or view
     * node i): alive until that node's backward too */
    if (tg_grad_passes(r) && c->galias[r->in[0]] == i) {
        const int x = r->in[0];
        const int xend = c->tbwd[x] >= 0 ? c->tbwd[x] : p->gstart[x];
        if (xend > end) end = xend;
    }
    add_buf(c, r->numel * esz, p->gstart[i], end, &p->grad[i]);
    if (leaf) p->readable[i] = p->readable[i] || !p->f64;
}

tg_status tg_pass_place(tg_cctx *c, tg_planset *set)
{
    tg_plan *p = c->p;
    for (int i = 0; i <= p->out.id; i++) {
        const tg_nrec *r = &p->g->n[i];
        value_buffer(c, set, i);
        if (p->fwdn[i] && r->op->saved_bytes) {
            size_t sb = r->op->saved_bytes(p->g, r, p->f64);
            int end = c->tbwd[i] >= 0 ? c->tbwd[i] : c->tfwd[i];
            if (sb) add_buf(c, sb, c->tfwd[i], end, &p->saved[i]);
        }
        if (r->op->scratch_bytes) { /* live during its own step only */
            size_t fb = p->fwdn[i] && !p->fskip[i] ? r->op->scratch_bytes(p->g, r, p->f64, 0) : 0;
            size_t bb = c->tbwd[i] >= 0 && !p->bskip[i] ? r->op->scratch_bytes(p->g, r, p->f64, 1) : 0;
            if (fb) add_buf(c, fb, c->tfwd[i], c->tfwd[i], &p->fscr[i]);
            if (bb) add_buf(c, bb, c->tbwd[i], c->tbwd[i], &p->bscr[i]);
        }
        gradient_buffer(c, i);
    }
    for (int b = 0; b < c->nb; b++) p->naive_bytes += c->bufs[b].size;
    p->arena_bytes = best_fit(c->bufs, c->nb, c->tmp);
    return TG_OK;
}

/* the set's memory for kept values this plan touches */
static tg_status bind_kept(tg_cctx *c, tg_planset *set)
{
    tg_plan *p = c->p;
    for (int i = 0; i <= p->out.id && !p->f64; i++) {
        const tg_nrec *r = &p->g->n[i];
        if (!(r->flags & TG_NF_KEPT) || tg_is_leaf(r) || is_view(r) || !p->anc[i]) continue;
        if (!set->kept[i] && !(set->kept[i] = tg_zalloc(r->numel * sizeof(float))))
            return tg_compile_fail(p->g, TG_ERR_NOMEM, "plan: out of memory for kept node %d", i);
        p->val[i] = set->kept[i];
    }
    return TG_OK;
}

tg_status tg_pass_bind(tg_cctx *c, tg_planset *set)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    /* GEMM workspaces, one per thread, after the shared part */
    p->ex.k = tg_kern_current();
    p->ex.pool = c->o->pool;
    p->ex.nthreads = c->o->pool ? tg_pool_threads(c->o->pool) : 1;
    size_t wsf = 0;
    for (int i = 0; i <= p->out.id && !p->f64; i++) {
        const tg_nrec *r = &g->n[i];
        if ((p->fwdn[i] || p->hasg[i]) && r->op->ws_floats) {
            size_t w = r->op->ws_floats(g, r, p->ex.k);
            if (w > wsf) wsf = w;
        }
    }
    p->ex.ws_floats = tg_align64(wsf * sizeof(float)) / sizeof(float);
    const size_t shared = tg_align64(p->arena_bytes);
    const size_t total = shared + (size_t)p->ex.nthreads * p->ex.ws_floats * sizeof(float);
    p->ex.ws = tg_zalloc((size_t)p->ex.nthreads * sizeof(float *));
    p->arena = tg_zalloc(total);
    if (!p->arena || !p->ex.ws)
        return tg_compile_fail(p->g, TG_ERR_NOMEM, "plan: cannot allocate a %zu-byte arena", total);
    for (int t = 0; t < p->ex.nthreads; t++) p->ex.ws[t] = (float *)(p->arena + shared) + (size_t)t * p->ex.ws_floats;
    for (int b = 0; b < c->nb; b++) *c->bufs[b].slot = p->arena + c->bufs[b].off;
    tg_status s = bind_kept(c, set);
    if (s != TG_OK) return s;
    for (int i = 0; i < p->n; i++) {
        /* a kept pre-activation the set's computing plan did not store: its
         * one reader, a y-only activation, gets its own output for it */
        if (!p->f64 && p->anc[i] && !p->fwdn[i] && set->unstored[i])
            for (int j = i + 1; j <= p->out.id; j++)
                if (g->n[j].nin == 1 && g->n[j].in[0] == i && g->n[j].op->y_act) {
                    float slope;
                    if (g->n[j].op->y_act(&g->n[j], &slope) == TG_ACT_NONE) continue;
                    p->val[i] = p->val[j];
                    break;
                }
        if (c->galias[i] >= 0) p->grad[i] = p->grad[c->galias[i]];
        if (p->fact[i] >= 0) { /* producer, bias node and activation share y */
            p->val[i] = p->val[p->fact[i]];
            p->val[p->fbias[i]] = p->val[p->fact[i]];
        } else if (p->fbias[i] >= 0) {
            p->val[i] = p->val[p->fbias[i]];
        }
    }
    return TG_OK;
}
