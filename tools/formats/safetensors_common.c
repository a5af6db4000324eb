/* safetensors_common.c - what the safetensors reader and writer share
 * (st_internal.h): the dtype table, byte order, shape sizes, UTF-8 checks
 * and the quoting of names and shapes in messages. */
#include "st_internal.h"

#include <string.h>

/* ---- dtypes ---- */

const stx_dtype stx_dtypes[ST_NDTYPES] = {
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

const char *st_dtype_name(st_dtype dt) { return (unsigned)dt < ST_NDTYPES ? stx_dtypes[dt].name : "?"; }
int st_dtype_bits(st_dtype dt) { return (unsigned)dt < ST_NDTYPES ? stx_dtypes[dt].bits : 0; }

/* Byte-swap unit for a big-endian host: C64 is two F32 parts. */
size_t stx_swap_unit(st_dtype dt) { return dt == ST_C64 ? 4 : (size_t)(stx_dtypes[dt].bits / 8); }

int stx_host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

void stx_swap_elems(unsigned char *p, size_t nbytes, size_t unit)
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
int stx_shape_bytes(int bits, uint64_t numel, uint64_t *nbytes)
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
const char *stx_qname(char *buf, size_t cap, const char *name)
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
const char *stx_fmt_shape(char *buf, size_t cap, int ndim, const uint64_t *du, const int *di)
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
size_t stx_utf8_seq(const unsigned char *s, size_t n)
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

int stx_utf8_valid(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    for (size_t i = 0; i < n;) {
        size_t k = stx_utf8_seq(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

int st_utf8_valid(const char *s) { return stx_utf8_valid(s); }
