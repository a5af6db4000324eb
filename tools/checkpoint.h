/* checkpoint.h - GAN checkpoints as safetensors files.
 *
 * Tensors: every parameter as "<group>/<name>" (e.g. "G/l0.w", F32 with the
 * parameter's shape), and both Adam optimizers' moments as
 * "adam/<group>/m/<name>" and "adam/<group>/v/<name>".
 * "__metadata__" (strings): "format" = "tapegrad-gan/1"; the whole training
 * configuration as one key per setting ("model", "g_widths" = "100,128,...",
 * "batch", "lr_g", ... see ckpt_save); "config" = the same as a JSON object
 * for readers in other languages; the training state "step", "epoch",
 * "adam_t_D", "adam_t_G", "dropout_step", and the random streams "rng_noise",
 * "rng_shuffle" (four 64-bit words in hex); the run's inputs and logging
 * (ckpt_run, and "log_every"). Floats are written with 9 significant digits,
 * which round-trips a float exactly. */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "gan_train.h"
#include "safetensors.h"

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

/* Metadata pairs as ckpt_save writes them (keys are string constants, values
 * in val, or kept by the caller: ckpt_run_meta's paths). */
#define CKPT_MAX_META 48
typedef struct ckpt_meta {
    st_kv kv[CKPT_MAX_META];
    char val[CKPT_MAX_META][160];
    int n;
} ckpt_meta;

/* The configuration's pairs, what ckpt_config reads back: "format", "model",
 * "g_widths", ... "fresh_z" (no training state, no "log_every"); replaces
 * m's contents. */
void ckpt_config_meta(const gan_cfg *c, ckpt_meta *m);
/* Append the run's pairs, what ckpt_config ("log_every") and ckpt_run_read
 * read back: "log_every", and with run (NULL: none) "data" and "classifier"
 * (each left out when empty or not valid UTF-8; m points into run, which must
 * outlive m's use), "eval_every", "limit". */
void ckpt_run_meta(const gan_cfg *c, const ckpt_run *run, ckpt_meta *m);
/* Write r's complete state and run (NULL: none) to path (atomically). 0 or
 * -1 with a message. */
int ckpt_save(const char *path, gan_run *r, const ckpt_run *run, char *err, size_t len);
/* Read the configuration stored in an open checkpoint (log_every: the
 * default when the checkpoint has none). Every value must be one the writer
 * could have written (names spelled as it spells them, integers as whole
 * decimal numbers) and the configuration valid (gan_cfg_check), or it is an
 * error naming the value. */
int ckpt_config(const st_file *f, gan_cfg *c, char *err, size_t len);
/* Read the run's inputs stored in an open checkpoint, as strictly: a path is
 * not empty and shorter than CKPT_PATH_MAX, eval_every and limit are whole
 * numbers in the ranges train-gan accepts (0: none, all). */
int ckpt_run_read(const st_file *f, ckpt_run *run, char *err, size_t len);
/* Load parameters (and, if `training`, optimizer moments, step, epoch and
 * random streams) into a run built from the same configuration; shapes are
 * checked against the model. */
int ckpt_restore(const st_file *f, gan_run *r, int training, char *err, size_t len);
/* Load only G's parameters into a store that holds a generator of spec s. */
int ckpt_load_group(const st_file *f, tg_params *ps, const char *group, char *err, size_t len);

#endif
