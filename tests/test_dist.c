/* test_dist.c - libtapegrad_mpi (tg_dist.h), run under mpirun with 2 ranks
 * (tests/meson.build): joining the job, broadcasting parameters, the
 * gradient buckets, the averaged gradients of the bucketed and overlapped
 * path against one hand-made MPI_Allreduce after backward (the same bits),
 * allocation-free steps, and data-parallel GAN training on halves of a
 * global batch against one process on the whole batch: without dropout and
 * batch normalization, and with them (row offsets for the dropout masks,
 * synchronized batch statistics), with controls that leave either out.
 *
 * Every case is collective: each rank runs the same cases in the same order,
 * in this process (Check's fork mode is off: MPI does not survive a fork).
 * A rank that fails while the other waits in a collective would hang, so
 * alarm() ends the run. */
#include "tg_dist.h"
#include "tiny_gan.h"

#include <check.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- allocation counting: tapegrad's code and this suite's; MPI's own
 * library calls the C library's allocator directly. */
#include "alloc_count.h"

static tg_dist *D; /* the job, joined in main */
static int RANK, SIZE;

/* 1 when every rank holds the same bytes */
static int same_everywhere(const void *x, size_t bytes)
{
    uint64_t h = 14695981039346656037u;
    const unsigned char *b = x;
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211u;
    uint64_t v[2] = {h, ~h};
    ck_assert_int_eq(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD), MPI_SUCCESS);
    return v[0] == ~v[1];
}

/* ---- a GAN on one rank: its graph, the D and G plans, both Adams ---- */
typedef struct gan_run {
    tiny_gan t;
    tg_plan *pd, *pg;
    tg_adam *ad, *ag;
    int zd, xd;
} gan_run;

/* tiny_gan_init for a GAN spec in its text form (tg_gan_spec_parse) */
static void spec_gan_init(tiny_gan *t, const char *text, int B, uint64_t seed)
{
    tg_error err;
    tg_gan_graph gg;
    tg_rng r;
    memset(t, 0, sizeof *t);
    ck_assert_msg(tg_gan_spec_parse(text, &t->spec, &err) == TG_OK, "%s", err.msg);
    t->B = B;
    t->ps = tg_params_new();
    tg_rng_seed(&r, seed, 0);
    ck_assert_int_eq(tg_gan_params(t->ps, &t->spec, &r, &err), TG_OK);
    t->g = tg_graph_new(t->ps);
    ck_assert_int_eq(tg_gan_build(t->g, &t->spec, B, 0.9f, 0, &gg), TG_OK);
    t->z = gg.z, t->x = gg.x, t->fake = gg.fake, t->dreal = gg.d_real, t->dfake = gg.d_fake;
    t->loss_d = gg.loss_d, t->loss_g = gg.loss_g;
    t->zb = calloc((size_t)B * (size_t)t->spec.G.in_features, sizeof(float));
    t->xb = calloc((size_t)B * (size_t)t->spec.D.in_features, sizeof(float));
    ck_assert(t->zb && t->xb);
    tg_bind(t->g, t->z, t->zb);
    tg_bind(t->g, t->x, t->xb);
}

/* model: a preset's name (its dropout off unless with_dropout), or a GAN
 * spec's text. The graph's seed (the dropout masks') is 3 whatever `seed`
 * (the weights'). */
