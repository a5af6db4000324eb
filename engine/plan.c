/* plan.c - compile a graph into forward/backward schedules over one arena,
 * and run them.
 *
 * Compile, for an output node `out`:
 *   1. anc[i]:  i is behind `out` (ignoring reuse).
 *   2. fwd[i]:  i must be computed by this plan's forward: behind `out`
 *               through nodes that are not reused.
 *   3. req[i]:  a gradient of i is wanted: a parameter of a requested group,
 *               a float input when input_grads, or an op with a req input.
 *   4. flow[i]: a gradient reaches i from `out` through differentiable ops.
 *      A node gets a gradient buffer iff req && flow; an op is in the backward
 *      schedule iff it has one and passes it to at least one input.
 *   5. Lifetimes on one time line (forward steps, then backward steps) for
 *      every value, gradient and saved buffer; a greedy best-fit placement
 *      packs them into one arena, largest first.
 */
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T_END 0x7fffffff

struct tg_plan {
    tg_graph *g;
    int n;                  /* graph nodes at compile time */
    tg_node out;
    int f64, eval, forward_only;
    uint8_t *fwdn, *anc, *hasg, *readable;
    void **val, **grad, **saved;
    int *gstart;            /* backward step that first writes grad[i] */
    int *fwd, nfwd, *bwd, nbwd;
    int *fbias;             /* matmul i writes bias_add fbias[i] (bias in its epilogue), else -1 */
    int *fact;              /* ... and then activation fact[i] (in the epilogue too), else -1 */
    int *bfuse;             /* matmul i's input-gradient GEMM writes node bfuse[i]'s gradient, */
    int *bdrop, *bact;      /* ... through dropout bdrop[i] (or -1) and activation bact[i] */
    uint8_t *bskip;         /* backward skips this node (done in a matmul's epilogue) */
    int nbskip;
    uint8_t *fskip;         /* forward skips this node (a bias_add done by its matmul) */
    int nskip;
    unsigned char *arena;
    size_t arena_bytes, naive_bytes;
    tg_exec ex;
    uint64_t step;          /* dropout step of the last forward */
    double loss;
    int ran_forward;
};

/* ------------------------------------------------------------ arena plan */
typedef struct buf { size_t size, off; int start, end; void **slot; } buf;

