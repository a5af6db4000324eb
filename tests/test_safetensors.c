/* test_safetensors.c - the safetensors module (tools/formats/safetensors_*.c).
 *
 * core:   write -> read round trips (every writable kind of tensor: several
 *         dtypes, a 0-d scalar, empty tensors; metadata that needs escaping),
 *         the exact bytes the reference implementation writes, alignment,
 *         st_get_f32 (shape checks, unaligned data), headers written by
 *         other writers (whitespace, any key order, \u escapes).
 * limits: header and file size limits, integer and shape overflow, nesting
 *         depth at and past the limit, many tensors, sub-byte dtypes, every
 *         truncation and many byte flips of a valid file.
 * errors: one corrupt file per rule, each refused with a specific message;
 *         I/O errors; invalid writer arguments; a failed write leaves no file. */
#include "check_main.h"
#include "safetensors.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

static char dir[64];
static tg_error err;

static void mkdir_tmp(void)
{
    strcpy(dir, "/tmp/tg_st_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Remove dir and the files in it; return how many files there were. */
static int rm_dir(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    if (!dp) return 0;
    struct dirent *de;
    char p[512];
    while ((de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", d, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) rmdir(p);
        else unlink(p);
        n++;
    }
    closedir(dp);
    rmdir(d);
    return n;
}

/* Files in d whose name contains ".tmp.". */
static int count_tmp(const char *d)
{
    DIR *dp = opendir(d);
    ck_assert_ptr_nonnull(dp);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dp)))
        if (strstr(de->d_name, ".tmp.")) n++;
    closedir(dp);
    return n;
}

/* A file in memory: 8-byte length of hdr, hdr, then ndata bytes 0, 1, 2... */
static unsigned char *mkbuf(const char *hdr, size_t hlen, size_t ndata, size_t *len)
{
    *len = 8 + hlen + ndata;
    unsigned char *b = malloc(*len);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, hdr, hlen);
    for (size_t i = 0; i < ndata; i++) b[8 + hlen + i] = (unsigned char)i;
    return b;
}

static st_file *open_hdr(const char *hdr, size_t ndata)
{
    size_t len;
    unsigned char *b = mkbuf(hdr, strlen(hdr), ndata, &len);
    st_file *f = NULL;
    int rc = st_open_mem(b, len, &f, &err);
    free(b);
    ck_assert_msg(rc == TG_OK, "rejected: %s\nheader: %s", err.msg, hdr);
    return f;
}

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(b, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    size_t cap = 1 << 16;
    unsigned char *b = malloc(cap);
    *n = fread(b, 1, cap, fp);
    fclose(fp);
    return b;
}

/* ---- core ---- */

static const char note[] = "quote \" backslash \\ newline \n tab \t cr \r ctrl \x01\x1f del \x7f "
                           "slash / \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80";

START_TEST(round_trip)
{
    float w[6] = {1.5f, -2.0f, 0.25f, 3e38f, -1e-38f, 0.0f};
    double b[3] = {1.0 / 3, -0.0, 1e300};
    int32_t idx[4] = {INT32_MIN, -1, 0, INT32_MAX};
    int64_t big[4] = {INT64_MIN, -1, 1, INT64_MAX};
    uint8_t bytes[7] = {0, 1, 2, 127, 128, 254, 255};
    float scalar = -7.25f;
    int64_t step = 123456789012345LL;
    const st_tensor t[] = {
        {"G/l0.w", ST_F32, 2, (const int[]){2, 3}, w},
        {"G/l0.b", ST_F64, 1, (const int[]){3}, b},
        {"idx", ST_I32, 2, (const int[]){2, 2}, idx},
        {"big", ST_I64, 3, (const int[]){2, 1, 2}, big},
        {"bytes", ST_U8, 1, (const int[]){7}, bytes},
        {"scalar", ST_F32, 0, NULL, &scalar},
        {"step", ST_I64, 0, NULL, &step},
        {"empty", ST_F32, 2, (const int[]){0, 5}, NULL},
        {"empty_u8", ST_U8, 3, (const int[]){3, 0, 2}, NULL},
        {"n\xc3\xa4me \"with\" \\ escapes\n", ST_F64, 1, (const int[]){1}, b},
    };
    const size_t nt = sizeof t / sizeof t[0];
    const st_kv meta[] = {{"format", "tapegrad-gan/1"}, {"note", note}, {"", "empty key"}, {"k\"\n", ""}};
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    ck_assert_msg(st_write(path, t, nt, meta, 4, &err) == TG_OK, "%s", err.msg);

    st_file *f;
    ck_assert_msg(st_open(path, &f, &err) == TG_OK, "%s", err.msg);
    ck_assert_uint_eq(st_count(f), nt);
    for (size_t i = 0; i < nt; i++) {
        const st_entry *e = st_find(f, t[i].name);
        ck_assert_msg(e != NULL, "%s missing", t[i].name);
        ck_assert_str_eq(e->name, t[i].name);
        ck_assert_int_eq(e->dtype, t[i].dtype);
        ck_assert_int_eq(e->ndim, t[i].ndim);
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            ck_assert_uint_eq(e->dims[d], (uint64_t)t[i].dims[d]);
            numel *= (uint64_t)t[i].dims[d];
        }
        ck_assert_uint_eq(e->numel, numel);
        ck_assert_uint_eq(e->nbytes, numel * (uint64_t)st_dtype_bits(t[i].dtype) / 8);
        ck_assert_uint_eq(e->end - e->begin, e->nbytes);
        if (e->nbytes) ck_assert(!memcmp(e->data, t[i].data, e->nbytes));
    }
    /* Iteration is by name. */
    for (size_t i = 1; i < nt; i++)
        ck_assert_int_lt(strcmp(st_entry_at(f, i - 1)->name, st_entry_at(f, i)->name), 0);
    ck_assert_ptr_null(st_entry_at(f, nt));
    ck_assert_ptr_null(st_find(f, "G/l0"));
    ck_assert_ptr_null(st_find(f, ""));
    /* Metadata. */
    ck_assert_uint_eq(st_meta_count(f), 4);
    ck_assert_str_eq(st_meta(f, "format"), "tapegrad-gan/1");
    ck_assert_str_eq(st_meta(f, "note"), note);
    ck_assert_str_eq(st_meta(f, ""), "empty key");
    ck_assert_str_eq(st_meta(f, "k\"\n"), "");
    ck_assert_ptr_null(st_meta(f, "missing"));
    ck_assert_str_eq(st_meta_at(f, 0)->key, "");
    /* st_get_f32: a matrix, a scalar, an empty tensor. */
    float got[6] = {0}, s = 0;
    ck_assert_msg(st_get_f32(f, "G/l0.w", 2, (const int[]){2, 3}, got, &err) == TG_OK, "%s", err.msg);
    ck_assert(!memcmp(got, w, sizeof w));
    ck_assert_int_eq(st_get_f32(f, "scalar", 0, NULL, &s, &err), TG_OK);
    ck_assert(s == -7.25f);
    ck_assert_int_eq(st_get_f32(f, "empty", 2, (const int[]){0, 5}, NULL, &err), TG_OK);
    st_close(f);
    ck_assert_int_eq(rm_dir(dir), 1); /* the file, and no temporary file */
}
END_TEST

