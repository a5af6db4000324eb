/* tapegrad.h - a static, tape-based reverse-mode autodiff engine in C11.
 *
 * You build a graph once (inputs, parameters, ops), compile it into plans,
 * and run those plans many times. The graph is a tape: nodes are recorded in
 * construction order, which is already topological, so forward runs the tape
 * front to back and backward runs it back to front.
 *
 *   tg_params *ps = tg_params_new();
 *   tg_param *w = tg_param_new(ps, "D", "w", 2, (int[]){784, 1});
 *   tg_param *b = tg_param_new(ps, "D", "b", 1, (int[]){1});
 *   tg_rng r; tg_rng_seed(&r, 42, 0);
 *   tg_param_init(w, TG_INIT_XAVIER, 784, 1, 0, &r);     // b stays zero
 *   tg_graph *g = tg_graph_new(ps);
 *   tg_node x = tg_input(g, "x", 2, (int[]){64, 784});
 *   tg_node logit = tg_bias_add(g, tg_matmul(g, x, tg_param_ref(g, w)), tg_param_ref(g, b));
 *   tg_node loss = tg_bce_logits_const(g, logit, 0.9f);
 *   tg_bind(g, x, images);                                  // caller owns images
 *   tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "D"});
 *   tg_adam *opt = tg_adam_new(ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
 *   for (;;) { tg_plan_forward(p); tg_plan_backward(p); tg_adam_step(opt); }
 *
 * Memory model. Parameters (values, gradients) live in a tg_params store that
 * outlives graphs, so one set of weights serves a batch-64 training graph and
 * a batch-10,000 sampling graph. Each plan owns one arena, sized at compile
 * time, that holds every activation, gradient and scratch buffer, reusing
 * memory whose lifetimes do not overlap; forward, backward and optimizer
 * steps never allocate. Input data is bound by pointer and stays the caller's.
 * A node marked with tg_keep() stores its value in graph-owned memory instead,
 * so several plans of one graph can share it (see tg_plan_opts.reuse).
 *
 * Errors. Nothing here exits, aborts or prints on bad input. One convention:
 * a status code plus a message naming what failed. The first error of a
 * graph is kept on it (code + message such as "matmul: x is 64x784 but w is
 * 100x128"); builders called on a failed graph, or given an invalid node,
 * return an invalid node (id < 0) and do nothing else. Run calls return a
 * tg_status. Constructors that can fail for a reason the caller should see
 * return NULL and fill a tg_error (code + message).
 *
 * Threads. A tg_pool is a set of persistent workers shared by plans; idle
 * workers block. Work is split so that every output element is computed the
 * same way whatever the thread count: results are bit-identical run to run
 * and across thread counts.
 *
 * Subnormals. On x86, f32 plan runs, optimizer steps and the pool's workers
 * flush subnormal floats to zero (MXCSR FTZ and DAZ, set on entry and
 * restored on return, as TensorFlow and XLA do): a value below FLT_MIN
 * (1.2e-38) counts as 0. IEEE subnormals would make each operation on one
 * a microcode assist; Adam moments of weights whose gradient is exactly 0
 * decay into that range within a few hundred steps and slowed training
 * threefold. f64 plans (gradient checks) keep IEEE arithmetic.
 */
#ifndef TAPEGRAD_H
#define TAPEGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tg_act.h"   /* tg_act: the activations, and their names */
#include "tg_error.h" /* tg_status, tg_error: the error convention */

