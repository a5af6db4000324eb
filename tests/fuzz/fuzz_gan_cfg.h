/* fuzz_gan_cfg.h - the train-gan configuration round trip shared by
 * fuzz_checkpoint.c and fuzz_cli_args.c: a configuration and the run's
 * inputs written as a checkpoint's metadata (ckpt_config_meta, ckpt_run_meta,
 * st_write_mem) must read back (ckpt_config, ckpt_run_read) as the same
 * configuration, bit for bit, log_every included, and the same data folder,
 * classifier, eval_every and limit. That is what `train-gan --resume` relies
 * on. */
#ifndef TG_FUZZ_GAN_CFG_H
#define TG_FUZZ_GAN_CFG_H

#include "checkpoint.h"
#include "fuzz.h"

static inline int fuzz_same_f32(float a, float b) { return !memcmp(&a, &b, sizeof a); }

static inline const char *fuzz_mlp_diff(const tg_mlp_spec *a, const tg_mlp_spec *b)
{
    if (a->n_layers != b->n_layers) return "n_layers";
    for (int k = 0; k <= a->n_layers && k <= TG_MLP_MAX_LAYERS; k++)
        if (a->widths[k] != b->widths[k]) return "widths";
    if (a->hidden != b->hidden || a->output != b->output) return "activation";
    if (!fuzz_same_f32(a->slope, b->slope)) return "slope";
    if (!fuzz_same_f32(a->dropout, b->dropout)) return "dropout";
    if (strcmp(a->group, b->group) || strcmp(a->prefix, b->prefix)) return "group";
    return NULL;
}

/* NULL if a and b are the same configuration, else the first field that differs */
static inline const char *fuzz_gan_cfg_diff(const gan_cfg *a, const gan_cfg *b)
{
    const char *d;
    if (strcmp(a->model, b->model)) return "model";
    if ((d = fuzz_mlp_diff(&a->spec.G, &b->spec.G))) return d;
    if ((d = fuzz_mlp_diff(&a->spec.D, &b->spec.D))) return d;
    if (a->spec.init != b->spec.init) return "init";
    if (!fuzz_same_f32(a->spec.sigma, b->spec.sigma)) return "sigma";
    if (a->batch != b->batch) return "batch";
    if (a->epochs != b->epochs) return "epochs";
    if (a->seed != b->seed) return "seed";
    if (!fuzz_same_f32(a->lr_g, b->lr_g) || !fuzz_same_f32(a->lr_d, b->lr_d)) return "lr";
    if (!fuzz_same_f32(a->beta1, b->beta1) || !fuzz_same_f32(a->beta2, b->beta2)) return "betas";
    if (!fuzz_same_f32(a->eps, b->eps)) return "eps";
    if (!fuzz_same_f32(a->real_label, b->real_label)) return "real_label";
    if (a->saturating != b->saturating) return "g_loss";
    if (a->fresh_z != b->fresh_z) return "fresh_z";
    if (a->log_every != b->log_every) return "log_every";
    return NULL;
}

/* what a path reads back as: itself, or "" when the writer leaves it out */
static inline const char *fuzz_stored_path(const char *p) { return st_utf8_valid(p) ? p : ""; }

/* NULL if run reads back as back, else the first field that differs */
static inline const char *fuzz_run_diff(const ckpt_run *run, const ckpt_run *back)
{
    if (strcmp(fuzz_stored_path(run->data), back->data)) return "data";
    if (strcmp(fuzz_stored_path(run->classifier), back->classifier)) return "classifier";
    if (run->eval_every != back->eval_every) return "eval_every";
    if (run->limit != back->limit) return "limit";
    return NULL;
}

/* Write c and run (NULL: none) as checkpoint metadata, read them back: they
 * must be accepted and equal (no run reads back as "" and 0). */
static inline void fuzz_gan_cfg_round_trip(const gan_cfg *c, const ckpt_run *run, const char *origin)
{
    static ckpt_meta m; /* 15 KB: off the stack */
    static ckpt_run none, back_run;
    ckpt_config_meta(c, &m);
    ckpt_run_meta(c, run, &m);
    unsigned char *buf = NULL;
    size_t len = 0;
    char err[512] = "";
    FUZZ_CHECK(st_write_mem(NULL, 0, m.kv, (size_t)m.n, &buf, &len, err, sizeof err) == ST_OK,
               "a %s configuration does not write: %s", origin, err);
    st_file *f = NULL;
    FUZZ_CHECK(st_open_mem(buf, len, &f, err, sizeof err) == ST_OK, "its metadata does not read: %s", err);
    gan_cfg back;
    FUZZ_CHECK(ckpt_config(f, &back, err, sizeof err) == 0, "a %s configuration is refused on resume: %s", origin,
               err);
    const char *d = fuzz_gan_cfg_diff(c, &back);
    FUZZ_CHECK(d == NULL, "a %s configuration reads back with another %s", origin, d ? d : "");
    FUZZ_CHECK(ckpt_run_read(f, &back_run, err, sizeof err) == 0, "a %s run's inputs are refused on resume: %s",
               origin, err);
    d = fuzz_run_diff(run ? run : &none, &back_run);
    FUZZ_CHECK(d == NULL, "a %s run's inputs read back with another %s", origin, d ? d : "");
    st_close(f);
    free(buf);
}

#endif
