/* fuzz_gan_cfg.h - the train-gan configuration round trip shared by
 * fuzz_checkpoint.c and fuzz_cli_args.c: a configuration written as a
 * checkpoint's metadata (ckpt_config_meta, st_write_mem) must read back
 * (ckpt_config) as the same configuration, bit for bit. That is what
 * `train-gan --resume` relies on. */
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
    return NULL;
}

/* Write c as checkpoint metadata, read it back: it must be accepted and equal. */
static inline void fuzz_gan_cfg_round_trip(const gan_cfg *c, const char *origin)
{
    ckpt_meta m;
    ckpt_config_meta(c, &m);
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
    st_close(f);
    free(buf);
}

#endif
