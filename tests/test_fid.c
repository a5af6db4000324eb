/* test_fid.c - tools/train/fid.c: the Jacobi eigensolver, matrix square root,
 * Frechet distance, inception-style score and label statistics, on cases
 * whose answers are derived by hand in the comments. */
#include "check_main.h"
#include "fid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG2_10 3.321928094887362
#define SQRT2 1.4142135623730951
#define SQRT1_2 0.7071067811865476

/* a deterministic stream for "random" test matrices (LCG -> [-1, 1)) */
static double rnd(unsigned long long *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

/* c = a b, all (d, d) */
static void matmul(const double *a, const double *b, double *c, int d)
{
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += a[i * d + k] * b[k * d + j];
            c[i * d + j] = s;
        }
}

/* a random orthogonal q (d, d): product of d Householder reflections */
static void orthogonal(double *q, int d, unsigned long long seed)
{
    double *h = malloc((size_t)d * d * sizeof *h), *t = malloc((size_t)d * d * sizeof *t), *v = malloc(d * sizeof *v);
    for (int i = 0; i < d * d; i++) q[i] = i / d == i % d;
    for (int r = 0; r < d; r++) {
        double n = 0;
        for (int k = 0; k < d; k++) {
            v[k] = rnd(&seed);
            n += v[k] * v[k];
        }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) h[i * d + j] = (i == j) - 2 * v[i] * v[j] / n;
        matmul(q, h, t, d);
        memcpy(q, t, (size_t)d * d * sizeof *q);
    }
    free(h);
    free(t);
    free(v);
}

/* a = q diag(w) q^T */
static void from_eig(const double *q, const double *w, double *a, int d)
{
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += q[i * d + k] * w[k] * q[j * d + k];
            a[i * d + j] = s;
        }
}

/* ---- eigensolver ---- */
START_TEST(test_eig_small)
{
    /* [[2,1],[1,2]]: eigenvalues 1, 3 with vectors (1,-1)/sqrt2, (1,1)/sqrt2 */
    double a[4] = {2, 1, 1, 2}, w[2], v[4];
    ck_assert_int_ge(fid_eig_sym(a, 2, w, v), 0);
    ck_assert_double_eq_tol(w[0], 1, 1e-14);
    ck_assert_double_eq_tol(w[1], 3, 1e-14);
    ck_assert_double_eq_tol(fabs(v[0 * 2 + 1]), SQRT1_2, 1e-14);
    ck_assert_double_eq_tol(v[0 * 2 + 1] * v[1 * 2 + 1], 0.5, 1e-14); /* (1,1) direction */
    ck_assert_double_eq_tol(v[0 * 2 + 0] * v[1 * 2 + 0], -0.5, 1e-14);
    /* the second-difference matrix tridiag(-1, 2, -1), 3x3: 2 - sqrt2, 2, 2 + sqrt2 */
    double b[9] = {2, -1, 0, -1, 2, -1, 0, -1, 2}, u[3];
    ck_assert_int_ge(fid_eig_sym(b, 3, u, NULL), 0);
    ck_assert_double_eq_tol(u[0], 2 - SQRT2, 1e-14);
    ck_assert_double_eq_tol(u[1], 2, 1e-14);
    ck_assert_double_eq_tol(u[2], 2 + SQRT2, 1e-14);
    /* already diagonal, unsorted: returned ascending after 0 sweeps */
    double c[9] = {3, 0, 0, 0, -1, 0, 0, 0, 2}, x[3], vc[9];
    ck_assert_int_eq(fid_eig_sym(c, 3, x, vc), 0);
    ck_assert(x[0] == -1 && x[1] == 2 && x[2] == 3);
    ck_assert(vc[1 * 3 + 0] == 1 && vc[2 * 3 + 1] == 1 && vc[0 * 3 + 2] == 1); /* columns e2, e3, e1 */
    /* 1x1 */
    double s = 5, ws;
    ck_assert_int_eq(fid_eig_sym(&s, 1, &ws, NULL), 0);
    ck_assert(ws == 5);
}
END_TEST

