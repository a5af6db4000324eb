/* cli.c - messages for the subcommands (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("tapegrad: ", stderr);
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
