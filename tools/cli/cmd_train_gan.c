/* cmd_train_gan.c - `tapegrad train-gan`: train a GAN on MNIST-format data,
 * with a progress bar, metrics CSV, per-epoch sample grids and loss plots,
 * and a checkpoint after every epoch that --resume continues bit-exactly.
 * Its settings are one table (tools/train/gan_opts.c); the iteration is
 * tools/train/gan_train.c; this file runs them and does the printing. */
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "evaluate.h"
#include "files.h"
#include "gan_opts.h"
#include "idx.h"
#include "opts.h"
#include "png_out.h"
#include "run_dir.h"

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

void cmd_train_gan_help(FILE *out)
{
    train_gan_opts d;
    gan_opts_defaults(&d);
    opts_help(&gan_opts_table, &d, out);
}

int cmd_train_gan_parse(int argc, char **argv, gan_cfg *c, train_gan_opts *o)
{
    train_gan_opts d;
    gan_opts_defaults(&d);
    *o = d;
    int rc = opts_parse(&gan_opts_table, argc, argv, o, o->given, &d);
    if (rc) return rc;
    tg_error e;
    if (gan_opts_build(o, c, &e) != TG_OK) {
        cli_err("%s: %s", CMD, e.msg);
        return CLI_USAGE;
    }
    return 0;
}

/* The run's data folder, classifier, --eval-every and --limit: the flag, else
 * (on --resume) what the checkpoint remembers, else the default; paths are
 * made absolute, so a resume from another folder finds them. */
tg_status cmd_train_gan_inputs(const train_gan_opts *o, const ckpt_run *stored, const char *ckpt, ckpt_run *run,
                               tg_error *err)
{
    memset(run, 0, sizeof *run);
    run->eval_every = gan_opts_given(o, "--eval-every") ? o->eval_every : stored->eval_every;
    run->limit = gan_opts_given(o, "--limit") ? o->limit : stored->limit;
    tg_status st;
    if (!o->data && stored->data[0]) {
        struct stat sb;
        int gone = stat(stored->data, &sb) != 0;
        if (gone || !S_ISDIR(sb.st_mode))
            return tg_error_set(err, TG_ERR_IO, "the run's data folder %s (remembered by %s): %s; if the data moved, "
                                "give --data DIR", stored->data, ckpt, gone ? strerror(errno) : "not a folder");
        strcpy(run->data, stored->data);
    } else if ((st = file_abs_path(run_data_dir(o->data), run->data, sizeof run->data, err)) != TG_OK)
        return st;
    const char *clf = o->classifier ? o->classifier
                      : stored->classifier[0] ? stored->classifier
                      : run->eval_every ? eval_default_classifier() : NULL;
    if (clf && (st = file_abs_path(clf, run->classifier, sizeof run->classifier, err)) != TG_OK) return st;
    const char *bad = !st_utf8_valid(run->data) ? "data folder" : !st_utf8_valid(run->classifier) ? "classifier" : NULL;
    if (bad)
        fprintf(stderr, "tapegrad: warning: the %s's name is not valid UTF-8, which checkpoints cannot hold: --resume "
                "will need it given again\n", bad);
    return TG_OK;
}