START_TEST(test_eig_known_spectrum)
{
    /* q diag(w) q^T with a random orthogonal q and eigenvalues 1..60
     * (a zero and a repeated one included): recovers w, and A v = w v */
    enum { D = 60 };
    static double q[D * D], a[D * D], a0[D * D], v[D * D], w[D], got[D];
    for (int k = 0; k < D; k++) w[k] = k == 0 ? 0 : k == 1 ? 2 : k; /* 0, 2, 2, 3, ..., 59 */
    orthogonal(q, D, 42);
    from_eig(q, w, a, D);
    memcpy(a0, a, sizeof a);
    int sweeps = fid_eig_sym(a, D, got, v);
    ck_assert_int_gt(sweeps, 0);
    ck_assert_int_lt(sweeps, 20);
    for (int k = 0; k < D; k++) ck_assert_double_eq_tol(got[k], w[k], 1e-11);
    for (int k = 0; k < D; k++) {
        double nn = 0;
        for (int i = 0; i < D; i++) {
            double s = 0;
            for (int j = 0; j < D; j++) s += a0[i * D + j] * v[j * D + k];
            ck_assert_double_eq_tol(s, got[k] * v[i * D + k], 1e-11);
            nn += v[i * D + k] * v[i * D + k];
        }
        ck_assert_double_eq_tol(nn, 1, 1e-12);
    }
}
END_TEST

START_TEST(test_sqrtm)
{
    /* sqrt of [[5,4],[4,5]] = [[2,1],[1,2]] (eigenvalues 9, 1 -> 3, 1) */
    double a[4] = {5, 4, 4, 5}, r[4];
    ck_assert_int_eq(fid_sqrtm_psd(a, 2, r), 0);
    ck_assert_double_eq_tol(r[0], 2, 1e-14);
    ck_assert_double_eq_tol(r[1], 1, 1e-14);
    ck_assert_double_eq_tol(r[2], 1, 1e-14);
    ck_assert_double_eq_tol(r[3], 2, 1e-14);
    ck_assert(a[1] == 4); /* input intact */
    /* rank deficient with a rounding-negative eigenvalue: [[1,1],[1,1]] - 1e-18 I
     * -> sqrt = [[1,1],[1,1]] / sqrt2 (the negative one counts as 0) */
    double b[4] = {1 - 1e-17, 1, 1, 1 - 1e-17};
    ck_assert_int_eq(fid_sqrtm_psd(b, 2, r), 0);
    for (int k = 0; k < 4; k++) ck_assert_double_eq_tol(r[k], SQRT1_2, 1e-12);
    /* random PSD 30x30: r r == a */
    enum { D = 30 };
    static double q[D * D], w[D], c[D * D], rr[D * D], sq[D * D];
    for (int k = 0; k < D; k++) w[k] = 0.1 + k;
    orthogonal(q, D, 7);
    from_eig(q, w, c, D);
    ck_assert_int_eq(fid_sqrtm_psd(c, D, sq), 0);
    matmul(sq, sq, rr, D);
    for (int k = 0; k < D * D; k++) ck_assert_double_eq_tol(rr[k], c[k], 1e-10);
}
END_TEST

/* ---- statistics ---- */
START_TEST(test_stats)
{
    /* rows (1,2), (3,6), (5,10): mu = (3,6); centred (-2,-4), (0,0), (2,4);
     * cov = [[8, 16], [16, 32]] / (3 - 1) */
    const float x[6] = {1, 2, 3, 6, 5, 10};
    double mu[2], cov[4];
    ck_assert_int_eq(fid_stats(x, 3, 2, mu, cov), 0);
    ck_assert(mu[0] == 3 && mu[1] == 6);
    ck_assert(cov[0] == 4 && cov[1] == 8 && cov[2] == 8 && cov[3] == 16);
    /* one row: zero covariance */
    ck_assert_int_eq(fid_stats(x, 1, 2, mu, cov), 0);
    ck_assert(mu[0] == 1 && mu[1] == 2 && cov[0] == 0 && cov[3] == 0);
    ck_assert_int_eq(fid_stats(x, 0, 2, mu, cov), TG_ERR_ARG);
}
END_TEST

/* ---- Frechet distance ---- */
START_TEST(test_fd_identical)
{
    /* the same Gaussian: 0, for a full-rank and a rank-deficient covariance */
    enum { D = 40 };
    static double q[D * D], w[D], c[D * D], mu[D];
    unsigned long long s = 3;
    for (int k = 0; k < D; k++) {
        w[k] = k < 10 ? 0 : 0.01 * k; /* rank 30 */
        mu[k] = rnd(&s);
    }
    orthogonal(q, D, 11);
    from_eig(q, w, c, D);
    double fd = -1;
    ck_assert_int_eq(fid_distance(mu, c, mu, c, D, &fd), 0);
    ck_assert_double_eq_tol(fd, 0, 1e-9);
    /* the same features -> the same statistics -> 0 */
    float x[200 * 8];
    for (int k = 0; k < 200 * 8; k++) x[k] = (float)rnd(&s);
    double m1[8], c1[64];
    fid_stats(x, 200, 8, m1, c1);
    ck_assert_int_eq(fid_distance(m1, c1, m1, c1, 8, &fd), 0);
    ck_assert_double_eq_tol(fd, 0, 1e-12);
}
END_TEST

