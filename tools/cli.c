/* cli.c - option parsing, messages and atomic writes for the subcommands. */
#include "cli.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tapegrad: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_is_help(const char *arg) { return arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help")); }

int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        cli_err("%s: option %s needs a value (see 'tapegrad %s --help')", cmd, name, cmd);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno == ERANGE || end == s) {
        cli_err("%s: %s: '%s' is not an integer", cmd, flag, s);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_err("%s: %s: %ld is out of range (%ld..%ld)", cmd, flag, v, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_pos_double(const char *cmd, const char *flag, const char *s, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || end == s || errno == ERANGE || !isfinite(v)) {
        cli_err("%s: %s: '%s' is not a finite number", cmd, flag, s);
        return -1;
    }
    if (!(v > 0 && v <= hi)) {
        cli_err("%s: %s: %g is out of range (0 < x <= %g)", cmd, flag, v, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_pos_float(const char *cmd, const char *flag, const char *s, double hi, float *out)
{
    double v;
    if (cli_pos_double(cmd, flag, s, hi, &v)) return -1;
    if (v < FLT_MIN) {
        cli_err("%s: %s: %g is too small (the smallest accepted is %g)", cmd, flag, v, (double)FLT_MIN);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_unit_float(const char *cmd, const char *flag, const char *s, float *out)
{
    char *end;
    double v = strtod(s, &end); /* an underflow is 0 here, an overflow is not finite */
    if (!*s || *end || end == s || !isfinite(v)) {
        cli_err("%s: %s: '%s' is not a finite number", cmd, flag, s);
        return -1;
    }
    if (!(v >= 0 && (float)v < 1)) {
        cli_err("%s: %s: %s is out of range (0 <= x < 1%s)", cmd, flag, s, v < 1 && v >= 0 ? ", as a float" : "");
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_bad_arg(const char *cmd, const char *arg)
{
    if (arg[0] == '-') cli_err("%s: unknown option '%s' (see 'tapegrad %s --help')", cmd, arg, cmd);
    else cli_err("%s: unexpected argument '%s' (see 'tapegrad %s --help')", cmd, arg, cmd);
    return CLI_USAGE;
}

/* A testing aid: with $TAPEGRAD_TEST_RENAME_PAUSE_MS set to 1..10000, every
 * atomic write holds its finished, synced temporary file that long before
 * the rename, so a test can kill the process inside a write and check what
 * such a crash leaves behind (tests/test_crash.c). Unset, nothing waits. */
static void test_rename_pause(void)
{
    const char *v = getenv("TAPEGRAD_TEST_RENAME_PAUSE_MS");
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms <= 0 || ms > 10000) return;
    struct timespec t = {(time_t)(ms / 1000), (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

int cli_write_atomic_err(const char *path, int (*write)(FILE *out, void *ctx), void *ctx, char *err, size_t errlen)
{
    size_t n = strlen(path);
    if (n == 0) {
        snprintf(err, errlen, "output file name is empty");
        return -1;
    }
    char *tmp = malloc(n + 16);
    if (!tmp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a temporary file next to '%s': %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    errno = 0;
    int ok = write(f, ctx) == 0;
    if (fflush(f) != 0 || ferror(f)) ok = 0;
    if (ok && fsync(fd) != 0) ok = 0; /* the data is on disk before the rename makes it visible */
    int saved = errno;
    if (fclose(f) != 0) ok = 0;
    if (ok) test_rename_pause();
    if (ok && rename(tmp, path) != 0) {
        saved = errno;
        ok = 0;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot write '%s': %s", path, saved ? strerror(saved) : "write failed");
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int cli_write_atomic(const char *path, int (*write)(FILE *out, void *ctx), void *ctx)
{
    char err[512];
    int rc = cli_write_atomic_err(path, write, ctx, err, sizeof err);
    if (rc) cli_err("%s", err);
    return rc;
}

int cli_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

int cli_mkdirs(const char *dir, char *err, size_t errlen)
{
    char p[4096];
    if (!dir || !*dir || strlen(dir) >= sizeof p) return cli_fail(err, errlen, -1, "bad folder name");
    strcpy(p, dir);
    for (char *s = p + 1;; s++) {
        int end = !*s;
        if (*s == '/' || end) {
            *s = 0;
            struct stat sb;
            if (mkdir(p, 0777) != 0 && !(errno == EEXIST && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)))
                return cli_fail(err, errlen, -1, "cannot create folder %s: %s", p,
                                errno == EEXIST ? "a file is in the way" : strerror(errno));
            if (end) break;
            *s = '/';
        }
    }
    return 0;
}
