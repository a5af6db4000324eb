/* gan_opts.h - train-gan's settings: the one table (gan_opts.c) that its
 * --help, its command-line parsing, the flags allowed with --resume and the
 * configuration its checkpoints store (checkpoint.c) all come from, and how
 * the MLP flags edit a preset before it becomes the run's layer lists. */
#ifndef TG_GAN_OPTS_H
#define TG_GAN_OPTS_H

#include "gan_train.h"
#include "settings.h"

/* The MLP flags (--z-dim, --g-hidden, --g-act, --d-hidden, --d-act,
 * --slope, --dropout, --init, --sigma): they edit the preset, as MLPs;
 * --g-arch / --d-arch replace a network by a layer list instead. */
typedef struct gan_knobs {
    int z_dim;
    set_width_list g_hidden, d_hidden;
    tg_act g_act, d_act;
    float slope, dropout, sigma;
    tg_init init;
    tg_seq_spec g_arch, d_arch;
} gan_knobs;

/* Everything train-gan's table reads and writes. */
typedef struct train_gan_opts {
    gan_cfg cfg;                /* the run's configuration; cfg.spec is built by gan_opts_build */
    /* the run's inputs (stored too, as ckpt_run remembers them) */
    const char *data, *classifier; /* NULL: not given */
    int limit, eval_every;      /* limit 0: all images; eval_every 0: never */
    /* command line only */
    const char *out, *resume;
    int quiet;
    gan_knobs k;
    unsigned char given[SET_MAX_ROWS]; /* which rows the command line gave */
} train_gan_opts;

extern const set_table gan_opts_table;

/* The table's defaults, the knobs from the "reference" preset (what
 * --help shows), and cfg.spec that preset. */
void gan_opts_defaults(train_gan_opts *o);
/* c = o->cfg with the preset's training defaults (gan_opts_preset_default)
 * in the rows the command line did not give, and its spec built: the preset
 * o->cfg.model, its MLP networks edited by the knobs the command line gave
 * (an MLP flag for a network that is a layer list is an error), then
 * --g-arch / --d-arch; checked
 * (gan_cfg_check). TG_ERR_ARG says why a combination is not valid. */
tg_status gan_opts_build(const train_gan_opts *o, gan_cfg *c, tg_error *err);
/* The training default preset brings for row `flag` ("2e-4"), or NULL. */
const char *gan_opts_preset_default(const char *preset, const char *flag);
/* Every preset's training defaults in words, for --help. */
const char *gan_opts_preset_help(void);
/* whether row `flag` was given */
int gan_opts_given(const train_gan_opts *o, const char *flag);

#endif