/* ---- the run's state, shared by its steps ---- */
typedef struct run_state {
    const train_gan_opts *o;
    gan_cfg cfg;
    const char *dir;
    char ckpt[4200];
    ckpt_run run;          /* what this run reads, as its checkpoints store it */
    gan_run r;
    mnist_set set;
    run_metrics hist;
    int *perm, n, ipe, tty;
    FILE *csv, *eval_csv;  /* rank 0's */
    eval_ref *ref;
    gan_eval *ev;
    double t0;
    dp *dp;                /* several processes (mpirun); NULL: one */
    int rank;              /* 0 alone prints and writes files */
} run_state;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The checkpoint: from the file, or on several processes from rank 0's
 * reading of it (the other ranks need not see the run's folder) */
static tg_status open_ckpt(run_state *s, st_file **f, tg_error *e)
{
    if (!s->dp) return st_open(s->ckpt, f, e);
    char *buf = NULL;
    size_t len = 0;
    tg_status st = s->rank == 0 ? file_read_bytes(s->ckpt, (size_t)1 << 32, &buf, &len, e) : TG_OK;
    void *b = buf;
    st = dp_broadcast_blob(s->dp, &b, &len, st, e);
    if (st == TG_OK) st = st_open_mem(b, len, f, e);
    free(b);
    return st;
}

/* --resume: the configuration and the run's inputs the checkpoint stores,
 * then the flags given with --resume over them */
static int load_resume(run_state *s, st_file **f)
{
    tg_error e;
    ckpt_run stored;
    static train_gan_opts loaded; /* 10 KB: off the stack */
    loaded = *s->o;
    if (open_ckpt(s, f, &e) != TG_OK || ckpt_config(*f, &loaded.cfg, &stored, &e) != TG_OK) {
        cli_err("%s: cannot resume from %s: %s", CMD, s->ckpt, e.msg);
        return CLI_FAIL;
    }
    /* the rows --resume may change (epochs, threads, log_every...) that were given */
    set_copy(&gan_opts_table, &loaded, s->o, s->o->given, SET_RESUME);
    s->cfg = loaded.cfg;
    if (cmd_train_gan_inputs(s->o, &stored, s->ckpt, &s->run, &e) != TG_OK) return cli_report(CMD, &e);
    return CLI_OK;
}

/* --resume: cut the logs back to the checkpoint's step (a run killed after its
 * last checkpoint logged rows beyond it) and read metrics.csv for the plots;
 * metrics.csv's kept rows are read as strictly as run_metrics_read does before
 * anything is cut */
static int resume_logs(run_state *s)
{
    char p[4200];
    tg_error e;
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s", s->dir, k ? "eval.csv" : "metrics.csv");
        int n = k ? run_csv_cut(p, RUN_EVAL_HEADER, RUN_EVAL_STEP_COL, s->r.step, &e)
                  : run_metrics_resume(s->dir, s->r.step, &s->hist, &e);
        if (n < 0) {
            cli_err("%s: cannot resume: %s", CMD, e.msg);
            return CLI_FAIL;
        }
        if (n && !s->o->quiet)
            printf("%s: dropped %d line%s logged after the checkpoint (step %lld)\n", p, n, n > 1 ? "s" : "",
                   (long long)s->r.step);
    }
    return CLI_OK;
}

/* everything before the first iteration: the model (new, or from the
 * checkpoint), the data, the logs, the evaluator */
static int setup(run_state *s)
{
    tg_error e;
    st_file *f = NULL;
    int rc = CLI_FAIL;
    snprintf(s->ckpt, sizeof s->ckpt, "%s/checkpoint.safetensors", s->dir);
    if (s->o->resume) {
        if ((rc = load_resume(s, &f)) != CLI_OK) goto done;
        rc = CLI_FAIL;
    } else if (cmd_train_gan_inputs(s->o, &(ckpt_run){{0}, {0}, 0, 0}, s->ckpt, &s->run, &e) != TG_OK) {
        cli_report(CMD, &e);
        goto done;
    }
    /* the classifier and test set, then the data: a missing or unfit one
     * stops before the run's folder is made */
    if (s->run.eval_every && s->rank == 0 && !(s->ref = eval_ref_new(s->run.classifier, s->run.data, s->cfg.threads, &e))) {
        cli_err("%s: --eval-every: %s", CMD, e.msg);
        goto done;
    }
    if (mnist_load(s->run.data, "train", &s->set, &e) != TG_OK) {
        cli_err("%s: %s (fetch MNIST with tools/fetch-mnist.sh, or pass --data DIR)", CMD, e.msg);
        goto done;
    }
    const int xd = s->cfg.spec.D.in_features;
    if (s->set.h * s->set.w != xd) {
        cli_err("%s: images are %dx%d = %d pixels but D takes %d", CMD, s->set.h, s->set.w, s->set.h * s->set.w, xd);
        goto done;
    }
    s->n = s->run.limit && s->run.limit < s->set.n ? s->run.limit : s->set.n;
    s->ipe = s->n / s->cfg.batch;
    if (s->ipe < 1) {
        cli_err("%s: --batch %d is larger than the %d training images", CMD, s->cfg.batch, s->n);
        goto done;
    }
    if (s->o->resume) {
        if (gan_init_dp(&s->r, &s->cfg, s->dp, &e) != TG_OK || ckpt_restore(f, &s->r, 1, &e) != TG_OK) {
            cli_err("%s: cannot resume from %s: %s", CMD, s->ckpt, e.msg);
            goto done;
        }
        if (!s->o->quiet) printf("resuming %s at epoch %d (step %lld)\n", s->dir, s->r.epoch, (long long)s->r.step);
    } else {
        /* rank 0 alone writes the run's folder */
        if (s->rank == 0 && access(s->ckpt, F_OK) == 0) {
            cli_err("%s: %s already holds a run (use --resume %s, or another --out)", CMD, s->dir, s->dir);
            goto done;
        }
        if ((s->rank == 0 && run_mkdirs(s->dir, &e) != TG_OK) || gan_init_dp(&s->r, &s->cfg, s->dp, &e) != TG_OK) {
            cli_report(CMD, &e);
            goto done;
        }
    }
    rc = CLI_OK;
done:
    st_close(f);
    return rc;
}

