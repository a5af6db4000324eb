/* cmd_graph.c - `tapegrad graph`: a model's graph in Graphviz dot. */
#include "cli.h"
#include "commands.h"
#include "files.h"
#include "model_settings.h"
#include "opts.h"
#include "tg_models.h"

#include <stddef.h>
#include <string.h>

const char *const graph_nets[] = {"G", "D", "gan", NULL};

#define O(member) offsetof(graph_opts, member)

static const set_row rows[] = {
    {.flag = "--model", .type = &set_preset, .off = O(model), .def = "reference", .arg = "NAME",
     .help = "the GAN preset"},
    {.flag = "--net", .type = &set_choice, .off = O(net), .aux = graph_nets, .def = "gan", .arg = "NET",
     .help = "G: the generator z -> fake; D: the discriminator x -> logit; gan: the training graph z -> G -> fake, "
             "D(real), D(detach(fake)), loss_D, D(fake), loss_G"},
    {.flag = "--batch", .type = &set_int, .off = O(batch), .lo = 1, .hi = 1000000, .def = "64", .arg = "N",
     .help = "batch size"},
    {.flag = "--output", .alias = "-o", .type = &set_text, .off = O(out), .arg = "FILE",
     .help = "write to FILE (atomically) instead of standard output"},
};

static const set_table table = {
    .name = "graph",
    .usage = "tapegrad graph [--model NAME] [--net G|D|gan] [--batch N] [-o FILE]",
    .about = "Print the graph of a GAN preset in Graphviz dot (render it with 'dot -Tsvg'): op names, shapes, "
             "parameter names; kept nodes are bold.",
    .rows = rows,
    .n = (int)(sizeof rows / sizeof rows[0]),
};

static void defaults(graph_opts *o)
{
    memset(o, 0, sizeof *o);
    set_defaults(&table, o);
}

void cmd_graph_help(FILE *out)
{
    graph_opts d;
    defaults(&d);
    opts_help(&table, &d, out);
}

static int write_dot(FILE *out, void *ctx)
{
    return tg_graph_to_dot(ctx, out) == TG_OK ? 0 : -1;
}

/* Build net (an index into graph_nets) into g; returns 0, or -1 with the
 * graph's error set. */
static int build(tg_graph *g, const tg_gan_spec *s, int net, int B)
{
    if (net == 0) {
        tg_generator(g, s, tg_input(g, "z", 2, (int[]){B, s->G.in_features}));
    } else if (net == 1) {
        tg_discriminator(g, s, tg_input(g, "x", 2, (int[]){B, s->D.in_features}));
    } else {
        tg_gan_graph gg;
        tg_gan_build(g, s, B, 0.9f, 0, &gg);
    }
    return tg_graph_status(g) == TG_OK ? 0 : -1;
}

int cmd_graph_parse(int argc, char **argv, graph_opts *o)
{
    defaults(o);
    int rc = opts_parse(&table, argc, argv, o, o->given, NULL);
    return rc ? rc : tg_gan_preset(o->model, &o->spec, NULL) == TG_OK ? 0 : CLI_USAGE;
}

int cmd_graph(int argc, char **argv)
{
    graph_opts o;
    int rc = cmd_graph_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *model = o.model, *outfile = o.out;
    const int net = o.net;
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
        if (file_write_atomic(outfile, write_dot, g, &e) == TG_OK) rc = CLI_OK;
        else cli_report("graph", &e);
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
