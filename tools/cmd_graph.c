/* cmd_graph.c - `tapegrad graph`: a model's graph in Graphviz dot. */
#include "cli.h"
#include "commands.h"
#include "tg_models.h"

#include <string.h>

void cmd_graph_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad graph [--model NAME] [--net G|D|gan] [--batch N] [-o FILE]\n"
            "\n"
            "Print the graph of a GAN preset in Graphviz dot (render it with\n"
            "'dot -Tsvg'): op names, shapes, parameter names; kept nodes are bold.\n"
            "\n"
            "  --model NAME  reference (default), documents or tiny\n"
            "  --net NET     G: the generator z -> fake; D: the discriminator\n"
            "                x -> logit; gan (default): the training graph\n"
            "                z -> G -> fake, D(real), D(detach(fake)), loss_D,\n"
            "                D(fake), loss_G\n"
            "  --batch N     batch size, 1..1000000 (default 64)\n"
            "  -o FILE       write to FILE (atomically) instead of standard output\n");
}

static int write_dot(FILE *out, void *ctx)
{
    return tg_graph_to_dot(ctx, out) == TG_OK ? 0 : -1;
}

/* Build net into g; returns 0, or -1 with the graph's error set. */
static int build(tg_graph *g, const tg_gan_spec *s, const char *net, int B)
{
    if (!strcmp(net, "G")) {
        tg_generator(g, s, tg_input(g, "z", 2, (int[]){B, s->G.in_features}));
    } else if (!strcmp(net, "D")) {
        tg_discriminator(g, s, tg_input(g, "x", 2, (int[]){B, s->D.in_features}));
    } else {
        tg_gan_graph gg;
        tg_gan_build(g, s, B, 0.9f, 0, &gg);
    }
    return tg_graph_status(g) == TG_OK ? 0 : -1;
}

int cmd_graph_parse(int argc, char **argv, graph_opts *o)
{
    const char *cmd = "graph", *v;
    memset(o, 0, sizeof *o);
    o->model = "reference";
    o->net = "gan";
    o->batch = 64;
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            cmd_graph_help(stdout);
            return -1;
        }
        if ((r = cli_opt(cmd, argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->model = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--net", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->net = v;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_int(cmd, "--batch", v, 1, 1000000, &o->batch)) return CLI_USAGE;
        } else if ((r = cli_opt(cmd, argc, argv, &i, "-o", &v)) != 0 ||
                   (r = cli_opt(cmd, argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->out = v;
        } else {
            return cli_bad_arg(cmd, argv[i]);
        }
    }
    if (tg_gan_preset(o->model, &o->spec, NULL) != TG_OK) {
        fprintf(stderr, "tapegrad: graph: unknown model '%s'; valid models:", o->model);
        for (const char *const *n = tg_gan_preset_names(); *n; n++) fprintf(stderr, " %s", *n);
        fputc('\n', stderr);
        return CLI_USAGE;
    }
    if (strcmp(o->net, "G") && strcmp(o->net, "D") && strcmp(o->net, "gan")) {
        cli_err("graph: unknown net '%s' (G, D or gan)", o->net);
        return CLI_USAGE;
    }
    return 0;
}

int cmd_graph(int argc, char **argv)
{
    graph_opts o;
    int rc = cmd_graph_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *model = o.model, *net = o.net, *outfile = o.out;
    const tg_gan_spec spec = o.spec;
    const int B = o.batch;

    rc = CLI_FAIL;
    tg_rng rng;
    tg_rng_seed(&rng, 1, 0);
    tg_params *ps = tg_params_new();
    tg_graph *g = ps ? tg_graph_new(ps) : NULL;
    if (!g) {
        cli_err("graph: out of memory");
        goto done;
    }
    tg_error e;
    if (tg_gan_params(ps, &spec, &rng, &e) != TG_OK) {
        cli_err("graph: cannot create the %s parameters: %s", model, e.msg);
        goto done;
    }
    if (build(g, &spec, net, B) != 0) {
        cli_err("graph: %s", tg_graph_error(g));
        goto done;
    }
    if (outfile) {
        if (cli_write_atomic(outfile, write_dot, g) == 0) rc = CLI_OK;
    } else if (write_dot(stdout, g) == 0 && fflush(stdout) == 0) {
        rc = CLI_OK;
    } else {
        cli_err("graph: cannot write to standard output");
    }
done:
    tg_graph_free(g);
    tg_params_free(ps);
    return rc;
}