static void run_new_d(gan_run *r, const char *model, int B, uint64_t seed, int with_dropout)
{
    if (strchr(model, ':')) spec_gan_init(&r->t, model, B, seed);
    else ck_assert_int_eq(tiny_gan_init(&r->t, model, B, seed, !with_dropout), 0);
    tg_graph_set_seed(r->t.g, 3);
    ck_assert_int_eq(tiny_gan_plans(&r->t, NULL, NULL, &r->pd, &r->pg), TG_OK);
    r->ad = tg_adam_new(r->t.ps, "D", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    r->ag = tg_adam_new(r->t.ps, "G", 2e-4f, 0.5f, 0.999f, 1e-8f, NULL);
    ck_assert(r->ad && r->ag);
    r->zd = r->t.spec.G.in_features;
    r->xd = r->t.spec.D.in_features;
}

static void run_new(gan_run *r, const char *model, int B, uint64_t seed) { run_new_d(r, model, B, seed, 0); }

static void run_free(gan_run *r)
{
    tg_plan_free(r->pd);
    tg_plan_free(r->pg);
    tg_adam_free(r->ad);
    tg_adam_free(r->ag);
    tiny_gan_free(&r->t);
}

/* the global batch of iteration `it` (gb rows of z and x), the same on every
 * rank; the run takes rows [row0, row0 + B) */
static void global_batch(uint64_t it, int gb, int zd, int xd, float *z, float *x)
{
    tg_rng g;
    tg_rng_seed(&g, 1000 + it, 5);
    tg_rng_fill_normal(&g, z, (size_t)gb * (size_t)zd, 0, 1);
    tg_rng_fill_uniform(&g, x, (size_t)gb * (size_t)xd, -1, 1);
}

static void take_rows(gan_run *r, const float *z, const float *x, int row0)
{
    memcpy(r->t.zb, z + (size_t)row0 * (size_t)r->zd, sizeof(float) * (size_t)r->t.B * (size_t)r->zd);
    memcpy(r->t.xb, x + (size_t)row0 * (size_t)r->xd, sizeof(float) * (size_t)r->t.B * (size_t)r->xd);
}

/* max over the store's tensors of max|a - b| / max|b|; which: 0 every
 * tensor, 1 the trainable ones, 2 the state (running statistics) */
static double max_rel_diff_of(tg_params *a, tg_params *b, int which)
{
    double worst = 0;
    ck_assert_int_eq(tg_params_count(a), tg_params_count(b));
    for (int i = 0; i < tg_params_count(a); i++) {
        tg_param *p = tg_params_at(a, i), *q = tg_params_at(b, i);
        if ((which == 1 && tg_param_is_state(p)) || (which == 2 && !tg_param_is_state(p))) continue;
        double d = 0, m = 1e-30;
        for (size_t e = 0; e < tg_param_numel(p); e++) {
            d = fmax(d, fabs((double)tg_param_data(p)[e] - tg_param_data(q)[e]));
            m = fmax(m, fabs((double)tg_param_data(q)[e]));
        }
        worst = fmax(worst, d / m);
    }
    return worst;
}

static double max_rel_diff(tg_params *a, tg_params *b) { return max_rel_diff_of(a, b, 0); }

/* a copy of every gradient of `group`, in store order, into one vector */
static size_t pack_grads(tg_params *ps, const char *group, float *out)
{
    size_t n = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (strcmp(tg_param_group(p), group)) continue;
        if (out) memcpy(out + n, tg_param_grad(p), tg_param_numel(p) * sizeof(float));
        n += tg_param_numel(p);
    }
    return n;
}

/* the inverse of pack_grads */
static void unpack_grads(tg_params *ps, const char *group, const float *in)
{
    size_t n = 0;
    for (int i = 0; i < tg_params_count(ps); i++) {
        tg_param *p = tg_params_at(ps, i);
        if (strcmp(tg_param_group(p), group)) continue;
        memcpy(tg_param_grad(p), in + n, tg_param_numel(p) * sizeof(float));
        n += tg_param_numel(p);
    }
}

/* One iteration of what the ranks do, in this process alone: the D step on
 * every rank's rows in turn, the gradients summed in rank order and scaled
 * by 1/size (an all-reduce's sum: with two ranks a + b, which commutes
 * exactly), Adam; then the G step the same way. loss: the means over the
 * ranks' rows. acc: room for either group's gradients. rows: each slice's
 * plans get its row offset. Every slice's D-step forward runs at the
 * dropout step the ranks' D step runs at, and its G-step forward at the
 * next, as on the ranks (no model here has batch normalization: its
 * statistics over the whole batch need every slice at once). */
static void local_split_step(gan_run *r, const float *z, const float *x, int nslices, int rows, float *acc,
                             double loss[2])
{
    const char *groups[2] = {"D", "G"};
    tg_plan *plans[2] = {r->pd, r->pg};
    tg_adam *opt[2] = {r->ad, r->ag};
    const uint64_t s0 = tg_graph_dropout_step(r->t.g);
    for (int k = 0; k < 2; k++) {
        const size_t n = pack_grads(r->t.ps, groups[k], NULL);
        float *g = acc + n;
        loss[k] = 0;
        for (int sl = 0; sl < nslices; sl++) {
            take_rows(r, z, x, r->t.B * sl);
            if (rows) {
                ck_assert_int_eq(tg_plan_set_row_offset(r->pd, (int64_t)r->t.B * sl), TG_OK);
                ck_assert_int_eq(tg_plan_set_row_offset(r->pg, (int64_t)r->t.B * sl), TG_OK);
            }
            tg_graph_set_dropout_step(r->t.g, s0);
            ck_assert_int_eq(tg_plan_forward(r->pd), TG_OK); /* the G step reuses its G(z) */
            if (k == 1) {
                tg_graph_set_dropout_step(r->t.g, s0 + 1);
                ck_assert_int_eq(tg_plan_forward(r->pg), TG_OK);
            }
            ck_assert_int_eq(tg_plan_backward(plans[k]), TG_OK);
            loss[k] += tg_plan_loss(plans[k]);
            pack_grads(r->t.ps, groups[k], sl ? g : acc);
            for (size_t e = 0; sl && e < n; e++) acc[e] += g[e];
        }
        for (size_t e = 0; e < n; e++) acc[e] *= 1.0f / (float)nslices;
        unpack_grads(r->t.ps, groups[k], acc);
        ck_assert_int_eq(tg_adam_step(opt[k]), TG_OK);
        loss[k] /= nslices;
    }
    tg_graph_set_dropout_step(r->t.g, s0 + 2);
}

