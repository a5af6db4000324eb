/* fid.c - Frechet distance, inception-style score and label statistics
 * (fid.h). Everything in double; the eigensolver is cyclic Jacobi, which is
 * accurate for symmetric matrices (relative accuracy on the eigenvalues of
 * well-scaled PSD ones) and fast enough for the D <= 256 features the
 * classifier gives: about 2 D^3 flops a sweep, under 10 sweeps. */
#include "fid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JACOBI_MAX_SWEEPS 100

tg_status fid_stats(const float *x, int n, int d, double *mu, double *cov)
{
    if (n < 1 || d < 1) return TG_ERR_ARG;
    double *c = malloc((size_t)d * sizeof *c);
    if (!c) return TG_ERR_NOMEM;
    for (int j = 0; j < d; j++) mu[j] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mu[j] += x[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mu[j] /= n;
    memset(cov, 0, (size_t)d * d * sizeof *cov);
    /* sum of centred outer products, upper triangle, then mirrored */
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        for (int j = 0; j < d; j++) c[j] = r[j] - mu[j];
        for (int a = 0; a < d; a++) {
            double ca = c[a], *row = cov + (size_t)a * d;
            for (int b = a; b < d; b++) row[b] += ca * c[b];
        }
    }
    double den = n > 1 ? n - 1 : 1;
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            double v = cov[(size_t)a * d + b] / den;
            cov[(size_t)a * d + b] = cov[(size_t)b * d + a] = v;
        }
    free(c);
    return TG_OK;
}

int fid_eig_sym(double *a, int d, double *w, double *v)
{
    if (d < 1) return -1;
    if (v)
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) v[(size_t)i * d + j] = i == j;
    double norm = 0;
    for (size_t i = 0; i < (size_t)d * d; i++) norm += a[i] * a[i];
    int sweep = 0, ok = 0;
    for (; sweep <= JACOBI_MAX_SWEEPS; sweep++) {
        double off = 0;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) off += a[(size_t)p * d + q] * a[(size_t)p * d + q];
        /* converged: the off-diagonal part is at rounding level */
        if (off <= 1e-30 * norm || off == 0) {
            ok = 1;
            break;
        }
        if (sweep == JACOBI_MAX_SWEEPS) break;
        for (int p = 0; p < d; p++)
            for (int q = p + 1; q < d; q++) {
                double apq = a[(size_t)p * d + q];
                if (apq == 0) continue;
                /* the rotation that zeroes a[p][q]: t = tan(phi) is the
                 * smaller root of t^2 + 2 theta t - 1 = 0 */
                double app = a[(size_t)p * d + p], aqq = a[(size_t)q * d + q];
                double theta = (aqq - app) / (2 * apq), t;
                if (fabs(theta) > 1e150) t = 0.5 / theta;
                else t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                /* A <- P^T A P with P = I except P[p][p] = P[q][q] = c,
                 * P[p][q] = s, P[q][p] = -s: columns, then rows */
                for (int k = 0; k < d; k++) {
                    double *r = a + (size_t)k * d, akp = r[p], akq = r[q];
                    r[p] = c * akp - s * akq;
                    r[q] = s * akp + c * akq;
                }
                double *rp = a + (size_t)p * d, *rq = a + (size_t)q * d;
                for (int k = 0; k < d; k++) {
                    double apk = rp[k], aqk = rq[k];
                    rp[k] = c * apk - s * aqk;
                    rq[k] = s * apk + c * aqk;
                }
                rp[q] = rq[p] = 0;
                if (v)
                    for (int k = 0; k < d; k++) {
                        double *r = v + (size_t)k * d, vkp = r[p], vkq = r[q];
                        r[p] = c * vkp - s * vkq;
                        r[q] = s * vkp + c * vkq;
                    }
            }
    }
    for (int i = 0; i < d; i++) w[i] = a[(size_t)i * d + i];
    /* ascending order (selection sort; swaps eigenvector columns along) */
    for (int i = 0; i < d; i++) {
        int m = i;
        for (int j = i + 1; j < d; j++)
            if (w[j] < w[m]) m = j;
        if (m == i) continue;
        double t = w[i];
        w[i] = w[m];
        w[m] = t;
        if (v)
            for (int k = 0; k < d; k++) {
                double *r = v + (size_t)k * d;
                t = r[i];
                r[i] = r[m];
                r[m] = t;
            }
    }
    return ok ? sweep : -1;
}

