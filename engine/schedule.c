/* schedule.c - compile pass 1: what a plan computes.
 *
 * For an output node `out`:
 *   anc[i]:  i is behind `out` (ignoring reuse).
 *   fwdn[i]: i is computed by this plan's forward: behind `out` through
 *            nodes that are not reused (computed by another plan of the set).
 *   req[i]:  a gradient of i is wanted: a parameter of a requested group
 *            (not a state parameter), a float input when input_grads, or a
 *            differentiable op with a req input.
 *   flow[i]: a gradient reaches i from `out` through differentiable ops.
 * A node gets a gradient (hasg) iff req && flow; an op is in the backward
 * schedule iff it has one and passes it to at least one input. Then: the
 * steps of the time line (forward steps, then backward steps), which kept
 * values the plan reads without computing (the set's `needed`), and the
 * last step that reads each value. */
#include "compile.h"

static tg_status mark_reused(tg_cctx *c)
{
    tg_plan *p = c->p;
    tg_graph *g = p->g;
    for (int k = 0; k < c->o->n_reuse; k++) {
        tg_node r = c->o->reuse[k];
        if (!tg_node_valid(g, r) || tg_is_leaf(&g->n[r.id]) || !(g->n[r.id].flags & TG_NF_KEPT))
            return tg_compile_fail(g, TG_ERR_ARG, "plan: reused node %d is not a kept op node (use tg_keep)", r.id);
        c->reused[r.id] = 1;
    }
    return TG_OK;
}

/* anc, fwdn, req, flow -> hasg */
static void reach(tg_cctx *c)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    const int out = p->out.id;
    p->anc[out] = 1;
    p->fwdn[out] = !c->reused[out];
    for (int i = out; i >= 0; i--) {
        const tg_nrec *r = &g->n[i];
        for (int k = 0; k < r->nin; k++) {
            p->anc[r->in[k]] |= p->anc[i];
            if (p->fwdn[i]) p->fwdn[r->in[k]] |= !c->reused[r->in[k]];
        }
    }
    for (int i = 0; i <= out; i++) {
        const tg_nrec *r = &g->n[i];
        if (r->op->leaf == TG_LEAF_PARAM) /* state (running statistics) never gets a gradient */
            c->req[i] = tg_group_match(c->o->groups, tg_param_group(r->param)) && !tg_param_is_state(r->param);
        else if (r->op->leaf == TG_LEAF_INPUT) c->req[i] = c->o->input_grads && r->dtype == TG_DT_F32;
        else if (r->op->bwd)
            for (int k = 0; k < r->nin; k++) c->req[i] |= c->req[r->in[k]];
    }
    if (c->o->forward_only) return;
    c->flow[out] = 1;
    for (int i = out; i >= 0; i--) {
        const tg_nrec *r = &g->n[i];
        if (!c->flow[i] || !c->req[i] || !r->op->bwd) continue;
        for (int k = 0; k < r->nin; k++) c->flow[r->in[k]] = 1;
    }
    for (int i = 0; i <= out; i++) p->hasg[i] = p->anc[i] && c->req[i] && c->flow[i];
}

static void steps(tg_cctx *c)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int i = 0; i < p->n; i++) c->tfwd[i] = c->tbwd[i] = -1;
    for (int i = 0; i <= p->out.id; i++)
        if (p->fwdn[i] && !tg_is_leaf(&g->n[i])) {
            c->tfwd[i] = p->nfwd;
            p->fwd[p->nfwd++] = i;
        }
    for (int i = p->out.id; i >= 0; i--) {
        const tg_nrec *r = &g->n[i];
        if (!p->hasg[i] || tg_is_leaf(r)) continue;
        int any = 0;
        for (int k = 0; k < r->nin; k++) any |= p->hasg[r->in[k]];
        if (any) p->bwd[p->nbwd++] = i;
    }
    c->t_bwd0 = p->nfwd;
    for (int j = 0; j < p->nbwd; j++) c->tbwd[p->bwd[j]] = c->t_bwd0 + j;
}

/* The value node `in` is read at this step as input k (k == nin: the
 * node's own output) of node `id`, by forward (pass 0) or backward (1). */
typedef void (*read_fn)(tg_cctx *c, tg_planset *set, int id, int in, int pass, int k);

