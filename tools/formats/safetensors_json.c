/* safetensors_json.c - the small strict JSON parser of safetensors headers
 * (st_internal.h): objects, arrays, strings, integers and the three
 * literals; UTF-8 checked, depth limited, duplicate keys rejected; strings
 * decoded in place into a flat node array. */
#include "st_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- JSON parser ---- */


static int jfail(jparser *p, const char *what)
{
    p->code = tg_error_set(p->err, TG_ERR_FORMAT,
                   "safetensors: header is not valid JSON: %s at header byte %zu", what, p->pos);
    return -1;
}

size_t stx_jnext(const jparser *p, size_t i)
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
            p->code = tg_error_set(p->err, TG_ERR_NOMEM, "safetensors: out of memory parsing the header");
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
        size_t k = stx_utf8_seq((const unsigned char *)p->s + p->pos, p->len - p->pos);
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
        p->code = tg_error_set(p->err, TG_ERR_NOMEM, "safetensors: out of memory parsing the header");
        return -1;
    }
    size_t i = id + 1;
    for (uint32_t m = 0; m < n; m++) {
        k[m] = (jkey){p->s + p->nodes[i].v, p->nodes[i].n};
        i = stx_jnext(p, i + 1);
    }
    qsort(k, n, sizeof *k, jkey_cmp);
    for (uint32_t m = 1; m < n; m++)
        if (!jkey_cmp(&k[m - 1], &k[m])) {
            char nm[100];
            p->code = tg_error_set(p->err, TG_ERR_FORMAT, "safetensors: header has a duplicate key %s",
                           stx_qname(nm, sizeof nm, k[m].s));
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

int stx_json_parse(jparser *p)
{
    if (jvalue(p, 1) == 0) {
        jws(p);
        if (p->pos != p->len) jfail(p, "unexpected data after the object");
    }
    return p->code ? -1 : 0;
}
