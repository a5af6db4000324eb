/* dist_quickstart.c - the README's data-parallel example as a complete
 * program: quickstart.c's logistic discriminator trained on a global batch
 * of 64 random "images" split between the MPI ranks, gradients averaged
 * with libtapegrad_mpi.
 *   cc dist_quickstart.c $(pkg-config --cflags --libs tapegrad-mpi)
 *   mpirun -np 2 ./a.out */
#include <tg_dist.h>

#include <stdio.h>
#include <stdlib.h>

#define CHECK(call)                                                                                   \
    do {                                                                                              \
        if ((call) != TG_OK) {                                                                        \
            fprintf(stderr, "rank %d: %s\n", rank, err.msg[0] ? err.msg : tg_graph_error(g));          \
            return 1;                                                                                 \
        }                                                                                             \
    } while (0)

int main(int argc, char **argv)
{
    enum { GB = 64, IN = 784 };
    static float images[GB * IN];
    tg_error err = {0};
    tg_graph *g = NULL;
    tg_dist *d;
    int rank = 0;
    CHECK(tg_dist_new(&d, &argc, &argv, &err));
    rank = tg_dist_rank(d);
    const int size = tg_dist_size(d), B = GB / size;
    if (GB % size) {
        fprintf(stderr, "the batch of %d does not split over %d ranks\n", GB, size);
        tg_dist_free(d);
        return 1;
    }
    tg_rng r;
    tg_rng_seed(&r, 42, 0); /* the same global batch on every rank */
    tg_rng_fill_uniform(&r, images, GB * IN, -1.0f, 1.0f);

    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "D", "w", 2, (int[]){IN, 1});
    tg_param *b = tg_param_new(ps, "D", "b", 1, (int[]){1});
    if (!w || !b) {
        fprintf(stderr, "%s\n", tg_params_error(ps));
        return 1;
    }
    tg_rng_seed(&r, 7, (uint64_t)rank); /* different on every rank: the broadcast fixes that */
    tg_param_init(w, TG_INIT_XAVIER, IN, 1, 0, &r);
    CHECK(tg_dist_broadcast(d, ps, "*", &err));

    g = tg_graph_new(ps);
    tg_node x = tg_input(g, "x", 2, (int[]){B, IN});
    tg_node logit = tg_bias_add(g, tg_matmul(g, x, tg_param_ref(g, w)), tg_param_ref(g, b));
    tg_node loss = tg_bce_logits_const(g, logit, 0.9f);
    tg_bind(g, x, images + (size_t)rank * B * IN); /* this rank's rows */
    tg_plan *p = tg_plan_new(g, loss, &(tg_plan_opts){.groups = "D"});
    tg_adam *opt = tg_adam_new(ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, &err);
    if (!p || !opt) {
        fprintf(stderr, "error: %s\n", p ? err.msg : tg_graph_error(g));
        return 1;
    }
    tg_dist_avg *avg;
    CHECK(tg_dist_avg_new(&avg, d, ps, "D", NULL, &err));
    CHECK(tg_dist_avg_attach(avg, p, &err));
    double first = 0, l = 0;
    for (int step = 0; step < 100; step++) {
        CHECK(tg_plan_forward(p));
        CHECK(tg_plan_backward(p)); /* the bucket's all-reduce starts inside */
        CHECK(tg_dist_avg_wait(avg, &err));
        CHECK(tg_adam_step(opt));
        l = tg_plan_loss(p);
        CHECK(tg_dist_mean(d, &l, 1, &err)); /* the global batch's loss */
        if (step == 0) first = l;
    }
    tg_dist_stats st;
    tg_dist_avg_stats(avg, &st);
    if (rank == 0)
        printf("%d ranks: loss %.4f -> %.4f; %d bucket(s), %zu bytes per step, %.3f s waiting\n", size, first, l,
               st.buckets, st.bytes_per_step, st.wait_seconds);
    tg_dist_avg_free(avg);
    tg_adam_free(opt);
    tg_plan_free(p);
    tg_graph_free(g);
    tg_params_free(ps);
    tg_dist_free(d);
    return 0;
}
