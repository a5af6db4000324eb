/* safetensors.c - the safetensors checkpoint format: writer, strict reader.
 *
 * Reading is three steps over a private copy of the whole file:
 *   1. the 8-byte header length, checked against the limits and the file size;
 *   2. a small strict JSON parser (objects, arrays, strings, integers and the
 *      three literals; UTF-8 checked; depth limited; duplicate keys rejected)
 *      that decodes strings in place and builds a flat node array;
 *   3. validation of the node tree against the format: one entry per tensor
 *      with exactly dtype / shape / data_offsets, sizes that agree, and
 *      tensors that tile the data buffer exactly.
 * Names, metadata and data then point into the copy, which st_close frees. */
#include "safetensors.h"

#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- dtypes ---- */

static const struct {
    const char *name;
    int bits;
} dtypes[ST_NDTYPES] = {
    [ST_BOOL] = {"BOOL", 8},       [ST_F4] = {"F4", 4},
    [ST_F6_E2M3] = {"F6_E2M3", 6}, [ST_F6_E3M2] = {"F6_E3M2", 6},
    [ST_U8] = {"U8", 8},           [ST_I8] = {"I8", 8},
    [ST_F8_E5M2] = {"F8_E5M2", 8}, [ST_F8_E4M3] = {"F8_E4M3", 8},
    [ST_F8_E8M0] = {"F8_E8M0", 8}, [ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [ST_I16] = {"I16", 16},        [ST_U16] = {"U16", 16},
    [ST_F16] = {"F16", 16},        [ST_BF16] = {"BF16", 16},
    [ST_I32] = {"I32", 32},        [ST_U32] = {"U32", 32},
    [ST_F32] = {"F32", 32},        [ST_C64] = {"C64", 64},
    [ST_F64] = {"F64", 64},        [ST_I64] = {"I64", 64},
    [ST_U64] = {"U64", 64},
};

const char *st_dtype_name(st_dtype dt) { return (unsigned)dt < ST_NDTYPES ? dtypes[dt].name : "?"; }
int st_dtype_bits(st_dtype dt) { return (unsigned)dt < ST_NDTYPES ? dtypes[dt].bits : 0; }

/* Byte-swap unit for a big-endian host: C64 is two F32 parts. */
static size_t swap_unit(st_dtype dt) { return dt == ST_C64 ? 4 : (size_t)(dtypes[dt].bits / 8); }

static int host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static void swap_elems(unsigned char *p, size_t nbytes, size_t unit)
{
    if (unit < 2) return;
    for (size_t i = 0; i + unit <= nbytes; i += unit)
        for (size_t a = i, b = i + unit - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

/* numel and nbytes of a shape; -1 on overflow, -2 if not a whole number of bytes. */
static int shape_bytes(int bits, uint64_t numel, uint64_t *nbytes)
{
    if (numel > UINT64_MAX / (uint64_t)bits) return -1;
    uint64_t nbits = numel * (uint64_t)bits;
    if (nbits % 8) return -2;
    *nbytes = nbits / 8;
    return 0;
}

/* ---- messages ---- */

/* A bounded string builder for names and shapes in messages: it truncates. */
typedef struct sb {
    char *b;
    size_t cap, n;
} sb;

static void sb_putc(sb *s, char c)
{
    if (s->n + 1 < s->cap) s->b[s->n++] = c;
    s->b[s->n] = 0;
}
static void sb_puts(sb *s, const char *t)
{
    while (*t) sb_putc(s, *t++);
}
static void sb_u64(sb *s, uint64_t v)
{
    char d[24];
    int k = 0;
    do d[k++] = (char)('0' + v % 10);
    while ((v /= 10) && k < 24);
    while (k) sb_putc(s, d[--k]);
}

/* 'name', quoted, control bytes and quotes escaped, at most ~60 bytes. */
static const char *qname(char *buf, size_t cap, const char *name)
{
    static const char hex[] = "0123456789abcdef";
    sb s = {buf, cap, 0};
    buf[0] = 0;
    sb_putc(&s, '\'');
    size_t i = 0;
    for (; name[i] && i < 60; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
            sb_putc(&s, '\\');
            if (c == '\n') sb_putc(&s, 'n');
            else if (c == '\'' || c == '\\') sb_putc(&s, (char)c);
            else {
                sb_putc(&s, 'x');
                sb_putc(&s, hex[c >> 4]);
                sb_putc(&s, hex[c & 15]);
            }
        } else sb_putc(&s, (char)c);
    }
    if (name[i]) sb_puts(&s, "...");
    sb_putc(&s, '\'');
    return buf;
}

/* "[100, 128]" from uint64 or int dims (at most 16 shown). */
static const char *fmt_shape(char *buf, size_t cap, int ndim, const uint64_t *du, const int *di)
{
    sb s = {buf, cap, 0};
    buf[0] = 0;
    sb_putc(&s, '[');
    for (int i = 0; i < ndim; i++) {
        if (i) sb_puts(&s, ", ");
        if (i == 16) {
            sb_puts(&s, "...");
            break;
        }
        if (du) sb_u64(&s, du[i]);
        else if (di[i] < 0) {
            sb_putc(&s, '-');
            sb_u64(&s, (uint64_t)(-(int64_t)di[i]));
        } else sb_u64(&s, (uint64_t)di[i]);
    }
    sb_putc(&s, ']');
    return buf;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

static int utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int st_utf8_valid(const char *s) { return utf8_valid(s); }

/* ---- JSON parser ---- */

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
    char *err;
    size_t errlen;
    int code;
} jparser;

static int jfail(jparser *p, const char *what)
{
    p->code = cli_fail(p->err, p->errlen, ST_ERR_FORMAT,
                   "safetensors: header is not valid JSON: %s at header byte %zu", what, p->pos);
    return -1;
}

static size_t jnext(const jparser *p, size_t i)
{
    const jnode *nd = &p->nodes[i];
    return nd->type == J_OBJ || nd->type == J_ARR ? (size_t)nd->v : i + 1;
}

static long jnew(jparser *p, int type)
{
    if (p->nn == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        jnode *nd = realloc(p->nodes, cap * sizeof *nd);
        if (!nd) {
            p->code = cli_fail(p->err, p->errlen, ST_ERR_NOMEM, "safetensors: out of memory parsing the header");
            return -1;
        }
        p->nodes = nd;
        p->cap = cap;
    }
    p->nodes[p->nn] = (jnode){(uint8_t)type, 0, 0, 0};
    return (long)p->nn++;
}

static void jws(jparser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* A string at p->pos (the opening quote), decoded in place. */
static int jstring(jparser *p)
{
    long id = jnew(p, J_STR);
    if (id < 0) return -1;
    size_t start = p->pos, w = start;
    p->pos++;
    for (;;) {
        if (p->pos >= p->len) return jfail(p, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') break;
        if (c < 0x20) return jfail(p, "control character in a string");
        if (c == '\\') {
            if (p->pos + 1 >= p->len) return jfail(p, "unterminated string");
            char e = p->s[p->pos + 1], d;
            switch (e) {
            case '"': case '\\': case '/': d = e; break;
            case 'b': d = '\b'; break;
            case 'f': d = '\f'; break;
            case 'n': d = '\n'; break;
            case 'r': d = '\r'; break;
            case 't': d = '\t'; break;
            case 'u': d = 0; break;
            default: return jfail(p, "invalid escape in a string");
            }
            if (d) {
                p->s[w++] = d;
                p->pos += 2;
                continue;
            }
            unsigned cp, lo;
            if (p->len - p->pos < 6 || hex4(p->s + p->pos + 2, &cp))
                return jfail(p, "invalid \\u escape");
            p->pos += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return jfail(p, "lone low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return jfail(p, "lone high surrogate in a \\u escape");
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return jfail(p, "\\u0000 in a string");
            /* UTF-8 is never longer than the 6 or 12 escape bytes just read. */
            if (cp < 0x80) p->s[w++] = (char)cp;
            else if (cp < 0x800) {
                p->s[w++] = (char)(0xC0 | (cp >> 6));
                p->s[w++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                p->s[w++] = (char)(0xE0 | (cp >> 12));
                p->s[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                p->s[w++] = (char)(0x80 | (cp & 0x3F));
            } else {
                p->s[w++] = (char)(0xF0 | (cp >> 18));
                p->s[w++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                p->s[w++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                p->s[w++] = (char)(0x80 | (cp & 0x3F));
            }
            continue;
        }
        size_t k = utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
        if (!k) return jfail(p, "invalid UTF-8 in a string");
        memmove(p->s + w, p->s + p->pos, k);
        w += k;
        p->pos += k;
    }
    /* w <= the closing quote's position: the terminator fits before it. */
    p->s[w] = 0;
    p->pos++;
    p->nodes[id].n = (uint32_t)(w - start);
    p->nodes[id].v = start;
    return 0;
}

static int jnumber(jparser *p)
{
    long id = jnew(p, J_NUM);
    if (id < 0) return -1;
    int neg = 0;
    if (p->s[p->pos] == '-') {
        neg = 1;
        p->pos++;
    }
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') return jfail(p, "invalid number");
    uint64_t v = 0;
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            return jfail(p, "number with a leading zero");
    } else
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
            unsigned d = (unsigned)(p->s[p->pos] - '0');
            if (v > (UINT64_MAX - d) / 10) return jfail(p, "integer too large (over 2^64 - 1)");
            v = v * 10 + d;
            p->pos++;
        }
    if (p->pos < p->len && (p->s[p->pos] == '.' || p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
        return jfail(p, "number that is not an integer");
    p->nodes[id].v = v;
    p->nodes[id].neg = (uint8_t)(neg && v);
    return 0;
}

typedef struct jkey {
    const char *s;
    uint32_t n;
} jkey;

static int jkey_cmp(const void *a, const void *b)
{
    const jkey *x = a, *y = b;
    uint32_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Reject an object (node id, members already parsed) with a repeated key. */
static int jdup(jparser *p, size_t id)
{
    uint32_t n = p->nodes[id].n;
    if (n < 2) return 0;
    jkey small[16], *k = n <= 16 ? small : malloc(n * sizeof *k);
    if (!k) {
        p->code = cli_fail(p->err, p->errlen, ST_ERR_NOMEM, "safetensors: out of memory parsing the header");
        return -1;
    }
    size_t i = id + 1;
    for (uint32_t m = 0; m < n; m++) {
        k[m] = (jkey){p->s + p->nodes[i].v, p->nodes[i].n};
        i = jnext(p, i + 1);
    }
    qsort(k, n, sizeof *k, jkey_cmp);
    for (uint32_t m = 1; m < n; m++)
        if (!jkey_cmp(&k[m - 1], &k[m])) {
            char nm[100];
            p->code = cli_fail(p->err, p->errlen, ST_ERR_FORMAT, "safetensors: header has a duplicate key %s",
                           qname(nm, sizeof nm, k[m].s));
            if (k != small) free(k);
            return -1;
        }
    if (k != small) free(k);
    return 0;
}

static int jvalue(jparser *p, int depth)
{
    jws(p);
    if (p->pos >= p->len) return jfail(p, "unexpected end");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        if (depth > ST_MAX_DEPTH) return jfail(p, "nesting deeper than 64 levels");
        int obj = c == '{';
        char close = obj ? '}' : ']';
        long id = jnew(p, obj ? J_OBJ : J_ARR);
        if (id < 0) return -1;
        uint32_t n = 0;
        p->pos++;
        jws(p);
        if (p->pos < p->len && p->s[p->pos] == close) p->pos++;
        else
            for (;;) {
                if (obj) {
                    jws(p);
                    if (p->pos >= p->len || p->s[p->pos] != '"') return jfail(p, "expected a string key");
                    if (jstring(p)) return -1;
                    jws(p);
                    if (p->pos >= p->len || p->s[p->pos] != ':') return jfail(p, "expected ':'");
                    p->pos++;
                }
                if (jvalue(p, depth + 1)) return -1;
                if (n == UINT32_MAX) return jfail(p, "too many members");
                n++;
                jws(p);
                if (p->pos >= p->len) return jfail(p, "unexpected end");
                if (p->s[p->pos] == ',') {
                    p->pos++;
                    continue;
                }
                if (p->s[p->pos] == close) {
                    p->pos++;
                    break;
                }
                return jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        p->nodes[id].n = n;
        p->nodes[id].v = p->nn;
        return obj ? jdup(p, (size_t)id) : 0;
    }
    if (c == '"') return jstring(p);
    if (c == '-' || (c >= '0' && c <= '9')) return jnumber(p);
    static const struct {
        const char *w;
        int type;
    } lits[] = {{"true", J_TRUE}, {"false", J_FALSE}, {"null", J_NULL}};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(lits[i].w);
        if (p->len - p->pos >= k && !memcmp(p->s + p->pos, lits[i].w, k)) {
            p->pos += k;
            return jnew(p, lits[i].type) < 0 ? -1 : 0;
        }
    }
    return jfail(p, "unexpected character");
}

/* ---- reading ---- */

struct st_file {
    unsigned char *buf; /* the whole file; the header is decoded in place */
    size_t len;
    st_entry *e;        /* sorted by name */
    size_t ne;
    uint64_t *dims;     /* every entry's dims */
    st_kv *meta;        /* sorted by key */
    size_t nmeta;
};

void st_close(st_file *f)
{
    if (!f) return;
    free(f->buf);
    free(f->e);
    free(f->dims);
    free(f->meta);
    free(f);
}

static int entry_name_cmp(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}
static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const st_kv *)a)->key, ((const st_kv *)b)->key);
}
static int entry_off_cmp(const void *a, const void *b)
{
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Check the 8-byte header length n of a file of total bytes. */
static int check_header_len(uint64_t n, uint64_t total, char *err, size_t errlen)
{
    if (n > ST_MAX_HEADER)
        return cli_fail(err, errlen, ST_ERR_LIMIT,
                    "safetensors: header length %" PRIu64 " exceeds the limit of %llu bytes", n, ST_MAX_HEADER);
    if (n == 0) return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: header length is 0");
    if (n > total - 8)
        return cli_fail(err, errlen, ST_ERR_FORMAT,
                    "safetensors: header length %" PRIu64 " but only %" PRIu64 " bytes follow it", n, total - 8);
    return ST_OK;
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* The length of the "shape" array of the tensor whose value is node vi (0
 * if there is none): to size the dims pool. */
static size_t shape_len(const jparser *p, size_t vi)
{
    const jnode *nd = p->nodes;
    if (nd[vi].type != J_OBJ) return 0;
    size_t n = 0;
    for (size_t k = vi + 1, m = 0; m < nd[vi].n; m++, k = jnext(p, k + 1))
        if (!strcmp(p->s + nd[k].v, "shape") && nd[k + 1].type == J_ARR) n += nd[k + 1].n;
    return n;
}

/* Fill entry e (name already set) from the tensor's value node vi; its dims
 * go to f->dims at *ndims. */
static int read_entry(const jparser *p, size_t vi, st_entry *e, st_file *f, size_t *ndims, uint64_t buflen,
                      char *err, size_t errlen)
{
    char nm[100], sh[200], fld[100];
    qname(nm, sizeof nm, e->name);
    const jnode *nd = p->nodes;
    if (nd[vi].type != J_OBJ)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s is not an object", nm);
    size_t idt = 0, ish = 0, iof = 0; /* value nodes; 0 = absent (node 0 is the root) */
    size_t k = vi + 1;
    for (uint32_t m = 0; m < nd[vi].n; m++) {
        const char *key = p->s + nd[k].v;
        size_t *slot = !strcmp(key, "dtype") ? &idt : !strcmp(key, "shape") ? &ish
                     : !strcmp(key, "data_offsets") ? &iof : NULL;
        if (!slot)
            return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s has an unknown field %s", nm,
                        qname(fld, sizeof fld, key));
        *slot = k + 1;
        k = jnext(p, k + 1);
    }
    if (!idt || !ish || !iof)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s has no \"%s\"", nm,
                    !idt ? "dtype" : !ish ? "shape" : "data_offsets");
    /* dtype */
    if (nd[idt].type != J_STR)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s: dtype is not a string", nm);
    const char *dts = p->s + nd[idt].v;
    int dt = -1;
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(dts, dtypes[i].name)) dt = i;
    if (dt < 0)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s has an unknown dtype %s", nm,
                    qname(fld, sizeof fld, dts));
    e->dtype = (st_dtype)dt;
    /* shape */
    if (nd[ish].type != J_ARR)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s: shape is not an array", nm);
    e->ndim = (int)nd[ish].n;
    uint64_t numel = 1;
    int overflow = 0;
    for (uint32_t i = 0; i < nd[ish].n; i++) {
        const jnode *d = &nd[ish + 1 + i];
        if (d->type != J_NUM || d->neg)
            return cli_fail(err, errlen, ST_ERR_FORMAT,
                        "safetensors: tensor %s: shape must be an array of non-negative integers", nm);
        f->dims[*ndims + i] = d->v;
        if (d->v && numel > UINT64_MAX / d->v) overflow = 1;
        numel *= d->v;
    }
    const uint64_t *dims = e->dims = f->dims + *ndims;
    *ndims += nd[ish].n;
    uint64_t need = 0;
    int r = overflow ? -1 : shape_bytes(dtypes[dt].bits, numel, &need);
    if (r == -1 || (r == 0 && need > SIZE_MAX))
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s: %s %s overflows", nm, dtypes[dt].name,
                    fmt_shape(sh, sizeof sh, e->ndim, dims, NULL));
    if (r == -2)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: tensor %s: %s %s is not a whole number of bytes",
                    nm, dtypes[dt].name, fmt_shape(sh, sizeof sh, e->ndim, dims, NULL));
    e->numel = numel;
    /* data_offsets */
    const jnode *o = &nd[iof];
    if (o->type != J_ARR || o->n != 2 || o[1].type != J_NUM || o[1].neg || o[2].type != J_NUM || o[2].neg)
        return cli_fail(err, errlen, ST_ERR_FORMAT,
                    "safetensors: tensor %s: data_offsets must be two non-negative integers [begin, end]", nm);
    uint64_t b = o[1].v, en = o[2].v;
    if (en < b)
        return cli_fail(err, errlen, ST_ERR_FORMAT,
                    "safetensors: tensor %s data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin", nm, b,
                    en);
    if (en - b != need)
        return cli_fail(err, errlen, ST_ERR_FORMAT,
                    "safetensors: tensor %s data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                    " bytes but %s %s needs %" PRIu64,
                    nm, b, en, en - b, dtypes[dt].name, fmt_shape(sh, sizeof sh, e->ndim, dims, NULL), need);
    if (en > buflen)
        return cli_fail(err, errlen, ST_ERR_FORMAT,
                    "safetensors: tensor %s data_offsets [%" PRIu64 ", %" PRIu64
                    "] lie outside the %" PRIu64 "-byte data buffer",
                    nm, b, en, buflen);
    e->begin = b;
    e->end = en;
    e->nbytes = (size_t)need;
    return ST_OK;
}

/* The tensors must tile [0, buflen) exactly. */
static int check_coverage(st_file *f, uint64_t buflen, char *err, size_t errlen)
{
    if (!f->ne) {
        if (buflen)
            return cli_fail(err, errlen, ST_ERR_FORMAT,
                        "safetensors: %" PRIu64 " trailing bytes after the header but no tensor", buflen);
        return ST_OK;
    }
    const st_entry **by = malloc(f->ne * sizeof *by);
    if (!by) return cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < f->ne; i++) by[i] = &f->e[i];
    qsort(by, f->ne, sizeof *by, entry_off_cmp);
    uint64_t cur = 0;
    const st_entry *last = NULL; /* the tensor that ends at cur */
    int rc = ST_OK;
    char n1[100], n2[100];
    for (size_t i = 0; i < f->ne && rc == ST_OK; i++) {
        const st_entry *e = by[i];
        if (e->begin < cur)
            rc = cli_fail(err, errlen, ST_ERR_FORMAT,
                      "safetensors: tensors %s [%" PRIu64 ", %" PRIu64 "] and %s [%" PRIu64 ", %" PRIu64 "] overlap",
                      qname(n1, sizeof n1, last->name), last->begin, last->end, qname(n2, sizeof n2, e->name),
                      e->begin, e->end);
        else if (e->begin > cur)
            rc = cli_fail(err, errlen, ST_ERR_FORMAT,
                      "safetensors: hole in the data buffer: bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor",
                      cur, e->begin);
        else if (e->end > cur || !last) {
            cur = e->end;
            last = e;
        }
    }
    if (rc == ST_OK && cur != buflen)
        rc = cli_fail(err, errlen, ST_ERR_FORMAT,
                  "safetensors: %" PRIu64 " trailing bytes after the last tensor (the tensors cover %" PRIu64
                  " of %" PRIu64 " data bytes)",
                  buflen - cur, cur, buflen);
    free(by);
    return rc;
}

