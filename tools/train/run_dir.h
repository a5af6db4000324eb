/* run_dir.h - a training run's folder: where the data is by default, the
 * folders a run makes, what a crash inside an atomic write leaves there,
 * and the loss plots drawn from metrics.csv (tools/formats/runlog.h). */
#ifndef TG_RUN_DIR_H
#define TG_RUN_DIR_H

#include "runlog.h"
#include "tg_error.h"

/* The MNIST folder: `given` if not NULL, else $TAPEGRAD_DATA, else
 * "data/mnist" (tools/fetch-mnist.sh puts it there). */
const char *run_data_dir(const char *given);
/* mkdir -p dir and dir/samples */
tg_status run_mkdirs(const char *dir, tg_error *err);
/* Remove the temporary files a run killed inside an atomic write left in dir
 * and dir/samples (checkpoint.safetensors.tmp.XXXXXX, losses.png.tmp...,
 * samples/epoch-NNN.png.tmp...); nothing reads them. Returns how many. */
int run_clean_tmp(const char *dir);
/* dir/losses.png: loss_D and loss_G against step; dir/d_outputs.png: D(x), D(G(z)). */
tg_status run_plot_losses(const char *dir, const run_metrics *m, tg_error *err);

#endif
