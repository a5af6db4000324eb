/* cli.h - what the tapegrad commands share: exit statuses and messages.
 * tools/cli is the only floor that prints or exits; the floors below report
 * errors through tg_error, and a command prints them here as
 * "tapegrad: <command>: <message>".
 *
 * Exit statuses: CLI_OK, CLI_FAIL (the command ran and failed: a gradient
 * check failed, a file could not be written), CLI_USAGE (bad command line). */
#ifndef TG_CLI_H
#define TG_CLI_H

#include "tg_error.h"

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

/* "tapegrad: <message>\n" on stderr ("tapegrad: rank R: <message>" on a
 * rank R > 0, see cli_set_rank). */
void cli_err(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* A command running as rank `rank` of several processes (mpirun): its
 * messages read "tapegrad: rank <rank>: ..." unless rank is 0. */
void cli_set_rank(int rank);

/* "tapegrad: <cmd>: <e's message>" on stderr; returns CLI_FAIL. */
int cli_report(const char *cmd, const tg_error *e);

/* 1 for "-h" or "--help". */
int cli_is_help(const char *arg);

#endif
