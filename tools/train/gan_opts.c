/* gan_opts.c - train-gan's table of settings (gan_opts.h): one row per flag
 * or stored value. A table, so longer than a function should be; the rest
 * of the file is how the MLP flags edit a preset. */
#include "gan_opts.h"

#include "checkpoint.h"
#include "model_settings.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define O(member) offsetof(train_gan_opts, member)
#define NETS_G 1u /* the MLP flags that edit G's layers, which --g-arch replaces */
#define NETS_D 2u

static const char *const g_losses[] = {"nonsaturating", "saturating", NULL};

/* Rows in the order --help lists them. Keys are what checkpoints store
 * (checkpoint.h); a row without a key is not stored, but the model flags
 * are, through "model_spec", the spec they build. */
static const set_row rows[] = {
    {.flag = "--data", .key = "data", .type = &set_text, .off = O(data), .hi = CKPT_PATH_MAX - 1, .arg = "DIR",
     .help = "MNIST folder (default: $TAPEGRAD_DATA, else data/mnist; with --resume, the run's own)",
     .flags = SET_RESUME | SET_OPTIONAL_KEY},
    {.flag = "--out", .type = &set_text, .off = O(out), .def = "runs/gan", .arg = "RUN_DIR", .help = "new run folder"},
    {.flag = "--resume", .type = &set_text, .off = O(resume), .arg = "RUN_DIR",
     .help = "continue a run from its checkpoint (same bits as an uninterrupted run). The checkpoint remembers the "
             "data folder, --classifier, --log-every, --eval-every and --limit; only the flags marked [resume] may be "
             "given with it (a moved data folder: --data)",
     .flags = SET_RESUME | SET_IS_RESUME},
    {.flag = "--model", .key = "model", .type = &set_preset, .off = O(cfg.model), .def = "reference", .arg = "NAME",
     .help = "the preset the model starts from"},
    {.flag = "--epochs", .key = "epochs", .type = &set_int, .off = O(cfg.epochs), .lo = 1, .hi = 100000, .def = "30",
     .arg = "N", .help = "total epochs", .flags = SET_RESUME},
    {.flag = "--batch", .key = "batch", .type = &set_int, .off = O(cfg.batch), .lo = 1, .hi = 65536, .def = "64",
     .arg = "N", .help = "batch size; the last partial batch of an epoch is dropped (graphs have fixed shapes)"},
    {.flag = "--seed", .key = "seed", .type = &set_u64, .off = O(cfg.seed), .lo = 0, .hi = 2147483647, .def = "1",
     .arg = "N", .help = "seed of every random stream"},
    {.flag = "--threads", .type = &set_int, .off = O(cfg.threads), .lo = 1, .hi = 64, .def = "2", .arg = "N",
     .help = "worker threads", .flags = SET_RESUME},
    {.flag = "--lr-g", .key = "lr_g", .type = &set_pos_float, .off = O(cfg.lr_g), .hi = 10, .def = "2e-4", .arg = "X",
     .help = "G's Adam learning rate"},
    {.flag = "--lr-d", .key = "lr_d", .type = &set_pos_float, .off = O(cfg.lr_d), .hi = 10, .def = "2e-4", .arg = "X",
     .help = "D's Adam learning rate"},
    {.flag = "--beta1", .key = "beta1", .type = &set_unit_float, .off = O(cfg.beta1), .def = "0.5", .arg = "X",
     .help = "Adam beta1"},
    {.flag = "--beta2", .key = "beta2", .type = &set_unit_float, .off = O(cfg.beta2), .def = "0.999", .arg = "X",
     .help = "Adam beta2"},
    {.key = "eps", .type = &set_pos_float, .off = O(cfg.eps), .hi = 1, .def = "1e-8", .help = "Adam epsilon"},
    {.flag = "--real-label", .key = "real_label", .type = &set_float, .off = O(cfg.real_label), .lo = -100,
     .hi = 100, .def = "0.9", .arg = "X", .help = "target for real images in D's loss"},
    {.flag = "--g-loss", .key = "g_loss", .type = &set_choice, .off = O(cfg.saturating), .aux = g_losses,
     .def = "nonsaturating", .arg = "L",
     .help = "nonsaturating: BCE(D(G(z)), 1); saturating, the minimax form: -BCE(D(G(z)), 0)"},
    {.flag = "--fresh-z", .key = "fresh_z", .type = &set_switch, .off = O(cfg.fresh_z), .def = "0",
     .help = "draw a new z for the G step (default: reuse the D step's)"},
    {.flag = "--init", .type = &set_init, .off = O(k.init), .arg = "I",
     .help = "weight initializer (normal: N(0, sigma), --sigma X)", .flags = SET_PRESET},
    {.flag = "--sigma", .type = &set_pos_float, .off = O(k.sigma), .hi = 100, .arg = "X",
     .help = "standard deviation of --init normal", .flags = SET_PRESET},
    {.flag = "--z-dim", .type = &set_int, .off = O(k.z_dim), .lo = 1, .hi = 65536, .arg = "N", .help = "noise width",
     .flags = SET_PRESET, .conflicts = NETS_G},
    {.flag = "--g-hidden", .type = &set_widths, .off = O(k.g_hidden), .lo = 1, .hi = 65536,
     .max_n = TG_MLP_MAX_LAYERS - 1, .aux = "hidden layers", .arg = "W,W,..", .help = "G's hidden widths",
     .flags = SET_PRESET, .conflicts = NETS_G},
    {.flag = "--d-hidden", .type = &set_widths, .off = O(k.d_hidden), .lo = 1, .hi = 65536,
     .max_n = TG_MLP_MAX_LAYERS - 1, .aux = "hidden layers", .arg = "W,W,..", .help = "D's hidden widths",
     .flags = SET_PRESET, .conflicts = NETS_D},
    {.flag = "--g-act", .type = &set_act, .off = O(k.g_act), .arg = "A", .help = "G's hidden activation",
     .flags = SET_PRESET, .conflicts = NETS_G},
    {.flag = "--d-act", .type = &set_act, .off = O(k.d_act), .arg = "A", .help = "D's hidden activation",
     .flags = SET_PRESET, .conflicts = NETS_D},
    {.flag = "--slope", .type = &set_float, .off = O(k.slope), .lo = -100, .hi = 100, .arg = "X",
     .help = "LeakyReLU slope of both nets", .flags = SET_PRESET, .conflicts = NETS_G | NETS_D},
    {.flag = "--dropout", .type = &set_unit_float, .off = O(k.dropout), .arg = "P",
     .help = "dropout after D's hidden layers", .flags = SET_PRESET, .conflicts = NETS_D},
    {.flag = "--g-arch", .type = &set_arch, .off = O(k.g_arch), .aux = "G", .arg = "LAYERS",
     .help = "G as a layer list instead of the preset's MLP, e.g. 'in 100, dense 256, relu, dense 784, tanh', "
             "or @FILE holding one (see tg_models.h); not with the flags that edit G's MLP",
     .flags = SET_EXCLUSIVE, .conflicts = NETS_G},
    {.flag = "--d-arch", .type = &set_arch, .off = O(k.d_arch), .aux = "D", .arg = "LAYERS",
     .help = "D as a layer list, e.g. 'in 784, dense 256, leaky_relu 0.2, dropout 0.3, dense 1', or @FILE; "
             "not with the flags that edit D's MLP",
     .flags = SET_EXCLUSIVE, .conflicts = NETS_D},
    {.key = "model_spec", .type = &set_gan_spec, .off = O(cfg.spec),
     .help = "the model: G's and D's layer lists, init and sigma (tg_gan_spec_format)", .flags = SET_NEWER},
    {.flag = "--limit", .key = "limit", .type = &set_int, .off = O(limit), .lo = 1, .hi = 100000000, .def = "0",
     .arg = "N", .help = "use only the first N training images (default: all)",
     .flags = SET_RESUME | SET_OPTIONAL_KEY},
    {.flag = "--log-every", .key = "log_every", .type = &set_int, .off = O(cfg.log_every), .lo = 1, .hi = 1000000,
     .def = "50", .arg = "N", .help = "metrics row / log line every N iterations",
     .flags = SET_RESUME | SET_OPTIONAL_KEY},
    {.flag = "--eval-every", .key = "eval_every", .type = &set_int, .off = O(eval_every), .lo = 0, .hi = 100000,
     .def = "0", .arg = "N",
     .help = "every N epochs (and after the last; 0: never), score 2000 samples from fixed noise as `tapegrad "
             "evaluate` does (Frechet distance, inception score, label entropy, confidence) into RUN_DIR/eval.csv",
     .flags = SET_RESUME | SET_OPTIONAL_KEY},
    {.flag = "--classifier", .key = "classifier", .type = &set_text, .off = O(classifier), .hi = CKPT_PATH_MAX - 1,
     .arg = "FILE",
     .help = "classifier for --eval-every (default $TAPEGRAD_CLASSIFIER, else "
             "data/classifier/classifier.safetensors)",
     .flags = SET_RESUME | SET_OPTIONAL_KEY},
    {.flag = "--quiet", .type = &set_switch, .off = O(quiet), .help = "no progress bar or log lines, only warnings "
     "and errors", .flags = SET_RESUME},
};

