/* oplist.h - the one list of ops. Each X(UPPER, lower) line makes the enum
 * value TG_OP_UPPER and a table entry pointing at `tg_op_lower`, the
 * descriptor defined in the op's own file under ops/. Adding an op: one file,
 * one line here, one line in ops/meson.build, and its tests; an op with a
 * backward also needs a gradient-check case and a fault in fault.h that the
 * case catches (tests/test_gradcheck.c fails otherwise). */
#ifndef TG_OPLIST_H
#define TG_OPLIST_H

#define TG_OPS(X)                                  \
    X(INPUT, input)                                \
    X(PARAM, param)                                \
    X(DETACH, detach)                              \
    X(MATMUL, matmul)                              \
    X(BIAS_ADD, bias_add)                          \
    X(CONCAT, concat)                              \
    X(ADD, add)                                    \
    X(SUB, sub)                                    \
    X(MUL, mul)                                    \
    X(SCALE, scale)                                \
    X(RELU, relu)                                  \
    X(LEAKY_RELU, leaky_relu)                      \
    X(SIGMOID, sigmoid)                            \
    X(TANH, tanh)                                  \
    X(SOFTPLUS, softplus)                          \
    X(DROPOUT, dropout)                            \
    X(SUM, sum)                                    \
    X(MEAN, mean)                                  \
    X(BCE_LOGITS, bce_logits)                      \
    X(GEN_LOSS, gen_loss)                          \
    X(GEN_LOSS_SATURATING, gen_loss_saturating)    \
    X(SOFTMAX_XENT, softmax_xent)                  \
    X(CONV2D, conv2d)                              \
    X(CONV_TRANSPOSE2D, conv_transpose2d)          \
    X(RESHAPE, reshape)                            \
    X(BATCH_NORM, batch_norm)

typedef enum tg_op {
#define TG_OP_ENUM(U, l) TG_OP_##U,
    TG_OPS(TG_OP_ENUM)
#undef TG_OP_ENUM
    TG_OP_COUNT
} tg_op;

#endif
