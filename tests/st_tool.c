/* st_tool.c - the safetensors module from the command line, for the Python
 * interoperability test (tests/st_interop.py):
 *   st_tool write FILE   write the known tensors and metadata listed below
 *   st_tool dump FILE    print one JSON object per line: each tensor (sorted
 *                        by name) as {"name", "dtype", "shape", "fnv", "sum"},
 *                        then each metadata pair as {"meta", "value"}
 * "fnv" is the FNV-1a 64 hash of the tensor's bytes (16 hex digits); "sum" is
 * the sum of its values in double precision (F32 read through st_get_f32),
 * or null for dtypes this tool does not decode. Exit status 0, or 1 with a
 * message on stderr. */
#include "safetensors.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The tensors written by `st_tool write`; st_interop.py checks the same values. */
static int cmd_write(const char *path)
{
    float w[12];
    for (int i = 0; i < 12; i++) w[i] = (float)(i - 5) * 0.25f;
    double b[4];
    for (int i = 0; i < 4; i++) b[i] = 1.0 / (i + 3);
    int32_t idx[4] = {INT32_MIN, -1, 0, INT32_MAX};
    int64_t step = -1234567890123456789LL;
    uint8_t mask[5] = {0, 1, 127, 128, 255};
    double weird = -0.5;
    uint16_t half[2] = {0x3f80, 0xc000}; /* bfloat16 1.0, -2.0 */
    const st_tensor t[] = {
        {"G/l0.w", ST_F32, 2, (const int[]){3, 4}, w},
        {"G/l0.b", ST_F64, 1, (const int[]){4}, b},
        {"D/idx", ST_I32, 2, (const int[]){2, 2}, idx},
        {"step", ST_I64, 0, NULL, &step},
        {"mask", ST_U8, 1, (const int[]){5}, mask},
        {"empty", ST_F32, 2, (const int[]){0, 3}, NULL},
        {"weird \"name\"\\ \xc3\xbc\n", ST_F64, 1, (const int[]){1}, &weird},
        {"half", ST_BF16, 1, (const int[]){2}, half},
    };
    const st_kv meta[] = {
        {"format", "pt"},
        {"note", "quote \" backslash \\ newline \n tab \t ctrl \x01 u-umlaut \xc3\xbc euro \xe2\x82\xac "
                 "emoji \xf0\x9f\x98\x80"},
        {"empty", ""},
    };
    tg_error err;
    if (st_write(path, t, sizeof t / sizeof t[0], meta, sizeof meta / sizeof meta[0], &err)) {
        fprintf(stderr, "st_tool: %s\n", err.msg);
        return 1;
    }
    return 0;
}

static void put_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Sum of the values of a little-endian tensor; 0 and *ok = 0 if not decoded. */
static double sum_values(const st_entry *e, int *ok)
{
    double s = 0;
    *ok = 1;
    for (size_t i = 0; i < (size_t)e->numel; i++) {
        const unsigned char *p = e->data;
        uint64_t u = 0;
        int size = st_dtype_bits(e->dtype) / 8;
        for (int k = size - 1; k >= 0 && size <= 8; k--) u = u << 8 | p[i * (size_t)size + (size_t)k];
        switch (e->dtype) {
        case ST_U8: s += (double)u; break;
        case ST_I8: s += (double)(int8_t)u; break;
        case ST_U16: s += (double)u; break;
        case ST_I16: s += (double)(int16_t)u; break;
        case ST_U32: s += (double)u; break;
        case ST_I32: s += (double)(int32_t)u; break;
        case ST_U64: s += (double)u; break;
        case ST_I64: s += (double)(int64_t)u; break;
        case ST_F64: {
            double d;
            memcpy(&d, &u, 8);
            s += d;
            break;
        }
        default: *ok = 0; return 0;
        }
    }
    return s;
}

static int cmd_dump(const char *path)
{
    st_file *f;
    tg_error err;
    if (st_open(path, &f, &err)) {
        fprintf(stderr, "st_tool: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < st_count(f); i++) {
        const st_entry *e = st_entry_at(f, i);
        if (st_find(f, e->name) != e) {
            fprintf(stderr, "st_tool: st_find does not find '%s'\n", e->name);
            rc = 1;
        }
        double sum = 0;
        int ok = 0;
        if (e->dtype == ST_F32) {
            /* Through st_get_f32, with the shape as the caller's ints. */
            int dims[16];
            float *v = malloc(e->nbytes ? e->nbytes : 1);
            int fits = e->ndim <= 16 && v;
            for (int d = 0; fits && d < e->ndim; d++) {
                fits = e->dims[d] <= INT_MAX;
                dims[d] = fits ? (int)e->dims[d] : 0;
            }
            if (fits && st_get_f32(f, e->name, e->ndim, dims, v, &err) == TG_OK) {
                ok = 1;
                for (size_t k = 0; k < (size_t)e->numel; k++) sum += v[k];
            } else if (fits) {
                fprintf(stderr, "st_tool: %s\n", err.msg);
                rc = 1;
            }
            free(v);
        } else sum = sum_values(e, &ok);
        printf("{\"name\":");
        put_json_str(e->name);
        printf(",\"dtype\":\"%s\",\"shape\":[", st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) printf("%s%llu", d ? "," : "", (unsigned long long)e->dims[d]);
        printf("],\"fnv\":\"%016llx\",\"sum\":", (unsigned long long)fnv1a(e->data, e->nbytes));
        if (ok && isfinite(sum)) printf("%.17g}\n", sum);
        else printf("null}\n");
    }
    for (size_t i = 0; i < st_meta_count(f); i++) {
        const st_kv *kv = st_meta_at(f, i);
        if (st_meta(f, kv->key) != kv->value) {
            fprintf(stderr, "st_tool: st_meta does not find a key\n");
            rc = 1;
        }
        printf("{\"meta\":");
        put_json_str(kv->key);
        printf(",\"value\":");
        put_json_str(kv->value);
        printf("}\n");
    }
    st_close(f);
    if (fflush(stdout) != 0) rc = 1;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "write")) return cmd_write(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "dump")) return cmd_dump(argv[2]);
    fprintf(stderr, "usage: st_tool write FILE | st_tool dump FILE\n");
    return 2;
}
