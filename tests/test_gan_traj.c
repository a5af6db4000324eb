/* test_gan_traj.c - the "gan_traj" suite: tools/train/gan_train.c replays a GAN
 * training trajectory computed by PyTorch.
 *
 * tests/fixtures/make_gan_trajectory.py (torch, float32, one thread) writes
 * tests/fixtures/gan_traj/: a small IDX dataset, the initial weights, the
 * noise of every iteration, and the expected per-iteration losses, mean D
 * outputs and final weights. Here the same GAN is built with gan_init, its
 * parameters overwritten from init.safetensors, and ITERS gan_step_z run on
 * the same batches and noise; the losses, mean D outputs, the first
 * iteration's raw gradients (before Adam) and the final weights must agree
 * with PyTorch's (per element, relative to max(|expected|, FLOOR *
 * max|expected of that tensor|), and per tensor; tolerances below). Also: gan_step_z is deterministic (bit-identical weights from
 * the same state and inputs, with a 2-thread pool), and a NaN pixel makes it
 * fail with "not finite" before Adam touches D (or G).
 *
 * Fixtures come from $TG_FIXTURES (tests/meson.build sets it; by hand:
 * TG_FIXTURES=<repo>/tests/fixtures/gan_traj ./test_gan_traj). */
#include "gan_train.h"
#include "idx.h"
#include "safetensors.h"

#include "check_main.h"
#include "kernel_gate.h"
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* must match make_gan_trajectory.py */
#define ITERS 6
#define BATCH 16
#define ZDIM 16
#define XDIM 144
#define N_IMAGES 48

/* Tolerances, about 4-6x the worst error measured on the three kernel
 * variants (avx512 / avx2 / portable): losses and mean D outputs 1.8e-7;
 * first-iteration gradients 7.9e-5 per element, 3.3e-7 per tensor; final
 * weights 7.4e-6 per element, 1.8e-8 per tensor. A backward off by a
 * constant factor of 1.001 moves its gradients by 1e-3 per tensor (and
 * Adam's weights far less: its update barely depends on the gradient's
 * scale, hence the raw gradients). */
#define TOL 1e-6            /* losses, D(x), D(G(z)): relative, per iteration */
#define TOL_GRAD 3e-4       /* first iteration's gradients, per element */
#define TOL_GRAD_NORM 2e-6  /* ..., per tensor: |a - e| / |e| */
#define TOL_W 3e-5          /* final weights, per element */
#define TOL_W_NORM 1e-7     /* ..., per tensor */
#define FLOOR 1e-3

typedef struct traj {
    mnist_set data;
    st_file *init, *zf, *exp;
    float *z;                       /* ITERS x BATCH x ZDIM */
} traj;

static tg_error err;

static const char *fixtures(void)
{
    const char *dir = getenv("TG_FIXTURES");
    ck_assert_msg(dir && *dir, "TG_FIXTURES is not set (by hand: TG_FIXTURES=<repo>/tests/fixtures/gan_traj)");
    return dir;
}

static st_file *open_st(const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures(), name);
    st_file *f = NULL;
    ck_assert_msg(st_open(path, &f, &err) == TG_OK, "%s", err.msg);
    return f;
}

static void traj_load(traj *t)
{
    memset(t, 0, sizeof *t);
    ck_assert_msg(mnist_load(fixtures(), "train", &t->data, &err) == TG_OK, "%s", err.msg);
    ck_assert_int_eq(t->data.n, N_IMAGES);
    ck_assert_int_eq(t->data.h * t->data.w, XDIM);
    t->init = open_st("init.safetensors");
    t->zf = open_st("z.safetensors");
    t->exp = open_st("expected.safetensors");
    t->z = malloc((size_t)ITERS * BATCH * ZDIM * sizeof(float));
    ck_assert_ptr_nonnull(t->z);
    ck_assert_msg(st_get_f32(t->zf, "z", 3, (const int[]){ITERS, BATCH, ZDIM}, t->z, &err) == TG_OK,
                  "%s", err.msg);
}

static void traj_free(traj *t)
{
    mnist_free(&t->data);
    st_close(t->init);
    st_close(t->zf);
    st_close(t->exp);
    free(t->z);
}

/* an F64 [ITERS] tensor of expected.safetensors */
static void get_f64(const traj *t, const char *name, double *out)
{
    const st_entry *e = st_find(t->exp, name);
    ck_assert_msg(e, "expected.safetensors has no '%s'", name);
    ck_assert_msg(e->dtype == ST_F64 && e->ndim == 1 && e->numel == ITERS, "'%s' is not F64 [%d]", name, ITERS);
    for (int i = 0; i < ITERS; i++) {
        uint64_t u = 0;
        for (int b = 7; b >= 0; b--) u = u << 8 | e->data[(size_t)i * 8 + (size_t)b];
        memcpy(&out[i], &u, sizeof u);
    }
}

