/* fuse.c - compile pass 2: fusion, from the traits op descriptors declare
 * (op.h). f32 plans only (f64 plans run every node on its own), and not
 * with tg_plan_opts.unfused. Fused and unfused plans give the same bits: an
 * epilogue applies the same vector functions to the finished values.
 *
 * Forward: a producer whose epilogue takes a bias over an axis
 * (epi_bias_axis), read only by a bias node over that axis (bias_axis), runs
 * the bias in its epilogue, writing straight into the bias node's buffer.
 * When the sum in turn is read only by a y-only activation (y_act), the
 * activation runs in the epilogue too and the pre-activation is never
 * stored: the activation's backward is handed y as its x.
 *
 * Backward: a y-only activation's backward, and a mask's (a dropout) between
 * it and a consumer whose input-gradient epilogue can take them
 * (bwd_epi_ok), run in that consumer's epilogue, which writes the gradient
 * below them directly; their own backward steps and gradient buffers go.
 *
 * Gradient aliasing (both precisions): a bias node, or a view (a reshape),
 * hands its gradient to its input unchanged, so when it is that input's only
 * consumer, the input's gradient is the node's own buffer and the copy
 * disappears. */
#include "compile.h"

static tg_act y_act(const tg_nrec *r, float *slope)
{
    float s;
    return r->op->y_act ? r->op->y_act(r, slope ? slope : &s) : TG_ACT_NONE;
}

/* Whether node i's value may live only inside a fused epilogue (never
 * stored) when its one reader in this plan is node c. A plan-local value
 * may. A kept value (shared by the set) may only when no node of the graph
 * but c reads it, c's backward does not read it (a bias node's backward
 * reads nothing; a y-only activation's reads only its output), and no plan
 * of the set reads it without computing it. */
static int unstorable(const tg_plan *p, const tg_planset *set, int i, int c)
{
    const tg_graph *g = p->g;
    if (!(g->n[i].flags & TG_NF_KEPT)) return 1;
    if (set->needed[i]) return 0;
    for (int j = i + 1; j < p->n; j++)
        for (int k = 0; k < g->n[j].nin; k++)
            if (g->n[j].in[k] == i) {
                if (j != c) return 0;
                if ((g->n[j].op->bwd_needs & (1u << k)) && !(k == 0 && y_act(&g->n[j], NULL) != TG_ACT_NONE))
                    return 0;
            }
    return 1;
}

/* the first node of the forward schedule after step t that reads b as
 * input 0, or -1 */
static int next_reader(const tg_plan *p, int t, int b)
{
    for (int t2 = t + 1; t2 < p->nfwd; t2++) {
        const tg_nrec *r = &p->g->n[p->fwd[t2]];
        if (r->nin >= 1 && r->in[0] == b) return p->fwd[t2];
    }
    return -1;
}

static void fuse_forward(tg_cctx *c, tg_planset *set)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int i = 0; i < p->n; i++) c->gcons[i] = 0; /* forward readers */
    for (int t = 0; t < p->nfwd; t++) {
        const tg_nrec *r = &g->n[p->fwd[t]];
        for (int k = 0; k < r->nin; k++) c->gcons[r->in[k]]++;
    }
    for (int t = 0; t < p->nfwd; t++) {
        const int b = p->fwd[t];
        const tg_nrec *r = &g->n[b];
        if (!r->op->bias_axis || r->nin != 2) continue;
        const int m = r->in[0], bias = r->in[1];
        const tg_nrec *rm = &g->n[m];
        if (!rm->op->epi_bias_axis || rm->op->epi_bias_axis(rm) < 0 || rm->op->epi_bias_axis(rm) != r->op->bias_axis(r))
            continue;
        if (!p->fwdn[m] || p->readable[m] || !unstorable(p, set, m, b) || m == bias || !tg_is_leaf(&g->n[bias]) ||
            c->gcons[m] != 1 || c->lastuse[m] != t)
            continue;
        p->fbias[m] = b;
        p->fskip[b] = 1;
        p->nskip++;
        if (rm->flags & TG_NF_KEPT) set->unstored[m] = 1;
        if (c->gcons[b] != 1 || p->readable[b]) continue;
        const int a = next_reader(p, t, b);
        if (a >= 0 && y_act(&g->n[a], NULL) != TG_ACT_NONE && unstorable(p, set, b, a)) {
            p->fact[m] = a;
            p->fskip[a] = 1;
            p->nskip++;
            if (r->flags & TG_NF_KEPT) set->unstored[b] = 1;
        }
    }
}

/* first write of each gradient: the backward of its latest consumer */
static void gradient_starts(tg_cctx *c)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int i = 0; i < p->n; i++) p->gstart[i] = -1;
    for (int j = 0; j < p->nbwd; j++) {
        const tg_nrec *r = &g->n[p->bwd[j]];
        for (int k = 0; k < r->nin; k++)
            if (p->hasg[r->in[k]] && p->gstart[r->in[k]] < 0) p->gstart[r->in[k]] = c->t_bwd0 + j;
    }
    if (p->hasg[p->out.id]) p->gstart[p->out.id] = c->t_bwd0;
}

