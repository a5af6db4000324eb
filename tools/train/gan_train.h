/* gan_train.h - the GAN training iteration, free of files and printing
 * (tools/cli/cmd_train_gan.c does the I/O). The standard idiom, as in PyTorch's DCGAN
 * example: z ~ N(0, I); fake = G(z);
 *   D step: loss_D = BCE(D(x), real_label) + BCE(D(detach(fake)), 0); Adam on D
 *   G step: loss_G = BCE(D(fake), 1) through the updated D into G; Adam on G
 * The G step reuses the fake the D step computed (one forward of G per
 * iteration) unless fresh_z asks for a new z, and then recomputes it. */
#ifndef TG_GAN_TRAIN_H
#define TG_GAN_TRAIN_H

#include "dp.h"
#include "tg_models.h"

#include <stddef.h>

#define GAN_Z_MAX 65536 /* the widest noise train-gan draws (--z-dim, or G's 'in N') */

typedef struct gan_cfg {
    char model[32];        /* the preset the spec started from */
    tg_gan_spec spec;      /* G and D as layer lists, init, sigma */
    int batch, epochs, threads, log_every;
    uint64_t seed;
    float lr_g, lr_d, beta1, beta2, eps, real_label;
    int saturating, fresh_z;
    float ema;             /* decay of G's moving average; 0: none */
} gan_cfg;

/* train-gan's defaults (gan_opts.c's table) with a preset's model; TG_ERR_ARG
 * for an unknown preset */
tg_status gan_cfg_defaults(gan_cfg *c, const char *preset, tg_error *err);
/* Is c a configuration gan_init can build and train: a valid GAN spec
 * (tg_gan_check: G's output as wide as D's input, D's output 1) whose G
 * input is at most GAN_Z_MAX wide, learning rates and eps positive normal
 * floats, betas and ema in [0, 1), sigma >= 0, real label finite, batch >= 1,
 * epochs >= 0? TG_OK, or TG_ERR_ARG saying why. */
tg_status gan_cfg_check(const gan_cfg *c, tg_error *err);

typedef struct gan_stats {
    double loss_d, loss_g;
    double d_real, d_fake;     /* mean D(x), mean D(G(z)) (before the D update) */
    double gnorm_d, gnorm_g;   /* L2 norms of the gradients Adam applied, or
                                  NaN when gan_run.want_norms was 0 */
} gan_stats;

#define GAN_FIXED 64           /* fixed-noise samples drawn after each epoch */

typedef struct gan_run {
    gan_cfg cfg;               /* cfg.batch: the global batch */
    tg_params *ps;
    tg_graph *g;
    tg_pool *pool;
    tg_gan_graph gg;
    tg_plan *pd, *pg;
    tg_adam *ad, *ag;
    float *z, *x;              /* bound to gg.z, gg.x: this rank's rows */
    float *zg;                 /* the global batch's noise; z is this rank's rows of it */
    /* data parallel (dp.h): rank `rank` of `size` holds rows rank * rows ..
     * of each global batch of cfg.batch = size * rows; dp NULL: one process */
    dp *dp;
    int rank, size, rows;
    dp_avg *avg_d, *avg_g;     /* the gradient averagers of the D and G steps */
    int no_overlap;            /* set before gan_dp_start: the averagers are not attached to
                                  the plans, every all-reduce starts after backward (benchmarks:
                                  the communication backward hides); 0 (gan_init_dp's) for training */
    dp_fault_kind fault;       /* tests: fault injected at step fault_step */
    int64_t fault_step;
    tg_rng noise, shuffle;     /* streams that training advances */
    int64_t step;              /* iterations done */
    int want_norms;            /* compute gradient norms in the next steps (a
                                  pass over every gradient: ~15% of a step) */
    int epoch;                 /* epochs done */
    tg_ema *ema;               /* cfg.ema > 0: G's moving average, updated after every G step */
    /* sampling: G alone on fixed noise, eval mode */
    tg_graph *sg;
    tg_plan *sp;
    tg_node sz, sout;
    float *fixed_z;
} gan_run;

/* Build everything and initialize parameters from cfg->seed. */
tg_status gan_init(gan_run *r, const gan_cfg *c, tg_error *err);
/* The same as rank dp_rank(d) of dp_size(d) (d NULL: one process):
 * cfg.batch must divide by the size (TG_ERR_ARG naming both), the graphs
 * hold batch / size rows. Parameters are as gan_init makes them; call
 * gan_dp_start once they are final (after a checkpoint is restored). */
tg_status gan_init_dp(gan_run *r, const gan_cfg *c, dp *d, tg_error *err);
/* Collective, on a run of gan_init_dp every rank built (agree on that
 * first: dp_agree): rank 0's parameters on every rank, the gradient
 * averagers attached to the D and G steps (not attached with r->no_overlap),
 * the dropout rows and batch norm set up. One process: nothing. */
tg_status gan_dp_start(gan_run *r, tg_error *err);
void gan_free(gan_run *r);
/* One iteration on a batch already copied into r->x (this rank's rows).
 * TG_ERR_NONFINITE on a non-finite loss (parameters are then not updated by
 * that step). On several ranks it is collective: a rank that fails still
 * takes part in the step's all-reduces, every rank returns the first
 * failing rank's status ("rank R: ..."), and st holds the means over the
 * ranks. */
tg_status gan_step(gan_run *r, gan_stats *st, tg_error *err);
/* The same with the noise given: z (batch x zdim) for both steps (ignored
 * for the G step when fresh_z, which then needs z2). For tests that replay
 * another implementation's trajectory. */
tg_status gan_step_z(gan_run *r, const float *z, const float *z2, gan_stats *st, tg_error *err);
/* Exchange G's values with its moving average's (nothing without
 * cfg.ema): run G between two calls to sample with the average. */
tg_status gan_ema_swap(gan_run *r);
/* G(fixed noise), GAN_FIXED x xdim in [-1, 1], in eval mode (batch_norm on
 * its running statistics) with the moving average's values if there is one;
 * NULL on failure */
const float *gan_fixed_samples(gan_run *r);
/* per-pixel standard deviation across the fixed samples, averaged: ~0 when
 * the generator has collapsed to one output */
double gan_sample_diversity(const float *samples, int n, int dim);
/* a shuffled order of n indices from r->shuffle (Fisher-Yates) */
void gan_shuffle(gan_run *r, int *perm, int n);

#endif
