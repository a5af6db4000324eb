/* commands.h - the subcommands of `tapegrad`, one per cmd_<name>.c.
 *
 * cmd_<name>(argc, argv) runs a command (main.c dispatches to it) and returns
 * its exit status; cmd_<name>_help(out) prints its usage. Each command starts
 * with cmd_<name>_parse(argc, argv, ...): its option parsing on its own, so
 * the tests and the fuzzer (tests/fuzz/fuzz_cli_args.c) drive the real parser
 * without running anything. A parse function reads argv[1..argc-1] (argv[0]
 * is the command's name) and checks every value; it opens, creates and runs
 * nothing, and returns 0 with the options filled in, CLI_USAGE after a
 * message on standard error, or -1 after printing the help (-h, --help). */
#ifndef TG_COMMANDS_H
#define TG_COMMANDS_H

#include "tg_models.h"

#include <stdio.h>

typedef struct gan_cfg gan_cfg;   /* gan_train.h */
typedef struct clf_cfg clf_cfg;   /* classifier.h */
typedef struct ckpt_run ckpt_run; /* checkpoint.h */

/* train-gan: *c is the preset with the flags applied. */
typedef struct train_gan_opts {
    const char *data, *out, *resume, *g_hidden, *d_hidden, *classifier; /* NULL: not given */
    int limit, quiet;  /* limit 0: not given */
    int eval_every;    /* -1: not given */
    int changed;       /* a model or training flag was given (not allowed with --resume) */
    int set_epochs, set_threads, set_log_every; /* given: they override the checkpoint's on --resume */
} train_gan_opts;
int cmd_train_gan(int argc, char **argv);
void cmd_train_gan_help(FILE *out);
int cmd_train_gan_parse(int argc, char **argv, gan_cfg *c, train_gan_opts *o);
/* What the run reads and how often it evaluates (the run's part of the
 * checkpoint): a flag, else what the checkpoint remembers (stored; all "" and
 * 0 without --resume), else the default, paths made absolute. A remembered
 * data folder must still be a folder (ckpt names the checkpoint in that
 * message). 0, or -1 with a message. */
int cmd_train_gan_inputs(const train_gan_opts *o, const ckpt_run *stored, const char *ckpt, ckpt_run *run, char *err,
                         size_t len);

/* train-classifier and activations: *c is clf_cfg_defaults with the flags applied. */
typedef struct clf_run_opts {
    const char *data, *out; /* NULL: not given */
    int limit, quiet;
} clf_run_opts;
int cmd_train_classifier(int argc, char **argv);
void cmd_train_classifier_help(FILE *out);
int cmd_train_classifier_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o);
int cmd_activations(int argc, char **argv);
void cmd_activations_help(FILE *out);
int cmd_activations_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o);

typedef struct sample_opts {
    const char *checkpoint, *out; /* both required */
    int n, seed, threads;
} sample_opts;
int cmd_sample(int argc, char **argv);
void cmd_sample_help(FILE *out);
int cmd_sample_parse(int argc, char **argv, sample_opts *o);

typedef struct gradcheck_opts {
    const char *op; /* --op NAME (a case exists), or NULL */
    int all, list;  /* exactly one of all, list, op */
    tg_gc_opts gc;  /* tol and h; 0: the defaults */
} gradcheck_opts;
int cmd_gradcheck(int argc, char **argv);
void cmd_gradcheck_help(FILE *out);
int cmd_gradcheck_parse(int argc, char **argv, gradcheck_opts *o);

typedef struct graph_opts {
    const char *model, *net, *out; /* out: NULL for standard output */
    int batch;
    tg_gan_spec spec; /* the preset called model */
} graph_opts;
int cmd_graph(int argc, char **argv);
void cmd_graph_help(FILE *out);
int cmd_graph_parse(int argc, char **argv, graph_opts *o);

typedef struct demo_opts {
    int steps, every, seed;
} demo_opts;
int cmd_demo(int argc, char **argv);
void cmd_demo_help(FILE *out);
int cmd_demo_parse(int argc, char **argv, demo_opts *o);

typedef struct bench_opts {
    const char *what, *model; /* what: gan-step, mlp-step, gemm, ops or peak */
    int batch, threads, steps, repeats, json, profile;
    int steps_set; /* --steps was given (else steps is the benchmark's default, or 0) */
} bench_opts;
int cmd_bench(int argc, char **argv);
void cmd_bench_help(FILE *out);
int cmd_bench_parse(int argc, char **argv, bench_opts *o);

typedef struct evaluate_opts {
    const char *samples, *classifier, *data; /* samples required; NULL: the defaults */
    int json, threads;
} evaluate_opts;
int cmd_evaluate(int argc, char **argv);
void cmd_evaluate_help(FILE *out);
int cmd_evaluate_parse(int argc, char **argv, evaluate_opts *o);

#endif
