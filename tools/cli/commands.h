/* commands.h - the subcommands of `tapegrad`, one per cmd_<name>.c.
 *
 * cmd_<name>(argc, argv) runs a command (main.c dispatches to it) and returns
 * its exit status; cmd_<name>_help(out) prints its usage. Each command's
 * options are one table of settings (settings.h; train-gan's and the
 * classifier commands' live in tools/train, the others in their cmd_<name>.c)
 * and each command starts with cmd_<name>_parse(argc, argv, ...): its option
 * parsing on its own (opts.h), so the tests and the fuzzer
 * (tests/fuzz/fuzz_cli_args.c) drive the real parser without running
 * anything. A parse function reads argv[1..argc-1] (argv[0] is the command's
 * name) and checks every value; it creates and runs nothing (it reads the
 * file of --g-arch @FILE), and returns 0 with the options filled in,
 * CLI_USAGE after a message on standard error, or -1 after printing the help
 * (-h, --help). */
#ifndef TG_COMMANDS_H
#define TG_COMMANDS_H

#include "checkpoint.h"
#include "clf_opts.h"
#include "gan_opts.h"
#include "settings.h"
#include "tg_models.h"

#include <stdio.h>

/* train-gan: *c is the preset, edited by the flags, checked (gan_opts_build). */
int cmd_train_gan(int argc, char **argv);
void cmd_train_gan_help(FILE *out);
int cmd_train_gan_parse(int argc, char **argv, gan_cfg *c, train_gan_opts *o);
/* What the run reads and how often it evaluates (the run's part of the
 * checkpoint): a flag, else what the checkpoint remembers (stored; all "" and
 * 0 without --resume), else the default, paths made absolute. A remembered
 * data folder must still be a folder (ckpt names the checkpoint in that
 * message). */
tg_status cmd_train_gan_inputs(const train_gan_opts *o, const ckpt_run *stored, const char *ckpt, ckpt_run *run,
                               tg_error *err);

/* train-classifier and activations: *c is the table's defaults with the flags applied. */
int cmd_train_classifier(int argc, char **argv);
void cmd_train_classifier_help(FILE *out);
int cmd_train_classifier_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o);
int cmd_activations(int argc, char **argv);
void cmd_activations_help(FILE *out);
int cmd_activations_parse(int argc, char **argv, clf_cfg *c, clf_run_opts *o);

typedef struct sample_opts {
    const char *checkpoint, *out; /* both required */
    int n, seed, threads;
    unsigned char given[SET_MAX_ROWS];
} sample_opts;
int cmd_sample(int argc, char **argv);
void cmd_sample_help(FILE *out);
int cmd_sample_parse(int argc, char **argv, sample_opts *o);

typedef struct gradcheck_opts {
    const char *op; /* --op NAME (a case exists), or NULL */
    int all, list;  /* exactly one of all, list, op, model */
    char model[32]; /* --model NAME: a GAN preset's cases; "" if not given */
    tg_gc_opts gc;  /* tol and h; 0: the defaults */
    unsigned char given[SET_MAX_ROWS];
} gradcheck_opts;
int cmd_gradcheck(int argc, char **argv);
void cmd_gradcheck_help(FILE *out);
int cmd_gradcheck_parse(int argc, char **argv, gradcheck_opts *o);

extern const char *const graph_nets[]; /* "G", "D", "gan" */
typedef struct graph_opts {
    char model[32];
    int net;            /* index into graph_nets */
    const char *out;    /* NULL for standard output */
    int batch;
    tg_gan_spec spec;   /* the preset called model, as layer lists */
    unsigned char given[SET_MAX_ROWS];
} graph_opts;
int cmd_graph(int argc, char **argv);
void cmd_graph_help(FILE *out);
int cmd_graph_parse(int argc, char **argv, graph_opts *o);

typedef struct demo_opts {
    int steps, every, seed;
    unsigned char given[SET_MAX_ROWS];
} demo_opts;
int cmd_demo(int argc, char **argv);
void cmd_demo_help(FILE *out);
int cmd_demo_parse(int argc, char **argv, demo_opts *o);

extern const char *const bench_names[];  /* "gan-step", "mlp-step", "gemm", "ops", "peak", "conv" */
extern const char *const bench_models[]; /* "reference", "documents", "dcgan", "dcgan-tuned", "keras-d" */
extern const char *const bench_overlap[]; /* "on", "off" */
typedef struct bench_opts {
    int what, model;  /* indexes into bench_names and bench_models */
    int batch, threads, steps, repeats, json, profile;
    int overlap;      /* index into bench_overlap: 0 "on", 1 "off" (gan-step on several processes) */
    int steps_set;    /* --steps was given (else steps is the benchmark's default, or 0) */
    unsigned char given[SET_MAX_ROWS];
} bench_opts;
int cmd_bench(int argc, char **argv);
void cmd_bench_help(FILE *out);
int cmd_bench_parse(int argc, char **argv, bench_opts *o);

typedef struct evaluate_opts {
    const char *samples, *classifier, *data; /* samples required; NULL: the defaults */
    int json, threads;
    unsigned char given[SET_MAX_ROWS];
} evaluate_opts;
int cmd_evaluate(int argc, char **argv);
void cmd_evaluate_help(FILE *out);
int cmd_evaluate_parse(int argc, char **argv, evaluate_opts *o);

#endif
