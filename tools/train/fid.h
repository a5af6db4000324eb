/* fid.h - the statistics `tapegrad evaluate` reports for a set of generated
 * images, as pure math on arrays (no files, no printing):
 *
 *   Frechet distance between Gaussians fitted to two feature sets
 *     FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
 *   with Tr((S1 S2)^(1/2)) computed as the sum of the square roots of the
 *   eigenvalues of the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (it is
 *   similar to S1 S2), both from a cyclic Jacobi eigensolver in double.
 *   Rounding can make tiny eigenvalues negative: they are clamped to 0, and
 *   so is a final distance of the order of rounding below 0.
 *
 *   Inception-style score  IS = exp(E_x[KL(p(y|x) || p(y))]), p(y) the mean
 *   of p(y|x) over the set (one split), with 0 log 0 = 0: 1 when every image
 *   gets the same distribution, K for confident predictions spread evenly
 *   over K classes.
 *
 *   Predicted-label histogram (argmax, the lowest class on ties), its entropy
 *   in bits (log2 K when balanced, 0 for a single class: mode coverage), and
 *   the mean confidence (mean of max_k p(k|x)).
 *
 * Legend: N rows (images), D feature width, K classes. Matrices are
 * row-major. Functions that allocate scratch return TG_OK, TG_ERR_ARG for
 * bad sizes, TG_ERR_NOMEM, or TG_ERR_STATE when the eigensolver did not
 * converge. */
#ifndef TG_FID_H
#define TG_FID_H

#include "tg_error.h"

#include <stddef.h>

/* mu (D) and the unbiased covariance (D, D) (denominator N - 1; N = 1 gives
 * a zero covariance) of x (N, D), accumulated in double. */
tg_status fid_stats(const float *x, int n, int d, double *mu, double *cov);

/* Eigen-decomposition of the symmetric a (D, D) by cyclic Jacobi rotations:
 * a is overwritten; w (D) gets the eigenvalues in ascending order and, if v
 * is not NULL, v (D, D) the matching orthonormal eigenvectors as columns.
 * Returns the number of sweeps used, or -1 if it did not converge. */
int fid_eig_sym(double *a, int d, double *w, double *v);

/* The symmetric square root of the symmetric PSD a (D, D) into r (D, D)
 * (negative eigenvalues from rounding count as 0). a is left intact. */
tg_status fid_sqrtm_psd(const double *a, int d, double *r);

/* The Frechet distance between N(mu1, c1) and N(mu2, c2), into *fd. */
tg_status fid_distance(const double *mu1, const double *c1, const double *mu2, const double *c2, int d, double *fd);

/* Inception-style score of probs (N, K); rows should sum to 1. */
double fid_inception_score(const float *probs, int n, int k);

/* hist (K) = how many rows of probs (N, K) have their maximum at each class;
 * returns the mean confidence, the mean over rows of the maximum. */
double fid_label_hist(const float *probs, int n, int k, long *hist);

/* Entropy in bits of the distribution hist / sum(hist); 0 for an empty one. */
double fid_entropy_bits(const long *hist, int k);

#endif
