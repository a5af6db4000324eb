/* fault.h - deliberately wrong backward formulas, to prove that gradient
 * checking catches a wrong derivative (test builds only).
 *
 * TG_FAULTS is the one list: X(OP, name, what) names a plausible bug in the
 * f64 backward of op TG_OP_OP (the path tg_gradcheck runs). The fault's code
 * sits in that op's own backward, guarded by TG_FAULT(node, OP, name):
 *
 *     double d = y * (1.0 - y);
 *     if (TG_FAULT(r->n, SIGMOID, drops_1_minus_y)) d = y;
 *
 * TG_FAULT is true only in a core compiled with TG_FAULT_INJECTION (a second
 * core built by tests/meson.build), for a node of that op, while that fault
 * is the active one (tg_fault_set). Everywhere else it is the constant 0, so
 * the normal build compiles no fault and pays nothing; the name is still
 * checked against the list. Where the f32 backward shares the faulty line
 * (add, sub, mul, scale, the reductions' factor, softmax_xent's class,
 * dropout's step) the fault acts there too.
 *
 * tests/test_gradcheck.c enumerates the list, requires at least one fault
 * for every op whose descriptor has a backward, and requires the
 * gradient-check registry (`tapegrad gradcheck --all`, tools/train/gc_cases.c) to
 * catch each one. A fault no case catches is a gap in the registry: add a
 * case that exercises the faulty branch. */
#ifndef TG_FAULT_H
#define TG_FAULT_H

#include "oplist.h"

