/* optab.c - the table of every op, built from the one list (oplist.h), for
 * tools that enumerate ops (gradient-check listings, fault injection). The
 * engine does not use it: a node points at its own descriptor. */
#include "ops.h"

const tg_opdesc *const tg_optab[TG_OP_COUNT] = {
#define TG_OP_ENTRY(U, l) [TG_OP_##U] = &tg_op_##l,
    TG_OPS(TG_OP_ENTRY)
#undef TG_OP_ENTRY
};