tg_status fid_sqrtm_psd(const double *a, int d, double *r)
{
    if (d < 1) return TG_ERR_ARG;
    size_t dd = (size_t)d * d;
    double *t = malloc(dd * sizeof *t), *v = malloc(dd * sizeof *v), *w = malloc((size_t)d * sizeof *w);
    tg_status rc = TG_ERR_NOMEM;
    if (!t || !v || !w) goto done;
    rc = TG_ERR_STATE; /* the eigensolver did not converge */
    /* symmetrize a copy, so an input asymmetric by rounding is fine */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) t[(size_t)i * d + j] = 0.5 * (a[(size_t)i * d + j] + a[(size_t)j * d + i]);
    if (fid_eig_sym(t, d, w, v) < 0) goto done;
    for (int k = 0; k < d; k++) w[k] = w[k] > 0 ? sqrt(w[k]) : 0;
    /* r = V diag(sqrt w) V^T */
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double s = 0;
            const double *vi = v + (size_t)i * d, *vj = v + (size_t)j * d;
            for (int k = 0; k < d; k++) s += vi[k] * w[k] * vj[k];
            r[(size_t)i * d + j] = r[(size_t)j * d + i] = s;
        }
    rc = TG_OK;
done:
    free(t);
    free(v);
    free(w);
    return rc;
}

tg_status fid_distance(const double *mu1, const double *c1, const double *mu2, const double *c2, int d, double *fd)
{
    if (d < 1) return TG_ERR_ARG;
    size_t dd = (size_t)d * d;
    double *r = malloc(dd * sizeof *r), *t = malloc(dd * sizeof *t), *m = malloc(dd * sizeof *m);
    double *w = malloc((size_t)d * sizeof *w);
    tg_status rc = TG_ERR_NOMEM;
    if (!r || !t || !m || !w) goto done;
    if ((rc = fid_sqrtm_psd(c1, d, r)) != TG_OK) goto done;
    rc = TG_ERR_STATE;
    /* t = R S2, m = t R = R S2 R (symmetric PSD, similar to S1 S2) */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += r[(size_t)i * d + k] * c2[(size_t)k * d + j];
            t[(size_t)i * d + j] = s;
        }
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double s = 0;
            const double *ti = t + (size_t)i * d, *rj = r + (size_t)j * d; /* R symmetric: column j = row j */
            for (int k = 0; k < d; k++) s += ti[k] * rj[k];
            m[(size_t)i * d + j] = s;
        }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++) {
            /* average the two triangles' rounding: m[i][j] from the upper one */
            m[(size_t)i * d + j] = m[(size_t)j * d + i];
        }
    if (fid_eig_sym(m, d, w, NULL) < 0) goto done;
    double trsqrt = 0, tr = 0, dm = 0;
    for (int k = 0; k < d; k++) {
        trsqrt += w[k] > 0 ? sqrt(w[k]) : 0;
        tr += c1[(size_t)k * d + k] + c2[(size_t)k * d + k];
        dm += (mu1[k] - mu2[k]) * (mu1[k] - mu2[k]);
    }
    double v = dm + tr - 2 * trsqrt;
    *fd = v > 0 ? v : 0;
    rc = TG_OK;
done:
    free(r);
    free(t);
    free(m);
    free(w);
    return rc;
}

double fid_inception_score(const float *probs, int n, int k)
{
    if (n < 1 || k < 1) return NAN;
    double *py = calloc((size_t)k, sizeof *py);
    if (!py) return NAN;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) py[c] += probs[(size_t)i * k + c];
    for (int c = 0; c < k; c++) py[c] /= n;
    double kl = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            double p = probs[(size_t)i * k + c];
            if (p > 0 && py[c] > 0) kl += p * (log(p) - log(py[c]));
        }
    free(py);
    return exp(kl / n);
}

double fid_label_hist(const float *probs, int n, int k, long *hist)
{
    for (int c = 0; c < k; c++) hist[c] = 0;
    if (n < 1 || k < 1) return NAN;
    double conf = 0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (p[c] > p[best]) best = c;
        hist[best]++;
        conf += p[best];
    }
    return conf / n;
}

double fid_entropy_bits(const long *hist, int k)
{
    double total = 0, h = 0;
    for (int c = 0; c < k; c++) total += (double)hist[c];
    if (total <= 0) return 0;
    for (int c = 0; c < k; c++)
        if (hist[c] > 0) {
            double p = (double)hist[c] / total;
            h -= p * log2(p);
        }
    return h > 0 ? h : 0; /* not -0 for a single class */
}
