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

/* Every rank, after its setup (ok: its own went well): did every rank's?
 * The rank that failed said why; the others say which rank it was. */
static int started(dp *d, int ok)
{
    tg_error e, mine;
    tg_error_set(&mine, TG_ERR_STATE, "could not start (its message above)");
    if (dp_agree(d, ok ? TG_OK : TG_ERR_STATE, &mine, NULL, 0, &e) == TG_OK) return 1;
    if (ok) cli_err("%s: %s", CMD, e.msg);
    return 0;
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
    /* several processes (mpirun): rank 0 alone prints and writes */
    dp *d = NULL;
    if (dp_join(&d, &e) != TG_OK) return cli_report(CMD, &e);
    const int rank = dp_rank(d);
    cli_set_rank(rank);
    if (rank != 0) o.quiet = 1;
    if (cfg.batch % dp_size(d)) {
        cli_err("%s: --batch %d is the global batch, split evenly over the %d processes, and %d does not divide by %d: "
                "give a multiple of %d", CMD, cfg.batch, dp_size(d), cfg.batch, dp_size(d), dp_size(d));
        dp_free(d);
        return CLI_USAGE;
    }
    if (mnist_load(data, "train", &train, &e) != TG_OK || mnist_load(data, "test", &test, &e) != TG_OK) {
        cli_err("%s: %s (fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)", CMD, e.msg);
        goto setup_failed;
    }
    if (train.h * train.w != cfg.spec.widths[0] || test.h * test.w != cfg.spec.widths[0]) {
        cli_err("%s: images are %dx%d and %dx%d pixels but the classifier takes %d", CMD, train.h, train.w, test.h,
                test.w, cfg.spec.widths[0]);
        goto setup_failed;
    }
    int n = o.limit && o.limit < train.n ? o.limit : train.n;
    if (n < cfg.batch) {
        cli_err("%s: --batch %d is larger than the %d training images", CMD, cfg.batch, n);
        status = CLI_USAGE;
        goto setup_failed;
    }
    if ((rank == 0 && file_mkdirs(dir, &e) != TG_OK) || !(m = clf_new(&cfg, &e)) || clf_set_dp(m, d, &e) != TG_OK) {
        cli_report(CMD, &e);
        goto setup_failed;
    }
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    snprintf(ckpt, sizeof ckpt, "%s/classifier.safetensors", dir);
    if (rank == 0 && !(csv = fopen(path, "w"))) {
        cli_err("%s: cannot write %s", CMD, path);
        goto setup_failed;
    }
    if (csv) fprintf(csv, "epoch,train_loss,test_loss,test_accuracy,epoch_seconds\n");
    if (!started(d, 1)) goto done;
    const int tty = isatty(fileno(stderr)) && !o.quiet;
    char widths[128];
    clf_widths_str(&cfg.spec, '-', widths, sizeof widths);
    char procs[80] = "";
    if (dp_size(d) > 1) snprintf(procs, sizeof procs, " = %d processes x %d", dp_size(d), cfg.batch / dp_size(d));
    if (!o.quiet)
        printf("training a %s %s classifier on %s (%d train / %d test images, batch %d%s, Adam %g, %d thread%s%s, "
               "kernels %s) -> %s\n",
               widths, tg_act_name(cfg.spec.hidden), data, n, test.n, cfg.batch, procs, (double)cfg.lr, cfg.threads,
               cfg.threads > 1 ? "s" : "", dp_size(d) > 1 ? " per process" : "", tg_kernel_name(), dir);
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
        if (csv) {
            fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", ep, tl, vl, acc, sec);
            fflush(csv);
        }
        if (!o.quiet) {
            printf("epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.1f s)\n", ep, cfg.epochs, tl,
                   vl, 100 * acc, sec);
            fflush(stdout);
        }
        /* rank 0 writes the checkpoint; every rank learns whether it could */
        tg_error mine;
        tg_status st = rank == 0 ? clf_save(m, ckpt, acc, data, &mine) : TG_OK;
        if (st != TG_OK) {
            tg_error why = mine;
            tg_error_set(&mine, st, "cannot write %s: %s", ckpt, why.msg);
        }
        if (dp_agree(d, st, &mine, NULL, 0, &e) != TG_OK) {
            cli_err("%s: epoch %d: %s", CMD, ep, e.msg);
            goto done;
        }
    }
    if (!o.quiet) printf("done: test accuracy %.2f%%; metrics %s, checkpoint %s\n", 100 * acc, path, ckpt);
    status = CLI_OK;
    goto done;
setup_failed:
    started(d, 0);
done:
    if (csv && fclose(csv) && status == CLI_OK) {
        cli_err("%s: cannot write %s", CMD, path);
        status = CLI_FAIL;
    }
    clf_free(m);
    mnist_free(&train);
    mnist_free(&test);
    dp_free(d);
    return status;
}
