/* seq_internal.h - what seq.c and seq_text.c share (not installed). */
#ifndef TG_SEQ_INTERNAL_H
#define TG_SEQ_INTERNAL_H

#include "tg_models.h"

/* a per-sample shape: (F) or (C, H, W) */
typedef struct seq_shape { int ndim, d[3]; } seq_shape;

seq_shape seq_input(const tg_seq_spec *s);
/* the shape after layers 0..upto, checking each; errors name the layer */
tg_status seq_walk(const tg_seq_spec *s, int upto, seq_shape *sh, tg_error *err);
/* the padding (top, bottom, left, right) conv layer l uses on a rows x cols input */
void seq_conv_pad(const tg_layer *l, int rows, int cols, int pad[4]);

#endif
