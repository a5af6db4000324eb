/* checkpoint.h - GAN checkpoints as safetensors files.
 *
 * Tensors: every parameter as "<group>/<name>" (e.g. "G/l0.w", F32 with the
 * parameter's shape), and both Adam optimizers' moments as
 * "adam/<group>/m/<name>" and "adam/<group>/v/<name>"; with --ema, G's
 * moving average as "ema/G/<name>" (key "ema" = its decay; absent: 0).
 * "__metadata__" (strings): "format" = "tapegrad-gan/2"; the configuration,
 * one key per stored row of train-gan's table (gan_opts.c: "model",
 * "model_spec" = the model's text form (tg_gan_spec_format), "batch",
 * "lr_g", ... "log_every") and the run's inputs ("data", "classifier",
 * "eval_every", "limit"); the training state "step", "epoch", "adam_t_D",
 * "adam_t_G", "dropout_step", and the random streams "rng_noise",
 * "rng_shuffle" (four 64-bit words in hex); "config" = all of these as one
 * JSON object, for readers in other languages. Floats are written with 9
 * significant digits, which round-trips a float exactly.
 *
 * Checkpoints of format "tapegrad-gan/1" (written before the model had a
 * text form) still load: their model is the MLP of keys "g_widths",
 * "d_widths", "g_act", "d_act", "g_slope", "d_slope", "g_dropout",
 * "d_dropout", "g_out", "init" and "sigma", read as that format's writer
 * wrote them, and turned into layer lists (tg_gan_from_mlp: the same
 * parameters and graph). */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "gan_train.h"
#include "safetensors.h"

#define CKPT_FORMAT "tapegrad-gan/2"
#define CKPT_FORMAT_V1 "tapegrad-gan/1"
#define CKPT_PATH_MAX 4096

/* Where a run reads from and how often it evaluates, beside the training
 * configuration, so that `train-gan --resume RUN` alone continues the run
 * (flags may override them then). Metadata "data", "classifier" (absolute
 * paths; left out when empty or not valid UTF-8), "eval_every", "limit".
 * Checkpoints written before these keys existed read as "" and 0. */
typedef struct ckpt_run {
    char data[CKPT_PATH_MAX];       /* the MNIST folder */
    char classifier[CKPT_PATH_MAX]; /* --eval-every's classifier, "" if none */
    int eval_every;                 /* epochs between evaluations; 0: none */
    int limit;                      /* training images used; 0: all */
} ckpt_run;

/* Metadata pairs as ckpt_save writes them: keys are string constants, values
 * in buf (or kept by the caller: the run's paths). */
#define CKPT_MAX_META 48
#define CKPT_META_BYTES 16384
typedef struct ckpt_meta {
    st_kv kv[CKPT_MAX_META];
    char buf[CKPT_META_BYTES];
    size_t used;
    int n;
    int full; /* a pair did not fit */
} ckpt_meta;

/* The configuration's and run's pairs (run NULL: none), what ckpt_config
 * reads back: "format", then every stored row of train-gan's table. Replaces
 * m's contents; m points into run, which must outlive m's use. */
void ckpt_config_meta(const gan_cfg *c, const ckpt_run *run, ckpt_meta *m);
/* Write r's complete state and run (NULL: none) to path (atomically). */
tg_status ckpt_save(const char *path, gan_run *r, const ckpt_run *run, tg_error *err);
/* Read the configuration and the run's inputs (run may be NULL) stored in
 * an open checkpoint. Every value must be one the writer could have written
 * (spelled as it spells it, in the ranges train-gan accepts, the model's
 * text in its own form) and the configuration valid (gan_cfg_check), or it
 * is TG_ERR_FORMAT naming the key and value. */
tg_status ckpt_config(const st_file *f, gan_cfg *c, ckpt_run *run, tg_error *err);
/* The model as a format-1 checkpoint stores it (its MLP keys, read as that
 * format's writer wrote them, over the preset of key "model"), before
 * ckpt_config turns it into layer lists. */
tg_status ckpt_model_v1(const st_file *f, tg_gan_mlp *m, tg_error *err);
/* Load parameters (and, if `training`, optimizer moments, the moving
 * average, step, epoch and random streams) into a run built from the same configuration; shapes are
 * checked against the model. */
tg_status ckpt_restore(const st_file *f, gan_run *r, int training, tg_error *err);
/* Load one group's parameters (NULL: all) into a store holding them. */
tg_status ckpt_load_group(const st_file *f, tg_params *ps, const char *group, tg_error *err);
/* The same from the moving average's tensors ("ema/<group>/<name>"). */
tg_status ckpt_load_ema(const st_file *f, tg_params *ps, const char *group, tg_error *err);

#endif