/* st_write_mem builds exactly the bytes st_write puts in a file, and
 * refuses what st_write refuses. */
START_TEST(write_mem)
{
    float w[6] = {1.5f, -2.0f, 0.25f, 3e38f, -1e-38f, 0.0f};
    uint8_t bytes[3] = {7, 8, 9};
    const st_tensor t[] = {
        {"w", ST_F32, 2, (const int[]){2, 3}, w},
        {"b", ST_U8, 1, (const int[]){3}, bytes},
        {"e", ST_F64, 1, (const int[]){0}, NULL},
    };
    const st_kv meta[] = {{"format", "x/1"}, {"note", note}};
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    for (size_t nt = 0; nt <= 3; nt++) {
        ck_assert_msg(st_write(path, t, nt, meta, nt % 3, &err) == TG_OK, "%s", err.msg);
        size_t nf, nm;
        unsigned char *file = slurp(path, &nf), *mem = NULL;
        ck_assert_msg(st_write_mem(t, nt, meta, nt % 3, &mem, &nm, &err) == TG_OK, "%s", err.msg);
        ck_assert_uint_eq(nm, nf);
        ck_assert(!memcmp(mem, file, nf));
        st_file *f = NULL;
        ck_assert_int_eq(st_open_mem(mem, nm, &f, &err), TG_OK);
        ck_assert_uint_eq(st_count(f), nt);
        st_close(f);
        free(file);
        free(mem);
    }
    unsigned char *mem = (unsigned char *)1;
    size_t nm = 1;
    const st_tensor twice[] = {t[0], t[0]};
    ck_assert_int_eq(st_write_mem(twice, 2, NULL, 0, &mem, &nm, &err), TG_ERR_ARG);
    ck_assert_ptr_null(mem);
    ck_assert_uint_eq(nm, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "two tensors are called 'w'"));
    ck_assert_int_eq(st_write_mem(t, 1, NULL, 0, NULL, &nm, &err), TG_ERR_ARG);
    ck_assert_int_eq(rm_dir(dir), 1);
}
END_TEST

/* st_meta_uint: digits only, within the range */
START_TEST(meta_uint)
{
    st_file *f = open_hdr("{\"__metadata__\":{\"a\":\"42\",\"max\":\"18446744073709551615\",\"over\":"
                          "\"18446744073709551616\",\"exp\":\"1e3\",\"neg\":\"-1\",\"sp\":\" 4\","
                          "\"plus\":\"+4\",\"frac\":\"4.0\",\"hex\":\"0x4\",\"empty\":\"\"}}", 0);
    uint64_t v = 0;
    ck_assert_int_eq(st_meta_uint(f, "a", 0, 100, &v, "t:", &err), TG_OK);
    ck_assert_uint_eq(v, 42);
    ck_assert_int_eq(st_meta_uint(f, "max", 0, UINT64_MAX, &v, "t:", &err), TG_OK);
    ck_assert(v == UINT64_MAX);
    ck_assert_int_eq(st_meta_uint(f, "a", 43, 100, &v, "t:", &err), TG_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "t: metadata 'a' = '42' is not an integer in [43, 100]");
    ck_assert_int_eq(st_meta_uint(f, "a", 0, 41, &v, "t:", &err), TG_ERR_FORMAT);
    static const char *const bad[] = {"over", "exp", "neg", "sp", "plus", "frac", "hex", "empty"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        ck_assert_msg(st_meta_uint(f, bad[i], 0, UINT64_MAX, &v, "t:", &err) == TG_ERR_FORMAT, "%s",
                      bad[i]);
        ck_assert_uint_eq(v, 7);
    }
    ck_assert_int_eq(st_meta_uint(f, "missing", 0, 1, &v, "t:", &err), TG_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "t: metadata has no 'missing'");
    st_close(f);
}
END_TEST

/* The exact bytes of the reference implementation's own tests
 * (safetensors/src/tensor.rs: test_empty, test_serialization_forced_alignement). */