START_TEST(test_fd_isotropic)
{
    /* S1 = a I, S2 = b I: (S1 S2)^(1/2) = sqrt(ab) I, so
     * FD = |mu1 - mu2|^2 + d (a + b - 2 sqrt(ab)) = |mu1 - mu2|^2 + d (sqrt a - sqrt b)^2.
     * d = 5, a = 4, b = 9, mu2 - mu1 = (1, 2, 0, 0, 2): 9 + 5 * 1 = 14 */
    enum { D = 5 };
    double c1[D * D] = {0}, c2[D * D] = {0}, m1[D] = {0}, m2[D] = {1, 2, 0, 0, 2}, fd;
    for (int k = 0; k < D; k++) {
        c1[k * D + k] = 4;
        c2[k * D + k] = 9;
    }
    ck_assert_int_eq(fid_distance(m1, c1, m2, c2, D, &fd), 0);
    ck_assert_double_eq_tol(fd, 14, 1e-12);
    /* symmetric in its two arguments */
    ck_assert_int_eq(fid_distance(m2, c2, m1, c1, D, &fd), 0);
    ck_assert_double_eq_tol(fd, 14, 1e-12);
    /* 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s */
    double a = 0.25, b = 2.25, ma = -1, mb = 0.5;
    ck_assert_int_eq(fid_distance(&ma, &a, &mb, &b, 1, &fd), 0);
    ck_assert_double_eq_tol(fd, 1.5 * 1.5 + (0.5 - 1.5) * (0.5 - 1.5), 1e-14);
}
END_TEST

START_TEST(test_fd_noncommuting)
{
    /* S1 = diag(4, 1) and S2 = [[2,1],[1,2]] do not commute. For 2x2 M with
     * eigenvalues l1, l2 >= 0, Tr sqrt(M) = sqrt(l1) + sqrt(l2) =
     * sqrt(Tr M + 2 sqrt(det M)). M = S1 S2 = [[8,4],[1,2]]: Tr 10, det 12,
     * so Tr (S1 S2)^(1/2) = sqrt(10 + 4 sqrt3). With mu2 - mu1 = (1, 2):
     * FD = 5 + (5 + 4) - 2 sqrt(10 + 4 sqrt3) = 14 - 2 sqrt(10 + 4 sqrt3) */
    double c1[4] = {4, 0, 0, 1}, c2[4] = {2, 1, 1, 2}, m1[2] = {0, 0}, m2[2] = {1, 2}, fd;
    double want = 14 - 2 * sqrt(10 + 4 * sqrt(3.0));
    ck_assert_int_eq(fid_distance(m1, c1, m2, c2, 2, &fd), 0);
    ck_assert_double_eq_tol(fd, want, 1e-13);
    ck_assert_int_eq(fid_distance(m2, c2, m1, c1, 2, &fd), 0);
    ck_assert_double_eq_tol(fd, want, 1e-13);
    /* rotating both covariances and means by one orthogonal q changes nothing */
    double q[4] = {0.6, -0.8, 0.8, 0.6}, t[4], r1[4], r2[4], qt[4] = {0.6, 0.8, -0.8, 0.6};
    matmul(q, c1, t, 2);
    matmul(t, qt, r1, 2);
    matmul(q, c2, t, 2);
    matmul(t, qt, r2, 2);
    double n2[2] = {0.6 * 1 - 0.8 * 2, 0.8 * 1 + 0.6 * 2};
    ck_assert_int_eq(fid_distance(m1, r1, n2, r2, 2, &fd), 0);
    ck_assert_double_eq_tol(fd, want, 1e-13);
}
END_TEST

