/* clf_cli.h - what the commands train-classifier and activations share
 * (defined in cmd_train_classifier.c): parsing by their tables, and the
 * progress bar. */
#ifndef TG_CLF_CLI_H
#define TG_CLF_CLI_H

#include "clf_opts.h"

/* Parse argv by table t into *c and *o (clf_opts_defaults first, then the
 * flags, then clf_opts_build); what cmd_*_parse return. */
int clf_parse(const set_table *t, int argc, char **argv, clf_cfg *c, clf_run_opts *o);

/* The progress bar on stderr; ctx is a clf_bar. */
typedef struct clf_bar {
    int epoch, epochs;
    double t0;
    const char *label;   /* printed first, or NULL */
} clf_bar;
void clf_progress_bar(void *ctx, int it, int iters, double loss);
double clf_now(void);   /* monotonic seconds */

#endif
