/* fault.c - the registry of deliberate backward faults (see fault.h). Built
 * only into the fault-injection core of tests/meson.build. */
#ifndef TG_FAULT_INJECTION
#error "fault.c belongs to the fault-injection test core only (-DTG_FAULT_INJECTION)"
#endif

#include "fault.h"

#include <stddef.h>

int tg_fault_active = -1;

static const tg_fault faults[TG_FAULT_COUNT] = {
#define TG_FAULT_ENTRY(OP, name, what) [TG_FAULT_##OP##_##name] = {TG_OP_##OP, #name, what},
    TG_FAULTS(TG_FAULT_ENTRY)
#undef TG_FAULT_ENTRY
};

int tg_fault_count(void) { return TG_FAULT_COUNT; }

const tg_fault *tg_fault_at(int i) { return i >= 0 && i < TG_FAULT_COUNT ? &faults[i] : NULL; }

void tg_fault_set(int i) { tg_fault_active = i >= 0 && i < TG_FAULT_COUNT ? i : -1; }