START_TEST(reference_bytes)
{
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/ref.safetensors", dir);
    size_t n;
    unsigned char *b;
    /* No tensors: "{}" padded to 8 bytes. */
    ck_assert_int_eq(st_write(path, NULL, 0, NULL, 0, &err), TG_OK);
    b = slurp(path, &n);
    ck_assert_uint_eq(n, 16);
    ck_assert(!memcmp(b, "\x08\0\0\0\0\0\0\0{}      ", 16));
    free(b);
    /* Metadata only: 35 bytes padded to 40. */
    ck_assert_int_eq(st_write(path, NULL, 0, (const st_kv[]){{"framework", "pt"}}, 1, &err), TG_OK);
    b = slurp(path, &n);
    ck_assert_uint_eq(n, 48);
    ck_assert(!memcmp(b, "\x28\0\0\0\0\0\0\0{\"__metadata__\":{\"framework\":\"pt\"}}     ", 48));
    free(b);
    /* One F32 tensor: a 65-byte header padded with 7 spaces to 72. */
    float v[6] = {0, 1, 2, 3, 4, 5};
    st_tensor t = {"attn0", ST_F32, 4, (const int[]){1, 1, 2, 3}, v};
    ck_assert_int_eq(st_write(path, &t, 1, NULL, 0, &err), TG_OK);
    b = slurp(path, &n);
    static const char hdr[] = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ";
    ck_assert_uint_eq(sizeof hdr - 1, 72);
    ck_assert_uint_eq(n, 8 + 72 + 24);
    ck_assert(!memcmp(b, "\x48\0\0\0\0\0\0\0", 8));
    ck_assert(!memcmp(b + 8, hdr, 72));
    static const unsigned char data[24] = {0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64,
                                           0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    ck_assert(!memcmp(b + 80, data, 24));
    free(b);
    rm_dir(dir);
}
END_TEST

/* Larger dtypes first, so every tensor is aligned to its element size. */
START_TEST(layout_aligned)
{
    uint8_t u[3] = {1, 2, 3};
    int32_t i4[1] = {4};
    double d[2] = {5, 6};
    uint16_t h[1] = {7};
    const st_tensor t[] = {
        {"a", ST_U8, 1, (const int[]){3}, u},
        {"b", ST_I32, 1, (const int[]){1}, i4},
        {"c", ST_F64, 1, (const int[]){2}, d},
        {"d", ST_F16, 1, (const int[]){1}, h},
        {"e", ST_F64, 0, NULL, d},
    };
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/al.safetensors", dir);
    ck_assert_int_eq(st_write(path, t, 5, NULL, 0, &err), TG_OK);
    st_file *f;
    ck_assert_int_eq(st_open(path, &f, &err), TG_OK);
    uint64_t hlen = st_find(f, "c")->begin; /* F64 "c" comes first */
    ck_assert_uint_eq(hlen, 0);
    ck_assert_uint_eq(st_find(f, "e")->begin, 16);
    ck_assert_uint_eq(st_find(f, "b")->begin, 24);
    ck_assert_uint_eq(st_find(f, "d")->begin, 28);
    ck_assert_uint_eq(st_find(f, "a")->begin, 30);
    for (size_t i = 0; i < st_count(f); i++) {
        const st_entry *e = st_entry_at(f, i);
        const st_entry *first = st_find(f, "c");
        /* The header length is a multiple of 8, so offsets in the file align too. */
        ck_assert_uint_eq((uint64_t)(e->data - first->data) % (uint64_t)(st_dtype_bits(e->dtype) / 8), 0);
    }
    st_close(f);
    rm_dir(dir);
}
END_TEST

START_TEST(get_f32_checks)
{
    /* U8 first, so the F32 data sits at an odd offset. */
    static const char hdr[] = "{\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                              "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]},"
                              "\"d\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[9,33]},"
                              "\"G/l0.w\":{\"dtype\":\"F32\",\"shape\":[100,64],\"data_offsets\":[33,25633]}}";
    size_t len;
    unsigned char *b = mkbuf(hdr, strlen(hdr), 25633, &len);
    float two[2] = {1.5f, -3.0f};
    memcpy(b + 8 + strlen(hdr) + 1, two, 8);
    st_file *f;
    ck_assert_msg(st_open_mem(b, len, &f, &err) == TG_OK, "%s", err.msg);
    free(b);
    float got[2] = {0, 0};
    ck_assert_int_eq(st_get_f32(f, "w", 1, (const int[]){2}, got, &err), TG_OK);
    ck_assert(got[0] == 1.5f && got[1] == -3.0f);
    ck_assert_int_eq(st_get_f32(f, "G/l0.w", 2, (const int[]){100, 128}, NULL, &err), TG_ERR_SHAPE);
    ck_assert_str_eq(err.msg, "checkpoint tensor 'G/l0.w' is F32 [100, 64], model expects [100, 128]");
    ck_assert_int_eq(st_get_f32(f, "w", 2, (const int[]){1, 2}, got, &err), TG_ERR_SHAPE);
    ck_assert_str_eq(err.msg, "checkpoint tensor 'w' is F32 [2], model expects [1, 2]");
    ck_assert_int_eq(st_get_f32(f, "w", 0, NULL, got, &err), TG_ERR_SHAPE);
    ck_assert_str_eq(err.msg, "checkpoint tensor 'w' is F32 [2], model expects []");
    ck_assert_int_eq(st_get_f32(f, "d", 1, (const int[]){3}, got, &err), TG_ERR_SHAPE);
    ck_assert_str_eq(err.msg, "checkpoint tensor 'd' is F64 [3], model expects F32 [3]");
    ck_assert_int_eq(st_get_f32(f, "u", 1, (const int[]){-1}, got, &err), TG_ERR_SHAPE);
    ck_assert_str_eq(err.msg, "checkpoint tensor 'u' is U8 [1], model expects F32 [-1]");
    ck_assert_int_eq(st_get_f32(f, "G/l1.w", 1, (const int[]){2}, got, &err), TG_ERR_FORMAT);
    ck_assert_str_eq(err.msg, "checkpoint has no tensor 'G/l1.w'");
    ck_assert(got[0] == 1.5f && got[1] == -3.0f); /* untouched by the failures */
    st_close(f);
}
END_TEST