START_TEST(test_fd_scaling)
{
    /* FD of features scaled by s is s^2 FD (a 64-d random case, the
     * classifier-sized path) */
    enum { N = 300, D = 64 };
    static float x[N * D], y[N * D], xs[N * D], ys[N * D];
    static double m1[D], c1[D * D], m2[D], c2[D * D];
    unsigned long long s = 99;
    for (int k = 0; k < N * D; k++) {
        x[k] = (float)rnd(&s);
        y[k] = (float)(0.5 * rnd(&s) + 0.1);
        xs[k] = 4 * x[k];
        ys[k] = 4 * y[k];
    }
    double fd, fds;
    fid_stats(x, N, D, m1, c1);
    fid_stats(y, N, D, m2, c2);
    ck_assert_int_eq(fid_distance(m1, c1, m2, c2, D, &fd), 0);
    fid_stats(xs, N, D, m1, c1);
    fid_stats(ys, N, D, m2, c2);
    ck_assert_int_eq(fid_distance(m1, c1, m2, c2, D, &fds), 0);
    ck_assert(fd > 1);
    ck_assert_double_eq_tol(fds, 16 * fd, 1e-9 * fds);
}
END_TEST

/* ---- inception score and labels ---- */
START_TEST(test_inception_score)
{
    enum { N = 50, K = 10 };
    static float p[N * K];
    /* a single class, confidently: p(y|x) = p(y), KL 0, IS 1 */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) p[i * K + k] = k == 3;
    ck_assert_double_eq_tol(fid_inception_score(p, N, K), 1, 1e-12);
    /* one-hot spread evenly over 10 classes: p(y) uniform, KL = log 10 each, IS 10 */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) p[i * K + k] = k == i % K;
    ck_assert_double_eq_tol(fid_inception_score(p, N, K), 10, 1e-12);
    /* every image uniform: IS 1 */
    for (int k = 0; k < N * K; k++) p[k] = 0.1f;
    ck_assert_double_eq_tol(fid_inception_score(p, N, K), 1, 1e-6);
    /* two images, two classes: (0.75, 0.25) and (0.25, 0.75): p(y) = (1/2, 1/2),
     * KL = 0.75 ln 1.5 + 0.25 ln 0.5 for each; IS = exp of it */
    const float two[4] = {0.75f, 0.25f, 0.25f, 0.75f};
    ck_assert_double_eq_tol(fid_inception_score(two, 2, 2), exp(0.75 * log(1.5) + 0.25 * log(0.5)), 1e-12);
}
END_TEST

START_TEST(test_labels)
{
    enum { N = 40, K = 10 };
    static float p[N * K];
    long h[K];
    /* balanced: 4 of each class with confidence 0.91 (0.01 elsewhere) */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) p[i * K + k] = k == i % K ? 0.91f : 0.01f;
    ck_assert_double_eq_tol(fid_label_hist(p, N, K, h), 0.91, 1e-6);
    for (int k = 0; k < K; k++) ck_assert_int_eq(h[k], 4);
    ck_assert_double_eq_tol(fid_entropy_bits(h, K), LOG2_10, 1e-12);
    /* collapsed: every image class 7: entropy 0 (not -0) */
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++) p[i * K + k] = k == 7 ? 0.5f : 0.5f / 9;
    ck_assert_double_eq_tol(fid_label_hist(p, N, K, h), 0.5, 1e-6);
    ck_assert_int_eq(h[7], N);
    ck_assert(fid_entropy_bits(h, K) == 0 && !signbit(fid_entropy_bits(h, K)));
    /* ties go to the lowest class */
    const float tie[3] = {0.4f, 0.4f, 0.2f};
    long t[3];
    fid_label_hist(tie, 1, 3, t);
    ck_assert(t[0] == 1 && t[1] == 0 && t[2] == 0);
    /* (1, 3): -(1/4 log2 1/4 + 3/4 log2 3/4) = 2 - 3/4 log2 3; two equal: 1 bit */
    const long a[2] = {1, 3}, b[2] = {5, 5}, z[2] = {0, 0};
    ck_assert_double_eq_tol(fid_entropy_bits(a, 2), 2 - 0.75 * log2(3.0), 1e-14);
    ck_assert_double_eq_tol(fid_entropy_bits(b, 2), 1, 1e-14);
    ck_assert(fid_entropy_bits(z, 2) == 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fid");
    TCase *c = tcase_create("core");
    tcase_add_test(c, test_eig_small);
    tcase_add_test(c, test_eig_known_spectrum);
    tcase_add_test(c, test_sqrtm);
    tcase_add_test(c, test_stats);
    tcase_add_test(c, test_fd_identical);
    tcase_add_test(c, test_fd_isotropic);
    tcase_add_test(c, test_fd_noncommuting);
    tcase_add_test(c, test_fd_scaling);
    tcase_add_test(c, test_inception_score);
    tcase_add_test(c, test_labels);
    suite_add_tcase(s, c);
    return s;
}

int main(void) { return tg_run_suite(suite()); }
