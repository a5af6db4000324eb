/* error.c - the status names and tg_error_set (tg_error.h). */
#include "tg_error.h"

#include <stdarg.h>
#include <stdio.h>

tg_status tg_error_set(tg_error *e, tg_status code, const char *fmt, ...)
{
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

const char *tg_status_str(tg_status s)
{
    switch (s) {
    case TG_OK: return "ok";
    case TG_ERR_SHAPE: return "shape mismatch";
    case TG_ERR_ARG: return "bad argument";
    case TG_ERR_NODE: return "invalid node";
    case TG_ERR_NOMEM: return "out of memory";
    case TG_ERR_STATE: return "invalid state";
    case TG_ERR_NONFINITE: return "non-finite value";
    case TG_ERR_IO: return "i/o error";
    case TG_ERR_FORMAT: return "bad file format";
    }
    return "unknown status";
}
