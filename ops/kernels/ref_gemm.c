/* ref_gemm.c - f64 reference GEMM (the oracle for the f32 kernels).
 *
 * C(M,N) = op(A) op(B) (+ C if beta), plain triple loop, double accumulation
 * in k order. op(A) is (M,K): A stored (M,K) with row stride lda, or if
 * transA stored (K,M). op(B) is (K,N): B stored (K,N), or if transB (N,K).
 */
#include "kernels.h"

void tg_ref_gemm(int M, int N, int K, const double *A, int lda, int transA,
                 const double *B, int ldb, int transB, double *C, int ldc, int beta)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            double *c = &C[(size_t)i * ldc + j];
            *c = beta ? *c + s : s;
        }
    }
}