/* the files a run writes to as it goes: metrics.csv and eval.csv, after a
 * crash's leftovers are cleaned up and, on --resume, the logs cut back */
static int open_logs(run_state *s)
{
    tg_error e;
    s->perm = malloc((size_t)s->n * sizeof *s->perm);
    if (!s->perm) {
        cli_err("%s: out of memory", CMD);
        return CLI_FAIL;
    }
    if (s->rank != 0) return CLI_OK; /* rank 0 alone writes the logs */
    /* a crash inside an atomic write leaves a temporary file; one after the
     * last checkpoint leaves log rows beyond it */
    int stale = run_clean_tmp(s->dir);
    if (stale && !s->o->quiet)
        printf("%s: removed %d temporary file%s of an interrupted write\n", s->dir, stale, stale > 1 ? "s" : "");
    if (s->o->resume && resume_logs(s) != CLI_OK) return CLI_FAIL;
    if (!(s->csv = run_metrics_open(s->dir, s->o->resume != NULL, &e))) return cli_report(CMD, &e);
    if (s->run.eval_every && (!(s->ev = gan_eval_new(&s->r, s->ref, &e)) ||
                              !(s->eval_csv = run_eval_open(s->dir, s->o->resume != NULL, &e)))) {
        cli_err("%s: --eval-every: %s", CMD, e.msg);
        return CLI_FAIL;
    }
    return CLI_OK;
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

/* one epoch's iterations; its means in *ep */
static int train_epoch(run_state *s, sums *ep)
{
    gan_run *r = &s->r;
    const gan_cfg *c = &s->cfg;
    const int xd = c->spec.D.in_features, rows = r->rows, row0 = r->rank * rows;
    gan_shuffle(r, s->perm, s->n); /* every rank alike; each takes its rows of every batch */
    sums w = {{0}, 0};
    double dfake_avg = -1; /* exponential average of mean D(G(z)) over ~DWIN_ITERS iterations */
    int warned = 0;
    const double te = now();
    for (int it = 0; it < s->ipe; it++) {
        for (int b = 0; b < rows; b++)
            memcpy(r->x + (size_t)b * xd, s->set.images + (size_t)s->perm[it * c->batch + row0 + b] * xd,
                   (size_t)xd * sizeof(float));
        gan_stats st;
        tg_error e;
        r->want_norms = w.n + 1 == c->log_every || it == s->ipe - 1; /* only on logged iterations */
        if (gan_step(r, &st, &e) != TG_OK) {
            if (s->tty) fputc('\n', stderr);
            if (r->epoch > 0)
                cli_err("%s: stopped at epoch %d, iteration %d (step %lld): %s; the last good checkpoint, after epoch "
                        "%d, is %s", CMD, r->epoch + 1, it + 1, (long long)r->step + 1, e.msg, r->epoch, s->ckpt);
            else
                cli_err("%s: stopped at epoch 1, iteration %d: %s; no checkpoint was written", CMD, it + 1, e.msg);
            return CLI_FAIL;
        }
        sums_add(&w, &st);
        sums_add(ep, &st);
        dfake_avg = dfake_avg < 0 ? st.d_fake : dfake_avg + (st.d_fake - dfake_avg) / DWIN_ITERS;
        if (it + 1 >= DWIN_ITERS && dfake_avg < DWIN_THRESHOLD && !warned && s->rank == 0) {
            if (s->tty) fputc('\n', stderr);
            fprintf(stderr, "tapegrad: warning: D is winning: mean D(G(z)) has averaged %.4f over the last ~%d "
                    "iterations (epoch %d); G gets almost no gradient\n", dfake_avg, DWIN_ITERS, r->epoch + 1);
            warned = 1;
        }
        if (w.n == c->log_every || it == s->ipe - 1) {
            double row[6];
            sums_row(&w, row);
            if (s->csv) run_metrics_row(s->csv, &s->hist, r->step, r->epoch + 1, row, now() - s->t0);
            if (!s->o->quiet) progress(s->tty, r->epoch, c->epochs, it + 1, s->ipe, (it + 1) / (now() - te), &w);
            memset(&w, 0, sizeof w);
        }
    }
    r->epoch++;
    if (s->tty) fputc('\n', stderr);
    return CLI_OK;
}

/* --eval-every: score G's fixed-noise samples into eval.csv */
static int evaluate(run_state *s, tg_error *err)
{
    eval_result res;
    tg_error e;
    if (gan_eval_run(s->ev, &res, &e) != TG_OK) {
        tg_error_set(err, e.code, "evaluation after epoch %d: %s", s->r.epoch, e.msg);
        return CLI_FAIL;
    }
    const double v[4] = {res.fid, res.is, res.entropy_bits, res.confidence};
    run_eval_row(s->eval_csv, s->r.epoch, s->r.step, res.n, v);
    if (!s->o->quiet)
        printf("epoch %d eval (%d samples): Frechet distance %.3f, inception score %.3f, label entropy %.3f bits, "
               "mean confidence %.3f\n", s->r.epoch, res.n, res.fid, res.is, res.entropy_bits, res.confidence);
    return CLI_OK;
}

/* after an epoch (rank 0): everything it logs and draws first, the
 * checkpoint last (a crash before the rename leaves the logs ahead of the
 * previous checkpoint, and --resume cuts them back to it); what failed in
 * *err */
static int epoch_outputs(run_state *s, double *diversity, tg_error *err)
{
    gan_run *r = &s->r;
    tg_error e;
    char path[4200];
    const float *x = gan_fixed_samples(r);
    *diversity = x ? gan_sample_diversity(x, GAN_FIXED, s->cfg.spec.D.in_features) : 0;
    snprintf(path, sizeof path, "%s/samples/epoch-%03d.png", s->dir, r->epoch);
    if (!x || pngout_grid(path, x, GAN_FIXED, s->set.h, s->set.w, 8, 8, 2, &e) != TG_OK) {
        tg_error_set(err, x ? e.code : TG_ERR_STATE, "cannot write %s: %s", path, x ? e.msg : "sampling failed");
        return CLI_FAIL;
    }
    if (run_plot_losses(s->dir, &s->hist, err) != TG_OK) return CLI_FAIL;
    if (s->ev && (r->epoch % s->run.eval_every == 0 || r->epoch == s->cfg.epochs) && evaluate(s, err) != CLI_OK)
        return CLI_FAIL;
    if (run_log_sync(s->csv, "metrics.csv", err) != TG_OK ||
        (s->eval_csv && run_log_sync(s->eval_csv, "eval.csv", err) != TG_OK))
        return CLI_FAIL;
    tg_status st = r->fault == DP_FAULT_IO && r->step > r->fault_step
                       ? tg_error_set(&e, TG_ERR_IO, "a write error injected for tests (TG_FAULT=io)")
                       : ckpt_save(s->ckpt, r, &s->run, &e);
    if (st != TG_OK) {
        tg_error_set(err, st, "cannot write %s: %s", s->ckpt, e.msg);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static void run_free(run_state *s)
{
    if (s->csv) fclose(s->csv);
    if (s->eval_csv) fclose(s->eval_csv);
    free(s->perm);
    mnist_free(&s->set);
    run_metrics_free(&s->hist);
    gan_eval_free(s->ev); /* before the store and pool it borrows */
    eval_ref_free(s->ref);
    gan_free(&s->r);
}

/* Several processes (mpirun): join them; rank 0 alone prints and writes.
 * The global batch must split evenly. */
static int join(run_state *s, train_gan_opts *o)
{
    tg_error e;
    if (dp_join(&s->dp, &e) != TG_OK) return cli_report(CMD, &e);
    s->rank = dp_rank(s->dp);
    cli_set_rank(s->rank);
    if (s->rank != 0) o->quiet = 1;
    const int n = dp_size(s->dp);
    if (!o->resume && s->cfg.batch % n) {
        cli_err("%s: --batch %d is the global batch, split evenly over the %d processes, and %d does not divide by %d: "
                "give a multiple of %d", CMD, s->cfg.batch, n, s->cfg.batch, n, n);
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* Every rank, after its setup: did every rank get there? Then the ranks'
 * parameters and gradient averaging. */
static int start(run_state *s, int rc)
{
    tg_error e, mine;
    tg_error_set(&mine, TG_ERR_STATE, "could not start (its message above)");
    if (dp_agree(s->dp, rc == CLI_OK ? TG_OK : TG_ERR_STATE, &mine, NULL, 0, &e) != TG_OK) {
        if (rc == CLI_OK) cli_err("%s: %s", CMD, e.msg); /* the failing rank said why */
        return rc == CLI_OK ? CLI_FAIL : rc;
    }
    return gan_dp_start(&s->r, &e) == TG_OK ? CLI_OK : cli_report(CMD, &e);
}

/* Every rank, after an epoch: rank 0's outputs, and whether they were written */
static int end_epoch(run_state *s, double *div)
{
    tg_error e, mine;
    memset(&mine, 0, sizeof mine);
    *div = 1;
    int rc = s->rank == 0 ? epoch_outputs(s, div, &mine) : CLI_OK;
    if (dp_agree(s->dp, rc == CLI_OK ? TG_OK : mine.code, &mine, NULL, 0, &e) != TG_OK) {
        cli_err("%s: stopped after epoch %d (step %lld): %s", CMD, s->r.epoch, (long long)s->r.step, e.msg);
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_train_gan(int argc, char **argv)
{
    static train_gan_opts o; /* 5 KB of layer lists: off the stack */
    run_state s;
    memset(&s, 0, sizeof s);
    int rc = cmd_train_gan_parse(argc, argv, &s.cfg, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    s.o = &o;
    s.dir = o.resume ? o.resume : o.out;
    if ((rc = join(&s, &o)) != CLI_OK) {
        dp_free(s.dp);
        return rc;
    }
    rc = setup(&s);
    if (rc == CLI_OK) rc = open_logs(&s);
    rc = start(&s, rc);
    if (rc != CLI_OK) {
        run_free(&s);
        dp_free(s.dp);
        return rc;
    }
    const gan_cfg *c = &s.cfg;
    s.tty = isatty(fileno(stderr)) && !o.quiet;
    char procs[80] = "";
    if (s.r.size > 1) snprintf(procs, sizeof procs, " = %d processes x %d", s.r.size, s.r.rows);
    if (!o.quiet)
        printf("training %s GAN on %s (%d images, %d iterations/epoch, batch %d%s, %d thread%s%s, kernels %s) -> %s\n",
               c->model, s.run.data, s.n, s.ipe, c->batch, procs, c->threads, c->threads > 1 ? "s" : "",
               s.r.size > 1 ? " per process" : "", tg_kernel_name(), s.dir);
    s.t0 = now() - (s.hist.n ? s.hist.elapsed[s.hist.n - 1] : 0);
    while (rc == CLI_OK && s.r.epoch < c->epochs) {
        sums ep = {{0}, 0};
        double te = now(), div;
        if ((rc = train_epoch(&s, &ep)) != CLI_OK || (rc = end_epoch(&s, &div)) != CLI_OK) break;
        double en = ep.n ? ep.n : 1;
        if (!o.quiet)
            printf("epoch %d/%d done in %.1f s: loss_D %.4f loss_G %.4f D(x) %.4f D(G(z)) %.4f sample diversity %.3f\n",
                   s.r.epoch, c->epochs, now() - te, ep.v[0] / en, ep.v[1] / en, ep.v[2] / en, ep.v[3] / en, div);
        if (div < COLLAPSE_DIVERSITY && s.rank == 0)
            fprintf(stderr, "tapegrad: warning: generator collapse: the 64 fixed-noise samples are nearly identical "
                    "(per-pixel std %.4f < %.2f)\n", div, COLLAPSE_DIVERSITY);
        fflush(stdout);
    }
    if (rc == CLI_OK && !o.quiet)
        printf("done: samples in %s/samples, losses in %s/losses.png, checkpoint %s\n", s.dir, s.dir, s.ckpt);
    run_free(&s);
    dp_free(s.dp);
    return rc;
}
