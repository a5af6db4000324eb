/* ref.c - f64 reference element-wise functions (the oracle).
 *
 * Scalar double, written for obviousness rather than speed. Every formula is
 * stable for any finite x: exp() is only ever called on -|x| <= 0, so it never
 * overflows (it may underflow to 0, which is harmless).
 * tg_ref_gemm lives in ref_gemm.c.
 */
#include <math.h>

#include "kernels.h"

double tg_ref_softplus(double x)
{
    /* log(1 + e^x) = max(x,0) + log(1 + e^-|x|) */
    return fmax(x, 0.0) + log1p(exp(-fabs(x)));
}

double tg_ref_sigmoid(double x)
{
    /* e = e^-|x| in (0, 1]: x >= 0: 1/(1+e); x < 0: e^x/(1+e^x) = e/(1+e) */
    double e = exp(-fabs(x));
    return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

double tg_ref_bce(double x, double t)
{
    /* -[t log s(x) + (1-t) log(1-s(x))] = max(x,0) - x t + log1p(e^-|x|) */
    return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
}

double tg_ref_act(tg_act act, double slope, double x)
{
    switch (act) {
    case TG_ACT_NONE:     return x;
    case TG_ACT_RELU:     return x > 0.0 ? x : 0.0;
    case TG_ACT_LEAKY_RELU:    return x > 0.0 ? x : slope * x;
    case TG_ACT_SIGMOID:  return tg_ref_sigmoid(x);
    case TG_ACT_TANH:     return tanh(x);
    case TG_ACT_SOFTPLUS: return tg_ref_softplus(x);
    case TG_ACT_COUNT:    break;
    }
    return x;
}

double tg_ref_dact(tg_act act, double slope, double x, double y)
{
    switch (act) {
    case TG_ACT_NONE:     return 1.0;
    case TG_ACT_RELU:     return x > 0.0 ? 1.0 : 0.0;
    case TG_ACT_LEAKY_RELU:    return x > 0.0 ? 1.0 : slope;
    case TG_ACT_SIGMOID:  return y * (1.0 - y);          /* s' = s (1 - s) */
    case TG_ACT_TANH:     return 1.0 - y * y;            /* tanh' = 1 - tanh^2 */
    case TG_ACT_SOFTPLUS: return tg_ref_sigmoid(x);      /* softplus' = sigmoid */
    case TG_ACT_COUNT:    break;
    }
    return 1.0;
}
