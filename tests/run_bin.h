/* run_bin.h - run the `tapegrad` binary (path in $TAPEGRAD_BIN, set by
 * tests/meson.build) as a child process and capture its exit status,
 * standard output and standard error. Header-only, for the CLI suites. */
#ifndef TG_RUN_BIN_H
#define TG_RUN_BIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct result {
    int status;   /* exit status, or -1 if the child did not exit normally */
    char *out, *err;
} result;

static char *slurp(int fd)
{
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            s = realloc(s, cap);
            ck_assert_ptr_nonnull(s);
        }
        ssize_t r = read(fd, s + n, cap - n - 1);
        if (r <= 0) break;
        n += (size_t)r;
    }
    s[n] = 0;
    close(fd);
    return s;
}

/* Run argv[0] (a path, or a program on $PATH) with the NULL-terminated
 * argv, in folder cwd (NULL: this process's), with env's "VAR=value"
 * strings (NULL-terminated, may be NULL) added to its environment. */
static result run_argv(const char *const *argv, const char *cwd, const char *const *env)
{
    char po[] = "/tmp/tg_cli_outXXXXXX", pe[] = "/tmp/tg_cli_errXXXXXX";
    int fo = mkstemp(po), fe = mkstemp(pe);
    ck_assert(fo >= 0 && fe >= 0);
    unlink(po);
    unlink(pe);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        if (cwd && chdir(cwd) != 0) _exit(126);
        for (int i = 0; env && env[i]; i++) {
            char kv[128];
            snprintf(kv, sizeof kv, "%s", env[i]);
            char *eq = strchr(kv, '=');
            if (eq) {
                *eq = 0;
                setenv(kv, eq + 1, 1);
            }
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    ck_assert(waitpid(pid, &st, 0) == pid);
    result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(fo), slurp(fe)};
    return r;
}

/* Run TAPEGRAD_BIN with the NULL-terminated arguments, in folder cwd (NULL:
 * this process's). */
static result run_in(const char *cwd, const char *const *args)
{
    const char *bin = getenv("TAPEGRAD_BIN");
    ck_assert_msg(bin && *bin, "TAPEGRAD_BIN is not set");
    const char *argv[32];
    int argc = 0;
    argv[argc++] = bin;
    for (; args[argc - 1] && argc < 31; argc++) argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    return run_argv(argv, cwd, NULL);
}

static result run(const char *const *args) { return run_in(NULL, args); }

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})
/* the same in another folder */
#define RUN_IN(cwd, ...) run_in(cwd, (const char *const[]){__VA_ARGS__, NULL})

/* ---- a scratch folder per test case, and file helpers ---- */
static char tmpdir[64];

/* $TG_FIXTURES (set by tests/meson.build) */
static inline const char *fixtures(void)
{
    const char *f = getenv("TG_FIXTURES");
    ck_assert_msg(f && *f, "TG_FIXTURES is not set");
    return f;
}

/* make /tmp/<prefix>_XXXXXX into tmpdir */
static inline void tmp_make(const char *prefix)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/%s_XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static inline void tmp_remove(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* tmpdir/name (four rotating buffers, so a call can take several) */
static inline const char *path(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static inline int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* a whole file, malloc'ed, with *n its size */
static inline unsigned char *slurp_file(const char *p, size_t *n)
{
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f, "cannot open %s", p);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    ck_assert(fread(b, 1, *n, f) == *n);
    fclose(f);
    return b;
}

/* a whole text file, malloc'ed and NUL-terminated */
static inline char *slurp_text(const char *p)
{
    size_t n;
    unsigned char *b = slurp_file(p, &n);
    b = realloc(b, n + 1);
    ck_assert_ptr_nonnull(b);
    b[n] = 0;
    return (char *)b;
}

/* copy a file */
static inline void copy_file(const char *from, const char *to)
{
    size_t n;
    unsigned char *b = slurp_file(from, &n);
    FILE *f = fopen(to, "wb");
    ck_assert_msg(f, "cannot write %s", to);
    ck_assert(fwrite(b, 1, n, f) == n);
    ck_assert_int_eq(fclose(f), 0);
    free(b);
}

#endif
