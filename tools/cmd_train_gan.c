/* cmd_train_gan.c - `tapegrad train-gan`: train a GAN on MNIST-format data,
 * with a progress bar, metrics CSV, per-epoch sample grids and loss plots,
 * and a checkpoint after every epoch that --resume continues bit-exactly. */
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "evaluate.h"
#include "gan_train.h"
#include "idx.h"
#include "png_out.h"
#include "run_files.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CMD "train-gan"
#define DWIN_THRESHOLD 0.01   /* mean D(G(z)), averaged over ~DWIN_ITERS iterations, below this: */
#define DWIN_ITERS 500        /* D is winning (an exponential average, so one noisy batch does not reset it) */
#define COLLAPSE_DIVERSITY 0.05
#define EVAL_SAMPLES 2000     /* --eval-every: images G draws for each evaluation */
#define EVAL_STREAM 0x6576616cu /* their noise: a stream of its own, the same every time */
#define EVAL_HEADER "epoch,step,n,fid,is,entropy_bits,mean_confidence"
#define EVAL_STEP_COL 1       /* eval.csv's step field */

void cmd_train_gan_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad train-gan [--data DIR] [--out RUN_DIR | --resume RUN_DIR] [options]\n"
            "\n"
            "Train a fully connected GAN on MNIST-format IDX data (pixels scaled to\n"
            "[-1, 1], shuffled every epoch). Writes RUN_DIR/metrics.csv, RUN_DIR/samples/\n"
            "epoch-NNN.png (8x8 grid from fixed noise), RUN_DIR/losses.png and\n"
            "RUN_DIR/checkpoint.safetensors after every epoch.\n"
            "\n"
            "  --data DIR          MNIST folder (default: $TAPEGRAD_DATA, else data/mnist;\n"
            "                      with --resume, the run's own)\n"
            "  --out RUN_DIR       new run folder (default runs/gan)\n"
            "  --resume RUN_DIR    continue a run from its checkpoint (same bits as an\n"
            "                      uninterrupted run). The checkpoint remembers the data\n"
            "                      folder, --classifier, --log-every, --eval-every and\n"
            "                      --limit; only these, --epochs, --threads and --quiet\n"
            "                      may be given with it (a moved data folder: --data)\n"
            "  --model NAME        reference (default), documents, tiny\n"
            "  --epochs N          total epochs (default 30)\n"
            "  --batch N           batch size (default 64); the last partial batch of an\n"
            "                      epoch is dropped (graphs have fixed shapes)\n"
            "  --seed N            seed of every random stream (default 1)\n"
            "  --threads N         worker threads (default 2)\n"
            "  --lr-g X, --lr-d X  Adam learning rates (default 2e-4)\n"
            "  --beta1 X           Adam beta1 (default 0.5); --beta2 X (default 0.999)\n"
            "  --real-label X      target for real images in D's loss (default 0.9)\n"
            "  --g-loss L          nonsaturating (default: BCE(D(G(z)), 1)) or saturating\n"
            "                      (minimax: -BCE(D(G(z)), 0))\n"
            "  --fresh-z           draw a new z for the G step (default: reuse the D step's)\n"
            "  --init I            pytorch, xavier or normal (N(0, sigma), --sigma X)\n"
            "  --g-hidden W,W,..   G's hidden widths (default 128,256,512)\n"
            "  --d-hidden W,W,..   D's hidden widths (default 512,256,128)\n"
            "  --z-dim N           noise width (default 100)\n"
            "  --g-act A, --d-act A  hidden activations: relu, leaky_relu, sigmoid, tanh\n"
            "  --slope X           LeakyReLU slope of both nets (default 0.2)\n"
            "  --dropout P         dropout after D's hidden layers (reference: 0.3)\n"
            "  --limit N           use only the first N training images\n"
            "  --log-every N       metrics row / log line every N iterations (default 50)\n"
            "  --eval-every N      every N epochs (and after the last; 0: never, the\n"
            "                      default), score 2000 samples\n"
            "                      from fixed noise as `tapegrad evaluate` does (Frechet\n"
            "                      distance, inception score, label entropy, confidence)\n"
            "                      into RUN_DIR/eval.csv\n"
            "  --classifier FILE   classifier for --eval-every (default $TAPEGRAD_CLASSIFIER,\n"
            "                      else data/classifier/classifier.safetensors)\n"
            "  --quiet             no progress bar or log lines, only warnings and errors\n");
}

