/* tg_dist.h - data-parallel training over MPI (libtapegrad_mpi, built with
 * meson's -Dmpi=enabled or auto when Open MPI is found).
 *
 * Synchronous data parallelism, as PyTorch's DistributedDataParallel and
 * Horovod do it: every process (an MPI rank) holds the same model, runs
 * forward and backward on its own share of the global batch, the gradients
 * are averaged over the ranks with an all-reduce, and every rank takes the
 * same optimizer step, so the weights stay identical everywhere. When the
 * loss is a mean over the batch and every rank gets an equal share, the
 * average of the ranks' gradients is the gradient of the whole batch.
 *
 *   tg_error err;
 *   tg_dist *d;
 *   tg_dist_avg *avg;
 *   tg_dist_new(&d, &argc, &argv, &err);               // MPI_Init_thread if needed
 *   ... build the store ps, a graph of batch B / size rows, plan p, Adam opt
 *   tg_dist_broadcast(d, ps, "*", &err);               // rank 0's values everywhere
 *   tg_dist_avg_new(&avg, d, ps, "D", NULL, &err);     // buckets planned here
 *   tg_dist_avg_attach(avg, p, &err);                  // the plan's gradient-ready hook
 *   tg_plan_set_row_offset(p, (int64_t)tg_dist_rank(d) * (B / size)); // dropout masks: its rows
 *   tg_dist_sync_batch_norm(d, p, &err);               // batch_norm: the global batch's statistics
 *   for (;;) {
 *       ... bind this rank's rows of the batch
 *       tg_plan_forward(p);
 *       tg_plan_backward(p);        // each bucket's all-reduce starts inside, when final
 *       tg_dist_avg_wait(avg, &err);                   // gradients are the average now
 *       tg_adam_step(opt);
 *   }
 *   tg_dist_avg_free(avg);
 *   tg_dist_free(d);                                   // MPI_Finalize if tg_dist_new began MPI
 *
 * Gradient buckets. The averager packs a group's gradients into buckets of
 * about opts.bucket_bytes, in reverse store order (the order backward
 * finishes a layered model's parameters). Attached to a plan, it starts a
 * bucket's all-reduce (sum, in place) from the plan's gradient-ready hook as
 * soon as every gradient in it is final, while the rest of the backward
 * runs; tg_dist_avg_wait completes them and writes sum / size back into the
 * gradients. Buckets start in index order on every rank (MPI requires the
 * same order of collectives everywhere). Every buffer is allocated by
 * tg_dist_avg_new; a step allocates nothing in this library (Open MPI's
 * persistent collectives are used where the build has them, so the
 * all-reduce schedule is built once too).
 *
 * Determinism. Each element is the sum of the ranks' values in MPI's order,
 * times 1/size, whether the all-reduces overlap the backward or not. With
 * two ranks the sum is a + b, which commutes exactly, so the bucket size
 * does not change the bits either; with more, MPI picks its reduction
 * algorithm by message size and the bucket size may change the last bits.
 * Run to run, the bits are the same for the same ranks, buckets and MPI
 * configuration.
 *
 * Threads. Every call here, and every plan with an attached averager or
 * synchronized batch normalization, must run on the thread that initialized
 * MPI (MPI_THREAD_FUNNELED): tapegrad's pool workers never call MPI.
 *
 * Errors: every call returns a tg_status and, given a tg_error, a message
 * naming what failed (TG_ERR_IO and MPI's own message for MPI errors: the
 * library's communicator returns errors rather than aborting). The collective calls
 * (tg_dist_new, _broadcast, _mean, _avg_new, _avg_wait) must be made by
 * every rank in the same order; shape mismatches between the ranks' stores
 * are reported on every rank. */
#ifndef TG_DIST_H
#define TG_DIST_H

#include "tapegrad.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tg_dist tg_dist;

/* Join the MPI job: MPI_Init_thread (FUNNELED) unless MPI is initialized
 * already (then it must provide FUNNELED or more), and a private duplicate
 * of MPI_COMM_WORLD. argc, argv may be NULL. Collective. */
tg_status tg_dist_new(tg_dist **out, int *argc, char ***argv, tg_error *err);
/* Free the communicator; MPI_Finalize if tg_dist_new initialized MPI. NULL: no-op. */
void tg_dist_free(tg_dist *d);
int tg_dist_rank(const tg_dist *d); /* 0 .. size-1 */
int tg_dist_size(const tg_dist *d);

/* Copy rank 0's values of the matching parameters, state included
 * (batch-norm running statistics), to every rank. groups: as
 * tg_plan_opts.groups ("D", "G,D", "*"). The ranks' stores must hold the
 * same names and shapes in the same order (checked first). Collective. */
tg_status tg_dist_broadcast(tg_dist *d, tg_params *ps, const char *groups, tg_error *err);

/* x[i] = the mean of x[i] over the ranks, for i < n (losses, metrics).
 * Collective. */
