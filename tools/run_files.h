/* run_files.h - the files of a training run folder: metrics.csv (written as
 * training goes, read back on --resume), losses.png, samples/, and where the
 * data folder is by default. */
#ifndef TG_RUN_FILES_H
#define TG_RUN_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The MNIST folder: `given` if not NULL, else $TAPEGRAD_DATA, else
 * "data/mnist" (tools/fetch-mnist.sh puts it there). */
const char *run_data_dir(const char *given);
/* p made absolute (the current folder + "/" + p unless it starts with "/")
 * into out; 0, or -1 with a message if it does not fit. */
int run_abs_path(const char *p, char *out, size_t len, char *err, size_t errlen);
/* mkdir -p dir and dir/samples; 0 or -1 with a message */
int run_mkdirs(const char *dir, char *err, size_t len);

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
FILE *run_metrics_open(const char *dir, int append, char *err, size_t len);
/* Read an existing metrics.csv back (for the plots of a resumed run). */
int run_metrics_load(const char *dir, run_metrics *m, char *err, size_t len);
/* The same from an open stream; name is the file's name in messages. The
 * first line must be the header; every other line (RUN_METRICS_MAX_LINE bytes
 * at most) nine finite numbers separated by commas; 0, or -1 with a message. */
#define RUN_METRICS_MAX_LINE 510
int run_metrics_read(FILE *f, const char *name, run_metrics *m, char *err, size_t len);
/* Write one row (v = loss_d, loss_g, d_real, d_fake, gnorm_g, gnorm_d) and
 * remember it for the plots. */
void run_metrics_row(FILE *csv, run_metrics *m, int64_t step, int epoch, const double *v, double elapsed);
void run_metrics_free(run_metrics *m);

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
int run_csv_cut(const char *path, const char *header, int step_col, int64_t max_step, char *err, size_t len);
/* run_csv_cut for dir/metrics.csv, whose kept rows must also be what
 * run_metrics_read accepts (checked before anything is cut, so a file it
 * refuses is left as it is) and are read into m for the plots. Returns the
 * number of lines dropped, or -1 with a message. */
int run_metrics_resume(const char *dir, int64_t max_step, run_metrics *m, char *err, size_t len);
/* Flush a log and sync it to disk (before the checkpoint that follows it);
 * 0, or -1 with a message naming `name`. */
int run_log_sync(FILE *f, const char *name, char *err, size_t len);
/* Remove the temporary files a run killed inside an atomic write left in dir
 * and dir/samples (checkpoint.safetensors.tmp.XXXXXX, losses.png.tmp...,
 * samples/epoch-NNN.png.tmp...); nothing reads them. Returns how many. */
int run_clean_tmp(const char *dir);

/* dir/losses.png: loss_D and loss_G against step, and D(x), D(G(z)). */
int run_plot_losses(const char *dir, const run_metrics *m, char *err, size_t len);

#endif
