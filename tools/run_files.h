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
/* mkdir -p dir and dir/samples; 0 or -1 with a message */
int run_mkdirs(const char *dir, char *err, size_t len);

/* metrics.csv, one row every log_every iterations:
 * step,epoch,loss_d,loss_g,d_real,d_fake,gnorm_g,gnorm_d,elapsed_s with
 * loss_*, d_* the means over those iterations and gnorm_* the gradient norms
 * of the row's last iteration. */
typedef struct run_metrics {
    int n, cap;
    double *step, *loss_d, *loss_g, *d_real, *d_fake, *elapsed;
} run_metrics;

/* Open metrics.csv for appending (resume) or create it with its header. */
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

/* dir/losses.png: loss_D and loss_G against step, and D(x), D(G(z)). */
int run_plot_losses(const char *dir, const run_metrics *m, char *err, size_t len);

#endif