/* Headers as other writers may produce them. */
START_TEST(foreign_headers)
{
    /* Whitespace everywhere, fields and tensors in any order, the buffer in
     * another order than the header, metadata last, padding of spaces. */
    st_file *f = open_hdr("{\n\t\"b\" : { \"shape\" : [ 2 ] , \"data_offsets\":[0,8],\"dtype\":\"F32\" } ,\r\n"
                          "\"a\":{\"data_offsets\":[8,9],\"dtype\":\"U8\",\"shape\":[1]},"
                          "\"__metadata__\":{\"x\":\"1\"}}        ", 9);
    ck_assert_uint_eq(st_count(f), 2);
    ck_assert_uint_eq(st_find(f, "a")->begin, 8);
    ck_assert_str_eq(st_meta(f, "x"), "1");
    st_close(f);
    /* \u escapes: BMP, a surrogate pair, escaped solidus, all simple escapes. */
    f = open_hdr("{\"\\u00fc\\uD83D\\uDE00\\/\\\"\\\\\\b\\f\\n\\r\\t\":{\"dtype\":\"U8\",\"shape\":[],"
                 "\"data_offsets\":[0,1]},\"__metadata__\":{\"\\u20AC\":\"\\u0041\\u00e9\"}}",
                 1);
    ck_assert_ptr_nonnull(st_find(f, "\xc3\xbc\xf0\x9f\x98\x80/\"\\\b\f\n\r\t"));
    ck_assert_str_eq(st_meta(f, "\xe2\x82\xac"), "A\xc3\xa9");
    st_close(f);
    /* No tensors, no data; empty tensors anywhere, even sharing an offset. */
    f = open_hdr("{}", 0);
    ck_assert_uint_eq(st_count(f), 0);
    ck_assert_uint_eq(st_meta_count(f), 0);
    st_close(f);
    f = open_hdr("{\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                 "\"e2\":{\"dtype\":\"F64\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
                 "\"x\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                 "\"e3\":{\"dtype\":\"I32\",\"shape\":[0,18446744073709551615],\"data_offsets\":[4,4]}}",
                 4);
    ck_assert_uint_eq(st_count(f), 4);
    ck_assert_uint_eq(st_find(f, "e3")->numel, 0);
    ck_assert_uint_eq(st_find(f, "e3")->dims[1], UINT64_MAX);
    st_close(f);
    /* Every dtype of the format. */
    f = open_hdr("{\"a\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"b\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[1,2]},"
                 "\"c\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[2,5]},"
                 "\"d\":{\"dtype\":\"F8_E5M2FNUZ\",\"shape\":[1],\"data_offsets\":[5,6]},"
                 "\"e\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[6,8]},"
                 "\"f\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                 "\"g\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[16,24]}}",
                 24);
    ck_assert_int_eq(st_find(f, "c")->dtype, ST_F6_E2M3);
    ck_assert_int_eq(st_find(f, "f")->dtype, ST_C64);
    st_close(f);
    for (int i = 0; i < ST_NDTYPES; i++) ck_assert_int_gt(st_dtype_bits((st_dtype)i), 0);
    ck_assert_str_eq(st_dtype_name(ST_NDTYPES), "?");
}
END_TEST

/* Writing over an existing file replaces it. */
START_TEST(overwrite)
{
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    write_file(path, "old contents", 12);
    uint8_t v = 42;
    st_tensor t = {"v", ST_U8, 0, NULL, &v};
    ck_assert_int_eq(st_write(path, &t, 1, NULL, 0, &err), TG_OK);
    st_file *f;
    ck_assert_int_eq(st_open(path, &f, &err), TG_OK);
    ck_assert_uint_eq(st_find(f, "v")->data[0], 42);
    st_close(f);
    ck_assert_int_eq(rm_dir(dir), 1);
}
END_TEST

/* ---- limits ---- */

static void expect_bad_len(uint64_t hlen, size_t total, int code, const char *msg)
{
    unsigned char *b = calloc(1, total + 8);
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i)); /* past total when total < 8 */
    if (total > 8) b[8] = '{';
    st_file *f = (st_file *)1;
    int rc = st_open_mem(b, total, &f, &err);
    free(b);
    ck_assert_msg(rc == code && strstr(err.msg, msg), "rc %d, message: %s", rc, err.msg);
    ck_assert_ptr_null(f);
}

START_TEST(header_limits)
{
    expect_bad_len(100000001, 64, TG_ERR_FORMAT, "header length 100000001 exceeds the limit of 100000000 bytes");
    expect_bad_len(UINT64_MAX, 64, TG_ERR_FORMAT, "exceeds the limit");
    expect_bad_len(100000000, 64, TG_ERR_FORMAT, "header length 100000000 but only 56 bytes follow it");
    expect_bad_len(57, 64, TG_ERR_FORMAT, "header length 57 but only 56 bytes follow it");
    expect_bad_len(0, 64, TG_ERR_FORMAT, "header length is 0");
    expect_bad_len(0, 8, TG_ERR_FORMAT, "header length is 0");
    expect_bad_len(0, 7, TG_ERR_FORMAT, "file is 7 bytes, too short");
    expect_bad_len(0, 0, TG_ERR_FORMAT, "file is 0 bytes, too short");
}
END_TEST