/* Validate the parsed header p against the format; fill f. */
static int read_header(st_file *f, const jparser *p, uint64_t buflen, char *err, size_t errlen)
{
    const jnode *nd = p->nodes;
    /* Count tensors and dims. */
    size_t ntens = 0, ndims = 0, imeta = 0;
    for (size_t k = 1, m = 0; m < nd[0].n; m++, k = jnext(p, k + 1)) {
        if (!strcmp(p->s + nd[k].v, "__metadata__")) imeta = k + 1;
        else {
            ntens++;
            ndims += shape_len(p, k + 1);
        }
    }
    f->e = calloc(ntens ? ntens : 1, sizeof *f->e);
    f->dims = malloc((ndims ? ndims : 1) * sizeof *f->dims);
    if (!f->e || !f->dims) return cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory");
    if (imeta) {
        if (nd[imeta].type != J_OBJ)
            return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: __metadata__ is not an object");
        f->meta = malloc((nd[imeta].n ? nd[imeta].n : 1) * sizeof *f->meta);
        if (!f->meta) return cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory");
        for (size_t k = imeta + 1, m = 0; m < nd[imeta].n; m++, k = jnext(p, k + 1)) {
            if (nd[k + 1].type != J_STR) {
                char nm[100];
                return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: __metadata__ value of %s is not a string",
                            qname(nm, sizeof nm, p->s + nd[k].v));
            }
            f->meta[f->nmeta++] = (st_kv){p->s + nd[k].v, p->s + nd[k + 1].v};
        }
        qsort(f->meta, f->nmeta, sizeof *f->meta, kv_cmp);
    }
    size_t used = 0;
    for (size_t k = 1, m = 0; m < nd[0].n; m++, k = jnext(p, k + 1)) {
        if (k + 1 == imeta) continue;
        st_entry *e = &f->e[f->ne++];
        e->name = p->s + nd[k].v;
        int rc = read_entry(p, k + 1, e, f, &used, buflen, err, errlen);
        if (rc) return rc;
        e->data = f->buf + (f->len - buflen) + e->begin;
    }
    qsort(f->e, f->ne, sizeof *f->e, entry_name_cmp);
    return check_coverage(f, buflen, err, errlen);
}

