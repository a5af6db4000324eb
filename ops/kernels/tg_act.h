/* tg_act.h - the one activation enum and name table, shared by the kernels
 * (GEMM epilogues, element-wise kernels), the ops, the models and the CLI.
 * Installed with tapegrad.h. */
#ifndef TG_ACT_H
#define TG_ACT_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_act {
    TG_ACT_NONE = 0,   /* y = x */
    TG_ACT_RELU,       /* y = max(x, 0) */
    TG_ACT_LEAKY_RELU, /* y = x > 0 ? x : slope * x */
    TG_ACT_SIGMOID,    /* y = 1 / (1 + exp(-x)) */
    TG_ACT_TANH,       /* y = tanh(x) */
    TG_ACT_SOFTPLUS,   /* y = log(1 + exp(x)) = max(x,0) + log1p(exp(-|x|)) */
    TG_ACT_COUNT
} tg_act;

/* "none", "relu", "leaky_relu", "sigmoid", "tanh", "softplus"; "?" if out of range */
const char *tg_act_name(tg_act a);
/* The activation named s; 1 on success, 0 (out untouched) for an unknown name. */
int tg_act_parse(const char *s, tg_act *out);
/* The known names, comma-separated, for messages and help. */
const char *tg_act_names(void);

#ifdef __cplusplus
}
#endif
#endif
