/* cmd_activations.c - `tapegrad activations`: the documents' experiment.
 * The same classifier (architecture, seed, epochs, batch, Adam) trained once
 * per hidden activation - relu, leaky_relu, sigmoid, tanh - with the train
 * loss, test loss and test accuracy of every epoch in a CSV and three plots
 * (one line per activation), a plot of each activation and its derivative
 * over [-5, 5] computed by the engine's own forward and backward, and a
 * summary table. */
#include "classifier.h"
#include "clf_cli.h"
#include "cli.h"
#include "commands.h"
#include "files.h"
#include "idx.h"
#include "opts.h"
#include "plot.h"
#include "run_dir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "activations"
#define NACT 4
#define CURVE_N 1001     /* points of the activation plots over [-5, 5] */
#define PLOT_W 800
#define PLOT_H 500

static const tg_act acts[NACT] = {TG_ACT_RELU, TG_ACT_LEAKY_RELU, TG_ACT_SIGMOID, TG_ACT_TANH};
static const int colors[NACT] = {PLOT_BLUE, PLOT_ORANGE, PLOT_GREEN, PLOT_RED};

void cmd_activations_help(FILE *out)
{
    clf_run_opts d;
    clf_opts_defaults(&clf_activations_table, &d);
    opts_help(&clf_activations_table, &d, out);
}

typedef struct hist {
    double *train, *test, *acc, *sec;  /* (epochs) each */
    int n;
} hist;

/* activation-<name>.png: f and f' from the engine */
static int plot_function(const char *dir, tg_act a, float slope)
{
    float x[CURVE_N], y[CURVE_N], dy[CURVE_N];
    double xd[CURVE_N], yd[CURVE_N], dyd[CURVE_N];
    char path[4200], title[128], dname[64];
    tg_error e;
    for (int i = 0; i < CURVE_N; i++) x[i] = (float)(-5.0 + 10.0 * i / (CURVE_N - 1));
    if (clf_act_curve(a, slope, x, CURVE_N, y, dy, &e) != TG_OK) {
        cli_err("%s: %s: %s", CMD, tg_act_name(a), e.msg);
        return -1;
    }
    for (int i = 0; i < CURVE_N; i++) {
        xd[i] = x[i];
        yd[i] = y[i];
        dyd[i] = dy[i];
    }
    const char *name = tg_act_name(a);
    snprintf(dname, sizeof dname, "%s' (backward)", name);
    plot_series s[2] = {{name, CURVE_N, xd, yd, PLOT_BLUE, 0}, {dname, CURVE_N, xd, dyd, PLOT_RED, 1}};
    if (a == TG_ACT_LEAKY_RELU)
        snprintf(title, sizeof title, "leaky_relu (slope %g) and its derivative", (double)slope);
    else
        snprintf(title, sizeof title, "%s and its derivative", name);
    snprintf(path, sizeof path, "%s/activation-%s.png", dir, name);
    if (plot_lines(path, title, "x", "y", s, 2, PLOT_W, PLOT_H, &e) != TG_OK) {
        cli_err("%s: cannot write %s: %s", CMD, path, e.msg);
        return -1;
    }
    return 0;
}

/* the three per-epoch plots over the activations done so far */
static int plot_curves(const char *dir, const hist *h, int done, int epochs)
{
    static const char *const files[3] = {"train-loss", "test-loss", "test-accuracy"};
    static const char *const titles[3] = {"training loss per epoch", "test loss per epoch",
                                          "test accuracy per epoch"};
    static const char *const ylabels[3] = {"mean training loss (cross-entropy)", "test loss (cross-entropy)",
                                           "test accuracy (%)"};
    double *xs = malloc((size_t)epochs * sizeof *xs), *pct = malloc((size_t)NACT * epochs * sizeof *pct);
    if (!xs || !pct) {
        free(xs);
        free(pct);
        cli_err("%s: out of memory", CMD);
        return -1;
    }
    for (int e = 0; e < epochs; e++) xs[e] = e + 1;
    int rc = 0;
    for (int k = 0; k < 3 && !rc; k++) {
        plot_series s[NACT];
        for (int a = 0; a < done; a++) {
            const double *y = k == 0 ? h[a].train : k == 1 ? h[a].test : h[a].acc;
            if (k == 2) {
                for (int e = 0; e < h[a].n; e++) pct[a * epochs + e] = 100 * y[e];
                y = pct + a * epochs;
            }
            s[a] = (plot_series){tg_act_name(acts[a]), h[a].n, xs, y, colors[a], 0};
        }
        char path[4200];
        tg_error e;
        snprintf(path, sizeof path, "%s/activations-%s.png", dir, files[k]);
        if (plot_lines(path, titles[k], "epoch", ylabels[k], s, done, PLOT_W, PLOT_H, &e) != TG_OK) {
            cli_err("%s: cannot write %s: %s", CMD, path, e.msg);
            rc = -1;
        }
    }
    free(xs);
    free(pct);
    return rc;
}

int cmd_activations_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o)
{
    return clf_parse(&clf_activations_table, argc, argv, c, o);
}