/* A sparse file just over 4 GiB is refused before it is read. */
START_TEST(file_limit)
{
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/huge.safetensors", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "\x08\0\0\0\0\0\0\0{}      ", 16), 16);
    int ok = ftruncate(fd, (off_t)(ST_MAX_FILE + 1)) == 0;
    close(fd);
    if (ok) {
        st_file *f;
        ck_assert_int_eq(st_open(path, &f, &err), TG_ERR_FORMAT);
        ck_assert_msg(strstr(err.msg, "is 4294967297 bytes, over the 4 GiB limit"), "%s", err.msg);
    }
    rm_dir(dir);
}
END_TEST

static void expect_bad(const char *hdr, size_t ndata, const char *msg)
{
    size_t len;
    unsigned char *b = mkbuf(hdr, strlen(hdr), ndata, &len);
    st_file *f = (st_file *)1;
    err.msg[0] = 0;
    int rc = st_open_mem(b, len, &f, &err);
    free(b);
    ck_assert_msg(rc != TG_OK, "accepted: %s", hdr);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.msg, msg), "message '%s' lacks '%s'\nheader: %.200s", err.msg, msg, hdr);
}

/* The parser's depth limit: 64 levels parse (then fail validation), 65 do not. */
START_TEST(nesting_depth)
{
    char h[4096];
    for (int levels = 62; levels <= 63; levels++) {
        /* root (1) + __metadata__ (2) + levels arrays */
        int n = snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":");
        for (int i = 0; i < levels; i++) h[n++] = '[';
        for (int i = 0; i < levels; i++) h[n++] = ']';
        strcpy(h + n, "}}");
        expect_bad(h, 0, levels == 62 ? "__metadata__ value of 'k' is not a string" : "nesting deeper than 64 levels");
    }
    /* Far deeper, with objects, unterminated: refused without recursing further. */
    int n = snprintf(h, sizeof h, "{\"a\":");
    while (n < 4000) n += snprintf(h + n, sizeof h - (size_t)n, "{\"a\":[");
    expect_bad(h, 0, "nesting deeper than 64 levels");
}
END_TEST

START_TEST(integer_limits)
{
    /* 2^64 - 1 is an integer; 2^64 is not. */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}", 1,
               "data_offsets [0, 18446744073709551615] hold 18446744073709551615 bytes but U8 [1] needs 1");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", 1,
               "integer too large");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999999999]}}", 1,
               "integer too large");
    /* Element counts and byte counts that overflow 64 bits. */
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]}}", 1,
               "tensor 'a': U8 [4294967296, 4294967296] overflows");
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,1]}}", 1,
               "overflows");
    expect_bad("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1,
               "tensor 'a': F4 [3] is not a whole number of bytes");
    /* Huge but consistent sizes still have to fit in the buffer. */
    expect_bad("{\"a\":{\"dtype\":\"F64\",\"shape\":[1000000000000],\"data_offsets\":[0,8000000000000]}}", 8,
               "data_offsets [0, 8000000000000] lie outside the 8-byte data buffer");
}
END_TEST

/* Many tensors and metadata pairs: names sorted, found, duplicates checked
 * in large objects. */
START_TEST(many_tensors)
{
    enum { N = 3000 };
    static st_tensor t[N];
    static char names[N][16];
    static float v[N];
    static st_kv kv[40];
    static char keys[40][8];
    static const int one[] = {1};
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "t%d", (i * 7919) % N);
        v[i] = (float)i;
        t[i] = (st_tensor){names[i], i % 3 ? ST_F32 : ST_U8, 1, one, &v[i]};
    }
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", 39 - i);
        kv[i] = (st_kv){keys[i], names[i]};
    }
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/many.safetensors", dir);
    ck_assert_msg(st_write(path, t, N, kv, 40, &err) == TG_OK, "%s", err.msg);
    st_file *f;
    ck_assert_msg(st_open(path, &f, &err) == TG_OK, "%s", err.msg);
    ck_assert_uint_eq(st_count(f), N);
    for (int i = 0; i < N; i++) {
        const st_entry *e = st_find(f, names[i]);
        ck_assert_ptr_nonnull(e);
        ck_assert(!memcmp(e->data, &v[i], e->nbytes));
    }
    for (int i = 0; i < 40; i++) ck_assert_str_eq(st_meta(f, keys[i]), names[i]);
    st_close(f);
    /* The same names twice in one large object. */
    char *h = malloc(100000);
    int n = sprintf(h, "{\"__metadata__\":{");
    for (int i = 0; i < 30; i++) n += sprintf(h + n, "\"m%d\":\"x\",", i);
    n += sprintf(h + n, "\"m17\":\"y\"}}");
    expect_bad(h, 0, "duplicate key 'm17'");
    free(h);
    rm_dir(dir);
}
END_TEST

