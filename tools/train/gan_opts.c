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
static char preset_epilog[1024]; /* the presets' training defaults, for --help (gan_opts_preset_help) */

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
     .help = "the preset the model starts from; a preset may bring training defaults (listed at the end)"},
    {.flag = "--epochs", .key = "epochs", .type = &set_int, .off = O(cfg.epochs), .lo = 1, .hi = 100000, .def = "30",
     .arg = "N", .help = "total epochs", .flags = SET_RESUME},
    {.flag = "--batch", .key = "batch", .type = &set_int, .off = O(cfg.batch), .lo = 1, .hi = 65536, .def = "64",
     .arg = "N", .help = "batch size (under mpirun, of all processes together); the last partial batch of an epoch is "
             "dropped (graphs have fixed shapes)"},
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
    {.flag = "--ema", .key = "ema", .type = &set_unit_float, .off = O(cfg.ema), .def = "0", .arg = "DECAY",
     .help = "keep an exponential moving average of G's parameters and batch-norm statistics, updated after every "
             "G step (shadow = DECAY shadow + (1 - DECAY) value; 0.999 is typical); samples, --eval-every and "
             "`tapegrad sample` use it. 0: off",
     .flags = SET_OPTIONAL_KEY},
    {.flag = "--init", .type = &set_init, .off = O(k.init), .arg = "I",
     .help = "weight initializer (normal: N(0, sigma), --sigma X)", .flags = SET_PRESET},
    {.flag = "--sigma", .type = &set_pos_float, .off = O(k.sigma), .hi = 100, .arg = "X",
     .help = "standard deviation of --init normal", .flags = SET_PRESET},
    {.flag = "--z-dim", .type = &set_int, .off = O(k.z_dim), .lo = 1, .hi = GAN_Z_MAX, .arg = "N", .help = "noise width",
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
             "the MLP flags edit, or layer lists (--g-arch, --d-arch). "
             "On several processes (a tapegrad built with MPI): mpirun -np 2 tapegrad train-gan [options], or "
             "mpirun --hostfile hosts -np 8 ... across machines; --batch is then the global batch, split evenly "
             "over the processes, rank 0 alone prints and writes RUN_DIR, and --resume may use another number of "
             "processes; dropout masks and batch_norm statistics are those of the global batch.",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
    .epilog = preset_epilog,
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
    gan_opts_preset_help(); /* the epilog of --help */
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

/* Training defaults a preset brings: a row the command line does not give
 * takes its preset's value here, else the table's default. Data, not code:
 * one line per (preset, flag). Only rows of gan_cfg. */
static const struct preset_default {
    const char *preset, *flag, *value;
} preset_defaults[] = {
    /* DCGAN's recipe: Adam 2e-4 (0.5, 0.999) for both nets, real label 0.9, batch 64 */
    {"dcgan", "--lr-g", "2e-4"}, {"dcgan", "--lr-d", "2e-4"}, {"dcgan", "--beta1", "0.5"},
    {"dcgan", "--beta2", "0.999"}, {"dcgan", "--real-label", "0.9"}, {"dcgan", "--batch", "64"},
    /* dcgan-tuned: dcgan's recipe with D's learning rate halved, and G's
     * moving average for samples and evaluation */
    {"dcgan-tuned", "--lr-g", "2e-4"}, {"dcgan-tuned", "--lr-d", "1e-4"}, {"dcgan-tuned", "--beta1", "0.5"},
    {"dcgan-tuned", "--beta2", "0.999"}, {"dcgan-tuned", "--real-label", "0.9"}, {"dcgan-tuned", "--batch", "64"},
    {"dcgan-tuned", "--ema", "0.999"},
    /* a test preset: small batches, a larger step */
    {"tiny-conv", "--batch", "4"}, {"tiny-conv", "--lr-g", "1e-3"}, {"tiny-conv", "--lr-d", "1e-3"},
};
#define N_PRESET_DEFAULTS ((int)(sizeof preset_defaults / sizeof preset_defaults[0]))

const char *gan_opts_preset_default(const char *preset, const char *flag)
{
    for (int i = 0; i < N_PRESET_DEFAULTS; i++)
        if (!strcmp(preset_defaults[i].preset, preset) && !strcmp(preset_defaults[i].flag, flag))
            return preset_defaults[i].value;
    return NULL;
}

const char *gan_opts_preset_help(void)
{
    size_t n = (size_t)snprintf(preset_epilog, sizeof preset_epilog, "Training defaults of presets (a flag given "
                                "overrides them; the checkpoint stores the values used):");
    for (int i = 0; i < N_PRESET_DEFAULTS && n < sizeof preset_epilog; i++) {
        const int first = !i || strcmp(preset_defaults[i - 1].preset, preset_defaults[i].preset);
        n += (size_t)snprintf(preset_epilog + n, sizeof preset_epilog - n, "%s%s%s%s %s", first && i ? ";" : "",
                              first ? " " : ", ", first ? preset_defaults[i].preset : "", first ? ":" : "",
                              preset_defaults[i].flag);
        if (n < sizeof preset_epilog)
            n += (size_t)snprintf(preset_epilog + n, sizeof preset_epilog - n, " %s", preset_defaults[i].value);
    }
    if (n < sizeof preset_epilog) snprintf(preset_epilog + n, sizeof preset_epilog - n, ".");
    return preset_epilog;
}

_Static_assert(offsetof(train_gan_opts, cfg) == 0, "a row of cfg is at the same offset in gan_cfg");

/* the preset's training defaults into c, for the rows not given */
static void apply_preset_defaults(const train_gan_opts *o, gan_cfg *c)
{
    for (int i = 0; i < N_PRESET_DEFAULTS; i++) {
        if (strcmp(preset_defaults[i].preset, c->model)) continue;
        int k = set_find(&gan_opts_table, preset_defaults[i].flag, NULL);
        const set_row *r = &gan_opts_table.rows[k];
        if (o->given[k] || r->off + r->type->size > sizeof *c) continue; /* not a row of cfg */
        r->type->parse(r, preset_defaults[i].value, (char *)c + r->off, 0, NULL);
    }
}

/* the MLP flags that edit network `net` (TG_GAN_NET_*) */
static const char *const g_flags[] = {"--z-dim", "--g-hidden", "--g-act", "--slope", NULL};
static const char *const d_flags[] = {"--d-hidden", "--d-act", "--slope", "--dropout", NULL};

tg_status gan_opts_build(const train_gan_opts *o, gan_cfg *c, tg_error *err)
{
    *c = o->cfg;
    apply_preset_defaults(o, c);
    tg_gan_spec preset;
    tg_gan_mlp m;
    tg_status st = tg_gan_preset(o->cfg.model, &preset, err);
    const int nets = tg_gan_preset_mlp_nets(o->cfg.model);
    if (st != TG_OK) return st;
#define GIVEN(flag) gan_opts_given(o, flag)
    /* an MLP flag needs the network it edits to be an MLP */
    for (int net = 0; net < 2; net++) {
        const int bit = net ? TG_GAN_NET_D : TG_GAN_NET_G;
        if (nets & bit || GIVEN(net ? "--d-arch" : "--g-arch")) continue;
        for (const char *const *f = net ? d_flags : g_flags; *f; f++)
            if (GIVEN(*f))
                return tg_error_set(err, TG_ERR_ARG, "%s edits an MLP, but preset %s's %c is a layer list (give it "
                                    "as %s instead)", *f, o->cfg.model, net ? 'D' : 'G', net ? "--d-arch" : "--g-arch");
    }
    c->spec = preset;
    if (nets > 0) {
        if ((st = tg_gan_mlp_preset(o->cfg.model, &m, err)) != TG_OK) return st;
        /* the MLP flags edit the preset; a flag not given leaves the preset's */
        const gan_knobs *g = &o->k;
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
        tg_gan_spec edited;
        if ((st = tg_gan_from_mlp(&m, &edited, err)) != TG_OK) return st;
        if (nets & TG_GAN_NET_G) c->spec.G = edited.G;
        if (nets & TG_GAN_NET_D) c->spec.D = edited.D;
    }
    if (GIVEN("--init")) c->spec.init = o->k.init;
    if (GIVEN("--sigma")) c->spec.sigma = o->k.sigma;
    /* layer lists replace a network */
    if (GIVEN("--g-arch")) c->spec.G = o->k.g_arch;
    if (GIVEN("--d-arch")) c->spec.D = o->k.d_arch;
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
