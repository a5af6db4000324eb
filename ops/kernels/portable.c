/* portable.c - the "portable" tg_kern table: any architecture, no
 * intrinsics. The element-wise kernels are elem_simd.inc instantiated with
 * 4-float GCC/Clang vectors (vec_portable.h), built without -m flags and with
 * -ffp-contract=off; exp, tanh and log1p are vec_portable.h's lane-wise
 * Cephes functions (the SIMD variants call SLEEF), the same the portable
 * GEMM's epilogues use.
 *
 * Canonical reduction order (shared with every variant through
 * elem_simd.inc, so that tg_kern.sum gives the same bits in every variant):
 * element i is added to double lane i % 16 in increasing i (a short last
 * block adds +0.0 to its missing lanes), then the 16 lanes are folded
 * pairwise: lane[c] += lane[c + w] for w = 8, 4, 2, 1 and c < w; the result
 * is lane[0].
 */
#include <math.h>

#include "kernels.h"
#include "kern_gemm.h"
#include "vec_portable.h"

typedef int64_t pv_l __attribute__((vector_size(16)));

PV_INL pv_f pv_keep(pv_f v, size_t r) /* lanes >= r set to +0 */
{
    return pv_sel((pv_i){0, 1, 2, 3} < (int32_t)r, v, pv_zero());
}
PV_INL pv_d pv_dmax(pv_d a, pv_d b) /* maxpd: b unless a > b */
{
    pv_l m = a > b;
    return (pv_d)(((pv_l)a & m) | ((pv_l)b & ~m));
}
PV_INL void pv_dstoreu(double *p, pv_d v) { memcpy(p, &v, sizeof v); }

#define V pv_f
#define W 4
#define VD pv_d
#define DW 2
#define VLOADU(p) pv_loadu(p)
#define VSTOREU(p, v) pv_storeu((p), (v))
#define VLOADN(p, r, fill) pv_loadn((p), (r), (fill))
#define VSTOREN(p, v, r) pv_storen((p), (v), (r))
#define VKEEP(v, r) pv_keep((v), (r))
#define VSET1(f) pv_set1(f)
#define VZERO pv_zero()
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
#define VSQRT(a) pv_sqrt(a)
#define VMAX(a, b) pv_max((a), (b))
#define VABS(a) pv_abs(a)
#define VFMADD(a, b, c) ((a) * (b) + (c))
#define VCMPGT(a, b) ((a) > (b))
#define VCMPGE(a, b) ((a) >= (b))
#define VSEL(m, t, f) pv_sel((m), (t), (f))
#define VHMAX(v) pv_hmax(v)
#define VEXP(v) pv_exp(v)
#define VTANH(v) pv_tanh(v)
#define VLOG1P(v) pv_log1p(v)
#define VD_LO(v) pv_lo(v)
#define VD_HI(v) pv_hi(v)
#define VDZERO ((pv_d){0.0, 0.0})
#define VDADD(a, b) ((a) + (b))
#define VDMAX(a, b) pv_dmax((a), (b))
#define VDFNMADD(a, b, c) ((c) - (a) * (b))
#define VDSTOREU(p, v) pv_dstoreu((p), (v))
#define VDROP_KEEP(key, i, thr, scale) pv_drop_keep((key), (i), (thr), (scale))
#define KERN_NAME "portable"
#define KERN_FN tg_kern_portable
#define KERN_NR TG_GEMM_NR_PORTABLE
#define KERN_SGEMM tg_sgemm_portable
#define KERN_SGEMM_WS tg_sgemm_ws_portable

#include "elem_simd.inc"
