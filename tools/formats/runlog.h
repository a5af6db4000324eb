/* runlog.h - the CSV logs of a training run: metrics.csv (written as
 * training goes, read back on --resume for the plots) and the cut-back of a
 * run's logs to its checkpoint (metrics.csv, eval.csv) that --resume does.
 * Errors: a tg_status (a count or -1 where a count is returned) and a
 * message naming the file and line in err. */
#ifndef TG_RUNLOG_H
#define TG_RUNLOG_H

#include "tg_error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* metrics.csv, one row every log_every iterations:
 * step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s with
 * loss_*, d_* the means over those iterations and gnorm_* the gradient norms
 * of the row's last iteration. */
#define RUN_METRICS_HEADER "step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s"
typedef struct run_metrics {
    int n, cap;
    double *step, *loss_d, *loss_g, *d_real, *d_fake, *elapsed;
} run_metrics;

/* Open metrics.csv for appending (resume) or create it; an empty file gets
 * its header. */
FILE *run_metrics_open(const char *dir, int append, tg_error *err);
/* Read an existing metrics.csv back (for the plots of a resumed run). */
tg_status run_metrics_load(const char *dir, run_metrics *m, tg_error *err);
/* The same from an open stream; name is the file's name in messages. The
 * first line must be the header; every other line (RUN_METRICS_MAX_LINE bytes
 * at most) nine finite numbers separated by commas; TG_OK, or TG_ERR_FORMAT
 * naming the line (TG_ERR_IO, TG_ERR_NOMEM). */
#define RUN_METRICS_MAX_LINE 510
tg_status run_metrics_read(FILE *f, const char *name, run_metrics *m, tg_error *err);
/* Write one row (v = loss_d, loss_g, d_real, d_fake, gnorm_g, gnorm_d) and
 * remember it for the plots. */
void run_metrics_row(FILE *csv, run_metrics *m, int64_t step, int epoch, const double *v, double elapsed);
void run_metrics_free(run_metrics *m);

/* eval.csv, one row per evaluation (train-gan --eval-every): the epoch and
 * step it followed, the number of samples, and the scores. */
#define RUN_EVAL_HEADER "epoch,step,n,fid,is,entropy_bits,mean_confidence"
#define RUN_EVAL_STEP_COL 1 /* the step's field */
/* Open dir/eval.csv for appending (resume) or create it; an empty file gets
 * its header. */
FILE *run_eval_open(const char *dir, int append, tg_error *err);
void run_eval_row(FILE *csv, int epoch, int64_t step, int n, const double scores[4]);

/* ---- what a crash leaves, cleaned up on --resume ----
 * A run writes its logs (metrics.csv, eval.csv) and plots first and its
 * checkpoint last in each epoch, so after a crash the logs hold every row up
 * to the checkpoint's step and maybe more; the resumed run cuts them back. */

/* Cut the CSV log `path` back to the rows whose step (field step_col,
 * 0-based) is at most max_step: the rows a killed run logged after its last
 * checkpoint go, and so does a torn last line (one without its newline). The
 * first line must be `header` (or a torn piece of it, which is cut to an
 * empty file) and every kept row must have the header's number of fields and
 * a step; otherwise the file is left as it is and -1 returned with a message.
 * The cut is an ftruncate at a row boundary followed by fsync. A missing file
 * is fine. Returns the number of lines dropped. */
int run_csv_cut(const char *path, const char *header, int step_col, int64_t max_step, tg_error *err);
/* run_csv_cut for dir/metrics.csv, whose kept rows must also be what
 * run_metrics_read accepts (checked before anything is cut, so a file it
 * refuses is left as it is) and are read into m for the plots. Returns the
 * number of lines dropped, or -1 with a message. */
int run_metrics_resume(const char *dir, int64_t max_step, run_metrics *m, tg_error *err);
/* Flush a log and sync it to disk (before the checkpoint that follows it);
 * TG_OK, or TG_ERR_IO naming `name`. */
tg_status run_log_sync(FILE *f, const char *name, tg_error *err);
#endif