/* Parse and validate f->buf (f->len bytes). */
static int parse_file(st_file *f, char *err, size_t errlen)
{
    if (f->len < 8)
        return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: file is %zu bytes, too short for the 8-byte header length",
                    f->len);
    uint64_t n = le64(f->buf);
    int rc = check_header_len(n, f->len, err, errlen);
    if (rc) return rc;
    if (f->buf[8] != '{') return cli_fail(err, errlen, ST_ERR_FORMAT, "safetensors: header does not start with '{'");
    jparser p = {(char *)f->buf + 8, (size_t)n, 0, NULL, 0, 0, err, errlen, ST_OK};
    if (jvalue(&p, 1) == 0) {
        jws(&p);
        if (p.pos != p.len) jfail(&p, "unexpected data after the object");
    }
    rc = p.code ? p.code : read_header(f, &p, f->len - 8 - n, err, errlen);
    free(p.nodes);
    return rc;
}

static int open_owned(unsigned char *buf, size_t len, st_file **out, char *err, size_t errlen)
{
    st_file *f = calloc(1, sizeof *f);
    if (!f) {
        free(buf);
        return cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory");
    }
    f->buf = buf;
    f->len = len;
    int rc = parse_file(f, err, errlen);
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return ST_OK;
}

int st_open_mem(const void *buf, size_t len, st_file **out, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!out || (!buf && len)) return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: st_open_mem: bad arguments");
    if ((uint64_t)len > ST_MAX_FILE)
        return cli_fail(err, errlen, ST_ERR_LIMIT, "safetensors: %zu bytes is over the 4 GiB limit", len);
    unsigned char *copy = malloc(len ? len : 1);
    if (!copy) return cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory");
    if (len) memcpy(copy, buf, len);
    return open_owned(copy, len, out, err, errlen);
}