int cmd_activations(int argc, char **argv)
{
    clf_cfg cfg;
    clf_run_opts o;
    int rc = cmd_activations_parse(argc, argv, &cfg, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *data = run_data_dir(o.data), *dir = o.out;
    const int quiet = o.quiet, limit = o.limit;
    char path[4200];
    tg_error e;
    mnist_set train = {0}, test = {0};
    hist h[NACT];
    memset(h, 0, sizeof h);
    FILE *csv = NULL;
    clf *m = NULL;
    int status = CLI_FAIL;
    const int E = cfg.epochs;
    if (mnist_load(data, "train", &train, &e) != TG_OK || mnist_load(data, "test", &test, &e) != TG_OK) {
        cli_err("%s: %s (fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)", CMD, e.msg);
        goto done;
    }
    if (train.h * train.w != cfg.spec.widths[0] || test.h * test.w != cfg.spec.widths[0]) {
        cli_err("%s: images are %dx%d pixels but the classifier takes %d", CMD, train.h, train.w, cfg.spec.widths[0]);
        goto done;
    }
    const int n = limit && limit < train.n ? limit : train.n;
    if (n < cfg.batch) {
        cli_err("%s: --batch %d is larger than the %d training images", CMD, cfg.batch, n);
        status = CLI_USAGE;
        goto done;
    }
    if (file_mkdirs(dir, &e) != TG_OK) {
        cli_report(CMD, &e);
        goto done;
    }
    for (int a = 0; a < NACT; a++)
        if (plot_function(dir, acts[a], cfg.spec.slope)) goto done;
    for (int a = 0; a < NACT; a++) {
        double *p = calloc((size_t)4 * E, sizeof *p);
        if (!p) {
            cli_err("%s: out of memory", CMD);
            goto done;
        }
        h[a] = (hist){p, p + E, p + 2 * E, p + 3 * E, 0};
    }
    snprintf(path, sizeof path, "%s/activations.csv", dir);
    if (!(csv = fopen(path, "w"))) {
        cli_err("%s: cannot write %s", CMD, path);
        goto done;
    }
    fprintf(csv, "activation,epoch,train_loss,test_loss,test_accuracy,epoch_seconds\n");
    const int tty = isatty(fileno(stderr)) && !quiet;
    char widths[128];
    clf_widths_str(&cfg.spec, '-', widths, sizeof widths);
    if (!quiet)
        printf("comparing activations on a %s classifier: %s (%d train / %d test images), %d epochs, batch %d, "
               "Adam %g, seed %llu, %d thread%s -> %s\n",
               widths, data, n, test.n, E, cfg.batch, (double)cfg.lr, (unsigned long long)cfg.seed, cfg.threads,
               cfg.threads > 1 ? "s" : "", dir);
    for (int a = 0; a < NACT; a++) {
        clf_cfg c = cfg;
        c.spec.hidden = acts[a];
        const char *name = tg_act_name(acts[a]);
        if (!(m = clf_new(&c, &e))) {
            cli_err("%s: %s: %s", CMD, name, e.msg);
            goto done;
        }
        clf_bar b = {0, E, 0, name};
        if (tty) clf_set_progress(m, clf_progress_bar, &b);
        for (int ep = 0; ep < E; ep++) {
            b.epoch = ep + 1;
            b.t0 = clf_now();
            double tl = clf_train_epoch(m, train.images, train.labels, n, &e), sec = clf_now() - b.t0;
            double vl, acc;
            if (tty) fputc('\n', stderr);
            if (isnan(tl) || clf_evaluate(m, test.images, test.labels, test.n, &vl, &acc, &e) != TG_OK) {
                cli_err("%s: %s, epoch %d: %s", CMD, name, ep + 1, e.msg);
                goto done;
            }
            h[a].train[ep] = tl;
            h[a].test[ep] = vl;
            h[a].acc[ep] = acc;
            h[a].sec[ep] = sec;
            h[a].n = ep + 1;
            fprintf(csv, "%s,%d,%.6f,%.6f,%.6f,%.3f\n", name, ep + 1, tl, vl, acc, sec);
            fflush(csv);
            if (!quiet) {
                printf("%-10s epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.1f s)\n", name,
                       ep + 1, E, tl, vl, 100 * acc, sec);
                fflush(stdout);
            }
        }
        snprintf(path, sizeof path, "%s/classifier-%s.safetensors", dir, name);
        if (clf_save(m, path, h[a].acc[E - 1], data, &e) != TG_OK) {
            cli_err("%s: cannot write %s: %s", CMD, path, e.msg);
            goto done;
        }
        clf_free(m);
        m = NULL;
        if (plot_curves(dir, h, a + 1, E)) goto done;
    }
    printf("\n%-12s %14s %12s %14s %12s %14s\n", "activation", "test accuracy", "test loss", "best accuracy",
           "train loss", "s/epoch");
    for (int a = 0; a < NACT; a++) {
        double best = 0, sec = 0;
        for (int e = 0; e < E; e++) {
            best = h[a].acc[e] > best ? h[a].acc[e] : best;
            sec += h[a].sec[e];
        }
        printf("%-12s %13.2f%% %12.4f %13.2f%% %12.4f %14.1f\n", tg_act_name(acts[a]), 100 * h[a].acc[E - 1],
               h[a].test[E - 1], 100 * best, h[a].train[E - 1], sec / E);
    }
    printf("\n(final epoch %d; CSV and plots in %s)\n", E, dir);
    status = CLI_OK;
done:
    if (csv && fclose(csv) && status == CLI_OK) {
        cli_err("%s: cannot write %s/activations.csv", CMD, dir);
        status = CLI_FAIL;
    }
    clf_free(m);
    for (int a = 0; a < NACT; a++) free(h[a].train);
    mnist_free(&train);
    mnist_free(&test);
    return status;
}
