/* ops.h - the ops (internal). Each op file under ops/ holds its builder
 * (shape checks, the public tg_* function), its descriptor (engine/op.h:
 * forward, backward, traits) and both precisions side by side: f64 through
 * the reference kernels, f32 through the dispatched kernel table. Builders
 * record attributes in a tg_attrs block given to tg_push and read them back
 * with tg_attr(); they never write node records. */
#ifndef TG_OPS_H
#define TG_OPS_H

#include "op.h"
#include "oplist.h"

#define TG_OP_DECL(U, l) extern const tg_opdesc tg_op_##l;
TG_OPS(TG_OP_DECL)
#undef TG_OP_DECL

/* Every op, indexed by its tg_op (ops/optab.c), for tools that list them. */
extern const tg_opdesc *const tg_optab[TG_OP_COUNT];

/* Deliberate backward faults, compiled only into the fault-injection test
 * core (fault.h). */
#include "fault.h"

#endif