tg_status tg_dist_mean(tg_dist *d, double *x, int n, tg_error *err);

/* ---- the global batch: dropout masks and batch normalization ----
 * Gradient averaging alone makes the ranks train as one process on the
 * whole batch only when nothing looks across the rows of a batch. Two ops
 * do:
 *   - dropout: give each rank's plans the offset of its rows in the global
 *     batch, tg_plan_set_row_offset(p, rank * B) (tapegrad.h), and every rank
 *     draws the masks one process would draw for those rows of the whole
 *     batch (the ranks' graphs share the seed);
 *   - batch normalization: tg_dist_sync_batch_norm below, and every
 *     training-mode batch_norm normalizes with the global batch's mean and
 *     variance, updates the running statistics with them (the same values on
 *     every rank), and backpropagates through them.
 * With both, and tg_dist_avg for the gradients, N ranks with B rows each
 * train as one process with N B rows, up to the order of floating-point
 * sums. */

/* Attach the batch-sum hook (tg_plan_on_batch_sums) to p: every
 * training-mode batch_norm of p sums its per-channel statistics over the
 * ranks with MPI_Allreduce (MPI_SUM, doubles) on the library's
 * communicator: one all-reduce of 2 C + 1 doubles per node in forward, one
 * of 4 C + 1 in backward. Every rank must then run p whenever one does (the
 * all-reduces are collective), on the thread that initialized MPI; an MPI
 * failure fails the run (tg_plan_forward / tg_plan_backward return
 * TG_ERR_IO and the graph's error says so). Independent of tg_dist_avg_attach
 * (the gradient-ready hook): a plan may have both. Allocates the plan's
 * buffer once; steps allocate nothing in tapegrad. Remove with
 * tg_plan_on_batch_sums(p, NULL, NULL). TG_ERR_ARG for f64 plans. Not
 * collective itself. */
tg_status tg_dist_sync_batch_norm(tg_dist *d, tg_plan *p, tg_error *err);

/* ---- gradient averaging ---- */
typedef struct tg_dist_avg tg_dist_avg;

typedef struct tg_dist_avg_opts {
    size_t bucket_bytes; /* 0: 2 MiB. A parameter larger than this is a bucket of its own. */
    /* 1: start each bucket with MPI_Iallreduce instead of a persistent
     * all-reduce (MPI then builds its schedule, and allocates, every step) */
    int nonblocking;
} tg_dist_avg_opts;

/* An averager for the gradients of the matching trainable parameters
 * (groups as above; state parameters have no gradient). Plans the buckets
 * and allocates every buffer. Collective; the ranks' stores must match. */
tg_status tg_dist_avg_new(tg_dist_avg **out, tg_dist *d, tg_params *ps, const char *groups,
                          const tg_dist_avg_opts *opts, tg_error *err);
/* Call tg_dist_avg_wait first if a backward has run since the last wait. */
void tg_dist_avg_free(tg_dist_avg *a);
/* Start each bucket from p's gradient-ready hook (tg_plan_on_grad_ready;
 * it replaces any hook p had). p must compute a gradient for every
 * parameter of the averager. Several plans may be attached (a GAN's G step
 * and a plan over the same group at another batch size); one backward per
 * wait. Remove with tg_plan_on_grad_ready(p, NULL, NULL). */
tg_status tg_dist_avg_attach(tg_dist_avg *a, tg_plan *p, tg_error *err);
/* The hook itself, for a caller composing hooks: ctx is the averager.
 * Parameters of other groups are ignored. */
void tg_dist_avg_grad_ready(void *ctx, tg_param *param);
/* After backward, before the optimizer step: start the buckets the hook has
 * not started (all of them without a hook: one all-reduce per bucket after
 * backward), wait for every all-reduce, write the averages into the
 * gradients. No allocation. Collective. */
tg_status tg_dist_avg_wait(tg_dist_avg *a, tg_error *err);

typedef struct tg_dist_stats {
    int buckets;
    int persistent;        /* 1: persistent all-reduces (schedules built once), 0: MPI_Iallreduce */
    size_t bytes_per_step; /* gradient bytes this rank hands to all-reduce per step */
    long steps;            /* completed waits */
    long early_buckets;    /* buckets started from the hook, during a backward (the rest start in wait) */
    double wait_seconds;   /* total time inside tg_dist_avg_wait (communication not hidden by backward) */
    double last_wait_seconds;
} tg_dist_stats;
tg_status tg_dist_avg_stats(const tg_dist_avg *a, tg_dist_stats *st);
/* Bucket b's parameters: how many, and the i-th (in the order packed). */
int tg_dist_avg_bucket_len(const tg_dist_avg *a, int b);
tg_param *tg_dist_avg_bucket_param(const tg_dist_avg *a, int b, int i);

#ifdef __cplusplus
}
#endif
#endif