static void alias_gradients(tg_cctx *c)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int i = 0; i < p->n; i++) c->galias[i] = -1, c->gcons[i] = 0; /* backward writers */
    for (int j = 0; j < p->nbwd; j++) {
        const tg_nrec *r = &g->n[p->bwd[j]];
        for (int k = 0; k < r->nin; k++)
            if (p->hasg[r->in[k]]) c->gcons[r->in[k]]++;
    }
    for (int j = 0; j < p->nbwd; j++) {
        const int id = p->bwd[j];
        const tg_nrec *r = &g->n[id];
        if (!tg_grad_passes(r)) continue;
        const int x = r->in[0];
        if (p->hasg[x] && p->hasg[id] && c->gcons[x] == 1 && !tg_is_leaf(&g->n[x]) &&
            x != p->out.id && c->galias[id] < 0)
            c->galias[x] = id;
    }
}

/* gradient of node x flows only into one backward writer, and x is an op
 * node other than `out` */
static int sole_writer(const tg_cctx *c, int x)
{
    const tg_plan *p = c->p;
    return p->hasg[x] && !tg_is_leaf(&p->g->n[x]) && c->gcons[x] == 1 && x != p->out.id;
}

static void fuse_backward(tg_cctx *c)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int j = 0; j < p->nbwd; j++) {
        const int mm = p->bwd[j];
        const tg_nrec *r = &g->n[mm];
        if (!r->op->bwd_epi_ok || !r->op->bwd_epi_ok(r) || r->nin < 2 || r->in[0] == r->in[1]) continue;
        int x = r->in[0], d = -1;
        if (!sole_writer(c, x)) continue;
        if (g->n[x].op->mask) {
            d = x;
            x = g->n[d].in[0];
            if (!sole_writer(c, x) || c->tbwd[d] < 0) continue;
        }
        if (g->n[x].nin != 1 || y_act(&g->n[x], NULL) == TG_ACT_NONE || c->tbwd[x] < 0) continue;
        const int a = x, b = g->n[a].in[0];
        if (!p->hasg[b] || p->gstart[b] != c->tbwd[a] || c->galias[b] >= 0 || tg_is_leaf(&g->n[b])) continue;
        p->bfuse[mm] = b;
        p->bmask[mm] = d;
        p->bact[mm] = a;
        p->bskip[a] = 1;
        p->nbskip += 1 + (d >= 0);
        if (d >= 0) p->bskip[d] = 1;
        p->gstart[b] = c->t_bwd0 + j; /* written at the consumer's step now */
        p->gstart[a] = -1;            /* no buffer: never written or read */
        if (d >= 0) p->gstart[d] = -1;
    }
}

/* last write of each gradient, once fusion has moved writes: a step skipped
 * (fused into a consumer) writes nothing; a consumer whose input-gradient
 * epilogue runs fused backwards writes bfuse's gradient instead of its
 * input 0's. Then the gradient-ready lists (tg_plan_on_grad_ready): each
 * parameter leaf with a gradient, after its last writer's step. */
static void gradient_ends(tg_cctx *c)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int i = 0; i < p->n; i++) p->glast[i] = -1;
    if (p->hasg[p->out.id]) p->glast[p->out.id] = c->t_bwd0 - 1; /* set before the first step */
    for (int j = 0; j < p->nbwd; j++) {
        const int id = p->bwd[j];
        const tg_nrec *r = &g->n[id];
        if (p->bskip[id]) continue;
        for (int k = 0; k < r->nin; k++) {
            const int in = k == 0 && p->bfuse[id] >= 0 ? p->bfuse[id] : r->in[k];
            if (p->hasg[in]) p->glast[in] = c->t_bwd0 + j;
        }
    }
    int nr = 0;
    for (int j = -1; j < p->nbwd; j++) {
        p->roff[j + 1] = nr;
        const tg_nrec *r = j >= 0 ? &g->n[p->bwd[j]] : NULL;
        const int nin = j >= 0 ? r->nin : 1;
        for (int k = 0; k < nin; k++) {
            const int in = j >= 0 ? r->in[k] : p->out.id;
            if (g->n[in].op->leaf != TG_LEAF_PARAM || !p->hasg[in] || p->glast[in] != c->t_bwd0 + j) continue;
            int seen = 0; /* the same parameter twice in one node (w * w) */
            for (int q = p->roff[j + 1]; q < nr; q++) seen |= p->rnode[q] == in;
            if (!seen) p->rnode[nr++] = in;
        }
    }
    p->roff[p->nbwd + 1] = nr;
}

tg_status tg_pass_fuse(tg_cctx *c, tg_planset *set)
{
    tg_plan *p = c->p;
    const int fuse = !p->f64 && !c->o->unfused;
    for (int i = 0; i < p->n; i++) p->fbias[i] = p->fact[i] = p->bfuse[i] = p->bmask[i] = p->bact[i] = -1;
    if (fuse) fuse_forward(c, set);
    gradient_starts(c);
    alias_gradients(c);
    if (fuse) fuse_backward(c);
    gradient_ends(c);
    return TG_OK;
}
