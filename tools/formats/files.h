/* files.h - writing files so that a crash never leaves a damaged one, and
 * making folders.
 *
 * Part of tools/formats, the floor of file formats: it sees the C library,
 * zlib, libpng and tg_error.h, nothing of the engine, the models or the
 * commands. Functions that can fail return a tg_status and, given a
 * tg_error, say why in a message that names the file. Nothing here prints
 * or exits. */
#ifndef TG_FILES_H
#define TG_FILES_H

#include "tg_error.h"

#include <stddef.h>
#include <stdio.h>

/* Write a file atomically: `write` fills a temporary file in the same folder
 * (path + ".tmp.XXXXXX") and returns 0, or non-zero on failure; the file is
 * then flushed, synced and renamed over `path`. On any failure the temporary
 * file is removed, `path` is untouched and TG_ERR_IO (TG_ERR_ARG for an empty
 * name) is returned with "cannot write 'path': why". A process killed inside
 * the write leaves `path` as it was and the temporary file behind.
 * For tests, $TAPEGRAD_TEST_RENAME_PAUSE_MS (1..10000) waits that long before
 * the rename (tests/test_crash.c kills the process there). */
tg_status file_write_atomic(const char *path, int (*write)(FILE *out, void *ctx), void *ctx, tg_error *err);

/* mkdir -p: create dir and its missing parents ("cannot create folder X:
 * why"). */
tg_status file_mkdirs(const char *dir, tg_error *err);

/* p made absolute (the current folder + "/" + p unless it starts with "/",
 * leading "./" dropped) into out[len]; TG_ERR_ARG if it does not fit. */
tg_status file_abs_path(const char *p, char *out, size_t len, tg_error *err);

/* The whole of a regular file (at most max bytes) into a malloc'd,
 * NUL-terminated buffer (*n bytes, may be NULL). Refuses other kinds of
 * files (a FIFO or a device could block or never end). */
tg_status file_read_text(const char *path, size_t max, char **out, size_t *n, tg_error *err);
/* The same for any bytes (NUL bytes included; still NUL-terminated). */
tg_status file_read_bytes(const char *path, size_t max, char **out, size_t *n, tg_error *err);

#endif
