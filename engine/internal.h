/* internal.h - engine internals shared by engine/, ops/ and models/ (not
 * installed). The engine knows no particular op: a node points at its op's
 * descriptor (op.h), defined under ops/. */
#ifndef TG_INTERNAL_H
#define TG_INTERNAL_H

#include "tapegrad.h"
#include "kernels.h"

#include <stdarg.h>
#include <stdbool.h>

#define TG_MAX_IN 5 /* batch_norm: x, gamma, beta, running mean, running variance */
#define TG_MSG_LEN 256
#define TG_NAME_LEN 64

typedef enum { TG_DT_F32 = 0, TG_DT_I32 = 1 } tg_dtype;

/* node flags */
#define TG_NF_KEPT 1u      /* tg_keep: plans of one set share its value */

/* Node attributes: one small typed block per node (ggml's op_params, with
 * names), written once by the op's builder (tg_push) and read through
 * tg_attr(). Sized for what ops need: 2-D window geometry for convolutions
 * and pooling, per-side padding, and the scalar parameters of element-wise
 * ops, losses and normalization. */
typedef struct tg_attrs {
    int kernel[2];       /* window height, width */
    int stride[2];
    int dilation[2];
    int pad[4];          /* top, bottom, left, right */
    int out_pad[2];      /* transposed convolution: extra rows, columns */
    int groups;
    int trans[2];        /* matmul: op(a), op(b) transposed */
    int axis;            /* an axis an op works over */
    float slope;         /* leaky_relu */
    float scale;         /* scale */
    float p;             /* dropout probability */
    float target;        /* bce_logits with a constant target */
    float eps, momentum; /* normalization */
} tg_attrs;

/* One recorded node. */
typedef struct tg_nrec {
    const struct tg_opdesc *op;
    tg_dtype dtype;
    unsigned flags;
    int ndim;
    int d[TG_MAX_DIMS];
    size_t numel;
    int nin;
    int in[TG_MAX_IN];
    tg_attrs a;          /* read through tg_attr() */
    tg_param *param;     /* parameter leaves */
    char name[TG_NAME_LEN]; /* input leaves */
    const void *bound;   /* input leaves: caller data */
} tg_nrec;

static inline const tg_attrs *tg_attr(const tg_nrec *n) { return &n->a; }

struct tg_graph {
    tg_params *ps;
    tg_nrec *n;
    int count, cap;
    tg_status err;
    char msg[TG_MSG_LEN];
    uint64_t seed;        /* dropout */
    uint64_t dstep;       /* dropout step counter */
};

/* Execution context handed to ops: kernel table, pool, per-thread GEMM
 * workspaces. */
typedef struct tg_exec {
    const tg_kern *k;
    tg_pool *pool;       /* may be NULL */
    int nthreads;
    float **ws;          /* nthreads workspaces */
    size_t ws_floats;    /* floats in each */
} tg_exec;

/* Profiling (engine/profile.c): a row per op (by descriptor) and pass (0
 * forward, 1 backward), and the optimizers' rows ("adam", "sgd"). */
int tg_prof_on(void);
double tg_prof_now(void);
void tg_prof_add(const struct tg_opdesc *op, int pass, double sec);
void tg_prof_add_named(const char *what, double sec);
/* one pool job of nd GEMMs (tg_exec_gemms) took sec */
#define TG_PROF_GEMM_JOB 4
void tg_prof_gemm(const tg_gemm_desc *const *ds, int nd, double sec);

/* Thread pool (engine/pool.c): run fn(ctx, task, thread) for task in
 * [0, ntasks), each task whole on one thread (whichever claims it first;
 * `thread` names that thread's workspace); returns when all are done. */
typedef void (*tg_task_fn)(void *ctx, int task, int thread);
void tg_pool_run(tg_pool *p, tg_task_fn fn, void *ctx, int ntasks);
/* Times the pool found the cores contended and ran jobs on the caller alone. */
long tg_pool_solo_windows(const tg_pool *p);
/* Tasks thread `thread` (0: the caller) has run since the pool started. */
long tg_pool_tasks_run(const tg_pool *p, int thread);
/* Tests: strict 1 makes every job a real multi-thread job - the pool never
 * goes solo, and thread i runs tasks i, i + n, i + 2n... of every job
 * (instead of claiming whichever are left) - so a test comparing 1 and 2
 * threads cannot degrade to 1 vs 1, however busy the machine. */
void tg_pool_set_strict(tg_pool *p, int strict);
/* 1 if the next job should run on the caller alone, unsplit (no pool, one
 * thread, or the cores are contended - counts as one job of the solo
 * period); callers that split work only for the pool skip the split then. */
int tg_pool_solo(tg_pool *p);

/* Subnormal floats. The engine's f32 work (plan runs, optimizer steps, the
 * pool's workers) runs with x86's flush-to-zero and denormals-are-zero bits
 * set (MXCSR FTZ|DAZ), as TensorFlow and XLA do: a value below FLT_MIN
 * (1.2e-38) counts as zero. Without them one Adam moment that decays into
 * the subnormal range (a weight whose gradient is exactly zero: a dead ReLU)
 * costs a microcode assist per operation, and a training step slows down
 * threefold after a few hundred steps. tg_fp_enter saves the caller's mode
 * and sets the flags; tg_fp_leave restores the caller's mode. No-ops where
 * there is no MXCSR (non-x86 builds keep IEEE subnormals). */
typedef struct tg_fpmode { unsigned csr; } tg_fpmode;
#if defined(__SSE2__)
#include <xmmintrin.h>
#define TG_MXCSR_FTZ_DAZ 0x8040u
static inline tg_fpmode tg_fp_enter(void)
{
    tg_fpmode m = {_mm_getcsr()};
    if ((m.csr & TG_MXCSR_FTZ_DAZ) != TG_MXCSR_FTZ_DAZ) _mm_setcsr(m.csr | TG_MXCSR_FTZ_DAZ);
    return m;
}
static inline void tg_fp_leave(tg_fpmode m)
{
    if ((m.csr & TG_MXCSR_FTZ_DAZ) != TG_MXCSR_FTZ_DAZ) _mm_setcsr(m.csr);
}
#else
static inline tg_fpmode tg_fp_enter(void) { return (tg_fpmode){0}; }
static inline void tg_fp_leave(tg_fpmode m) { (void)m; }
#endif

/* Allocation (engine/alloc.c): 64-byte aligned, zeroed. */
void *tg_zalloc(size_t bytes);
void tg_free(void *ptr);

/* Error helpers */
void tg_graph_failv(tg_graph *g, tg_status code, const char *fmt, va_list ap);
int tg_node_valid(const tg_graph *g, tg_node n);
static inline const tg_nrec *tg_rec(const tg_graph *g, tg_node n) { return &g->n[n.id]; }

/* Parameters (engine/params.c) */
int tg_group_match(const char *groups, const char *group);

/* The kernel table every f32 plan uses (engine/exec.c). */
const tg_kern *tg_kern_current(void);

/* Plan internals used by gradient checking (engine/plan.c). */
typedef struct tg_plan tg_plan;
/* f64 plans: copy parameter and input values into the plan's double buffers */
void tg_plan_load64(tg_plan *p);
/* run forward without loading and without advancing the dropout step */
tg_status tg_plan_forward_raw(tg_plan *p);
/* double buffers of an f64 plan: value and gradient of a node (or NULL) */
double *tg_plan_value64(tg_plan *p, tg_node n);
double *tg_plan_grad64(tg_plan *p, tg_node n);

#endif
