/* compile.h - the plan compiler's internals (engine/, not installed).
 *
 * tg_plans_new (planset.c) compiles a set of plans over one graph in named
 * passes. Every pass works on one plan at a time, and whatever plans share
 * lives in the set (tg_planset), never in the graph, so compiling changes
 * nothing the graph holds and the result does not depend on the order of
 * the plans:
 *   1. schedule (schedule.c)  what each plan computes, forward and backward;
 *                             which kept values it reads without computing
 *                             (the set's `needed`, known for every plan
 *                             before any fusion decision)
 *   2. fuse (fuse.c)          epilogue fusion and gradient aliasing, from the
 *                             traits op descriptors declare (op.h); then each
 *                             gradient's first and last writing step, and
 *                             which parameter gradients are final after
 *                             each backward step (tg_plan_on_grad_ready)
 *   3. place (place.c)        lifetimes of every buffer on one time line,
 *                             packed best-fit into one arena
 *   4. bind (place.c)         allocate the arena and the set's kept values,
 *                             point every slot at its memory
 * plan.c runs the result. */
#ifndef TG_COMPILE_H
#define TG_COMPILE_H

#include "op.h"

#define T_END 0x7fffffff

/* What the plans of one set share: kept values (tg_keep) one plan computes
 * and another reads, and the dropout step and row offset each node's last
 * forward used. */
typedef struct tg_planset {
    int refs;            /* plans alive */
    int n;               /* graph nodes at compile time */
    uint8_t *needed;     /* a plan reads this kept value without computing it */
    uint8_t *unstored;   /* a plan computes this kept value inside a fused
                          * epilogue and never stores it */
    float **kept;        /* set-owned values of kept nodes (f32) */
    uint64_t *dstep;     /* dropout step of the node's last forward */
    int64_t *drow;       /* row offset (tg_plan_set_row_offset) of the node's last forward */
} tg_planset;

struct tg_plan {
    tg_graph *g;
    tg_planset *set;
    int n;                  /* graph nodes at compile time */
    tg_node out;
    int f64, eval, forward_only;
    uint8_t *fwdn;          /* this plan's forward computes node i */
    uint8_t *anc;           /* node i is behind `out` */
    uint8_t *hasg;          /* node i gets a gradient */
    uint8_t *readable;      /* tg_plan_value may return node i's value */
    void **val, **grad, **saved;
    void **fscr, **bscr;    /* scratch of node i's forward / backward step */
    int *gstart;            /* backward step that first writes grad[i] */
    int *glast;             /* backward step that last writes grad[i], or -1 */
    /* the gradient-ready hook (tg_plan_on_grad_ready): parameter leaves
     * whose gradient is final after backward step j are the nodes
     * rnode[roff[j + 1] .. roff[j + 2]); rnode[roff[0] .. roff[1]) are
     * final before any step (a parameter that is `out`) */
    int *roff, *rnode;
    tg_grad_ready_fn ready_fn;
    void *ready_ctx;
    /* the batch-sum hook (tg_plan_on_batch_sums) and its buffer, sized for
     * the largest request of the plan's nodes (tg_opdesc.batch_sums) */
    tg_bsum bsum;
    size_t bsum_cap;
    int *fwd, nfwd, *bwd, nbwd;
    /* forward fusion: producer i runs bias node fbias[i] (and activation
     * fact[i]) in its epilogue, else -1; fskip: forward skips the node */
    int *fbias, *fact;
    uint8_t *fskip;
    int nskip;
    /* backward fusion: node i's input-gradient epilogue runs the backward of
     * mask bmask[i] (or -1) and activation bact[i], writing the gradient of
     * node bfuse[i]; bskip: backward skips the node */
    int *bfuse, *bmask, *bact;
    uint8_t *bskip;
    int nbskip;
    unsigned char *arena;
    size_t arena_bytes, naive_bytes;
    tg_exec ex;
    uint64_t step;          /* dropout step of the last forward */
    int64_t row0;           /* tensors hold rows row0.. of a global batch */
    double loss;
    int ran_forward;
};

/* One buffer to place in the arena: size, lifetime [start, end] on the time
 * line (forward steps, then backward steps), and the slot to point at it. */
typedef struct tg_buf { size_t size, off; int start, end; void **slot; } tg_buf;

/* One plan's compile-time scratch, freed when compiling ends. */
typedef struct tg_cctx {
    tg_plan *p;
    const tg_plan_opts *o;
    uint8_t *reused, *req, *flow;
    int *tfwd, *tbwd;       /* step of node i's forward / backward, or -1 */
    int *lastuse;           /* last step that reads node i's value */
    int *galias;            /* node i's gradient is node galias[i]'s buffer, or -1 */
    int *gcons;             /* scratch counters */
    tg_buf *bufs;
    tg_buf **tmp;
    int nb;
    int t_bwd0;             /* first backward step */
} tg_cctx;

static inline int tg_is_leaf(const tg_nrec *r) { return r->op->leaf != TG_LEAF_NONE; }
/* node r's backward hands dy to input 0 unchanged (a bias node over any
 * axis, a view): input 0's gradient may be r's own buffer */
static inline int tg_grad_passes(const tg_nrec *r)
{
    return (r->op->bias_axis && r->nin == 2 && r->in[1] != r->in[0]) || (r->op->view && r->nin == 1);
}
static inline size_t tg_align64(size_t x) { return (x + 63) & ~(size_t)63; }

/* The passes; each returns TG_OK or records the graph's error. */
tg_status tg_pass_schedule(tg_cctx *c, tg_planset *set);
tg_status tg_pass_fuse(tg_cctx *c, tg_planset *set);
tg_status tg_pass_place(tg_cctx *c, tg_planset *set);
tg_status tg_pass_bind(tg_cctx *c, tg_planset *set);

/* node b's activation fused after it (its producer's fact), or -1 */
static inline int tg_fused_act(const tg_plan *p, int b) { return p->fact[p->g->n[b].in[0]]; }

tg_status tg_compile_fail(tg_graph *g, tg_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

void tg_planset_release(tg_planset *s);

#endif
