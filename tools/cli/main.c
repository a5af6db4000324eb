/* main.c - `tapegrad <command> [options]`: the dispatch table. Each command
 * lives in its own cmd_<name>.c and returns its exit status (cli.h). */
#include "cli.h"
#include "commands.h"
#include "dp.h"
#include "tapegrad.h"

#include <string.h>

#ifndef TAPEGRAD_VERSION
#define TAPEGRAD_VERSION "unknown"
#endif

static const cli_cmd commands[] = {
    {"train-gan", "train a GAN on MNIST-format data (checkpoints, samples, plots)", cmd_train_gan, cmd_train_gan_help},
    {"sample", "generate images from a train-gan checkpoint", cmd_sample, cmd_sample_help},
    {"gradcheck", "check every op's gradients against finite differences", cmd_gradcheck, cmd_gradcheck_help},
    {"graph", "print a model's graph in Graphviz dot", cmd_graph, cmd_graph_help},
    {"demo", "build, check and train a tiny GAN; show arena savings", cmd_demo, cmd_demo_help},
    {"train-classifier", "train the MLP digit classifier (metrics CSV, checkpoint)", cmd_train_classifier,
     cmd_train_classifier_help},
    {"activations", "compare relu, leaky_relu, sigmoid, tanh on the classifier (CSV, plots)", cmd_activations,
     cmd_activations_help},
    {"evaluate", "score generated digits against the MNIST test set (Frechet distance, IS, labels)", cmd_evaluate,
     cmd_evaluate_help},
    {"bench", "benchmarks: gan-step, mlp-step, gemm, ops (--json for scripts)", cmd_bench, cmd_bench_help},
};
#define NCMDS ((int)(sizeof commands / sizeof commands[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tapegrad <command> [options]\n"
            "       tapegrad <command> --help\n"
            "       tapegrad --version\n"
            "\n"
            "tapegrad is a static-graph reverse-mode autodiff engine; this tool\n"
            "checks, inspects and demonstrates it.\n"
            "\n"
            "commands:\n");
    for (int i = 0; i < NCMDS; i++) fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit status: 0 success, 1 failure, 2 usage error\n");
}

static const cli_cmd *find(const char *name)
{
    for (int i = 0; i < NCMDS; i++)
        if (!strcmp(commands[i].name, name)) return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *a = argv[1];
    if (cli_is_help(a)) {
        usage(stdout);
        return CLI_OK;
    }
    char kmsg[192];
    if (tg_kernel_check(kmsg, sizeof kmsg) != TG_OK) { /* a forced variant never falls back silently */
        cli_err("%s", kmsg);
        return CLI_USAGE;
    }
    if (!strcmp(a, "--version") || !strcmp(a, "-V")) {
        printf("tapegrad %s (kernels: %s)\n", TAPEGRAD_VERSION, tg_kernel_name());
        return CLI_OK;
    }
    if (!strcmp(a, "help")) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        const cli_cmd *c = find(argv[2]);
        if (!c) {
            cli_err("unknown command '%s' (see 'tapegrad --help')", argv[2]);
            return CLI_USAGE;
        }
        c->help(stdout);
        return CLI_OK;
    }
    if (a[0] == '-') {
        cli_err("unknown option '%s' (see 'tapegrad --help')", a);
        return CLI_USAGE;
    }
    const cli_cmd *c = find(a);
    if (!c) {
        cli_err("unknown command '%s' (see 'tapegrad --help')", a);
        return CLI_USAGE;
    }
    for (int i = 2; i < argc; i++)
        if (cli_is_help(argv[i])) {
            c->help(stdout);
            return CLI_OK;
        }
    /* under mpirun with several processes: the training commands split the
     * work, and so does `bench gan-step` (cmd_bench.c refuses the other
     * benchmarks); any other would run as that many copies writing the same
     * files */
    const int procs = dp_launched();
    if ((procs > 1 || procs < 0) && strcmp(c->name, "train-gan") && strcmp(c->name, "train-classifier") &&
        strcmp(c->name, "bench")) {
        cli_err("%s runs as one process, not under mpirun (only train-gan, train-classifier and bench gan-step run "
                "on several processes)", c->name);
        return CLI_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}