static int parse_widths(const char *flag, const char *s, tg_mlp_spec *m, int first, int last)
{
    int w[TG_MLP_MAX_LAYERS + 1], n = 1;
    w[0] = first;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536 || (*end && *end != ',') || n >= TG_MLP_MAX_LAYERS) {
            cli_err("%s: %s: '%s' is not a list of 1..%d widths in 1..65536", CMD, flag, s, TG_MLP_MAX_LAYERS - 1);
            return -1;
        }
        w[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    w[n++] = last;
    m->n_layers = n - 1;
    for (int k = 0; k < n; k++) m->widths[k] = w[k];
    return 0;
}

int cmd_train_gan_parse(int argc, char **argv, gan_cfg *c, train_gan_opts *o)
{
    const char *v, *model = "reference";
    memset(o, 0, sizeof *o);
    o->eval_every = -1; /* not given: the checkpoint's on --resume, else 0 */
    /* the preset first, so other flags override it (a missing value is
     * reported by the loop below) */
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--model=", 8)) model = argv[i] + 8;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
    if (gan_cfg_defaults(c, model) != 0) {
        cli_err("%s: unknown --model '%s' (reference, documents, tiny)", CMD, model);
        return CLI_USAGE;
    }
    int zdim = c->spec.G.widths[0], xdim = c->spec.D.widths[0];
    for (int i = 1; i < argc; i++) {
        int r;
        const char *a = argv[i];
        if (cli_is_help(a)) {
            cmd_train_gan_help(stdout);
            return -1;
        }
#define OPT(name) ((r = cli_opt(CMD, argc, argv, &i, name, &v)) != 0)
#define CHECK(expr) do { if (r < 0 || (expr)) return CLI_USAGE; } while (0)
        if (!strcmp(a, "--fresh-z")) { c->fresh_z = 1; o->changed = 1; }
        else if (!strcmp(a, "--quiet")) o->quiet = 1;
        else if (OPT("--model")) { CHECK(0); o->changed = 1; }
        else if (OPT("--data")) { CHECK(0); o->data = v; }
        else if (OPT("--out")) { CHECK(0); o->out = v; }
        else if (OPT("--resume")) { CHECK(0); o->resume = v; }
        else if (OPT("--epochs")) { CHECK(cli_int(CMD, "--epochs", v, 1, 100000, &c->epochs)); o->set_epochs = 1; }
        else if (OPT("--threads")) { CHECK(cli_int(CMD, "--threads", v, 1, 64, &c->threads)); o->set_threads = 1; }
        else if (OPT("--log-every")) {
            CHECK(cli_int(CMD, "--log-every", v, 1, 1000000, &c->log_every));
            o->set_log_every = 1;
        }
        else if (OPT("--limit")) CHECK(cli_int(CMD, "--limit", v, 1, 100000000, &o->limit));
        else if (OPT("--eval-every")) CHECK(cli_int(CMD, "--eval-every", v, 0, 100000, &o->eval_every));
        else if (OPT("--classifier")) { CHECK(0); o->classifier = v; }
        else if (OPT("--batch")) { CHECK(cli_int(CMD, "--batch", v, 1, 65536, &c->batch)); o->changed = 1; }
        else if (OPT("--seed")) {
            int s;
            CHECK(cli_int(CMD, "--seed", v, 0, 2147483647, &s));
            c->seed = (uint64_t)s;
            o->changed = 1;
        }
        else if (OPT("--z-dim")) { CHECK(cli_int(CMD, "--z-dim", v, 1, 65536, &zdim)); o->changed = 1; }
#define FLT(name, parse) else if (OPT(name)) { CHECK(parse); o->changed = 1; }
        FLT("--lr-g", cli_pos_float(CMD, "--lr-g", v, 10, &c->lr_g))
        FLT("--lr-d", cli_pos_float(CMD, "--lr-d", v, 10, &c->lr_d))
        FLT("--sigma", cli_pos_float(CMD, "--sigma", v, 100, &c->spec.sigma))
        FLT("--beta1", cli_unit_float(CMD, "--beta1", v, &c->beta1))
        FLT("--beta2", cli_unit_float(CMD, "--beta2", v, &c->beta2))
        FLT("--dropout", cli_unit_float(CMD, "--dropout", v, &c->spec.D.dropout))
#undef FLT
        else if (OPT("--real-label") || OPT("--slope")) {
            char *end;
            if (r < 0) return CLI_USAGE;
            double d = strtod(v, &end);
            if (!*v || *end || !isfinite(d) || fabs(d) > 100) {
                cli_err("%s: %s: '%s' is not a number in [-100, 100]", CMD, a, v);
                return CLI_USAGE;
            }
            if (!strncmp(a, "--slope", 7)) c->spec.G.slope = c->spec.D.slope = (float)d;
            else c->real_label = (float)d;
            o->changed = 1;
        }
        else if (OPT("--g-loss")) {
            CHECK(0);
            if (strcmp(v, "nonsaturating") && strcmp(v, "saturating")) {
                cli_err("%s: --g-loss: '%s' is not nonsaturating or saturating", CMD, v);
                return CLI_USAGE;
            }
            c->saturating = !strcmp(v, "saturating");
            o->changed = 1;
        }
        else if (OPT("--init")) {
            CHECK(0);
            if (!strcmp(v, "pytorch")) c->spec.init = TG_INIT_PYTORCH;
            else if (!strcmp(v, "xavier")) c->spec.init = TG_INIT_XAVIER;
            else if (!strcmp(v, "normal")) c->spec.init = TG_INIT_NORMAL;
            else {
                cli_err("%s: --init: '%s' is not pytorch, xavier or normal", CMD, v);
                return CLI_USAGE;
            }
            o->changed = 1;
        }
        else if (OPT("--g-act") || OPT("--d-act")) {
            tg_act act;
            if (r < 0) return CLI_USAGE;
            if (!tg_act_parse(v, &act) || act == TG_ACT_NONE) {
                cli_err("%s: %s: '%s' is not relu, leaky_relu, sigmoid or tanh", CMD, a, v);
                return CLI_USAGE;
            }
            if (a[2] == 'g') c->spec.G.hidden = act;
            else c->spec.D.hidden = act;
            o->changed = 1;
        }
        else if (OPT("--g-hidden")) { CHECK(0); o->g_hidden = v; o->changed = 1; }
        else if (OPT("--d-hidden")) { CHECK(0); o->d_hidden = v; o->changed = 1; }
        else return cli_bad_arg(CMD, a);
#undef OPT
#undef CHECK
    }
    /* widths: z-dim and the hidden lists rebuild the layer lists */
    if (o->g_hidden || zdim != c->spec.G.widths[0]) {
        char def[96] = "";
        for (int k = 1; k < c->spec.G.n_layers; k++)
            snprintf(def + strlen(def), sizeof def - strlen(def), k > 1 ? ",%d" : "%d", c->spec.G.widths[k]);
        if (parse_widths("--g-hidden", o->g_hidden ? o->g_hidden : def, &c->spec.G, zdim, xdim)) return CLI_USAGE;
    }
    if (o->d_hidden && parse_widths("--d-hidden", o->d_hidden, &c->spec.D, xdim, 1)) return CLI_USAGE;
    char msg[256];
    if (gan_cfg_check(c, msg, sizeof msg)) {
        cli_err("%s: %s", CMD, msg);
        return CLI_USAGE;
    }
    if (o->resume && (o->out || o->changed)) {
        cli_err("%s: --resume continues a run with its own settings: only --epochs, --threads, --data, "
                "--log-every, --limit, --eval-every, --classifier and --quiet may be given with it", CMD);
        return CLI_USAGE;
    }
    return 0;
}

