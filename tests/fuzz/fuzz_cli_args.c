/* fuzz_cli_args.c - every command's option parser (cmd_<name>_parse,
 * tools/cli/commands.h: each command's table of settings through
 * tools/cli/opts.c) on a fuzzed command line, without running the command.
 *
 * Input: one byte choosing the command (modulo the number of commands), then
 * its arguments separated by NUL bytes (each copied into a buffer of its own
 * size, so a read past an argument's end is caught). Invariants: a parser
 * returns 0, CLI_USAGE or -1; what it accepts is what its help promises
 * (every number within its stated range once stored, names from their
 * lists, required options present, --resume and --g-arch/--d-arch only
 * with the flags that may go with them); and a train-gan configuration it
 * accepts, with the run's inputs train-gan would store for it (data folder,
 * classifier, --eval-every, --limit, --log-every), is one `train-gan
 * --resume` accepts and restores exactly (fuzz_gan_cfg.h). */
#include "classifier.h"
#include "cli.h"
#include "commands.h"
#include "fuzz_gan_cfg.h"
#include "gc_cases.h"

#include <math.h>

#define MAXARGS 32

static void check_mlp(const tg_mlp_spec *s, int in, int out)
{
    tg_error e = {0};
    FUZZ_CHECK(tg_mlp_check(s, &e) == TG_OK, "accepted widths fail tg_mlp_check: %s", e.msg);
    FUZZ_CHECK(s->widths[0] == in && s->widths[s->n_layers] == out, "widths %d..%d, expected %d..%d", s->widths[0],
               s->widths[s->n_layers], in, out);
    for (int k = 1; k < s->n_layers; k++)
        FUZZ_CHECK(s->widths[k] >= 1 && s->widths[k] <= 65536, "hidden width %d", s->widths[k]);
}

/* the hidden activations the commands offer */
static int is_act(tg_act a)
{
    return a == TG_ACT_RELU || a == TG_ACT_LEAKY_RELU || a == TG_ACT_SIGMOID || a == TG_ACT_TANH;
}

/* every activation layer of a layer list: a known one, with a slope in [-100, 100] */
static void check_seq(const tg_seq_spec *s)
{
    for (int i = 0; i < s->n; i++)
        if (s->l[i].kind == TG_LAYER_ACT)
            FUZZ_CHECK(s->l[i].act >= TG_ACT_NONE && s->l[i].act < TG_ACT_COUNT && isfinite(s->l[i].slope),
                       "layer %d: activation %d, slope %g", i, (int)s->l[i].act, (double)s->l[i].slope);
}

static int given(const set_table *t, const unsigned char *g, const char *flag)
{
    int i = set_find(t, flag, NULL);
    FUZZ_CHECK(i >= 0, "no row %s", flag);
    return g[i];
}

