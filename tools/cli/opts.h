/* opts.h - the command line from a command's table of settings
 * (tools/train/settings.h): parsing and checking argv, and --help.
 *
 * Parsing: "--flag V" and "--flag=V" (a switch takes no value), values
 * converted and range-checked as the row's type says (once stored in the
 * type they live in), then the table's rules: required rows, the one
 * positional argument, rows that may come with --resume (SET_RESUME) when
 * --resume is given, and SET_EXCLUSIVE rows against the rows they
 * conflict with. A bad command line is reported on stderr as
 * "tapegrad: <command>: <what>" and the parse returns CLI_USAGE. */
#ifndef TG_OPTS_H
#define TG_OPTS_H

#include "settings.h"

#include <stdio.h>

/* Parse argv[1..argc) (argv[0] is the command) into dst, which holds the
 * defaults already; given[i] is set for each row given (SET_MAX_ROWS
 * entries, cleared first). Returns 0; CLI_USAGE after a message; or -1
 * after printing the help (-h, --help) with `defaults` (may be NULL: dst
 * as it was). */
int opts_parse(const set_table *t, int argc, char **argv, void *dst, unsigned char *given, const void *defaults);

/* The help: usage, what the command does, one entry per flag with its
 * range and default (from `defaults`, an options struct holding them; NULL
 * for the table's own), and the epilog. */
void opts_help(const set_table *t, const void *defaults, FILE *out);

/* "--a, --b and --c": the flags of the rows marked in which[] (NULL: all)
 * having all of `flags` */
void opts_list(const set_table *t, const unsigned char *which, unsigned flags, char *buf, size_t len);

#endif