static int read_all(FILE *fp, unsigned char *b, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t r = fread(b + got, 1, n - got, fp);
        if (r == 0) return -1;
        got += r;
    }
    return 0;
}

int st_open(const char *path, st_file **out, char *err, size_t errlen)
{
    if (out) *out = NULL;
    if (!path || !out) return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: st_open: bad arguments");
    char nm[100];
    qname(nm, sizeof nm, path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return cli_fail(err, errlen, ST_ERR_IO, "safetensors: cannot open %s: %s", nm, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return cli_fail(err, errlen, ST_ERR_IO, "safetensors: cannot read %s: %s", nm, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return cli_fail(err, errlen, ST_ERR_IO, "safetensors: %s is not a regular file", nm);
    }
    uint64_t size = (uint64_t)st.st_size;
    if (st.st_size < 0 || size > ST_MAX_FILE || size > SIZE_MAX) {
        fclose(fp);
        return cli_fail(err, errlen, ST_ERR_LIMIT, "safetensors: %s is %jd bytes, over the 4 GiB limit", nm,
                    (intmax_t)st.st_size);
    }
    if (size < 8) {
        fclose(fp);
        return cli_fail(err, errlen, ST_ERR_FORMAT,
                    "safetensors: %s is %" PRIu64 " bytes, too short for the 8-byte header length", nm, size);
    }
    unsigned char *buf = malloc((size_t)size);
    if (!buf) {
        fclose(fp);
        return cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory reading %s", nm);
    }
    /* Check the header length before reading a large file. */
    int rc = read_all(fp, buf, 8) ? ST_ERR_IO : check_header_len(le64(buf), size, err, errlen);
    if (rc == ST_OK && read_all(fp, buf + 8, (size_t)size - 8)) rc = ST_ERR_IO;
    if (rc == ST_ERR_IO)
        cli_fail(err, errlen, ST_ERR_IO, "safetensors: cannot read %s: %s", nm,
             ferror(fp) ? strerror(errno) : "the file shrank while being read");
    fclose(fp);
    if (rc) {
        free(buf);
        return rc;
    }
    return open_owned(buf, (size_t)size, out, err, errlen);
}

size_t st_count(const st_file *f) { return f ? f->ne : 0; }
const st_entry *st_entry_at(const st_file *f, size_t i) { return f && i < f->ne ? &f->e[i] : NULL; }
size_t st_meta_count(const st_file *f) { return f ? f->nmeta : 0; }
const st_kv *st_meta_at(const st_file *f, size_t i) { return f && i < f->nmeta ? &f->meta[i] : NULL; }

const st_entry *st_find(const st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->ne;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->e[mid].name);
        if (!c) return &f->e[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *st_meta(const st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    size_t lo = 0, hi = f->nmeta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, f->meta[mid].key);
        if (!c) return f->meta[mid].value;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

int st_get_f32(const st_file *f, const char *name, int ndim, const int *dims, float *dst, char *err, size_t errlen)
{
    char nm[100], have[200], want[200];
    if (!name) return cli_fail(err, errlen, ST_ERR_ARG, "st_get_f32: no tensor name");
    const st_entry *e = st_find(f, name);
    if (!e) return cli_fail(err, errlen, ST_ERR_NOTFOUND, "checkpoint has no tensor %s", qname(nm, sizeof nm, name));
    int same = e->dtype == ST_F32 && e->ndim == ndim && ndim >= 0 && (dims || !ndim);
    for (int i = 0; same && i < ndim; i++) same = dims[i] >= 0 && e->dims[i] == (uint64_t)dims[i];
    if (!same)
        return cli_fail(err, errlen, ST_ERR_MISMATCH, "checkpoint tensor %s is %s %s, model expects %s%s",
                    qname(nm, sizeof nm, name), st_dtype_name(e->dtype),
                    fmt_shape(have, sizeof have, e->ndim, e->dims, NULL), e->dtype == ST_F32 ? "" : "F32 ",
                    fmt_shape(want, sizeof want, ndim > 0 && dims ? ndim : 0, NULL, dims));
    if (e->nbytes) {
        if (!dst) return cli_fail(err, errlen, ST_ERR_ARG, "st_get_f32: no destination");
        memcpy(dst, e->data, e->nbytes);
        if (!host_is_le()) swap_elems((unsigned char *)dst, e->nbytes, 4);
    }
    return ST_OK;
}

/* ---- writing ---- */

typedef struct jbuf {
    char *b;
    size_t n, cap;
    int oom;
} jbuf;

static void jb_add(jbuf *j, const char *s, size_t n)
{
    if (j->oom) return;
    if (j->cap - j->n < n + 1) {
        size_t cap = j->cap ? j->cap : 256;
        while (cap - j->n < n + 1) {
            if (cap > SIZE_MAX / 2) {
                j->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *b = realloc(j->b, cap);
        if (!b) {
            j->oom = 1;
            return;
        }
        j->b = b;
        j->cap = cap;
    }
    memcpy(j->b + j->n, s, n);
    j->n += n;
    j->b[j->n] = 0;
}
static void jb_puts(jbuf *j, const char *s) { jb_add(j, s, strlen(s)); }
static void jb_u64(jbuf *j, uint64_t v)
{
    char d[24], *e = d + sizeof d, *q = e;
    do *--q = (char)('0' + v % 10);
    while (v /= 10);
    jb_add(j, q, (size_t)(e - q));
}
/* A JSON string, escaped as serde_json does (control characters, quote,
 * backslash; UTF-8 kept as is). */
static void jb_str(jbuf *j, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    jb_add(j, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                        : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
        if (esc) jb_puts(j, esc);
        else if (c < 0x20) {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            jb_add(j, u, 6);
        } else jb_add(j, s, 1);
    }
    jb_add(j, "\"", 1);
}

typedef struct wtensor {
    const st_tensor *t;
    uint64_t nbytes;
} wtensor;

static int wt_name_cmp(const void *a, const void *b)
{
    return strcmp(((const wtensor *)a)->t->name, ((const wtensor *)b)->t->name);
}
/* The reference layout: decreasing dtype (alignment), then name. */
static int wt_layout_cmp(const void *a, const void *b)
{
    const st_tensor *x = ((const wtensor *)a)->t, *y = ((const wtensor *)b)->t;
    if (x->dtype != y->dtype) return x->dtype > y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}
static int kvp_cmp(const void *a, const void *b)
{
    return strcmp((*(const st_kv *const *)a)->key, (*(const st_kv *const *)b)->key);
}

typedef struct wctx {
    const jbuf *hdr;
    const wtensor *wt;
    size_t n;
} wctx;

static int write_body(FILE *out, void *vctx)
{
    const wctx *c = vctx;
    unsigned char len[8];
    uint64_t n = c->hdr->n;
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    if (fwrite(len, 1, 8, out) != 8 || fwrite(c->hdr->b, 1, c->hdr->n, out) != c->hdr->n) return -1;
    int le = host_is_le();
    for (size_t i = 0; i < c->n; i++) {
        const unsigned char *d = c->wt[i].t->data;
        size_t nb = (size_t)c->wt[i].nbytes, unit = swap_unit(c->wt[i].t->dtype);
        if (le || unit < 2) {
            if (nb && fwrite(d, 1, nb, out) != nb) return -1;
            continue;
        }
        unsigned char tmp[4096];
        for (size_t o = 0; o < nb; o += sizeof tmp) {
            size_t k = nb - o < sizeof tmp ? nb - o : sizeof tmp;
            memcpy(tmp, d + o, k);
            swap_elems(tmp, k, unit);
            if (fwrite(tmp, 1, k, out) != k) return -1;
        }
    }
    return 0; /* cli_write_atomic_err flushes and syncs before the rename */
}

/* Check one tensor; set *nbytes. */
static int check_tensor(const st_tensor *t, size_t i, uint64_t *nbytes, char *err, size_t errlen)
{
    char nm[100], sh[200];
    if (!t->name) return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: tensor %zu has no name", i);
    qname(nm, sizeof nm, t->name);
    if (!t->name[0] || !strcmp(t->name, "__metadata__"))
        return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: %s is not a valid tensor name", nm);
    if (!utf8_valid(t->name))
        return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: tensor name %s is not valid UTF-8", nm);
    if ((unsigned)t->dtype >= ST_NDTYPES)
        return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: tensor %s has an invalid dtype %d", nm, (int)t->dtype);
    if (t->ndim < 0 || (t->ndim > 0 && !t->dims))
        return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: tensor %s has an invalid ndim %d", nm, t->ndim);
    uint64_t numel = 1;
    int bad = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->dims[d] < 0) bad = 1;
        else if (t->dims[d] && numel > UINT64_MAX / (uint64_t)t->dims[d]) bad = 2;
        else numel *= (uint64_t)t->dims[d];
    }
    int r = bad ? -1 : shape_bytes(dtypes[t->dtype].bits, numel, nbytes);
    if (bad == 1 || r)
        return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: tensor %s has an invalid shape %s %s%s", nm,
                    st_dtype_name(t->dtype), fmt_shape(sh, sizeof sh, t->ndim, NULL, t->dims),
                    r == -2 ? " (not a whole number of bytes)" : bad == 1 ? "" : " (too large)");
    if (*nbytes && !t->data) return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: tensor %s has no data", nm);
    return ST_OK;
}

/* Check the tensors and metadata and build the header: the part of writing
 * both st_write and st_write_mem share. On success c holds the header and
 * the tensors in file order (free them with wplan_free). */
typedef struct wplan {
    jbuf h;
    wtensor *wt;
    size_t n;
} wplan;

static void wplan_free(wplan *w)
{
    free(w->h.b);
    free(w->wt);
    memset(w, 0, sizeof *w);
}

static int wplan_build(wplan *w, const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
                       char *err, size_t errlen)
{
    char nm[100];
    memset(w, 0, sizeof *w);
    if ((ntensors && !tensors) || (nmeta && !meta))
        return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: st_write: bad arguments");
    wtensor *wt = w->wt = malloc((ntensors ? ntensors : 1) * sizeof *wt);
    const st_kv **kv = malloc((nmeta ? nmeta : 1) * sizeof *kv);
    jbuf *h = &w->h;
    int rc = ST_OK;
    w->n = ntensors;
    if (!wt || !kv) {
        rc = cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory");
        goto done;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < ntensors && rc == ST_OK; i++) {
        wt[i].t = &tensors[i];
        rc = check_tensor(&tensors[i], i, &wt[i].nbytes, err, errlen);
        if (rc == ST_OK && wt[i].nbytes > ST_MAX_FILE - total)
            rc = cli_fail(err, errlen, ST_ERR_LIMIT, "safetensors: the tensors exceed the 4 GiB file limit");
        if (rc == ST_OK) total += wt[i].nbytes;
    }
    if (rc) goto done;
    qsort(wt, ntensors, sizeof *wt, wt_name_cmp);
    for (size_t i = 1; i < ntensors; i++)
        if (!strcmp(wt[i - 1].t->name, wt[i].t->name)) {
            rc = cli_fail(err, errlen, ST_ERR_ARG, "safetensors: two tensors are called %s",
                      qname(nm, sizeof nm, wt[i].t->name));
            goto done;
        }
    qsort(wt, ntensors, sizeof *wt, wt_layout_cmp);
    for (size_t i = 0; i < nmeta; i++) {
        kv[i] = &meta[i];
        if (!meta[i].key || !meta[i].value) {
            rc = cli_fail(err, errlen, ST_ERR_ARG, "safetensors: metadata pair %zu has a NULL string", i);
            goto done;
        }
        if (!utf8_valid(meta[i].key) || !utf8_valid(meta[i].value)) {
            rc = cli_fail(err, errlen, ST_ERR_ARG, "safetensors: metadata %s is not valid UTF-8",
                      qname(nm, sizeof nm, meta[i].key));
            goto done;
        }
    }
    qsort(kv, nmeta, sizeof *kv, kvp_cmp);
    for (size_t i = 1; i < nmeta; i++)
        if (!strcmp(kv[i - 1]->key, kv[i]->key)) {
            rc = cli_fail(err, errlen, ST_ERR_ARG, "safetensors: metadata key %s appears twice",
                      qname(nm, sizeof nm, kv[i]->key));
            goto done;
        }
    /* The header, compact, as the reference implementation writes it. */
    jb_puts(h, "{");
    if (nmeta) {
        jb_puts(h, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            if (i) jb_puts(h, ",");
            jb_str(h, kv[i]->key);
            jb_puts(h, ":");
            jb_str(h, kv[i]->value);
        }
        jb_puts(h, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < ntensors; i++) {
        const st_tensor *t = wt[i].t;
        if (i || nmeta) jb_puts(h, ",");
        jb_str(h, t->name);
        jb_puts(h, ":{\"dtype\":\"");
        jb_puts(h, dtypes[t->dtype].name);
        jb_puts(h, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) jb_puts(h, ",");
            jb_u64(h, (uint64_t)t->dims[d]);
        }
        jb_puts(h, "],\"data_offsets\":[");
        jb_u64(h, off);
        jb_puts(h, ",");
        off += wt[i].nbytes;
        jb_u64(h, off);
        jb_puts(h, "]}");
    }
    jb_puts(h, "}");
    while (!h->oom && h->n % 8) jb_puts(h, " ");
    if (h->oom) {
        rc = cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory building the header");
        goto done;
    }
    if (h->n > ST_MAX_HEADER || 8 + (uint64_t)h->n > ST_MAX_FILE - total)
        rc = cli_fail(err, errlen, ST_ERR_LIMIT, "safetensors: the header (%zu bytes) or the file exceeds its limit",
                  h->n);
done:
    free(kv);
    if (rc) wplan_free(w);
    return rc;
}

int st_write(const char *path, const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta,
             char *err, size_t errlen)
{
    if (!path || !path[0]) return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: no output file name");
    wplan w;
    int rc = wplan_build(&w, tensors, ntensors, meta, nmeta, err, errlen);
    if (rc) return rc;
    wctx c = {&w.h, w.wt, w.n};
    char why[512];
    if (cli_write_atomic_err(path, write_body, &c, why, sizeof why) != 0)
        rc = cli_fail(err, errlen, ST_ERR_IO, "safetensors: %s", why);
    wplan_free(&w);
    return rc;
}

int st_write_mem(const st_tensor *tensors, size_t ntensors, const st_kv *meta, size_t nmeta, unsigned char **buf,
                 size_t *len, char *err, size_t errlen)
{
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!buf || !len) return cli_fail(err, errlen, ST_ERR_ARG, "safetensors: st_write_mem: bad arguments");
    wplan w;
    int rc = wplan_build(&w, tensors, ntensors, meta, nmeta, err, errlen);
    if (rc) return rc;
    char *b = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&b, &n);
    wctx c = {&w.h, w.wt, w.n};
    int ok = f != NULL;
    if (f) {
        ok = write_body(f, &c) == 0;
        if (fclose(f) != 0) ok = 0;
    }
    if (!ok) {
        free(b);
        rc = cli_fail(err, errlen, ST_ERR_NOMEM, "safetensors: out of memory writing to memory");
    } else {
        *buf = (unsigned char *)b;
        *len = n;
    }
    wplan_free(&w);
    return rc;
}

