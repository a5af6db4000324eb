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
 * "rng_shuffle" (four 64-bit words in hex). Floats are written with 9
 * significant digits, which round-trips a float exactly. */
#ifndef TG_CHECKPOINT_H
#define TG_CHECKPOINT_H

#include "gan_train.h"
#include "safetensors.h"

/* Metadata pairs as ckpt_save writes them (keys are string constants, values
 * in val). */
#define CKPT_MAX_META 48
typedef struct ckpt_meta {
    st_kv kv[CKPT_MAX_META];
    char val[CKPT_MAX_META][160];
    int n;
} ckpt_meta;

/* The configuration's pairs, what ckpt_config reads back: "format", "model",
 * "g_widths", ... "fresh_z" (no training state); replaces m's contents. */
void ckpt_config_meta(const gan_cfg *c, ckpt_meta *m);
/* Write r's complete state to path (atomically). 0 or -1 with a message. */
int ckpt_save(const char *path, gan_run *r, char *err, size_t len);
/* Read the configuration stored in an open checkpoint. */
int ckpt_config(const st_file *f, gan_cfg *c, char *err, size_t len);
/* Load parameters (and, if `training`, optimizer moments, step, epoch and
 * random streams) into a run built from the same configuration; shapes are
 * checked against the model. */
int ckpt_restore(const st_file *f, gan_run *r, int training, char *err, size_t len);
/* Load only G's parameters into a store that holds a generator of spec s. */
int ckpt_load_group(const st_file *f, tg_params *ps, const char *group, char *err, size_t len);

#endif