/* Every truncation of a valid file fails cleanly; byte flips never crash. */
START_TEST(truncations_and_flips)
{
    mkdir_tmp();
    char path[128];
    snprintf(path, sizeof path, "%s/ok.safetensors", dir);
    float w[6] = {1, 2, 3, 4, 5, 6};
    double d = 2.5;
    const st_tensor t[] = {{"w", ST_F32, 2, (const int[]){2, 3}, w}, {"d", ST_F64, 0, NULL, &d}};
    ck_assert_int_eq(st_write(path, t, 2, (const st_kv[]){{"k", "v\xc3\xbc"}}, 1, &err), TG_OK);
    size_t n;
    unsigned char *b = slurp(path, &n);
    st_file *f;
    for (size_t len = 0; len < n; len++) {
        err.msg[0] = 0;
        ck_assert_int_ne(st_open_mem(b, len, &f, &err), TG_OK);
        ck_assert_ptr_null(f);
        ck_assert(strlen(err.msg) > 10);
    }
    ck_assert_int_eq(st_open_mem(b, n, &f, &err), TG_OK);
    st_close(f);
    static const unsigned char vals[] = {0, 1, ' ', '"', '\\', '[', ']', '{', '}', ',', ':', '0', '9', 'u', 0x7f, 0x80,
                                         0xc3, 0xff};
    int accepted = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof vals; k++) {
            unsigned char *c = malloc(n);
            memcpy(c, b, n);
            c[i] = vals[k];
            err.msg[0] = 0;
            if (st_open_mem(c, n, &f, &err) == TG_OK) {
                accepted++;
                st_close(f);
            } else ck_assert_msg(!strncmp(err.msg, "safetensors: ", 13), "%s", err.msg);
            free(c);
        }
    ck_assert_int_gt(accepted, 0); /* data bytes, padding spaces... */
    free(b);
    rm_dir(dir);
}
END_TEST

/* ---- errors ---- */

#define T(name, dtype, shape, offs) "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static const struct bad {
    const char *hdr;
    size_t ndata;
    const char *msg;
} bad[] = {
    {"hello world", 0, "header does not start with '{'"},
    {" {}", 0, "header does not start with '{'"},
    {"[]", 0, "header does not start with '{'"},
    {"{nope}", 0, "not valid JSON: expected a string key at header byte 1"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]", 4, "not valid JSON: unexpected end"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_off", 4, "not valid JSON: unterminated string"},
    {"{\"a\":1   ", 0, "unexpected end"},
    {"{} x", 0, "unexpected data after the object at header byte 3"},
    {"{\"__metadata__\":{\"k\":\"v\",}}", 0, "expected a string key"},
    {"{\"__metadata__\":{\"k\" \"v\"}}", 0, "expected ':'"},
    {"{\"__metadata__\":{\"k\":\"v\" \"l\":\"w\"}}", 0, "expected ',' or '}'"},
    {"{" T("a", "F32", "[1 2]", "[0,8]") "}", 8, "expected ',' or ']'"},
    {"{" T("a", "F32", "nul", "[0,4]") "}", 4, "unexpected character"},
    {"{" T("a", "F31", "[1]", "[0,4]") "}", 4, "safetensors: tensor 'a' has an unknown dtype 'F31'"},
    {"{" T("a", "f32", "[1]", "[0,4]") "}", 4, "unknown dtype 'f32'"},
    {"{" T("G/l0.w", "F32", "[100,128]", "[0,100]") "}", 100,
     "safetensors: tensor 'G/l0.w' data_offsets [0, 100] hold 100 bytes but F32 [100, 128] needs 51200"},
    {"{" T("s", "F64", "[]", "[0,4]") "}", 4, "tensor 's' data_offsets [0, 4] hold 4 bytes but F64 [] needs 8"},
    {"{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[4,12]") "}", 12,
     "safetensors: tensors 'a' [0, 8] and 'b' [4, 12] overlap"},
    {"{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[2]", "[0,8]") "}", 8, "overlap"},
    {"{" T("a", "F32", "[4]", "[0,16]") "," T("e", "F32", "[0]", "[8,8]") "}", 16,
     "tensors 'a' [0, 16] and 'e' [8, 8] overlap"},
    {"{" T("a", "F32", "[2]", "[0,8]") "," T("b", "F32", "[1]", "[12,16]") "}", 16,
     "safetensors: hole in the data buffer: bytes [8, 12) belong to no tensor"},
    {"{" T("b", "F32", "[1]", "[4,8]") "}", 8, "hole in the data buffer: bytes [0, 4)"},
    {"{" T("a", "F32", "[3]", "[0,12]") "}", 16,
     "safetensors: 4 trailing bytes after the last tensor (the tensors cover 12 of 16 data bytes)"},
    {"{}", 8, "8 trailing bytes after the header but no tensor"},
    {"{\"__metadata__\":{}}", 1, "1 trailing bytes after the header but no tensor"},
    {"{" T("a", "F32", "[4]", "[0,16]") "}", 8, "tensor 'a' data_offsets [0, 16] lie outside the 8-byte data buffer"},
    {"{" T("a", "F32", "[0]", "[9,9]") "}", 8, "data_offsets [9, 9] lie outside"},
    {"{" T("a", "F32", "[2]", "[8,0]") "}", 8, "tensor 'a' data_offsets [8, 0] end before they begin"},
    {"{" T("a", "F32", "[1]", "[0,4]") "," T("a", "F32", "[1]", "[4,8]") "}", 8,
     "safetensors: header has a duplicate key 'a'"},
    {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "duplicate key 'dtype'"},
    {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate key 'k'"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key '__metadata__'"},
    {"{\"\\u0061\":{},\"a\":{}}", 0, "duplicate key 'a'"},
    {"{\"__metadata__\":{\"k\":1}}", 0, "safetensors: __metadata__ value of 'k' is not a string"},
    {"{\"__metadata__\":{\"k\":null}}", 0, "__metadata__ value of 'k' is not a string"},
    {"{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "__metadata__ value of 'k' is not a string"},
    {"{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object"},
    {"{\"__metadata__\":[]}", 0, "__metadata__ is not an object"},
    {"{" T("a", "F32", "[1.0]", "[0,4]") "}", 4, "number that is not an integer"},
    {"{" T("a", "F32", "[1e2]", "[0,400]") "}", 400, "number that is not an integer"},
    {"{" T("a", "F32", "[-1]", "[0,4]") "}", 4, "tensor 'a': shape must be an array of non-negative integers"},
    {"{" T("a", "F32", "[01]", "[0,4]") "}", 4, "number with a leading zero"},
    {"{" T("a", "F32", "[-]", "[0,4]") "}", 4, "invalid number"},
    {"{" T("a", "F32", "[true]", "[0,4]") "}", 4, "shape must be an array of non-negative integers"},
    {"{" T("a", "F32", "[[1]]", "[0,4]") "}", 4, "shape must be an array of non-negative integers"},
    {"{" T("a", "F32", "3", "[0,12]") "}", 12, "tensor 'a': shape is not an array"},
    {"{" T("a", "F32", "[1]", "[0,4,4]") "}", 4, "data_offsets must be two non-negative integers [begin, end]"},
    {"{" T("a", "F32", "[1]", "[4]") "}", 4, "data_offsets must be two"},
    {"{" T("a", "F32", "[1]", "[-0,4]") "}", 4, NULL}, /* -0 is 0: accepted */
    {"{" T("a", "F32", "[1]", "[-4,0]") "}", 4, "data_offsets must be two"},
    {"{" T("a", "F32", "[1]", "[\"0\",4]") "}", 4, "data_offsets must be two"},
    {"{" T("a", "F32", "[1]", "{}") "}", 4, "data_offsets must be two"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 0, "safetensors: tensor 'a' has no \"data_offsets\""},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no \"dtype\""},
    {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a' has no \"shape\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4,
     "tensor 'a' has an unknown field 'extra'"},
    {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': dtype is not a string"},
    {"{\"a\":[1]}", 0, "safetensors: tensor 'a' is not an object"},
    {"{\"a\":\"x\"}", 0, "tensor 'a' is not an object"},
    {"{\"a\":{}}", 0, "tensor 'a' has no \"dtype\""},
    {"{\"\xff\":{}}", 0, "invalid UTF-8 in a string"},
    {"{\"\xc0\xaf\":{}}", 0, "invalid UTF-8"},                 /* overlong '/' */
    {"{\"\xed\xa0\x80\":{}}", 0, "invalid UTF-8"},             /* an encoded surrogate */
    {"{\"\xf4\x90\x80\x80\":{}}", 0, "invalid UTF-8"},         /* past U+10FFFF */
    {"{\"\xe2\x82\":{}}", 0, "invalid UTF-8"},                 /* truncated sequence */
    {"{\"__metadata__\":{\"k\":\"\xc3\"}}", 0, "invalid UTF-8"},
    {"{\"\\ud800\":{}}", 0, "lone high surrogate"},
    {"{\"\\ud800\\u0041\":{}}", 0, "lone high surrogate"},
    {"{\"\\udc00\":{}}", 0, "lone low surrogate"},
    {"{\"a\\u0000b\":{}}", 0, "\\u0000 in a string"},
    {"{\"\\u12\":{}}", 0, "invalid \\u escape"},
    {"{\"\\u00g0\":{}}", 0, "invalid \\u escape"},
    {"{\"\\x\":{}}", 0, "invalid escape in a string"},
    {"{\"\\", 0, "unterminated string"},
    {"{\"a\nb\":{}}", 0, "control character in a string"},
    {"{\"a\tb\":{}}", 0, "control character in a string"},
    {"{\"bad \\\"name\\\"\\n\":{}}", 0, "tensor 'bad \"name\"\\n' has no"}, /* messages escape names */
};

