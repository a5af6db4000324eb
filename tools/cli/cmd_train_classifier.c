/* cmd_train_classifier.c - `tapegrad train-classifier`: train the MLP
 * classifier (classifier.h) on MNIST-format data; per-epoch train loss, test
 * loss and test accuracy, a metrics CSV and a safetensors checkpoint. */
#include "classifier.h"
#include "clf_cli.h"
#include "cli.h"
#include "commands.h"
#include "files.h"
#include "idx.h"
#include "opts.h"
#include "run_dir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CMD "train-classifier"

void cmd_train_classifier_help(FILE *out)
{
    clf_run_opts d;
    clf_opts_defaults(&clf_train_table, &d);
    opts_help(&clf_train_table, &d, out);
}

int clf_parse(const set_table *t, int argc, char **argv, clf_cfg *c, clf_run_opts *o)
{
    clf_opts_defaults(t, o);
    int rc = opts_parse(t, argc, argv, o, o->given, NULL);
    clf_opts_build(o);
    *c = o->cfg;
    return rc;
}

int cmd_train_classifier_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o)
{
    return clf_parse(&clf_train_table, argc, argv, c, o);
}

double clf_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void clf_progress_bar(void *ctx, int it, int iters, double loss)
{
    const clf_bar *b = ctx;
    double el = clf_now() - b->t0, rate = el > 0 ? it / el : 0, left = rate > 0 ? (iters - it) / rate : 0;
    char s[21];
    int fill = (int)(20.0 * it / iters);
    for (int k = 0; k < 20; k++) s[k] = k < fill ? '#' : '.';
    s[20] = 0;
    fprintf(stderr, "\r%s%sepoch %d/%d [%s] %d/%d %.0f it/s ETA %d:%02d  loss %.4f ", b->label ? b->label : "",
            b->label ? " " : "", b->epoch, b->epochs, s, it, iters, rate, (int)left / 60, (int)left % 60, loss);
    fflush(stderr);
}

int cmd_train_classifier(int argc, char **argv)
{
    clf_cfg cfg;
    clf_run_opts o;
    int rc = cmd_train_classifier_parse(argc, argv, &cfg, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    char path[4200], ckpt[4200];
    tg_error e;
    const char *dir = o.out;
    const char *data = run_data_dir(o.data);
    mnist_set train = {0}, test = {0};
    clf *m = NULL;
    FILE *csv = NULL;
    int status = CLI_FAIL;
    if (mnist_load(data, "train", &train, &e) != TG_OK || mnist_load(data, "test", &test, &e) != TG_OK) {
        cli_err("%s: %s (fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)", CMD, e.msg);
        goto done;
    }
    if (train.h * train.w != cfg.spec.widths[0] || test.h * test.w != cfg.spec.widths[0]) {
        cli_err("%s: images are %dx%d and %dx%d pixels but the classifier takes %d", CMD, train.h, train.w, test.h,
                test.w, cfg.spec.widths[0]);
        goto done;
    }
    int n = o.limit && o.limit < train.n ? o.limit : train.n;
    if (n < cfg.batch) {
        cli_err("%s: --batch %d is larger than the %d training images", CMD, cfg.batch, n);
        status = CLI_USAGE;
        goto done;
    }
    if (file_mkdirs(dir, &e) != TG_OK || !(m = clf_new(&cfg, &e))) {
        cli_report(CMD, &e);
        goto done;
    }
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    snprintf(ckpt, sizeof ckpt, "%s/classifier.safetensors", dir);
    if (!(csv = fopen(path, "w"))) {
        cli_err("%s: cannot write %s", CMD, path);
        goto done;
    }
    fprintf(csv, "epoch,train_loss,test_loss,test_accuracy,epoch_seconds\n");
    const int tty = isatty(fileno(stderr)) && !o.quiet;
    char widths[128];
    clf_widths_str(&cfg.spec, '-', widths, sizeof widths);
    if (!o.quiet)
        printf("training a %s %s classifier on %s (%d train / %d test images, batch %d, Adam %g, %d thread%s, "
               "kernels %s) -> %s\n",
               widths, tg_act_name(cfg.spec.hidden), data, n, test.n, cfg.batch, (double)cfg.lr, cfg.threads,
               cfg.threads > 1 ? "s" : "", tg_kernel_name(), dir);
    clf_bar b = {0, cfg.epochs, 0, NULL};
    if (tty) clf_set_progress(m, clf_progress_bar, &b);
    double acc = 0;
    for (int ep = 1; ep <= cfg.epochs; ep++) {
        b.epoch = ep;
        b.t0 = clf_now();
        double tl = clf_train_epoch(m, train.images, train.labels, n, &e), sec = clf_now() - b.t0, vl;
        if (tty) fputc('\n', stderr);
        if (isnan(tl) || clf_evaluate(m, test.images, test.labels, test.n, &vl, &acc, &e) != TG_OK) {
            cli_err("%s: epoch %d: %s", CMD, ep, e.msg);
            goto done;
        }
        fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", ep, tl, vl, acc, sec);
        fflush(csv);
        if (!o.quiet) {
            printf("epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.1f s)\n", ep, cfg.epochs, tl,
                   vl, 100 * acc, sec);
            fflush(stdout);
        }
        if (clf_save(m, ckpt, acc, data, &e) != TG_OK) {
            cli_err("%s: cannot write %s: %s", CMD, ckpt, e.msg);
            goto done;
        }
    }
    if (!o.quiet) printf("done: test accuracy %.2f%%; metrics %s, checkpoint %s\n", 100 * acc, path, ckpt);
    status = CLI_OK;
done:
    if (csv && fclose(csv) && status == CLI_OK) {
        cli_err("%s: cannot write %s", CMD, path);
        status = CLI_FAIL;
    }
    clf_free(m);
    mnist_free(&train);
    mnist_free(&test);
    return status;
}