/* ---- --eval-every: G on fixed noise, scored against the test set ---- */
typedef struct evaluator {
    eval_ref *ref;
    tg_graph *g;       /* G alone, batch EVAL_SAMPLES, sharing the run's weights */
    tg_plan *p;
    tg_node out;
    float *z;
    FILE *csv;         /* RUN_DIR/eval.csv */
} evaluator;

/* after evaluator_load (ev->ref) and gan_init */
static int evaluator_init(evaluator *ev, gan_run *r, const char *dir, const train_gan_opts *o, char *err,
                          size_t len)
{
    const tg_mlp_spec *G = &r->cfg.spec.G;
    const int zd = G->widths[0], xd = G->widths[G->n_layers];
    char path[4200];
    if (eval_ref_pixels(ev->ref, NULL, NULL) != xd) {
        snprintf(err, len, "the test set's images have %d pixels but G makes %d", eval_ref_pixels(ev->ref, NULL, NULL),
                 xd);
        return -1;
    }
    ev->g = tg_graph_new(r->ps);
    ev->z = malloc((size_t)EVAL_SAMPLES * zd * sizeof *ev->z);
    if (!ev->g || !ev->z) {
        snprintf(err, len, "out of memory");
        return -1;
    }
    tg_node z = tg_input(ev->g, "z", 2, (int[]){EVAL_SAMPLES, zd});
    ev->out = tg_generator(ev->g, &r->net, z);
    tg_bind(ev->g, z, ev->z);
    ev->p = tg_plan_new(ev->g, ev->out, &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = r->pool});
    if (!ev->p) {
        snprintf(err, len, "evaluation sampler: %s", tg_graph_error(ev->g));
        return -1;
    }
    tg_rng rng;
    tg_rng_seed(&rng, r->cfg.seed, EVAL_STREAM);
    tg_rng_fill_normal(&rng, ev->z, (size_t)EVAL_SAMPLES * zd, 0, 1);
    snprintf(path, sizeof path, "%s/eval.csv", dir);
    if (!(ev->csv = fopen(path, o->resume ? "a" : "w")) || fseek(ev->csv, 0, SEEK_END) != 0) {
        snprintf(err, len, "cannot write %s/eval.csv: %s", dir, strerror(errno));
        return -1;
    }
    if (ftell(ev->csv) == 0) fprintf(ev->csv, EVAL_HEADER "\n");
    return 0;
}