/* 1 if two stores hold the same values, bit for bit */
static int same_values(tg_params *a, tg_params *b)
{
    for (int i = 0; i < tg_params_count(a); i++) {
        tg_param *p = tg_params_at(a, i), *q = tg_params_at(b, i);
        if (memcmp(tg_param_data(p), tg_param_data(q), tg_param_numel(p) * sizeof(float))) return 0;
    }
    return 1;
}

START_TEST(test_join)
{
    ck_assert_msg(SIZE >= 2, "run under mpirun -np 2 (size %d)", SIZE);
    ck_assert(RANK >= 0 && RANK < SIZE);
    /* MPI is initialized: a second handle joins without initializing, and
     * freeing it leaves MPI running */
    tg_error e;
    tg_dist *d2;
    ck_assert_int_eq(tg_dist_new(&d2, NULL, NULL, &e), TG_OK);
    ck_assert_int_eq(tg_dist_rank(d2), RANK);
    ck_assert_int_eq(tg_dist_size(d2), SIZE);
    tg_dist_free(d2);
    int fin = 1;
    MPI_Finalized(&fin);
    ck_assert_int_eq(fin, 0);
    /* means of metrics */
    double v[2] = {RANK, 10.0 * RANK + 1};
    ck_assert_int_eq(tg_dist_mean(D, v, 2, &e), TG_OK);
    ck_assert_double_eq_tol(v[0], (SIZE - 1) / 2.0, 1e-12);
    ck_assert_double_eq_tol(v[1], 10.0 * (SIZE - 1) / 2.0 + 1, 1e-12);
}
END_TEST

START_TEST(test_broadcast)
{
    /* rank-dependent values of a parameter and a state tensor of group A
     * become rank 0's; group B keeps each rank's own */
    tg_params *ps = tg_params_new();
    tg_param *w = tg_param_new(ps, "A", "w", 2, (int[]){3, 5});
    tg_param *rm = tg_param_new_state(ps, "A", "rm", 1, (int[]){5});
    tg_param *other = tg_param_new(ps, "B", "w", 1, (int[]){4});
    ck_assert(w && rm && other);
    tg_param *all[3] = {w, rm, other};
    for (int i = 0; i < 3; i++)
        for (size_t e = 0; e < tg_param_numel(all[i]); e++) tg_param_data(all[i])[e] = (float)(100 * RANK + e);
    tg_error err;
    ck_assert_int_eq(tg_dist_broadcast(D, ps, "A", &err), TG_OK);
    for (int i = 0; i < 3; i++)
        for (size_t e = 0; e < tg_param_numel(all[i]); e++)
            ck_assert(tg_param_data(all[i])[e] == (float)((i < 2 ? 0 : 100 * RANK) + e));
    tg_params_free(ps);

    /* stores that differ between the ranks: refused on every rank */
    ps = tg_params_new();
    ck_assert_ptr_nonnull(tg_param_new(ps, "A", "w", 1, (int[]){3 + RANK}));
    ck_assert_int_eq(tg_dist_broadcast(D, ps, "*", &err), TG_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "broadcast: the ranks' parameters differ"), "%s", err.msg);
    tg_dist_avg *a;
    ck_assert_int_eq(tg_dist_avg_new(&a, D, ps, "A", NULL, &err), TG_ERR_ARG);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(err.msg, "averager: the ranks' parameters differ"), "%s", err.msg);
    tg_params_free(ps);
}
END_TEST