START_TEST(corrupt_file)
{
    const struct bad *b = &bad[_i];
    size_t len;
    unsigned char *buf = mkbuf(b->hdr, strlen(b->hdr), b->ndata, &len);
    st_file *f = (st_file *)1;
    err.msg[0] = 0;
    int rc = st_open_mem(buf, len, &f, &err);
    free(buf);
    if (!b->msg) {
        ck_assert_msg(rc == TG_OK, "rejected: %s", err.msg);
        st_close(f);
        return;
    }
    ck_assert_msg(rc == TG_ERR_FORMAT, "case %d: rc %d (%s)", _i, rc, err.msg);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.msg, b->msg), "case %d: message '%s' lacks '%s'", _i, err.msg, b->msg);
}
END_TEST

START_TEST(io_errors)
{
    mkdir_tmp();
    char path[128];
    st_file *f = (st_file *)1;
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    ck_assert_int_eq(st_open(path, &f, &err), TG_ERR_IO);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err.msg, "cannot open '") && strstr(err.msg, "No such file"), "%s", err.msg);
    ck_assert_int_eq(st_open(dir, &f, &err), TG_ERR_IO);
    ck_assert_msg(strstr(err.msg, "is not a regular file"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    write_file(path, "\x08\0\0\0\0", 5);
    ck_assert_int_eq(st_open(path, &f, &err), TG_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "is 5 bytes, too short for the 8-byte header length"), "%s", err.msg);
    write_file(path, "\x08\0\0\0\0\0\0\0{}   ", 13);
    ck_assert_int_eq(st_open(path, &f, &err), TG_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "header length 8 but only 5 bytes follow it"), "%s", err.msg);
    /* NULL is allowed */
    ck_assert_int_eq(st_open(path, &f, NULL), TG_ERR_FORMAT);
    ck_assert_int_eq(st_open_mem(NULL, 0, &f, &err), TG_ERR_FORMAT);
    /* Padding must be spaces (JSON whitespace), not NULs. */
    size_t len;
    unsigned char *b = mkbuf("{}\0\0\0\0\0\0", 8, 0, &len);
    ck_assert_int_eq(st_open_mem(b, len, &f, &err), TG_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "unexpected data after the object at header byte 2"), "%s", err.msg);
    free(b);
    rm_dir(dir);
}
END_TEST