static int evaluator_run(evaluator *ev, const gan_run *r, int quiet, char *err, size_t len)
{
    eval_result res;
    if (tg_plan_forward(ev->p) != TG_OK) {
        snprintf(err, len, "generator failed: %s", tg_graph_error(ev->g));
        return -1;
    }
    if (eval_images(ev->ref, tg_plan_value(ev->p, ev->out), EVAL_SAMPLES, &res, err, len)) return -1;
    fprintf(ev->csv, "%d,%lld,%d,%.6g,%.6g,%.6g,%.6g\n", r->epoch, (long long)r->step, res.n, res.fid, res.is,
            res.entropy_bits, res.confidence);
    fflush(ev->csv);
    if (!quiet)
        printf("epoch %d eval (%d samples): Frechet distance %.3f, inception score %.3f, label entropy %.3f bits, "
               "mean confidence %.3f\n", r->epoch, res.n, res.fid, res.is, res.entropy_bits, res.confidence);
    return 0;
}

static void evaluator_free(evaluator *ev)
{
    if (ev->csv) fclose(ev->csv);
    tg_plan_free(ev->p);
    tg_graph_free(ev->g);
    free(ev->z);
    eval_ref_free(ev->ref);
}

/* ---- the run ---- */
/* The run's data folder, classifier, --eval-every and --limit: the flag, else
 * (on --resume) what the checkpoint remembers, else the default; paths are
 * made absolute, so a resume from another folder finds them. */
int cmd_train_gan_inputs(const train_gan_opts *o, const ckpt_run *stored, const char *ckpt, ckpt_run *run, char *err,
                         size_t len)
{
    memset(run, 0, sizeof *run);
    run->eval_every = o->eval_every >= 0 ? o->eval_every : stored->eval_every;
    run->limit = o->limit ? o->limit : stored->limit;
    if (!o->data && stored->data[0]) {
        struct stat st;
        int gone = stat(stored->data, &st) != 0;
        if (gone || !S_ISDIR(st.st_mode))
            return snprintf(err, len, "the run's data folder %s (remembered by %s): %s; if the data moved, give "
                            "--data DIR", stored->data, ckpt, gone ? strerror(errno) : "not a folder"), -1;
        strcpy(run->data, stored->data);
    } else if (run_abs_path(run_data_dir(o->data), run->data, sizeof run->data, err, len))
        return -1;
    const char *clf = o->classifier ? o->classifier
                      : stored->classifier[0] ? stored->classifier
                      : run->eval_every ? eval_default_classifier() : NULL;
    if (clf && run_abs_path(clf, run->classifier, sizeof run->classifier, err, len)) return -1;
    const char *bad = !st_utf8_valid(run->data) ? "data folder" : !st_utf8_valid(run->classifier) ? "classifier" : NULL;
    if (bad)
        fprintf(stderr, "tapegrad: warning: the %s's name is not valid UTF-8, which checkpoints cannot hold: --resume "
                "will need it given again\n", bad);
    return 0;
}