START_TEST(test_buckets)
{
    /* the documents GAN's D (566,273 floats): buckets of at most 256 KiB
     * unless one parameter is larger, in reverse store order, covering
     * every parameter once */
    tiny_gan t;
    ck_assert_int_eq(tiny_gan_init(&t, "documents", 2, 3, 1), 0);
    tg_error err;
    tg_dist_avg *a;
    ck_assert_int_eq(tg_dist_avg_new(&a, D, t.ps, "D", &(tg_dist_avg_opts){.bucket_bytes = 256 << 10}, &err), TG_OK);
    tg_dist_stats st;
    ck_assert_int_eq(tg_dist_avg_stats(a, &st), TG_OK);
    ck_assert_uint_eq(st.bytes_per_step, tg_params_numel(t.ps, "D") * sizeof(float));
    ck_assert_int_eq(st.persistent, 1); /* Open MPI 4.1 has them (pcollreq) */
    ck_assert_int_gt(st.buckets, 1);
    int k = tg_params_count(t.ps) - 1, nd = 0;
    for (int b = 0; b < st.buckets; b++) {
        size_t bytes = 0;
        ck_assert_int_gt(tg_dist_avg_bucket_len(a, b), 0);
        for (int i = 0; i < tg_dist_avg_bucket_len(a, b); i++) {
            tg_param *p = tg_dist_avg_bucket_param(a, b, i);
            while (strcmp(tg_param_group(tg_params_at(t.ps, k)), "D")) k--;
            ck_assert_ptr_eq(p, tg_params_at(t.ps, k--));
            bytes += tg_param_numel(p) * sizeof(float);
            nd++;
        }
        if (tg_dist_avg_bucket_len(a, b) > 1) ck_assert_uint_le(bytes, 256 << 10);
    }
    ck_assert_ptr_null(tg_dist_avg_bucket_param(a, st.buckets, 0));
    ck_assert_int_eq(nd, 8); /* 4 layers: w and b */
    tg_dist_avg_free(a);
    /* the default (2 MiB) makes fewer buckets */
    ck_assert_int_eq(tg_dist_avg_new(&a, D, t.ps, "D", NULL, &err), TG_OK);
    tg_dist_stats st2;
    tg_dist_avg_stats(a, &st2);
    ck_assert_int_lt(st2.buckets, st.buckets);
    tg_dist_avg_free(a);
    tiny_gan_free(&t);
}
END_TEST