const set_table gan_opts_table = {
    .name = "train-gan",
    .usage = "tapegrad train-gan [--data DIR] [--out RUN_DIR | --resume RUN_DIR] [options]",
    .about = "Train a GAN on MNIST-format IDX data (pixels scaled to [-1, 1], shuffled every epoch). Writes "
             "RUN_DIR/metrics.csv, RUN_DIR/samples/epoch-NNN.png (8x8 grid from fixed noise), RUN_DIR/losses.png "
             "and RUN_DIR/checkpoint.safetensors after every epoch. The model is a preset (--model), whose MLPs "
             "the MLP flags edit, or layer lists (--g-arch, --d-arch).",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
};

int gan_opts_given(const train_gan_opts *o, const char *flag)
{
    int i = set_find(&gan_opts_table, flag, NULL);
    return i >= 0 && o->given[i];
}

/* the knobs as a preset has them */
static void knobs_of(const tg_gan_mlp *m, gan_knobs *k)
{
    k->z_dim = m->G.widths[0];
    k->g_hidden.n = m->G.n_layers - 1;
    for (int i = 0; i < k->g_hidden.n; i++) k->g_hidden.w[i] = m->G.widths[i + 1];
    k->d_hidden.n = m->D.n_layers - 1;
    for (int i = 0; i < k->d_hidden.n; i++) k->d_hidden.w[i] = m->D.widths[i + 1];
    k->g_act = m->G.hidden;
    k->d_act = m->D.hidden;
    k->slope = m->G.slope;
    k->dropout = m->D.dropout;
    k->init = m->init;
    k->sigma = m->sigma;
}

