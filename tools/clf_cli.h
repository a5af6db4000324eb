/* clf_cli.h - what the commands train-classifier and activations share
 * (defined in cmd_train_classifier.c): option parsing and the progress bar. */
#ifndef TG_CLF_CLI_H
#define TG_CLF_CLI_H

#include "classifier.h"

/* Parse argv[*i] if it is one of the options both commands take (--epochs,
 * --batch, --threads, --seed, --lr, --slope, --hidden): 1 if it was (value
 * stored in c), 0 if not, -1 on a bad value (message printed). */
int clf_common_opt(const char *cmd, int argc, char **argv, int *i, clf_cfg *c);

/* The progress bar on stderr; ctx is a clf_bar. */
typedef struct clf_bar {
    int epoch, epochs;
    double t0;
    const char *label;   /* printed first, or NULL */
} clf_bar;
void clf_progress_bar(void *ctx, int it, int iters, double loss);
double clf_now(void);   /* monotonic seconds */

#endif