/* A write that fails leaves neither the target nor a temporary file. */
START_TEST(write_failures)
{
    mkdir_tmp();
    char path[160];
    float v = 1;
    st_tensor t = {"v", ST_F32, 0, NULL, &v};
    snprintf(path, sizeof path, "%s/no/such/dir/ck.safetensors", dir);
    ck_assert_int_eq(st_write(path, &t, 1, NULL, 0, &err), TG_ERR_IO);
    ck_assert_msg(!strncmp(err.msg, "safetensors: ", 13) && strstr(err.msg, "/no/such/dir/ck.safetensors'") &&
                      strstr(err.msg, "No such file or directory"),
                  "%s", err.msg);
    ck_assert_int_eq(count_tmp(dir), 0);
    /* The target is a directory: the rename fails after the data was written. */
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(st_write(path, &t, 1, NULL, 0, &err), TG_ERR_IO);
    ck_assert_msg(strstr(err.msg, "safetensors: cannot write '") && strstr(err.msg, "Is a directory"), "%s", err.msg);
    ck_assert_int_eq(count_tmp(dir), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(rm_dir(dir), 1); /* only that directory */
}
END_TEST

static void expect_write_arg(const st_tensor *t, size_t n, const st_kv *kv, size_t nkv, const char *msg)
{
    char path[128];
    snprintf(path, sizeof path, "%s/arg.safetensors", dir);
    err.msg[0] = 0;
    ck_assert_int_eq(st_write(path, t, n, kv, nkv, &err), TG_ERR_ARG);
    ck_assert_msg(strstr(err.msg, msg), "message '%s' lacks '%s'", err.msg, msg);
    ck_assert_int_eq(access(path, F_OK), -1);
}

START_TEST(writer_arguments)
{
    mkdir_tmp();
    float v[4] = {0};
    const int d2[] = {2}, neg[] = {-1};
    expect_write_arg((const st_tensor[]){{"a", ST_F32, 1, d2, v}, {"a", ST_F32, 1, d2, v}}, 2, NULL, 0,
                     "two tensors are called 'a'");
    expect_write_arg((const st_tensor[]){{"a", ST_F32, 1, d2, v}, {"a", ST_U8, 1, d2, v}}, 2, NULL, 0,
                     "two tensors are called 'a'");
    expect_write_arg((const st_tensor[]){{"__metadata__", ST_F32, 1, d2, v}}, 1, NULL, 0,
                     "'__metadata__' is not a valid tensor name");
    expect_write_arg((const st_tensor[]){{"", ST_F32, 1, d2, v}}, 1, NULL, 0, "'' is not a valid tensor name");
    expect_write_arg((const st_tensor[]){{NULL, ST_F32, 1, d2, v}}, 1, NULL, 0, "tensor 0 has no name");
    expect_write_arg((const st_tensor[]){{"bad\xff", ST_F32, 1, d2, v}}, 1, NULL, 0, "is not valid UTF-8");
    expect_write_arg((const st_tensor[]){{"a", ST_NDTYPES, 1, d2, v}}, 1, NULL, 0, "invalid dtype");
    expect_write_arg((const st_tensor[]){{"a", ST_F32, -1, d2, v}}, 1, NULL, 0, "invalid ndim -1");
    expect_write_arg((const st_tensor[]){{"a", ST_F32, 1, NULL, v}}, 1, NULL, 0, "invalid ndim 1");
    expect_write_arg((const st_tensor[]){{"a", ST_F32, 1, neg, v}}, 1, NULL, 0, "invalid shape F32 [-1]");
    expect_write_arg((const st_tensor[]){{"a", ST_F4, 1, (const int[]){3}, v}}, 1, NULL, 0,
                     "not a whole number of bytes");
    expect_write_arg((const st_tensor[]){{"a", ST_F32, 1, d2, NULL}}, 1, NULL, 0, "tensor 'a' has no data");
    expect_write_arg(NULL, 0, (const st_kv[]){{"k", "1"}, {"k", "2"}}, 2, "metadata key 'k' appears twice");
    expect_write_arg(NULL, 0, (const st_kv[]){{"k", NULL}}, 1, "has a NULL string");
    expect_write_arg(NULL, 0, (const st_kv[]){{"k", "\xc3("}}, 1, "metadata 'k' is not valid UTF-8");
    expect_write_arg(NULL, 1, NULL, 0, "bad arguments");
    err.msg[0] = 0;
    ck_assert_int_eq(st_write("", NULL, 0, NULL, 0, &err), TG_ERR_ARG);
    ck_assert_str_eq(err.msg, "safetensors: no output file name");
    /* Too large for the 4 GiB limit: refused before anything is written. */
    char path[128];
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    st_tensor big = {"a", ST_F64, 2, (const int[]){65536, 65536}, v};
    ck_assert_int_eq(st_write(path, &big, 1, NULL, 0, &err), TG_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "4 GiB"), "%s", err.msg);
    ck_assert_int_eq(rm_dir(dir), 0);
}
END_TEST

static Suite *st_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, reference_bytes);
    tcase_add_test(tc, layout_aligned);
    tcase_add_test(tc, get_f32_checks);
    tcase_add_test(tc, foreign_headers);
    tcase_add_test(tc, overwrite);
    tcase_add_test(tc, write_mem);
    tcase_add_test(tc, meta_uint);
    suite_add_tcase(s, tc);
    tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, header_limits);
    tcase_add_test(tc, file_limit);
    tcase_add_test(tc, nesting_depth);
    tcase_add_test(tc, integer_limits);
    tcase_add_test(tc, many_tensors);
    tcase_add_test(tc, truncations_and_flips);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_loop_test(tc, corrupt_file, 0, (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, io_errors);
    tcase_add_test(tc, write_failures);
    tcase_add_test(tc, writer_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tg_run_suite(st_suite());
}
