/* kern_gemm.h - the f32 GEMM kernels behind tg_kern.sgemm / .sgemm_ws / .nr
 * (internal). Semantics: see tg_gemm_desc in kernels.h.
 *
 * One pair of entry points per CPU variant:
 *   size_t tg_sgemm_ws_<v>(d)           floats of per-thread workspace
 *   void   tg_sgemm_<v>(d, n0, n1, ws)  compute columns [n0, n1) of C
 * TG_GEMM_NR_<V> is the micro-kernel's column width: the granularity at which
 * callers should split columns across threads. TG_GEMM_MR_<V> (its row
 * height) is exported for tests only.
 *
 * Determinism: every C element is one fixed FMA (or mul+add) chain over
 * k = 0..K-1, started from 0 (beta=0) or from C (beta=1), then + bias, then
 * act. Neither the column range [n0, n1) nor the tile an element falls in
 * (full or tail) changes that chain, so any column split gives bit-identical
 * results (every variant uses a dot-product order for N == 1, a choice made
 * from N alone). Results differ between variants (FMA vs mul+add).
 *
 * The _avx2 and _avx512 variants exist only on x86-64 (they are compiled in
 * their own static libraries with their own -m flags); call them only after
 * checking the CPU (__builtin_cpu_supports). _neon exists only on AArch64
 * (AdvSIMD; dispatch.c checks HWCAP_ASIMD). _portable exists everywhere.
 */
#ifndef TG_KERN_GEMM_H
#define TG_KERN_GEMM_H

#include <stddef.h>

#include "kernels.h"

#ifndef TG_GEMM_MR_PORTABLE
#define TG_GEMM_MR_PORTABLE 4
#define TG_GEMM_NR_PORTABLE 8
#endif
size_t tg_sgemm_ws_portable(const tg_gemm_desc *d);
void tg_sgemm_portable(const tg_gemm_desc *d, int n0, int n1, float *ws);

#if defined(TG_HAVE_X86_VARIANTS) && defined(__x86_64__)
#define TG_GEMM_MR_AVX2 6
#define TG_GEMM_NR_AVX2 16
size_t tg_sgemm_ws_avx2(const tg_gemm_desc *d);
void tg_sgemm_avx2(const tg_gemm_desc *d, int n0, int n1, float *ws);

#define TG_GEMM_MR_AVX512 14
#define TG_GEMM_NR_AVX512 32
size_t tg_sgemm_ws_avx512(const tg_gemm_desc *d);
void tg_sgemm_avx512(const tg_gemm_desc *d, int n0, int n1, float *ws);
#endif

#if defined(TG_HAVE_NEON_VARIANT) && defined(__aarch64__)
#define TG_GEMM_MR_NEON 8
#define TG_GEMM_NR_NEON 12
size_t tg_sgemm_ws_neon(const tg_gemm_desc *d);
void tg_sgemm_neon(const tg_gemm_desc *d, int n0, int n1, float *ws);
#endif

#endif
