/* fuzz_gan_cfg.h - the train-gan configuration round trip shared by
 * fuzz_checkpoint.c and fuzz_cli_args.c: a configuration and the run's
 * inputs written as a checkpoint's metadata (ckpt_config_meta, from
 * train-gan's table, and st_write_mem) must read back (ckpt_config) as the
 * same configuration, bit for bit, log_every and the model's text included,
 * and the same data folder, classifier, eval_every and limit. That is what
 * `train-gan --resume` relies on. */
#ifndef TG_FUZZ_GAN_CFG_H
#define TG_FUZZ_GAN_CFG_H

#include "checkpoint.h"
#include "fuzz.h"

static inline int fuzz_same_f32(float a, float b) { return !memcmp(&a, &b, sizeof a); }

/* NULL if a and b are the same configuration, else the first field that differs */
static inline const char *fuzz_gan_cfg_diff(const gan_cfg *a, const gan_cfg *b)
{
    static char ta[8192], tb[8192];
    if (strcmp(a->model, b->model)) return "model";
    if (tg_gan_spec_format(&a->spec, ta, sizeof ta) != TG_OK || tg_gan_spec_format(&b->spec, tb, sizeof tb) != TG_OK)
        return "model_spec (does not format)";
    if (strcmp(ta, tb)) return "model_spec";
    if (a->spec.init != b->spec.init || !fuzz_same_f32(a->spec.sigma, b->spec.sigma)) return "init or sigma";
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
    if (!fuzz_same_f32(a->ema, b->ema)) return "ema";
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
    static ckpt_meta m; /* 17 KB: off the stack */
    static ckpt_run none, back_run;
    ckpt_config_meta(c, run, &m);
    FUZZ_CHECK(!m.full, "a %s configuration does not fit the metadata", origin);
    unsigned char *buf = NULL;
    size_t len = 0;
    tg_error err = {0};
    FUZZ_CHECK(st_write_mem(NULL, 0, m.kv, (size_t)m.n, &buf, &len, &err) == TG_OK,
               "a %s configuration does not write: %s", origin, err.msg);
    st_file *f = NULL;
    FUZZ_CHECK(st_open_mem(buf, len, &f, &err) == TG_OK, "its metadata does not read: %s", err.msg);
    gan_cfg back;
    FUZZ_CHECK(ckpt_config(f, &back, &back_run, &err) == TG_OK, "a %s configuration is refused on resume: %s", origin,
               err.msg);
    const char *d = fuzz_gan_cfg_diff(c, &back);
    FUZZ_CHECK(d == NULL, "a %s configuration reads back with another %s", origin, d ? d : "");
    d = fuzz_run_diff(run ? run : &none, &back_run);
    FUZZ_CHECK(d == NULL, "a %s run's inputs read back with another %s", origin, d ? d : "");
    st_close(f);
    free(buf);
}

#endif
