/* settings.h - configuration as data: one table of typed settings per
 * command, from which come its --help text, its command-line parsing and
 * checks (tools/cli/opts.c), and for train-gan the configuration its
 * checkpoints store and read back (checkpoint.c).
 *
 * A row is one setting: its flag, its checkpoint key, its type (how text
 * becomes the value and back, the range it must be in), where the value
 * lives (an offset into the command's options struct), its default, help
 * text, and what it may do (change on --resume, be required...). The same
 * conversion serves the command line and the checkpoint, so a value
 * train-gan accepts is one its checkpoints can hold, and the reverse.
 *
 * Errors: the conversions return TG_OK or TG_ERR_ARG with a message about
 * the value ("'abc' is not an integer", "0 is out of range (1..65536)");
 * callers name the flag or key in front of it. Nothing here prints. */
#ifndef TG_SETTINGS_H
#define TG_SETTINGS_H

#include "tg_error.h"

#include <stddef.h>
#include <stdint.h>

#define SET_MAX_ROWS 48   /* rows in one table */
#define SET_MAX_WIDTHS 16 /* values in a width list */

typedef struct set_row set_row;

/* How a type converts: text -> field (strict: with the range checks; a
 * default is converted without them), field -> text (0, or -1 if it does
 * not fit), and its range in words for --help ("1..65536"; may be NULL). */
typedef struct set_type {
    int takes_value; /* 0: a switch such as --quiet (stored as "0" or "1") */
    size_t size;     /* of the value (set_copy copies that many bytes) */
    int any_spelling; /* 1: a stored value may be spelled any way that converts to the same value (numbers
                         with a fraction: "2e-4"); 0: exactly as written ("64", not "064" or " 64") */
    tg_status (*parse)(const set_row *r, const char *text, void *field, int strict, tg_error *err);
    int (*format)(const set_row *r, const void *field, char *buf, size_t len);
    void (*range)(const set_row *r, char *buf, size_t len);
} set_type;

/* row flags */
enum {
    SET_RESUME = 1 << 0,       /* may be given with --resume (and then overrides the checkpoint's) */
    SET_IS_RESUME = 1 << 1,    /* this row is --resume: the others need SET_RESUME to go with it */
    SET_REQUIRED = 1 << 2,     /* must be given */
    SET_POSITIONAL = 1 << 3,   /* the first argument that is not an option (flag is its name in help) */
    SET_OPTIONAL_KEY = 1 << 4, /* a checkpoint may lack the key (older ones): the default then */
    SET_EXCLUSIVE = 1 << 5,    /* may not be given with a row sharing a bit of `conflicts` */
    SET_PRESET = 1 << 6,       /* the default comes from the model preset: help shows the reference's */
    SET_NEWER = 1 << 7,        /* a key older checkpoints store otherwise (their reader skips the row) */
};

struct set_row {
    const char *flag;      /* "--batch"; NULL: stored only, not on the command line */
    const char *alias;     /* a second spelling ("-o"), or NULL */
    const char *key;       /* checkpoint metadata key, or NULL: not stored */
    const set_type *type;
    size_t off;            /* the value: offsetof(options struct, member) */
    double lo, hi;         /* range (numbers, width-list values; text: hi = max length) */
    int max_n;             /* width lists: at most this many values */
    const void *aux;       /* choices: NULL-terminated names; width lists: the noun ("hidden layers") */
    const char *def;       /* default as text ("64"), or NULL: zero, or as the help says */
    const char *arg;       /* metavar in help: "N", "X", "DIR" */
    const char *help;      /* what it does; range and default are added */
    unsigned flags;        /* SET_* */
    unsigned conflicts;    /* for SET_EXCLUSIVE */
};

typedef struct set_table {
    const char *name;   /* the command */
    const char *usage;  /* the usage line(s), without the leading "usage: " */
    const char *about;  /* what the command does (help, before the options) */
    const set_row *rows;
    int n;
    const char *epilog; /* help after the options, or NULL */
} set_table;

/* ---- the types ---- */
extern const set_type set_int;        /* int, lo <= x <= hi */
extern const set_type set_u64;        /* uint64_t, lo <= x <= hi */
extern const set_type set_float;      /* float, lo <= x <= hi */
extern const set_type set_pos_float;  /* float, 0 < x <= hi and not below FLT_MIN (a smaller float is 0
                                          or subnormal, and the engine flushes subnormals to zero) */
extern const set_type set_unit_float; /* float, 0 <= x < 1 as a float (0.99999999 would round to 1) */
extern const set_type set_pos_double; /* double, 0 < x <= hi */
extern const set_type set_switch;     /* int 0 or 1; no value on the command line */
extern const set_type set_text;       /* const char * (not copied): not empty, at most hi bytes if hi > 0 */
extern const set_type set_choice;     /* int: the index of the value in aux's names */
extern const set_type set_widths;     /* set_width_list: "512,256,128" */

typedef struct set_width_list {
    int n;
    int w[SET_MAX_WIDTHS];
} set_width_list;

/* The one width-list parser: "512,256,128", whole numbers in lo..hi
 * separated by commas, 1..max_n of them (max_n <= SET_MAX_WIDTHS). The
 * messages say "'12,x' is not a list of whole numbers in 1..65536 separated
 * by commas" and "'1,2,3': at most 2 <noun>" (noun NULL: "widths"). */
tg_status set_parse_widths(const char *text, int max_n, int lo, int hi, const char *noun, int *w, int *n,
                           tg_error *err);
/* "512,256,128" (sep ','), "784-512-10" (sep '-'): 0, or -1 if it does not fit */
int set_format_widths(const int *w, int n, char sep, char *buf, size_t len);

/* ---- rows and tables ---- */
/* the row's value inside the options struct */
void *set_field(const set_row *r, void *opts);
const void *set_cfield(const set_row *r, const void *opts);
/* Every row's default into opts (rows without a default are left alone). */
void set_defaults(const set_table *t, void *opts);
/* The index of the row with this flag or key (NULL: not looked at), or -1. */
int set_find(const set_table *t, const char *flag, const char *key);
/* Copy the fields of the rows marked in which[] (and having all of `flags`)
 * from src into dst. */
void set_copy(const set_table *t, void *dst, const void *src, const unsigned char *which, unsigned flags);

/* ---- stored settings (checkpoint metadata) ---- */
/* Each keyed row's value as text, in table order: put(ctx, key, value). A
 * text row whose value is NULL, empty or not valid UTF-8 is left out (the
 * reader then sees no key). skip: rows with any of these flags are left out.
 * 0, or -1 if a value does not fit its buffer. */
int set_write_meta(const set_table *t, const void *opts, unsigned skip,
                   void (*put)(void *ctx, const char *key, const char *value), void *ctx);
/* Read each keyed row (skip: rows with any of these flags) with get(ctx,
 * key) (NULL: absent) as strictly as it was written: the value must convert
 * like a command-line value and (unless its type has any_spelling) be
 * spelled exactly as set_write_meta spells it, or be the row's default. A missing key is an error unless the row is
 * SET_OPTIONAL_KEY. Errors: "<what> metadata 'batch' = '64.5': '64.5' is not
 * an integer". */
tg_status set_read_meta(const set_table *t, void *opts, unsigned skip,
                        const char *(*get)(void *ctx, const char *key), void *ctx, const char *what,
                        tg_error *err);

#endif
