/* st_internal.h - what the parts of the safetensors module share
 * (safetensors_common.c, _json.c, _read.c, _write.c); not for its users. */
#ifndef TG_ST_INTERNAL_H
#define TG_ST_INTERNAL_H

#include "safetensors.h"

#include <stddef.h>
#include <stdint.h>

/* ---- dtypes, byte order, sizes (safetensors_common.c) ---- */
typedef struct stx_dtype {
    const char *name;
    int bits;
} stx_dtype;
extern const stx_dtype stx_dtypes[ST_NDTYPES];

/* byte-swap unit for a big-endian host: C64 is two F32 parts */
size_t stx_swap_unit(st_dtype dt);
int stx_host_is_le(void);
void stx_swap_elems(unsigned char *p, size_t nbytes, size_t unit);
/* nbytes of numel elements of `bits` bits; -1 on overflow, -2 if not a
 * whole number of bytes */
int stx_shape_bytes(int bits, uint64_t numel, uint64_t *nbytes);

/* ---- messages ---- */
/* 'name', quoted, control bytes and quotes escaped, at most ~60 bytes */
const char *stx_qname(char *buf, size_t cap, const char *name);
/* "[100, 128]" from uint64 or int dims (at most 16 shown) */
const char *stx_fmt_shape(char *buf, size_t cap, int ndim, const uint64_t *du, const int *di);

/* ---- UTF-8 ---- */
/* length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid) */
size_t stx_utf8_seq(const unsigned char *s, size_t n);
int stx_utf8_valid(const char *str);

/* ---- the header's JSON (safetensors_json.c) ---- */
enum { J_OBJ, J_ARR, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL };

/* J_STR: n = length, v = offset of the decoded, NUL-terminated string in s.
 * J_OBJ / J_ARR: n = members / elements, v = index of the node after the
 * subtree (an object's children are key, value, key, value...).
 * J_NUM: v = magnitude, neg = 1 if negative (and non-zero). */
typedef struct jnode {
    uint8_t type, neg;
    uint32_t n;
    uint64_t v;
} jnode;

typedef struct jparser {
    char *s; /* the header, decoded in place */
    size_t len, pos;
    jnode *nodes;
    size_t nn, cap;
    tg_error *err;
    tg_status code;
} jparser;

/* Parse p->s[0..len) as one JSON value and nothing after it: 0, or -1 with
 * p->code and the message in p->err. */
int stx_json_parse(jparser *p);
/* the node after node i's subtree */
size_t stx_jnext(const jparser *p, size_t i);

#endif
