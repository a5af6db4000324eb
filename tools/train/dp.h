/* dp.h - data-parallel training for the recipes: the GAN trainer and the
 * classifier run on several processes started by mpirun, over
 * libtapegrad_mpi (tg_dist.h) when the build has MPI (dp_mpi.c), and as one
 * process without it (dp_none.c). Free of printing, like every recipe.
 *
 * A NULL dp is one process: every call below accepts it and does what one
 * process does (rank 0 of 1, no communication). dp_join returns NULL unless
 * a launcher started several processes, so a tapegrad started without
 * mpirun never initializes MPI.
 *
 * The global batch B is split evenly: rank r of N takes rows r B/N ..
 * (r+1) B/N - 1 of every global batch; every rank shuffles with the same
 * seed and draws the whole batch's noise, so the random streams advance as
 * in one process and a checkpoint holds nothing rank-specific.
 *
 * Collective calls (dp_join, dp_broadcast_params, dp_broadcast_blob,
 * dp_avg_new, dp_avg_wait, dp_agree) must be made by every rank in the same
 * order, whatever happened on the rank: a rank whose step failed still makes
 * them, and dp_agree tells every rank that it failed. */
#ifndef TG_DP_H
#define TG_DP_H

#include "tapegrad.h"

#include <stddef.h>
#include <stdint.h>

typedef struct dp dp;

/* The number of processes the launcher says this job has: 0 when no
 * launcher is seen (neither Open MPI's OMPI_COMM_WORLD_SIZE nor PMI_SIZE,
 * PMI_RANK, PMIX_RANK is set), -1 when one is seen but not the size. The
 * environment only; MPI is not touched. */
int dp_launched(void);
/* 1 if this build trains over MPI (libtapegrad_mpi), 0 if not. */
int dp_available(void);

/* Join the job: *out = NULL (one process; MPI untouched) when dp_launched()
 * is 0 or 1. Otherwise MPI starts (tg_dist_new); without MPI in the build
 * that is TG_ERR_STATE saying so, rather than N independent runs. */
tg_status dp_join(dp **out, tg_error *err);
/* Finalize MPI if dp_join started it. NULL: nothing. */
void dp_free(dp *d);
int dp_rank(const dp *d); /* NULL: 0 */
int dp_size(const dp *d); /* NULL: 1 */

/* Rank 0's values of every parameter (state included) on every rank. */
tg_status dp_broadcast_params(dp *d, tg_params *ps, tg_error *err);
/* Rank 0's bytes on every rank: on rank 0, *buf / *len are its bytes and
 * st0 whether it could read them (not TG_OK: nothing is sent, and every
 * other rank gets TG_ERR_IO "rank 0 could not ..."); on the other ranks
 * *buf is allocated here (free it). Setup only: it allocates. */
tg_status dp_broadcast_blob(dp *d, void **buf, size_t *len, tg_status st0, tg_error *err);

/* Gradient averaging: the averager of `group`'s gradients, attached to plan
 * p (its all-reduces start from p's backward). p NULL: not attached, every
 * all-reduce starts in dp_avg_wait, after backward (the same averages; the
 * benchmarks use it to time the communication that backward hides). NULL
 * d: *out = NULL. */
typedef struct dp_avg dp_avg;
tg_status dp_avg_new(dp_avg **out, dp *d, tg_params *ps, const char *group, tg_plan *p, tg_error *err);
/* After p's backward, or in its place when this rank's step failed (the
 * all-reduces still run; the averages are then not used): the gradients
 * are the averages over the ranks. NULL: TG_OK. No allocation. */
tg_status dp_avg_wait(dp_avg *a, tg_error *err);
void dp_avg_free(dp_avg *a);
/* What an averager has done so far (counters since dp_avg_new; a benchmark
 * takes differences). NULL a, or a build without MPI: all zero. */
typedef struct dp_stats {
    int buckets;           /* all-reduces per step */
    size_t bytes_per_step; /* gradient bytes this rank hands to all-reduce per step */
    long steps;            /* completed waits */
    long early_buckets;    /* buckets started from backward's hook (the rest started in the wait) */
    double wait_seconds;   /* total time inside dp_avg_wait: the communication backward did not hide */
} dp_stats;
void dp_avg_stats(const dp_avg *a, dp_stats *st);

/* The collective check, once per iteration (and after each step of setup
 * or an epoch's outputs): x[0..n) (n <= DP_AGREE_MAX) are this rank's
 * values and become their sums over the ranks; st and mine this rank's
 * outcome. TG_OK on every rank if every rank's st was TG_OK; otherwise,
 * on every rank, the first failing rank's status and err = "rank R:
 * <its message>" (one process: st and mine, unchanged). No allocation. */
#define DP_AGREE_MAX 8
tg_status dp_agree(dp *d, tg_status st, const tg_error *mine, double *x, int n, tg_error *err);
/* Total seconds this rank spent in dp_agree's all-reduce (waiting for the
 * slowest rank included), and how many calls; NULL d: 0. */
double dp_agree_seconds(const dp *d, long *calls);

/* ---- the global batch: what looks across the rows of a batch ---- */
/* Dropout masks keyed by the global sample: p's batch holds rows row0.. of
 * the global batch (tg_plan_set_row_offset). NULL d or one rank: nothing. */
tg_status dp_plan_rows(dp *d, tg_plan *p, int64_t row0, tg_error *err);
/* Training-mode batch normalization in p over the global batch: its sums
 * all-reduced (tg_dist_sync_batch_norm). NULL d or one rank: nothing. */
tg_status dp_sync_batch_norm(dp *d, tg_plan *p, tg_error *err);

/* ---- fault injection, for tests only ----
 * TG_FAULT_RANK=R TG_FAULT_STEP=S [TG_FAULT=nan|kill|io]: on rank R (of any
 * count, 0 for one process), when its step counter is S: "nan" (the
 * default) makes the batch's first input NaN so the loss is NaN; "kill"
 * sends the process SIGKILL; "io" makes train-gan's checkpoint written
 * after that step fail as a write error would. Unset: never. */
typedef enum dp_fault_kind { DP_FAULT_NONE, DP_FAULT_NAN, DP_FAULT_KILL, DP_FAULT_IO } dp_fault_kind;
/* The fault rank `rank` is told to inject: kind, and *step the step. */
dp_fault_kind dp_fault(int rank, int64_t *step);

#endif
