/* op.h - what an op is, as the engine sees it (internal, not installed).
 *
 * The engine knows no particular op. Every node record points at its op's
 * descriptor (tg_opdesc): a name, the forward and backward functions, what
 * backward reads, scratch it needs, and a few declared traits the plan
 * compiler's generic fusion pass acts on (engine/fuse.c). Op files under
 * ops/ define descriptors and builders; they include this header, and the
 * engine never includes theirs.
 *
 * Execution contract: forward writes y (overwrite). Backward accumulates
 * (+=) into every dx[i] that is non-NULL; dx[i] is NULL when input i needs no
 * gradient (so, e.g., no weight gradient is computed for a group nobody
 * asked for). The plan zeroes each gradient buffer once per sweep, before
 * its first writer, except for ops marked fresh_ok: those are told
 * (tg_run.fresh[i]) that they are the first writer and overwrite instead. */
#ifndef TG_OP_H
#define TG_OP_H

#include "internal.h"

#define TG_NEED_X0 1u  /* backward reads input 0's value */
#define TG_NEED_X1 2u  /* backward reads input 1's value */
#define TG_NEED_X2 4u
#define TG_NEED_X3 8u
#define TG_NEED_X4 16u
#define TG_NEED_Y  (1u << TG_MAX_IN) /* backward reads this node's value */

/* Epilogue instructions the plan hands an op that declared it can take them
 * (see the traits below). Forward: after computing its output, add `bias`
 * over the declared axis, then apply `act`. Backward (the gradient of input
 * 0): the op's result is the gradient above an element-wise mask (a dropout,
 * if mask_on) and a y-only activation; it writes the gradient below them:
 *   g = mask_on ? (hash(key, e + off) >= thr ? c * scale : 0) : c;  dx = g * act'(y[e]) */
typedef struct tg_fwd_epi {
    const float *bias;  /* NULL: no forward epilogue */
    tg_act act;
    float slope;
} tg_fwd_epi;

typedef struct tg_bwd_epi {
    int on;             /* 0: no backward epilogue */
    tg_act act;
    float slope;
    const float *y;     /* the activation's output */
    int mask_on;
    uint32_t key, off, thr;
    float scale;
} tg_bwd_epi;

/* The plan's batch-sum hook (tg_plan_on_batch_sums), for ops whose
 * training forward and backward reduce over the batch (batch_norm): an op
 * writes its partial sums over this process's rows into buf (at most the
 * doubles its descriptor's batch_sums asks for) and hands them to
 * fn(ctx, buf, n) on the calling thread, between pool jobs. */
typedef struct tg_bsum {
    tg_batch_sum_fn fn;         /* NULL: no hook */
    void *ctx;
    double *buf;
} tg_bsum;

typedef struct tg_run {
    const tg_graph *g;
    const tg_nrec *n;           /* this node */
    const tg_nrec *in[TG_MAX_IN];
    void *y, *dy;               /* value; gradient (backward only) */
    const void *x[TG_MAX_IN];   /* input values (int32 for label inputs) */
    void *dx[TG_MAX_IN];        /* input gradients or NULL */
    int fresh[TG_MAX_IN];       /* dx[k] is uninitialized: write it, don't add
                                   (only for ops with fresh_ok) */
    void *saved;                /* op-private buffer, forward to backward */
    void *scratch;              /* this step's scratch (scratch_bytes), or NULL */
    tg_fwd_epi epi;             /* f32 forward epilogue (fusion) */
    tg_bwd_epi bepi;            /* f32 backward epilogue on dx[0] (fusion) */
    int f64;                    /* 1: double buffers, reference kernels */
    tg_exec *ex;                /* kernels, pool, workspaces */
    uint64_t step;              /* dropout step of this forward */
    int64_t row0;               /* the plan's tensors hold rows row0.. of a global batch
                                   (tg_plan_set_row_offset): dropout masks read global indices */
    int eval;                   /* eval mode: dropout off, batch statistics frozen */
    const tg_bsum *bsum;        /* the plan's batch-sum hook, or NULL (f32 plans only) */
    const char *err;            /* set by an op that meets bad data (or a failed hook) */
    tg_status err_status;       /* with err: the status the run returns (TG_OK: TG_ERR_ARG) */
    char errbuf[128];
} tg_run;

/* A recomputable element-wise mask (what a dropout applies), for a node run
 * at `step` in a plan whose tensors hold rows row0.. of a global batch: keep
 * element e (an index into this plan's tensor) when tg_dropout_hash(key,
 * e + off) >= thr, scale kept elements by `scale`. off = row0 times the
 * elements per row (numel / d[0]), modulo 2^32: element e's global index. */
typedef struct tg_mask { uint32_t key, off, thr; float scale; } tg_mask;

typedef enum tg_leaf_kind { TG_LEAF_NONE = 0, TG_LEAF_INPUT, TG_LEAF_PARAM } tg_leaf_kind;