void gan_opts_defaults(train_gan_opts *o)
{
    memset(o, 0, sizeof *o);
    set_defaults(&gan_opts_table, o);
    tg_gan_mlp m;
    tg_gan_mlp_preset(o->cfg.model, &m, NULL);
    knobs_of(&m, &o->k);
    tg_gan_from_mlp(&m, &o->cfg.spec, NULL);
}

/* widths = first, hidden..., last */
static void mlp_widths(tg_mlp_spec *s, int first, const set_width_list *hidden, int last)
{
    s->n_layers = hidden->n + 1;
    s->widths[0] = first;
    for (int i = 0; i < hidden->n; i++) s->widths[i + 1] = hidden->w[i];
    s->widths[hidden->n + 1] = last;
}

tg_status gan_opts_build(const train_gan_opts *o, gan_cfg *c, tg_error *err)
{
    *c = o->cfg;
    tg_gan_mlp m;
    tg_status st = tg_gan_mlp_preset(o->cfg.model, &m, err);
    if (st != TG_OK) return st;
    /* the MLP flags edit the preset; a flag not given leaves the preset's */
    const gan_knobs *g = &o->k;
#define GIVEN(flag) gan_opts_given(o, flag)
    const int xdim = m.D.widths[0];
    if (GIVEN("--z-dim") || GIVEN("--g-hidden")) {
        set_width_list h;
        h.n = m.G.n_layers - 1;
        for (int i = 0; i < h.n; i++) h.w[i] = m.G.widths[i + 1];
        mlp_widths(&m.G, GIVEN("--z-dim") ? g->z_dim : m.G.widths[0], GIVEN("--g-hidden") ? &g->g_hidden : &h,
                   xdim);
    }
    if (GIVEN("--d-hidden")) mlp_widths(&m.D, xdim, &g->d_hidden, 1);
    if (GIVEN("--g-act")) m.G.hidden = g->g_act;
    if (GIVEN("--d-act")) m.D.hidden = g->d_act;
    if (GIVEN("--slope")) m.G.slope = m.D.slope = g->slope;
    if (GIVEN("--dropout")) m.D.dropout = g->dropout;
    if (GIVEN("--init")) m.init = g->init;
    if (GIVEN("--sigma")) m.sigma = g->sigma;
    if ((st = tg_gan_from_mlp(&m, &c->spec, err)) != TG_OK) return st;
    /* layer lists replace a network */
    if (GIVEN("--g-arch")) c->spec.G = g->g_arch;
    if (GIVEN("--d-arch")) c->spec.D = g->d_arch;
#undef GIVEN
    return gan_cfg_check(c, err);
}

tg_status gan_cfg_defaults(gan_cfg *c, const char *preset, tg_error *err)
{
    train_gan_opts o;
    gan_opts_defaults(&o);
    const set_row *r = &gan_opts_table.rows[set_find(&gan_opts_table, "--model", NULL)];
    tg_status st = r->type->parse(r, preset ? preset : "reference", o.cfg.model, 1, err);
    if (st != TG_OK) return st;
    return gan_opts_build(&o, c, err);
}