/* the configuration make_gan_trajectory.py trains */
static void make_cfg(gan_cfg *c, int threads)
{
    ck_assert_int_eq(gan_cfg_defaults(c, "reference", NULL), TG_OK);
    tg_gan_mlp m; /* the model as MLPs, then as the layer lists training builds */
    ck_assert_int_eq(tg_gan_mlp_preset("reference", &m, NULL), TG_OK);
    tg_mlp_spec *G = &m.G, *D = &m.D;
    G->n_layers = 3;
    memcpy(G->widths, (const int[]){ZDIM, 32, 48, XDIM}, 4 * sizeof(int));
    G->hidden = TG_ACT_LEAKY_RELU;
    G->output = TG_ACT_TANH;
    G->slope = 0.2f;
    G->dropout = 0;
    D->n_layers = 3;
    memcpy(D->widths, (const int[]){XDIM, 48, 32, 1}, 4 * sizeof(int));
    D->hidden = TG_ACT_LEAKY_RELU;
    D->output = TG_ACT_NONE;
    D->slope = 0.2f;
    D->dropout = 0;   /* torch's dropout masks cannot match ours */
    m.init = TG_INIT_PYTORCH;   /* overwritten from init.safetensors anyway */
    ck_assert_int_eq(tg_gan_from_mlp(&m, &c->spec, NULL), TG_OK);
    c->batch = BATCH;
    c->threads = threads;
    c->lr_g = c->lr_d = 2e-4f;
    c->beta1 = 0.5f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->real_label = 0.9f;
    c->saturating = 0;
    c->fresh_z = 0;
}

/* gan_init, then every parameter from init.safetensors (which must hold
 * exactly the model's parameters) */
static void run_init(gan_run *r, const traj *t, int threads)
{
    gan_cfg c;
    make_cfg(&c, threads);
    ck_assert_msg(gan_init(r, &c, &err) == 0, "gan_init: %s", err.msg);
    int np = tg_params_count(r->ps);
    ck_assert_int_eq(np, 12);
    ck_assert_uint_eq(st_count(t->init), (size_t)np);
    for (int i = 0; i < np; i++) {
        tg_param *p = tg_params_at(r->ps, i);
        char name[96];
        snprintf(name, sizeof name, "%s/%s", tg_param_group(p), tg_param_name(p));
        ck_assert_msg(st_get_f32(t->init, name, tg_param_ndim(p), tg_param_dims(p), tg_param_data(p), &err) == TG_OK,
                      "%s", err.msg);
    }
}

/* iteration it's batch: images (it*B + j) mod N */
static void load_batch(gan_run *r, const traj *t, int it)
{
    for (int j = 0; j < BATCH; j++) {
        int k = (it * BATCH + j) % t->data.n;
        memcpy(r->x + (size_t)j * XDIM, t->data.images + (size_t)k * XDIM, XDIM * sizeof(float));
    }
}

static int step(gan_run *r, const traj *t, int it, gan_stats *st)
{
    load_batch(r, t, it);
    return gan_step_z(r, t->z + (size_t)it * BATCH * ZDIM, NULL, st, &err);
}

/* max over i of |a_i - e_i| / max(|e_i|, FLOOR * max|e|); *at = its index */
static double rel_err(const double *a, const double *e, size_t n, size_t *at)
{
    double emax = 0, worst = 0;
    for (size_t i = 0; i < n; i++) emax = fmax(emax, fabs(e[i]));
    double floor_ = FLOOR * emax;
    if (at) *at = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fmax(fabs(e[i]), floor_);
        double r = den > 0 ? fabs(a[i] - e[i]) / den : fabs(a[i] - e[i]);
        if (!(r <= worst)) {   /* NaN counts as the worst */
            worst = isnan(r) ? INFINITY : r;
            if (at) *at = i;
        }
    }
    return worst;
}

/* checks every parameter's value (or, with prefix "grad0/", its gradient)
 * against expected.safetensors' tensor prefix + group/name; returns the
 * worst relative error and names it */
