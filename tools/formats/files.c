/* files.c - atomic writes, mkdir -p, absolute paths, small files (files.h). */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

tg_status file_write_atomic(const char *path, int (*write)(FILE *out, void *ctx), void *ctx, tg_error *err)
{
    size_t n = path ? strlen(path) : 0;
    if (n == 0) return tg_error_set(err, TG_ERR_ARG, "output file name is empty");
    char *tmp = malloc(n + 16);
    if (!tmp) return tg_error_set(err, TG_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        tg_error_set(err, TG_ERR_IO, "cannot create a temporary file next to '%s': %s", path, strerror(errno));
        free(tmp);
        return TG_ERR_IO;
    }
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        tg_error_set(err, TG_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return TG_ERR_IO;
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
        tg_error_set(err, TG_ERR_IO, "cannot write '%s': %s", path, saved ? strerror(saved) : "write failed");
        unlink(tmp);
        free(tmp);
        return TG_ERR_IO;
    }
    free(tmp);
    return TG_OK;
}

tg_status file_mkdirs(const char *dir, tg_error *err)
{
    char p[4096];
    if (!dir || !*dir || strlen(dir) >= sizeof p) return tg_error_set(err, TG_ERR_ARG, "bad folder name");
    strcpy(p, dir);
    for (char *s = p + 1;; s++) {
        int end = !*s;
        if (*s == '/' || end) {
            *s = 0;
            struct stat sb;
            if (mkdir(p, 0777) != 0 && !(errno == EEXIST && stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)))
                return tg_error_set(err, TG_ERR_IO, "cannot create folder %s: %s", p,
                                    errno == EEXIST ? "a file is in the way" : strerror(errno));
            if (end) break;
            *s = '/';
        }
    }
    return TG_OK;
}

tg_status file_abs_path(const char *p, char *out, size_t len, tg_error *err)
{
    char cwd[4096];
    int n;
    if (p[0] == '/') n = snprintf(out, len, "%s", p);
    else if (!getcwd(cwd, sizeof cwd))
        return tg_error_set(err, TG_ERR_IO, "cannot tell the current folder (for %s): %s", p, strerror(errno));
    else {
        while (p[0] == '.' && p[1] == '/') p += 2;
        n = snprintf(out, len, "%s/%s", strcmp(cwd, "/") ? cwd : "", p);
    }
    if (n < 0 || (size_t)n >= len) return tg_error_set(err, TG_ERR_ARG, "the path of %s is too long", p);
    return TG_OK;
}

static tg_status read_whole(const char *path, size_t max, int text, char **out, size_t *n, tg_error *err);

tg_status file_read_text(const char *path, size_t max, char **out, size_t *n, tg_error *err)
{
    return read_whole(path, max, 1, out, n, err);
}

tg_status file_read_bytes(const char *path, size_t max, char **out, size_t *n, tg_error *err)
{
    return read_whole(path, max, 0, out, n, err);
}

static tg_status read_whole(const char *path, size_t max, int text, char **out, size_t *n, tg_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO's open must not wait for a writer */
    if (fd < 0) return tg_error_set(err, TG_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tg_error_set(err, TG_ERR_IO, "cannot read '%s': not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        return tg_error_set(err, TG_ERR_FORMAT, "'%s' is %lld bytes, more than the %zu allowed", path,
                            (long long)st.st_size, max);
    }
    size_t cap = (size_t)st.st_size, got = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return tg_error_set(err, TG_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    while (got < cap) {
        ssize_t k = read(fd, b + got, cap - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    int e = errno;
    close(fd);
    if (got < cap) {
        free(b);
        return tg_error_set(err, TG_ERR_IO, "cannot read '%s': %s", path, got ? "the file shrank" : strerror(e));
    }
    b[got] = 0;
    if (text && strlen(b) != got) {
        free(b);
        return tg_error_set(err, TG_ERR_FORMAT, "'%s' holds a NUL byte", path);
    }
    *out = b;
    if (n) *n = got;
    return TG_OK;
}
