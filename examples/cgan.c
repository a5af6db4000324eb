/* cgan.c - a class-conditional GAN on MNIST, written as graph code against
 * the installed library: the digit's one-hot label is concatenated to G's
 * noise and to D's image, so after training you can ask G for a given digit.
 *   cc cgan.c $(pkg-config --cflags --libs tapegrad) -o cgan
 *   ./cgan DATA_DIR [ITERATIONS] [DIGIT] > digits.pgm
 * DATA_DIR holds train-images-idx3-ubyte and train-labels-idx1-ubyte; the
 * output is a 10x10 grid (row r shows digit r, or every row DIGIT) as PGM. */
#include <tapegrad.h>
#include <tg_models.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 64, Z = 100, C = 10, PX = 784, GRID = 100 };

static unsigned char *read_idx(const char *dir, const char *name, int ndim, long *n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    unsigned char h[16];
    if (!f || fread(h, 1, 4 + 4 * (size_t)ndim, f) != 4 + 4 * (size_t)ndim || h[2] != 8 || h[3] != ndim) {
        fprintf(stderr, "cgan: %s is missing or not an IDX file of %d dims\n", path, ndim);
        exit(1);
    }
    long count = 1;
    for (int k = 0; k < ndim; k++) count *= (long)h[4 + 4 * k] << 24 | h[5 + 4 * k] << 16 | h[6 + 4 * k] << 8 | h[7 + 4 * k];
    unsigned char *d = malloc((size_t)count);
    if (!d || fread(d, 1, (size_t)count, f) != (size_t)count) {
        fprintf(stderr, "cgan: %s is truncated\n", path);
        exit(1);
    }
    fclose(f);
    *n = (long)h[4] << 24 | h[5] << 16 | h[6] << 8 | h[7];
    return d;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "cgan: %s: %s\n", what, why);
    exit(1);
}

/* y = net(concat(x, onehot)) for a layer list given as text */
static tg_node conditional(tg_graph *g, tg_seq_spec *s, tg_node x, tg_node onehot)
{
    return tg_seq(g, s, tg_concat(g, x, onehot));
}