static double params_err(gan_run *r, const traj *t, const char *prefix, char *worst_name, size_t len,
                         size_t *worst_at, double *norm_err)
{
    double worst = 0;
    *norm_err = 0;
    const int grads = *prefix != '\0';
    for (int i = 0; i < tg_params_count(r->ps); i++) {
        tg_param *p = tg_params_at(r->ps, i);
        char name[96];
        snprintf(name, sizeof name, "%s%s/%s", prefix, tg_param_group(p), tg_param_name(p));
        size_t n = tg_param_numel(p);
        float *ef = malloc(n * sizeof(float));
        double *ed = malloc(n * sizeof(double)), *ad = malloc(n * sizeof(double));
        ck_assert(ef && ed && ad);
        ck_assert_msg(st_get_f32(t->exp, name, tg_param_ndim(p), tg_param_dims(p), ef, &err) == TG_OK,
                      "%s", err.msg);
        const float *w = grads ? tg_param_grad(p) : tg_param_data(p);
        for (size_t e = 0; e < n; e++) {
            ed[e] = ef[e];
            ad[e] = w[e];
        }
        size_t at;
        double re = rel_err(ad, ed, n, &at);
        /* the tensor's error as a whole: |a - e| / |e| (2-norms), what a
         * wrong constant factor in a backward shows up in */
        double d2 = 0, e2 = 0;
        for (size_t k = 0; k < n; k++) {
            d2 += (ad[k] - ed[k]) * (ad[k] - ed[k]);
            e2 += ed[k] * ed[k];
        }
        double ne = e2 > 0 ? sqrt(d2 / e2) : sqrt(d2);
        if (!(ne <= *norm_err)) *norm_err = isnan(ne) ? INFINITY : ne;
        if (!(re <= worst)) {
            worst = re;
            snprintf(worst_name, len, "%s", name);
            *worst_at = at;
        }
        free(ef);
        free(ed);
        free(ad);
    }
    return worst;
}

START_TEST(test_trajectory)
{
    traj t;
    traj_load(&t);
    gan_run r;
    run_init(&r, &t, 1);
    double ld[ITERS], lg[ITERS], dr[ITERS], df[ITERS];
    char gname[96] = "";
    size_t gat = 0;
    double gerr = 0, gnorm = 0;
    for (int it = 0; it < ITERS; it++) {
        gan_stats st;
        ck_assert_msg(step(&r, &t, it, &st) == 0, "iteration %d: %s", it, err.msg);
        /* the first iteration's raw gradients, as Adam received them: D's
         * from the D step, G's from the G step (neither plan writes the
         * other group's) */
        if (it == 0) gerr = params_err(&r, &t, "grad0/", gname, sizeof gname, &gat, &gnorm);
        ld[it] = st.loss_d;
        lg[it] = st.loss_g;
        dr[it] = st.d_real;
        df[it] = st.d_fake;
    }
    ck_assert_int_eq((int)r.step, ITERS);

    static const char *const names[4] = {"loss_D", "loss_G", "d_real", "d_fake"};
    const double *got[4] = {ld, lg, dr, df};
    double e[4][ITERS], worst[4];
    for (int q = 0; q < 4; q++) {
        get_f64(&t, names[q], e[q]);
        size_t at;
        worst[q] = rel_err(got[q], e[q], ITERS, &at);
        printf("gan_traj: %s max relative error %.3g (iteration %zu: %.9g vs torch %.9g)\n", names[q], worst[q],
               at, got[q][at], e[q][at]);
    }
    char wname[96] = "";
    size_t wat = 0;
    double wnorm, werr = params_err(&r, &t, "", wname, sizeof wname, &wat, &wnorm);
    printf("gan_traj: first iteration's gradients max relative error %.3g (%s[%zu]), per tensor %.3g\n", gerr,
           gname, gat, gnorm);
    printf("gan_traj: final weights max relative error %.3g (%s[%zu]), per tensor %.3g\n", werr, wname, wat, wnorm);
    fflush(stdout);
    for (int q = 0; q < 4; q++) {
        /* the first iteration that is off, to tell a forward bug from drift */
        int first = -1;
        for (int it = 0; it < ITERS && first < 0; it++)
            if (!(fabs(got[q][it] - e[q][it]) <= TOL * fabs(e[q][it]))) first = it;
        ck_assert_msg(worst[q] <= TOL, "%s: max relative error %.3g > %g; first off at iteration %d (%.9g vs torch %.9g)",
                      names[q], worst[q], TOL, first, first >= 0 ? got[q][first] : 0.0,
                      first >= 0 ? e[q][first] : 0.0);
    }
    ck_assert_msg(gerr <= TOL_GRAD, "first iteration's gradients: max relative error %.3g > %g at %s[%zu]", gerr,
                  TOL_GRAD, gname, gat);
    ck_assert_msg(gnorm <= TOL_GRAD_NORM, "first iteration's gradients: a tensor's relative error %.3g > %g", gnorm,
                  TOL_GRAD_NORM);
    ck_assert_msg(werr <= TOL_W, "final weights: max relative error %.3g > %g at %s[%zu]", werr, TOL_W, wname, wat);
    ck_assert_msg(wnorm <= TOL_W_NORM, "final weights: a tensor's relative error %.3g > %g", wnorm, TOL_W_NORM);
    gan_free(&r);
    traj_free(&t);
}
END_TEST