START_TEST(test_overlap_same_bits)
{
    /* Each rank's own batch; the average after one backward, four ways:
     * by hand (the gradients of one backward in one MPI_Allreduce, then
     * * 1/size), and by averagers attached to the plan (1 MiB buckets,
     * persistent and MPI_Iallreduce) or not attached (every bucket in
     * tg_dist_avg_wait): all the same bits, for D's step and G's. The
     * attached ones start every bucket inside backward, and a step
     * (backward + wait) allocates nothing. */
    gan_run r;
    run_new(&r, "documents", 4, 3);
    tg_error err;
    ck_assert_int_eq(tg_dist_broadcast(D, r.t.ps, "*", &err), TG_OK);
    float *z = malloc(sizeof(float) * (size_t)(4 * SIZE) * (size_t)r.zd);
    float *x = malloc(sizeof(float) * (size_t)(4 * SIZE) * (size_t)r.xd);
    global_batch(7, 4 * SIZE, r.zd, r.xd, z, x);
    take_rows(&r, z, x, 4 * RANK);
    const char *groups[2] = {"D", "G"};
    tg_plan *plans[2] = {r.pd, r.pg};
    for (int s = 0; s < 2; s++) {
        tg_plan *p = plans[s];
        const size_t n = pack_grads(r.t.ps, groups[s], NULL);
        float *local = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
        ck_assert_int_eq(tg_plan_forward(r.pd), TG_OK); /* the G plan reuses the D plan's G(z) */
        if (s == 1) ck_assert_int_eq(tg_plan_forward(r.pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(p), TG_OK);
        pack_grads(r.t.ps, groups[s], local);
        ck_assert(!same_everywhere(local, n * sizeof(float))); /* each rank's own */
        ck_assert_int_eq(MPI_Allreduce(local, ref, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), MPI_SUCCESS);
        for (size_t e = 0; e < n; e++) ref[e] *= 1.0f / (float)SIZE;
        const tg_dist_avg_opts opts[3] = {{.bucket_bytes = 1 << 20}, {.bucket_bytes = 1 << 20, .nonblocking = 1},
                                          {.bucket_bytes = 1 << 20}};
        for (int v = 0; v < 3; v++) {
            tg_dist_avg *a;
            ck_assert_int_eq(tg_dist_avg_new(&a, D, r.t.ps, groups[s], &opts[v], &err), TG_OK);
            if (v < 2) ck_assert_int_eq(tg_dist_avg_attach(a, p, &err), TG_OK);
            else ck_assert_int_eq(tg_plan_on_grad_ready(p, NULL, NULL), TG_OK);
            tg_dist_stats st;
            for (int it = 0; it < 2; it++) {
                ck_assert_int_eq(tg_plan_forward(r.pd), TG_OK);
                if (s == 1) ck_assert_int_eq(tg_plan_forward(r.pg), TG_OK);
                const uint64_t before = n_alloc;
                const tg_status sb = tg_plan_backward(p);
                tg_dist_avg_stats(a, &st);
                const long early = st.early_buckets;
                const tg_status sw = tg_dist_avg_wait(a, &err);
                const uint64_t used = n_alloc - before;
                ck_assert_int_eq(sb, TG_OK);
                ck_assert_msg(sw == TG_OK, "%s", err.msg);
                ck_assert_uint_eq(used, 0);
                tg_dist_avg_stats(a, &st);
                ck_assert_int_eq(early, v < 2 ? (it + 1) * st.buckets : 0);
                pack_grads(r.t.ps, groups[s], got);
                ck_assert_msg(!memcmp(got, ref, n * sizeof(float)), "%s step, variant %d: not the same bits",
                              groups[s], v);
            }
            ck_assert_int_eq(st.steps, 2);
            ck_assert_int_eq(st.persistent, v != 1);
            ck_assert(st.wait_seconds >= st.last_wait_seconds && st.last_wait_seconds >= 0);
            ck_assert_int_eq(tg_plan_on_grad_ready(p, NULL, NULL), TG_OK);
            tg_dist_avg_free(a);
        }
        ck_assert(same_everywhere(got, n * sizeof(float)));
        free(local);
        free(ref);
        free(got);
    }
    free(z);
    free(x);
    run_free(&r);
}
END_TEST

/* What data_parallel's ranks do beyond averaging gradients */
enum {
    DP_DROPOUT = 1, /* a preset keeps its dropout */
    DP_ROWS = 2,    /* each rank's plans get its row offset (tg_plan_set_row_offset) */
    DP_SYNC = 4,    /* batch statistics over the global batch (tg_dist_sync_batch_norm) */
    DP_NOSPLIT = 8  /* no comparison with one process running the slices in turn (batch_norm) */
};

typedef struct dp_result {
    double loss, w, state; /* largest relative differences: losses, trainable weights, running statistics */
} dp_result;

/* The GAN `model`, 20 iterations of a D step and a G step with Adam on a
 * global batch of 8 rows per iteration: each rank on its 8/size rows with
 * the gradients averaged (buckets of bucket_bytes, overlapped with
 * backward), against
 *   - this process alone on all 8 rows (the full-batch gradient: the same up
 *     to float rounding, as the batch sums split differently; Adam's step
 *     m / sqrt(v) magnifies the rounding of the smallest gradients, so the
 *     weights agree less closely than the losses), and
 *   - unless DP_NOSPLIT, this process alone on the ranks' rows in turn,
 *     summing their gradients in rank order (with two ranks: the same bits).
 * With dropout, the masks match the whole batch's only with DP_ROWS; with
 * batch normalization, the statistics only with DP_SYNC. The ranks start
 * from different weights; the broadcast makes them rank 0's. A rank's step
 * (forward, backward, wait, Adam; both networks) allocates nothing in
 * tapegrad after the first. */
static void data_parallel(const char *name, const char *model, float lr, size_t bucket_bytes, int flags,
                          dp_result *res)
{
    enum { GB = 8, IT = 20 };
    ck_assert_int_eq(GB % SIZE, 0);
    const int B = GB / SIZE, drop = (flags & DP_DROPOUT) != 0;
    gan_run ref, split, dp;
    run_new_d(&ref, model, GB, 3, drop);
    run_new_d(&split, model, B, 3, drop);
    run_new_d(&dp, model, B, 3 + 1000 * (uint64_t)RANK, drop);
    gan_run *all[3] = {&ref, &split, &dp};
    for (int k = 0; k < 3; k++) {
        tg_adam_set_lr(all[k]->ad, lr);
        tg_adam_set_lr(all[k]->ag, lr);
    }
    float *acc = malloc(2 * sizeof(float) * tg_params_numel(ref.t.ps, NULL));
    tg_error err;
    ck_assert_int_eq(tg_dist_broadcast(D, dp.t.ps, "*", &err), TG_OK);
    ck_assert_double_eq(max_rel_diff(dp.t.ps, ref.t.ps), 0);
    tg_dist_avg *avd, *avg;
    const tg_dist_avg_opts o = {.bucket_bytes = bucket_bytes};
    ck_assert_int_eq(tg_dist_avg_new(&avd, D, dp.t.ps, "D", &o, &err), TG_OK);
    ck_assert_int_eq(tg_dist_avg_new(&avg, D, dp.t.ps, "G", &o, &err), TG_OK);
    ck_assert_int_eq(tg_dist_avg_attach(avd, dp.pd, &err), TG_OK);
    ck_assert_int_eq(tg_dist_avg_attach(avg, dp.pg, &err), TG_OK);
    if (flags & DP_ROWS) {
        ck_assert_int_eq(tg_plan_set_row_offset(dp.pd, (int64_t)B * RANK), TG_OK);
        ck_assert_int_eq(tg_plan_set_row_offset(dp.pg, (int64_t)B * RANK), TG_OK);
    }
    if (flags & DP_SYNC) {
        ck_assert_int_eq(tg_dist_sync_batch_norm(D, dp.pd, &err), TG_OK);
        ck_assert_int_eq(tg_dist_sync_batch_norm(D, dp.pg, &err), TG_OK);
    }
    float *z = malloc(sizeof(float) * GB * (size_t)ref.zd), *x = malloc(sizeof(float) * GB * (size_t)ref.xd);
    double worst_loss = 0;
    uint64_t step_allocs = 0;
    for (int it = 0; it < IT; it++) {
        global_batch((uint64_t)it, GB, ref.zd, ref.xd, z, x);
        take_rows(&ref, z, x, 0);
        take_rows(&dp, z, x, B * RANK);
        double lr[2], ld[2];
        ck_assert_int_eq(tg_plan_forward(ref.pd), TG_OK);
        ck_assert_int_eq(tg_plan_backward(ref.pd), TG_OK);
        ck_assert_int_eq(tg_adam_step(ref.ad), TG_OK);
        ck_assert_int_eq(tg_plan_forward(ref.pg), TG_OK);
        ck_assert_int_eq(tg_plan_backward(ref.pg), TG_OK);
        ck_assert_int_eq(tg_adam_step(ref.ag), TG_OK);
        lr[0] = tg_plan_loss(ref.pd);
        lr[1] = tg_plan_loss(ref.pg);
        /* no ck_assert inside the counted region (Check allocates) */
        const uint64_t before = n_alloc;
        tg_status st[8];
        st[0] = tg_plan_forward(dp.pd);
        st[1] = tg_plan_backward(dp.pd);
        st[2] = tg_dist_avg_wait(avd, &err);
        st[3] = tg_adam_step(dp.ad);
        st[4] = tg_plan_forward(dp.pg);
        st[5] = tg_plan_backward(dp.pg);
        st[6] = tg_dist_avg_wait(avg, &err);
        st[7] = tg_adam_step(dp.ag);
        if (it > 0) step_allocs += n_alloc - before;
        for (int k = 0; k < 8; k++) ck_assert_msg(st[k] == TG_OK, "iteration %d, call %d: %s", it, k, err.msg);
        ld[0] = tg_plan_loss(dp.pd);
        ld[1] = tg_plan_loss(dp.pg);
        ck_assert_int_eq(tg_dist_mean(D, ld, 2, &err), TG_OK); /* the global batch's mean */
        for (int k = 0; k < 2; k++) worst_loss = fmax(worst_loss, fabs(ld[k] - lr[k]) / fabs(lr[k]));
        if (flags & DP_NOSPLIT) continue;
        double ls[2];
        local_split_step(&split, z, x, SIZE, (flags & DP_ROWS) != 0, acc, ls);
        for (int k = 0; k < 2; k++) ck_assert_double_eq_tol(ls[k], ld[k], 1e-12 * fabs(ld[k]));
        if (SIZE == 2) ck_assert_msg(same_values(dp.t.ps, split.t.ps), "iteration %d: not the same bits", it);
    }
    ck_assert_uint_eq(step_allocs, 0);
    res->loss = worst_loss;
    res->w = max_rel_diff_of(dp.t.ps, ref.t.ps, 1);
    res->state = max_rel_diff_of(dp.t.ps, ref.t.ps, 2);
    /* every rank holds the same weights and running statistics, bit for bit */
    for (int i = 0; i < tg_params_count(dp.t.ps); i++) {
        tg_param *p = tg_params_at(dp.t.ps, i);
        ck_assert(same_everywhere(tg_param_data(p), tg_param_numel(p) * sizeof(float)) ||
                  (tg_param_is_state(p) && !(flags & DP_SYNC)));
    }
    tg_dist_stats sd, sg;
    tg_dist_avg_stats(avd, &sd);
    tg_dist_avg_stats(avg, &sg);
    if (RANK == 0)
        printf("dist: %d ranks vs 1 process, %s, %d Adam iterations: max relative difference "
               "losses %.3g, weights %.3g, running statistics %.3g; per step D %d buckets %zu bytes, "
               "G %d buckets %zu bytes; wait %.3f s (D) %.3f s (G) in all\n",
               SIZE, name, IT, res->loss, res->w, res->state, sd.buckets, sd.bytes_per_step, sg.buckets,
               sg.bytes_per_step, sd.wait_seconds, sg.wait_seconds);
    ck_assert_int_eq(sd.steps, IT);
    ck_assert_int_eq(sd.early_buckets, (long)IT * sd.buckets);
    tg_dist_avg_free(avd);
    tg_dist_avg_free(avg);
    free(z);
    free(x);
    free(acc);
    run_free(&ref);
    run_free(&split);
    run_free(&dp);
}

START_TEST(test_gan_data_parallel)
{
    /* the documents GAN, 1,144,081 parameters in MLPs, Adam at 2e-4 */
    dp_result r;
    data_parallel("documents GAN", "documents", 2e-4f, 1 << 20, 0, &r);
    ck_assert_msg(r.loss < 1e-5, "losses differ by %g", r.loss);
    ck_assert_msg(r.w < 5e-5, "weights differ by %g", r.w);
}
END_TEST

START_TEST(test_gan_dropout_data_parallel)
{
    /* the reference GAN (the documents GAN's shapes) with its dropout (0.3
     * after each hidden layer of D; the masks' backward runs in the GEMM
     * epilogues), Adam at 2e-4: each rank's plans
     * offset by its rows draw the whole batch's masks. Without the offsets
     * both ranks draw the first rows' masks: the control */
    dp_result r, c;
    data_parallel("reference GAN with dropout", "reference", 2e-4f, 1 << 20, DP_DROPOUT | DP_ROWS, &r);
    ck_assert_msg(r.loss < 1e-5, "losses differ by %g", r.loss);
    ck_assert_msg(r.w < 5e-5, "weights differ by %g", r.w);
    data_parallel("reference GAN with dropout, no row offsets (control)", "reference", 2e-4f, 1 << 20, DP_DROPOUT,
                  &c);
    ck_assert_msg(c.loss > 1e-3 && c.w > 1e-3, "without row offsets: losses %g, weights %g", c.loss, c.w);
}
END_TEST

/* tiny-conv without batch_norm and dropout (and with biases) */
static const char conv_gan[] =
    "G: in 4, dense 8, relu, reshape 2x2x2, conv_t 2 4 s2 p1, relu, conv_t 1 4 s2 p1, tanh\n"
    "D: in 1x8x8, conv 2 5 s2 same, leaky_relu 0.2, conv 3 2 s2, leaky_relu 0.2, flatten, dense 4, "
    "leaky_relu 0.2, dense 1\n"
    "init: xavier\n"
    "sigma: 0.02\n";

START_TEST(test_conv_data_parallel)
{
    /* a tiny conv GAN (conv 'same' and 'valid', conv_t, reshape, flatten),
     * Adam at 2e-3 so that the weights move, buckets of 64 bytes: most
     * parameters all-reduce alone, in place */
    dp_result r;
    data_parallel("tiny conv GAN", conv_gan, 2e-3f, 64, 0, &r);
    ck_assert_msg(r.loss < 1e-5, "losses differ by %g", r.loss);
    ck_assert_msg(r.w < 5e-5, "weights differ by %g", r.w);
}
END_TEST

/* the same with batch normalization in G and D and dropout in D, one after
 * a conv (its backward in col2im's epilogue) and one after a dense layer
 * (in the GEMM's) */
static const char conv_gan_bn[] =
    "G: in 4, dense 8 nobias, batch_norm, relu, reshape 2x2x2, conv_t 2 4 s2 p1 nobias, batch_norm, relu, "
    "conv_t 1 4 s2 p1, tanh\n"
    "D: in 1x8x8, conv 2 5 s2 same, leaky_relu 0.2, dropout 0.25, conv 3 2 s2 nobias, batch_norm, leaky_relu 0.2, "
    "flatten, dense 4, leaky_relu 0.2, dropout 0.5, dense 1\n"
    "init: xavier\n"
    "sigma: 0.02\n";

START_TEST(test_conv_bn_data_parallel)
{
    /* each rank's plans offset by its rows and batch statistics synchronized:
     * the whole batch's training, running statistics included. Controls:
     * without the synchronization (each rank normalizes with its own rows'
     * statistics), and without the row offsets */
    dp_result r, nosync, norows;
    data_parallel("tiny conv GAN with batch_norm and dropout", conv_gan_bn, 2e-3f, 64,
                  DP_ROWS | DP_SYNC | DP_NOSPLIT, &r);
    ck_assert_msg(r.loss < 1e-5, "losses differ by %g", r.loss);
    ck_assert_msg(r.w < 5e-5, "weights differ by %g", r.w);
    ck_assert_msg(r.state < 1e-5, "running statistics differ by %g", r.state);
    data_parallel("tiny conv GAN with batch_norm and dropout, no synchronized batch_norm (control)", conv_gan_bn,
                  2e-3f, 64, DP_ROWS | DP_NOSPLIT, &nosync);
    ck_assert_msg(nosync.loss > 1e-3 && nosync.w > 1e-3 && nosync.state > 1e-3,
                  "without synchronized batch_norm: losses %g, weights %g, running statistics %g", nosync.loss,
                  nosync.w, nosync.state);
    data_parallel("tiny conv GAN with batch_norm and dropout, no row offsets (control)", conv_gan_bn, 2e-3f, 64,
                  DP_SYNC | DP_NOSPLIT, &norows);
    ck_assert_msg(norows.loss > 1e-3 && norows.w > 1e-3, "without row offsets: losses %g, weights %g", norows.loss,
                  norows.w);
}
END_TEST

START_TEST(test_errors)
{
    gan_run r;
    run_new(&r, "tiny", 2, 5);
    tg_error err;
    tg_dist_avg *a;
    ck_assert_int_eq(tg_dist_avg_new(&a, D, r.t.ps, "Q", NULL, &err), TG_ERR_ARG);
    ck_assert_ptr_null(a);
    ck_assert_str_eq(err.msg, "dist: averager: no trainable parameter matches groups 'Q'");
    ck_assert_int_eq(tg_dist_avg_new(&a, D, r.t.ps, "G", NULL, &err), TG_OK);
    /* the D step computes no G gradient */
    ck_assert_int_eq(tg_dist_avg_attach(a, r.pd, &err), TG_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "the plan computes no gradient for 'G/l"), "%s", err.msg);
    tg_plan *p64 = tg_plan_new(r.t.g, r.t.loss_g, &(tg_plan_opts){.groups = "G", .precision = TG_F64});
    ck_assert_ptr_nonnull(p64);
    ck_assert_int_eq(tg_dist_avg_attach(a, p64, &err), TG_ERR_ARG);
    ck_assert_str_eq(err.msg, "dist: attach: the plan has no f32 backward (f64 or forward-only)");
    ck_assert_int_eq(tg_dist_sync_batch_norm(D, p64, &err), TG_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "dist: sync_batch_norm: the plan is an f64 plan"), "%s", err.msg);
    ck_assert_int_eq(tg_dist_sync_batch_norm(NULL, p64, &err), TG_ERR_ARG);
    tg_plan_free(p64);
    /* two backwards before a wait: the second one's reports are refused,
     * the wait says why, and the next step works */
    ck_assert_int_eq(tg_dist_avg_attach(a, r.pg, &err), TG_OK);
    ck_assert_int_eq(tg_plan_forward(r.pd), TG_OK);
    ck_assert_int_eq(tg_plan_forward(r.pg), TG_OK);
    ck_assert_int_eq(tg_plan_backward(r.pg), TG_OK);
    ck_assert_int_eq(tg_plan_backward(r.pg), TG_OK);
    ck_assert_int_eq(tg_dist_avg_wait(a, &err), TG_ERR_STATE);
    ck_assert_msg(strstr(err.msg, "reported twice before tg_dist_avg_wait"), "%s", err.msg);
    ck_assert_int_eq(tg_plan_backward(r.pg), TG_OK);
    ck_assert_int_eq(tg_dist_avg_wait(a, &err), TG_OK);
    tg_param *w = tg_param_find(r.t.ps, "G", "l0.w");
    ck_assert(same_everywhere(tg_param_grad(w), tg_param_numel(w) * sizeof(float)));
    tg_dist_avg_free(a);
    ck_assert_int_eq(tg_dist_mean(D, NULL, 1, &err), TG_ERR_ARG);
    run_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dist");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_join);
    tcase_add_test(core, test_broadcast);
    tcase_add_test(core, test_buckets);
    tcase_add_test(core, test_overlap_same_bits);
    tcase_add_test(core, test_gan_data_parallel);
    tcase_add_test(core, test_conv_data_parallel);
    tcase_add_test(core, test_gan_dropout_data_parallel);
    tcase_add_test(core, test_conv_bn_data_parallel);
    suite_add_tcase(s, core);
    TCase *err = tcase_create("errors");
    tcase_add_test(err, test_errors);
    suite_add_tcase(s, err);
    return s;
}

int main(int argc, char **argv)
{
    alarm(240); /* a rank stuck in a collective ends the run */
    tg_error err;
    if (tg_dist_new(&D, &argc, &argv, &err) != TG_OK) {
        fprintf(stderr, "test_dist: %s\n", err.msg);
        return 1;
    }
    RANK = tg_dist_rank(D);
    SIZE = tg_dist_size(D);
    SRunner *sr = srunner_create(suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* every rank's verdict counts on every rank */
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    tg_dist_free(D);
    return failed != 0;
}
