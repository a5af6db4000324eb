/* cli.c - messages for the subcommands (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

static int cli_rank;

void cli_set_rank(int rank) { cli_rank = rank; }

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tapegrad: ", stderr);
    if (cli_rank > 0) fprintf(stderr, "rank %d: ", cli_rank);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_report(const char *cmd, const tg_error *e)
{
    cli_err("%s: %s", cmd, e->msg[0] ? e->msg : tg_status_str(e->code));
    return CLI_FAIL;
}

int cli_is_help(const char *arg) { return arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help")); }