static float **snapshot(gan_run *r)
{
    int np = tg_params_count(r->ps);
    float **s = calloc((size_t)np, sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (int i = 0; i < np; i++) {
        tg_param *p = tg_params_at(r->ps, i);
        s[i] = malloc(tg_param_numel(p) * sizeof(float));
        ck_assert_ptr_nonnull(s[i]);
        memcpy(s[i], tg_param_data(p), tg_param_numel(p) * sizeof(float));
    }
    return s;
}

static void snapshot_free(gan_run *r, float **s)
{
    for (int i = 0; i < tg_params_count(r->ps); i++) free(s[i]);
    free(s);
}

/* index of the first parameter of `group` that differs bitwise from s, or -1 */
static int differs(gan_run *r, float **s, const char *group)
{
    for (int i = 0; i < tg_params_count(r->ps); i++) {
        tg_param *p = tg_params_at(r->ps, i);
        if (group && strcmp(tg_param_group(p), group)) continue;
        if (memcmp(s[i], tg_param_data(p), tg_param_numel(p) * sizeof(float))) return i;
    }
    return -1;
}

START_TEST(test_deterministic)
{
    traj t;
    traj_load(&t);
    gan_run a, b;
    run_init(&a, &t, 2);
    run_init(&b, &t, 2);
    for (int it = 0; it < 3; it++) {
        gan_stats sa, sb;
        ck_assert_msg(step(&a, &t, it, &sa) == 0, "%s", err.msg);
        ck_assert_msg(step(&b, &t, it, &sb) == 0, "%s", err.msg);
        ck_assert_msg(!memcmp(&sa.loss_d, &sb.loss_d, sizeof(double)) &&
                          !memcmp(&sa.loss_g, &sb.loss_g, sizeof(double)),
                      "iteration %d: losses differ: %.17g/%.17g vs %.17g/%.17g", it, sa.loss_d, sa.loss_g, sb.loss_d,
                      sb.loss_g);
        float **s = snapshot(&a);
        int d = differs(&b, s, NULL);
        ck_assert_msg(d < 0, "iteration %d: parameter %s/%s differs between two identical runs", it,
                      d >= 0 ? tg_param_group(tg_params_at(b.ps, d)) : "",
                      d >= 0 ? tg_param_name(tg_params_at(b.ps, d)) : "");
        snapshot_free(&a, s);
    }
    gan_free(&a);
    gan_free(&b);
    traj_free(&t);
}
END_TEST

START_TEST(test_nonfinite_batch)
{
    traj t;
    traj_load(&t);
    gan_run r;
    run_init(&r, &t, 1);
    float **s = snapshot(&r);
    gan_stats st;
    load_batch(&r, &t, 0);
    r.x[3 * XDIM + 77] = NAN;
    err.msg[0] = 0;
    int rc = gan_step_z(&r, t.z, NULL, &st, &err);
    ck_assert_int_eq(rc, TG_ERR_NONFINITE);
    ck_assert_msg(strstr(err.msg, "not finite"), "message: '%s'", err.msg);
    int d = differs(&r, s, "D");
    ck_assert_msg(d < 0, "D's %s changed after a failed step", d >= 0 ? tg_param_name(tg_params_at(r.ps, d)) : "");
    d = differs(&r, s, "G");
    ck_assert_msg(d < 0, "G's %s changed after a failed step", d >= 0 ? tg_param_name(tg_params_at(r.ps, d)) : "");
    ck_assert_int_eq((int)r.step, 0);
    ck_assert_int_eq((int)tg_adam_steps(r.ad), 0);
    ck_assert_int_eq((int)tg_adam_steps(r.ag), 0);

    /* the run recovers: the finite batch then gives torch's first iteration */
    ck_assert_msg(step(&r, &t, 0, &st) == 0, "%s", err.msg);
    double e[ITERS];
    get_f64(&t, "loss_D", e);
    ck_assert_msg(fabs(st.loss_d - e[0]) <= TOL * fabs(e[0]), "loss_D after recovery %.9g, torch %.9g", st.loss_d,
                  e[0]);
    get_f64(&t, "loss_G", e);
    ck_assert_msg(fabs(st.loss_g - e[0]) <= TOL * fabs(e[0]), "loss_G after recovery %.9g, torch %.9g", st.loss_g,
                  e[0]);
    snapshot_free(&r, s);
    gan_free(&r);
    traj_free(&t);
}
END_TEST

static Suite *gan_traj_suite(void)
{
    Suite *s = suite_create("gan_traj");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_trajectory);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_nonfinite_batch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const int gate = tg_kernel_gate("gan_traj");
    if (gate >= 0) return gate;
    return tg_run_suite(gan_traj_suite());
}
