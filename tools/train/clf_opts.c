/* clf_opts.c - the tables of train-classifier and activations (clf_opts.h),
 * and the classifier's defaults, which are theirs. */
#include "clf_opts.h"

#include "model_settings.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define O(member) offsetof(clf_run_opts, member)

/* the rows both commands have; `epochs` and `seed` say what they are for */
#define CLF_ROWS(help_epochs, help_seed, help_quiet)                                                                  \
    {.flag = "--data", .type = &set_text, .off = O(data), .arg = "DIR",                                               \
     .help = "MNIST folder (default: $TAPEGRAD_DATA, else data/mnist)"},                                              \
    {.flag = "--epochs", .type = &set_int, .off = O(cfg.epochs), .lo = 1, .hi = 100000, .def = "10", .arg = "N",      \
     .help = help_epochs},                                                                                            \
    {.flag = "--hidden", .type = &set_widths, .off = O(hidden), .lo = 1, .hi = 65536,                                 \
     .max_n = TG_MLP_MAX_LAYERS - 1, .aux = "hidden layers", .def = "512,256,128", .arg = "W,W,..",                   \
     .help = "hidden widths"},                                                                                        \
    {.flag = "--batch", .type = &set_int, .off = O(cfg.batch), .lo = 1, .hi = 65536, .def = "64", .arg = "N",         \
     .help = "batch size (under mpirun, of all processes together); the last partial batch of an epoch is "       \
             "dropped (graphs have fixed shapes)"},                                                                   \
    {.flag = "--lr", .type = &set_pos_float, .off = O(cfg.lr), .hi = 10, .def = "1e-3", .arg = "X",                   \
     .help = "Adam learning rate (betas 0.9, 0.999)"},                                                                \
    {.flag = "--slope", .type = &set_float, .off = O(cfg.spec.slope), .lo = -100, .hi = 100, .def = "0.01",           \
     .arg = "X", .help = "LeakyReLU slope"},                                                                          \
    {.flag = "--seed", .type = &set_u64, .off = O(cfg.seed), .lo = 0, .hi = 2147483647, .def = "1", .arg = "N",       \
     .help = help_seed},                                                                                              \
    {.flag = "--threads", .type = &set_int, .off = O(cfg.threads), .lo = 1, .hi = 64, .def = "2", .arg = "N",         \
     .help = "worker threads"},                                                                                       \
    {.flag = "--limit", .type = &set_int, .off = O(limit), .lo = 1, .hi = 100000000, .arg = "N",                      \
     .help = "use only the first N training images"},                                                                 \
    {.flag = "--quiet", .type = &set_switch, .off = O(quiet), .help = help_quiet}

static const set_row train_rows[] = {
    {.flag = "--out", .type = &set_text, .off = O(out), .def = "runs/classifier", .arg = "RUN_DIR",
     .help = "output folder"},
    {.flag = "--activation", .type = &set_act, .off = O(cfg.spec.hidden), .def = "relu", .arg = "A",
     .help = "hidden activation"},
    CLF_ROWS("epochs", "seed of the initialization and shuffling", "no progress bar or log lines, only errors"),
};

const set_table clf_train_table = {
    .name = "train-classifier",
    .usage = "tapegrad train-classifier [--data DIR] [--out RUN_DIR] [options]",
    .about = "Train an MLP classifier (input -> hidden layers -> 10 logits, softmax cross-entropy, Adam) on "
             "MNIST-format IDX data: MNIST or Fashion-MNIST. Prints the train loss, test loss and test accuracy "
             "after every epoch and writes RUN_DIR/metrics.csv and RUN_DIR/classifier.safetensors (the classifier "
             "`tapegrad evaluate --classifier` reads). "
             "On several processes (a tapegrad built with MPI): mpirun -np 2 tapegrad train-classifier [options]; "
             "--batch is then the global batch, split evenly over the processes, and rank 0 alone prints and "
             "writes RUN_DIR.",
    .rows = train_rows,
    .n = (int)(sizeof train_rows / sizeof train_rows[0]),
};

static const set_row act_rows[] = {
    {.flag = "--out", .type = &set_text, .off = O(out), .def = "runs/activations", .arg = "DIR",
     .help = "output folder"},
    CLF_ROWS("epochs per activation", "seed, the same for every activation",
             "no progress bar or log lines, only the summary and errors"),
};

const set_table clf_activations_table = {
    .name = "activations",
    .usage = "tapegrad activations [--data DIR] [--epochs N] [--out DIR] [options]",
    .about = "Train the train-classifier model once per hidden activation (relu, leaky_relu, sigmoid, tanh) with "
             "the same architecture, seed and budget, and compare them. Writes to DIR:\n"
             "  activations.csv                  activation,epoch,train_loss,test_loss,\n"
             "                                   test_accuracy,epoch_seconds\n"
             "  activations-train-loss.png       training loss per epoch, a line per activation\n"
             "  activations-test-loss.png        test loss per epoch\n"
             "  activations-test-accuracy.png    test accuracy per epoch\n"
             "  activation-<name>.png            the activation and its derivative over\n"
             "                                   [-5, 5], from the engine's forward and backward\n"
             "  classifier-<name>.safetensors    each trained classifier\n"
             "and prints a summary table (final accuracy, time per epoch).",
    .rows = act_rows,
    .n = (int)(sizeof act_rows / sizeof act_rows[0]),
};

void clf_opts_build(clf_run_opts *o)
{
    tg_mlp_spec *s = &o->cfg.spec;
    s->n_layers = o->hidden.n + 1;
    s->widths[0] = 784;
    for (int i = 0; i < o->hidden.n; i++) s->widths[i + 1] = o->hidden.w[i];
    s->widths[o->hidden.n + 1] = CLF_CLASSES;
}

void clf_opts_defaults(const set_table *t, clf_run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cfg.spec.hidden = TG_ACT_RELU; /* activations has no --activation: the experiment sets each */
    o->cfg.spec.output = TG_ACT_NONE;
    snprintf(o->cfg.spec.group, sizeof o->cfg.spec.group, "C");
    set_defaults(t, o);
    clf_opts_build(o);
}

int clf_cfg_defaults(clf_cfg *c, const char *activation)
{
    clf_run_opts o;
    clf_opts_defaults(&clf_train_table, &o);
    *c = o.cfg;
    return activation && set_act.parse(NULL, activation, &c->spec.hidden, 1, NULL) != TG_OK ? -1 : 0;
}

tg_status clf_parse_hidden(clf_cfg *c, const char *list, tg_error *err)
{
    tg_mlp_spec *s = &c->spec;
    int w[TG_MLP_MAX_LAYERS], n;
    tg_status st = set_parse_widths(list, TG_MLP_MAX_LAYERS - 1, 1, 65536, "hidden layers", w, &n, err);
    if (st != TG_OK) return st;
    const int out = s->widths[s->n_layers];
    s->n_layers = n + 1;
    for (int k = 0; k < n; k++) s->widths[k + 1] = w[k];
    s->widths[n + 1] = out;
    return TG_OK;
}

void clf_widths_str(const tg_mlp_spec *s, char sep, char *out, size_t len)
{
    if (set_format_widths(s->widths, s->n_layers + 1, sep, out, len) && len) out[0] = 0;
}