/* --resume: cut the logs back to the checkpoint's step (a run killed after its
 * last checkpoint logged rows beyond it) and read metrics.csv for the plots;
 * metrics.csv's kept rows are read as strictly as run_metrics_read does before
 * anything is cut */
static int resume_logs(const char *dir, int64_t step, int quiet, run_metrics *hist, char *err, size_t len)
{
    char p[4200];
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s", dir, k ? "eval.csv" : "metrics.csv");
        int n = k ? run_csv_cut(p, EVAL_HEADER, EVAL_STEP_COL, step, err, len)
                  : run_metrics_resume(dir, step, hist, err, len);
        if (n < 0) return -1;
        if (n && !quiet)
            printf("%s: dropped %d line%s logged after the checkpoint (step %lld)\n", p, n, n > 1 ? "s" : "",
                   (long long)step);
    }
    return 0;
}

/* running means of loss_d, loss_g, d_real, d_fake; gradient norms as last seen */
typedef struct sums { double v[6]; int n; } sums;

static void sums_add(sums *s, const gan_stats *st)
{
    const double x[4] = {st->loss_d, st->loss_g, st->d_real, st->d_fake};
    for (int k = 0; k < 4; k++) s->v[k] += x[k];
    if (!isnan(st->gnorm_g)) s->v[4] = st->gnorm_g;
    if (!isnan(st->gnorm_d)) s->v[5] = st->gnorm_d;
    s->n++;
}

