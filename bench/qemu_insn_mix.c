/* qemu_insn_mix.c - a qemu-user TCG plugin: the guest instructions a run
 * executes, by mnemonic. For the NEON variant without ARM hardware: how many
 * of an AArch64 run's instructions are the GEMM's FMLA by element, and what
 * surrounds them (docs/BENCHMARKS.md, "Kernel variants"). It counts
 * instructions, not cycles: qemu models no pipeline.
 *
 * Not part of the build (it is a plugin for the emulator, not tapegrad code).
 * Debian's qemu-user (7.2) accepts plugins but ships none, nor the plugin
 * header, so the few entry points used are declared here (plugin API
 * version 1):
 *   cc -O2 -shared -fPIC -o qemu_insn_mix.so bench/qemu_insn_mix.c
 *   TG_KERNEL=neon qemu-aarch64 -L / -plugin ./qemu_insn_mix.so -d plugin \
 *       build-aarch64/tools/tapegrad bench gan-step --threads 1 --steps 1 --repeats 1
 * Counters are plain inline adds: run one thread (--threads 1).
 * "fmla(elem)" is FMLA by element (the micro-kernel's), "fmla" by vector;
 * "ldr q", "ldp q", ... are vector loads and stores, apart from scalar ones. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*udata_cb)(qemu_plugin_id_t, void *);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, tb_trans_cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
char *qemu_plugin_insn_disas(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, udata_cb, void *);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

enum { NCLS = 512 };
typedef struct insn_class { char name[24]; uint64_t n; } insn_class;
static insn_class cls[NCLS]; /* the last one also takes any overflow */
static int ncls;

static uint64_t *counter(const char *dis)
{
    char m[24];
    size_t i = 0;
    while (dis[i] && dis[i] != ' ' && i < sizeof m - 1) { m[i] = dis[i]; i++; }
    m[i] = 0;
    /* FMLA by element vs by vector: the operand list ends in "]" */
    if (!strcmp(m, "fmla") && strchr(dis, '[')) strcpy(m, "fmla(elem)");
    /* vector loads and stores (q registers) apart from scalar ones */
    if ((m[0] == 'l' || m[0] == 's') && strlen(m) <= 4 && dis[i] == ' ') {
        const char *o = dis + i;
        while (*o == ' ' || *o == '\t') o++;
        if (*o == 'q') strcat(m, " q");
    }
    for (int c = 0; c < ncls; c++)
        if (!strcmp(cls[c].name, m)) return &cls[c].n;
    if (ncls == NCLS) return &cls[NCLS - 1].n;
    strcpy(cls[ncls].name, m);
    return &cls[ncls++].n;
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        char *d = qemu_plugin_insn_disas(insn);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, counter(d), 1);
        free(d);
    }
}

static int by_n(const void *a, const void *b)
{
    const uint64_t x = ((const insn_class *)a)->n, y = ((const insn_class *)b)->n;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void on_exit_(qemu_plugin_id_t id, void *u)
{
    (void)id; (void)u;
    uint64_t tot = 0;
    for (int c = 0; c < ncls; c++) tot += cls[c].n;
    qsort(cls, (size_t)ncls, sizeof cls[0], by_n);
    FILE *f = stderr;
    fprintf(f, "insn_mix: %llu instructions\n", (unsigned long long)tot);
    for (int c = 0; c < ncls && c < 40; c++)
        fprintf(f, "%-12s %14llu %6.2f%%\n", cls[c].name, (unsigned long long)cls[c].n, 100.0 * cls[c].n / tot);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                                               int argc, char **argv)
{
    (void)info; (void)argc; (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    qemu_plugin_register_atexit_cb(id, on_exit_, NULL);
    return 0;
}
