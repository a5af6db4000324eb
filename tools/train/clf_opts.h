/* clf_opts.h - the settings of train-classifier and activations: one table
 * each (clf_opts.c), from which their --help and parsing come. */
#ifndef TG_CLF_OPTS_H
#define TG_CLF_OPTS_H

#include "classifier.h"
#include "settings.h"

typedef struct clf_run_opts {
    clf_cfg cfg;              /* cfg.spec's hidden widths from `hidden` (clf_opts_build) */
    set_width_list hidden;
    const char *data, *out;   /* data NULL: the default folder */
    int limit, quiet;         /* limit 0: every training image */
    unsigned char given[SET_MAX_ROWS];
} clf_run_opts;

extern const set_table clf_train_table;       /* train-classifier */
extern const set_table clf_activations_table; /* activations */

/* The table's defaults into o. */
void clf_opts_defaults(const set_table *t, clf_run_opts *o);
/* o->cfg.spec's widths: 784, o->hidden..., 10. */
void clf_opts_build(clf_run_opts *o);

#endif
