/* dispatch.c - pick the kernel variant for this CPU at run time.
 *
 * The avx2 / avx512 tables exist only when meson builds the x86-64 variant
 * libraries (-DTG_HAVE_X86_VARIANTS=1), the neon table only when it builds
 * the AArch64 one (-DTG_HAVE_NEON_VARIANT=1); the others are NULL-returning
 * stubs, and "portable" is always available.
 *
 * x86: CPU support = the CPUID feature bits (__builtin_cpu_supports) AND the
 * OS saving the register state (XCR0 via xgetbv). libgcc's and compiler-rt's
 * __builtin_cpu_supports already clear AVX/AVX-512 features when XCR0 lacks
 * the state, but we check XCR0 here too so the choice does not depend on which
 * runtime library resolves __cpu_model. Under valgrind (which hides AVX-512)
 * this picks avx2.
 *
 * AArch64: AdvSIMD is architectural (every AArch64 CPU that runs Linux
 * userspace has it), but the kernel reports it too: HWCAP_ASIMD in
 * getauxval(AT_HWCAP), checked here so a CPU or emulator without it gets
 * the portable kernels. Other systems are assumed to have it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

#if defined(TG_HAVE_X86_VARIANTS) && (defined(__x86_64__) || defined(__i386__))
#define TG_X86 1
#include <cpuid.h>
#else
#define TG_X86 0
#endif

#if defined(TG_HAVE_NEON_VARIANT) && defined(__aarch64__)
#define TG_ARM 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#else
#define TG_ARM 0
#endif

#if !TG_ARM
const tg_kern *tg_kern_neon(void) { return NULL; }
#else
static int cpu_has_asimd(void)
{
#if defined(__linux__) && defined(HWCAP_ASIMD)
    return (getauxval(AT_HWCAP) & HWCAP_ASIMD) != 0;
#else
    return 1;
#endif
}
#endif

#if !TG_X86
const tg_kern *tg_kern_avx2(void) { return NULL; }
const tg_kern *tg_kern_avx512(void) { return NULL; }
#else

/* XCR0 state-component bits */
enum {
    XCR0_SSE = 1u << 1, XCR0_YMM = 1u << 2,
    XCR0_OPMASK = 1u << 5, XCR0_ZMM_HI256 = 1u << 6, XCR0_HI16_ZMM = 1u << 7,
};

static unsigned xcr0_low(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE))
        return 0; /* xgetbv would fault: the OS enables no extended state */
    unsigned lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
    (void)hi;
    return lo;
}

/* F16C from CPUID directly: clang 14's __builtin_cpu_supports rejects "f16c" */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}

/* the avx2 variant is built with -mavx2 -mfma -mf16c */
static int cpu_has_avx2(unsigned xcr0)
{
    const unsigned need = XCR0_SSE | XCR0_YMM;
    return (xcr0 & need) == need && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma") && cpu_has_f16c();
}

static int cpu_has_avx512(unsigned xcr0)
{
    const unsigned need = XCR0_SSE | XCR0_YMM | XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    return (xcr0 & need) == need && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq");
}
#endif

int tg_kern_available(const tg_kern **out)
{
    int n = 0;
#if TG_X86
    __builtin_cpu_init();
    unsigned xcr0 = xcr0_low();
    /* the avx512 variant is also built with -mavx2 -mfma */
    if (cpu_has_avx512(xcr0) && cpu_has_avx2(xcr0) && tg_kern_avx512())
        out[n++] = tg_kern_avx512();
    if (cpu_has_avx2(xcr0) && tg_kern_avx2())
        out[n++] = tg_kern_avx2();
#endif
#if TG_ARM
    if (cpu_has_asimd() && tg_kern_neon())
        out[n++] = tg_kern_neon();
#endif
    out[n++] = tg_kern_portable();
    return n;
}

/* Every variant tapegrad knows by name, whether or not this build has it or
 * the CPU runs it. */
static const struct {
    const char *name;
    const tg_kern *(*table)(void); /* NULL when this build lacks it */
} known[] = {
    {"avx512", tg_kern_avx512},
    {"avx2", tg_kern_avx2},
    {"neon", tg_kern_neon},
    {"portable", tg_kern_portable},
};

int tg_kern_request(const tg_kern **chosen, char *msg, size_t len)
{
    const tg_kern *av[3];
    int n = tg_kern_available(av);
    const char *want = getenv("TG_KERNEL");
    if (chosen) *chosen = av[0];
    if (msg && len) msg[0] = '\0';
    if (!want || !*want) return TG_KREQ_NONE;
    for (int i = 0; i < n; i++)
        if (strcmp(want, av[i]->name) == 0) {
            if (chosen) *chosen = av[i];
            return TG_KREQ_OK;
        }
    int is_known = 0, built = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(want, known[i].name)) {
            is_known = 1;
            built = known[i].table() != NULL;
        }
    if (msg && len) {
        char list[64] = "";
        for (int i = 0; i < n; i++) {
            strncat(list, av[i]->name, sizeof list - strlen(list) - 1);
            if (i + 1 < n) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        if (!is_known)
            snprintf(msg, len, "TG_KERNEL=%.32s: unknown kernel variant (known: avx512, avx2, neon, portable)", want);
        else if (!built)
            snprintf(msg, len, "TG_KERNEL=%s: this build has no %s kernels (available: %s)", want, want, list);
        else
            snprintf(msg, len, "TG_KERNEL=%s: this CPU cannot run the %s kernels (available: %s)", want, want, list);
    }
    return is_known ? TG_KREQ_UNAVAILABLE : TG_KREQ_UNKNOWN;
}

static const tg_kern *choose(void)
{
    const tg_kern *k;
    tg_kern_request(&k, NULL, 0);
    return k;
}

/* The one piece of global state: the cached choice. Racing first callers
 * compute the same answer, so a plain atomic publish is enough. */
static _Atomic(const tg_kern *) best_cache;

const tg_kern *tg_kern_best(void)
{
    const tg_kern *k = atomic_load_explicit(&best_cache, memory_order_acquire);
    if (!k) {
        k = choose();
        atomic_store_explicit(&best_cache, k, memory_order_release);
    }
    return k;
}