int main(int argc, char **argv)
{
    if (argc < 2) die("usage", "cgan DATA_DIR [ITERATIONS] [DIGIT] > digits.pgm");
    const int iters = argc > 2 ? atoi(argv[2]) : 3000, digit = argc > 3 ? atoi(argv[3]) : -1;
    long n, nl;
    unsigned char *img = read_idx(argv[1], "train-images-idx3-ubyte", 3, &n);
    unsigned char *lab = read_idx(argv[1], "train-labels-idx1-ubyte", 1, &nl);
    if (n != nl || n < 1) die(argv[1], "images and labels do not match");

    tg_error e;
    tg_seq_spec G = {.group = "G"}, D = {.group = "D"};
    if (tg_seq_parse("in 110, dense 256, leaky_relu 0.2, dense 512, leaky_relu 0.2, dense 784, tanh", "G", &G, &e) ||
        tg_seq_parse("in 794, dense 512, leaky_relu 0.2, dropout 0.3, dense 256, leaky_relu 0.2, dropout 0.3, dense 1",
                     "D", &D, &e))
        die("architecture", e.msg);
    tg_params *ps = tg_params_new();
    tg_rng r;
    tg_rng_seed(&r, 1, 0);
    if (tg_seq_params(ps, &G, TG_INIT_XAVIER, 0, &r, &e) || tg_seq_params(ps, &D, TG_INIT_XAVIER, 0, &r, &e))
        die("parameters", e.msg);

    /* the training graph: fake = G(z, y); D on (x, y) real and (fake, y) */
    static float zb[B * Z], xb[B * PX], yb[B * C], sz[GRID * Z], sy[GRID * C];
    tg_graph *g = tg_graph_new(ps);
    tg_node z = tg_input(g, "z", 2, (int[]){B, Z}), x = tg_input(g, "x", 2, (int[]){B, PX});
    tg_node y = tg_input(g, "y", 2, (int[]){B, C});
    tg_node fake = tg_keep(g, conditional(g, &G, z, y));
    tg_node loss_d = tg_add(g, tg_bce_logits_const(g, conditional(g, &D, x, y), 0.9f),
                            tg_bce_logits_const(g, conditional(g, &D, tg_detach(g, fake), y), 0.0f));
    tg_node loss_g = tg_gen_loss(g, conditional(g, &D, fake, y));
    tg_bind(g, z, zb);
    tg_bind(g, x, xb);
    tg_bind(g, y, yb);
    tg_pool *pool = tg_pool_new(2, &e);
    if (!pool) die("pool", e.msg);
    tg_plan *pl[2];
    const tg_plan_opts po[2] = {{.groups = "D", .pool = pool},
                                {.groups = "G", .pool = pool, .reuse = &fake, .n_reuse = 1}};
    if (tg_plans_new(g, 2, (tg_node[]){loss_d, loss_g}, po, pl)) die("plans", tg_graph_error(g));
    tg_adam *ad = tg_adam_new(ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, &e);
    tg_adam *ag = ad ? tg_adam_new(ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, &e) : NULL;
    if (!ag || tg_adam_set_pool(ad, pool) || tg_adam_set_pool(ag, pool)) die("adam", e.msg);

    for (int it = 1; it <= iters; it++) {
        memset(yb, 0, sizeof yb);
        for (int i = 0; i < B; i++) {
            long k = (long)(tg_rng_u64(&r) % (uint64_t)n);
            for (int p = 0; p < PX; p++) xb[i * PX + p] = img[k * PX + p] / 127.5f - 1.0f;
            yb[i * C + lab[k]] = 1.0f;
        }
        tg_rng_fill_normal(&r, zb, B * Z, 0, 1);
        if (tg_plan_forward(pl[0]) || tg_plan_backward(pl[0]) || tg_adam_step(ad) || tg_plan_forward(pl[1]) ||
            tg_plan_backward(pl[1]) || tg_adam_step(ag))
            die("training", tg_graph_error(g));
        if (it % 500 == 0 || it == iters)
            fprintf(stderr, "iteration %d  loss_D %.3f  loss_G %.3f\n", it, tg_plan_loss(pl[0]), tg_plan_loss(pl[1]));
    }

    /* sampling: a graph of its own over the same weights, D's dropout unused */
    tg_graph *sg = tg_graph_new(ps);
    tg_node szn = tg_input(sg, "z", 2, (int[]){GRID, Z}), syn = tg_input(sg, "y", 2, (int[]){GRID, C});
    tg_node out = conditional(sg, &G, szn, syn);
    for (int i = 0; i < GRID; i++) sy[i * C + (digit >= 0 && digit < C ? digit : i / 10)] = 1.0f;
    tg_rng_fill_normal(&r, sz, GRID * Z, 0, 1);
    tg_bind(sg, szn, sz);
    tg_bind(sg, syn, sy);
    tg_plan *sp = tg_plan_new(sg, out, &(tg_plan_opts){.forward_only = 1, .eval = 1});
    if (!sp || tg_plan_forward(sp)) die("sampling", tg_graph_error(sg));
    const float *o = tg_plan_value(sp, out);
    printf("P5\n280 280\n255\n");
    for (int row = 0; row < 280; row++)
        for (int col = 0; col < 280; col++) {
            float v = o[(row / 28 * 10 + col / 28) * PX + row % 28 * 28 + col % 28];
            putchar((int)((v + 1.0f) * 127.5f + 0.5f));
        }
    tg_plan_free(sp);
    tg_plan_free(pl[0]);
    tg_plan_free(pl[1]);
    tg_adam_free(ad);
    tg_adam_free(ag);
    tg_graph_free(sg);
    tg_graph_free(g);
    tg_pool_free(pool);
    tg_params_free(ps);
    free(img);
    free(lab);
    return 0;
}
