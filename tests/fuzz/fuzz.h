/* fuzz.h - what the libFuzzer targets share: invariant checks that report
 * and abort (libFuzzer then saves the input as a crash), and a scratch file
 * for the readers that take a path.
 *
 * Each target calls fuzz_init() from LLVMFuzzerInitialize, which runs before
 * libFuzzer applies -close_fd_mask: the report goes to a copy of the original
 * standard error, so it shows even when the commands' own messages are
 * silenced. */
#ifndef TG_FUZZ_H
#define TG_FUZZ_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_report_fd = 2;
static char fuzz_scratch_names[2][256];
static int fuzz_scratch_fds[2] = {-1, -1};

static void fuzz_cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (fuzz_scratch_fds[i] >= 0) unlink(fuzz_scratch_names[i]);
}

static inline void fuzz_init(void)
{
    int fd = dup(2);
    if (fd >= 0) fuzz_report_fd = fd;
    atexit(fuzz_cleanup);
}

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 4, 5)))
#endif
static inline void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(fuzz_report_fd, "%s:%d: invariant failed: %s: %s\n", file, line, cond, msg);
    abort();
}

/* FUZZ_CHECK(cond, "printf format", ...): abort with a message unless cond. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);        \
    } while (0)

/* Scratch file k (0 or 1) holding exactly data[0..size): its path. Created
 * on first use in $TMPDIR (else /dev/shm, else /tmp), removed at exit. */
static inline const char *fuzz_scratch(int k, const void *data, size_t size)
{
    if (fuzz_scratch_fds[k] < 0) {
        const char *dir = getenv("TMPDIR");
        if (!dir || !*dir) dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_scratch_names[k], sizeof fuzz_scratch_names[k], "%s/tg-fuzz-%d-%d-XXXXXX", dir, (int)getpid(),
                 k);
        fuzz_scratch_fds[k] = mkstemp(fuzz_scratch_names[k]);
        FUZZ_CHECK(fuzz_scratch_fds[k] >= 0, "cannot create a scratch file in %s", dir);
    }
    int fd = fuzz_scratch_fds[k];
    FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate %s", fuzz_scratch_names[k]);
    const unsigned char *p = data;
    for (size_t done = 0; done < size;) {
        ssize_t w = pwrite(fd, p + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0, "write %s", fuzz_scratch_names[k]);
        done += (size_t)w;
    }
    return fuzz_scratch_names[k];
}

/* A tg_error's message: non-empty and NUL-terminated within its buffer. */
#define FUZZ_CHECK_MSG(err)                                                                        \
    FUZZ_CHECK((err).msg[0] != 0 && memchr((err).msg, 0, sizeof((err).msg)) != NULL, "error without a message")

#endif