static void train_gan(int argc, char **argv)
{
    static gan_cfg c;
    static train_gan_opts o; /* 10 KB of layer lists: off the stack */
    int rc = cmd_train_gan_parse(argc, argv, &c, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    const set_table *t = &gan_opts_table;
    tg_error e = {0};
    int zd, xd;
    FUZZ_CHECK(tg_gan_check(&c.spec, &zd, &xd, &e) == TG_OK, "accepted spec fails tg_gan_check: %s", e.msg);
    /* any image size parses: train-gan compares D's input with the data's
     * pixels once it has read the data, and refuses a mismatch there */
    FUZZ_CHECK(zd >= 1 && zd <= 65536 && xd >= 1, "z-dim %d, x-dim %d", zd, xd);
    check_seq(&c.spec.G);
    check_seq(&c.spec.D);
    /* the MLP flags become the preset's layers; an arch replaces them */
    if (!given(t, o.given, "--g-arch") && !given(t, o.given, "--d-arch")) {
        static tg_gan_spec p;
        FUZZ_CHECK(tg_gan_preset(c.model, &p, NULL) == TG_OK, "unknown model '%s' accepted", c.model);
        const int nets = tg_gan_preset_mlp_nets(c.model);
        FUZZ_CHECK(c.spec.G.in_features == (given(t, o.given, "--z-dim") ? o.k.z_dim : p.G.in_features), "z-dim");
        /* the MLP flags edit only a network that is an MLP */
        FUZZ_CHECK((nets & TG_GAN_NET_G) || !given(t, o.given, "--g-hidden"), "--g-hidden on a layer list");
        FUZZ_CHECK((nets & TG_GAN_NET_D) || !given(t, o.given, "--d-hidden"), "--d-hidden on a layer list");
        FUZZ_CHECK(c.ema >= 0 && c.ema < 1, "ema %.9g", (double)c.ema);
        if (given(t, o.given, "--g-act")) FUZZ_CHECK(is_act(o.k.g_act), "g-act %d", (int)o.k.g_act);
        if (given(t, o.given, "--d-act")) FUZZ_CHECK(is_act(o.k.d_act), "d-act %d", (int)o.k.d_act);
    }
    for (int i = 0; i < t->n; i++) /* an arch and an MLP flag for the same network are never both accepted */
        if (o.given[i] && (t->rows[i].flags & SET_EXCLUSIVE))
            for (int j = 0; j < t->n; j++)
                FUZZ_CHECK(j == i || !o.given[j] || !(t->rows[i].conflicts & t->rows[j].conflicts), "%s with %s",
                           t->rows[i].flag, t->rows[j].flag);
    FUZZ_CHECK(c.epochs >= 1 && c.epochs <= 100000 && c.batch >= 1 && c.batch <= 65536 && c.threads >= 1 &&
                   c.threads <= 64 && c.log_every >= 1 && c.seed <= 2147483647u,
               "epochs %d, batch %d, threads %d, log-every %d", c.epochs, c.batch, c.threads, c.log_every);
    /* --lr-g, --lr-d: 0 < x <= 10; --sigma: 0 < x <= 100 */
    FUZZ_CHECK(c.lr_g > 0 && c.lr_g <= 10 && c.lr_d > 0 && c.lr_d <= 10, "lr_g %g, lr_d %g", (double)c.lr_g,
               (double)c.lr_d);
    FUZZ_CHECK(c.spec.sigma > 0 && c.spec.sigma <= 100, "sigma %g", (double)c.spec.sigma);
    /* --beta1, --beta2, --dropout: 0 <= x < 1; --slope, --real-label: |x| <= 100 */
    FUZZ_CHECK(c.beta1 >= 0 && c.beta1 < 1 && c.beta2 >= 0 && c.beta2 < 1, "beta1 %.9g, beta2 %.9g", (double)c.beta1,
               (double)c.beta2);
    FUZZ_CHECK(o.k.dropout >= 0 && o.k.dropout < 1, "dropout %.9g", (double)o.k.dropout);
    FUZZ_CHECK(fabsf(o.k.slope) <= 100 && fabsf(c.real_label) <= 100, "slope %g, real label %g", (double)o.k.slope,
               (double)c.real_label);
    /* --limit 1..100000000 (0: not given), --eval-every 0..100000 */
    FUZZ_CHECK(o.limit >= 0 && o.limit <= 100000000 && o.eval_every >= 0 && o.eval_every <= 100000,
               "limit %d, eval-every %d", o.limit, o.eval_every);
    if (o.resume) /* with --resume, only the rows that may change on resume */
        for (int i = 0; i < t->n; i++)
            FUZZ_CHECK(!o.given[i] || (t->rows[i].flags & SET_RESUME), "--resume with %s", t->rows[i].flag);
    /* the run's inputs as train-gan stores them (from a checkpoint that
     * remembers none, on --resume): the flags, paths made absolute */
    static ckpt_run none, run; /* 8 KB each: off the stack */
    if (cmd_train_gan_inputs(&o, &none, "checkpoint.safetensors", &run, &e) != TG_OK) {
        FUZZ_CHECK_MSG(e); /* a path too long once made absolute */
        fuzz_gan_cfg_round_trip(&c, NULL, "train-gan command line");
        return;
    }
    FUZZ_CHECK(run.data[0] == '/' && (!run.classifier[0] || run.classifier[0] == '/'), "data '%s', classifier '%s'",
               run.data, run.classifier);
    FUZZ_CHECK(run.eval_every == o.eval_every && run.limit == o.limit, "eval_every %d, limit %d from --eval-every %d, "
               "--limit %d", run.eval_every, run.limit, o.eval_every, o.limit);
    FUZZ_CHECK(!run.eval_every || run.classifier[0], "--eval-every %d without a classifier", run.eval_every);
    fuzz_gan_cfg_round_trip(&c, &run, "train-gan command line");
}

static void check_clf(const clf_cfg *c, const clf_run_opts *o)
{
    const tg_mlp_spec *s = &c->spec;
    check_mlp(s, 784, CLF_CLASSES);
    FUZZ_CHECK(s->n_layers >= 2, "no hidden layer");
    FUZZ_CHECK(is_act(s->hidden) && s->output == TG_ACT_NONE, "activations");
    FUZZ_CHECK(c->epochs >= 1 && c->epochs <= 100000 && c->batch >= 1 && c->batch <= 65536 && c->threads >= 1 &&
                   c->threads <= 64 && c->seed <= 2147483647u,
               "epochs %d, batch %d, threads %d", c->epochs, c->batch, c->threads);
    FUZZ_CHECK(c->lr > 0 && c->lr <= 10, "lr %g", (double)c->lr);                   /* --lr: 0 < x <= 10 */
    FUZZ_CHECK(fabsf(s->slope) <= 100, "slope %g", (double)s->slope);               /* --slope: |x| <= 100 */
    FUZZ_CHECK(o->limit >= 0 && o->limit <= 100000000, "limit %d", o->limit);
}

static void train_classifier(int argc, char **argv)
{
    clf_cfg c;
    clf_run_opts o;
    int rc = cmd_train_classifier_parse(argc, argv, &c, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (!rc) check_clf(&c, &o);
}

static void activations(int argc, char **argv)
{
    clf_cfg c;
    clf_run_opts o;
    int rc = cmd_activations_parse(argc, argv, &c, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (!rc) check_clf(&c, &o);
}

static void sample(int argc, char **argv)
{
    sample_opts o;
    int rc = cmd_sample_parse(argc, argv, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    FUZZ_CHECK(o.checkpoint && o.out, "required options missing");
    FUZZ_CHECK(o.n >= 1 && o.n <= 1000000 && o.seed >= 0 && o.threads >= 1 && o.threads <= 64,
               "n %d, seed %d, threads %d", o.n, o.seed, o.threads);
}

static void gradcheck(int argc, char **argv)
{
    gradcheck_opts o;
    int rc = cmd_gradcheck_parse(argc, argv, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    FUZZ_CHECK(o.all + o.list + (o.op != NULL) + (o.model[0] != 0) == 1, "not exactly one of --all, --list, --op, "
               "--model");
    static tg_gan_spec s;
    FUZZ_CHECK(!o.model[0] || tg_gan_preset(o.model, &s, NULL) == TG_OK, "unknown model accepted");
    FUZZ_CHECK(!o.op || tg_gc_case_find(o.op), "unknown op accepted");
    FUZZ_CHECK(o.gc.tol >= 0 && o.gc.tol <= 1 && o.gc.h >= 0 && o.gc.h <= 0.1, "tol %g, h %g", o.gc.tol, o.gc.h);
}

static void graph(int argc, char **argv)
{
    static graph_opts o;
    int rc = cmd_graph_parse(argc, argv, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    static tg_gan_spec s;
    FUZZ_CHECK(tg_gan_preset(o.model, &s, NULL) == TG_OK, "unknown model accepted");
    FUZZ_CHECK(o.net >= 0 && o.net < 3, "net %d", o.net);
    FUZZ_CHECK(o.batch >= 1 && o.batch <= 1000000, "batch %d", o.batch);
}

static void demo(int argc, char **argv)
{
    demo_opts o;
    int rc = cmd_demo_parse(argc, argv, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    FUZZ_CHECK(o.steps >= 1 && o.steps <= 100000 && o.every >= 1 && o.every <= 100000 && o.seed >= 0,
               "steps %d, every %d, seed %d", o.steps, o.every, o.seed);
}

static void bench(int argc, char **argv)
{
    bench_opts o;
    int rc = cmd_bench_parse(argc, argv, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    FUZZ_CHECK(o.what >= 0 && o.what < 6, "benchmark %d", o.what);
    FUZZ_CHECK(o.model >= 0 && o.model < 4 && bench_models[o.model], "model %d", o.model);
    FUZZ_CHECK(o.batch >= 1 && o.batch <= 65536 && o.threads >= 1 && o.threads <= 64 && o.repeats >= 1 &&
                   o.repeats <= 10000 && o.steps >= 0 && o.steps <= 100000000 && (!o.steps_set || o.steps >= 1),
               "batch %d, threads %d, repeats %d, steps %d", o.batch, o.threads, o.repeats, o.steps);
}

static void evaluate(int argc, char **argv)
{
    evaluate_opts o;
    int rc = cmd_evaluate_parse(argc, argv, &o);
    FUZZ_CHECK(rc == 0 || rc == CLI_USAGE || rc == -1, "status %d", rc);
    if (rc) return;
    FUZZ_CHECK(o.samples != NULL && o.samples[0] != '-', "samples '%s'", o.samples ? o.samples : "(none)");
    FUZZ_CHECK(o.threads >= 1 && o.threads <= 64, "threads %d", o.threads);
}

static const struct {
    const char *name;
    void (*run)(int argc, char **argv);
} commands[] = {
    {"train-gan", train_gan}, {"train-classifier", train_classifier}, {"activations", activations},
    {"sample", sample},       {"gradcheck", gradcheck},               {"graph", graph},
    {"demo", demo},           {"bench", bench},                       {"evaluate", evaluate},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const size_t cmd = data[0] % NCOMMANDS;
    char *argv[MAXARGS + 1];
    int argc = 0;
    argv[argc++] = strdup(commands[cmd].name);
    for (size_t pos = 1; pos < size && argc < MAXARGS;) {
        const uint8_t *end = memchr(data + pos, 0, size - pos);
        size_t len = end ? (size_t)(end - data) - pos : size - pos;
        char *a = malloc(len + 1);
        FUZZ_CHECK(a != NULL, "out of memory");
        memcpy(a, data + pos, len);
        a[len] = 0;
        argv[argc++] = a;
        pos += len + 1;
    }
    argv[argc] = NULL;
    commands[cmd].run(argc, argv);
    for (int i = 0; i < argc; i++) free(argv[i]);
    return 0;
}
