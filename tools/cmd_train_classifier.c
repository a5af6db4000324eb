/* cmd_train_classifier.c - `tapegrad train-classifier`: train the MLP
 * classifier (classifier.h) on MNIST-format data; per-epoch train loss, test
 * loss and test accuracy, a metrics CSV and a safetensors checkpoint. */
#include "classifier.h"
#include "clf_cli.h"
#include "cli.h"
#include "commands.h"
#include "idx.h"
#include "run_files.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CMD "train-classifier"

void cmd_train_classifier_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad train-classifier [--data DIR] [--out RUN_DIR] [options]\n"
            "\n"
            "Train an MLP classifier (input -> hidden layers -> 10 logits, softmax\n"
            "cross-entropy, Adam) on MNIST-format IDX data: MNIST or Fashion-MNIST.\n"
            "Prints the train loss, test loss and test accuracy after every epoch and\n"
            "writes RUN_DIR/metrics.csv and RUN_DIR/classifier.safetensors (the\n"
            "classifier `tapegrad evaluate --classifier` reads).\n"
            "\n"
            "  --data DIR          MNIST folder (default: $TAPEGRAD_DATA, else data/mnist)\n"
            "  --out RUN_DIR       output folder (default runs/classifier)\n"
            "  --activation A      hidden activation: relu (default), leaky_relu, sigmoid, tanh\n"
            "  --slope X           LeakyReLU slope (default 0.01)\n"
            "  --hidden W,W,..     hidden widths (default 512,256,128)\n"
            "  --epochs N          epochs (default 10)\n"
            "  --batch N           batch size (default 64); the last partial batch of an\n"
            "                      epoch is dropped (graphs have fixed shapes)\n"
            "  --lr X              Adam learning rate (default 1e-3; betas 0.9, 0.999)\n"
            "  --seed N            seed of the initialization and shuffling (default 1)\n"
            "  --threads N         worker threads (default 2)\n"
            "  --limit N           use only the first N training images\n"
            "  --quiet             no progress bar or log lines, only errors\n");
}

int clf_common_opt(const char *cmd, int argc, char **argv, int *i, clf_cfg *c)
{
    const char *v;
    char err[256];
    int r;
#define OPT(name) ((r = cli_opt(cmd, argc, argv, i, name, &v)) != 0)
    if (OPT("--epochs")) return r < 0 || cli_int(cmd, "--epochs", v, 1, 100000, &c->epochs) ? -1 : 1;
    if (OPT("--batch")) return r < 0 || cli_int(cmd, "--batch", v, 1, 65536, &c->batch) ? -1 : 1;
    if (OPT("--threads")) return r < 0 || cli_int(cmd, "--threads", v, 1, 64, &c->threads) ? -1 : 1;
    if (OPT("--seed")) {
        int s;
        if (r < 0 || cli_int(cmd, "--seed", v, 0, 2147483647, &s)) return -1;
        c->seed = (uint64_t)s;
        return 1;
    }
    if (OPT("--lr")) return r < 0 || cli_pos_float(cmd, "--lr", v, 10, &c->lr) ? -1 : 1;
    if (OPT("--slope")) {
        char *end;
        if (r < 0) return -1;
        double d = strtod(v, &end);
        if (!*v || *end || !isfinite(d) || fabs(d) > 100) {
            cli_err("%s: --slope: '%s' is not a number in [-100, 100]", cmd, v);
            return -1;
        }
        c->spec.slope = (float)d;
        return 1;
    }
    if (OPT("--hidden")) {
        if (r < 0) return -1;
        if (clf_parse_hidden(c, v, err, sizeof err)) {
            cli_err("%s: --hidden: %s", cmd, err);
            return -1;
        }
        return 1;
    }
#undef OPT
    return 0;
}

int cmd_train_classifier_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o)
{
    const char *v;
    clf_cfg_defaults(c, NULL);
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        int r;
        const char *a = argv[i];
        if (cli_is_help(a)) {
            cmd_train_classifier_help(stdout);
            return -1;
        }
        if (!strcmp(a, "--quiet")) o->quiet = 1;
        else if ((r = cli_opt(CMD, argc, argv, &i, "--activation", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            if (!tg_act_parse(v, &c->spec.hidden) || c->spec.hidden == TG_ACT_NONE) {
                cli_err("%s: --activation: '%s' is not relu, leaky_relu, sigmoid or tanh", CMD, v);
                return CLI_USAGE;
            }
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--data", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->data = v;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->out = v;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--limit", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--limit", v, 1, 100000000, &o->limit)) return CLI_USAGE;
        } else if ((r = clf_common_opt(CMD, argc, argv, &i, c)) != 0) {
            if (r < 0) return CLI_USAGE;
        } else {
            return cli_bad_arg(CMD, a);
        }
    }
    return 0;
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
    char err[512], path[4200], ckpt[4200];
    const char *dir = o.out ? o.out : "runs/classifier";
    const char *data = run_data_dir(o.data);
    mnist_set train = {0}, test = {0};
    clf *m = NULL;
    FILE *csv = NULL;
    int status = CLI_FAIL;
    if (mnist_load(data, "train", &train, err, sizeof err) || mnist_load(data, "test", &test, err, sizeof err)) {
        cli_err("%s: %s (fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)", CMD, err);
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
    if (cli_mkdirs(dir, err, sizeof err)) {
        cli_err("%s: %s", CMD, err);
        goto done;
    }
    if (!(m = clf_new(&cfg, err, sizeof err))) {
        cli_err("%s: %s", CMD, err);
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
    for (int e = 1; e <= cfg.epochs; e++) {
        b.epoch = e;
        b.t0 = clf_now();
        double tl = clf_train_epoch(m, train.images, train.labels, n, err, sizeof err), sec = clf_now() - b.t0, vl;
        if (tty) fputc('\n', stderr);
        if (isnan(tl) || clf_evaluate(m, test.images, test.labels, test.n, &vl, &acc, err, sizeof err)) {
            cli_err("%s: epoch %d: %s", CMD, e, err);
            goto done;
        }
        fprintf(csv, "%d,%.6f,%.6f,%.6f,%.3f\n", e, tl, vl, acc, sec);
        fflush(csv);
        if (!o.quiet) {
            printf("epoch %d/%d: train loss %.4f  test loss %.4f  test accuracy %.2f%%  (%.1f s)\n", e, cfg.epochs, tl,
                   vl, 100 * acc, sec);
            fflush(stdout);
        }
        if (clf_save(m, ckpt, acc, data, err, sizeof err)) {
            cli_err("%s: cannot write %s: %s", CMD, ckpt, err);
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