static void each_read(tg_cctx *c, tg_planset *set, read_fn fn)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    for (int pass = 0; pass < 2; pass++) {
        const int count = pass ? p->nbwd : p->nfwd;
        for (int t = 0; t < count; t++) {
            const int id = pass ? p->bwd[t] : p->fwd[t];
            const tg_nrec *r = &g->n[id];
            const unsigned need = pass ? r->op->bwd_needs : ~0u; /* forward reads every input */
            for (int k = 0; k <= r->nin; k++) {
                const unsigned bit = k < r->nin ? (1u << k) : TG_NEED_Y;
                if (pass == 0 && k == r->nin) continue;
                if (need & bit) fn(c, set, id, k < r->nin ? r->in[k] : id, pass, k);
            }
        }
    }
}

/* a value this plan reads but does not compute comes from another plan of
 * the set: it must be kept there (and stored, see fuse.c) */
static void note_read(tg_cctx *c, tg_planset *set, int id, int in, int pass, int k)
{
    tg_plan *p = c->p;
    const tg_graph *g = p->g;
    const tg_nrec *r = &g->n[id];
    if (p->fwdn[in] || tg_is_leaf(&g->n[in])) return;
    /* backward reads it: it must be kept, and not hold op-private state
     * (saved) that only the computing plan's arena has */
    if (!(g->n[in].flags & TG_NF_KEPT) || (pass && g->n[in].op->saved_bytes)) {
        if (!c->gcons[0]) {
            c->gcons[0] = 1; /* report the first one */
            tg_compile_fail(p->g, TG_ERR_ARG,
                            "plan: %s of %s node %d reads node %d, which this plan does not compute and is not kept",
                            pass ? "backward" : "forward", r->op->name, id, in);
        }
        return;
    }
    float slope;
    /* a y-only activation is handed its output for its input (f32) */
    if (pass && k == 0 && r->nin == 1 && r->op->y_act && r->op->y_act(r, &slope) != TG_ACT_NONE) return;
    set->needed[in] = 1;
}

static void note_last_use(tg_cctx *c, tg_planset *set, int id, int in, int pass, int k)
{
    (void)set;
    (void)k;
    c->lastuse[in] = pass ? c->tbwd[id] : c->tfwd[id];
}

tg_status tg_pass_schedule(tg_cctx *c, tg_planset *set)
{
    tg_plan *p = c->p;
    tg_status s = mark_reused(c);
    if (s != TG_OK) return s;
    reach(c);
    steps(c);
    c->gcons[0] = 0;
    each_read(c, set, note_read);
    if (c->gcons[0]) return TG_ERR_ARG;
    /* a backward whose forward another plan ran cannot use op-private state */
    for (int j = 0; j < p->nbwd; j++) {
        const tg_nrec *r = &p->g->n[p->bwd[j]];
        if (!p->fwdn[p->bwd[j]] && r->op->saved_bytes)
            return tg_compile_fail(p->g, TG_ERR_ARG,
                                   "plan: backward of %s node %d needs state its forward saves, but this plan reuses it",
                                   r->op->name, p->bwd[j]);
    }
    for (int i = 0; i < p->n; i++) c->lastuse[i] = -1;
    each_read(c, set, note_last_use);
    c->lastuse[p->out.id] = T_END;
    p->readable[p->out.id] = 1;
    for (int k = 0; k < c->o->n_outputs; k++) {
        tg_node o = c->o->outputs[k];
        if (!tg_node_valid(p->g, o) || o.id >= p->n || !p->fwdn[o.id])
            return tg_compile_fail(p->g, TG_ERR_ARG, "plan: output node %d is not computed by this plan", o.id);
        c->lastuse[o.id] = T_END;
        p->readable[o.id] = 1;
    }
    /* a view's value is its input's memory (op.h): that buffer lives until
     * the view's last reader (descending, so chains of views carry through) */
    for (int i = p->out.id; i >= 0; i--) {
        const tg_nrec *r = &p->g->n[i];
        if (r->op->view && r->nin == 1 && p->anc[i] && c->lastuse[i] > c->lastuse[r->in[0]])
            c->lastuse[r->in[0]] = c->lastuse[i];
    }
    return TG_OK;
}