/* the row metrics.csv gets: means, and the norms of the logged iteration */
static void sums_row(const sums *s, double out[6])
{
    double n = s->n ? s->n : 1;
    for (int k = 0; k < 4; k++) out[k] = s->v[k] / n;
    out[4] = s->v[4];
    out[5] = s->v[5];
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void progress(int tty, int epoch, int epochs, int it, int ipe, double rate, const sums *w)
{
    double n = w->n ? w->n : 1, left = rate > 0 ? (double)(ipe - it) / rate : 0;
    if (tty) {
        char bar[21];
        int fill = (int)(20.0 * it / ipe);
        for (int k = 0; k < 20; k++) bar[k] = k < fill ? '#' : '.';
        bar[20] = 0;
        fprintf(stderr,
                "\repoch %d/%d [%s] %d/%d %.0f it/s ETA %d:%02d  loss_D %.3f loss_G %.3f D(x) %.3f D(G(z)) %.3f ",
                epoch + 1, epochs, bar, it, ipe, rate, (int)left / 60, (int)left % 60, w->v[0] / n, w->v[1] / n,
                w->v[2] / n, w->v[3] / n);
    } else {
        printf("epoch %d/%d it %d/%d %.0f it/s loss_D %.4f loss_G %.4f D(x) %.4f D(G(z)) %.4f\n", epoch + 1, epochs,
               it, ipe, rate, w->v[0] / n, w->v[1] / n, w->v[2] / n, w->v[3] / n);
        fflush(stdout);
    }
}

int cmd_train_gan(int argc, char **argv)
{
    gan_cfg cfg;
    train_gan_opts o;
    int rc = cmd_train_gan_parse(argc, argv, &cfg, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    char err[2 * CKPT_PATH_MAX + 512], path[4200], ckpt[4200];
    const char *dir = o.resume ? o.resume : o.out ? o.out : "runs/gan";
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
    gan_run r;
    memset(&r, 0, sizeof r);
    mnist_set set = {0};
    run_metrics hist = {0};
    int *perm = NULL, status = CLI_FAIL;
    FILE *csv = NULL;
    evaluator ev = {0};
    st_file *f = NULL;
    ckpt_run stored = {0}, run; /* what the checkpoint remembers; what this run uses */

    if (o.resume) {
        const gan_cfg given = cfg;
        if (st_open(ckpt, &f, err, sizeof err) != ST_OK || ckpt_config(f, &cfg, err, sizeof err) ||
            ckpt_run_read(f, &stored, err, sizeof err)) {
            cli_err("%s: cannot resume from %s: %s", CMD, ckpt, err);
            goto done;
        }
        if (o.set_epochs) cfg.epochs = given.epochs;
        if (o.set_threads) cfg.threads = given.threads;
        if (o.set_log_every) cfg.log_every = given.log_every;
    }
    if (cmd_train_gan_inputs(&o, &stored, ckpt, &run, err, sizeof err)) {
        cli_err("%s: %s", CMD, err);
        goto done;
    }
    const char *data = run.data;
    /* the classifier and test set first: a missing one stops before any file is made */
    if (run.eval_every && !(ev.ref = eval_ref_new(run.classifier, data, cfg.threads, err, sizeof err))) {
        cli_err("%s: --eval-every: %s", CMD, err);
        goto done;
    }
    if (o.resume) {
        if (gan_init(&r, &cfg, err, sizeof err) || ckpt_restore(f, &r, 1, err, sizeof err)) {
            cli_err("%s: cannot resume from %s: %s", CMD, ckpt, err);
            goto done;
        }
        st_close(f);
        f = NULL;
        if (!o.quiet) printf("resuming %s at epoch %d (step %lld)\n", dir, r.epoch, (long long)r.step);
    } else {
        if (access(ckpt, F_OK) == 0) {
            cli_err("%s: %s already holds a run (use --resume %s, or another --out)", CMD, dir, dir);
            goto done;
        }
        if (run_mkdirs(dir, err, sizeof err)) {
            cli_err("%s: %s", CMD, err);
            goto done;
        }
        if (gan_init(&r, &cfg, err, sizeof err)) {
            cli_err("%s: %s", CMD, err);
            goto done;
        }
    }
    if (mnist_load(data, "train", &set, err, sizeof err)) {
        cli_err("%s: %s (fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)", CMD, err);
        goto done;
    }
    const int xd = cfg.spec.D.widths[0];
    if (set.h * set.w != xd) {
        cli_err("%s: images are %dx%d = %d pixels but D takes %d", CMD, set.h, set.w, set.h * set.w, xd);
        goto done;
    }
    int n = run.limit && run.limit < set.n ? run.limit : set.n, ipe = n / cfg.batch;
    if (ipe < 1) {
        cli_err("%s: --batch %d is larger than the %d training images", CMD, cfg.batch, n);
        goto done;
    }
    /* a crash inside an atomic write leaves a temporary file; one after the
     * last checkpoint leaves log rows beyond it */
    int stale = run_clean_tmp(dir);
    if (stale && !o.quiet)
        printf("%s: removed %d temporary file%s of an interrupted write\n", dir, stale, stale > 1 ? "s" : "");
    if (o.resume && resume_logs(dir, r.step, o.quiet, &hist, err, sizeof err)) {
        cli_err("%s: cannot resume: %s", CMD, err);
        goto done;
    }
    perm = malloc((size_t)n * sizeof *perm);
    csv = run_metrics_open(dir, o.resume != NULL, err, sizeof err);
    if (!perm || !csv) {
        cli_err("%s: %s", CMD, perm ? err : "out of memory");
        goto done;
    }
    if (run.eval_every && evaluator_init(&ev, &r, dir, &o, err, sizeof err)) {
        cli_err("%s: --eval-every: %s", CMD, err);
        goto done;
    }
    const int tty = isatty(fileno(stderr)) && !o.quiet;
    if (!o.quiet)
        printf("training %s GAN on %s (%d images, %d iterations/epoch, batch %d, %d thread%s, kernels %s) -> %s\n",
               cfg.model, data, n, ipe, cfg.batch, cfg.threads, cfg.threads > 1 ? "s" : "", tg_kernel_name(), dir);
    double t0 = now() - (hist.n ? hist.elapsed[hist.n - 1] : 0);
    for (; r.epoch < cfg.epochs; ) {
        gan_shuffle(&r, perm, n);
        sums w = {0}, ep = {0};
        double dfake_avg = -1; /* exponential average of mean D(G(z)) over ~DWIN_ITERS iterations */
        int warned = 0;
        double te = now();
        for (int it = 0; it < ipe; it++) {
            for (int b = 0; b < cfg.batch; b++)
                memcpy(r.x + (size_t)b * xd, set.images + (size_t)perm[it * cfg.batch + b] * xd, (size_t)xd * sizeof(float));
            gan_stats st;
            r.want_norms = w.n + 1 == cfg.log_every || it == ipe - 1; /* only on logged iterations */
            if (gan_step(&r, &st, err, sizeof err)) {
                if (tty) fputc('\n', stderr);
                if (r.epoch > 0)
                    cli_err("%s: stopped at epoch %d, iteration %d (step %lld): %s; the last good checkpoint, "
                            "after epoch %d, is %s", CMD, r.epoch + 1, it + 1, (long long)r.step + 1, err, r.epoch, ckpt);
                else
                    cli_err("%s: stopped at epoch 1, iteration %d: %s; no checkpoint was written", CMD, it + 1, err);
                goto done;
            }
            sums_add(&w, &st);
            sums_add(&ep, &st);
            dfake_avg = dfake_avg < 0 ? st.d_fake : dfake_avg + (st.d_fake - dfake_avg) / DWIN_ITERS;
            if (it + 1 >= DWIN_ITERS && dfake_avg < DWIN_THRESHOLD && !warned) {
                if (tty) fputc('\n', stderr);
                fprintf(stderr, "tapegrad: warning: D is winning: mean D(G(z)) has averaged %.4f over the last ~%d "
                        "iterations (epoch %d); G gets almost no gradient\n", dfake_avg, DWIN_ITERS, r.epoch + 1);
                warned = 1;
            }
            if (w.n == cfg.log_every || it == ipe - 1) {
                double el = now() - t0;
                double row[6];
                sums_row(&w, row);
                run_metrics_row(csv, &hist, r.step, r.epoch + 1, row, el);
                if (!o.quiet) progress(tty, r.epoch, cfg.epochs, it + 1, ipe, (it + 1) / (now() - te), &w);
                memset(&w, 0, sizeof w);
            }
        }
        r.epoch++;
        if (tty) fputc('\n', stderr);
        /* everything this epoch logs and draws first, the checkpoint last:
         * a crash before the rename leaves the logs ahead of the previous
         * checkpoint, and --resume cuts them back to it */
        const float *s = gan_fixed_samples(&r);
        double div = s ? gan_sample_diversity(s, GAN_FIXED, xd) : 0;
        snprintf(path, sizeof path, "%s/samples/epoch-%03d.png", dir, r.epoch);
        if (!s || pngout_grid(path, s, GAN_FIXED, set.h, set.w, 8, 8, 2, err, sizeof err)) {
            cli_err("%s: cannot write %s: %s", CMD, path, s ? err : "sampling failed");
            goto done;
        }
        if (run_plot_losses(dir, &hist, err, sizeof err)) {
            cli_err("%s: %s", CMD, err);
            goto done;
        }
        if (run.eval_every && (r.epoch % run.eval_every == 0 || r.epoch == cfg.epochs) &&
            evaluator_run(&ev, &r, o.quiet, err, sizeof err)) {
            cli_err("%s: evaluation after epoch %d: %s", CMD, r.epoch, err);
            goto done;
        }
        if (run_log_sync(csv, "metrics.csv", err, sizeof err) ||
            (ev.csv && run_log_sync(ev.csv, "eval.csv", err, sizeof err))) {
            cli_err("%s: %s", CMD, err);
            goto done;
        }
        if (ckpt_save(ckpt, &r, &run, err, sizeof err)) {
            cli_err("%s: cannot write %s: %s", CMD, ckpt, err);
            goto done;
        }
        double en = ep.n ? ep.n : 1;
        if (!o.quiet)
            printf("epoch %d/%d done in %.1f s: loss_D %.4f loss_G %.4f D(x) %.4f D(G(z)) %.4f sample diversity %.3f\n",
                   r.epoch, cfg.epochs, now() - te, ep.v[0] / en, ep.v[1] / en, ep.v[2] / en, ep.v[3] / en, div);
        if (div < COLLAPSE_DIVERSITY)
            fprintf(stderr, "tapegrad: warning: generator collapse: the 64 fixed-noise samples are nearly identical "
                    "(per-pixel std %.4f < %.2f)\n", div, COLLAPSE_DIVERSITY);
        fflush(stdout);
    }
    if (!o.quiet) printf("done: samples in %s/samples, losses in %s/losses.png, checkpoint %s\n", dir, dir, ckpt);
    status = CLI_OK;
done:
    st_close(f);
    if (csv) fclose(csv);
    free(perm);
    mnist_free(&set);
    run_metrics_free(&hist);
    evaluator_free(&ev); /* before the store and pool it borrows */
    gan_free(&r);
    return status;
}
