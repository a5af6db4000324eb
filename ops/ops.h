/* ops.h - what an op is (internal). Each op file under ops/ holds its
 * builder (shape checks, the public tg_* function), forward and backward,
 * side by side, for both precisions: f64 through the reference kernels, f32
 * through the dispatched kernel table.
 *
 * Execution contract: forward writes y (overwrite). Backward accumulates
 * (+=) into every dx[i] that is non-NULL; dx[i] is NULL when input i needs no
 * gradient (so, e.g., no weight gradient is computed for a group nobody
 * asked for). The plan zeroes each gradient buffer once per sweep, before
 * its first writer, except for ops marked fresh_ok: those are told
 * (tg_run.fresh[i]) that they are the first writer and overwrite instead. */
#ifndef TG_OPS_H
#define TG_OPS_H

#include "fault.h"
#include "internal.h"

#define TG_NEED_X0 1u  /* backward reads input 0's value */
#define TG_NEED_X1 2u  /* backward reads input 1's value */
#define TG_NEED_X2 4u
#define TG_NEED_Y  8u  /* backward reads this node's value */

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
    const float *fbias;         /* matmul, f32: add this bias in the GEMM epilogue
                                   (the plan fused the following bias_add) */
    tg_act fact;                /* ... then this activation (TG_ACT_NONE: none) */
    float fslope;
    /* matmul backward, f32: the plan fused the backward of input 0's
     * activation bact (derivative from its output bact_y), and of the dropout
     * bdrop between them (or NULL), into the input-gradient GEMM; dx[0] is
     * then the gradient below the activation */
    const tg_nrec *bact, *bdrop;
    const float *bact_y;
    uint64_t bdrop_step;        /* bdrop's dropout step */
    int f64;                    /* 1: double buffers, reference kernels */
    tg_exec *ex;                /* kernels, pool, workspaces */
    uint64_t step;              /* dropout step of this forward */
    int eval;                   /* dropout off */
    const char *err;            /* set by an op that meets bad data */
    char errbuf[128];
} tg_run;

/* Dropout node n's mask for a run at `step` (dropout.c): keep element e
 * when tg_dropout_hash(key, e) >= thr, scaling by inv; eval: thr 0, inv 1. */
void tg_dropout_mask(const tg_graph *g, const tg_nrec *n, uint64_t step, int eval, uint32_t *key, uint32_t *thr,
                     double *inv);

typedef struct tg_opdesc {
    const char *name;
    unsigned bwd_needs;                          /* TG_NEED_* */
    /* bytes of `saved` needed (NULL: none); kept from forward to backward */
    size_t (*saved_bytes)(const tg_nrec *n, int f64);
    /* f32 GEMM workspace floats per thread (NULL: none) */
    size_t (*ws_floats)(const tg_graph *g, const tg_nrec *n, const tg_kern *k);
    void (*fwd)(tg_run *r);                      /* NULL for leaves */
    void (*bwd)(tg_run *r);                      /* NULL: no gradient */
    int fresh_ok;  /* backward honours tg_run.fresh (saves a zeroing pass) */
} tg_opdesc;

#define TG_OP_DECL(U, l) extern const tg_opdesc tg_op_##l;
TG_OPS(TG_OP_DECL)
#undef TG_OP_DECL

extern const tg_opdesc *const tg_optab[TG_OP_COUNT];

/* 1 if n is an activation whose f32 backward reads only its output y (relu,
 * sigmoid, tanh, leaky_relu with slope >= 0), with its kind in *act (may be
 * NULL): a plan may fuse it into a GEMM epilogue and drop its input. */
int tg_act_y_only(const tg_nrec *n, tg_act *act);

/* Builder helpers (engine/graph.c). Each returns an invalid node, and leaves
 * the graph untouched, if the graph has failed. */
/* 1 if the graph is fine and every input node is valid and of this graph;
 * otherwise records "<op>: input k is invalid" and returns 0. */
int tg_check_inputs(tg_graph *g, const char *op, const tg_node *in, int nin);
/* Append a node; returns it (or invalid on no memory). */
tg_node tg_push(tg_graph *g, tg_op op, const tg_node *in, int nin, int ndim,
                const int *dims);
/* Record the graph's first error (printf-style message) and return an
 * invalid node. */
tg_node tg_fail(tg_graph *g, tg_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* "64x784" into buf */
const char *tg_shape_str(const tg_nrec *n, char *buf, size_t len);

#endif
