/* cmd_sample.c - `tapegrad sample`: draw images from a trained generator. */
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "idx.h"
#include "png_out.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "sample"
#define CHUNK 1000 /* samples per forward pass */

void cmd_sample_help(FILE *out)
{
    fprintf(out,
            "usage: tapegrad sample --checkpoint FILE --n N --out FILE [--seed S] [--threads T]\n"
            "\n"
            "Generate N images with the generator of a train-gan checkpoint, from\n"
            "z ~ N(0, I) drawn with seed S (default 0). FILE ending in .png: a grid\n"
            "(ceil(sqrt(N)) columns); any other name: IDX ubyte, N x 28 x 28, pixels\n"
            "0..255 (the MNIST format, what `tapegrad evaluate` reads).\n"
            "\n"
            "  --n N        1..1000000\n"
            "  --threads T  worker threads (default 2)\n");
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int cmd_sample_parse(int argc, char **argv, sample_opts *o)
{
    const char *v;
    *o = (sample_opts){NULL, NULL, 0, 0, 2};
    for (int i = 1; i < argc; i++) {
        int r;
        if (cli_is_help(argv[i])) {
            cmd_sample_help(stdout);
            return -1;
        }
        if ((r = cli_opt(CMD, argc, argv, &i, "--checkpoint", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->checkpoint = v;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--out", &v)) != 0) {
            if (r < 0) return CLI_USAGE;
            o->out = v;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--n", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--n", v, 1, 1000000, &o->n)) return CLI_USAGE;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--seed", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--seed", v, 0, 2147483647, &o->seed)) return CLI_USAGE;
        } else if ((r = cli_opt(CMD, argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_int(CMD, "--threads", v, 1, 64, &o->threads)) return CLI_USAGE;
        } else {
            return cli_bad_arg(CMD, argv[i]);
        }
    }
    if (!o->checkpoint || !o->out || !o->n) {
        cli_err("%s: --checkpoint, --n and --out are required (see 'tapegrad sample --help')", CMD);
        return CLI_USAGE;
    }
    return 0;
}

int cmd_sample(int argc, char **argv)
{
    sample_opts o;
    int rc = cmd_sample_parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    const char *ckpt = o.checkpoint, *out = o.out;
    const int n = o.n, seed = o.seed, threads = o.threads;
    char err[512];
    gan_cfg cfg;
    st_file *f = NULL;
    tg_params *ps = NULL;
    tg_graph *g = NULL;
    tg_pool *pool = NULL;
    tg_plan *plan[2] = {NULL, NULL};
    float *z = NULL, *imgs = NULL;
    uint8_t *bytes = NULL;
    int status = CLI_FAIL;
    tg_rng rng;
    if (st_open(ckpt, &f, err, sizeof err) != ST_OK || ckpt_config(f, &cfg, err, sizeof err)) {
        cli_err("%s: %s", CMD, err);
        goto done;
    }
    tg_gan_spec net;
    tg_error e;
    if (tg_gan_from_mlp(&cfg.spec, &net, &e) != TG_OK) {
        cli_err("%s: %s", CMD, e.msg);
        goto done;
    }
    const tg_mlp_spec *G = &cfg.spec.G;
    const int zd = G->widths[0], xd = G->widths[G->n_layers];
    const int side = (int)lround(sqrt((double)xd));
    if (side * side != xd) {
        cli_err("%s: the generator makes %d values per sample, not a square image", CMD, xd);
        goto done;
    }
    ps = tg_params_new();
    tg_rng_seed(&rng, 0, 0);
    if (!ps || tg_mlp_params(ps, G, TG_INIT_ZEROS, 0, &rng) != TG_OK || ckpt_load_group(f, ps, "G", err, sizeof err)) {
        cli_err("%s: %s: %s", CMD, ckpt, ps ? err : "out of memory");
        goto done;
    }
    /* one graph, two batch sizes: full chunks and the remainder */
    int chunk = n < CHUNK ? n : CHUNK, rest = n % chunk;
    g = tg_graph_new(ps);
    pool = tg_pool_new(threads, NULL);
    z = malloc((size_t)chunk * zd * sizeof *z);
    imgs = malloc((size_t)n * xd * sizeof *imgs);
    if (!g || !pool || !z || !imgs) {
        cli_err("%s: out of memory", CMD);
        goto done;
    }
    tg_node zin[2], gout[2];
    int sizes[2] = {chunk, rest};
    for (int k = 0; k < 2 && sizes[k]; k++) {
        zin[k] = tg_input(g, k ? "z_rest" : "z", 2, (int[]){sizes[k], zd});
        gout[k] = tg_generator(g, &net, zin[k]);
        tg_bind(g, zin[k], z);
        plan[k] = tg_plan_new(g, gout[k], &(tg_plan_opts){.forward_only = 1, .eval = 1, .pool = pool});
        if (!plan[k]) {
            cli_err("%s: %s", CMD, tg_graph_error(g));
            goto done;
        }
    }
    tg_rng_seed(&rng, (uint64_t)seed, 7);
    for (int done_n = 0; done_n < n;) {
        int k = n - done_n >= chunk ? 0 : 1, b = sizes[k];
        tg_rng_fill_normal(&rng, z, (size_t)b * zd, 0, 1);
        if (tg_plan_forward(plan[k]) != TG_OK) {
            cli_err("%s: generator failed: %s", CMD, tg_graph_error(g));
            goto done;
        }
        memcpy(imgs + (size_t)done_n * xd, tg_plan_value(plan[k], gout[k]), (size_t)b * xd * sizeof *imgs);
        done_n += b;
    }
    if (ends_with(out, ".png")) {
        int cols = (int)ceil(sqrt((double)n)), rows = (n + cols - 1) / cols;
        if (pngout_grid(out, imgs, n, side, side, rows, cols, n <= 256 ? 2 : 1, err, sizeof err)) {
            cli_err("%s: %s", CMD, err);
            goto done;
        }
    } else {
        bytes = malloc((size_t)n * xd);
        if (!bytes) {
            cli_err("%s: out of memory", CMD);
            goto done;
        }
        for (size_t i = 0; i < (size_t)n * xd; i++) {
            double p = floor(((double)imgs[i] + 1.0) * 127.5 + 0.5);
            bytes[i] = (uint8_t)(p < 0 ? 0 : p > 255 ? 255 : p);
        }
        if (idx_write_ubyte(out, 3, (int[]){n, side, side}, bytes, err, sizeof err)) {
            cli_err("%s: %s", CMD, err);
            goto done;
        }
    }
    printf("wrote %d samples to %s\n", n, out);
    status = CLI_OK;
done:
    for (int k = 0; k < 2; k++) tg_plan_free(plan[k]);
    tg_graph_free(g);
    tg_pool_free(pool);
    tg_params_free(ps);
    st_close(f);
    free(z);
    free(imgs);
    free(bytes);
    return status;
}
