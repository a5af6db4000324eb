/* tg_error.h - the one error convention of tapegrad: a status code, and
 * where a caller should see why, a message naming what failed.
 *
 * A leaf header (the C library only), included by tapegrad.h and installed
 * with it. It is the one engine header the tools' file-format floor
 * (tools/formats) sees: file readers and writers report through it without
 * knowing graphs, tensors or ops. */
#ifndef TG_ERROR_H
#define TG_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tg_status {
    TG_OK = 0,
    TG_ERR_SHAPE,     /* shapes do not fit the op */
    TG_ERR_ARG,       /* bad argument (NULL, out of range, bad name) */
    TG_ERR_NODE,      /* invalid node, or a node from another graph */
    TG_ERR_NOMEM,     /* allocation failed */
    TG_ERR_STATE,     /* call not valid now (unbound input, failed graph...) */
    TG_ERR_NONFINITE, /* a loss or value became NaN or Inf */
    TG_ERR_IO,        /* file could not be read or written */
    TG_ERR_FORMAT     /* file contents are invalid */
} tg_status;

const char *tg_status_str(tg_status s);

/* What failed and why. Run calls return a tg_status, and builders keep the
 * first error on the graph; constructors and checks that can fail for a
 * reason the caller should see take a tg_error * (may be NULL) and, when
 * they fail, fill it with the status and a message that names what failed,
 * e.g. "adam: group 'Q' has no parameters". */
typedef struct tg_error {
    tg_status code;
    char msg[256];
} tg_error;
/* Fill *e (if not NULL) and return code. */
tg_status tg_error_set(tg_error *e, tg_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