#define TG_FAULTS(X)                                                                                       \
    X(MATMUL, da_form_swapped, "da by the other transpose form's formula (dy op(b)^T written transposed)")  \
    X(MATMUL, db_form_swapped, "db by the other transpose form's formula: dy^T op(a) for op(a)^T dy")       \
    X(BIAS_ADD, db_skips_row0, "db sums rows 1..B-1 (row loop starts at 1)")                                \
    X(BIAS_ADD, db_next_column, "db[j] reads dy's column j+1 (wrapping)")                                   \
    X(BIAS_ADD, dx_overwrites, "dx = dy instead of dx += dy when another consumer wrote dx first")          \
    X(BIAS_ADD, db_first_inner, "a channel bias's db[c] sums one element per (n, c) plane (H, W dropped)")    \
    X(CONCAT, db_offset_by_one, "b's gradient read from column Na-1+j of dy instead of Na+j")               \
    X(CONCAT, da_row_stride, "a's gradient read with a's row stride Na instead of y's Na+Nb")               \
    X(ADD, b_negated, "db -= dy (sub's sign)")                                                              \
    X(ADD, alias_once, "x+x: the second slot skipped when both inputs are one node")                       \
    X(SUB, b_sign_dropped, "db += dy instead of db -= dy")                                                  \
    X(SUB, sign_on_a, "the minus sign applied to a's gradient instead of b's")                              \
    X(MUL, own_factor, "da += dy a, db += dy b: each input's own value instead of the other's")            \
    X(MUL, b_for_both, "da += dy b, db += dy b: b used as the factor of both gradients")                    \
    X(SCALE, factor_dropped, "dx += dy: the factor s dropped")                                              \
    X(RELU, passes_negative, "the gradient passes where x < 0 too (mask ignored)")                          \
    X(RELU, mask_from_dy, "dx = max(dy, 0): relu applied to the gradient instead of masked by x > 0")       \
    X(LEAKY_RELU, slope_everywhere, "slope used for x > 0 too")                                             \
    X(LEAKY_RELU, one_for_negative, "1 instead of slope where x < 0")                                       \
    X(LEAKY_RELU, dx_overwrites, "dx = v instead of dx += v when another consumer wrote dx first")          \
    X(SIGMOID, drops_1_minus_y, "y (1 - y) -> y")                                                           \
    X(SIGMOID, x_for_y, "x (1 - x): the input where the formula wants the output")                         \
    X(TANH, drops_square, "1 - y^2 -> 1 - y")                                                               \
    X(TANH, x_for_y, "1 - x^2: the input where the formula wants the output")                              \
    X(SOFTPLUS, sigmoid_of_y, "sigmoid(y) instead of sigmoid(x)")                                           \
    X(SOFTPLUS, abs_sign_dropped, "d|x|/dx taken as 1 in the stable form: wrong only where x < 0")          \
    X(DROPOUT, mask_ignored, "dx = dy / (1-p) everywhere: the mask ignored")                                \
    X(DROPOUT, scale_dropped, "dx = mask dy: the 1/(1-p) dropped")                                          \
    X(DROPOUT, next_step_mask, "the mask recomputed at the next dropout step, not the forward's")           \
    X(DROPOUT, dx_overwrites, "dx = v instead of dx += v when another consumer wrote dx first")             \
    X(SUM, dy_ignored, "dx += 1: the upstream gradient dropped")                                            \
    X(SUM, mean_factor, "dx += dy / n: mean's factor")                                                      \
    X(MEAN, n_dropped, "dx += dy: the 1/n dropped")                                                         \
    X(MEAN, rows_not_numel, "dx += dy / rows: divided by the row count, not the element count")             \
    X(BCE_LOGITS, t_dropped, "dx: sigmoid(x) - t -> sigmoid(x)")                                            \
    X(BCE_LOGITS, dt_sign, "dt += x dy / n: the minus sign dropped")                                        \
    X(BCE_LOGITS, dt_ignores_dy, "dt += -x / n: the upstream gradient dropped from the target's gradient")  \
    X(BCE_LOGITS, abs_sign_dropped, "d|x|/dx taken as 1 in the stable form: wrong only where x < 0")        \
    X(GEN_LOSS, chain_sign_dropped, "d softplus(-x)/dx taken as sigmoid(-x): the chain rule's -1 dropped")  \
    X(GEN_LOSS, dy_ignored, "the upstream gradient dropped (as if the loss were the output)")               \
    X(GEN_LOSS_SATURATING, sign_dropped, "+sigmoid(x)/n: the minus of -mean softplus(x) dropped")           \
    X(GEN_LOSS_SATURATING, dy_ignored, "the upstream gradient dropped (as if the loss were the output)")    \
    X(SOFTMAX_XENT, hot_next_class, "the one-hot subtracted at class label+1 (mod C)")                      \
    X(SOFTMAX_XENT, row0_label, "row 0's label used for every row")                                         \
    X(SOFTMAX_XENT, dy_ignored, "the upstream gradient dropped (as if the loss were the output)")          \
    X(CONV2D, dx_no_dilation, "dx scattered to taps without the dilation (u instead of u dh)")               \
    X(CONV2D, dw_pad_swapped, "dw reads x with the top and left paddings swapped")                           \
    X(CONV2D, dx_overwrites, "dx = instead of += when another consumer wrote dx first")                      \
    X(CONV_TRANSPOSE2D, dx_drops_out_pad, "dx ignores dy's output_padding rows and columns")                 \
    X(CONV_TRANSPOSE2D, dw_stride_one, "dw reads dy at row i + u dh - pt: the row stride dropped")            \
    X(RESHAPE, dx_transposed, "dx read from dy as if the reshape transposed the last two axes")              \
    X(BATCH_NORM, mean_term_dropped, "training dx = gamma istd (dy - xhat mean(dy xhat)): mean(dy) dropped")  \
    X(BATCH_NORM, backward_unbiased, "training backward normalizes with the unbiased variance")              \
    X(BATCH_NORM, eval_batch_stats, "eval dx = gamma dy / sqrt(batch var + eps): not the running variance")  \
    X(BATCH_NORM, dgamma_drops_xhat, "dgamma = sum dy: xhat dropped")

typedef enum tg_fault_id {
#define TG_FAULT_ENUM(OP, name, what) TG_FAULT_##OP##_##name,
    TG_FAULTS(TG_FAULT_ENUM)
#undef TG_FAULT_ENUM
    TG_FAULT_COUNT
} tg_fault_id;

#ifdef TG_FAULT_INJECTION
/* The active fault (a tg_fault_id), or -1: none. One per process, test
 * builds only (ops/fault.c). */
extern int tg_fault_active;
#define TG_FAULT(n, OP, name) ((n)->op == tg_optab[TG_OP_##OP] && tg_fault_active == TG_FAULT_##OP##_##name)

typedef struct tg_fault {
    tg_op op;
    const char *name;  /* unique within the op */
    const char *what;  /* the wrong formula */
} tg_fault;

int tg_fault_count(void);
const tg_fault *tg_fault_at(int i); /* NULL if out of range */
/* Make fault i active (-1 or out of range: none). */
void tg_fault_set(int i);
#else
#define TG_FAULT(n, OP, name) ((void)(n), (void)TG_FAULT_##OP##_##name, 0)
#endif

#endif
