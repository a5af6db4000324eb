/* cli.c - messages for the subcommands (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <string.h>

static int cli_rank;

void cli_set_rank(int rank) { cli_rank = rank; }

/* One line, written at once: under mpirun the ranks' stderr meet in one
 * stream, and a line written in pieces could be cut by another rank's. */
void cli_err(const char *fmt, ...)
{
    char line[4096];
    int n = cli_rank > 0 ? snprintf(line, sizeof line, "tapegrad: rank %d: ", cli_rank)
                         : snprintf(line, sizeof line, "tapegrad: ");
    va_list ap;
    va_start(ap, fmt);
    const int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : n + m < (int)sizeof line - 1 ? n + m : (int)sizeof line - 2; /* a longer message is cut */
    line[n] = '\n';
    fwrite(line, 1, (size_t)n + 1, stderr);
}

int cli_report(const char *cmd, const tg_error *e)
{
    cli_err("%s: %s", cmd, e->msg[0] ? e->msg : tg_status_str(e->code));
    return CLI_FAIL;
}

int cli_is_help(const char *arg) { return arg && (!strcmp(arg, "-h") || !strcmp(arg, "--help")); }