typedef struct tg_opdesc {
    const char *name;
    tg_leaf_kind leaf;                           /* inputs and parameters */
    unsigned bwd_needs;                          /* TG_NEED_* */
    /* bytes of `saved` needed (NULL: none); kept from forward to backward */
    size_t (*saved_bytes)(const tg_graph *g, const tg_nrec *n, int f64);
    /* bytes of scratch this node's forward (pass 0) or backward (pass 1)
     * needs for that step only (NULL: none). The plan places it in its
     * arena at compile time, live during that step alone (tg_run.scratch;
     * 64-byte aligned, contents undefined): an im2col buffer costs no
     * allocation per step and shares memory with buffers dead by then. */
    size_t (*scratch_bytes)(const tg_graph *g, const tg_nrec *n, int f64, int pass);
    /* f32 GEMM workspace floats per thread (NULL: none) */
    size_t (*ws_floats)(const tg_graph *g, const tg_nrec *n, const tg_kern *k);
    void (*fwd)(tg_run *r);                      /* NULL for leaves */
    void (*bwd)(tg_run *r);                      /* NULL: no gradient */
    int fresh_ok;  /* backward honours tg_run.fresh (saves a zeroing pass) */
    /* attribute text for the dot export, e.g. "(p=0.3)"; NULL: none */
    void (*describe)(const tg_nrec *n, char *buf, size_t len);
    /* 1: my output is input 0's elements in the same order under another
     * shape (a reshape). The plan gives me no value buffer: my value is
     * input 0's memory (tg_run.y == tg_run.x[0], so forward has nothing to
     * move), and input 0's buffer lives as long as my readers need it. My
     * backward hands dy to input 0 unchanged, so when I am the only writer
     * of its gradient the plan makes that gradient my own buffer too
     * (tg_run.dx[0] == tg_run.dy), as for a bias node. */
    int view;

    /* ---- traits for the plan's fusion pass (f32 plans; NULL/0: none) ---- */
    /* I add input 1 (a bias, a leaf) to input 0 over axis bias_axis(n) of
     * my output, and my backward hands dy to input 0 unchanged. */
    int (*bias_axis)(const tg_nrec *n);
    /* My f32 forward can run a bias over this axis of my output, then an
     * activation, in its epilogue (tg_run.epi); -1: not for this node. */
    int (*epi_bias_axis)(const tg_nrec *n);
    /* I am y = act(x) element-wise and my f32 backward reads only y (so a
     * producer's epilogue can apply me, and my x need not be stored):
     * returns the activation and its slope, TG_ACT_NONE if not this node. */
    tg_act (*y_act)(const tg_nrec *n, float *slope);
    /* I multiply by a recomputable mask (tg_mask) in forward and backward:
     * fills *m for a run at `step` with row offset row0 (tg_run.row0);
     * returns 0 if this node has none. */
    int (*mask)(const tg_graph *g, const tg_nrec *n, uint64_t step, int64_t row0, int eval, tg_mask *m);
    /* My f32 backward's gradient for input 0 can apply a mask's and a
     * y-only activation's backward in its epilogue (tg_run.bepi). */
    int (*bwd_epi_ok)(const tg_nrec *n);

    /* doubles of tg_run.bsum->buf my f32 training forward and backward use
     * at most (NULL: I never call the batch-sum hook) */
    size_t (*batch_sums)(const tg_nrec *n);
} tg_opdesc;

/* ---- for op builders (engine/graph.c) ----
 * Each returns an invalid node, and leaves the graph untouched, if the
 * graph has failed. */
/* 1 if the graph is fine and every input node is valid and of this graph;
 * otherwise records "<op>: input k is invalid" and returns 0. */
int tg_check_inputs(tg_graph *g, const char *op, const tg_node *in, int nin);
/* Append a node of op `d` with these inputs, shape and attributes (attrs
 * may be NULL: all zero); returns it (or invalid on no memory). */
tg_node tg_push(tg_graph *g, const tg_opdesc *d, const tg_node *in, int nin, int ndim, const int *dims,
                const tg_attrs *attrs);
/* Append a leaf: an input (name, dtype) or a parameter (param). */
tg_node tg_push_leaf(tg_graph *g, const tg_opdesc *d, int ndim, const int *dims, tg_dtype dtype, const char *name,
                     tg_param *param);
/* Record the graph's first error (printf-style message) and return an
 * invalid node. */
tg_node tg_fail(tg_graph *g, tg_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* "64x784" into buf */
const char *tg_shape_str(const tg_nrec *n, char *buf, size_t len);

/* ---- for kernels run by ops (engine/exec.c) ---- */
/* f32 GEMM split over the pool by column blocks. */
void tg_exec_gemm(tg_exec *ex, const tg_gemm_desc *d);
/* Up to TG_GEMMS_MAX independent GEMMs (no output shared, no output read by
 * another) as one pool job: one hand-off and one join instead of nd. */
#define TG_GEMMS_MAX 16
void tg_exec_gemms(tg_exec *ex, const tg_gemm_desc *const *ds, int nd);
/* f32 GEMM workspace a descriptor needs (floats per thread). */
size_t tg_exec_gemm_ws(const tg_kern *k, const tg_gemm_desc *d);
/* Run fn(ctx, i0, i1) over [0, n) in contiguous pieces, one per thread,
 * when the work (n * cost elements) pays for the hand-off; else on the
 * caller's thread. Piece boundaries are multiples of `align`. Element-wise
 * kernels give the same bits for any split. */
typedef void (*tg_range_fn)(void *ctx, size_t i0, size_t i1);
void tg_exec_range(tg_exec *ex, size_t n, size_t align, size_t cost, tg_range_fn fn, void *ctx);

#endif