static int by_size_desc(const void *a, const void *b)
{
    const buf *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->start - y->start;
}
static int by_off(const void *a, const void *b)
{
    const buf *x = *(buf *const *)a, *y = *(buf *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Place each buffer at the lowest offset that does not collide with an
 * already placed buffer whose lifetime overlaps. Returns the arena size. */
static size_t place(buf *b, int nb, buf **tmp)
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

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

/* ------------------------------------------------------------- compile */
static tg_plan *compile_fail(tg_plan *p, tg_graph *g, tg_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tg_graph_failv(g, code, fmt, ap);
    va_end(ap);
    tg_plan_free(p);
    return NULL;
}

static int is_leaf(tg_op op) { return op == TG_OP_INPUT || op == TG_OP_PARAM; }

/* Whether node i's value may live only inside a fused GEMM (never stored)
 * when its one reader in this plan is node c. A plan-local value may. A kept
 * value (tg_keep: shared with other plans) may only when no node of the
 * graph but c reads it, c's backward does not read it (matmul + bias_add:
 * bias_add's backward reads nothing; bias_add + activation: the activation's
 * backward reads only its output), and no plan compiled so far reads it
 * without computing it. A plan compiled later that would read it fails
 * with a message (TG_NF_UNSTORED). This lets the D step's plan, which
 * computes the kept G(z) for the G step, run G's layers as fused GEMMs. */
static int unstorable(const tg_graph *g, int i, int c)
{
    const tg_nrec *r = &g->n[i];
    if (!(r->flags & TG_NF_KEPT)) return 1;
    if (r->flags & TG_NF_NEEDED) return 0;
    for (int j = i + 1; j < g->count; j++)
        for (int k = 0; k < g->n[j].nin; k++)
            if (g->n[j].in[k] == i) {
                if (j != c) return 0;
                /* an activation whose backward reads only y is handed y as x */
                if ((tg_optab[g->n[j].op]->bwd_needs & (1u << k)) && !(k == 0 && tg_act_y_only(&g->n[j], NULL)))
                    return 0;
            }
    return 1;
}

/* The activation fused after bias_add node b (whose matmul is b's input 0),
 * or -1. */
static int fused_act(const tg_plan *p, const tg_graph *g, int b)
{
    return p->fact[g->n[b].in[0]];
}

tg_plan *tg_plan_new(tg_graph *g, tg_node out, const tg_plan_opts *opts)
{
    static const tg_plan_opts defaults = {0};
    if (!g) return NULL;
    if (g->err != TG_OK) return NULL;
    if (!opts) opts = &defaults;
    if (!tg_node_valid(g, out)) return compile_fail(NULL, g, TG_ERR_NODE, "plan: invalid output node");
    const int n = g->count, f64 = opts->precision == TG_F64;
    if (!opts->forward_only && g->n[out.id].numel != 1) {
        char s[64];
        return compile_fail(NULL, g, TG_ERR_SHAPE,
                            "plan: backward needs a scalar output, but %s node %d is %s",
                            tg_optab[g->n[out.id].op]->name, out.id, tg_shape_str(&g->n[out.id], s, sizeof s));
    }
    if (g->n[out.id].dtype != TG_DT_F32)
        return compile_fail(NULL, g, TG_ERR_ARG, "plan: output is an integer input");
    if (opts->n_reuse < 0 || (opts->n_reuse && !opts->reuse) || opts->n_outputs < 0 ||
        (opts->n_outputs && !opts->outputs))
        return compile_fail(NULL, g, TG_ERR_ARG, "plan: reuse/outputs arrays are inconsistent");
    if (f64 && opts->n_reuse)
        return compile_fail(NULL, g, TG_ERR_ARG, "plan: f64 plans cannot reuse kept values");

    tg_plan *p = tg_zalloc(sizeof *p);
    if (!p) return compile_fail(NULL, g, TG_ERR_NOMEM, "plan: out of memory");
    p->g = g;
    p->n = n;
    p->out = out;
    p->f64 = f64;
    p->eval = opts->eval;
    p->forward_only = opts->forward_only;
    uint8_t *anc = p->anc = tg_zalloc((size_t)n), *reused = tg_zalloc((size_t)n), *req = tg_zalloc((size_t)n),
            *flow = tg_zalloc((size_t)n);
    p->fwdn = tg_zalloc((size_t)n);
    p->hasg = tg_zalloc((size_t)n);
    p->readable = tg_zalloc((size_t)n);
    p->val = tg_zalloc((size_t)n * sizeof(void *));
    p->grad = tg_zalloc((size_t)n * sizeof(void *));
    p->saved = tg_zalloc((size_t)n * sizeof(void *));
    p->gstart = tg_zalloc((size_t)n * sizeof(int));
    p->fwd = tg_zalloc((size_t)n * sizeof(int));
    p->bwd = tg_zalloc((size_t)n * sizeof(int));
    p->fbias = tg_zalloc((size_t)n * sizeof(int));
    p->fact = tg_zalloc((size_t)n * sizeof(int));
    p->fskip = tg_zalloc((size_t)n);
    p->bfuse = tg_zalloc((size_t)n * sizeof(int));
    p->bdrop = tg_zalloc((size_t)n * sizeof(int));
    p->bact = tg_zalloc((size_t)n * sizeof(int));
    p->bskip = tg_zalloc((size_t)n);
    int *tfwd = tg_zalloc((size_t)n * sizeof(int)), *tbwd = tg_zalloc((size_t)n * sizeof(int));
    int *lastuse = tg_zalloc((size_t)n * sizeof(int));
    int *galias = tg_zalloc((size_t)n * sizeof(int)), *gcons = tg_zalloc((size_t)n * sizeof(int));
    buf *bufs = tg_zalloc((size_t)(3 * n + 1) * sizeof(buf));
    buf **tmp = tg_zalloc((size_t)(3 * n + 1) * sizeof(buf *));
    tg_plan *ret = NULL;
    if (!anc || !reused || !req || !flow || !p->fwdn || !p->hasg || !p->readable || !p->val ||
        !p->grad || !p->saved || !p->gstart || !p->fwd || !p->bwd || !tfwd || !tbwd || !lastuse ||
        !bufs || !tmp || !galias || !gcons || !p->fbias || !p->fact || !p->fskip || !p->bfuse || !p->bdrop ||
        !p->bact || !p->bskip) {
        compile_fail(p, g, TG_ERR_NOMEM, "plan: out of memory");
        p = NULL;
        goto done;
    }

    for (int k = 0; k < opts->n_reuse; k++) {
        tg_node r = opts->reuse[k];
        if (!tg_node_valid(g, r) || is_leaf(g->n[r.id].op) || !(g->n[r.id].flags & TG_NF_KEPT)) {
            compile_fail(p, g, TG_ERR_ARG, "plan: reused node %d is not a kept op node (use tg_keep)", r.id);
            p = NULL;
            goto done;
        }
        reused[r.id] = 1;
    }

    /* 1-2: ancestry, and what this forward computes */
    anc[out.id] = 1;
    p->fwdn[out.id] = !reused[out.id];
    for (int i = out.id; i >= 0; i--) {
        const tg_nrec *r = &g->n[i];
        for (int k = 0; k < r->nin; k++) {
            anc[r->in[k]] |= anc[i];
            if (p->fwdn[i]) p->fwdn[r->in[k]] |= !reused[r->in[k]];
        }
    }
    /* 3: requires-grad, forward over the tape */
    for (int i = 0; i <= out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (r->op == TG_OP_PARAM) req[i] = tg_group_match(opts->groups, tg_param_group(r->param));
        else if (r->op == TG_OP_INPUT) req[i] = opts->input_grads && r->dtype == TG_DT_F32;
        else if (tg_optab[r->op]->bwd)
            for (int k = 0; k < r->nin; k++) req[i] |= req[r->in[k]];
    }
    /* 4: where gradient flows */
    if (!opts->forward_only) {
        flow[out.id] = 1;
        for (int i = out.id; i >= 0; i--) {
            const tg_nrec *r = &g->n[i];
            if (!flow[i] || !req[i] || !tg_optab[r->op]->bwd) continue;
            for (int k = 0; k < r->nin; k++) flow[r->in[k]] = 1;
        }
        for (int i = 0; i <= out.id; i++) p->hasg[i] = anc[i] && req[i] && flow[i];
    }

    /* schedules */
    for (int i = 0; i <= out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (p->fwdn[i] && !is_leaf(r->op)) {
            tfwd[i] = p->nfwd;
            p->fwd[p->nfwd++] = i;
        }
    }
    for (int i = out.id; i >= 0; i--) {
        const tg_nrec *r = &g->n[i];
        if (!p->hasg[i] || is_leaf(r->op)) continue;
        int any = 0;
        for (int k = 0; k < r->nin; k++) any |= p->hasg[r->in[k]];
        if (!any) continue;
        p->bwd[p->nbwd++] = i;
    }
    const int t_bwd0 = p->nfwd;
    for (int i = 0; i < n; i++) tbwd[i] = -1;
    for (int j = 0; j < p->nbwd; j++) tbwd[p->bwd[j]] = t_bwd0 + j;

    /* values behind reused nodes that backward reads must be kept */
    for (int j = 0; j < p->nbwd; j++) {
        const tg_nrec *r = &g->n[p->bwd[j]];
        unsigned need = tg_optab[r->op]->bwd_needs;
        for (int k = 0; k <= r->nin; k++) {
            int id = k < r->nin ? r->in[k] : p->bwd[j];
            unsigned bit = k < r->nin ? (1u << k) : TG_NEED_Y;
            if (!(need & bit) || p->fwdn[id] || is_leaf(g->n[id].op)) continue;
            if (!(g->n[id].flags & TG_NF_KEPT) || tg_optab[g->n[id].op]->saved_bytes) {
                compile_fail(p, g, TG_ERR_ARG,
                             "plan: backward of %s node %d reads node %d, which this plan does not compute and is not kept",
                             tg_optab[r->op]->name, p->bwd[j], id);
                p = NULL;
                goto done;
            }
        }
    }

    /* kept values this plan reads but does not compute (reused nodes, and
     * what forward ops and backward read behind them) come from another
     * plan's run: they must be stored there, not fused away */
    for (int pass = 0; pass < 2; pass++) {
        const int count = pass ? p->nbwd : p->nfwd;
        for (int t = 0; t < count; t++) {
            const int id = pass ? p->bwd[t] : p->fwd[t];
            const tg_nrec *r = &g->n[id];
            const unsigned need = pass ? tg_optab[r->op]->bwd_needs : ~0u; /* forward reads every input */
            for (int k = 0; k <= r->nin; k++) {
                const int in = k < r->nin ? r->in[k] : id;
                const unsigned bit = k < r->nin ? (1u << k) : TG_NEED_Y;
                if (!(need & bit) || p->fwdn[in] || is_leaf(g->n[in].op) || !(g->n[in].flags & TG_NF_KEPT)) continue;
                if (pass && k == 0 && r->nin == 1 && tg_act_y_only(r, NULL)) continue; /* reads y for x (f32) */
                if (g->n[in].flags & TG_NF_UNSTORED) {
                    compile_fail(p, g, TG_ERR_ARG,
                                 "plan: %s node %d reads kept node %d, whose value an earlier plan computes inside a "
                                 "fused GEMM and does not store (compile this plan first)",
                                 tg_optab[r->op]->name, id, in);
                    p = NULL;
                    goto done;
                }
                g->n[in].flags |= TG_NF_NEEDED;
            }
        }
    }

    /* last use of each value: forward consumers, backward readers */
    for (int i = 0; i < n; i++) lastuse[i] = -1;
    for (int t = 0; t < p->nfwd; t++) {
        const tg_nrec *r = &g->n[p->fwd[t]];
        for (int k = 0; k < r->nin; k++) lastuse[r->in[k]] = t;
    }
    for (int j = 0; j < p->nbwd; j++) {
        int id = p->bwd[j];
        const tg_nrec *r = &g->n[id];
        unsigned need = tg_optab[r->op]->bwd_needs;
        for (int k = 0; k < r->nin; k++)
            if (need & (1u << k)) lastuse[r->in[k]] = t_bwd0 + j;
        if (need & TG_NEED_Y) lastuse[id] = t_bwd0 + j;
    }
    lastuse[out.id] = T_END;
    p->readable[out.id] = 1;
    for (int k = 0; k < opts->n_outputs; k++) {
        tg_node o = opts->outputs[k];
        if (!tg_node_valid(g, o) || !p->fwdn[o.id]) {
            compile_fail(p, g, TG_ERR_ARG, "plan: output node %d is not computed by this plan", o.id);
            p = NULL;
            goto done;
        }
        lastuse[o.id] = T_END;
        p->readable[o.id] = 1;
    }

    /* matmul then bias_add: one GEMM with the bias in its epilogue, written
     * straight into the bias_add's buffer, when the product is read by that
     * bias_add alone (not by a backward, not an output, not kept). And when
     * the sum in turn is read only by an activation whose backward needs
     * only its output (tg_act_y_only), the activation goes into the
     * epilogue too and the pre-activation is never stored: the activation's
     * backward is handed y as its x. f32 only; bit-identical either way (the
     * epilogue applies the same vector functions to the finished sum, and
     * those derivatives read y). gcons counts forward readers here (reset
     * below). */
    for (int i = 0; i < n; i++) p->fbias[i] = p->fact[i] = p->bfuse[i] = p->bdrop[i] = p->bact[i] = -1;
    for (int t = 0; t < p->nfwd; t++) {
        const tg_nrec *r = &g->n[p->fwd[t]];
        for (int k = 0; k < r->nin; k++) gcons[r->in[k]]++;
    }
    for (int t = 0; t < p->nfwd && !f64 && !opts->unfused; t++) {
        const int b = p->fwd[t];
        const tg_nrec *r = &g->n[b];
        if (r->op != TG_OP_BIAS_ADD) continue;
        const int m = r->in[0], bias = r->in[1];
        if (g->n[m].op != TG_OP_MATMUL || !p->fwdn[m] || p->readable[m] || !unstorable(g, m, b) ||
            m == bias || !is_leaf(g->n[bias].op) || gcons[m] != 1 || lastuse[m] != t)
            continue;
        p->fbias[m] = b;
        p->fskip[b] = 1;
        p->nskip++;
        if (g->n[m].flags & TG_NF_KEPT) g->n[m].flags |= TG_NF_UNSTORED;
        if (gcons[b] != 1 || p->readable[b]) continue;
        for (int t2 = t + 1; t2 < p->nfwd; t2++) {
            const int a = p->fwd[t2];
            const tg_nrec *ra = &g->n[a];
            if (ra->nin < 1 || ra->in[0] != b) continue;
            if (tg_act_y_only(ra, NULL) && unstorable(g, b, a)) {
                p->fact[m] = a;
                p->fskip[a] = 1;
                p->nskip++;
                if (r->flags & TG_NF_KEPT) g->n[b].flags |= TG_NF_UNSTORED;
            }
            break;
        }
    }
    for (int i = 0; i < n; i++) gcons[i] = 0;

    /* first write of each gradient: backward of its latest consumer */
    for (int i = 0; i < n; i++) p->gstart[i] = -1;
    for (int j = 0; j < p->nbwd; j++) {
        const tg_nrec *r = &g->n[p->bwd[j]];
        for (int k = 0; k < r->nin; k++)
            if (p->hasg[r->in[k]] && p->gstart[r->in[k]] < 0) p->gstart[r->in[k]] = t_bwd0 + j;
    }
    if (p->hasg[out.id]) p->gstart[out.id] = t_bwd0;

    /* bias_add hands its gradient to x unchanged: when it is the only
     * consumer of a non-leaf x, x's gradient is the bias_add's own buffer
     * (galias[x] = the bias_add node), kept alive until x's backward, and
     * the copy disappears */
    for (int i = 0; i < n; i++) galias[i] = -1;
    for (int j = 0; j < p->nbwd; j++) {
        const tg_nrec *r = &g->n[p->bwd[j]];
        for (int k = 0; k < r->nin; k++)
            if (p->hasg[r->in[k]]) gcons[r->in[k]]++;
    }
    for (int j = 0; j < p->nbwd; j++) {
        const int id = p->bwd[j];
        const tg_nrec *r = &g->n[id];
        if (r->op != TG_OP_BIAS_ADD) continue;
        const int x = r->in[0];
        if (p->hasg[x] && p->hasg[id] && gcons[x] == 1 && r->in[1] != x && !is_leaf(g->n[x].op) &&
            x != out.id && galias[id] < 0)
            galias[x] = id;
    }

    /* the backward of a dropout and/or an activation whose derivative reads
     * only its output, consumed by a matmul alone: the matmul's
     * input-gradient GEMM applies them in its epilogue and writes the
     * gradient below them directly (kernels.h: backward epilogue), when that
     * GEMM is the only writer of the gradient above them and the activation
     * is the first writer of the one below. Their own backward steps and
     * gradient buffers disappear; bit-identical to running them. gcons
     * counts backward writers of each gradient here. */
    for (int j = 0; j < p->nbwd && !f64 && !opts->unfused; j++) {
        const int mm = p->bwd[j];
        const tg_nrec *r = &g->n[mm];
        if (r->op != TG_OP_MATMUL || r->i[0] || r->in[0] == r->in[1]) continue;
        int x = r->in[0], d = -1, a = -1;
        if (!p->hasg[x] || is_leaf(g->n[x].op) || gcons[x] != 1 || x == out.id) continue;
        if (g->n[x].op == TG_OP_DROPOUT) {
            d = x;
            x = g->n[d].in[0];
            if (!p->hasg[x] || is_leaf(g->n[x].op) || gcons[x] != 1 || x == out.id || tbwd[d] < 0) continue;
        }
        if (g->n[x].nin != 1 || !tg_act_y_only(&g->n[x], NULL) || tbwd[x] < 0) continue;
        a = x;
        const int b = g->n[a].in[0];
        if (!p->hasg[b] || p->gstart[b] != tbwd[a] || galias[b] >= 0 || is_leaf(g->n[b].op)) continue;
        p->bfuse[mm] = b;
        p->bdrop[mm] = d;
        p->bact[mm] = a;
        p->bskip[a] = 1;
        p->nbskip += 1 + (d >= 0);
        if (d >= 0) p->bskip[d] = 1;
        p->gstart[b] = t_bwd0 + j; /* written at the matmul's step now */
        p->gstart[a] = -1;        /* no buffer: never written or read */
        if (d >= 0) p->gstart[d] = -1;
    }

    /* buffers */
    const size_t esz = f64 ? sizeof(double) : sizeof(float);
    int nb = 0;
    for (int i = 0; i <= out.id; i++) {
        const tg_nrec *r = &g->n[i];
        int leaf = is_leaf(r->op);
        int kept_here = !f64 && (r->flags & TG_NF_KEPT) && !leaf;
        if (kept_here && anc[i] && !r->kept) {
            g->n[i].kept = tg_zalloc(r->numel * sizeof(float));
            if (!g->n[i].kept) {
                compile_fail(p, g, TG_ERR_NOMEM, "plan: out of memory for kept node %d", i);
                p = NULL;
                goto done;
            }
        }
        if (kept_here && anc[i]) {
            p->val[i] = r->kept;
            /* not a value that lives only inside a fused GEMM, here or in
             * the plan that computes it */
            p->readable[i] = p->fwdn[i] ? p->fbias[i] < 0 && !(r->op == TG_OP_BIAS_ADD && p->fskip[i] &&
                                                               fused_act(p, g, i) >= 0)
                                        : !(r->flags & TG_NF_UNSTORED);
        } else if (leaf) {
            p->readable[i] = anc[i] && !f64;
            if (f64 && anc[i] && r->dtype == TG_DT_F32) /* loaded at start, live throughout */
                bufs[nb++] = (buf){align64(r->numel * esz), 0, 0, T_END, &p->val[i]};
        } else if (p->fwdn[i] && p->fbias[i] < 0 && !(p->fskip[i] && r->op == TG_OP_BIAS_ADD && fused_act(p, g, i) >= 0)) {
            /* a bias_add (or activation) done by its matmul is written at the
             * matmul's step */
            int start = tfwd[i];
            if (p->fskip[i]) start = tfwd[r->op == TG_OP_BIAS_ADD ? r->in[0] : g->n[r->in[0]].in[0]];
            bufs[nb++] = (buf){align64(r->numel * esz), 0, start,
                               lastuse[i] > tfwd[i] ? lastuse[i] : tfwd[i], &p->val[i]};
        }
        if (p->fwdn[i] && tg_optab[r->op]->saved_bytes) {
            size_t sb = tg_optab[r->op]->saved_bytes(r, f64);
            int end = tbwd[i] >= 0 ? tbwd[i] : tfwd[i];
            if (sb) bufs[nb++] = (buf){align64(sb), 0, tfwd[i], end, &p->saved[i]};
        }
        if (p->hasg[i] && p->gstart[i] >= 0 && galias[i] < 0) {
            if (leaf && !f64 && r->op == TG_OP_PARAM) {
                p->grad[i] = tg_param_grad(r->param);
            } else {
                int end = leaf ? T_END : (tbwd[i] >= 0 ? tbwd[i] : p->gstart[i]);
                if (i == out.id && tbwd[i] < 0) end = T_END;
                /* a node whose gradient aliases this one (x of a bias_add
                 * node i): alive until that node's backward too */
                if (r->op == TG_OP_BIAS_ADD && galias[r->in[0]] == i) {
                    const int x = r->in[0];
                    int xend = tbwd[x] >= 0 ? tbwd[x] : p->gstart[x];
                    if (xend > end) end = xend;
                }
                bufs[nb++] = (buf){align64(r->numel * esz), 0, p->gstart[i], end, &p->grad[i]};
                if (leaf) p->readable[i] = p->readable[i] || !f64;
            }
        }
    }
    for (int b = 0; b < nb; b++) p->naive_bytes += bufs[b].size;
    p->arena_bytes = place(bufs, nb, tmp);

    /* GEMM workspaces, one per thread, after the shared part */
    p->ex.k = tg_kern_current();
    p->ex.pool = opts->pool;
    p->ex.nthreads = opts->pool ? tg_pool_threads(opts->pool) : 1;
    size_t wsf = 0;
    for (int i = 0; i <= out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if ((p->fwdn[i] || p->hasg[i]) && tg_optab[r->op]->ws_floats && !f64) {
            size_t w = tg_optab[r->op]->ws_floats(g, r, p->ex.k);
            if (w > wsf) wsf = w;
        }
    }
    p->ex.ws_floats = align64(wsf * sizeof(float)) / sizeof(float);
    size_t shared = align64(p->arena_bytes);
    size_t total = shared + (size_t)p->ex.nthreads * p->ex.ws_floats * sizeof(float);
    p->ex.ws = tg_zalloc((size_t)p->ex.nthreads * sizeof(float *));
    p->arena = tg_zalloc(total);
    if (!p->arena || !p->ex.ws) {
        compile_fail(p, g, TG_ERR_NOMEM, "plan: cannot allocate a %zu-byte arena", total);
        p = NULL;
        goto done;
    }
    for (int t = 0; t < p->ex.nthreads; t++)
        p->ex.ws[t] = (float *)(p->arena + shared) + (size_t)t * p->ex.ws_floats;
    for (int b = 0; b < nb; b++) *bufs[b].slot = p->arena + bufs[b].off;
    for (int i = 0; i < n; i++) {
        /* a kept pre-activation that another plan did not store: its one
         * reader, an activation whose backward reads only y, gets y */
        if (!f64 && anc[i] && !p->fwdn[i] && (g->n[i].flags & TG_NF_UNSTORED) && g->n[i].op == TG_OP_BIAS_ADD)
            for (int j = i + 1; j <= out.id; j++)
                if (g->n[j].nin == 1 && g->n[j].in[0] == i && tg_act_y_only(&g->n[j], NULL)) {
                    p->val[i] = p->val[j];
                    break;
                }
        if (galias[i] >= 0) p->grad[i] = p->grad[galias[i]];
        if (p->fact[i] >= 0) { /* matmul, bias_add and activation share y */
            p->val[i] = p->val[p->fact[i]];
            p->val[p->fbias[i]] = p->val[p->fact[i]];
        } else if (p->fbias[i] >= 0) {
            p->val[i] = p->val[p->fbias[i]];
        }
    }
    ret = p;

done:
    tg_free(reused); tg_free(req); tg_free(flow);
    tg_free(tfwd); tg_free(tbwd); tg_free(lastuse); tg_free(bufs); tg_free(tmp);
    tg_free(galias); tg_free(gcons);
    return ret;
}

void tg_plan_free(tg_plan *p)
{
    if (!p) return;
    tg_free(p->fwdn); tg_free(p->anc); tg_free(p->hasg); tg_free(p->readable);
    tg_free(p->val); tg_free(p->grad); tg_free(p->saved); tg_free(p->gstart);
    tg_free(p->fwd); tg_free(p->bwd); tg_free(p->fbias); tg_free(p->fact); tg_free(p->fskip);
    tg_free(p->bfuse); tg_free(p->bdrop); tg_free(p->bact); tg_free(p->bskip);
    tg_free(p->ex.ws);
    tg_free(p->arena);
    tg_free(p);
}

/* ----------------------------------------------------------------- run */
static tg_status bind_leaves(tg_plan *p)
{
    tg_graph *g = p->g;
    if (g->count < p->n) return TG_ERR_STATE;
    for (int i = 0; i <= p->out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (!is_leaf(r->op)) continue;
        if (r->op == TG_OP_INPUT) {
            if (!p->anc[i]) continue; /* reused regions' backward reads inputs too */
            if (!r->bound) {
                tg_fail(g, TG_ERR_STATE, "run: input '%s' is not bound (tg_bind)", r->name);
                return TG_ERR_STATE;
            }
            if (!p->f64 || r->dtype == TG_DT_I32) p->val[i] = (void *)(uintptr_t)r->bound;
        } else if (!p->f64) {
            p->val[i] = tg_param_data(r->param);
        }
    }
    return TG_OK;
}

void tg_plan_load64(tg_plan *p)
{
    tg_graph *g = p->g;
    for (int i = 0; i <= p->out.id; i++) {
        const tg_nrec *r = &g->n[i];
        if (!is_leaf(r->op) || r->dtype != TG_DT_F32 || !p->val[i]) continue;
        const float *src = r->op == TG_OP_INPUT ? r->bound : tg_param_data(r->param);
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
    r->f64 = p->f64;
    r->ex = &p->ex;
    r->eval = p->eval;
    r->step = p->step;
    for (int k = 0; k < n->nin; k++) {
        r->in[k] = &p->g->n[n->in[k]];
        r->x[k] = p->val[n->in[k]];
    }
    r->fact = TG_ACT_NONE;
    if (p->fbias[id] >= 0) {
        r->fbias = p->val[p->g->n[p->fbias[id]].in[1]];
        if (p->fact[id] >= 0) {
            const tg_nrec *a = &p->g->n[p->fact[id]];
            tg_act_y_only(a, &r->fact);
            r->fslope = a->f[0];
        }
    }
}

tg_status tg_plan_forward_raw(tg_plan *p)
{
    tg_status s = bind_leaves(p);
    if (s != TG_OK) return s;
    tg_run r;
    for (int t = 0; t < p->nfwd; t++) {
        int id = p->fwd[t];
        setup_run(p, &r, id);
        if (!p->eval) p->g->n[id].dstep = p->step; /* for plans that reuse this node */
        if (p->fskip[id]) continue;                   /* done by its matmul */
        if (tg_prof_on()) {
            double t0 = tg_prof_now();
            tg_optab[p->g->n[id].op]->fwd(&r);
            tg_prof_add((int)p->g->n[id].op, 0, tg_prof_now() - t0);
        } else {
            tg_optab[p->g->n[id].op]->fwd(&r);
        }
        if (r.err) {
            tg_fail(p->g, TG_ERR_ARG, "%s", r.err);
            return TG_ERR_ARG;
        }
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

static tg_status backward_run(tg_plan *p);

tg_status tg_plan_backward(tg_plan *p)
{
    if (!p) return TG_ERR_ARG;
    if (p->f64) return backward_run(p);
    tg_fpmode m = tg_fp_enter();
    tg_status s = backward_run(p);
    tg_fp_leave(m);
    return s;
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
    tg_run r;
    for (int j = 0; j < p->nbwd; j++) {
        int id = p->bwd[j], t = p->nfwd + j;
        if (p->bskip[id]) continue; /* run by a matmul's input-gradient GEMM */
        setup_run(p, &r, id);
        /* dropout masks: this plan's own forward step for nodes it computed
         * (another plan may have run over them since), the step recorded on
         * the node for nodes it reuses */
        r.step = p->fwdn[id] ? p->step : g->n[id].dstep;
        r.dy = p->grad[id];
        /* a gradient buffer starts at its first writer: ops that can
         * overwrite get it fresh (no zeroing pass), others get it zeroed */
        const int can_fresh = tg_optab[r.n->op]->fresh_ok;
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
        if (p->bfuse[id] >= 0) { /* the GEMM writes the gradient below the fused nodes */
            const int d = p->bdrop[id], a = p->bact[id];
            r.dx[0] = p->grad[p->bfuse[id]];
            r.fresh[0] = 1;
            r.bact = &g->n[a];
            r.bact_y = p->val[a];
            if (d >= 0) {
                r.bdrop = &g->n[d];
                r.bdrop_step = p->fwdn[d] ? p->step : g->n[d].dstep;
            }
        }
        if (tg_prof_on()) {
            double t0 = tg_prof_now();
            tg_optab[r.n->op]->bwd(&r);
            tg_prof_add((int)r.n->op, 1, tg_prof_now() - t0);
        } else {
            tg_optab[r.n->op]->bwd(&r);
        }
    }
    return TG_OK;
}

const float *tg_plan_value(const tg_plan *p, tg_node n)
{
    if (!p || p->f64 || n.id < 0 || n.id >= p->n || !p->readable[n.id]) return NULL;
    return p->val[n.id];
}

const float *tg_plan_grad(const tg_plan *p, tg_node n)
{
    if (!p || p->f64 || n.id < 0 || n.id >= p->n || !p->hasg[n.id]) return NULL;
    if (p->g->n[n.id].op != TG_OP_INPUT && n.id != p->out.id) return NULL;
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
        if (p->g->n[i].op == TG_OP_PARAM && p->g->n[i].param == param) return p->hasg[i];
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

/* ------------------------------------------------------------- kernels */
const tg_kern *tg_kern_current(void) { return tg_kern_best(); }
const char *tg_kernel_name(void) { return tg_kern_best()->name; }

size_t tg_exec_gemm_ws(const tg_kern *k, const tg_gemm_desc *d) { return k->sgemm_ws(d); }

/* One pool job for up to TG_GEMMS_MAX independent GEMMs: their column
 * tasks, numbered one GEMM after the other. */
#define TG_GEMMS_MAX 4
typedef struct gemm_job {
    tg_exec *ex;
    int nd;
    const tg_gemm_desc *d[TG_GEMMS_MAX];
    int nblk[TG_GEMMS_MAX], per[TG_GEMMS_MAX], first[TG_GEMMS_MAX + 1]; /* first task of each */
} gemm_job;

static void gemm_task(void *ctx, int task, int thread)
{
    gemm_job *j = ctx;
    int g = 0;
    while (task >= j->first[g + 1]) g++;
    const tg_gemm_desc *d = j->d[g];
    int nr = j->ex->k->nr, t = task - j->first[g];
    int b0 = t * j->per[g], b1 = b0 + j->per[g];
    if (b1 > j->nblk[g]) b1 = j->nblk[g];
    int n0 = b0 * nr, n1 = b1 * nr;
    if (n1 > d->N) n1 = d->N;
    if (n0 < n1) j->ex->k->sgemm(d, n0, n1, j->ex->ws[thread]);
}

#define GEMM_MIN_SPLIT 131072.0 /* multiply-adds below which one thread is faster */

/* Column blocks per task. Tasks are claimed from a shared counter, so the
 * busiest thread runs about ceil(tasks / T) of them: pick the block count per
 * task that makes that makespan smallest, with at least two tasks per thread
 * when there are enough blocks (a spare lets one thread cover for another the
 * OS has descheduled), and the fewest tasks among equals. E.g. 25 blocks
 * (N = 784) on 2 threads: 4 tasks of 7, 7, 7, 4 blocks (makespan 14, as
 * with 13 tasks of 2, and fewer hand-offs); 16 blocks: 4 tasks of 4. */
static int gemm_per_task(int nblk, int T)
{
    int best_per = nblk, best_span = -1;
    int min_tasks = 2 * T < nblk ? 2 * T : nblk;
    for (int per = nblk; per >= 1; per--) {
        int tasks = (nblk + per - 1) / per;
        if (tasks < min_tasks) continue;
        int span = (tasks + T - 1) / T * per;
        if (best_span < 0 || span < best_span) {
            best_span = span;
            best_per = per;
        }
    }
    return best_per;
}

void tg_exec_gemms(tg_exec *ex, const tg_gemm_desc *const *ds, int nd)
{
    gemm_job j = {.ex = ex, .nd = nd};
    const int nr = ex->k->nr;
    int tasks = 0;
    for (int g = 0; g < nd; g++) {
        const tg_gemm_desc *d = ds[g];
        j.d[g] = d;
        j.nblk[g] = (d->N + nr - 1) / nr;
        /* too small to split: one task for all its columns */
        j.per[g] = j.nblk[g] <= 1 || (double)d->M * d->N * d->K < GEMM_MIN_SPLIT
                       ? (j.nblk[g] > 0 ? j.nblk[g] : 1)
                       : gemm_per_task(j.nblk[g], ex->nthreads);
        j.first[g] = tasks;
        tasks += (j.nblk[g] + j.per[g] - 1) / j.per[g];
    }
    j.first[nd] = tasks;
    const double t0 = tg_prof_on() ? tg_prof_now() : 0.0;
    if (tasks <= 1 || ex->nthreads < 2 || !ex->pool || tg_pool_solo(ex->pool))
        for (int g = 0; g < nd; g++) ex->k->sgemm(ds[g], 0, ds[g]->N, ex->ws[0]);
    else
        tg_pool_run(ex->pool, gemm_task, &j, tasks);
    if (tg_prof_on()) tg_prof_gemm(ds, nd, tg_prof_now() - t0);
}

void tg_exec_gemm(tg_exec *ex, const tg_gemm_desc *d) { tg_exec_gemms(ex, &d, 1); }

/* ---- element-wise work split over the pool ---- */
#define RANGE_MIN_WORK 16384 /* elements below which one thread is faster */

typedef struct range_job { tg_range_fn fn; void *ctx; size_t n, per; } range_job;

static void range_task(void *ctx, int task, int thread)
{
    range_job *j = ctx;
    (void)thread;
    size_t i0 = (size_t)task * j->per, i1 = i0 + j->per < j->n ? i0 + j->per : j->n;
    if (i0 < i1) j->fn(j->ctx, i0, i1);
}

void tg_exec_range(tg_exec *ex, size_t n, size_t align, size_t cost, tg_range_fn fn, void *ctx)
{
    int t = ex->nthreads;
    if (!ex->pool || t < 2 || n * cost < RANGE_MIN_WORK || n < (size_t)t * align || tg_pool_solo(ex->pool)) {
        fn(ctx, 0, n);
        return;
    }
    size_t per = (n + (size_t)t - 1) / (size_t)t;
    per = (per + align - 1) / align * align;
    range_job j = {fn, ctx, n, per};
    tg_pool_run(ex->pool, range_task, &j, t);
}
