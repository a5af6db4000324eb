/* cli.h - small helpers shared by the tapegrad subcommands: option parsing
 * with full validation, error messages, atomic file output.
 *
 * Exit statuses: CLI_OK, CLI_FAIL (the command ran and failed: a gradient
 * check failed, a file could not be written), CLI_USAGE (bad command line). */
#ifndef TG_CLI_H
#define TG_CLI_H

#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* A subcommand: argv[0] is the command's name, argv[1..] its options. */
typedef struct cli_cmd {
    const char *name;
    const char *summary;                 /* one line for `tapegrad --help` */
    int (*run)(int argc, char **argv);   /* returns an exit status */
    void (*help)(FILE *out);             /* full usage of the command */
} cli_cmd;

/* "tapegrad: <message>\n" on stderr. */
void cli_err(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* For modules that report into a caller's buffer instead of printing:
 * format the message into err (if err and errlen) and return `code`. */
int cli_fail(char *err, size_t errlen, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* mkdir -p: create dir and its missing parents; 0, or -1 with a message
 * ("cannot create folder X: ...") in err. */
int cli_mkdirs(const char *dir, char *err, size_t errlen);

/* 1 for "-h" or "--help". */
int cli_is_help(const char *arg);

/* Match argv[*i] against option `name` ("--batch"), taking its value from
 * "--batch=N" or from the next argument. Returns 1 and sets *val (advancing
 * *i past a separate value) on a match, 0 if argv[*i] is another option, -1
 * (message printed) if the value is missing. `cmd` names the command in
 * messages. */
int cli_opt(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val);

/* Parse a whole decimal integer in [lo, hi]; 0 on success, -1 with a message
 * ("--batch: 'abc' is not an integer") otherwise. */
int cli_int(const char *cmd, const char *flag, const char *s, long lo, long hi, int *out);
/* Parse a whole finite number with lo < x <= hi; 0 on success, -1 with a
 * message otherwise. */
int cli_pos_double(const char *cmd, const char *flag, const char *s, double hi, double *out);

/* The same into a float that keeps the promise: 0 < x <= hi with x not
 * below FLT_MIN (smaller values are 0 or subnormal as floats, and the engine
 * flushes subnormals to zero). */
int cli_pos_float(const char *cmd, const char *flag, const char *s, double hi, float *out);
/* A whole number with 0 <= x < 1 into a float that stays below 1 (0.99999999
 * would round to 1). */
int cli_unit_float(const char *cmd, const char *flag, const char *s, float *out);

/* Report an unknown option or stray argument (message); returns CLI_USAGE. */
int cli_bad_arg(const char *cmd, const char *arg);

/* Write a file atomically: `write` fills a temporary file in the same
 * directory (path + ".tmp.XXXXXX"), which is flushed, synced and then renamed
 * over `path`; on any failure the temporary file is removed, `path` is
 * untouched, a message is printed and -1 returned. A process killed inside the
 * write leaves `path` as it was and the temporary file behind. For tests,
 * $TAPEGRAD_TEST_RENAME_PAUSE_MS (1..10000) waits that long before the rename. */
int cli_write_atomic(const char *path, int (*write)(FILE *out, void *ctx), void *ctx);
/* The same without printing: the message goes to err (errlen bytes). */
int cli_write_atomic_err(const char *path, int (*write)(FILE *out, void *ctx), void *ctx, char *err, size_t errlen);

#endif