#ifdef __cplusplus
extern "C" {
#endif

#define TG_MAX_DIMS 4

/* ------------------------------------------------------------------- rng */
/* A random stream: plain data, copy it to save it. xoshiro256** inside. */
typedef struct tg_rng { uint64_t s[4]; } tg_rng;

/* Seed a stream; different `stream` values give independent streams. */
void tg_rng_seed(tg_rng *r, uint64_t seed, uint64_t stream);
uint64_t tg_rng_u64(tg_rng *r);
double tg_rng_uniform(tg_rng *r);              /* [0, 1) */
double tg_rng_normal(tg_rng *r);               /* N(0, 1) */
void tg_rng_fill_uniform(tg_rng *r, float *x, size_t n, float lo, float hi);
void tg_rng_fill_normal(tg_rng *r, float *x, size_t n, float mean, float std);

/* ------------------------------------------------------------ parameters */
typedef struct tg_params tg_params;
typedef struct tg_param tg_param;

/* A store of named parameters in named groups ("G", "D"...). The store owns
 * every parameter's value and gradient buffers until tg_params_free. */
tg_params *tg_params_new(void);
void tg_params_free(tg_params *ps);
/* Add a zero-filled parameter; NULL on a duplicate (group, name), bad shape or
 * no memory (then tg_params_error says why). */
tg_param *tg_param_new(tg_params *ps, const char *group, const char *name,
                       int ndim, const int *dims);
/* The same for non-trainable state that lives with the parameters (batch
 * normalization's running mean and variance): plans never compute its
 * gradient, Adam and SGD skip it, and whatever saves every parameter of the
 * store (checkpoints) keeps it. */
tg_param *tg_param_new_state(tg_params *ps, const char *group, const char *name,
                             int ndim, const int *dims);
int tg_param_is_state(const tg_param *p);
tg_param *tg_param_find(const tg_params *ps, const char *group, const char *name);
int tg_params_count(const tg_params *ps);
tg_param *tg_params_at(const tg_params *ps, int i);   /* in creation order */
const char *tg_params_error(const tg_params *ps);
size_t tg_params_numel(const tg_params *ps, const char *group); /* NULL: all */

const char *tg_param_name(const tg_param *p);
const char *tg_param_group(const tg_param *p);
int tg_param_ndim(const tg_param *p);
const int *tg_param_dims(const tg_param *p);
size_t tg_param_numel(const tg_param *p);
float *tg_param_data(tg_param *p);   /* owned by the store */
float *tg_param_grad(tg_param *p);   /* owned by the store; written by plans */

typedef enum tg_init {
    TG_INIT_ZEROS,
    TG_INIT_PYTORCH, /* nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    TG_INIT_XAVIER,  /* Glorot uniform: U(-a, a), a = sqrt(6/(fan_in+fan_out)) */
    TG_INIT_NORMAL,  /* N(0, sigma^2) */
    TG_INIT_ONES     /* 1 (a running variance's start); needs no rng */
} tg_init;
tg_status tg_param_init(tg_param *p, tg_init kind, int fan_in, int fan_out,
                        float sigma, tg_rng *r);

/* ----------------------------------------------------------------- graph */
typedef struct tg_graph tg_graph;
/* A node handle; id < 0 means invalid (a builder failed). */
typedef struct tg_node { int32_t id; } tg_node;

/* New empty graph over a parameter store (may be NULL if no parameters).
 * The store must outlive the graph. */
tg_graph *tg_graph_new(tg_params *ps);
void tg_graph_free(tg_graph *g);
tg_status tg_graph_status(const tg_graph *g);
const char *tg_graph_error(const tg_graph *g);   /* "" when no error */
int tg_graph_nodes(const tg_graph *g);
tg_params *tg_graph_params(const tg_graph *g);
/* For builders layered on top (models): record `msg` as the graph's error
 * (unless one is already set) and return an invalid node. */
tg_node tg_graph_fail(tg_graph *g, tg_status code, const char *msg);

/* Shape and name queries; return 0 / NULL for invalid nodes. */
int tg_node_ndim(const tg_graph *g, tg_node n);
int tg_node_dim(const tg_graph *g, tg_node n, int axis);
size_t tg_node_numel(const tg_graph *g, tg_node n);
const char *tg_node_op(const tg_graph *g, tg_node n);   /* "matmul", ... */

/* Seed of the graph's dropout masks, and its step counter (which every
 * training-mode forward advances). Save both to resume bit-exactly. */
void tg_graph_set_seed(tg_graph *g, uint64_t seed);
uint64_t tg_graph_dropout_step(const tg_graph *g);
void tg_graph_set_dropout_step(tg_graph *g, uint64_t step);

/* Graphviz dot: op names, shapes, parameter names. */
tg_status tg_graph_to_dot(const tg_graph *g, FILE *out);

/* ---- leaves ---- */
/* A float32 input of fixed shape (1..4 dims). Bind its data before running. */
tg_node tg_input(tg_graph *g, const char *name, int ndim, const int *dims);
/* An int32 vector of n class labels (for tg_softmax_xent). */
tg_node tg_input_labels(tg_graph *g, const char *name, int n);
/* Point an input at caller-owned data (float* or int32_t*, numel elements),
 * which must stay valid while plans run. */
tg_status tg_bind(tg_graph *g, tg_node input, const void *data);
/* The node for a parameter of the graph's store (one node per parameter:
 * asking twice returns the same node). */
tg_node tg_param_ref(tg_graph *g, tg_param *p);
/* Keep x's value, and every value behind it, in memory the plans of one set
 * share (tg_plans_new, tg_plan_opts.reuse), readable from any of them. */
tg_node tg_keep(tg_graph *g, tg_node x);
/* y = x in forward; no gradient flows back through it. */
tg_node tg_detach(tg_graph *g, tg_node x);

/* ---- linear algebra ---- */
/* y = x W;  x:(B,IN) W:(IN,OUT) -> (B,OUT) */
tg_node tg_matmul(tg_graph *g, tg_node x, tg_node w);
/* y = op(a) op(b), op = transpose when ta/tb;  op(a):(M,K) op(b):(K,N) -> (M,N) */
tg_node tg_matmul_t(tg_graph *g, tg_node a, tg_node b, int ta, int tb);
/* y = x + b per row;  x:(B,N) b:(N) -> (B,N) */
tg_node tg_bias_add(tg_graph *g, tg_node x, tg_node b);
/* y = x + b over axis `axis` (b broadcast along every other axis);
 * x:(d0,..,dk) b:(d_axis). axis 1 of (N,C,H,W) is a per-channel bias,
 * y[n,c,h,w] = x[n,c,h,w] + b[c]; tg_bias_add is axis 1 of (B,N). */
tg_node tg_bias_add_axis(tg_graph *g, tg_node x, tg_node b, int axis);
/* y = [a b] along the last axis;  a:(B,Na) b:(B,Nb) -> (B,Na+Nb) */
tg_node tg_concat(tg_graph *g, tg_node a, tg_node b);

/* ---- convolutions (NCHW, as PyTorch) ---- */
/* Geometry of a 2-D convolution. stride and dilation: rows, columns (0 means
 * 1). pad: zeros added at the top, bottom, left and right of the input
 * (per side, so Keras 'same' with an even total is exact: 28 wide, 5x5,
 * stride 2 -> pad 1 before, 2 after -> 14). out_pad: conv_transpose2d only,
 * extra output rows and columns at the bottom and right (each smaller than
 * the stride or the dilation of its axis). groups: 0 or 1. */
typedef struct tg_conv_opts {
    int stride[2];
    int dilation[2];
    int pad[4];
    int out_pad[2];
    int groups;
} tg_conv_opts;
/* y[n,o,i,j] = sum_{c,u,v} x[n,c, i sh + u dh - pt, j sw + v dw - pl] w[o,c,u,v]
 * (zero outside x);  x:(N,Cin,H,W) w:(Cout,Cin,kh,kw) -> (N,Cout,OH,OW),
 * OH = (H + pt + pb - dh (kh-1) - 1) / sh + 1 (floor), OW likewise. o NULL:
 * stride 1, no padding. */
tg_node tg_conv2d(tg_graph *g, tg_node x, tg_node w, const tg_conv_opts *o);
/* The transpose of conv2d (its input gradient, PyTorch's ConvTranspose2d):
 * y[n,o, i sh + u dh - pt, j sw + v dw - pl] += x[n,c,i,j] w[c,o,u,v];
 * x:(N,Cin,H,W) w:(Cin,Cout,kh,kw) -> (N,Cout,OH,OW),
 * OH = (H-1) sh - pt - pb + dh (kh-1) + out_pad[0] + 1, OW likewise. */
tg_node tg_conv_transpose2d(tg_graph *g, tg_node x, tg_node w, const tg_conv_opts *o);

/* ---- shapes ---- */
/* y = x with another shape of the same element count (row-major order
 * kept, as torch.reshape); one dimension may be -1 (inferred). No copy:
 * the plan gives y x's memory. */
tg_node tg_reshape(tg_graph *g, tg_node x, int ndim, const int *dims);
/* y = x as (N, prod of the other dimensions): torch.flatten(x, 1) */
tg_node tg_flatten(tg_graph *g, tg_node x);

/* ---- normalization ---- */
/* Batch normalization over axis 1 of x:(N,C,H,W) or x:(N,C), PyTorch
 * semantics: y = gamma (x - mean) / sqrt(var + eps) + beta per channel c.
 * gamma, beta:(C) nodes (trainable parameters, typically). running_mean,
 * running_var: (C) state parameters of the store (tg_param_new_state;
 * PyTorch starts them at 0 and 1). Training plans (tg_plan_opts.eval == 0)
 * use the batch's mean and biased variance over (N,H,W); every training
 * forward of an f32 plan that computes this node then updates
 *   running_mean = (1 - momentum) running_mean + momentum mean
 *   running_var  = (1 - momentum) running_var  + momentum var * M / (M-1)
 * (M = N H W: the unbiased variance), once per forward - as PyTorch updates
 * once per forward in train mode; a plan that reuses the node's kept value
 * does not run it and updates nothing. f64 plans (gradient checks) never
 * write the running statistics. Eval plans use running_mean, running_var.
 * PyTorch's defaults: eps 1e-5, momentum 0.1. */
tg_node tg_batch_norm(tg_graph *g, tg_node x, tg_node gamma, tg_node beta, tg_param *running_mean,
                      tg_param *running_var, float eps, float momentum);

/* ---- element-wise (same shapes) ---- */
tg_node tg_add(tg_graph *g, tg_node a, tg_node b);      /* y = a + b */
tg_node tg_sub(tg_graph *g, tg_node a, tg_node b);      /* y = a - b */
tg_node tg_mul(tg_graph *g, tg_node a, tg_node b);      /* y = a * b */
tg_node tg_scale(tg_graph *g, tg_node x, float s);      /* y = s x */
tg_node tg_relu(tg_graph *g, tg_node x);                /* y = max(x, 0) */
tg_node tg_leaky_relu(tg_graph *g, tg_node x, float slope); /* y = x>0 ? x : slope x */
tg_node tg_sigmoid(tg_graph *g, tg_node x);             /* y = 1/(1+e^-x) */
tg_node tg_tanh(tg_graph *g, tg_node x);                /* y = tanh x */
tg_node tg_softplus(tg_graph *g, tg_node x);            /* y = log(1+e^x) */
/* y = a(x) for any tg_act (slope for leaky_relu); TG_ACT_NONE returns x */
tg_node tg_activation(tg_graph *g, tg_node x, tg_act a, float slope);
/* Inverted dropout: in training plans y = x m / (1-p), m ~ Bernoulli(1-p)
 * from the graph's seed; in eval plans y = x.  0 <= p < 1. */
tg_node tg_dropout(tg_graph *g, tg_node x, float p);

/* ---- reductions (-> scalar, shape (1)) ---- */
tg_node tg_sum(tg_graph *g, tg_node x);                 /* y = sum x */
tg_node tg_mean(tg_graph *g, tg_node x);                /* y = mean x */

/* ---- losses (mean over elements -> scalar) ---- */
/* mean[max(x,0) - x t + log1p(exp(-|x|))];  x, t same shape */
tg_node tg_bce_logits(tg_graph *g, tg_node logits, tg_node target);
/* the same with a constant target t (0.9 for smoothed real labels) */
tg_node tg_bce_logits_const(tg_graph *g, tg_node logits, float t);
/* non-saturating generator loss = BCE with target 1 = mean softplus(-x) */
tg_node tg_gen_loss(tg_graph *g, tg_node fake_logits);
/* minimax ("saturating") generator loss = -mean softplus(x) */
tg_node tg_gen_loss_saturating(tg_graph *g, tg_node fake_logits);
/* mean over rows of -log softmax(x)[label];  x:(B,C), labels: B int32 in [0,C) */
tg_node tg_softmax_xent(tg_graph *g, tg_node logits, tg_node labels);

/* ----------------------------------------------------------------- pools */
typedef struct tg_pool tg_pool;
/* nthreads in 1..256 (the caller's thread counts as one); NULL on failure,
 * with the reason in *err (may be NULL). */
tg_pool *tg_pool_new(int nthreads, tg_error *err);
void tg_pool_free(tg_pool *p);
int tg_pool_threads(const tg_pool *p);

/* ----------------------------------------------------------------- plans */
typedef struct tg_plan tg_plan;

typedef enum tg_precision {
    TG_F32 = 0, /* optimized f32 kernels (AVX-512 / AVX2 / portable by CPU) */
    TG_F64 = 1  /* f64 reference kernels: the oracle, for checking */
} tg_precision;

typedef struct tg_plan_opts {
    /* Comma-separated parameter groups whose weight gradients backward
     * computes, e.g. "D" or "G,D"; "*" for all; NULL or "" for none. Other
     * parameters get no gradient (and no work is spent on one). */
    const char *groups;
    /* Also compute gradients of float inputs (gradient checking). */
    int input_grads;
    /* Forward-only: no backward schedule, `out` may be any shape. */
    int forward_only;
    /* Nodes whose kept values (tg_keep) another plan of the same set
     * computes (tg_plans_new): this plan's forward skips them and every node
     * only they need. Each must be kept, and so must every node behind it
     * whose value this plan's backward reads (tg_keep keeps a node and
     * everything behind it). */
    const tg_node *reuse;
    int n_reuse;
    /* Extra nodes whose values stay readable after a run (tg_plan_value);
     * other intermediate buffers may be reused by the arena. */
    const tg_node *outputs;
    int n_outputs;
    /* Dropout mode: 0 = training (masks drawn), 1 = eval (identity). */
    int eval;
    tg_precision precision;
    tg_pool *pool;   /* NULL: run on the caller's thread */
    /* 1: run every node as its own kernel. By default f32 plans fuse a
     * matmul with the bias_add and activation after it (one GEMM with an
     * epilogue), and the backward of an activation (and a dropout before it)
     * into the input-gradient GEMM of the matmul that consumes it. Fused and
     * unfused plans give bit-identical results; this is for testing and for
     * profiling each op on its own. */
    int unfused;
} tg_plan_opts;

/* Compile a plan that computes `out` (a scalar loss unless forward_only) and,
 * unless forward_only, its gradients. On failure returns NULL and sets the
 * graph's error. The plan borrows the graph, its store and the pool: free
 * the plan before them. A plan that reuses values another plan computes
 * must be compiled with it, as a set (tg_plans_new). */
tg_plan *tg_plan_new(tg_graph *g, tg_node out, const tg_plan_opts *opts);
/* Compile n plans (1..64) over one graph as a set: plans[k] computes
 * outs[k] with opts[k] (opts may be NULL: defaults for all). Plans of a set
 * share their kept values (tg_keep): one plan computes G(z), another reuses
 * it (tg_plan_opts.reuse). What they share, and every fusion decision that
 * depends on it, belongs to the set and is decided with every plan known, so
 * the result does not depend on the order of the plans, and compiling does
 * not change the graph. Returns TG_OK, or an error (also recorded on the
 * graph) with every plans[k] NULL. Free each plan with tg_plan_free; the set
 * goes with the last one. */
tg_status tg_plans_new(tg_graph *g, int n, const tg_node *outs, const tg_plan_opts *opts, tg_plan **plans);
void tg_plan_free(tg_plan *p);

/* Run forward: TG_ERR_STATE if an input is unbound, TG_ERR_NONFINITE if a
 * scalar `out` is NaN/Inf. No allocation. */
tg_status tg_plan_forward(tg_plan *p);
/* Run backward after forward: zeroes, then writes, the gradients of the
 * requested groups' parameters (tg_param_grad) and, if asked, of inputs. */
tg_status tg_plan_backward(tg_plan *p);

/* The gradient-ready hook, for data-parallel training (start a gradient's
 * all-reduce while backward goes on). During tg_plan_backward, fn(ctx, param)
 * is called on the calling thread once for every parameter this plan
 * computes a gradient for (tg_plan_has_param_grad), right after the last
 * backward step that writes it: tg_param_grad(param) then holds its final
 * value for this backward, and no later step of the sweep reads or writes
 * it. The order is fixed when the plan is compiled (the same every run, on
 * every process running the same graph): a parameter used by several nodes
 * (a discriminator applied to real and fake batches) is reported after the
 * backward of the earliest of them. fn must not run plans or optimizers.
 * fn NULL removes the hook. No allocation. TG_ERR_ARG for f64 and
 * forward-only plans (they write no tg_param_grad); the graph is left as
 * it was. */
typedef void (*tg_grad_ready_fn)(void *ctx, tg_param *param);
tg_status tg_plan_on_grad_ready(tg_plan *p, tg_grad_ready_fn fn, void *ctx);

/* Data parallelism, part two: one plan's batch as a slice of a global batch.
 * Several processes that each run rows [row0, row0 + B) of a global batch
 * (every graph input's first dimension is the batch) compute the training
 * one process would with the whole batch - up to the order of floating-point
 * sums - when two things that look across rows look across the global batch:
 * dropout masks and batch normalization's statistics.
 *
 * Row offset: this plan's tensors hold rows row0.. of the global batch. Every
 * dropout mask the plan draws (forward, backward, and wherever a fused
 * kernel recomputes one) then keys element e of a tensor by its global
 * index, e + row0 * (elements per row: numel / d[0]), so the mask of a row
 * depends on where the row sits in the global batch, not in this plan's
 * slice, and a slice's masks are the whole batch's masks restricted to it.
 * Mask indices are taken modulo 2^32, as a whole-batch plan's are. 0 (the
 * default) is the plan's batch alone, as before. A plan whose backward runs
 * over a dropout computed by another plan of its set (tg_plan_opts.reuse)
 * recomputes that mask with the offset of the plan that ran it. TG_ERR_ARG
 * for row0 < 0. No allocation. */
tg_status tg_plan_set_row_offset(tg_plan *p, int64_t row0);
int64_t tg_plan_row_offset(const tg_plan *p);

/* The batch-sum hook: synchronized batch normalization (PyTorch's
 * SyncBatchNorm). When set, every training-mode batch_norm the plan runs
 * reduces over the global batch instead of its own rows: it writes its
 * per-channel partial sums over this plan's batch into x[0 .. n-1] - the
 * sums first, channel after channel, then x[n-1] = M, the number of values
 * per channel it summed - and calls fn(ctx, x, n), which must replace every
 * x[i] with the sum of x[i] over the processes (an all-reduce with MPI_SUM;
 * tg_dist_sync_batch_norm attaches one). The op then uses the global sums
 * and the global M everywhere: mean, biased variance, the running variance's
 * unbiased factor M / (M-1), and backward's terms sum dy / M and
 * sum(dy xhat) / M. The weight gradients (gamma, beta) stay this plan's own
 * sums, as every weight gradient does: averaging them over the processes
 * (tg_dist_avg) gives the global batch's, when every process has an equal
 * share. Forward makes one call per node (the sums of x and of x^2, which
 * is how the f32 kernels compute a batch's statistics), and so does
 * backward (the same two, recomputed from x as a backward without the hook
 * does, and the sums of dy and dy x). Eval-mode batch norms and eval plans
 * never call it.
 *
 * fn runs on the thread that called tg_plan_forward / tg_plan_backward,
 * never on a pool worker, between the node's own pool jobs, in the order of
 * the plan's schedule: the same calls with the same n, in the same order,
 * on every process running the same graph. n is 2 C + 1 in forward and
 * 4 C + 1 in backward for a batch_norm of C channels. x is a buffer the plan
 * allocates here, once: steps allocate nothing. fn must not run plans. A status other than
 * TG_OK from fn fails the run: tg_plan_forward / tg_plan_backward return
 * it, and the graph's error names the node. With an fn that leaves x as it
 * is (one process), results are the same bits as without a hook. fn NULL
 * removes the hook. TG_ERR_ARG for f64 plans (they run in one process,
 * for gradient checks); TG_ERR_NOMEM. */
typedef tg_status (*tg_batch_sum_fn)(void *ctx, double *x, int n);
tg_status tg_plan_on_batch_sums(tg_plan *p, tg_batch_sum_fn fn, void *ctx);

/* Value of a node after the last run: `out`, opts.outputs, kept nodes,
 * inputs and parameters; NULL for other nodes (their memory is reused) and
 * for f64 plans. Valid until the next run or tg_plan_free. */
const float *tg_plan_value(const tg_plan *p, tg_node n);
/* The scalar `out` of the last forward (either precision). */
double tg_plan_loss(const tg_plan *p);
/* Gradient of an input computed by the last backward (input_grads), f32 plans. */
const float *tg_plan_grad(const tg_plan *p, tg_node n);

/* Memory report: the arena this plan uses, and the sum of every buffer it
 * would need without reuse. */
size_t tg_plan_arena_bytes(const tg_plan *p);
size_t tg_plan_naive_bytes(const tg_plan *p);
int tg_plan_forward_len(const tg_plan *p);   /* nodes in the forward schedule */
int tg_plan_backward_len(const tg_plan *p);  /* nodes in the backward schedule */
/* 1 if backward computes a gradient for this parameter. */
int tg_plan_has_param_grad(const tg_plan *p, const tg_param *param);
/* Name of the kernel variant f32 plans use ("avx512", "avx2", "portable"):
 * the best this CPU runs, or the one TG_KERNEL in the environment names. */
const char *tg_kernel_name(void);
/* TG_OK when TG_KERNEL is unset or names a variant this CPU and build run;
 * else TG_ERR_ARG with the reason in msg (may be NULL), e.g. "TG_KERNEL=avx512:
 * this CPU cannot run the avx512 kernels (available: avx2, portable)". A
 * forced variant never falls back silently: while TG_KERNEL is invalid,
 * tg_plan_new refuses to compile f32 plans with this message. */
tg_status tg_kernel_check(char *msg, size_t len);

/* ------------------------------------------------------------- profiling */
/* Opt-in wall-time profile: while enabled, each node a plan runs adds its
 * time to a row per (op, pass), and each Adam/SGD step to an "adam"/"sgd" row
 * (pass "step"). Process-wide and unsynchronised: enable it only while a
 * single thread drives plans and optimizers. Off by default (cost: one flag
 * test per node). tg_profile_rows fills up to max rows (rows may be NULL) and
 * returns how many there are. */
typedef struct tg_profile_row {
    const char *what;   /* op name ("matmul", ...), "adam" or "sgd" */
    const char *pass;   /* "forward", "backward" or "step" */
    double seconds;     /* summed wall time */
    long calls;
} tg_profile_row;
void tg_profile_enable(int on);
void tg_profile_reset(void);
int tg_profile_rows(tg_profile_row *rows, int max);
/* The same profile per GEMM job (one call of the engine's GEMM driver: a
 * forward product, or a backward's input- and weight-gradient products run
 * as one job), keyed by shapes: "NN 64x512x784 epi" is op(A) not transposed,
 * op(B) not transposed, M x N x K, with a fused bias/activation epilogue.
 * Returns how many distinct jobs there are; fills up to max rows. */
typedef struct tg_profile_gemm {
    char shape[96];
    double flops;       /* multiply-adds x 2, per call */
    double seconds;     /* summed wall time */
    long calls;
} tg_profile_gemm;
int tg_profile_gemm_rows(tg_profile_gemm *rows, int max);

/* ------------------------------------------------------------ optimizers */
typedef struct tg_adam tg_adam;
/* Adam over one group with PyTorch semantics (bias-corrected). The optimizer
 * owns its moment buffers; the store must outlive it. NULL on bad arguments
 * (lr > 0, betas in [0, 1), eps > 0, a group with parameters) or no memory,
 * with the reason in *err (may be NULL). */
tg_adam *tg_adam_new(tg_params *ps, const char *group, float lr, float beta1,
                     float beta2, float eps, tg_error *err);
void tg_adam_free(tg_adam *a);
/* Split each step over a pool's threads (NULL: the caller's thread). The
 * update is element-wise, so the bits do not depend on the split. The pool
 * must outlive the optimizer or be unset first. */
tg_status tg_adam_set_pool(tg_adam *a, tg_pool *pool);
tg_status tg_adam_step(tg_adam *a);     /* no allocation */
int64_t tg_adam_steps(const tg_adam *a);
/* State, for checkpoints: the step count t and, per parameter of the group
 * (in store order), the first and second moment buffers (owned by the
 * optimizer, numel floats each). */
void tg_adam_set_steps(tg_adam *a, int64_t t);
int tg_adam_count(const tg_adam *a);
tg_param *tg_adam_param(const tg_adam *a, int i);
float *tg_adam_m(tg_adam *a, int i);
float *tg_adam_v(tg_adam *a, int i);
void tg_adam_set_lr(tg_adam *a, float lr);

typedef struct tg_sgd tg_sgd;
/* SGD with momentum over one group, PyTorch semantics (dampening 0):
 * b = momentum b + g (b = g on the first step); w -= lr b. */
tg_sgd *tg_sgd_new(tg_params *ps, const char *group, float lr, float momentum, tg_error *err);
void tg_sgd_free(tg_sgd *s);
tg_status tg_sgd_step(tg_sgd *s);       /* no allocation */

/* ----------------------------------------------------- moving averages */
typedef struct tg_ema tg_ema;
/* An exponential moving average of a group's values (a generator EMA),
 * state parameters included: after each optimizer step tg_ema_update sets
 * shadow = decay shadow + (1 - decay) value; the shadow starts at the
 * values. To run a plan with the averaged values, tg_ema_swap, run, and
 * tg_ema_swap again. No allocation after tg_ema_new; NULL on bad arguments
 * (decay in [0, 1), a group with parameters), with the reason in *err. */
tg_ema *tg_ema_new(tg_params *ps, const char *group, float decay, tg_error *err);
void tg_ema_free(tg_ema *e);
tg_status tg_ema_update(tg_ema *e);
tg_status tg_ema_swap(tg_ema *e);     /* exchange the values and the shadow */
/* For checkpoints: the group's parameters (store order) and their shadows. */
int tg_ema_count(const tg_ema *e);
tg_param *tg_ema_param(const tg_ema *e, int i);
float *tg_ema_shadow(tg_ema *e, int i);
float tg_ema_decay(const tg_ema *e);

/* ------------------------------------------------------ gradient checking */
typedef struct tg_gc_entry {
    char name[136];    /* "G/l0.w" for parameters, "input:x" for inputs */
    size_t numel;
    double max_abs;    /* max |analytic - numeric| */
    double max_rel;    /* max |a-n| / max(|a|, |n|, floor) */
    size_t worst;      /* flat index of the worst element */
    double analytic, numeric; /* at the worst element */
} tg_gc_entry;

typedef struct tg_gc_report {
    int n;
    tg_gc_entry *e;    /* n entries, owned by the report */
    double max_rel;    /* over all entries */
    int pass;          /* max_rel <= tol */
} tg_gc_report;

typedef struct tg_gc_opts {
    double h;          /* central-difference step; 0: 1e-6 */
    double tol;        /* pass threshold on max_rel; 0: 1e-5 */
    /* floor of the relative error's denominator, as a fraction of the
     * tensor's largest numeric gradient; 0: 1e-3 */
    double floor_frac;
    const char *groups; /* parameter groups to check; NULL: all ("*") */
    int skip_inputs;    /* 1: do not check float inputs */
    int eval;           /* 1: check the eval-mode graph (dropout off, running statistics) */
} tg_gc_opts;

/* Compare analytic gradients of scalar `loss` with central differences, all
 * in double precision through the f64 reference kernels. Dropout masks are
 * frozen during the check. Returns TG_OK and fills *rep (free it with
 * tg_gc_report_free) whether or not the check passes. */
tg_status tg_gradcheck(tg_graph *g, tg_node loss, const tg_gc_opts *opts,
                       tg_gc_report *rep);
void tg_gc_report_free(tg_gc_report *rep);

#ifdef __cplusplus
}
#endif
#endif