const char *st_meta_need(const st_file *f, const char *key, const char *what, char *err, size_t errlen)
{
    const char *v = st_meta(f, key);
    if (!v) cli_fail(err, errlen, ST_ERR_NOTFOUND, "%s metadata has no '%s'", what, key);
    return v;
}

int st_meta_num(const st_file *f, const char *key, double lo, double hi, double *out, const char *what,
                char *err, size_t errlen)
{
    const char *v = st_meta_need(f, key, what, err, errlen);
    if (!v) return ST_ERR_NOTFOUND;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= lo && d <= hi))
        return cli_fail(err, errlen, ST_ERR_MISMATCH, "%s metadata '%s' = '%s' is not a number in [%g, %g]", what, key,
                    v, lo, hi);
    *out = d;
    return ST_OK;
}

int st_meta_uint(const st_file *f, const char *key, uint64_t lo, uint64_t hi, uint64_t *out, const char *what,
                 char *err, size_t errlen)
{
    const char *v = st_meta_need(f, key, what, err, errlen);
    if (!v) return ST_ERR_NOTFOUND;
    size_t n = strspn(v, "0123456789");
    errno = 0;
    unsigned long long d = n && !v[n] ? strtoull(v, NULL, 10) : 0;
    if (!n || v[n] || errno || d < lo || d > hi)
        return cli_fail(err, errlen, ST_ERR_MISMATCH, "%s metadata '%s' = '%s' is not an integer in [%" PRIu64
                        ", %" PRIu64 "]", what, key, v, lo, hi);
    *out = d;
    return ST_OK;
}
